// Computes of the elementwise family (src/op/elemwise.cc): unary math, binary arithmetic with
// numpy broadcasting, comparisons, logic, where and cast; bias_add (nn) shares the broadcast
// machinery and lives here too. Each operator is one compute stage; the generic injective default
// schedule (vectorize the innermost loop, parallel outside) suits all of them.
//
// Element formulas follow the reference evaluators in elemwise.cc. The bitwise operators use the
// loop IR's integer intrinsics (bitwise_and, ..., shift_left / shift_right).
#include <cmath>
#include <functional>
#include <limits>
#include <map>
#include <numbers>

#include "ir/attrs.h"
#include "kiln/error.h"
#include "op/lower_util.h"
#include "op/op_util.h"

namespace kiln::op {
namespace {

using ir::Attrs;
using tir::intrinsic;
using tir::max;
using tir::min;
using tir::select;

PrimExpr call1(const char* name, const PrimExpr& x) { return intrinsic(name, {x}); }

// ---------------------------------------------------------------------------------------------
// Unary operators: an element function of the input value, its dtype and the attributes.

using UnaryFn = std::function<PrimExpr(const PrimExpr& x, DType dtype, const Attrs& attrs)>;

PrimExpr abs_of(const PrimExpr& x, DType dtype) {
  if (dtype_is_float(dtype)) return call1("fabs", x);
  if (!dtype_is_signed(dtype)) return x;
  return select(x < 0, -x, x);
}

PrimExpr sign_of(const PrimExpr& x, DType dtype) {
  PrimExpr one = constant(dtype, 1), zero = constant(dtype, 0);
  if (!dtype_is_signed(dtype)) return select(x > zero, one, zero);
  // x * 0 keeps NaN (and signed zeros) for floats, as the reference does.
  PrimExpr otherwise = dtype_is_float(dtype) ? x * zero : zero;
  return select(x > zero, one, select(x < zero, constant(dtype, -1), otherwise));
}

// clip's bounds as constants of the dtype; an integer bound is rounded inwards and a bound outside
// the dtype's range (infinity included) is dropped, as the reference's saturation does.
PrimExpr clip_of(const PrimExpr& x, DType dtype, const Attrs& attrs) {
  double low = attrs.get_float("min"), high = attrs.get_float("max");
  PrimExpr result = x;
  if (dtype_is_float(dtype)) {
    if (!std::isinf(low) || low > 0) result = max(result, constant(dtype, low));
    if (!std::isinf(high) || high < 0) result = min(result, constant(dtype, high));
    return result;
  }
  PrimExpr lowest = lowest_value(dtype), highest = highest_value(dtype);
  // The dtype's range as doubles; uint64's top value does not fit int64, so read it unsigned.
  double range_low = static_cast<double>(*tir::as_const_int(lowest));
  double range_high = dtype == DType::kUInt64 ? 18446744073709551615.0
                                              : static_cast<double>(*tir::as_const_int(highest));
  if (!std::isnan(low) && std::ceil(low) > range_low) {
    double bound = std::min(std::ceil(low), range_high);
    result = max(result, tir::int_imm(static_cast<int64_t>(bound), scalar_type(dtype)));
  }
  if (!std::isnan(high) && std::floor(high) < range_high) {
    double bound = std::max(std::floor(high), range_low);
    result = min(result, tir::int_imm(static_cast<int64_t>(bound), scalar_type(dtype)));
  }
  return result;
}

PrimExpr gelu_of(const PrimExpr& x, const Attrs& attrs) {
  if (attrs.get_string("approximate") == "tanh") {
    double scale = std::sqrt(2.0 / std::numbers::pi);
    PrimExpr inner = x * scale * (x * x * 0.044715 + 1.0);
    return x * 0.5 * (call1("tanh", inner) + 1.0);
  }
  return x * 0.5 * (call1("erf", x * (1.0 / std::numbers::sqrt2)) + 1.0);
}

PrimExpr isinf_of(const PrimExpr& x, const Attrs& attrs) {
  bool positive = attrs.get_int("detect_positive") != 0;
  bool negative = attrs.get_int("detect_negative") != 0;
  double inf = std::numeric_limits<double>::infinity();
  if (positive && negative) return call1("isinf", x);
  if (positive) return x == inf;
  if (negative) return x == -inf;
  return constant(DType::kBool, 0);
}

const std::map<std::string, UnaryFn>& unary_fns() {
  static const std::map<std::string, UnaryFn> fns = [] {
    std::map<std::string, UnaryFn> table;
    auto intrinsic_op = [&table](const char* name, const char* intrinsic_name) {
      table[name] = [intrinsic_name](const PrimExpr& x, DType, const Attrs&) {
        return call1(intrinsic_name, x);
      };
    };
    for (const char* name : {"exp",  "log",   "sqrt", "erf",   "tanh",  "sigmoid", "floor",
                             "ceil", "round", "sin",  "cos",   "tan",   "asin",    "acos",
                             "atan", "sinh",  "cosh", "asinh", "acosh", "atanh",   "isnan"}) {
      intrinsic_op(name, name);
    }
    table["abs"] = [](const PrimExpr& x, DType dtype, const Attrs&) { return abs_of(x, dtype); };
    table["neg"] = [](const PrimExpr& x, DType dtype, const Attrs&) {
      // -1 * x rather than 0 - x, so that -(+0.0) is -0.0 as in the reference.
      return dtype_is_float(dtype) ? x * -1.0 : -x;
    };
    table["rsqrt"] = [](const PrimExpr& x, DType, const Attrs&) {
      return PrimExpr(1.0) / call1("sqrt", x);
    };
    table["reciprocal"] = [](const PrimExpr& x, DType, const Attrs&) { return PrimExpr(1.0) / x; };
    table["relu"] = [](const PrimExpr& x, DType dtype, const Attrs&) {
      return max(x, constant(dtype, 0));
    };
    table["sign"] = [](const PrimExpr& x, DType dtype, const Attrs&) { return sign_of(x, dtype); };
    table["softplus"] = [](const PrimExpr& x, DType dtype, const Attrs&) {
      // max(x, 0) + log1p(e^-|x|): no overflow for large |x|.
      return max(x, constant(dtype, 0)) + call1("log1p", call1("exp", -call1("fabs", x)));
    };
    table["softsign"] = [](const PrimExpr& x, DType, const Attrs&) {
      return x / (call1("fabs", x) + 1.0);
    };
    table["gelu"] = [](const PrimExpr& x, DType, const Attrs& attrs) { return gelu_of(x, attrs); };
    table["hard_swish"] = [](const PrimExpr& x, DType dtype, const Attrs&) {
      PrimExpr gate = min(max(x * (1.0 / 6.0) + 0.5, constant(dtype, 0)), constant(dtype, 1));
      return x * gate;
    };
    table["leaky_relu"] = [](const PrimExpr& x, DType dtype, const Attrs& attrs) {
      return select(x < constant(dtype, 0), x * attrs.get_float("alpha"), x);
    };
    table["elu"] = [](const PrimExpr& x, DType dtype, const Attrs& attrs) {
      PrimExpr negative = (call1("exp", x) - 1.0) * attrs.get_float("alpha");
      return select(x < constant(dtype, 0), negative, x);
    };
    table["celu"] = [](const PrimExpr& x, DType dtype, const Attrs& attrs) {
      double alpha = attrs.get_float("alpha");
      PrimExpr zero = constant(dtype, 0);
      return max(x, zero) + min(zero, (call1("exp", x * (1.0 / alpha)) - 1.0) * alpha);
    };
    table["selu"] = [](const PrimExpr& x, DType dtype, const Attrs& attrs) {
      double alpha = attrs.get_float("alpha"), gamma = attrs.get_float("gamma");
      PrimExpr negative = (call1("exp", x) - 1.0) * (gamma * alpha);
      return select(x > constant(dtype, 0), x * gamma, negative);
    };
    table["hard_sigmoid"] = [](const PrimExpr& x, DType dtype, const Attrs& attrs) {
      PrimExpr linear = x * attrs.get_float("alpha") + attrs.get_float("beta");
      return min(max(linear, constant(dtype, 0)), constant(dtype, 1));
    };
    table["thresholded_relu"] = [](const PrimExpr& x, DType dtype, const Attrs& attrs) {
      return select(x > constant(dtype, attrs.get_float("alpha")), x, constant(dtype, 0));
    };
    table["clip"] = [](const PrimExpr& x, DType dtype, const Attrs& attrs) {
      return clip_of(x, dtype, attrs);
    };
    table["logical_not"] = [](const PrimExpr& x, DType, const Attrs&) {
      return tir::logical_not(x);
    };
    table["bitwise_not"] = [](const PrimExpr& x, DType dtype, const Attrs&) {
      // ~x without bitwise operators: -x - 1 in two's complement, all-ones - x when unsigned.
      return dtype_is_signed(dtype) ? -x - 1 : highest_value(dtype) - x;
    };
    table["isinf"] = [](const PrimExpr& x, DType, const Attrs& attrs) {
      return isinf_of(x, attrs);
    };
    return table;
  }();
  return fns;
}

OpImpl unary_impl(const std::string& name, UnaryFn fn) {
  OpImpl impl;
  impl.compute = [name, fn](const std::vector<te::Tensor>& inputs, const Attrs& attrs,
                            const ir::Type& result) -> std::vector<te::Tensor> {
    const te::Tensor& data = inputs[0];
    DType dtype = data->dtype.dtype;
    return {te::compute(
        result_shape(result), [&](const Indices& i) { return fn(data(as_exprs(i)), dtype, attrs); },
        name, "elemwise")};
  };
  return impl;
}

// ---------------------------------------------------------------------------------------------
// Binary operators and the other broadcasting ones: element functions of the broadcast operands.

using BinaryFn =
    std::function<PrimExpr(const PrimExpr& a, const PrimExpr& b, DType dtype, const Attrs& attrs)>;

// fmod = 0: the remainder takes the divisor's sign (Python); fmod = 1: the dividend's (C).
PrimExpr mod_of(const PrimExpr& a, const PrimExpr& b, DType dtype, const Attrs& attrs) {
  bool c_style = attrs.get_int("fmod") == 1;
  if (!dtype_is_float(dtype)) return c_style ? a % b : tir::floormod(a, b);
  PrimExpr remainder = a % b;  // fmod
  if (c_style) return remainder;
  PrimExpr zero = constant(dtype, 0);
  PrimExpr differs = tir::logical_and(remainder != zero, (remainder < zero) != (b < zero));
  return select(differs, remainder + b, remainder);
}

PrimExpr power_of(const PrimExpr& a, const PrimExpr& b, DType dtype) {
  if (dtype_is_float(dtype)) return intrinsic("pow", {a, b});
  // Integer powers through double: exact up to 2^53, which covers the exponents models use.
  DataType f64 = scalar_type(DType::kFloat64);
  return tir::cast(scalar_type(dtype), intrinsic("pow", {tir::cast(f64, a), tir::cast(f64, b)}));
}

const std::map<std::string, BinaryFn>& binary_fns() {
  static const std::map<std::string, BinaryFn> fns = [] {
    std::map<std::string, BinaryFn> table;
    table["add"] = [](const PrimExpr& a, const PrimExpr& b, DType, const Attrs&) { return a + b; };
    table["subtract"] = [](const PrimExpr& a, const PrimExpr& b, DType, const Attrs&) {
      return a - b;
    };
    table["multiply"] = [](const PrimExpr& a, const PrimExpr& b, DType, const Attrs&) {
      return a * b;
    };
    table["divide"] = [](const PrimExpr& a, const PrimExpr& b, DType, const Attrs&) {
      return a / b;  // C division for integers, as the reference
    };
    table["power"] = [](const PrimExpr& a, const PrimExpr& b, DType dtype, const Attrs&) {
      return power_of(a, b, dtype);
    };
    table["maximum"] = [](const PrimExpr& a, const PrimExpr& b, DType, const Attrs&) {
      return max(a, b);
    };
    table["minimum"] = [](const PrimExpr& a, const PrimExpr& b, DType, const Attrs&) {
      return min(a, b);
    };
    table["mod"] = mod_of;
    table["prelu"] = [](const PrimExpr& x, const PrimExpr& slope, DType dtype, const Attrs&) {
      if (!dtype_is_signed(dtype)) return x;
      return select(x < constant(dtype, 0), x * slope, x);
    };
    table["equal"] = [](const PrimExpr& a, const PrimExpr& b, DType, const Attrs&) {
      return a == b;
    };
    table["not_equal"] = [](const PrimExpr& a, const PrimExpr& b, DType, const Attrs&) {
      return a != b;
    };
    table["less"] = [](const PrimExpr& a, const PrimExpr& b, DType, const Attrs&) { return a < b; };
    table["less_equal"] = [](const PrimExpr& a, const PrimExpr& b, DType, const Attrs&) {
      return a <= b;
    };
    table["greater"] = [](const PrimExpr& a, const PrimExpr& b, DType, const Attrs&) {
      return a > b;
    };
    table["greater_equal"] = [](const PrimExpr& a, const PrimExpr& b, DType, const Attrs&) {
      return a >= b;
    };
    table["logical_and"] = [](const PrimExpr& a, const PrimExpr& b, DType, const Attrs&) {
      return tir::logical_and(a, b);
    };
    table["logical_or"] = [](const PrimExpr& a, const PrimExpr& b, DType, const Attrs&) {
      return tir::logical_or(a, b);
    };
    for (const char* name : {"bitwise_and", "bitwise_or", "bitwise_xor"}) {
      table[name] = [name](const PrimExpr& a, const PrimExpr& b, DType, const Attrs&) {
        return intrinsic(name, {a, b});
      };
    }
    table["bit_shift"] = [](const PrimExpr& a, const PrimExpr& b, DType, const Attrs& attrs) {
      bool left = attrs.get_string("direction") == "left";
      return intrinsic(left ? "shift_left" : "shift_right", {a, b});
    };
    table["logical_xor"] = [](const PrimExpr& a, const PrimExpr& b, DType, const Attrs&) {
      return a != b;
    };
    return table;
  }();
  return fns;
}

OpImpl binary_impl(const std::string& name, BinaryFn fn) {
  OpImpl impl;
  impl.compute = [name, fn](const std::vector<te::Tensor>& inputs, const Attrs& attrs,
                            const ir::Type& result) -> std::vector<te::Tensor> {
    const te::Tensor& a = inputs[0];
    const te::Tensor& b = inputs[1];
    std::vector<int64_t> shape = result_shape(result);
    DType dtype = a->dtype.dtype;
    return {te::compute(
        shape,
        [&](const Indices& i) {
          std::vector<PrimExpr> index = as_exprs(i);
          return fn(broadcast_read(a, index, shape), broadcast_read(b, index, shape), dtype, attrs);
        },
        name, "broadcast")};
  };
  return impl;
}

std::vector<te::Tensor> where_compute(const std::vector<te::Tensor>& inputs, const Attrs&,
                                      const ir::Type& result) {
  std::vector<int64_t> shape = result_shape(result);
  return {te::compute(
      shape,
      [&](const Indices& i) {
        std::vector<PrimExpr> index = as_exprs(i);
        return select(broadcast_read(inputs[0], index, shape),
                      broadcast_read(inputs[1], index, shape),
                      broadcast_read(inputs[2], index, shape));
      },
      "where", "broadcast")};
}

// ONNX Cast to the narrow floats: float8 with `saturate` clamps in float32 first (infinities
// included, NaN kept), so the conversion itself (codegen) never saturates; float8e8m0 has its
// own rounding modes, an intrinsic.
std::vector<te::Tensor> cast_compute(const std::vector<te::Tensor>& inputs, const Attrs& attrs,
                                     const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  DType target = result_tensor(result).dtype;
  bool saturate = attrs.get_int("saturate") != 0;
  bool clamps = saturate && (target == DType::kFloat8E4M3FN || target == DType::kFloat8E4M3FNUZ ||
                             target == DType::kFloat8E5M2 || target == DType::kFloat8E5M2FNUZ);
  const std::string& round_mode = attrs.get_string("round_mode");
  E8M0Rounding mode = round_mode == "down"      ? E8M0Rounding::kDown
                      : round_mode == "nearest" ? E8M0Rounding::kNearest
                                                : E8M0Rounding::kUp;
  return {te::compute(
      result_shape(result),
      [&](const Indices& i) {
        PrimExpr x = data(as_exprs(i));
        // Anything non-zero (NaN included) is true, as ONNX Cast; a comparison says so exactly.
        if (target == DType::kBool) return x != constant(data->dtype.dtype, 0);
        if (target == DType::kFloat8E8M0) {
          return tir::intrinsic(
              "float_to_e8m0",
              {tir::cast(scalar_type(DType::kFloat32), x),
               tir::int_imm(saturate ? 1 : 0, scalar_type(DType::kInt32)),
               tir::int_imm(static_cast<int64_t>(mode), scalar_type(DType::kInt32))});
        }
        if (clamps) {
          PrimExpr value = tir::cast(scalar_type(DType::kFloat32), x);
          PrimExpr limit = tir::float_imm(narrow_float_max(target));
          PrimExpr low = tir::float_imm(-narrow_float_max(target));
          value = select(value > limit, limit, select(value < low, low, value));
          return tir::cast(scalar_type(target), value);
        }
        return tir::cast(scalar_type(target), x);
      },
      "cast", "elemwise")};
}

// out[..., c, ...] = data[..., c, ...] + bias[c] along `axis`.
std::vector<te::Tensor> bias_add_compute(const std::vector<te::Tensor>& inputs, const Attrs& attrs,
                                         const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  const te::Tensor& bias = inputs[1];
  std::vector<int64_t> shape = result_shape(result);
  auto axis = static_cast<size_t>(
      normalize_axis(attrs.get_int("axis"), static_cast<int64_t>(shape.size()), "bias_add"));
  return {te::compute(
      shape, [&](const Indices& i) { return data(as_exprs(i)) + bias(i[axis]); }, "bias_add",
      "broadcast")};
}

}  // namespace

void register_elemwise_impls() {
  for (const auto& [name, fn] : unary_fns()) register_impl(name, unary_impl(name, fn));
  for (const auto& [name, fn] : binary_fns()) register_impl(name, binary_impl(name, fn));
  register_impl("where", OpImpl{where_compute, nullptr});
  register_impl("cast", OpImpl{cast_compute, nullptr});
  register_impl("bias_add", OpImpl{bias_add_compute, nullptr});
}

}  // namespace kiln::op
