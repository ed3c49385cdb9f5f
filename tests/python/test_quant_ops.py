"""Quantization operators (src/frontend/onnx/convert_quant.cc) against onnx.reference: exact
equality of the quantized integers / float8 bytes, float outputs within 1e-6 relative. Sizes
straddle the vector widths of the kernels (7, 16, 33 columns)."""

import os

import ml_dtypes
import numpy as np
import onnx
import pytest
from onnx import TensorProto as TP
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator

import kiln


def _check(model, feeds, tmp_path, exact=True):
    path = os.path.join(tmp_path, "m.onnx")
    onnx.save(model, path)
    package = kiln.compile(kiln.load(path), target="llvm",
                           package_path=os.path.join(tmp_path, "m.tar"))
    outputs = kiln.run(package, inputs=feeds).outputs
    expected = ReferenceEvaluator(model).run(None, feeds)
    for i, want in enumerate(expected):
        got = outputs[f"output_{i}"]
        assert got.dtype == want.dtype and got.shape == want.shape
        if exact:  # one-byte types (int4, float8, ...) compare as their bytes
            as_bytes = lambda a: a.view(np.uint8) if a.itemsize == 1 else a  # noqa: E731
            np.testing.assert_array_equal(as_bytes(got), as_bytes(want))
        else:
            np.testing.assert_allclose(got.astype(np.float64), want.astype(np.float64), rtol=1e-6,
                                       atol=1e-6)


def _model(node, inputs, outputs, inits=()):
    graph = helper.make_graph([node], "g", inputs, outputs, list(inits))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 25)])


def _vi(name, elem, shape):
    return helper.make_tensor_value_info(name, elem, shape)


QUANT_TYPES = {TP.UINT8: np.uint8, TP.INT8: np.int8, TP.INT16: np.int16, TP.UINT16: np.uint16,
               TP.INT4: ml_dtypes.int4, TP.UINT4: ml_dtypes.uint4, TP.INT2: ml_dtypes.int2,
               TP.UINT2: ml_dtypes.uint2}


@pytest.mark.parametrize("qtype", sorted(QUANT_TYPES))
@pytest.mark.parametrize("cols", [7, 16, 33])
@pytest.mark.parametrize("mode", ["tensor", "axis", "blocked"])
def test_quantize_dequantize_integer_types(qtype, cols, mode, tmp_path):
    rng = np.random.default_rng(cols)
    x = (rng.standard_normal((3, cols)) * 40).astype(np.float32)
    x[0, :3] = [0.5, 1.5, -2.5]  # ties round to even
    np_type = QUANT_TYPES[qtype]
    attrs = {"axis": 1}
    if mode == "tensor":
        scale = np.float32(0.7)
        zp = np.array(1, dtype=np_type)
    elif mode == "axis":
        scale = (rng.random(cols) + 0.2).astype(np.float32)
        zp = (np.arange(cols) % 2).astype(np.float32).astype(np_type)
    else:
        attrs["block_size"] = 4
        blocks = (cols + 3) // 4
        scale = (rng.random((3, blocks)) + 0.2).astype(np.float32)
        zp = np.ones((3, blocks), np.float32).astype(np_type)
    inits = [numpy_helper.from_array(np.asarray(scale), "s"),
             numpy_helper.from_array(np.asarray(zp), "z")]
    q = _model(helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"], **attrs),
               [_vi("x", TP.FLOAT, [3, cols])], [_vi("y", qtype, [3, cols])], inits)
    _check(q, {"x": x}, tmp_path)
    xq = ReferenceEvaluator(q).run(None, {"x": x})[0]
    d = _model(helper.make_node("DequantizeLinear", ["x", "s", "z"], ["y"], **attrs),
               [_vi("x", qtype, [3, cols])], [_vi("y", TP.FLOAT, [3, cols])], inits)
    _check(d, {"x": xq}, tmp_path, exact=False)


@pytest.mark.parametrize("qtype", [TP.FLOAT8E4M3FN, TP.FLOAT8E5M2, TP.FLOAT8E4M3FNUZ,
                                   TP.FLOAT4E2M1])
@pytest.mark.parametrize("saturate", [0, 1])
def test_quantize_float8(qtype, saturate, tmp_path):
    x = np.float32([0, 1, -3.3, 500, -1e5, 1e9, np.inf, np.nan, 2.1, 0.001])
    attrs = {"saturate": saturate} if qtype != TP.FLOAT4E2M1 else {}
    zp = numpy_helper.from_array(np.zeros((), helper.tensor_dtype_to_np_dtype(qtype)), "z")
    model = _model(helper.make_node("QuantizeLinear", ["x", "s", "z"], ["y"], **attrs),
                   [_vi("x", TP.FLOAT, [10])], [_vi("y", qtype, [10])],
                   [numpy_helper.from_array(np.float32(0.5), "s"), zp])
    _check(model, {"x": x}, tmp_path)


@pytest.mark.parametrize("dtype", [np.uint8, np.int8])
@pytest.mark.parametrize("k", [5, 16, 33])
def test_matmul_integer_and_qlinear_matmul(dtype, k, tmp_path):
    rng = np.random.default_rng(k)
    info = np.iinfo(dtype)
    a = rng.integers(info.min, info.max, size=(4, k)).astype(dtype)
    b = rng.integers(info.min, info.max, size=(k, 9)).astype(dtype)
    elem = helper.np_dtype_to_tensor_dtype(np.dtype(dtype))
    azp = numpy_helper.from_array(np.array(3, dtype), "azp")
    bzp = numpy_helper.from_array(np.array(-1 if dtype == np.int8 else 7, dtype), "bzp")
    model = _model(helper.make_node("MatMulInteger", ["a", "b", "azp", "bzp"], ["y"]),
                   [_vi("a", elem, [4, k]), _vi("b", elem, [k, 9])], [_vi("y", TP.INT32, [4, 9])],
                   [azp, bzp])
    _check(model, {"a": a, "b": b}, tmp_path)
    inits = [numpy_helper.from_array(np.float32(v), n)
             for n, v in [("as", 0.02), ("bs", 0.03), ("ys", 0.9)]]
    inits += [azp, bzp, numpy_helper.from_array(np.array(5, dtype), "yzp")]
    model = _model(helper.make_node("QLinearMatMul",
                                    ["a", "as", "azp", "b", "bs", "bzp", "ys", "yzp"], ["y"]),
                   [_vi("a", elem, [4, k]), _vi("b", elem, [k, 9])], [_vi("y", elem, [4, 9])],
                   inits)
    _check(model, {"a": a, "b": b}, tmp_path)


def test_qlinear_conv_per_channel_and_conv_integer(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 255, size=(1, 3, 9, 9)).astype(np.uint8)
    w = rng.integers(0, 255, size=(4, 3, 3, 3)).astype(np.uint8)
    inits = [numpy_helper.from_array(np.float32(0.01), "xs"),
             numpy_helper.from_array(np.array(128, np.uint8), "xzp"),
             numpy_helper.from_array(np.float32([0.01, 0.02, 0.005, 0.03]), "ws"),
             numpy_helper.from_array(np.array(120, np.uint8), "wzp"),
             numpy_helper.from_array(np.float32(0.5), "ys"),
             numpy_helper.from_array(np.array(10, np.uint8), "yzp"),
             numpy_helper.from_array(np.int32([5, -300, 0, 1000]), "bias")]
    node = helper.make_node("QLinearConv", ["x", "xs", "xzp", "w", "ws", "wzp", "ys", "yzp",
                                            "bias"], ["y"], pads=[1, 1, 1, 1], strides=[2, 2])
    model = _model(node, [_vi("x", TP.UINT8, [1, 3, 9, 9]), _vi("w", TP.UINT8, [4, 3, 3, 3])],
                   [_vi("y", TP.UINT8, [1, 4, 5, 5])], inits)
    _check(model, {"x": x, "w": w}, tmp_path)
    node = helper.make_node("ConvInteger", ["x", "w", "xzp", "wzp"], ["y"], pads=[1, 1, 1, 1])
    model = _model(node, [_vi("x", TP.UINT8, [1, 3, 9, 9]), _vi("w", TP.UINT8, [4, 3, 3, 3])],
                   [_vi("y", TP.INT32, [1, 4, 9, 9])], inits[1:2] + inits[3:4])
    _check(model, {"x": x, "w": w}, tmp_path)


def test_dynamic_quantize_linear(tmp_path):
    x = np.random.default_rng(1).standard_normal((5, 17)).astype(np.float32) * 3
    model = _model(helper.make_node("DynamicQuantizeLinear", ["x"], ["y", "s", "z"]),
                   [_vi("x", TP.FLOAT, [5, 17])],
                   [_vi("y", TP.UINT8, [5, 17]), _vi("s", TP.FLOAT, []), _vi("z", TP.UINT8, [])])
    _check(model, {"x": x}, tmp_path)


def test_bad_quantize_input_is_a_clear_error(tmp_path):
    model = _model(helper.make_node("QuantizeLinear", ["x", "s"], ["y"]),
                   [_vi("x", TP.INT32, [4])], [_vi("y", TP.UINT8, [4])],
                   [numpy_helper.from_array(np.float32(1.0), "s")])
    path = os.path.join(tmp_path, "m.onnx")
    onnx.save(model, path)
    with pytest.raises(kiln.Error, match="QuantizeLinear.*input 0 must be float32"):
        kiln.load(path)
