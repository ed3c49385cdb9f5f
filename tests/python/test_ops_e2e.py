"""Single-operator ONNX models compiled and run by Kiln, compared with onnxruntime: the operators
whose computes came with operator coverage (issue 5) — Resize / Upsample in their modes,
ConvTranspose, LSTM, GRU, CumSum, TopK, Einsum, GatherND, ScatterElements, the bitwise ops.

Tolerances: rtol 1e-4 / atol 1e-5 for float32 (same operations, another summation order);
integer results must be exact.
"""

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import ort_session

NP_TO_ONNX = {
    np.dtype(np.float32): TensorProto.FLOAT,
    np.dtype(np.int32): TensorProto.INT32,
    np.dtype(np.int64): TensorProto.INT64,
    np.dtype(np.uint8): TensorProto.UINT8,
    np.dtype(np.uint16): TensorProto.UINT16,
    np.dtype(np.uint32): TensorProto.UINT32,
    np.dtype(np.uint64): TensorProto.UINT64,
    np.dtype(np.int8): TensorProto.INT8,
}


def run_both(kiln, tmp_path, op, feeds, constants=None, attrs=None, num_outputs=1, opset=17,
             input_names=None, out_dtypes=None):
    """Builds a one-node model: `feeds` are graph inputs, `constants` initializers; input_names
    orders them for the node (empty string: an omitted optional input); outputs have the first
    input's dtype unless out_dtypes says. Returns (kiln, onnxruntime) output lists."""
    constants = constants or {}
    first = NP_TO_ONNX[next(iter(feeds.values())).dtype]
    out_dtypes = out_dtypes or [first] * num_outputs
    names = input_names if input_names is not None else list(feeds) + list(constants)
    outputs = [f"y{i}" for i in range(num_outputs)]
    node = helper.make_node(op, names, outputs, name="node", **(attrs or {}))
    graph = helper.make_graph(
        [node], op.lower(),
        [helper.make_tensor_value_info(n, NP_TO_ONNX[v.dtype], v.shape) for n, v in feeds.items()],
        [helper.make_tensor_value_info(n, t, None) for n, t in zip(outputs, out_dtypes)],
        initializer=[numpy_helper.from_array(v, n) for n, v in constants.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    path = tmp_path / f"{op}.onnx"
    path.write_bytes(model.SerializeToString())
    expected = ort_session(str(path)).run(None, feeds)
    package = kiln.compile(kiln.load(str(path)), target="llvm",
                           package_path=str(tmp_path / "m.tar"))
    result = kiln.run(package, inputs=feeds)
    got = [result.outputs[f"output_{i}"] for i in range(num_outputs)]
    return got, expected


def check(kiln, tmp_path, op, feeds, rtol=1e-4, atol=1e-5, **kwargs):
    got, expected = run_both(kiln, tmp_path, op, feeds, **kwargs)
    assert len(got) == len(expected)
    for g, e in zip(got, expected):
        assert g.shape == e.shape
        assert g.dtype == e.dtype
        if np.issubdtype(e.dtype, np.floating):
            np.testing.assert_allclose(g, e, rtol=rtol, atol=atol)
        else:
            np.testing.assert_array_equal(g, e)


def rand(*shape, seed=0, low=-1.0, high=1.0):
    return np.random.default_rng(seed).uniform(low, high, shape).astype(np.float32)


# ---------------------------------------------------------------------------------------------
# Resize / Upsample
# ---------------------------------------------------------------------------------------------
MODES = ["half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric"]


# tf_half_pixel_for_nearest (Resize-11 only) runs neither in onnxruntime nor in ONNX's reference
# evaluator: tests/cpp/op/lower/coverage_lower_test.cc checks it against the formula.
@pytest.mark.parametrize("mode", MODES + ["half_pixel_symmetric"])
@pytest.mark.parametrize("nearest_mode", ["round_prefer_floor", "round_prefer_ceil", "floor",
                                          "ceil"])
@pytest.mark.parametrize("sizes", [[1, 2, 9, 10], [1, 2, 3, 2]])
def test_resize_nearest(kiln, tmp_path, mode, nearest_mode, sizes):
    # half_pixel_symmetric came with Resize-19.
    check(kiln, tmp_path, "Resize", {"x": rand(1, 2, 4, 5)},
          constants={"sizes": np.array(sizes, np.int64)}, input_names=["x", "", "", "sizes"],
          opset=19 if mode == "half_pixel_symmetric" else 17,
          attrs={"mode": "nearest", "coordinate_transformation_mode": mode,
                 "nearest_mode": nearest_mode})


@pytest.mark.parametrize("mode", MODES + ["half_pixel_symmetric"])
@pytest.mark.parametrize("sizes", [[2, 3, 7, 17], [2, 3, 3, 2], [2, 3, 1, 6]])
def test_resize_linear(kiln, tmp_path, mode, sizes):
    check(kiln, tmp_path, "Resize", {"x": rand(2, 3, 4, 5)},
          constants={"sizes": np.array(sizes, np.int64)}, input_names=["x", "", "", "sizes"],
          opset=19 if mode == "half_pixel_symmetric" else 17,
          attrs={"mode": "linear", "coordinate_transformation_mode": mode})


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("exclude_outside,coeff", [(0, -0.75), (1, -0.5)])
def test_resize_cubic(kiln, tmp_path, mode, exclude_outside, coeff):
    check(kiln, tmp_path, "Resize", {"x": rand(1, 2, 5, 6)},
          constants={"sizes": np.array([1, 2, 9, 4], np.int64)},
          input_names=["x", "", "", "sizes"],
          attrs={"mode": "cubic", "coordinate_transformation_mode": mode,
                 "cubic_coeff_a": coeff, "exclude_outside": exclude_outside})


@pytest.mark.parametrize("method", ["nearest", "linear", "cubic"])
@pytest.mark.parametrize("scales", [[1, 1, 2, 2], [1, 1, 1.7, 0.6], [1, 1, 0.5, 3.0]])
def test_resize_by_scales(kiln, tmp_path, method, scales):
    # Fractional scales: the coordinate mapping uses the scale itself, as ONNX says.
    check(kiln, tmp_path, "Resize", {"x": rand(1, 2, 5, 7)},
          constants={"scales": np.array(scales, np.float32)}, input_names=["x", "", "scales"],
          attrs={"mode": method})


def test_upsample_nearest(kiln, tmp_path):
    check(kiln, tmp_path, "Upsample", {"x": rand(1, 3, 4, 5)},
          constants={"scales": np.array([1, 1, 2, 3], np.float32)}, opset=9)


# ---------------------------------------------------------------------------------------------
# ConvTranspose
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("case", [
    dict(x=(1, 3, 5, 5), w=(3, 4, 3, 3), attrs={}),
    dict(x=(2, 4, 5, 6), w=(4, 3, 3, 3), attrs={"strides": [2, 2], "pads": [1, 1, 1, 1],
                                                "output_padding": [1, 1]}),
    dict(x=(1, 4, 4, 5), w=(4, 2, 3, 2), attrs={"strides": [3, 2], "pads": [1, 0, 2, 1],
                                                "dilations": [1, 2], "group": 2}),
    dict(x=(1, 6, 4, 4), w=(6, 1, 4, 4), attrs={"strides": [2, 2], "pads": [1, 1, 1, 1],
                                                "group": 6}),
    dict(x=(1, 2, 4, 4), w=(2, 3, 3, 3), attrs={"strides": [2, 2], "auto_pad": "SAME_UPPER"}),
    dict(x=(1, 3, 8), w=(3, 5, 3), attrs={"strides": [2]}),
])
def test_conv_transpose(kiln, tmp_path, case):
    check(kiln, tmp_path, "ConvTranspose", {"x": rand(*case["x"])},
          constants={"w": rand(*case["w"], seed=1), "b": rand(case["w"][1] * case["attrs"].get(
              "group", 1), seed=2)},
          attrs=case["attrs"])


# ---------------------------------------------------------------------------------------------
# LSTM / GRU
# ---------------------------------------------------------------------------------------------
def rnn_constants(gates, dirs, input_size, hidden, batch, with_c):
    constants = {
        "W": rand(dirs, gates * hidden, input_size, seed=1),
        "R": rand(dirs, gates * hidden, hidden, seed=2),
        "B": rand(dirs, 2 * gates * hidden, seed=3),
        "initial_h": rand(dirs, batch, hidden, seed=4),
    }
    if with_c:
        constants["initial_c"] = rand(dirs, batch, hidden, seed=5)
    return constants


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("clip", [0.0, 0.7])
def test_lstm(kiln, tmp_path, direction, clip):
    dirs = 2 if direction == "bidirectional" else 1
    constants = rnn_constants(4, dirs, 5, 6, 3, True)
    attrs = {"hidden_size": 6, "direction": direction}
    if clip:
        attrs["clip"] = clip
    check(kiln, tmp_path, "LSTM", {"X": rand(4, 3, 5)}, constants=constants, attrs=attrs,
          num_outputs=3, input_names=["X", "W", "R", "B", "", "initial_h", "initial_c"])


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("activation,clip", [("Tanh", 0.0), ("Relu", 0.0), ("Sigmoid", 0.5)])
def test_rnn(kiln, tmp_path, direction, activation, clip):
    dirs = 2 if direction == "bidirectional" else 1
    constants = rnn_constants(1, dirs, 5, 6, 3, False)
    attrs = {"hidden_size": 6, "direction": direction, "activations": [activation] * dirs}
    if clip:
        attrs["clip"] = clip
    check(kiln, tmp_path, "RNN", {"X": rand(4, 3, 5)}, constants=constants, attrs=attrs,
          num_outputs=2, input_names=["X", "W", "R", "B", "", "initial_h"])


def test_rnn_batch_first_without_bias(kiln, tmp_path):
    # onnxruntime refuses layout=1 for RNN (and onnx.reference mishandles it): the reference is
    # onnxruntime's layout-0 result on the transposed input, transposed back.
    w, r, x = rand(1, 6, 5, seed=1), rand(1, 6, 6, seed=2), rand(3, 7, 5)

    def model_file(layout, x_shape, name):
        node = helper.make_node("RNN", ["X", "W", "R"], ["y0", "y1"], hidden_size=6, layout=layout)
        graph = helper.make_graph(
            [node], "rnn", [helper.make_tensor_value_info("X", TensorProto.FLOAT, x_shape)],
            [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in ("y0", "y1")],
            initializer=[numpy_helper.from_array(w, "W"), numpy_helper.from_array(r, "R")])
        path = tmp_path / name
        path.write_bytes(helper.make_model(
            graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
        return str(path)

    y, y_h = ort_session(model_file(0, [7, 3, 5], "rnn0.onnx")).run(
        None, {"X": x.transpose(1, 0, 2).copy()})
    expected = [y.transpose(2, 0, 1, 3), y_h.transpose(1, 0, 2)]
    package = kiln.compile(kiln.load(model_file(1, list(x.shape), "rnn1.onnx")), target="llvm",
                           package_path=str(tmp_path / "m.tar"))
    result = kiln.run(package, inputs={"X": x})
    for i, want in enumerate(expected):
        got = result.outputs[f"output_{i}"]
        assert got.shape == want.shape
        np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-5)


def test_rnn_unsupported_activation_is_a_clear_error(kiln, tmp_path):
    node = helper.make_node("RNN", ["X", "W", "R"], ["y"], hidden_size=6, activations=["Elu"],
                            name="rnn")
    graph = helper.make_graph(
        [node], "rnn", [helper.make_tensor_value_info("X", TensorProto.FLOAT, [4, 3, 5])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(rand(1, 6, 5, seed=1), "W"),
                     numpy_helper.from_array(rand(1, 6, 6, seed=2), "R")])
    path = tmp_path / "rnn.onnx"
    path.write_bytes(helper.make_model(
        graph, opset_imports=[helper.make_opsetid("", 17)]).SerializeToString())
    with pytest.raises(kiln.Error, match=r"node 'rnn' \(RNN\).*'Elu' is not supported yet"):
        kiln.load(str(path))


def test_lstm_without_bias_or_states(kiln, tmp_path):
    # (onnxruntime does not run layout=1, the batch-first form.)
    constants = rnn_constants(4, 1, 5, 7, 2, False)
    del constants["B"], constants["initial_h"]
    check(kiln, tmp_path, "LSTM", {"X": rand(6, 2, 5)}, constants=constants,
          attrs={"hidden_size": 7}, num_outputs=3, input_names=["X", "W", "R"])


def test_lstm_input_forget(kiln, tmp_path):
    constants = rnn_constants(4, 1, 3, 4, 2, True)
    check(kiln, tmp_path, "LSTM", {"X": rand(3, 2, 3)}, constants=constants,
          attrs={"hidden_size": 4, "input_forget": 1}, num_outputs=3,
          input_names=["X", "W", "R", "B", "", "initial_h", "initial_c"])


@pytest.mark.parametrize("direction", ["forward", "reverse", "bidirectional"])
@pytest.mark.parametrize("linear_before_reset", [0, 1])
def test_gru(kiln, tmp_path, direction, linear_before_reset):
    dirs = 2 if direction == "bidirectional" else 1
    constants = rnn_constants(3, dirs, 5, 6, 3, False)
    check(kiln, tmp_path, "GRU", {"X": rand(4, 3, 5)}, constants=constants,
          attrs={"hidden_size": 6, "direction": direction,
                 "linear_before_reset": linear_before_reset},
          num_outputs=2, input_names=["X", "W", "R", "B", "", "initial_h"])


# ---------------------------------------------------------------------------------------------
# CumSum, TopK, Einsum
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("exclusive", [0, 1])
@pytest.mark.parametrize("reverse", [0, 1])
@pytest.mark.parametrize("axis", [0, -1])
def test_cumsum(kiln, tmp_path, exclusive, reverse, axis):
    check(kiln, tmp_path, "CumSum", {"x": rand(5, 17)},
          constants={"axis": np.array(axis, np.int64)},
          attrs={"exclusive": exclusive, "reverse": reverse})


def test_cumsum_int32(kiln, tmp_path):
    x = np.random.default_rng(0).integers(-50, 50, (3, 9)).astype(np.int32)
    check(kiln, tmp_path, "CumSum", {"x": x}, constants={"axis": np.array(1, np.int64)})


@pytest.mark.parametrize("largest", [1, 0])
@pytest.mark.parametrize("axis,k", [(-1, 5), (0, 2), (1, 17)])
def test_topk_with_ties(kiln, tmp_path, largest, axis, k):
    # Rounded values: many ties, which must keep the lower index first.
    x = np.round(rand(4, 17, low=0, high=4))
    check(kiln, tmp_path, "TopK", {"x": x}, constants={"k": np.array([k], np.int64)},
          attrs={"axis": axis, "largest": largest}, num_outputs=2,
          out_dtypes=[TensorProto.FLOAT, TensorProto.INT64])


@pytest.mark.parametrize("equation,shapes", [
    ("ij,jk->ik", [(5, 7), (7, 9)]),
    ("bij,bjk->bik", [(2, 5, 7), (2, 7, 3)]),
    ("bhqd,bhkd->bhqk", [(1, 2, 5, 8), (1, 2, 6, 8)]),
    ("ij->ji", [(4, 6)]),
    ("ij->j", [(4, 6)]),
    ("i,j->ij", [(4,), (6,)]),
    ("ii->i", [(5, 5)]),
    ("ii", [(5, 5)]),
    ("...ij,...jk->...ik", [(3, 4, 5), (3, 5, 2)]),
    ("...ij,...jk", [(3, 4, 5), (1, 5, 2)]),
    ("bid,bjd", [(2, 3, 4), (2, 5, 4)]),
])
def test_einsum(kiln, tmp_path, equation, shapes):
    feeds = {f"x{i}": rand(*shape, seed=i) for i, shape in enumerate(shapes)}
    check(kiln, tmp_path, "Einsum", feeds, attrs={"equation": equation})


# ---------------------------------------------------------------------------------------------
# GatherND, ScatterElements, bitwise
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("batch_dims,indices", [
    (0, np.array([[0, 1], [3, -2], [2, 0]], np.int64)),
    (0, np.array([[1], [-1]], np.int64)),
    (1, np.array([[[1], [0]], [[2], [2]], [[0], [1]], [[1], [1]]], np.int64)),
])
def test_gather_nd(kiln, tmp_path, batch_dims, indices):
    check(kiln, tmp_path, "GatherND", {"x": rand(4, 3, 5)}, constants={"i": indices},
          attrs={"batch_dims": batch_dims})


@pytest.mark.parametrize("reduction", ["none", "add", "mul", "max", "min"])
@pytest.mark.parametrize("axis", [0, 1])
def test_scatter_elements(kiln, tmp_path, reduction, axis):
    # Distinct targets for "none" (ONNX leaves duplicates undefined), duplicates otherwise.
    if reduction == "none":
        indices = np.array([[3, 0, 2], [1, 2, 0]], np.int64) if axis == 0 else \
            np.array([[4, 0, 2], [1, -1, 0]], np.int64)
    else:
        indices = np.array([[3, 0, 3], [3, 2, -1]], np.int64)
    check(kiln, tmp_path, "ScatterElements", {"x": rand(4, 5), "u": rand(2, 3, seed=3)},
          constants={"i": indices}, input_names=["x", "i", "u"],
          attrs={"axis": axis, "reduction": reduction}, opset=18)


@pytest.mark.parametrize("op", ["BitwiseAnd", "BitwiseOr", "BitwiseXor"])
@pytest.mark.parametrize("dtype", [np.int32, np.uint8, np.int64])
def test_bitwise(kiln, tmp_path, op, dtype):
    rng = np.random.default_rng(1)
    info = np.iinfo(dtype)
    a = rng.integers(info.min, info.max, (3, 17), dtype=dtype)
    b = rng.integers(info.min, info.max, (17,), dtype=dtype)
    check(kiln, tmp_path, op, {"a": a, "b": b}, opset=18)


def test_bitwise_not(kiln, tmp_path):
    a = np.random.default_rng(2).integers(-1000, 1000, (4, 9)).astype(np.int32)
    check(kiln, tmp_path, "BitwiseNot", {"a": a}, opset=18)


@pytest.mark.parametrize("direction", ["LEFT", "RIGHT"])
@pytest.mark.parametrize("dtype", [np.uint8, np.uint32, np.uint64])
def test_bit_shift(kiln, tmp_path, direction, dtype):
    bits = np.dtype(dtype).itemsize * 8
    rng = np.random.default_rng(3)
    a = rng.integers(0, 200, (2, 17)).astype(dtype)
    b = (np.arange(17) % bits).astype(dtype)  # amounts below the width: defined in onnxruntime
    check(kiln, tmp_path, "BitShift", {"a": a, "b": b}, attrs={"direction": direction})


# Trilu, RMSNormalization, EyeLike, CumProd, ScatterND

@pytest.mark.parametrize("upper", [0, 1])
@pytest.mark.parametrize("k", [None, -2, 0, 3, 100])
def test_trilu(kiln, tmp_path, upper, k):
    constants = {} if k is None else {"k": np.array(k, np.int64)}
    check(kiln, tmp_path, "Trilu", {"x": rand(2, 5, 7)}, constants=constants,
          attrs={"upper": upper}, opset=14)


@pytest.mark.parametrize("upper", [0, 1])
def test_trilu_k_input(kiln, tmp_path, upper):
    x = np.random.default_rng(4).integers(-9, 9, (6, 4)).astype(np.int32)
    check(kiln, tmp_path, "Trilu", {"x": x, "k": np.array(-1, np.int64)},
          attrs={"upper": upper}, opset=14)


@pytest.mark.parametrize("axis,scale_shape", [(-1, (8,)), (1, (5, 8)), (0, (1, 1, 8))])
def test_rms_normalization(kiln, tmp_path, axis, scale_shape):
    check(kiln, tmp_path, "RMSNormalization", {"x": rand(3, 5, 8)},
          constants={"scale": rand(*scale_shape, seed=5)},
          attrs={"axis": axis, "epsilon": 1e-3}, opset=23)


@pytest.mark.parametrize("k", [-2, 0, 1, 9])
@pytest.mark.parametrize("dtype", [None, TensorProto.INT32])
def test_eye_like(kiln, tmp_path, k, dtype):
    attrs = {"k": k} if dtype is None else {"k": k, "dtype": dtype}
    check(kiln, tmp_path, "EyeLike", {"x": rand(4, 6)}, attrs=attrs,
          out_dtypes=[dtype or TensorProto.FLOAT])


@pytest.mark.parametrize("exclusive", [0, 1])
@pytest.mark.parametrize("reverse", [0, 1])
@pytest.mark.parametrize("axis", [0, -1])
def test_cumprod(kiln, tmp_path, exclusive, reverse, axis):
    check(kiln, tmp_path, "CumProd", {"x": rand(5, 9, low=0.5, high=1.5)},
          constants={"axis": np.array(axis, np.int64)},
          attrs={"exclusive": exclusive, "reverse": reverse}, opset=26)


def test_cumprod_int32(kiln, tmp_path):
    x = np.random.default_rng(6).integers(-3, 4, (3, 7)).astype(np.int32)
    check(kiln, tmp_path, "CumProd", {"x": x}, constants={"axis": np.array(1, np.int64)},
          opset=26)


@pytest.mark.parametrize("reduction", ["none", "add", "mul", "max", "min"])
@pytest.mark.parametrize("case", ["slices", "elements"])
def test_scatter_nd(kiln, tmp_path, reduction, case):
    if case == "slices":  # tuples of length 1 pick rows of data; updates are whole rows
        indices = np.array([[2], [0]], np.int64) if reduction == "none" else \
            np.array([[2], [0], [-1], [2]], np.int64)
        updates = rand(len(indices), 3, 5, seed=7)
    else:  # full tuples address single elements, with a 2-D prefix
        indices = np.array([[[0, 1, 4], [3, 2, 0]], [[1, 0, 2], [0, 2, 3]]], np.int64)
        if reduction != "none":
            indices[1, 1] = indices[0, 0]
        updates = rand(2, 2, seed=7)
    check(kiln, tmp_path, "ScatterND", {"x": rand(4, 3, 5), "u": updates},
          constants={"i": indices}, input_names=["x", "i", "u"],
          attrs={"reduction": reduction}, opset=18)


def test_scatter_nd_int_indices_input(kiln, tmp_path):
    x = np.arange(24, dtype=np.int32).reshape(6, 4)
    check(kiln, tmp_path, "ScatterND",
          {"x": x, "i": np.array([[5, 1], [0, 3]], np.int64), "u": np.array([-1, -2], np.int32)},
          input_names=["x", "i", "u"], attrs={"reduction": "add"}, opset=18)


# ---------------------------------------------------------------------------------------------
# BitCast (opset 26): compared with numpy's view of the same bytes
# ---------------------------------------------------------------------------------------------
def bitcast_model(tmp_path, src, dst, shape):
    elem = {np.dtype(k): v for k, v in NP_TO_ONNX.items()}
    elem[np.dtype(np.float32)] = TensorProto.FLOAT
    elem[np.dtype(np.float64)] = TensorProto.DOUBLE
    elem[np.dtype(np.int16)] = TensorProto.INT16
    elem[np.dtype(np.bool_)] = TensorProto.BOOL
    node = helper.make_node("BitCast", ["x"], ["y"], to=elem[np.dtype(dst)], name="bc")
    graph = helper.make_graph([node], "bitcast",
                              [helper.make_tensor_value_info("x", elem[np.dtype(src)], shape)],
                              [helper.make_tensor_value_info("y", elem[np.dtype(dst)], shape)])
    path = tmp_path / "bitcast.onnx"
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 26)])
                     .SerializeToString())
    return str(path)


@pytest.mark.parametrize("src,dst", [(np.float32, np.int32), (np.int32, np.float32),
                                     (np.float64, np.int64), (np.uint16, np.int16),
                                     (np.int8, np.uint8), (np.bool_, np.uint8)])
@pytest.mark.parametrize("shape", [[7], [16, 3], [33]])
def test_bitcast_matches_numpy_view(kiln, tmp_path, src, dst, shape):
    rng = np.random.default_rng(shape[0])
    if np.dtype(src) == np.bool_:
        x = rng.integers(0, 2, shape).astype(np.bool_)
    elif np.issubdtype(src, np.floating):
        x = (rng.standard_normal(shape) * 1e3).astype(src)
        x.flat[0] = np.inf
    else:
        info = np.iinfo(src)
        x = rng.integers(info.min, info.max, shape, endpoint=True).astype(src)
    package = kiln.compile(kiln.load(bitcast_model(tmp_path, src, dst, shape)), target="llvm",
                           package_path=str(tmp_path / "m.tar"))
    got = kiln.run(package, inputs={"x": x}).outputs["output_0"]
    want = x.view(dst)
    assert got.dtype == want.dtype
    np.testing.assert_array_equal(got.view(np.uint8), want.view(np.uint8))


@pytest.mark.parametrize("src,dst,message", [
    (np.float32, np.int64, "different sizes"),
    (np.uint8, np.bool_, "not supported yet")])
def test_bitcast_errors_name_the_node(kiln, tmp_path, src, dst, message):
    with pytest.raises(kiln.Error, match=rf"node 'bc' \(BitCast\).*{message}"):
        kiln.load(bitcast_model(tmp_path, src, dst, [4]))
