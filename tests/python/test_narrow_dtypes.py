"""Narrow element types (bfloat16, float8*, float4e2m1, int4/uint4/int2/uint2): numpy I/O through
ml_dtypes, ONNX Cast in generated code and in constant folding, data movement, packed
initializers. References: ml_dtypes (astype, exact) and onnx.reference (saturating casts,
float8e8m0 rounding modes)."""

import os

import ml_dtypes
import numpy as np
import onnx
import pytest
from onnx import TensorProto as TP
from onnx import helper, numpy_helper
from onnx.reference import ReferenceEvaluator

import kiln

FLOAT8 = {
    TP.FLOAT8E4M3FN: ml_dtypes.float8_e4m3fn,
    TP.FLOAT8E4M3FNUZ: ml_dtypes.float8_e4m3fnuz,
    TP.FLOAT8E5M2: ml_dtypes.float8_e5m2,
    TP.FLOAT8E5M2FNUZ: ml_dtypes.float8_e5m2fnuz,
}
NARROW_FLOATS = {**FLOAT8, TP.FLOAT4E2M1: ml_dtypes.float4_e2m1fn,
                 TP.FLOAT8E8M0: ml_dtypes.float8_e8m0fnu}
SUBBYTE_INTS = {TP.INT4: ml_dtypes.int4, TP.UINT4: ml_dtypes.uint4, TP.INT2: ml_dtypes.int2,
                TP.UINT2: ml_dtypes.uint2}


def _model(nodes, inputs, outputs, initializers=()):
    graph = helper.make_graph(nodes, "g", inputs, outputs, list(initializers))
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 25)])


def _cast_model(src, dst, shape, **attrs):
    return _model([helper.make_node("Cast", ["x"], ["y"], to=dst, **attrs)],
                  [helper.make_tensor_value_info("x", src, shape)],
                  [helper.make_tensor_value_info("y", dst, shape)])


def _run(model, tmp_path, feeds):
    path = os.path.join(tmp_path, "m.onnx")
    onnx.save(model, path)
    package = kiln.compile(kiln.load(path), target="llvm",
                           package_path=os.path.join(tmp_path, "m.tar"))
    return kiln.run(package, inputs=feeds).outputs["output_0"]


def _bits(array):
    return np.asarray(array).view(np.uint8)


def _floats(count=1500, scale=300.0):
    """Random values over the float8 range plus the special ones and values near type limits."""
    rng = np.random.default_rng(0)
    values = np.concatenate([
        rng.standard_normal(count).astype(np.float32) * scale,
        rng.standard_normal(count).astype(np.float32) * 1e-3,
        np.array([0.0, -0.0, np.inf, -np.inf, np.nan, -np.nan, 448, 464, 465, 480, 240, 248,
                  57344, 61440, 61441, 1e6, -1e6, 6.0, 7.0, 2**-10, 2**-17, 1.5, 2.5, 0.25,
                  0.75, 3.0, 5.0], dtype=np.float32)])
    return values.astype(np.float32)


@pytest.mark.parametrize("onnx_type", sorted(NARROW_FLOATS))
def test_every_bit_pattern_decodes_like_ml_dtypes(onnx_type, tmp_path):
    dtype = NARROW_FLOATS[onnx_type]
    x = np.arange(256, dtype=np.uint8)
    if onnx_type == TP.FLOAT4E2M1:
        x = x & 0x0F  # ml_dtypes keeps float4 in the low nibble
    x = x.view(dtype)
    y = _run(_cast_model(onnx_type, TP.FLOAT, [256]), tmp_path, {"x": x})
    np.testing.assert_array_equal(y, x.astype(np.float32))


@pytest.mark.parametrize("onnx_type", sorted(set(NARROW_FLOATS) - {TP.FLOAT8E8M0}))
def test_non_saturating_cast_matches_ml_dtypes(onnx_type, tmp_path):
    """saturate=0 is ml_dtypes' astype: round to nearest even, overflow to inf/NaN per type."""
    x = _floats()
    extra = {"saturate": 0} if onnx_type in FLOAT8 else {}
    y = _run(_cast_model(TP.FLOAT, onnx_type, list(x.shape), **extra), tmp_path, {"x": x})
    assert y.dtype == NARROW_FLOATS[onnx_type]
    np.testing.assert_array_equal(_bits(y), _bits(x.astype(NARROW_FLOATS[onnx_type])))


@pytest.mark.parametrize("onnx_type", sorted(FLOAT8))
@pytest.mark.parametrize("src", [TP.FLOAT, TP.FLOAT16])
def test_saturating_cast_matches_onnx_reference(onnx_type, src, tmp_path):
    with np.errstate(over="ignore"):  # float16 inputs: large values become inf, on purpose
        x = _floats().astype(helper.tensor_dtype_to_np_dtype(src))
    model = _cast_model(src, onnx_type, list(x.shape))  # saturate defaults to 1
    expected = ReferenceEvaluator(model).run(None, {"x": x})[0]
    y = _run(model, tmp_path, {"x": x})
    np.testing.assert_array_equal(_bits(y), _bits(expected))


@pytest.mark.parametrize("round_mode", ["up", "down", "nearest"])
@pytest.mark.parametrize("saturate", [0, 1])
def test_e8m0_rounding_modes_match_onnx_reference(round_mode, saturate, tmp_path):
    x = np.abs(_floats())
    x = np.concatenate([x, np.float32([2.0**127 * 1.5, 2.0**127, 2.0**-127, 2.0**-140, 3.0e38])])
    model = _cast_model(TP.FLOAT, TP.FLOAT8E8M0, list(x.shape), saturate=saturate,
                        round_mode=round_mode)
    expected = ReferenceEvaluator(model).run(None, {"x": x})[0]
    y = _run(model, tmp_path, {"x": x})
    np.testing.assert_array_equal(_bits(y), _bits(expected))


@pytest.mark.parametrize("onnx_type", sorted(SUBBYTE_INTS))
@pytest.mark.parametrize("src", [TP.FLOAT, TP.INT32])
def test_subbyte_integer_casts_wrap_like_ml_dtypes(onnx_type, src, tmp_path):
    dtype = SUBBYTE_INTS[onnx_type]
    x = np.arange(-40, 41).astype(helper.tensor_dtype_to_np_dtype(src))
    y = _run(_cast_model(src, onnx_type, [x.size]), tmp_path, {"x": x})
    assert y.dtype == dtype
    np.testing.assert_array_equal(_bits(y), _bits(x.astype(dtype)))
    # and back: every stored value reads as the number it stands for
    back = _run(_cast_model(onnx_type, TP.INT8, [x.size]), tmp_path, {"x": y})
    np.testing.assert_array_equal(back, x.astype(dtype).astype(np.int8))


def test_float8_to_float8_and_bfloat16_io(tmp_path):
    x = np.arange(256, dtype=np.uint8).view(ml_dtypes.float8_e5m2)
    y = _run(_cast_model(TP.FLOAT8E5M2, TP.FLOAT8E4M3FN, [256], saturate=0), tmp_path, {"x": x})
    np.testing.assert_array_equal(_bits(y), _bits(x.astype(ml_dtypes.float8_e4m3fn)))
    b = _floats().astype(ml_dtypes.bfloat16)
    y = _run(_cast_model(TP.BFLOAT16, TP.FLOAT, list(b.shape)), tmp_path, {"x": b})
    np.testing.assert_array_equal(y, b.astype(np.float32))


@pytest.mark.parametrize("onnx_type", [TP.FLOAT8E4M3FN, TP.INT4, TP.UINT2, TP.FLOAT4E2M1])
@pytest.mark.parametrize("cols", [7, 16, 33])  # around the vector width of 1-byte lanes
def test_data_movement_keeps_narrow_values(onnx_type, cols, tmp_path):
    dtype = NARROW_FLOATS.get(onnx_type) or SUBBYTE_INTS[onnx_type]
    rng = np.random.default_rng(cols)
    x = rng.integers(-8, 8, size=(5, cols)).astype(np.float32).astype(dtype)
    nodes = [helper.make_node("Transpose", ["x"], ["t"], perm=[1, 0]),
             helper.make_node("Concat", ["t", "t"], ["c"], axis=1),
             helper.make_node("Identity", ["c"], ["y"])]
    model = _model(nodes, [helper.make_tensor_value_info("x", onnx_type, [5, cols])],
                   [helper.make_tensor_value_info("y", onnx_type, [cols, 10])])
    y = _run(model, tmp_path, {"x": x})
    expected = np.concatenate([x.T, x.T], axis=1)
    np.testing.assert_array_equal(_bits(y), _bits(expected))


@pytest.mark.parametrize("onnx_type", sorted(SUBBYTE_INTS) + [TP.FLOAT4E2M1, TP.FLOAT8E4M3FN])
@pytest.mark.parametrize("count", [1, 5, 8])  # odd counts leave a half-filled packed byte
def test_packed_initializers_are_unpacked(onnx_type, count, tmp_path):
    dtype = NARROW_FLOATS.get(onnx_type) or SUBBYTE_INTS[onnx_type]
    values = (np.arange(count) % 4 - 1).astype(np.float32).astype(dtype)
    weight = numpy_helper.from_array(values, "w")  # raw_data, packed by onnx
    nodes = [helper.make_node("Cast", ["w"], ["wf"], to=TP.FLOAT),
             helper.make_node("Add", ["x", "wf"], ["y"])]
    model = _model(nodes, [helper.make_tensor_value_info("x", TP.FLOAT, [count])],
                   [helper.make_tensor_value_info("y", TP.FLOAT, [count])], [weight])
    x = np.zeros(count, np.float32)
    y = _run(model, tmp_path, {"x": x})
    np.testing.assert_array_equal(y, values.astype(np.float32))


def test_model_params_carry_ml_dtypes(tmp_path):
    values = np.array([1, -2, 3], dtype=ml_dtypes.int4)
    model = _model([helper.make_node("Identity", ["w"], ["y"])], [],
                   [helper.make_tensor_value_info("y", TP.INT4, [3])],
                   [numpy_helper.from_array(values, "w")])
    path = os.path.join(tmp_path, "m.onnx")
    onnx.save(model, path)
    params = kiln.load(path).params
    (array,) = params.values()
    assert array.dtype == ml_dtypes.int4
    np.testing.assert_array_equal(array.astype(np.int8), [1, -2, 3])


def test_arithmetic_on_narrow_types_is_a_clear_error(tmp_path):
    model = _model([helper.make_node("Add", ["x", "x"], ["y"])],
                   [helper.make_tensor_value_info("x", TP.FLOAT8E4M3FN, [4])],
                   [helper.make_tensor_value_info("y", TP.FLOAT8E4M3FN, [4])])
    path = os.path.join(tmp_path, "m.onnx")
    onnx.save(model, path)
    with pytest.raises(kiln.Error, match="Add.*float8e4m3fn is not supported yet; cast to float32"):
        kiln.load(path)


def test_bfloat16_constant_inputs(kiln, tmp_path):
    """constant_inputs carry ml_dtypes arrays too: a bfloat16 Range with its bounds fixed at load."""
    import ml_dtypes
    from onnx import TensorProto, helper

    names = ["start", "limit", "delta"]
    graph = helper.make_graph(
        [helper.make_node("Range", names, ["y"])], "range",
        [helper.make_tensor_value_info(n, TensorProto.BFLOAT16, []) for n in names],
        [helper.make_tensor_value_info("y", TensorProto.BFLOAT16, None)])
    path = tmp_path / "range.onnx"
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
                     .SerializeToString())
    values = {n: np.array(v, dtype=ml_dtypes.bfloat16) for n, v in zip(names, [1.0, 5.0, 0.5])}
    model = kiln.load(str(path), constant_inputs=values)
    package = kiln.compile(model, target="llvm", package_path=str(tmp_path / "m.tar"))
    got = kiln.run(package).outputs["output_0"]
    assert got.dtype == ml_dtypes.bfloat16
    np.testing.assert_array_equal(got.astype(np.float32), np.arange(1.0, 5.0, 0.5, dtype=np.float32))
