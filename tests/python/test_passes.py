"""Graph optimisation passes (issue 5): compile at every opt_level and with passes disabled; the
outputs must match onnxruntime either way.

Tolerances as in test_compile_run.py: rtol 1e-4 / atol 1e-5 for the small network. Folding a
batch norm into conv weights rounds W * scale once to float32, which onnxruntime does too (it
folds batch norms itself), so the small network keeps the tight bound. ResNet-50 uses the bound
argued in test_compile_run.py for 50-layer networks.
"""

import json

import numpy as np
import pytest
from onnx import TensorProto, helper

import onnx_models
from conftest import ort_session, random_feeds

def bn_cnn():
    """conv+bias -> BN -> relu -> conv -> BN -> add(residual) -> relu -> GAP -> flatten -> Gemm,
    with a Dropout and an Identity: every pattern the inference passes rewrite."""
    rng = np.random.default_rng(5)

    def normal(*shape, scale=0.3):
        return (rng.standard_normal(shape) * scale).astype(np.float32)

    def bn_params(prefix, channels):
        return [onnx_models._tensor(f"{prefix}.gamma", normal(channels) + 1),
                onnx_models._tensor(f"{prefix}.beta", normal(channels)),
                onnx_models._tensor(f"{prefix}.mean", normal(channels)),
                onnx_models._tensor(f"{prefix}.var", np.abs(normal(channels)) + 0.5)]

    def bn_node(prefix, x, y):
        return helper.make_node("BatchNormalization",
                                [x] + [f"{prefix}.{p}" for p in ("gamma", "beta", "mean", "var")],
                                [y], name=prefix, epsilon=1e-3)

    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], name="conv1", pads=[1, 1, 1, 1]),
        bn_node("bn1", "c1", "n1"),
        helper.make_node("Relu", ["n1"], ["r1"], name="relu1"),
        helper.make_node("Conv", ["r1", "w2"], ["c2"], name="conv2", pads=[1, 1, 1, 1]),
        bn_node("bn2", "c2", "n2"),
        helper.make_node("Dropout", ["n2"], ["d2"], name="dropout"),
        helper.make_node("Add", ["d2", "r1"], ["s2"], name="residual"),
        helper.make_node("Relu", ["s2"], ["r2"], name="relu2"),
        helper.make_node("GlobalAveragePool", ["r2"], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flatten"),
        helper.make_node("Identity", ["flat"], ["same"], name="identity"),
        helper.make_node("Gemm", ["same", "fc.w", "fc.b"], ["y"], name="fc", transB=1),
    ]
    weights = [onnx_models._tensor("w1", normal(8, 3, 3, 3)),
               onnx_models._tensor("b1", normal(8)),
               onnx_models._tensor("w2", normal(8, 8, 3, 3, scale=0.1)),
               onnx_models._tensor("fc.w", normal(10, 8)),
               onnx_models._tensor("fc.b", normal(10))]
    weights += bn_params("bn1", 8) + bn_params("bn2", 8)
    graph = helper.make_graph(
        nodes, "bn_cnn", [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 3, 16, 16])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 10])], weights)
    return onnx_models._model(graph)


@pytest.fixture(scope="module")
def bn_cnn_path(tmp_path_factory):
    path = tmp_path_factory.mktemp("passes") / "bn_cnn.onnx"
    return onnx_models.save(bn_cnn(), path)


def compile_and_compare(kiln, path, package_path, rtol=1e-4, atol=1e-5, **compile_options):
    session = ort_session(str(path))
    feeds = random_feeds(session)
    expected = session.run(None, feeds)
    package = kiln.compile(kiln.load(str(path)), package_path=str(package_path), **compile_options)
    result = kiln.run(package, inputs=feeds)
    assert len(result.outputs) == len(expected)
    for i, want in enumerate(expected):
        np.testing.assert_allclose(result.outputs[f"output_{i}"], want, rtol=rtol, atol=atol)
    return package


@pytest.mark.parametrize("opt_level", [0, 1, 2, 3])
def test_every_opt_level_matches_onnxruntime(kiln, bn_cnn_path, tmp_path, opt_level):
    compile_and_compare(kiln, bn_cnn_path, tmp_path / "m.tar", opt_level=opt_level)


@pytest.mark.parametrize("disabled", [
    ["fold_scale_axis"],
    "simplify_inference,eliminate_common_subexpr",
    ["FoldConstant", "SimplifyExpr"],  # TVM's names
    ["infer_types", "simplify_inference", "fold_constant", "fold_scale_axis",
     "eliminate_common_subexpr", "simplify_expr"],
])
def test_disabled_passes_match_onnxruntime(kiln, bn_cnn_path, tmp_path, disabled):
    compile_and_compare(kiln, bn_cnn_path, tmp_path / "m.tar", disabled_pass=disabled)


def test_nchw_layout_is_accepted(kiln, bn_cnn_path, tmp_path):
    compile_and_compare(kiln, bn_cnn_path, tmp_path / "m.tar", desired_layout="NCHW")


def test_tvmc_names_pass_through(kiln, bn_cnn_path, tmp_path):
    from kiln import tvmc

    model = tvmc.load(str(bn_cnn_path))
    package = tvmc.compile(model, target="llvm", package_path=str(tmp_path / "m.tar"),
                           disabled_pass=["fold_scale_axis"], desired_layout="NCHW")
    assert package.num_kernels > 0


def test_opt_level_3_leaves_no_batch_norm(kiln, bn_cnn_path, tmp_path):
    package_path = tmp_path / "m.tar"
    kiln.compile(kiln.load(str(bn_cnn_path)), package_path=str(package_path), dump_code="ir")
    ir_text = (tmp_path / "m.tar.ir").read_text()
    assert "batch_norm(" not in ir_text
    assert "multiply(" not in ir_text  # both scales went into the conv weights


def test_unknown_pass_is_an_error_listing_the_passes(kiln, bn_cnn_path, tmp_path):
    with pytest.raises(kiln.Error, match="unknown pass 'fold_constants'.*fold_constant, "):
        kiln.compile(kiln.load(str(bn_cnn_path)), package_path=str(tmp_path / "m.tar"),
                     disabled_pass=["fold_constants"])


@pytest.mark.parametrize("layout", ["NHWC", "NCHW"])
def test_desired_layout_keeps_the_numbers(kiln, bn_cnn_path, tmp_path, layout):
    package = compile_and_compare_layout(kiln, bn_cnn_path, tmp_path, layout)
    ops = [op for node in json.loads(package.graph)["nodes"] for op in node["ops"]]
    assert "conv2d" not in ops  # NHWC, or NCHW16c chosen by alter_op_layout
    assert "conv2d_nchwc" in ops


def compile_and_compare_layout(kiln, path, tmp_path, layout):
    session = ort_session(str(path))
    feeds = random_feeds(session)
    package = kiln.compile(kiln.load(str(path)), package_path=str(tmp_path / "m.tar"),
                           desired_layout=layout)
    got = kiln.run(package, inputs=feeds).outputs["output_0"]
    np.testing.assert_allclose(got, session.run(None, feeds)[0], rtol=1e-4, atol=1e-5)
    return package


def test_unknown_layout_is_rejected_clearly(kiln, bn_cnn_path, tmp_path):
    with pytest.raises(kiln.Error, match='choose "NCHW" or "NHWC"'):
        kiln.compile(kiln.load(str(bn_cnn_path)), package_path=str(tmp_path / "m.tar"),
                     desired_layout="NWHC")


def test_cli_accepts_pass_options(run_cli, bn_cnn_path, tmp_path):
    out = tmp_path / "m.tar"
    done = run_cli("compile", bn_cnn_path, "-o", out, "--disabled-pass",
                   "fold_scale_axis,simplify_expr", "--desired-layout", "NCHW")
    assert done.returncode == 0, done.stderr
    assert out.exists()


def test_cli_rejects_an_unknown_pass(run_cli, bn_cnn_path, tmp_path):
    done = run_cli("compile", bn_cnn_path, "-o", tmp_path / "m.tar", "--disabled-pass", "nope")
    assert done.returncode != 0
    assert "unknown pass 'nope'" in done.stderr


# Deep networks: the bound of test_compile_run.py for 50-layer float32 networks.
@pytest.mark.slow
@pytest.mark.parametrize("name", ["resnet50_v1", "resnet50_v2"])
@pytest.mark.parametrize("opt_level", [0, 3])
def test_resnet50_matches_onnxruntime(kiln, exported, tmp_path, name, opt_level):
    compile_and_compare(kiln, exported(name), tmp_path / "m.tar", rtol=1e-3, atol=1e-3,
                        opt_level=opt_level)


@pytest.mark.slow
def test_resnet50_with_disabled_passes(kiln, exported, tmp_path):
    compile_and_compare(kiln, exported("resnet50_v1"), tmp_path / "m.tar", rtol=1e-3, atol=1e-3,
                        disabled_pass=["fold_scale_axis", "eliminate_common_subexpr"])
