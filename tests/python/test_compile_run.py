"""compile -> package -> run, compared with onnxruntime (issue 4).

Tolerances: float32 kernels without fast-math compute the same operations as onnxruntime but in
another order (blocked reductions), so results differ by rounding: rtol 1e-4 / atol 1e-5 for
small models; deep models accumulate more rounding (50+ layers), argued per test below.
"""

import os
import subprocess
import tarfile

import numpy as np
import pytest
from onnx import TensorProto, helper

import onnx_models
from conftest import assert_mentions, ort_session, random_feeds


def compile_and_run(kiln, path, tmp_path, feeds, **load_kwargs):
    model = kiln.load(str(path), **load_kwargs)
    package = kiln.compile(model, target="llvm", package_path=str(tmp_path / "m.tar"))
    result = kiln.run(package, inputs=feeds)
    return model, package, result


def ort_outputs(path, feeds):
    return ort_session(str(path)).run(None, feeds)


def check_against_ort(kiln, path, tmp_path, rtol=1e-4, atol=1e-5, feeds=None):
    session = ort_session(str(path))
    feeds = feeds if feeds is not None else random_feeds(session)
    expected = session.run(None, feeds)
    _, package, result = compile_and_run(kiln, path, tmp_path, feeds)
    assert len(result.outputs) == len(expected)
    for i, want in enumerate(expected):
        got = result.outputs[f"output_{i}"]
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=rtol, atol=atol)
    return package, result


def test_small_cnn_matches_onnxruntime(kiln, tmp_path):
    path = tmp_path / "cnn.onnx"
    onnx_models.save(onnx_models.small_cnn(), path)
    check_against_ort(kiln, path, tmp_path)


def test_result_reports_executor_memory(kiln, tmp_path):
    path = tmp_path / "cnn.onnx"
    model = onnx_models.small_cnn()
    onnx_models.save(model, path)
    package = kiln.compile(kiln.load(str(path)), package_path=str(tmp_path / "m.tar"))
    result = kiln.run(package)
    weight_bytes = sum(w.nbytes for w in onnx_models.cnn_weights(model).values())
    assert result.param_bytes == weight_bytes
    # Storages hold the input, the output and the intermediates; the weights are used in place
    # (one copy in memory), so they are not part of the storages.
    io_bytes = sum(a.nbytes for a in result.inputs.values()) + result.outputs["output_0"].nbytes
    assert result.storage_bytes > io_bytes
    assert result.storage_bytes < result.param_bytes + io_bytes + 64 * 1024
    again = kiln.run(package, fill_mode="ones")
    assert (again.storage_bytes, again.param_bytes) == (result.storage_bytes, result.param_bytes)


def test_mlp_matches_onnxruntime(kiln, tmp_path):
    path = tmp_path / "mlp.onnx"
    onnx_models.save(onnx_models.mlp(batch=3), path)
    check_against_ort(kiln, path, tmp_path)


def _single_op_model(op, inputs, output_shape, dtype=TensorProto.FLOAT, **attrs):
    names = [f"x{i}" for i in range(len(inputs))]
    node = helper.make_node(op, names, ["y"], name="node", **attrs)
    graph = helper.make_graph(
        [node], op,
        [helper.make_tensor_value_info(n, dtype, s) for n, s in zip(names, inputs)],
        [helper.make_tensor_value_info("y", dtype, output_shape)])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


# Sizes straddle likely vector widths and split factors (8, 16).
@pytest.mark.parametrize("width", [7, 8, 9, 15, 16, 17, 33])
def test_elementwise_chain_sizes(kiln, tmp_path, width):
    nodes = [
        helper.make_node("Add", ["a", "b"], ["s"]),
        helper.make_node("Sigmoid", ["s"], ["g"]),
        helper.make_node("Mul", ["g", "a"], ["m"]),
        helper.make_node("Tanh", ["m"], ["y"]),
    ]
    graph = helper.make_graph(
        nodes, "chain",
        [helper.make_tensor_value_info("a", TensorProto.FLOAT, [3, width]),
         helper.make_tensor_value_info("b", TensorProto.FLOAT, [width])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3, width])])
    path = tmp_path / "chain.onnx"
    onnx_models.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    check_against_ort(kiln, path, tmp_path)


@pytest.mark.parametrize("channels,size,stride,pad,group,dilation", [
    (8, 9, 1, 1, 1, 1), (16, 17, 2, 1, 1, 1), (12, 15, 1, 0, 12, 1), (9, 16, 2, 1, 3, 1),
    (8, 13, 1, 2, 1, 2),
])
def test_conv2d_variants(kiln, tmp_path, channels, size, stride, pad, group, dilation):
    rng = np.random.default_rng(1)
    out_channels = channels * 2 if group == 1 else channels
    w = rng.standard_normal((out_channels, channels // group, 3, 3)).astype(np.float32)
    b = rng.standard_normal(out_channels).astype(np.float32)
    node = helper.make_node("Conv", ["x", "w", "b"], ["y"], kernel_shape=[3, 3], strides=[stride] * 2,
                            pads=[pad] * 4, group=group, dilations=[dilation] * 2)
    graph = helper.make_graph(
        [node], "conv", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, channels, size, size])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        [helper.make_tensor("w", TensorProto.FLOAT, w.shape, w.flatten()),
         helper.make_tensor("b", TensorProto.FLOAT, b.shape, b.flatten())])
    path = tmp_path / "conv.onnx"
    onnx_models.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)
    check_against_ort(kiln, path, tmp_path, rtol=1e-4, atol=1e-4)


def test_package_round_trip_and_another_process(kiln, tmp_path):
    path = tmp_path / "cnn.onnx"
    onnx_models.save(onnx_models.small_cnn(), path)
    feeds = random_feeds(ort_session(str(path)))
    _, package, first = compile_and_run(kiln, path, tmp_path, feeds)
    reopened = kiln.Package(package.package_path)
    assert reopened.inputs == package.inputs
    again = kiln.run(reopened, inputs=feeds)
    np.testing.assert_array_equal(again.outputs["output_0"], first.outputs["output_0"])
    np.save(tmp_path / "x.npy", feeds[onnx_models.CNN_INPUT])
    script = (
        "import kiln, numpy as np, sys\n"
        f"r = kiln.run({package.package_path!r}, inputs={{{onnx_models.CNN_INPUT!r}: np.load({str(tmp_path / 'x.npy')!r})}})\n"
        f"np.save({str(tmp_path / 'y.npy')!r}, r.outputs['output_0'])\n")
    subprocess.run(["python3", "-c", script], check=True, env=dict(os.environ))
    np.testing.assert_array_equal(np.load(tmp_path / "y.npy"), first.outputs["output_0"])


def test_tampered_package_is_refused(kiln, tmp_path):
    path = tmp_path / "mlp.onnx"
    onnx_models.save(onnx_models.mlp(), path)
    package = kiln.compile(kiln.load(str(path)), package_path=str(tmp_path / "m.tar"))
    members = {}
    with tarfile.open(package.package_path) as tar:
        for member in tar.getmembers():
            members[member.name] = tar.extractfile(member).read()
    params = bytearray(members["mod.params"])
    params[-1] ^= 0xFF
    members["mod.params"] = bytes(params)
    bad = tmp_path / "bad.tar"
    with tarfile.open(bad, "w") as tar:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            import io
            tar.addfile(info, io.BytesIO(data))
    with pytest.raises(kiln.Error) as error:
        kiln.Package(str(bad))
    assert_mentions(error.value, "bad.tar", "mod.params")
    truncated = tmp_path / "cut.tar"
    truncated.write_bytes(open(package.package_path, "rb").read()[:700])
    with pytest.raises(kiln.Error):
        kiln.Package(str(truncated))


def test_missing_and_misshapen_inputs(kiln, tmp_path):
    path = tmp_path / "mlp.onnx"
    onnx_models.save(onnx_models.mlp(batch=2), path)
    package = kiln.compile(kiln.load(str(path)), package_path=str(tmp_path / "m.tar"))
    with pytest.raises(kiln.Error) as error:
        kiln.run(package, inputs={"features": np.zeros((2, 63), np.float32)})
    assert_mentions(error.value, "features", "[2, 64]", "float32")
    with pytest.raises(kiln.Error) as error:
        kiln.run(package, inputs={"feature": np.zeros((2, 64), np.float32)})
    assert_mentions(error.value, "feature", "features")
    with pytest.raises(kiln.Error) as error:
        kiln.run(package, inputs={"features": np.zeros((2, 64), np.float64)})
    assert_mentions(error.value, "features", "float32")


def test_result_printing_and_timing(kiln, tmp_path):
    path = tmp_path / "mlp.onnx"
    onnx_models.save(onnx_models.mlp(), path)
    package = kiln.compile(kiln.load(str(path)), package_path=str(tmp_path / "m.tar"))
    plain = kiln.run(package, fill_mode="ones")
    assert "no timing" in str(plain).lower()
    assert "output_0" in str(plain)
    timed = kiln.run(package, benchmark=True, repeat=3, number=2)
    assert len(timed.times.results) == 3
    assert timed.times.min <= timed.times.median <= timed.times.max
    text = str(timed)
    assert "Execution time summary" in text and "mean (ms)" in text
    timed.save(tmp_path / "out.npz")
    saved = np.load(tmp_path / "out.npz")
    np.testing.assert_array_equal(saved["output_0"], timed.get_output("output_0"))
    np.testing.assert_array_equal(timed.get_output("scores"), timed.get_output("output_0"))


def test_dump_code(kiln, tmp_path):
    path = tmp_path / "mlp.onnx"
    onnx_models.save(onnx_models.mlp(), path)
    target = tmp_path / "m.tar"
    kiln.compile(kiln.load(str(path)), package_path=str(target), dump_code=["ll", "asm", "tir", "ir"])
    for ext in ("ll", "s", "tir", "ir"):
        dumped = tmp_path / f"m.tar.{ext}"
        assert dumped.exists() and dumped.stat().st_size > 0, ext
    assert "define" in (tmp_path / "m.tar.ll").read_text()


def test_symbolic_shapes_need_shape_dict(kiln, tmp_path):
    path = tmp_path / "mlp.onnx"
    onnx_models.save(onnx_models.mlp(batch="n"), path)
    with pytest.raises(kiln.Error) as error:
        kiln.compile(kiln.load(str(path)), package_path=str(tmp_path / "m.tar"))
    assert_mentions(error.value, "shape_dict")
    model = kiln.load(str(path), shape_dict={"features": [4, 64]})
    package = kiln.compile(model, package_path=str(tmp_path / "m.tar"))
    assert kiln.run(package).outputs["output_0"].shape == (4, 10)


def test_bad_target_and_device(kiln, tmp_path):
    path = tmp_path / "mlp.onnx"
    onnx_models.save(onnx_models.mlp(), path)
    model = kiln.load(str(path))
    with pytest.raises(kiln.Error) as error:
        kiln.compile(model, target="llvm -mcpus=x", package_path=str(tmp_path / "m.tar"))
    assert_mentions(error.value, "-mcpus")
    package = kiln.compile(model, package_path=str(tmp_path / "m.tar"))
    assert kiln.run(package, device="CPU").outputs["output_0"].shape == (1, 10)
    with pytest.raises(kiln.Error) as error:
        kiln.run(package, device="tpu")
    assert_mentions(error.value, "tpu")


def test_cross_compile_emits_aarch64(kiln, tmp_path):
    path = tmp_path / "mlp.onnx"
    onnx_models.save(onnx_models.mlp(), path)
    package = kiln.compile(kiln.load(str(path)), target="llvm -mtriple=aarch64-linux-gnu",
                           package_path=str(tmp_path / "arm.tar"), dump_code=["asm"])
    assert "aarch64" in package.metadata["triple"]
    assert "fmla" in (tmp_path / "arm.tar.s").read_text() or "fmul" in (tmp_path / "arm.tar.s").read_text()
    with pytest.raises(kiln.Error) as error:
        kiln.run(package)
    assert_mentions(error.value, "aarch64")


def test_cli_compile_and_run(run_cli, tmp_path):
    path = tmp_path / "cnn.onnx"
    onnx_models.save(onnx_models.small_cnn(), path)
    out = tmp_path / "cnn.tar"
    done = run_cli("compile", str(path), "-o", str(out))
    assert done.returncode == 0, done.stderr
    x = np.random.default_rng(0).standard_normal((1, 3, 32, 32)).astype(np.float32)
    np.savez(tmp_path / "in.npz", **{onnx_models.CNN_INPUT: x})
    done = run_cli("run", str(out), "-i", str(tmp_path / "in.npz"), "-o", str(tmp_path / "out.npz"),
                   "--print-time", "--print-top", "3", "--repeat", "2", "--number", "1")
    assert done.returncode == 0, done.stderr
    assert "Execution time summary" in done.stdout and "Top 3" in done.stdout
    expected = ort_outputs(path, {onnx_models.CNN_INPUT: x})[0]
    np.testing.assert_allclose(np.load(tmp_path / "out.npz")["output_0"], expected, rtol=1e-4, atol=1e-5)
    done = run_cli("run", str(tmp_path / "missing.tar"))
    assert done.returncode == 4 and "missing.tar" in done.stderr


# ---- models from tests/models: the whole networks -------------------------------------------

# Deep float32 networks: onnxruntime and Kiln sum the same products in different orders; over 50
# layers the relative differences of logits stay around 1e-5..1e-4 of their magnitude. atol 1e-4
# with rtol 1e-3 bounds that while still catching any real mistake (which shows as O(1) errors).
@pytest.mark.parametrize("name,rtol,atol", [("resnet50_v1", 1e-3, 1e-3), ("mobilenet_v2", 1e-3, 1e-3),
                                            ("bert_tiny", 1e-3, 1e-4)])
def test_models_match_onnxruntime(kiln, exported, tmp_path, name, rtol, atol):
    path = exported(name)
    check_against_ort(kiln, path, tmp_path, rtol=rtol, atol=atol)


def test_outputs_are_numpy_views_of_aligned_runtime_storage(kiln, tmp_path):
    path = tmp_path / "mlp.onnx"
    onnx_models.save(onnx_models.mlp(), path)
    package = kiln.compile(kiln.load(str(path)), package_path=str(tmp_path / "m.tar"))
    out = kiln.run(package).outputs["output_0"]
    assert not out.flags["OWNDATA"]  # a view of the runtime tensor, not a copy
    assert out.ctypes.data % 64 == 0
    assert out.dtype == np.float32 and out.shape == (1, 10)


def _save(model, path):
    onnx_models.save(model, path)
    return str(path)


def test_output_passed_straight_through_from_an_input_or_a_weight(kiln, tmp_path):
    value = np.arange(6, dtype=np.float32).reshape(2, 3)
    graph = helper.make_graph(
        [helper.make_node("Identity", ["x"], ["same"]),
         helper.make_node("Constant", [], ["const"], value=helper.make_tensor(
             "c", TensorProto.FLOAT, [2], [7.0, -1.5]))],
        "through", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("same", TensorProto.FLOAT, [2, 3]),
         helper.make_tensor_value_info("const", TensorProto.FLOAT, [2])])
    path = _save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
                 tmp_path / "through.onnx")
    result = kiln.run(kiln.compile(kiln.load(path), package_path=str(tmp_path / "m.tar")),
                      inputs={"x": value})
    np.testing.assert_array_equal(result.outputs["same"], value)
    np.testing.assert_array_equal(result.outputs["const"], np.array([7.0, -1.5], np.float32))


def test_scalar_and_unused_inputs(kiln, tmp_path):
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "s"], ["y"])], "scalar",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [3]),
         helper.make_tensor_value_info("s", TensorProto.FLOAT, []),
         helper.make_tensor_value_info("unused", TensorProto.FLOAT, [2])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [3])])
    path = _save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]),
                 tmp_path / "scalar.onnx")
    package = kiln.compile(kiln.load(path), package_path=str(tmp_path / "m.tar"))
    assert [i["name"] for i in package.inputs] == ["x", "s", "unused"]
    result = kiln.run(package, inputs={"x": np.ones(3, np.float32), "s": np.float32(2.5),
                                       "unused": np.zeros(2, np.float32)})
    np.testing.assert_array_equal(result.outputs["output_0"], np.full(3, 3.5, np.float32))


def test_thread_count_can_be_set(kiln, tmp_path):
    path = tmp_path / "cnn.onnx"
    onnx_models.save(onnx_models.small_cnn(), path)
    package = kiln.compile(kiln.load(str(path)), package_path=str(tmp_path / "m.tar"))
    before = kiln.num_threads()
    try:
        kiln.set_num_threads(1)
        assert kiln.num_threads() == 1
        one = kiln.run(package, fill_mode="ones").outputs["output_0"]
        kiln.set_num_threads(2)
        assert kiln.num_threads() == 2
        two = kiln.run(package, fill_mode="ones").outputs["output_0"]
        np.testing.assert_array_equal(one, two)  # parallel split does not change the arithmetic
        with pytest.raises(kiln.Error):
            kiln.set_num_threads(0)
    finally:
        kiln.set_num_threads(before)
