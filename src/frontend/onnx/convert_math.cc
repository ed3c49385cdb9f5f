// Converters for elementwise math, activations, comparisons and logic, matrix products and
// reductions.
#include <cmath>
#include <limits>

#include "frontend/onnx/converter.h"

namespace kiln::frontend::onnx_import {

namespace {

using Outputs = std::vector<ir::Expr>;

// An ONNX attribute copied onto the IR call when present (absent: the IR default, which equals
// ONNX's default for every operator listed here).
struct CopiedAttr {
  const char* onnx_name;
  const char* ir_name;
  enum Kind { kInt, kFloat, kString } kind;
};

Converter unary(std::string ir_op, std::vector<CopiedAttr> copied = {}) {
  return [ir_op = std::move(ir_op), copied = std::move(copied)](const NodeContext& ctx) {
    ir::Attrs attrs;
    for (const CopiedAttr& attr : copied) {
      if (!ctx.has_attr(attr.onnx_name)) continue;
      switch (attr.kind) {
        case CopiedAttr::kInt:
          attrs.set(attr.ir_name, ctx.attr_int(attr.onnx_name));
          break;
        case CopiedAttr::kFloat:
          attrs.set(attr.ir_name, ctx.attr_float(attr.onnx_name, 0));
          break;
        case CopiedAttr::kString:
          attrs.set(attr.ir_name, ctx.attr_string(attr.onnx_name, ""));
          break;
      }
    }
    return Outputs{ctx.call(ir_op, {ctx.input(0)}, std::move(attrs))};
  };
}

// Before opset 7, binary operators broadcast only with broadcast=1, and then B's dims line up
// with A's from `axis` on (absent: B lines up with A's trailing dims, as numpy does). Trailing
// ones appended to B make numpy broadcasting give the same alignment.
ir::Expr legacy_broadcast_rhs(const NodeContext& ctx) {
  const ir::Expr& rhs = ctx.input(1);
  if (ctx.opset() >= 7 || ctx.attr_int("broadcast", 0) == 0 || !ctx.has_attr("axis")) return rhs;
  int64_t lhs_rank = ctx.input_type(0).rank();
  int64_t rhs_rank = ctx.input_type(1).rank();
  int64_t axis = normalize_axis(ctx, ctx.attr_int("axis"), lhs_rank, "attribute 'axis'");
  if (axis + rhs_rank > lhs_rank) {
    ctx.fail("attribute 'axis' " + std::to_string(axis) + " places " +
             ctx.input_type(1).to_string() + " beyond the dims of " +
             ctx.input_type(0).to_string());
  }
  std::vector<int64_t> axes;
  for (int64_t i = rhs_rank; i < lhs_rank - axis; ++i) axes.push_back(i);
  if (axes.empty()) return rhs;
  return ctx.call("unsqueeze", {rhs}, {{"axes", axes}});
}

Converter binary(std::string ir_op) {
  return [ir_op = std::move(ir_op)](const NodeContext& ctx) {
    return Outputs{ctx.call(ir_op, {ctx.input(0), legacy_broadcast_rhs(ctx)})};
  };
}

// Sum / Max / Min: a left-to-right chain of the binary operator over all inputs.
ir::Expr chain(const NodeContext& ctx, const std::string& ir_op) {
  ir::Expr result = ctx.input(0);
  for (size_t i = 1; i < ctx.num_inputs(); ++i) result = ctx.call(ir_op, {result, ctx.input(i)});
  return result;
}

Converter variadic(std::string ir_op) {
  return [ir_op = std::move(ir_op)](const NodeContext& ctx) { return Outputs{chain(ctx, ir_op)}; };
}

Outputs convert_mean(const NodeContext& ctx) {
  ir::Expr sum = chain(ctx, "add");
  if (ctx.num_inputs() == 1) return {sum};
  DType dtype = sum->type().as_tensor().dtype;
  return {ctx.call("divide", {sum, ctx.scalar(static_cast<double>(ctx.num_inputs()), dtype)})};
}

// ONNX Pow lets the exponent have another type; the IR wants one dtype.
Outputs convert_pow(const NodeContext& ctx) {
  ir::Expr base = ctx.input(0);
  ir::Expr exponent = legacy_broadcast_rhs(ctx);
  DType base_dtype = ctx.input_type(0).dtype;
  if (ctx.input_type(1).dtype != base_dtype) {
    exponent = ctx.call("cast", {exponent}, {{"dtype", std::string(dtype_name(base_dtype))}});
  }
  return {ctx.call("power", {base, exponent})};
}

Outputs convert_mod(const NodeContext& ctx) {
  return {ctx.call("mod", {ctx.input(0), ctx.input(1)}, {{"fmod", ctx.attr_int("fmod", 0)}})};
}

Outputs convert_bit_shift(const NodeContext& ctx) {
  std::string direction = ctx.attr_string("direction", "");
  if (direction != "LEFT" && direction != "RIGHT") {
    ctx.fail("attribute 'direction' must be \"LEFT\" or \"RIGHT\", got \"" + direction + "\"");
  }
  return {ctx.call("bit_shift", {ctx.input(0), ctx.input(1)},
                   {{"direction", std::string(direction == "LEFT" ? "left" : "right")}})};
}

// Mish(x) = x * tanh(softplus(x)); the IR has no mish of its own.
Outputs convert_mish(const NodeContext& ctx) {
  ir::Expr x = ctx.input(0);
  ir::Expr soft = ctx.call("softplus", {x});
  return {ctx.call("multiply", {x, ctx.call("tanh", {soft})})};
}

// Clip bounds: attributes before opset 11, optional inputs since. Constant bounds become clip's
// attributes; bounds computed at run time become maximum/minimum.
Outputs convert_clip(const NodeContext& ctx) {
  ir::Expr x = ctx.input(0);
  double lowest = -std::numeric_limits<double>::infinity();
  double highest = std::numeric_limits<double>::infinity();
  if (ctx.opset() < 11) {
    return {ctx.call(
        "clip", {x},
        {{"min", ctx.attr_float("min", lowest)}, {"max", ctx.attr_float("max", highest)}})};
  }
  ir::Attrs attrs;
  for (size_t i : {size_t{1}, size_t{2}}) {
    if (!ctx.has_input(i)) continue;
    const char* name = i == 1 ? "min" : "max";
    if (auto bound = ctx.constant_input(i); bound && bound->numel() == 1) {
      attrs.set(name, bound->element_as_double(0));
    } else {
      x = ctx.call(i == 1 ? "maximum" : "minimum", {x, ctx.input(i)});
    }
  }
  return {ctx.call("clip", {x}, std::move(attrs))};
}

ir::Expr transpose_2d(const NodeContext& ctx, const ir::Expr& x) {
  return ctx.call("transpose", {x}, {{"axes", std::vector<int64_t>{1, 0}}});
}

// Gemm: Y = alpha * A' * B' + beta * C. B' as dense's [N, K] weight when possible (transB=1, or
// a constant B whose transpose folds), else matmul.
Outputs convert_gemm(const NodeContext& ctx) {
  for (size_t i : {size_t{0}, size_t{1}}) {
    if (ctx.input_type(i).rank() != 2) {
      ctx.fail("input " + std::to_string(i) + " must have rank 2, got " +
               ctx.input_type(i).to_string());
    }
  }
  ir::Expr a = ctx.input(0);
  ir::Expr b = ctx.input(1);
  if (ctx.attr_int("transA", 0) != 0) a = transpose_2d(ctx, a);
  ir::Expr y;
  if (ctx.attr_int("transB", 0) != 0) {
    y = ctx.call("dense", {a, b});
  } else if (ctx.constant_input(1)) {
    y = ctx.call("dense", {a, transpose_2d(ctx, b)});
  } else {
    y = ctx.call("matmul", {a, b});
  }
  DType dtype = y->type().as_tensor().dtype;
  double alpha = ctx.attr_float("alpha", 1.0);
  double beta = ctx.attr_float("beta", 1.0);
  if (alpha != 1.0) y = ctx.call("multiply", {y, ctx.scalar(alpha, dtype)});
  if (!ctx.has_input(2) || beta == 0.0) return {y};
  ir::Expr c = ctx.input(2);
  if (beta != 1.0) c = ctx.call("multiply", {c, ctx.scalar(beta, dtype)});
  // A per-column bias [N] is bias_add; anything else (scalar, [M, N], [1]) broadcasts by add.
  const ir::Shape& c_shape = c->type().as_tensor().shape;
  const ir::Shape& y_shape = y->type().as_tensor().shape;
  if (c_shape.size() == 1 && c_shape[0].is_static() && c_shape[0] == y_shape[1]) {
    return {ctx.call("bias_add", {y, c}, {{"axis", int64_t{1}}})};
  }
  return {ctx.call("add", {y, c})};
}

// MatMul by a constant 2-D right operand becomes dense with the pre-transposed weight, the form
// the compiler packs and tunes; everything else stays numpy matmul.
Outputs convert_matmul(const NodeContext& ctx) {
  ir::Expr a = ctx.input(0);
  ir::Expr b = ctx.input(1);
  if (ctx.constant_input(1) && ctx.input_type(1).rank() == 2 && ctx.input_type(0).rank() >= 2) {
    return {ctx.call("dense", {a, transpose_2d(ctx, b)})};
  }
  return {ctx.call("matmul", {a, b})};
}

// Reduce*: axes moved from an attribute to an input in opset 13 (ReduceSum) or 18 (the others).
Converter reduction(std::string ir_op, int64_t axes_input_since) {
  return [ir_op = std::move(ir_op), axes_input_since](const NodeContext& ctx) {
    std::vector<int64_t> axes;
    if (ctx.opset() >= axes_input_since) {
      if (ctx.has_input(1)) axes = ctx.require_constant_ints(1, "axes");
    } else {
      axes = ctx.attr_ints("axes", {});
    }
    if (axes.empty() && ctx.attr_int("noop_with_empty_axes", 0) != 0) return Outputs{ctx.input(0)};
    ir::Attrs attrs = {{"axes", axes}, {"keepdims", ctx.attr_int("keepdims", 1)}};
    // ReduceMax / ReduceMin take bool (opset 20): any / all, as a max / min over 0 and 1.
    if (ctx.input_type(0).dtype == DType::kBool &&
        (ir_op == "reduce_max" || ir_op == "reduce_min")) {
      const std::string as_bytes(dtype_name(DType::kUInt8)), as_bool(dtype_name(DType::kBool));
      ir::Expr bytes = ctx.call("cast", {ctx.input(0)}, {{"dtype", as_bytes}});
      return Outputs{
          ctx.call("cast", {ctx.call(ir_op, {bytes}, std::move(attrs))}, {{"dtype", as_bool}})};
    }
    return Outputs{ctx.call(ir_op, {ctx.input(0)}, std::move(attrs))};
  };
}

Converter arg_reduction(std::string ir_op) {
  return [ir_op = std::move(ir_op)](const NodeContext& ctx) {
    return Outputs{ctx.call(ir_op, {ctx.input(0)},
                            {{"axis", ctx.attr_int("axis", 0)},
                             {"keepdims", ctx.attr_int("keepdims", 1)},
                             {"select_last_index", ctx.attr_int("select_last_index", 0)}})};
  };
}

// CumSum / CumProd: the axis must be constant.
Converter cumulative(std::string ir_op) {
  return [ir_op = std::move(ir_op)](const NodeContext& ctx) {
    std::vector<int64_t> axis = ctx.require_constant_ints(1, "axis");
    if (axis.size() != 1) ctx.fail("input 1 (axis) must hold one value");
    return Outputs{ctx.call(ir_op, {ctx.input(0)},
                            {{"axis", axis[0]},
                             {"exclusive", ctx.attr_int("exclusive", 0)},
                             {"reverse", ctx.attr_int("reverse", 0)}})};
  };
}

// TopK: k is an attribute before opset 10, an input since.
Outputs convert_topk(const NodeContext& ctx) {
  int64_t k = 0;
  if (ctx.opset() < 10) {
    k = ctx.attr_int("k");
  } else {
    std::vector<int64_t> values = ctx.require_constant_ints(1, "K");
    if (values.size() != 1) ctx.fail("input 1 (K) must hold one value");
    k = values[0];
  }
  if (k < 0) ctx.fail("K must not be negative, got " + std::to_string(k));
  ir::Expr result = ctx.call("topk", {ctx.input(0)},
                             {{"k", k},
                              {"axis", ctx.attr_int("axis", -1)},
                              {"largest", ctx.attr_int("largest", 1)},
                              {"sorted", ctx.attr_int("sorted", 1)}});
  return {ctx.tuple_item(result, 0), ctx.tuple_item(result, 1)};
}

// Einsum: every input is an operand of the IR's einsum, which checks the equation.
Outputs convert_einsum(const NodeContext& ctx) {
  std::vector<ir::Expr> operands;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) operands.push_back(ctx.input(i));
  return {ctx.call("einsum", std::move(operands), {{"equation", ctx.attr_string("equation", "")}})};
}

}  // namespace

void add_math_converters(ConverterTable& table) {
  const std::pair<const char*, const char*> plain_unary[] = {
      {"Abs", "abs"},           {"Neg", "neg"},
      {"Exp", "exp"},           {"Log", "log"},
      {"Sqrt", "sqrt"},         {"Reciprocal", "reciprocal"},
      {"Erf", "erf"},           {"Tanh", "tanh"},
      {"Sigmoid", "sigmoid"},   {"Relu", "relu"},
      {"Floor", "floor"},       {"Ceil", "ceil"},
      {"Round", "round"},       {"Sign", "sign"},
      {"Sin", "sin"},           {"Cos", "cos"},
      {"Tan", "tan"},           {"Asin", "asin"},
      {"Acos", "acos"},         {"Atan", "atan"},
      {"Sinh", "sinh"},         {"Cosh", "cosh"},
      {"Asinh", "asinh"},       {"Acosh", "acosh"},
      {"Atanh", "atanh"},       {"Softplus", "softplus"},
      {"Softsign", "softsign"}, {"HardSwish", "hard_swish"},
      {"Not", "logical_not"},   {"BitwiseNot", "bitwise_not"},
      {"IsNaN", "isnan"},
  };
  for (const auto& [onnx_op, ir_op] : plain_unary) table[onnx_op] = unary(ir_op);

  using A = CopiedAttr;
  table["LeakyRelu"] = unary("leaky_relu", {{"alpha", "alpha", A::kFloat}});
  table["Elu"] = unary("elu", {{"alpha", "alpha", A::kFloat}});
  table["Celu"] = unary("celu", {{"alpha", "alpha", A::kFloat}});
  table["Selu"] = unary("selu", {{"alpha", "alpha", A::kFloat}, {"gamma", "gamma", A::kFloat}});
  table["HardSigmoid"] =
      unary("hard_sigmoid", {{"alpha", "alpha", A::kFloat}, {"beta", "beta", A::kFloat}});
  table["ThresholdedRelu"] = unary("thresholded_relu", {{"alpha", "alpha", A::kFloat}});
  table["Gelu"] = unary("gelu", {{"approximate", "approximate", A::kString}});
  table["IsInf"] = unary("isinf", {{"detect_positive", "detect_positive", A::kInt},
                                   {"detect_negative", "detect_negative", A::kInt}});
  table["Mish"] = convert_mish;
  table["Clip"] = convert_clip;

  const std::pair<const char*, const char*> plain_binary[] = {
      {"Add", "add"},
      {"Sub", "subtract"},
      {"Mul", "multiply"},
      {"Div", "divide"},
      {"PRelu", "prelu"},
      {"Equal", "equal"},
      {"Less", "less"},
      {"LessOrEqual", "less_equal"},
      {"Greater", "greater"},
      {"GreaterOrEqual", "greater_equal"},
      {"And", "logical_and"},
      {"Or", "logical_or"},
      {"Xor", "logical_xor"},
      {"BitwiseAnd", "bitwise_and"},
      {"BitwiseOr", "bitwise_or"},
      {"BitwiseXor", "bitwise_xor"},
  };
  for (const auto& [onnx_op, ir_op] : plain_binary) table[onnx_op] = binary(ir_op);
  table["Pow"] = convert_pow;
  table["Mod"] = convert_mod;
  table["BitShift"] = convert_bit_shift;
  table["Sum"] = variadic("add");
  table["Max"] = variadic("maximum");
  table["Min"] = variadic("minimum");
  table["Mean"] = convert_mean;

  table["Gemm"] = convert_gemm;
  table["MatMul"] = convert_matmul;

  table["ReduceSum"] = reduction("reduce_sum", 13);
  const std::pair<const char*, const char*> reductions[] = {
      {"ReduceMean", "reduce_mean"},
      {"ReduceMax", "reduce_max"},
      {"ReduceMin", "reduce_min"},
      {"ReduceProd", "reduce_prod"},
      {"ReduceL1", "reduce_l1"},
      {"ReduceL2", "reduce_l2"},
      {"ReduceLogSum", "reduce_log_sum"},
      {"ReduceLogSumExp", "reduce_log_sum_exp"},
      {"ReduceSumSquare", "reduce_sum_square"},
  };
  for (const auto& [onnx_op, ir_op] : reductions) table[onnx_op] = reduction(ir_op, 18);
  table["ArgMax"] = arg_reduction("argmax");
  table["ArgMin"] = arg_reduction("argmin");
  table["CumSum"] = cumulative("cumsum");
  table["CumProd"] = cumulative("cumprod");
  table["TopK"] = convert_topk;
  table["Einsum"] = convert_einsum;
}

}  // namespace kiln::frontend::onnx_import
