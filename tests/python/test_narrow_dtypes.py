"""Narrow element types (bfloat16, float8*, float4e2m1, int4/uint4/int2/uint2): numpy I/O through
ml_dtypes, ONNX Cast in generated code and in constant folding, data movement, packed
initializers. Expected values come from the ONNX specification and its reference implementation
(onnx.reference, the backend test data shipped with onnx), never from the installed ml_dtypes'
own casts: ml_dtypes only carries the arrays (its version is pinned, see
requirements/constraints.txt)."""

import os

import ml_dtypes
import numpy as np
import onnx
import onnxruntime
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
def test_every_bit_pattern_decodes_like_onnx_reference(onnx_type, tmp_path):
    dtype = NARROW_FLOATS[onnx_type]
    x = np.arange(256, dtype=np.uint8)
    if onnx_type == TP.FLOAT4E2M1:
        x = x & 0x0F  # ml_dtypes keeps float4 in the low nibble
    x = x.view(dtype)
    model = _cast_model(onnx_type, TP.FLOAT, [256])
    expected = ReferenceEvaluator(model).run(None, {"x": x})[0]
    y = _run(model, tmp_path, {"x": x})
    np.testing.assert_array_equal(y, expected)


@pytest.mark.parametrize("onnx_type", sorted(set(NARROW_FLOATS) - {TP.FLOAT8E8M0}))
def test_non_saturating_cast_matches_onnx_reference(onnx_type, tmp_path):
    """saturate=0: round to nearest even, overflow to inf/NaN per type (the Cast tables)."""
    x = _floats()
    extra = {"saturate": 0} if onnx_type in FLOAT8 else {}
    model = _cast_model(TP.FLOAT, onnx_type, list(x.shape), **extra)
    expected = ReferenceEvaluator(model).run(None, {"x": x})[0]
    y = _run(model, tmp_path, {"x": x})
    assert y.dtype == NARROW_FLOATS[onnx_type]
    np.testing.assert_array_equal(_bits(y), _bits(expected))


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


def _onnx_subbyte_cast(values, onnx_type):
    """The ONNX rule for Cast to a 4-/2-bit integer (onnx docs/technical/int4.md, int2.md): round to
    the nearest integer, ties to even, then truncate to the type's low bits (two's complement for
    the signed types); integer sources keep their low bits (the Cast operator's fixed-point rule).
    NaN and infinities are left undefined by ONNX; Kiln gives 0 (so does onnxruntime)."""
    bits = 4 if onnx_type in (TP.INT4, TP.UINT4) else 2
    signed = onnx_type in (TP.INT4, TP.INT2)
    values = np.asarray(values)
    if values.dtype.kind == "f":
        rounded = np.rint(values.astype(np.float64))  # half to even
        # Beyond int64 every float is a multiple of 2^11: its low bits are 0.
        in_range = np.isfinite(rounded) & (np.abs(rounded) < 2.0**63)
        whole = np.where(in_range, rounded, 0).astype(np.int64)
    else:
        whole = values.astype(np.int64)
    low = whole & ((1 << bits) - 1)
    if signed:
        low = np.where(low >= 1 << (bits - 1), low - (1 << bits), low)
    return low.astype(np.int8)


def _onnx_backend_case(name):
    """Input and expected output of one of the ONNX backend test cases shipped in the onnx package
    (data written by the ONNX reference implementation when that onnx release was made)."""
    folder = os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "node", name,
                          "test_data_set_0")
    read = lambda f: numpy_helper.to_array(onnx.load_tensor(os.path.join(folder, f)))  # noqa: E731
    return read("input_0.pb"), read("output_0.pb")


@pytest.mark.parametrize("onnx_type", sorted(SUBBYTE_INTS))
def test_subbyte_spec_rule_agrees_with_onnx_backend_data(onnx_type):
    """The rule above reproduces the ONNX backend test data for float -> int4/uint4/int2/uint2,
    which wrap out-of-range values (whatever ml_dtypes version is installed today)."""
    name = "test_cast_FLOAT_to_" + TP.DataType.Name(onnx_type)
    x, expected = _onnx_backend_case(name)
    np.testing.assert_array_equal(_onnx_subbyte_cast(x, onnx_type), expected.astype(np.int8))


def _subbyte_probe_values(src):
    whole = np.arange(-40, 41)
    if src == TP.INT32:
        return np.concatenate([whole, [2**31 - 1, -2**31, 1000003]]).astype(np.int32)
    halves = np.arange(-20, 20) + 0.5  # ties: to even
    others = [0.3, -0.3, 2.7, -2.7, 1e10, -1e10, 3e38, -3e38, 2.0**63, np.nan, np.inf, -np.inf]
    return np.concatenate([whole, halves, others]).astype(np.float32)


@pytest.mark.parametrize("onnx_type", sorted(SUBBYTE_INTS))
@pytest.mark.parametrize("src", [TP.FLOAT, TP.INT32])
def test_subbyte_integer_casts_follow_the_onnx_spec(onnx_type, src, tmp_path):
    """Generated code and constant folding both follow the ONNX rule, as onnxruntime does;
    onnx.reference agrees on the values where it does not depend on the installed ml_dtypes (in
    range, integral: ml_dtypes 0.7 truncates fractions and turns out-of-range floats into 0)."""
    dtype = SUBBYTE_INTS[onnx_type]
    x = _subbyte_probe_values(src)
    expected = _onnx_subbyte_cast(x, onnx_type)
    model = _cast_model(src, onnx_type, [x.size])
    info = ml_dtypes.iinfo(dtype)
    exact = (x >= info.min) & (x <= info.max) & (np.asarray(x) == np.trunc(x))
    reference = ReferenceEvaluator(model).run(None, {"x": x[exact]})[0]
    np.testing.assert_array_equal(reference.astype(np.int8), expected[exact])
    # onnxruntime agrees except on ties: it rounds them away from zero (1.32: 2.5 -> 3), where the
    # specification says to even. It returns 4-/2-bit tensors to numpy only through a cast to
    # int8 (exact, by the spec).
    with np.errstate(invalid="ignore"):  # inf - inf: NaN, not a tie
        no_tie = np.abs(x - np.trunc(x)) != 0.5
    widened = _model([helper.make_node("Cast", ["x"], ["t"], to=onnx_type),
                      helper.make_node("Cast", ["t"], ["y"], to=TP.INT8)],
                     [helper.make_tensor_value_info("x", src, [x.size])],
                     [helper.make_tensor_value_info("y", TP.INT8, [x.size])])
    session = onnxruntime.InferenceSession(widened.SerializeToString(),
                                           providers=["CPUExecutionProvider"])
    np.testing.assert_array_equal(session.run(None, {"x": x})[0][no_tie], expected[no_tie])

    y = _run(model, tmp_path, {"x": x})
    assert y.dtype == dtype
    np.testing.assert_array_equal(y.astype(np.int8), expected)
    np.testing.assert_array_equal(_bits(y), expected.astype(np.uint8) & ((1 << info.bits) - 1))
    # constant folding (the input fixed at load) gives the same values
    path = os.path.join(tmp_path, "c.onnx")
    onnx.save(model, path)
    folded = kiln.compile(kiln.load(path, constant_inputs={"x": x}), target="llvm",
                          package_path=os.path.join(tmp_path, "c.tar"))
    np.testing.assert_array_equal(kiln.run(folded).outputs["output_0"].astype(np.int8), expected)
    # and back: every stored value reads as the number it stands for (exact, by the spec)
    back = _run(_cast_model(onnx_type, TP.INT8, [x.size]), tmp_path, {"x": y})
    np.testing.assert_array_equal(back, expected)


def test_float8_to_float8_and_bfloat16_io(tmp_path):
    x = np.arange(256, dtype=np.uint8).view(ml_dtypes.float8_e5m2)
    model = _cast_model(TP.FLOAT8E5M2, TP.FLOAT8E4M3FN, [256], saturate=0)
    y = _run(model, tmp_path, {"x": x})
    np.testing.assert_array_equal(_bits(y), _bits(ReferenceEvaluator(model).run(None, {"x": x})[0]))
    b = _floats().astype(ml_dtypes.bfloat16)
    model = _cast_model(TP.BFLOAT16, TP.FLOAT, list(b.shape))
    y = _run(model, tmp_path, {"x": b})
    np.testing.assert_array_equal(y, ReferenceEvaluator(model).run(None, {"x": b})[0])


@pytest.mark.parametrize("onnx_type", [TP.FLOAT8E4M3FN, TP.INT4, TP.UINT2, TP.FLOAT4E2M1])
@pytest.mark.parametrize("cols", [7, 16, 33])  # around the vector width of 1-byte lanes
def test_data_movement_keeps_narrow_values(onnx_type, cols, tmp_path):
    dtype = NARROW_FLOATS.get(onnx_type) or SUBBYTE_INTS[onnx_type]
    rng = np.random.default_rng(cols)
    low, high = (-2, 1) if onnx_type == TP.FLOAT4E2M1 else (-8, 7)  # values every type holds
    if onnx_type in SUBBYTE_INTS:
        low, high = int(ml_dtypes.iinfo(dtype).min), int(ml_dtypes.iinfo(dtype).max)
    x = rng.integers(low, high + 1, size=(5, cols)).astype(np.float32).astype(dtype)
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
    signed = onnx_type not in (TP.UINT4, TP.UINT2)
    values = (np.arange(count) % 4 - (2 if signed else 0)).astype(np.float32).astype(dtype)
    weight = numpy_helper.from_array(values, "w")  # raw_data, packed by onnx
    nodes = [helper.make_node("Cast", ["w"], ["wf"], to=TP.FLOAT),
             helper.make_node("Add", ["x", "wf"], ["y"])]
    model = _model(nodes, [helper.make_tensor_value_info("x", TP.FLOAT, [count])],
                   [helper.make_tensor_value_info("y", TP.FLOAT, [count])], [weight])
    x = np.zeros(count, np.float32)
    y = _run(model, tmp_path, {"x": x})
    np.testing.assert_array_equal(y, ReferenceEvaluator(model).run(None, {"x": x})[0])


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
