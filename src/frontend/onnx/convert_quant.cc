// Quantization operators as decompositions onto existing IR ops (divide, round, clip, cast,
// gather for blocked scales): QuantizeLinear, DequantizeLinear, DynamicQuantizeLinear,
// MatMulInteger, QLinearMatMul, ConvInteger, QLinearConv. The arithmetic follows onnx.reference:
// integer targets round half to even in the input's float type, add the zero point and clamp in
// float64 (exact for int32); float8 targets divide and cast with `saturate`; dequantization
// subtracts in float32 and multiplies by the scale in float32.
#include <cmath>
#include <limits>
#include <string>

#include "frontend/onnx/converter.h"

namespace kiln::frontend::onnx_import {

namespace {

using Outputs = std::vector<ir::Expr>;

ir::Expr cast(const NodeContext& ctx, const ir::Expr& value, DType dtype) {
  if (value->type().as_tensor().dtype == dtype) return value;
  return ctx.call("cast", {value}, {{"dtype", std::string(dtype_name(dtype))}});
}

// The representable range of an integer quantized type, or nullopt for the float ones.
std::optional<std::pair<double, double>> integer_range(DType dtype) {
  switch (dtype) {
    case DType::kInt8:
      return std::pair{-128.0, 127.0};
    case DType::kUInt8:
      return std::pair{0.0, 255.0};
    case DType::kInt16:
      return std::pair{-32768.0, 32767.0};
    case DType::kUInt16:
      return std::pair{0.0, 65535.0};
    case DType::kInt32:
      return std::pair{-2147483648.0, 2147483647.0};
    case DType::kInt4:
      return std::pair{-8.0, 7.0};
    case DType::kUInt4:
      return std::pair{0.0, 15.0};
    case DType::kInt2:
      return std::pair{-2.0, 1.0};
    case DType::kUInt2:
      return std::pair{0.0, 3.0};
    default:
      return std::nullopt;
  }
}

bool is_quant_float(DType dtype) {
  return dtype == DType::kFloat8E4M3FN || dtype == DType::kFloat8E4M3FNUZ ||
         dtype == DType::kFloat8E5M2 || dtype == DType::kFloat8E5M2FNUZ ||
         dtype == DType::kFloat4E2M1;
}

// A scale or zero point (input `index`) made broadcastable against x: a scalar stays, a 1-D
// per-axis vector becomes [1.., S, ..1], a blocked one (block_size > 0, same rank as x) is
// repeated block_size times along the axis by a gather.
ir::Expr broadcast_param(const NodeContext& ctx, size_t index, int64_t axis, int64_t block_size) {
  const ir::Expr& param = ctx.input(index);
  const ir::TensorType& x_type = ctx.input_type(0);
  const ir::TensorType& type = ctx.input_type(index);
  int64_t rank = x_type.rank();
  if (type.rank() == 0 || (type.rank() == 1 && block_size == 0 && type.numel() == 1)) {
    return param;
  }
  if (axis < -rank || axis >= rank) {
    ctx.fail("axis " + std::to_string(axis) + " is out of range for rank " + std::to_string(rank));
  }
  if (axis < 0) axis += rank;
  const ir::Dim& axis_dim = x_type.shape[static_cast<size_t>(axis)];
  if (!axis_dim.is_static()) {
    ctx.fail("dimension " + std::to_string(axis) + " of input 0 must be static for a per-axis " +
             "scale; " + ctx.shape_dict_hint());
  }
  int64_t size = axis_dim.value();
  if (block_size == 0) {
    if (type.rank() != 1 || type.numel() != size) {
      ctx.fail("input " + std::to_string(index) + " must be a scalar or a 1-D tensor of " +
               std::to_string(size) + " values (dimension " + std::to_string(axis) +
               " of input 0), got shape " + ir::shape_to_string(type.shape));
    }
    std::vector<int64_t> shape(static_cast<size_t>(rank), 1);
    shape[static_cast<size_t>(axis)] = size;
    return ctx.call("reshape", {param}, {{"newshape", shape}});
  }
  if (block_size < 0) ctx.fail("block_size must not be negative");
  if (type.rank() != rank) {
    ctx.fail("a blocked input " + std::to_string(index) + " must have the rank of input 0 (" +
             std::to_string(rank) + "), got shape " + ir::shape_to_string(type.shape));
  }
  int64_t blocks = (size + block_size - 1) / block_size;
  const ir::Dim& param_dim = type.shape[static_cast<size_t>(axis)];
  if (!param_dim.is_static() || param_dim.value() != blocks) {
    ctx.fail("input " + std::to_string(index) + " needs " + std::to_string(blocks) +
             " blocks along axis " + std::to_string(axis) + " (block_size " +
             std::to_string(block_size) + "), got shape " + ir::shape_to_string(type.shape));
  }
  std::vector<int64_t> indices(static_cast<size_t>(size));
  for (int64_t i = 0; i < size; ++i) indices[static_cast<size_t>(i)] = i / block_size;
  return ctx.call("gather", {param, ctx.constant(Tensor::from_int64s(indices))}, {{"axis", axis}});
}

// QuantizeLinear(x, y_scale, y_zero_point?): y = saturate(round(x / y_scale) + y_zero_point).
Outputs convert_quantize_linear(const NodeContext& ctx) {
  int64_t axis = ctx.attr_int("axis", 1);
  int64_t block_size = ctx.attr_int("block_size", 0);
  bool saturate = ctx.attr_int("saturate", 1) != 0;
  if (ctx.has_attr("precision") && ctx.attr_int("precision") != 0) {
    ctx.fail("attribute 'precision' is not supported yet (leave it unset)");
  }
  DType target = DType::kUInt8;
  int64_t output_dtype = ctx.attr_int("output_dtype", 0);
  if (output_dtype != 0) {
    std::optional<DType> dtype = dtype_from_onnx(output_dtype);
    if (!dtype) ctx.fail("output_dtype " + onnx_type_name(output_dtype) + " is not supported");
    target = *dtype;
  }
  bool has_zero_point = ctx.has_input(2);
  if (has_zero_point) {
    DType zero_type = ctx.input_type(2).dtype;
    if (output_dtype != 0 && zero_type != target) {
      ctx.fail("output_dtype " + std::string(dtype_name(target)) + " differs from y_zero_point's " +
               std::string(dtype_name(zero_type)));
    }
    target = zero_type;
  }
  DType x_dtype = ctx.input_type(0).dtype;
  if (!dtype_is_float(x_dtype) || dtype_is_narrow(x_dtype)) {
    ctx.fail("input 0 must be float32, float16, bfloat16 or float64, got " +
             std::string(dtype_name(x_dtype)));
  }
  std::optional<std::pair<double, double>> range = integer_range(target);
  if (!range && !is_quant_float(target)) {
    ctx.fail("cannot quantize to " + std::string(dtype_name(target)) +
             " (int8, uint8, int16, uint16, int32, int4, uint4, int2, uint2, float8, float4e2m1)");
  }
  ir::Expr scale = cast(ctx, broadcast_param(ctx, 1, axis, block_size), x_dtype);
  ir::Expr scaled = ctx.call("divide", {ctx.input(0), scale});
  if (!range) {
    // float8: no zero point (the spec requires it to be 0); float4e2m1 adds it.
    if (target == DType::kFloat4E2M1 && has_zero_point) {
      scaled =
          ctx.call("add", {scaled, cast(ctx, broadcast_param(ctx, 2, axis, block_size), x_dtype)});
    }
    return {ctx.call(
        "cast", {scaled},
        {{"dtype", std::string(dtype_name(target))}, {"saturate", int64_t{saturate ? 1 : 0}}})};
  }
  ir::Expr rounded = cast(ctx, ctx.call("round", {scaled}), DType::kFloat64);
  if (has_zero_point) {
    ir::Expr zero_point = cast(ctx, broadcast_param(ctx, 2, axis, block_size), DType::kFloat64);
    rounded = ctx.call("add", {rounded, zero_point});
  }
  ir::Expr clamped = ctx.call("clip", {rounded}, {{"min", range->first}, {"max", range->second}});
  return {cast(ctx, clamped, target)};
}

// DequantizeLinear(x, x_scale, x_zero_point?): y = (x - x_zero_point) * x_scale.
Outputs convert_dequantize_linear(const NodeContext& ctx) {
  int64_t axis = ctx.attr_int("axis", 1);
  int64_t block_size = ctx.attr_int("block_size", 0);
  DType x_dtype = ctx.input_type(0).dtype;
  if (!integer_range(x_dtype) && !is_quant_float(x_dtype)) {
    ctx.fail("cannot dequantize " + std::string(dtype_name(x_dtype)) +
             " (int8, uint8, int16, uint16, int32, int4, uint4, int2, uint2, float8, float4e2m1)");
  }
  DType output = ctx.input_type(1).dtype;
  int64_t output_dtype = ctx.attr_int("output_dtype", 0);
  if (output_dtype != 0) {
    std::optional<DType> dtype = dtype_from_onnx(output_dtype);
    if (!dtype) ctx.fail("output_dtype " + onnx_type_name(output_dtype) + " is not supported");
    output = *dtype;
  }
  ir::Expr value = cast(ctx, ctx.input(0), DType::kFloat32);
  // float8 zero points must be 0 (onnx.reference checks it); only integer ones are subtracted.
  if (ctx.has_input(2) && integer_range(x_dtype)) {
    if (ctx.input_type(2).dtype != x_dtype) {
      ctx.fail("x_zero_point is " + std::string(dtype_name(ctx.input_type(2).dtype)) + ", x is " +
               std::string(dtype_name(x_dtype)) + ": they must match");
    }
    ir::Expr zero_point = cast(ctx, broadcast_param(ctx, 2, axis, block_size), DType::kFloat32);
    value = ctx.call("subtract", {value, zero_point});
  }
  ir::Expr scale = cast(ctx, broadcast_param(ctx, 1, axis, block_size), DType::kFloat32);
  return {cast(ctx, ctx.call("multiply", {value, scale}), output)};
}

// DynamicQuantizeLinear(x) -> (y uint8, y_scale, y_zero_point), the spec's formula:
// scale = (max(0, max(x)) - min(0, min(x))) / 255, zero point = saturate(round(-min / scale)).
Outputs convert_dynamic_quantize_linear(const NodeContext& ctx) {
  if (ctx.input_type(0).dtype != DType::kFloat32) {
    ctx.fail("input 0 must be float32, got " + std::string(dtype_name(ctx.input_type(0).dtype)));
  }
  const ir::Expr& x = ctx.input(0);
  int64_t rank = ctx.input_type(0).rank();
  std::vector<int64_t> all_axes(static_cast<size_t>(rank));
  for (int64_t i = 0; i < rank; ++i) all_axes[static_cast<size_t>(i)] = i;
  ir::Attrs reduce{{"axes", all_axes}, {"keepdims", int64_t{0}}};
  ir::Expr zero = ctx.scalar(0.0, DType::kFloat32);
  ir::Expr high = ctx.call("maximum", {ctx.call("reduce_max", {x}, reduce), zero});
  ir::Expr low = ctx.call("minimum", {ctx.call("reduce_min", {x}, reduce), zero});
  ir::Expr scale =
      ctx.call("divide", {ctx.call("subtract", {high, low}), ctx.scalar(255.0, DType::kFloat32)});
  ir::Expr zero_point_float =
      ctx.call("clip", {ctx.call("round", {ctx.call("divide", {ctx.call("neg", {low}), scale})})},
               {{"min", 0.0}, {"max", 255.0}});
  ir::Expr zero_point = cast(ctx, zero_point_float, DType::kUInt8);
  ir::Expr quantized = ctx.call(
      "clip",
      {ctx.call("add", {ctx.call("round", {ctx.call("divide", {x, scale})}), zero_point_float})},
      {{"min", 0.0}, {"max", 255.0}});
  return {cast(ctx, quantized, DType::kUInt8), scale, zero_point};
}

// `data` (int8/uint8) minus its zero point, exactly, as int32; a 1-D zero point of more than one
// value is per row of `data` when `per_row` (the M dimension of a matmul's left operand), else
// it broadcasts along the last dimension.
ir::Expr minus_zero_point(const NodeContext& ctx, size_t data, size_t zero_point, bool per_row) {
  DType dtype = ctx.input_type(data).dtype;
  if (dtype != DType::kInt8 && dtype != DType::kUInt8) {
    ctx.fail("input " + std::to_string(data) + " must be int8 or uint8, got " +
             std::string(dtype_name(dtype)));
  }
  ir::Expr value = cast(ctx, ctx.input(data), DType::kInt32);
  if (!ctx.has_input(zero_point)) return value;
  if (ctx.input_type(zero_point).dtype != dtype) {
    ctx.fail("input " + std::to_string(zero_point) + " (zero point) must be " +
             std::string(dtype_name(dtype)) + " like input " + std::to_string(data));
  }
  ir::Expr zp = cast(ctx, ctx.input(zero_point), DType::kInt32);
  const ir::TensorType& zp_type = ctx.input_type(zero_point);
  if (per_row && zp_type.rank() == 1 && zp_type.numel() != 1) {
    zp = ctx.call("reshape", {zp}, {{"newshape", std::vector<int64_t>{zp_type.numel(), 1}}});
  }
  return ctx.call("subtract", {value, zp});
}

// MatMulInteger(a, b, a_zero_point?, b_zero_point?) -> int32: (a - a_zp) @ (b - b_zp), exact.
Outputs convert_matmul_integer(const NodeContext& ctx) {
  return {
      ctx.call("matmul", {minus_zero_point(ctx, 0, 2, true), minus_zero_point(ctx, 1, 3, false)})};
}

// Requantizes an int32 accumulator as onnx.reference does: times (scale_a * scale_b / scale_y),
// those three multiplied in their own float type, the product in float64, plus the output zero
// point, rounded half to even and clamped to the output type (the zero point's, else `fallback`).
ir::Expr requantize(const NodeContext& ctx, const ir::Expr& accumulator, size_t scale_a,
                    const ir::Expr& scale_b, size_t scale_y, size_t zero_y, DType fallback) {
  ir::Expr factor =
      ctx.call("divide", {ctx.call("multiply", {ctx.input(scale_a), scale_b}), ctx.input(scale_y)});
  ir::Expr value = ctx.call(
      "multiply", {cast(ctx, accumulator, DType::kFloat64), cast(ctx, factor, DType::kFloat64)});
  DType output = fallback;
  if (ctx.has_input(zero_y)) {
    output = ctx.input_type(zero_y).dtype;
    value = ctx.call("add", {value, cast(ctx, ctx.input(zero_y), DType::kFloat64)});
  }
  std::optional<std::pair<double, double>> range = integer_range(output);
  if (!range || (output != DType::kInt8 && output != DType::kUInt8)) {
    ctx.fail("the output must be int8 or uint8, got " + std::string(dtype_name(output)));
  }
  ir::Expr clamped = ctx.call("clip", {ctx.call("round", {value})},
                              {{"min", range->first}, {"max", range->second}});
  return cast(ctx, clamped, output);
}

// QLinearMatMul(a, a_scale, a_zp, b, b_scale, b_zp, y_scale, y_zp).
Outputs convert_qlinear_matmul(const NodeContext& ctx) {
  for (size_t scale : {1, 4, 6}) {
    if (ctx.input_type(scale).numel() != 1) {
      ctx.fail("per-axis scales are not supported yet (input " + std::to_string(scale) +
               " must hold one value)");
    }
  }
  ir::Expr product =
      ctx.call("matmul", {minus_zero_point(ctx, 0, 2, true), minus_zero_point(ctx, 3, 5, false)});
  return {requantize(ctx, product, 1, ctx.input(4), 6, 7, ctx.input_type(0).dtype)};
}

// A convolution of int8/uint8 data and weight minus their zero points (the weight's may be per
// output channel), exact: the products are integers summed in float64 (exact below 2^53), the
// result converted back to int32.
ir::Expr integer_conv(const NodeContext& ctx, size_t data, size_t data_zp, size_t weight,
                      size_t weight_zp) {
  ir::Expr x = minus_zero_point(ctx, data, data_zp, false);
  ir::Expr w = cast(ctx, ctx.input(weight), DType::kInt32);
  if (ctx.has_input(weight_zp)) {
    ir::Expr zp = cast(ctx, ctx.input(weight_zp), DType::kInt32);
    const ir::TensorType& zp_type = ctx.input_type(weight_zp);
    if (zp_type.rank() == 1 && zp_type.numel() != 1) {
      std::vector<int64_t> shape(static_cast<size_t>(ctx.input_type(weight).rank()), 1);
      shape[0] = zp_type.numel();
      zp = ctx.call("reshape", {zp}, {{"newshape", shape}});
    }
    w = ctx.call("subtract", {w, zp});
  }
  ir::TensorType x_type = ctx.input_type(data);
  ir::TensorType w_type = ctx.input_type(weight);
  x_type.dtype = w_type.dtype = DType::kFloat64;
  ir::Expr y = convert_conv_of(ctx, cast(ctx, x, DType::kFloat64), x_type,
                               cast(ctx, w, DType::kFloat64), w_type);
  return cast(ctx, y, DType::kInt32);
}

// ConvInteger(x, w, x_zero_point?, w_zero_point?) -> int32.
Outputs convert_conv_integer(const NodeContext& ctx) { return {integer_conv(ctx, 0, 2, 1, 3)}; }

// QLinearConv(x, x_scale, x_zp, w, w_scale, w_zp, y_scale, y_zp, B?): the int32 convolution
// plus the int32 bias, requantized; w_scale may be per output channel.
Outputs convert_qlinear_conv(const NodeContext& ctx) {
  ir::Expr accumulator = integer_conv(ctx, 0, 2, 3, 5);
  if (ctx.has_input(8)) {
    accumulator = ctx.call("bias_add", {accumulator, cast(ctx, ctx.input(8), DType::kInt32)},
                           {{"axis", int64_t{1}}});
  }
  ir::Expr w_scale = ctx.input(4);
  const ir::TensorType& w_scale_type = ctx.input_type(4);
  if (w_scale_type.rank() == 1 && w_scale_type.numel() != 1) {
    std::vector<int64_t> shape(static_cast<size_t>(ctx.input_type(0).rank()), 1);
    shape[1] = w_scale_type.numel();
    w_scale = ctx.call("reshape", {w_scale}, {{"newshape", shape}});
  }
  return {requantize(ctx, accumulator, 1, w_scale, 6, 7, ctx.input_type(0).dtype)};
}

}  // namespace

void add_quant_converters(ConverterTable& table) {
  table["QuantizeLinear"] = convert_quantize_linear;
  table["DequantizeLinear"] = convert_dequantize_linear;
  table["DynamicQuantizeLinear"] = convert_dynamic_quantize_linear;
  table["MatMulInteger"] = convert_matmul_integer;
  table["QLinearMatMul"] = convert_qlinear_matmul;
  table["ConvInteger"] = convert_conv_integer;
  table["QLinearConv"] = convert_qlinear_conv;
}

}  // namespace kiln::frontend::onnx_import
