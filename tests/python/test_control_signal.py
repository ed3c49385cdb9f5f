"""constant_inputs, control flow (If / Loop / Scan unrolled at import), signal operators (DFT, STFT,
windows, MelWeightMatrix), Range / Compress with constant inputs, and opsets older than 7.

Every model is built with onnx.helper; results are compared with onnxruntime (or
onnx.reference.ReferenceEvaluator where onnxruntime lacks the operator) at rtol 1e-4 / atol 1e-5
(float32 sums of up to a few hundred terms).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

RTOL, ATOL = 1e-4, 1e-5


def save(model, tmp_path, name="m.onnx"):
    import onnx
    path = os.path.join(str(tmp_path), name)
    onnx.save(model, path)
    return path


def make_model(nodes, inputs, outputs, opset=17, initializers=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)],
                             ir_version=8 if opset < 21 else 10)


def reference(path, feeds):
    """onnxruntime's outputs, or the ONNX reference evaluator's when onnxruntime cannot run it."""
    try:
        import onnxruntime as ort
        session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
        return session.run(None, feeds)
    except Exception:  # noqa: BLE001 - an operator or opset onnxruntime lacks
        from onnx.reference import ReferenceEvaluator
        return ReferenceEvaluator(path).run(None, feeds)


def kiln_outputs(kiln, tmp_path, model, feeds, constant_inputs=None):
    path = save(model, tmp_path, "model.onnx")
    loaded = kiln.load(path, constant_inputs=constant_inputs)
    package = kiln.compile(loaded, target="llvm", package_path=os.path.join(str(tmp_path), "p.tar"))
    result = kiln.run(package, inputs={k: v for k, v in feeds.items()
                                       if k not in (constant_inputs or {})})
    return [result.outputs[f"output_{i}"] for i in range(len(model.graph.output))], path


def check_against_reference(kiln, tmp_path, model, feeds, constant_inputs=None):
    got, path = kiln_outputs(kiln, tmp_path, model, feeds, constant_inputs)
    want = reference(path, {**feeds, **(constant_inputs or {})})
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.shape == w.shape and g.dtype == w.dtype, (g.shape, w.shape, g.dtype, w.dtype)
        np.testing.assert_allclose(g, w, rtol=RTOL, atol=ATOL)
    return got


def vi(name, dtype, shape):
    return helper.make_tensor_value_info(name, dtype, shape)


# ---------------------------------------------------------------------------------------------
# constant_inputs
# ---------------------------------------------------------------------------------------------
def reshape_model():
    return make_model([helper.make_node("Reshape", ["x", "shape"], ["y"])],
                      [vi("x", TensorProto.FLOAT, [2, 6]), vi("shape", TensorProto.INT64, [2])],
                      [vi("y", TensorProto.FLOAT, None)], opset=13)


def test_constant_input_makes_shape_static(kiln, tmp_path):
    x = np.arange(12, dtype=np.float32).reshape(2, 6)
    for shape in ([3, 4], [4, 3], [12, 1]):
        shape = np.array(shape, dtype=np.int64)
        got = check_against_reference(kiln, tmp_path, reshape_model(), {"x": x},
                                      constant_inputs={"shape": shape})
        assert got[0].shape == tuple(shape)


def test_constant_input_leaves_the_signature(kiln, tmp_path):
    path = save(reshape_model(), tmp_path)
    model = kiln.load(path, constant_inputs={"shape": np.array([3, 4], dtype=np.int64)})
    assert [i["name"] for i in model.inputs] == ["x"]
    assert model.outputs[0]["shape"] == [3, 4]
    from kiln import tvmc
    assert tvmc.load(path, constant_inputs={"shape": np.array([4, 3])}).outputs[0]["shape"] == \
        [4, 3]


def test_without_constant_input_the_error_suggests_it(kiln, tmp_path):
    path = save(reshape_model(), tmp_path)
    with pytest.raises(kiln.Error, match=r"input 1 'shape' \(shape\) must be known when the model "
                                         r"is imported.*constant_inputs=\{'shape'"):
        kiln.load(path)


def test_constant_input_errors(kiln, tmp_path):
    path = save(reshape_model(), tmp_path)
    with pytest.raises(kiln.Error, match=r"constant_inputs names input 'nope'.*its inputs are: "
                                         r"'x' \[2, 6\] float32, 'shape' \[2\] int64"):
        kiln.load(path, constant_inputs={"nope": np.array([1])})
    with pytest.raises(kiln.Error, match=r"gives input 'shape' a int32\[2\] value.*int64"):
        kiln.load(path, constant_inputs={"shape": np.array([3, 4], dtype=np.int32)})
    with pytest.raises(kiln.Error, match=r"gives input 'shape' a int64\[3\] value"):
        kiln.load(path, constant_inputs={"shape": np.array([3, 2, 2], dtype=np.int64)})
    with pytest.raises(kiln.Error, match="shape_dict gives it another shape"):
        kiln.load(path, shape_dict={"shape": [3]},
                  constant_inputs={"shape": np.array([3, 4], dtype=np.int64)})
    with pytest.raises(kiln.Error, match="constant_inputs must be a dict"):
        kiln.load(path, constant_inputs=[1, 2])
    # A value the operator rejects: the node's error, naming it.
    with pytest.raises(kiln.Error, match=r"node 'Reshape_0' \(Reshape\)"):
        kiln.load(path, constant_inputs={"shape": np.array([5, 5], dtype=np.int64)})


def test_constant_input_on_saved_kiln_model(kiln, tmp_path):
    model = make_model([helper.make_node("Add", ["x", "b"], ["y"])],
                       [vi("x", TensorProto.FLOAT, [3]), vi("b", TensorProto.FLOAT, [3])],
                       [vi("y", TensorProto.FLOAT, [3])])
    saved = os.path.join(str(tmp_path), "m.kiln")
    kiln.load(save(model, tmp_path)).save(saved)
    b = np.array([1, 2, 3], dtype=np.float32)
    loaded = kiln.load(saved, constant_inputs={"b": b})
    assert [i["name"] for i in loaded.inputs] == ["x"]
    package = kiln.compile(loaded, target="llvm", package_path=os.path.join(str(tmp_path), "p.tar"))
    out = kiln.run(package, inputs={"x": np.ones(3, np.float32)}).outputs["output_0"]
    np.testing.assert_array_equal(out, b + 1)
    with pytest.raises(kiln.Error, match="constant_inputs names input 'c'"):
        kiln.load(saved, constant_inputs={"c": b})
    with pytest.raises(kiln.Error, match=r"gives input 'b' a float32\[4\] value"):
        kiln.load(saved, constant_inputs={"b": np.ones(4, np.float32)})


def test_cli_constant_input(run_cli, tmp_path):
    path = save(reshape_model(), tmp_path)
    shape_file = os.path.join(str(tmp_path), "shape.npy")
    np.save(shape_file, np.array([3, 4], dtype=np.int64))
    result = run_cli("inspect", path, "--constant-input", f"shape={shape_file}", "--json")
    assert result.returncode == 0, result.stderr
    import json
    report = json.loads(result.stdout)
    assert [i["name"] for i in report["inputs"]] == ["x"]
    assert report["outputs"][0]["shape"] == [3, 4]
    package = os.path.join(str(tmp_path), "p.tar")
    result = run_cli("compile", path, "--constant-input", f"shape={shape_file}", "-o", package)
    assert result.returncode == 0, result.stderr
    result = run_cli("compile", path, "--constant-input", "shape", "-o", package)
    assert result.returncode == 4 and "must be NAME=FILE.npy" in result.stderr
    result = run_cli("inspect", path, "--constant-input", "other=" + shape_file)
    assert result.returncode == 4 and "constant_inputs names input 'other'" in result.stderr
    result = run_cli("inspect", path, "--constant-input", "shape=/nonexistent.npy")
    assert result.returncode == 4 and "/nonexistent.npy" in result.stderr


# ---------------------------------------------------------------------------------------------
# Range, Compress
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("start,limit,delta,dtype", [(1.0, 5.0, 2.0, np.float32),
                                                     (10, 6, -3, np.int32), (0, 17, 1, np.int64)])
def test_range_with_constant_inputs(kiln, tmp_path, start, limit, delta, dtype):
    onnx_type = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    model = make_model([helper.make_node("Range", ["s", "l", "d"], ["y"])],
                       [vi(n, onnx_type, []) for n in "sld"], [vi("y", onnx_type, None)], opset=11)
    consts = {"s": np.array(start, dtype), "l": np.array(limit, dtype), "d": np.array(delta, dtype)}
    check_against_reference(kiln, tmp_path, model, {}, constant_inputs=consts)
    with pytest.raises(kiln.Error, match=r"input 0 's' \(start\) must be known.*constant_inputs"):
        kiln.load(save(model, tmp_path))


def test_range_one_element_inputs_and_folding_split(kiln, tmp_path):
    # AffineGrid's function body: Split a constant size apart, feed [1]-shaped parts to Range.
    model = make_model([helper.make_node("Split", ["size"], ["a", "b"], num_outputs=2),
                        helper.make_node("Range", ["zero", "b", "one"], ["r"]),
                        helper.make_node("Reshape", ["x", "a"], ["y"])],
                       [vi("size", TensorProto.INT64, [2]), vi("x", TensorProto.FLOAT, [6])],
                       [vi("r", TensorProto.INT64, None), vi("y", TensorProto.FLOAT, None)],
                       opset=18, initializers=[
                           numpy_helper.from_array(np.array([0], np.int64), "zero"),
                           numpy_helper.from_array(np.array([1], np.int64), "one")])
    x = np.arange(6, dtype=np.float32)
    got, _ = kiln_outputs(kiln, tmp_path, model, {"x": x},
                          constant_inputs={"size": np.array([6, 4], np.int64)})
    np.testing.assert_array_equal(got[0], np.arange(4))
    np.testing.assert_array_equal(got[1], x)


@pytest.mark.parametrize("axis", [None, 0, 1, -1])
def test_compress(kiln, tmp_path, axis):
    attrs = {} if axis is None else {"axis": axis}
    length = 6 if axis is None else 3
    model = make_model([helper.make_node("Compress", ["x", "c"], ["y"], **attrs)],
                       [vi("x", TensorProto.FLOAT, [3, 3]), vi("c", TensorProto.BOOL, [length])],
                       [vi("y", TensorProto.FLOAT, None)], opset=11)
    x = np.arange(9, dtype=np.float32).reshape(3, 3)
    condition = np.array([True, False, True, True, False, True][:length])
    check_against_reference(kiln, tmp_path, model, {"x": x}, constant_inputs={"c": condition})


def test_compress_condition_beyond_axis(kiln, tmp_path):
    model = make_model([helper.make_node("Compress", ["x", "c"], ["y"], axis=0)],
                       [vi("x", TensorProto.FLOAT, [2]), vi("c", TensorProto.BOOL, [3])],
                       [vi("y", TensorProto.FLOAT, None)], opset=11)
    with pytest.raises(kiln.Error, match=r"\(Compress\).*selects index 2 beyond the axis"):
        kiln.load(save(model, tmp_path), constant_inputs={"c": np.array([1, 0, 1], bool)})


# ---------------------------------------------------------------------------------------------
# If
# ---------------------------------------------------------------------------------------------
def if_model():
    # The branches read the outer value `x` by name (outer scope).
    then_graph = helper.make_graph([helper.make_node("Add", ["x", "x"], ["t"])], "then", [],
                                   [vi("t", TensorProto.FLOAT, [4])])
    else_graph = helper.make_graph([helper.make_node("Neg", ["x"], ["e"])], "else", [],
                                   [vi("e", TensorProto.FLOAT, [4])])
    node = helper.make_node("If", ["cond"], ["y"], then_branch=then_graph, else_branch=else_graph)
    relu = helper.make_node("Relu", ["y"], ["z"])
    return make_model([node, relu], [vi("cond", TensorProto.BOOL, []),
                                      vi("x", TensorProto.FLOAT, [4])],
                      [vi("z", TensorProto.FLOAT, [4])], opset=13)


@pytest.mark.parametrize("condition", [True, False])
def test_if_with_constant_condition(kiln, tmp_path, condition):
    x = np.array([-1, 2, -3, 4], dtype=np.float32)
    check_against_reference(kiln, tmp_path, if_model(), {"x": x},
                            constant_inputs={"cond": np.array(condition)})


def test_if_without_constant_condition(kiln, tmp_path):
    with pytest.raises(kiln.Error, match=r"\(If\): input 0 'cond' \(condition\) must be known.*"
                                         r"constant_inputs=\{'cond'"):
        kiln.load(save(if_model(), tmp_path))


def test_if_error_inside_branch_names_both_nodes(kiln, tmp_path):
    bad = helper.make_graph([helper.make_node("Reshape", ["x", "x"], ["t"], name="inner")], "then",
                            [], [vi("t", TensorProto.FLOAT, None)])
    node = helper.make_node("If", ["cond"], ["y"], name="outer", then_branch=bad, else_branch=bad)
    model = make_model([node], [vi("cond", TensorProto.BOOL, []), vi("x", TensorProto.FLOAT, [4])],
                       [vi("y", TensorProto.FLOAT, None)], opset=13)
    with pytest.raises(kiln.Error, match=r"m.onnx: node 'outer' \(If\): node 'inner' \(Reshape\)"):
        kiln.load(save(model, tmp_path), constant_inputs={"cond": np.array(True)})


# ---------------------------------------------------------------------------------------------
# Loop
# ---------------------------------------------------------------------------------------------
def loop_model(with_cond_limit=False):
    """y_{i+1} = y_i * a + i (a from the outer scope); scan output: y_i + 1. With
    `with_cond_limit`, the body stops when i reaches 2 (cond_out = i < 2)."""
    nodes = [
        helper.make_node("Cast", ["i"], ["i_f"], to=TensorProto.FLOAT),
        helper.make_node("Mul", ["y_in", "a"], ["scaled"]),
        helper.make_node("Add", ["scaled", "i_f"], ["y_out"]),
        helper.make_node("Add", ["y_in", "one"], ["scan_out"]),
    ]
    if with_cond_limit:
        nodes.append(helper.make_node("Less", ["i", "two"], ["cond_out"]))
    else:
        nodes.append(helper.make_node("Identity", ["cond_in"], ["cond_out"]))
    body = helper.make_graph(
        nodes, "body",
        [vi("i", TensorProto.INT64, []), vi("cond_in", TensorProto.BOOL, []),
         vi("y_in", TensorProto.FLOAT, [2])],
        [vi("cond_out", TensorProto.BOOL, []), vi("y_out", TensorProto.FLOAT, [2]),
         vi("scan_out", TensorProto.FLOAT, [2])],
        initializer=[numpy_helper.from_array(np.array(1, np.float32), "one"),
                     numpy_helper.from_array(np.array(2, np.int64), "two")])
    node = helper.make_node("Loop", ["M", "cond", "y0"], ["y", "scans"], body=body)
    return make_model([node], [vi("M", TensorProto.INT64, []), vi("cond", TensorProto.BOOL, []),
                               vi("y0", TensorProto.FLOAT, [2]), vi("a", TensorProto.FLOAT, [2])],
                      [vi("y", TensorProto.FLOAT, [2]), vi("scans", TensorProto.FLOAT, None)],
                      opset=13)


@pytest.mark.parametrize("trips", [1, 3, 7])
def test_loop_unrolled(kiln, tmp_path, trips):
    feeds = {"y0": np.array([0.5, -1], np.float32), "a": np.array([2, 0.5], np.float32)}
    got = check_against_reference(kiln, tmp_path, loop_model(), feeds,
                                  constant_inputs={"M": np.array(trips), "cond": np.array(True)})
    assert got[1].shape == (trips, 2)


def test_loop_stops_on_body_condition(kiln, tmp_path):
    feeds = {"y0": np.array([0.5, -1], np.float32), "a": np.array([2, 0.5], np.float32)}
    got = check_against_reference(kiln, tmp_path, loop_model(with_cond_limit=True), feeds,
                                  constant_inputs={"M": np.array(10), "cond": np.array(True)})
    assert got[1].shape == (3, 2)


def test_loop_without_condition_input(kiln, tmp_path):
    model = loop_model()
    model.graph.node[0].input[1] = ""  # no condition: a plain for loop
    del model.graph.input[1]
    feeds = {"y0": np.array([0.5, -1], np.float32), "a": np.array([2, 0.5], np.float32)}
    got = check_against_reference(kiln, tmp_path, model, feeds, constant_inputs={"M": np.array(4)})
    assert got[1].shape == (4, 2)


def test_huge_constants_are_refused(kiln, tmp_path):
    path = save(loop_model(), tmp_path)
    with pytest.raises(kiln.Error, match=r"not supported yet: unrolling"):
        kiln.load(path, constant_inputs={"M": np.array(2**62), "cond": np.array(True)})
    model = make_model([helper.make_node("HannWindow", ["n"], ["w"])],
                       [vi("n", TensorProto.INT64, [])], [vi("w", TensorProto.FLOAT, None)])
    with pytest.raises(kiln.Error, match=r"\(HannWindow\): not supported yet: a window of 1 x"):
        kiln.load(save(model, tmp_path), constant_inputs={"n": np.array(2**40)})
    path = save(dft_model((1, 8, 1), 17, 1, dft_length=True), tmp_path)
    with pytest.raises(kiln.Error, match=r"\(DFT\): not supported yet: a DFT of length"):
        kiln.load(path, constant_inputs={"len": np.array(2**50)})


def test_loop_with_run_time_condition_is_masked(kiln, tmp_path):
    # cond_out = sum(y) < limit, computed from a fed input: the loop runs up to M iterations and
    # stops changing y once the condition is false (no scan outputs).
    body = helper.make_graph(
        [helper.make_node("Mul", ["y_in", "a"], ["y_out"]),
         helper.make_node("ReduceSum", ["y_out"], ["total"], keepdims=0),
         helper.make_node("Less", ["total", "limit"], ["cond_out"])],
        "body", [vi("i", TensorProto.INT64, []), vi("cond_in", TensorProto.BOOL, []),
                 vi("y_in", TensorProto.FLOAT, [2])],
        [vi("cond_out", TensorProto.BOOL, []), vi("y_out", TensorProto.FLOAT, [2])])
    node = helper.make_node("Loop", ["M", "cond", "y0"], ["y"], body=body)
    model = make_model([node], [vi("M", TensorProto.INT64, []), vi("cond", TensorProto.BOOL, []),
                                vi("y0", TensorProto.FLOAT, [2]), vi("a", TensorProto.FLOAT, [2]),
                                vi("limit", TensorProto.FLOAT, [])],
                       [vi("y", TensorProto.FLOAT, [2])], opset=13)
    consts = {"M": np.array(6), "cond": np.array(True)}
    for limit in (0.5, 5.0, 40.0, 1000.0):
        feeds = {"y0": np.array([1, 1], np.float32), "a": np.array([2, 1.5], np.float32),
                 "limit": np.array(limit, np.float32)}
        check_against_reference(kiln, tmp_path, model, feeds, constant_inputs=consts)
    # With scan outputs the output length would depend on the run-time condition.
    model = loop_model(with_cond_limit=True)
    model.graph.node[0].attribute[0].g.node[-1].input[1] = "limit"
    model.graph.input.append(vi("limit", TensorProto.INT64, []))
    with pytest.raises(kiln.Error, match=r"not supported yet: the body computes the loop "
                                         r"condition.*has scan outputs"):
        kiln.load(save(model, tmp_path), constant_inputs=consts)


def test_loop_errors(kiln, tmp_path):
    path = save(loop_model(), tmp_path)
    with pytest.raises(kiln.Error, match=r"\(Loop\): input 0 'M' \(trip count M\) must be known"):
        kiln.load(path, constant_inputs={"cond": np.array(True)})
    with pytest.raises(kiln.Error, match=r"not supported yet: unrolling 100000 iterations"):
        kiln.load(path, constant_inputs={"M": np.array(100000), "cond": np.array(True)})
    with pytest.raises(kiln.Error, match=r"not supported yet: a loop that runs no iteration"):
        kiln.load(path, constant_inputs={"M": np.array(0), "cond": np.array(True)})


# ---------------------------------------------------------------------------------------------
# Scan
# ---------------------------------------------------------------------------------------------
def scan9_model(directions=(0, 0), input_axes=(0, 1), output_axes=(0,), output_dirs=(0,)):
    """state += x_t * w_t (two scan inputs, the second scanned along axis 1); scan output:
    state * 2."""
    body = helper.make_graph(
        [helper.make_node("Mul", ["x_t", "w_t"], ["p"]),
         helper.make_node("Add", ["s_in", "p"], ["s_out"]),
         helper.make_node("Add", ["s_out", "s_out"], ["o"])],
        "body",
        [vi("s_in", TensorProto.FLOAT, [3]), vi("x_t", TensorProto.FLOAT, [3]),
         vi("w_t", TensorProto.FLOAT, [3])],
        [vi("s_out", TensorProto.FLOAT, [3]), vi("o", TensorProto.FLOAT, [3])])
    node = helper.make_node("Scan", ["s0", "x", "w"], ["s", "os"], body=body, num_scan_inputs=2,
                            scan_input_directions=list(directions),
                            scan_input_axes=list(input_axes), scan_output_axes=list(output_axes),
                            scan_output_directions=list(output_dirs))
    return make_model([node], [vi("s0", TensorProto.FLOAT, [3]), vi("x", TensorProto.FLOAT, [4, 3]),
                               vi("w", TensorProto.FLOAT, [3, 4])],
                      [vi("s", TensorProto.FLOAT, [3]), vi("os", TensorProto.FLOAT, None)],
                      opset=16)


@pytest.mark.parametrize("directions,output_axes,output_dirs", [
    ((0, 0), (0,), (0,)), ((1, 0), (0,), (0,)), ((0, 1), (1,), (1,)), ((1, 1), (-1,), (0,))])
def test_scan9(kiln, tmp_path, directions, output_axes, output_dirs):
    rng = np.random.default_rng(0)
    feeds = {"s0": rng.standard_normal(3).astype(np.float32),
             "x": rng.standard_normal((4, 3)).astype(np.float32),
             "w": rng.standard_normal((3, 4)).astype(np.float32)}
    check_against_reference(kiln, tmp_path, scan9_model(directions, (0, 1), output_axes,
                                                        output_dirs), feeds)


def test_scan8_batched(kiln, tmp_path):
    body = helper.make_graph(
        [helper.make_node("Add", ["s_in", "x_t"], ["s_out"]),
         helper.make_node("Identity", ["s_out"], ["o"])],
        "body", [vi("s_in", TensorProto.FLOAT, [2]), vi("x_t", TensorProto.FLOAT, [2])],
        [vi("s_out", TensorProto.FLOAT, [2]), vi("o", TensorProto.FLOAT, [2])])
    node = helper.make_node("Scan", ["", "s0", "x"], ["s", "os"], body=body, num_scan_inputs=1,
                            directions=[1])
    model = make_model([node], [vi("s0", TensorProto.FLOAT, [2, 2]),
                                vi("x", TensorProto.FLOAT, [2, 5, 2])],
                       [vi("s", TensorProto.FLOAT, [2, 2]), vi("os", TensorProto.FLOAT, [2, 5, 2])],
                       opset=8)
    rng = np.random.default_rng(1)
    s0 = rng.standard_normal((2, 2)).astype(np.float32)
    x = rng.standard_normal((2, 5, 2)).astype(np.float32)
    got, _ = kiln_outputs(kiln, tmp_path, model, {"s0": s0, "x": x})
    # Whole-sequence lengths are accepted; shorter ones are refused.
    with_lens = make_model([helper.make_node("Scan", ["lens", "s0", "x"], ["s", "os"], body=body,
                                             num_scan_inputs=1, directions=[1])],
                           list(model.graph.input) + [vi("lens", TensorProto.INT32, [2])],
                           list(model.graph.output), opset=8)
    got_lens, _ = kiln_outputs(kiln, tmp_path, with_lens, {"s0": s0, "x": x},
                               constant_inputs={"lens": np.array([5, 5], np.int32)})
    np.testing.assert_array_equal(got_lens[1], got[1])
    with pytest.raises(kiln.Error, match=r"sequence_lens\) holds 3, shorter than the sequence"):
        kiln.load(save(with_lens, tmp_path), constant_inputs={"lens": np.array([5, 3], np.int32)})
    reversed_x = x[:, ::-1]
    np.testing.assert_allclose(got[0], s0 + x.sum(axis=1), rtol=RTOL, atol=ATOL)
    np.testing.assert_allclose(got[1], s0[:, None] + np.cumsum(reversed_x, axis=1), rtol=RTOL,
                               atol=ATOL)


# ---------------------------------------------------------------------------------------------
# Signal operators
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("op", ["HannWindow", "HammingWindow", "BlackmanWindow"])
@pytest.mark.parametrize("periodic", [0, 1])
@pytest.mark.parametrize("size", [1, 8, 17])
def test_windows(kiln, tmp_path, op, periodic, size):
    if size == 1 and not periodic:
        pytest.skip("a symmetric window of one sample divides by zero (NaN) in the reference too")
    model = make_model([helper.make_node(op, ["n"], ["w"], periodic=periodic)],
                       [vi("n", TensorProto.INT32, [])], [vi("w", TensorProto.FLOAT, None)])
    check_against_reference(kiln, tmp_path, model, {},
                            constant_inputs={"n": np.array(size, np.int32)})


def dft_model(shape, opset, axis, inverse=0, onesided=0, dft_length=None):
    inputs = ["x", "len" if dft_length is not None else ""]
    attrs = {"inverse": inverse, "onesided": onesided}
    graph_inputs = [vi("x", TensorProto.FLOAT, list(shape))]
    if dft_length is not None:
        graph_inputs.append(vi("len", TensorProto.INT64, []))
    if opset >= 20:
        inputs.append("axis")
        graph_inputs.append(vi("axis", TensorProto.INT64, []))
    else:
        attrs["axis"] = axis
    node = helper.make_node("DFT", inputs, ["y"], **attrs)
    return make_model([node], graph_inputs, [vi("y", TensorProto.FLOAT, None)], opset=opset)


@pytest.mark.parametrize("opset", [17, 20])
@pytest.mark.parametrize("shape,axis,inverse,onesided,dft_length", [
    ((2, 8, 1), 1, 0, 0, None),      # real forward
    ((2, 9, 2), 1, 0, 0, None),      # complex forward, odd length
    ((2, 8, 2), 1, 1, 0, None),      # inverse
    ((3, 16, 1), 1, 0, 1, None),     # rfft
    ((1, 5, 6, 1), 1, 0, 0, None),   # axis 1 of a 4-D signal (transposed around)
    ((1, 5, 6, 2), -2, 0, 0, None),  # negative axis
    ((2, 8, 1), 1, 0, 0, 12),        # zero-padded
    ((2, 8, 2), 1, 0, 0, 5),         # truncated
    ((2, 9, 2), 1, 1, 1, None),      # irfft of 9 bins -> 16 samples
    ((2, 5, 2), 1, 1, 1, 9),         # irfft, odd length
])
def test_dft(kiln, tmp_path, opset, shape, axis, inverse, onesided, dft_length):
    rng = np.random.default_rng(2)
    x = rng.standard_normal(shape).astype(np.float32)
    consts = {}
    if dft_length is not None:
        consts["len"] = np.array(dft_length, np.int64)
    if opset >= 20:
        consts["axis"] = np.array(axis, np.int64)
    model = dft_model(shape, opset, axis, inverse, onesided, dft_length)
    path = save(model, tmp_path)
    loaded = kiln.load(path, constant_inputs=consts)
    package = kiln.compile(loaded, target="llvm", package_path=os.path.join(str(tmp_path), "p.tar"))
    got = kiln.run(package, inputs={"x": x}).outputs["output_0"]
    # numpy's FFT as the reference (independent of ONNX's reference implementation).
    ax = axis % len(shape)
    signal = x[..., 0] if shape[-1] == 1 else x[..., 0] + 1j * x[..., 1]
    if inverse and onesided:
        n = dft_length or 2 * (shape[ax] - 1)
        want = np.fft.irfft(signal, n=n, axis=ax)[..., None]
    else:
        n = dft_length or shape[ax]
        spectrum = (np.fft.ifft if inverse else np.fft.fft)(signal, n=n, axis=ax)
        if onesided:
            spectrum = np.take(spectrum, np.arange(n // 2 + 1), axis=ax)
        want = np.stack([spectrum.real, spectrum.imag], axis=-1)
    assert got.shape == want.shape
    np.testing.assert_allclose(got, want.astype(np.float32), rtol=1e-4, atol=1e-4)


def test_dft_errors(kiln, tmp_path):
    path = save(dft_model((2, 8, 3), 17, 1), tmp_path)
    with pytest.raises(kiln.Error, match=r"\(DFT\): the last dim of input 0 must be 1 .* got 3"):
        kiln.load(path)
    path = save(dft_model((2, 8, 1), 17, 2), tmp_path)
    with pytest.raises(kiln.Error, match=r"\(DFT\): axis must not be the last dim"):
        kiln.load(path)
    path = save(dft_model((2, 8, 2), 17, 1, onesided=1), tmp_path)
    with pytest.raises(kiln.Error, match=r"onesided needs a real input"):
        kiln.load(path)


@pytest.mark.parametrize("with_window,onesided", [(False, 1), (True, 1), (True, 0)])
def test_stft(kiln, tmp_path, with_window, onesided):
    inputs = ["signal", "step", "window" if with_window else "", "" if with_window else "length"]
    graph_inputs = [vi("signal", TensorProto.FLOAT, [2, 40, 1]), vi("step", TensorProto.INT64, [])]
    if with_window:
        graph_inputs.append(vi("window", TensorProto.FLOAT, [12]))
    else:
        graph_inputs.append(vi("length", TensorProto.INT64, []))
    model = make_model([helper.make_node("STFT", inputs, ["y"], onesided=onesided)], graph_inputs,
                       [vi("y", TensorProto.FLOAT, None)])
    rng = np.random.default_rng(3)
    feeds = {"signal": rng.standard_normal((2, 40, 1)).astype(np.float32)}
    consts = {"step": np.array(5, np.int64)}
    if with_window:
        feeds["window"] = np.hanning(12).astype(np.float32)  # fed at run time
    else:
        consts["length"] = np.array(12, np.int64)
    got = check_against_reference(kiln, tmp_path, model, feeds, constant_inputs=consts)
    assert got[0].shape == (2, 1 + (40 - 12) // 5, 7 if onesided else 12, 2)


def test_mel_weight_matrix(kiln, tmp_path):
    names = ["bins", "dft", "rate", "low", "high"]
    types = [TensorProto.INT32] * 3 + [TensorProto.FLOAT] * 2
    model = make_model([helper.make_node("MelWeightMatrix", names, ["y"])],
                       [vi(n, t, []) for n, t in zip(names, types)],
                       [vi("y", TensorProto.FLOAT, None)])
    values = [np.array(v, np.int32) for v in (10, 64, 16000)] + \
        [np.array(v, np.float32) for v in (20.0, 7000.0)]
    check_against_reference(kiln, tmp_path, model, {}, constant_inputs=dict(zip(names, values)))


# ---------------------------------------------------------------------------------------------
# Opsets 1-6
# ---------------------------------------------------------------------------------------------
def test_opset1_not(kiln, tmp_path):
    model = make_model([helper.make_node("Not", ["x"], ["y"])], [vi("x", TensorProto.BOOL, [3, 4])],
                       [vi("y", TensorProto.BOOL, [3, 4])], opset=1)
    x = np.random.default_rng(4).random((3, 4)) > 0.5
    got, _ = kiln_outputs(kiln, tmp_path, model, {"x": x})
    np.testing.assert_array_equal(got[0], ~x)


@pytest.mark.parametrize("axis", [None, 0, 1, 2])
def test_opset6_legacy_broadcast(kiln, tmp_path, axis):
    attrs = {"broadcast": 1} if axis is None else {"broadcast": 1, "axis": axis}
    b_shape = {None: [4], 0: [2], 1: [3], 2: [4]}[axis]
    model = make_model([helper.make_node("Add", ["a", "b"], ["s"], **attrs),
                        helper.make_node("Mul", ["s", "b"], ["y"], **attrs)],
                       [vi("a", TensorProto.FLOAT, [2, 3, 4]), vi("b", TensorProto.FLOAT, b_shape)],
                       [vi("y", TensorProto.FLOAT, [2, 3, 4])], opset=6)
    rng = np.random.default_rng(5)
    a = rng.standard_normal((2, 3, 4)).astype(np.float32)
    b = rng.standard_normal(b_shape).astype(np.float32)
    got, _ = kiln_outputs(kiln, tmp_path, model, {"a": a, "b": b})
    first = 2 if axis is None else axis
    aligned = b.reshape(b.shape + (1,) * (3 - first - 1))
    np.testing.assert_allclose(got[0], (a + aligned) * aligned, rtol=RTOL, atol=ATOL)


def test_opset6_classic_cnn_against_opset13_equivalent(kiln, tmp_path):
    """A Caffe2-era network (opset 6: BatchNormalization is_test, legacy broadcast Add with axis,
    Gemm with broadcast, Dropout is_test, LRN) against onnxruntime on the same network written by
    hand in opset 13 (onnx.version_converter mistranslates the legacy Add)."""
    rng = np.random.default_rng(6)

    def weight(name, shape):
        return numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32) * 0.3, name)

    inits = [weight("w", [4, 3, 3, 3]), weight("scale", [4]), weight("bias", [4]),
             weight("mean", [4]), numpy_helper.from_array(rng.random(4).astype(np.float32) + 0.5,
                                                          "var"),
             weight("shift", [4]), weight("fc", [5, 64]), weight("fc_b", [5]),
             numpy_helper.from_array(np.array([1, 64], np.int64), "flat_shape")]
    shift = numpy_helper.to_array(inits[5])

    def network(opset):
        old = opset < 7
        legacy = {"broadcast": 1} if old else {}
        return [
            helper.make_node("Cast", ["x_int"], ["x"], to=TensorProto.FLOAT),
            helper.make_node("Conv", ["x", "w"], ["c"], pads=[1, 1, 1, 1]),
            helper.make_node("BatchNormalization", ["c", "scale", "bias", "mean", "var"], ["bn"],
                             epsilon=1e-3, **({"is_test": 1} if old else {})),
            helper.make_node("Add", ["bn", "shift" if old else "shift3"], ["shifted"],
                             **({"broadcast": 1, "axis": 1} if old else {})),
            helper.make_node("Relu", ["shifted"], ["r"]),
            helper.make_node("LRN", ["r"], ["n"], size=3),
            helper.make_node("MaxPool", ["n"], ["p"], kernel_shape=[2, 2], strides=[2, 2]),
            helper.make_node("Dropout", ["p"], ["d"],
                             **({"is_test": 1, "ratio": 0.5} if old else {})),
            helper.make_node("Reshape", ["d", "flat_shape"], ["flat"]),
            helper.make_node("Gemm", ["flat", "fc", "fc_b"], ["g"], transB=1, **legacy),
            helper.make_node("Softmax", ["g"], ["y"]),
        ]

    graph_io = ([vi("x_int", TensorProto.INT32, [1, 3, 8, 8])],
                [vi("y", TensorProto.FLOAT, [1, 5])])
    old_model = make_model(network(6), *graph_io, opset=6, initializers=inits)
    new_model = make_model(network(13), *graph_io, opset=13, initializers=inits + [
        numpy_helper.from_array(shift.reshape(4, 1, 1), "shift3")])
    x = rng.integers(-3, 4, (1, 3, 8, 8)).astype(np.int32)
    got, _ = kiln_outputs(kiln, tmp_path, old_model, {"x_int": x})
    want = reference(save(new_model, tmp_path, "opset13.onnx"), {"x_int": x})
    np.testing.assert_allclose(got[0], want[0], rtol=RTOL, atol=ATOL)


def test_opset1_cast_and_reshape_attributes(kiln, tmp_path):
    model = make_model([helper.make_node("Cast", ["x"], ["f"], to="FLOAT"),
                        helper.make_node("Reshape", ["f"], ["y"], shape=[2, 3])],
                       [vi("x", TensorProto.INT32, [6])], [vi("y", TensorProto.FLOAT, [2, 3])],
                       opset=1)
    x = np.arange(6, dtype=np.int32)
    got, _ = kiln_outputs(kiln, tmp_path, model, {"x": x})
    np.testing.assert_array_equal(got[0], x.reshape(2, 3).astype(np.float32))
    model.graph.node[0].attribute[0].s = b"FLOAT99"
    with pytest.raises(kiln.Error, match=r"\(Cast\): attribute 'to' \"FLOAT99\" is not an ONNX"):
        kiln.load(save(model, tmp_path))


def test_opset6_training_batch_norm_is_refused(kiln, tmp_path):
    model = make_model([helper.make_node("BatchNormalization", ["x", "s", "s", "s", "s"], ["y"])],
                       [vi("x", TensorProto.FLOAT, [1, 2, 2]), vi("s", TensorProto.FLOAT, [2])],
                       [vi("y", TensorProto.FLOAT, [1, 2, 2])], opset=6)
    with pytest.raises(kiln.Error, match=r"is_test=0 \(training\) is not supported"):
        kiln.load(save(model, tmp_path))


def test_old_opset_refuses_unlisted_operators(kiln, tmp_path):
    model = make_model([helper.make_node("Tile", ["x", "t", "a"], ["y"])],
                       [vi("x", TensorProto.INT32, [3]), vi("t", TensorProto.INT64, []),
                        vi("a", TensorProto.INT64, [])], [vi("y", TensorProto.INT32, None)],
                       opset=5)
    with pytest.raises(kiln.Error, match=r"opset 5; reading these operators at opsets older than 7 "
                                         r"is not supported yet: Tile \(node 'Tile_0'\)"):
        kiln.load(save(model, tmp_path))
