"""Operator fusion (issue 5): fused groups become one kernel each, and the numbers do not change.

A kernel launch is a node of mod.json; its "ops" list the fused operators and "names" their
source nodes. Fused kernels are compared with onnxruntime at sizes around the vector width (16
floats on AVX-512) and the schedules' split factors, where tails and inlined epilogues meet.
"""

import json

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

import onnx_models
from conftest import ort_session, random_feeds
from test_compile_run import check_against_ort

OPSET = [helper.make_opsetid("", 17)]


def compile_and_compare(kiln, path, tmp_path, rtol, atol, **compile_options):
    """check_against_ort with compile options (disabled_pass=...)."""
    session = ort_session(str(path))
    feeds = random_feeds(session)
    expected = session.run(None, feeds)
    package = kiln.compile(kiln.load(str(path)), package_path=str(tmp_path / "m.tar"),
                           **compile_options)
    result = kiln.run(package, inputs=feeds)
    for i, want in enumerate(expected):
        np.testing.assert_allclose(result.outputs[f"output_{i}"], want, rtol=rtol, atol=atol)
    return package


def graph_nodes(package):
    return json.loads(package.graph)["nodes"]


def fused_ops(package):
    return [node["ops"] for node in graph_nodes(package)]


def save(tmp_path, name, nodes, inputs, outputs, initializers=()):
    graph = helper.make_graph(nodes, name, inputs, outputs, list(initializers))
    path = tmp_path / f"{name}.onnx"
    onnx_models.save(helper.make_model(graph, opset_imports=OPSET), path)
    return path


def tensor(name, array):
    return numpy_helper.from_array(np.asarray(array, dtype=np.float32), name)


def value_info(name, shape):
    return helper.make_tensor_value_info(name, TensorProto.FLOAT, shape)


# ---- the numbers: whole networks -----------------------------------------------------

@pytest.mark.slow
def test_resnet50_is_at_most_60_fused_kernels_and_still_matches(kiln, exported, tmp_path):
    package, _ = check_against_ort(kiln, exported("resnet50_v1"), tmp_path, rtol=1e-3, atol=1e-3)
    nodes = graph_nodes(package)
    assert package.num_kernels == len(nodes) <= 60, [n["ops"] for n in nodes]
    for node in nodes:
        assert node["ops"] not in (["bias_add"], ["relu"]), node
        assert "batch_norm" not in node["ops"], node
        assert len(node["names"]) == len(node["ops"])
    ops = [node["ops"] for node in nodes]
    # In the blocked layout NCHW16c (alter_op_layout) the bias is an add of the blocked bias.
    assert ["conv2d_nchwc", "add", "relu"] in ops
    assert ["conv2d_nchwc", "add", "add", "relu"] in ops  # the residual add in the epilogue
    # Only the network's input and output change layout; the pooling stays blocked.
    assert ops.count(["layout_transform"]) <= 2
    # Identical layers share a kernel: far fewer distinct kernels than launches.
    assert len({node["kernel"] for node in nodes}) < len(nodes)


@pytest.mark.slow
@pytest.mark.parametrize("name,atol", [("mobilenet_v2", 1e-3), ("bert_tiny", 1e-4)])
def test_other_models_fuse_and_still_match(kiln, exported, tmp_path, name, atol):
    import onnx

    path = exported(name)
    package, _ = check_against_ort(kiln, path, tmp_path, rtol=1e-3, atol=atol)
    onnx_nodes = len(onnx.load(str(path), load_external_data=False).graph.node)
    assert package.num_kernels < 0.7 * onnx_nodes
    assert any(len(ops) >= 3 for ops in fused_ops(package))


def test_cli_dump_code_ir_shows_the_groups(run_cli, tmp_path):
    path = tmp_path / "cnn.onnx"
    onnx_models.save(onnx_models.small_cnn(), path)
    out = tmp_path / "cnn.tar"
    done = run_cli("compile", str(path), "-o", str(out), "--dump-code", "ir")
    assert done.returncode == 0, done.stderr
    text = (tmp_path / "cnn.tar.ir").read_text()
    headers = [line.strip() for line in text.splitlines() if line.strip().startswith("# kernel")]
    # The 3-channel image is read in NCHW as it is; conv + bias + relu is the first kernel.
    assert "# kernel 0: conv2d_nchwc + add + relu" in headers, text
    # The dense became a matmul on the weight transposed at compile time (alter_op_layout).
    assert any(h.endswith(": matmul + bias_add") for h in headers), text
    # One header per launch, in launch order.
    assert f"({len(headers)} kernel launches)" in done.stdout, (done.stdout, headers)


# ---- fused epilogues at awkward sizes --------------------------------------------------------

@pytest.mark.parametrize("width", [5, 7, 9, 16, 17, 33])
@pytest.mark.parametrize("fold_scale", [True, False])
def test_conv_scale_shift_residual_clip_is_one_kernel(kiln, tmp_path, width, fold_scale):
    """conv -> * per-channel scale -> + shift -> + residual -> clip (a folded BN block); with
    fold_scale_axis the scale goes into the weights and the shift becomes a bias_add."""
    rng = np.random.default_rng(width)
    channels = 8
    w = rng.standard_normal((channels, channels, 3, 3)) * 0.2
    scale = rng.standard_normal((channels, 1, 1)) + 1.0
    shift = rng.standard_normal((channels, 1, 1)) * 0.1
    nodes = [
        helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
        helper.make_node("Mul", ["c", "scale"], ["s"]),
        helper.make_node("Add", ["s", "shift"], ["t"]),
        helper.make_node("Add", ["t", "x"], ["r"]),
        helper.make_node("Clip", ["r", "lo", "hi"], ["y"]),
    ]
    path = save(tmp_path, "block", nodes, [value_info("x", [1, channels, width + 2, width])],
                [value_info("y", [1, channels, width + 2, width])],
                [tensor("w", w), tensor("scale", scale), tensor("shift", shift),
                 tensor("lo", 0.0), tensor("hi", 6.0)])
    disabled = [] if fold_scale else ["fold_scale_axis"]
    # NCHW (the blocked layout off): one kernel.
    package = compile_and_compare(kiln, path, tmp_path, 1e-4, 1e-4,
                                  disabled_pass=disabled + ["alter_op_layout"])
    expected = ["conv2d", "bias_add", "add", "clip"] if fold_scale else [
        "conv2d", "multiply", "add", "add", "clip"]
    assert fused_ops(package) == [expected]
    # NCHW8c: the input is blocked once (for the convolution and the residual), the epilogue is
    # still in the convolution's kernel, and the result goes back to NCHW.
    package = compile_and_compare(kiln, path, tmp_path, 1e-4, 1e-4, disabled_pass=disabled)
    expected = ["conv2d_nchwc", "add", "add", "clip"] if fold_scale else [
        "conv2d_nchwc", "multiply", "add", "add", "clip"]
    assert fused_ops(package) == [["layout_transform"], expected, ["layout_transform"]]


@pytest.mark.parametrize("rows,units", [(1, 10), (3, 16), (5, 33)])
def test_matmul_bias_gelu_is_one_kernel(kiln, tmp_path, rows, units):
    """MatMul + bias, then GELU (x * 0.5 * (1 + erf(x / sqrt 2))): the erf branch reads x twice,
    so it becomes a kernel of its own after matmul + bias."""
    rng = np.random.default_rng(units)
    nodes = [
        helper.make_node("MatMul", ["x", "w"], ["m"]),
        helper.make_node("Add", ["m", "b"], ["h"]),
        helper.make_node("Div", ["h", "sqrt2"], ["d"]),
        helper.make_node("Erf", ["d"], ["e"]),
        helper.make_node("Add", ["e", "one"], ["p"]),
        helper.make_node("Mul", ["h", "p"], ["q"]),
        helper.make_node("Mul", ["q", "half"], ["y"]),
    ]
    path = save(tmp_path, "gelu", nodes, [value_info("x", [rows, 24])], [value_info("y", [rows, units])],
                [tensor("w", rng.standard_normal((24, units)) * 0.3),
                 tensor("b", rng.standard_normal(units)), tensor("sqrt2", np.sqrt(2.0)),
                 tensor("one", 1.0), tensor("half", 0.5)])
    package, _ = check_against_ort(kiln, path, tmp_path, rtol=1e-4, atol=1e-5)
    ops = fused_ops(package)
    assert len(ops) == 2 and ops[0][0] in ("matmul", "dense"), ops
    assert ops[0][1:] in (["add"], ["bias_add"]), ops
    assert ops[1] == ["divide", "erf", "add", "multiply", "multiply"], ops


@pytest.mark.parametrize("shape", [(4, 6), (3, 17), (16, 33)])
def test_transpose_reduce_sqrt_is_one_kernel(kiln, tmp_path, shape):
    nodes = [
        helper.make_node("Transpose", ["x"], ["t"], perm=[1, 0]),
        helper.make_node("ReduceSumSquare", ["t"], ["s"], axes=[1], keepdims=0),
        helper.make_node("Sqrt", ["s"], ["y"]),
    ]
    path = save(tmp_path, "norm", nodes, [value_info("x", list(shape))], [value_info("y", [shape[1]])])
    package, _ = check_against_ort(kiln, path, tmp_path, rtol=1e-5, atol=1e-5)
    assert len(fused_ops(package)) == 1, fused_ops(package)


@pytest.mark.parametrize("size", [7, 8, 15])
def test_pool_epilogue_and_squeeze_excite(kiln, tmp_path, size):
    """MaxPool + Relu fuse; the SE gate (mean -> sigmoid) stays per channel, its broadcast multiply
    is a kernel of its own."""
    nodes = [
        helper.make_node("MaxPool", ["x"], ["p"], kernel_shape=[2, 2], strides=[1, 1]),
        helper.make_node("Relu", ["p"], ["r"]),
        helper.make_node("ReduceMean", ["r"], ["m"], axes=[2, 3], keepdims=1),
        helper.make_node("Sigmoid", ["m"], ["g"]),
        helper.make_node("Mul", ["r", "g"], ["y"]),
    ]
    path = save(tmp_path, "se", nodes, [value_info("x", [1, 4, size, size])],
                [value_info("y", [1, 4, size - 1, size - 1])])
    package, _ = check_against_ort(kiln, path, tmp_path, rtol=1e-5, atol=1e-6)
    assert fused_ops(package) == [["max_pool2d", "relu"], ["reduce_mean", "sigmoid"], ["multiply"]]


def test_identical_groups_share_one_kernel(kiln, tmp_path):
    rng = np.random.default_rng(3)
    nodes, inits = [], []
    previous = "x"
    for i in range(3):
        nodes += [helper.make_node("Conv", [previous, f"w{i}", f"b{i}"], [f"c{i}"], pads=[1, 1, 1, 1]),
                  helper.make_node("Relu", [f"c{i}"], [f"r{i}"])]
        inits += [tensor(f"w{i}", rng.standard_normal((4, 4, 3, 3)) * 0.3),
                  tensor(f"b{i}", rng.standard_normal(4))]
        previous = f"r{i}"
    path = save(tmp_path, "stack", nodes, [value_info("x", [1, 4, 9, 9])], [value_info(previous, [1, 4, 9, 9])],
                inits)
    package, _ = check_against_ort(kiln, path, tmp_path, rtol=1e-4, atol=1e-5)
    nodes = graph_nodes(package)
    assert [n["ops"] for n in nodes] == ([["layout_transform"]] +
                                         [["conv2d_nchwc", "add", "relu"]] * 3 +
                                         [["layout_transform"]])
    assert len({n["kernel"] for n in nodes[1:4]}) == 1


@pytest.mark.parametrize("options", [{"opt_level": 0}, {"disabled_pass": ["fuse_ops"]}])
def test_fusion_off_gives_one_kernel_per_call_and_the_same_numbers(kiln, tmp_path, options):
    path = tmp_path / "cnn.onnx"
    onnx_models.save(onnx_models.small_cnn(), path)
    session = ort_session(str(path))
    feeds = random_feeds(session)
    model = kiln.load(str(path))
    fused = kiln.compile(model, package_path=str(tmp_path / "fused.tar"))
    plain = kiln.compile(model, package_path=str(tmp_path / "plain.tar"), **options)
    assert all(len(ops) == 1 for ops in fused_ops(plain))
    assert plain.num_kernels > fused.num_kernels
    want = session.run(None, feeds)[0]
    for package in (fused, plain):
        got = kiln.run(package, inputs=feeds).outputs["output_0"]
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)
