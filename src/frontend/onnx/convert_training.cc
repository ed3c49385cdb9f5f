// Converters for the optimizer operators of the ai.onnx.preview.training domain: Momentum,
// Adagrad and Adam. Each updates n tensors in one node: inputs (R, T, X1..Xn, G1..Gn, state...)
// with R the learning rate and T the update count (scalars, may be model inputs), outputs
// (X1_new..Xn_new, state_new...). The update rules are the operator specifications', elementwise.
#include <string>
#include <vector>

#include "frontend/onnx/converter.h"

namespace kiln::frontend::onnx_import {

namespace {

using Outputs = std::vector<ir::Expr>;

// The node's inputs split into R, T and `groups` lists of n tensors each (X, G, then states).
struct OptimizerInputs {
  ir::Expr rate;            // R, cast to the tensors' dtype
  ir::Expr count;           // T, cast to the tensors' dtype
  ir::Expr count_positive;  // T > 0
  size_t n = 0;
  // tensor(group, i): group 0 = X, 1 = G, 2.. = the optimizer's states.
  const NodeContext* ctx = nullptr;
  const ir::Expr& tensor(size_t group, size_t i) const { return ctx->input(2 + group * n + i); }
};

OptimizerInputs read_optimizer_inputs(const NodeContext& ctx, size_t groups) {
  if (ctx.num_inputs() < 2 + groups || (ctx.num_inputs() - 2) % groups != 0) {
    ctx.fail("expects R, T and " + std::to_string(groups) +
             " lists of tensors of the same length, got " + std::to_string(ctx.num_inputs()) +
             " inputs");
  }
  OptimizerInputs inputs;
  inputs.ctx = &ctx;
  inputs.n = (ctx.num_inputs() - 2) / groups;
  if (ctx.num_outputs() > inputs.n * (groups - 1)) {
    ctx.fail("has " + std::to_string(ctx.num_outputs()) + " outputs, at most " +
             std::to_string(inputs.n * (groups - 1)) + " for " + std::to_string(inputs.n) +
             " tensors");
  }
  const ir::TensorType& x = ctx.input_type(2);
  if (!dtype_is_float(x.dtype)) ctx.fail("the tensors must be float, got " + x.to_string());
  for (size_t group = 0; group < groups; ++group) {
    for (size_t i = 0; i < inputs.n; ++i) {
      size_t index = 2 + group * inputs.n + i;
      const ir::TensorType& type = ctx.input_type(index);
      const ir::TensorType& of_x = ctx.input_type(2 + i);
      if (type.dtype != x.dtype || type.shape != of_x.shape) {
        ctx.fail("input " + std::to_string(index) + " " + type.to_string() +
                 " must have the type of the tensor it updates, " + of_x.to_string());
      }
    }
  }
  for (size_t i : {size_t{0}, size_t{1}}) {
    if (ctx.input_type(i).numel() != 1) {
      ctx.fail(std::string(i == 0 ? "input 0 (R)" : "input 1 (T)") + " must be a scalar, got " +
               ctx.input_type(i).to_string());
    }
  }
  const std::string dtype(dtype_name(x.dtype));
  auto as_scalar = [&](size_t i) {
    ir::Expr value = ctx.input(i);
    if (ctx.input_type(i).rank() != 0) {
      value = ctx.call("reshape", {value}, {{"newshape", std::vector<int64_t>{}}});
    }
    return value;
  };
  ir::Expr rate = as_scalar(0), count = as_scalar(1);
  inputs.count_positive = ctx.call("greater", {count, ctx.scalar(0, ctx.input_type(1).dtype)});
  inputs.rate =
      ctx.input_type(0).dtype == x.dtype ? rate : ctx.call("cast", {rate}, {{"dtype", dtype}});
  inputs.count = ctx.call("cast", {count}, {{"dtype", dtype}});
  return inputs;
}

ir::Expr scale(const NodeContext& ctx, const ir::Expr& value, double factor) {
  if (factor == 1.0) return value;
  return ctx.call("multiply", {value, ctx.scalar(factor, value->type().as_tensor().dtype)});
}

// G + norm_coefficient * X: the gradient with the L2 regularisation term.
ir::Expr regularized_gradient(const NodeContext& ctx, const ir::Expr& x, const ir::Expr& g,
                              double norm_coefficient) {
  if (norm_coefficient == 0.0) return g;
  return ctx.call("add", {scale(ctx, x, norm_coefficient), g});
}

// Momentum: V_new = alpha * V + beta' * G_reg (beta' = 1 on the first update, T = 0);
// X_new = X - R * V_new ("standard") or X - R * (G_reg + alpha * V_new) ("nesterov").
Outputs convert_momentum(const NodeContext& ctx) {
  for (const char* name : {"alpha", "beta", "norm_coefficient", "mode"}) {
    if (!ctx.has_attr(name)) ctx.fail(std::string("required attribute '") + name + "' is missing");
  }
  OptimizerInputs in = read_optimizer_inputs(ctx, 3);
  double alpha = ctx.attr_float("alpha", 0.0);
  double beta = ctx.attr_float("beta", 0.0);
  double norm_coefficient = ctx.attr_float("norm_coefficient", 0.0);
  std::string mode = ctx.attr_string("mode", "standard");
  if (mode != "standard" && mode != "nesterov") {
    ctx.fail("attribute 'mode' must be \"standard\" or \"nesterov\", got \"" + mode + "\"");
  }
  DType dtype = ctx.input_type(2).dtype;
  ir::Expr beta_adjusted =
      ctx.call("where", {in.count_positive, ctx.scalar(beta, dtype), ctx.scalar(1, dtype)});
  Outputs xs, vs;
  for (size_t i = 0; i < in.n; ++i) {
    const ir::Expr& x = in.tensor(0, i);
    ir::Expr g = regularized_gradient(ctx, x, in.tensor(1, i), norm_coefficient);
    ir::Expr v = ctx.call(
        "add", {scale(ctx, in.tensor(2, i), alpha), ctx.call("multiply", {beta_adjusted, g})});
    ir::Expr step = mode == "standard" ? v : ctx.call("add", {g, scale(ctx, v, alpha)});
    xs.push_back(ctx.call("subtract", {x, ctx.call("multiply", {in.rate, step})}));
    vs.push_back(v);
  }
  xs.insert(xs.end(), vs.begin(), vs.end());
  return xs;
}

// Adagrad: r = R / (1 + T * decay_factor); H_new = H + G_reg^2;
// X_new = X - r * G_reg / (sqrt(H_new) + epsilon).
Outputs convert_adagrad(const NodeContext& ctx) {
  OptimizerInputs in = read_optimizer_inputs(ctx, 3);
  DType dtype = ctx.input_type(2).dtype;
  double decay_factor = ctx.attr_float("decay_factor", 0.0);
  double epsilon = ctx.attr_float("epsilon", 0.0);
  double norm_coefficient = ctx.attr_float("norm_coefficient", 0.0);
  ir::Expr decay = ctx.call("add", {ctx.scalar(1, dtype), scale(ctx, in.count, decay_factor)});
  ir::Expr rate = ctx.call("divide", {in.rate, decay});
  Outputs xs, hs;
  for (size_t i = 0; i < in.n; ++i) {
    const ir::Expr& x = in.tensor(0, i);
    ir::Expr g = regularized_gradient(ctx, x, in.tensor(1, i), norm_coefficient);
    ir::Expr h = ctx.call("add", {in.tensor(2, i), ctx.call("multiply", {g, g})});
    ir::Expr denominator = ctx.call("add", {ctx.call("sqrt", {h}), ctx.scalar(epsilon, dtype)});
    ir::Expr step = ctx.call("divide", {ctx.call("multiply", {rate, g}), denominator});
    xs.push_back(ctx.call("subtract", {x, step}));
    hs.push_back(h);
  }
  xs.insert(xs.end(), hs.begin(), hs.end());
  return xs;
}

// Adam: V_new = alpha * V + (1 - alpha) * G_reg; H_new = beta * H + (1 - beta) * G_reg^2;
// r = R * sqrt(1 - beta^T) / (1 - alpha^T) for T > 0, else R;
// X_new = (1 - norm_coefficient_post) * (X - r * V_new / (sqrt(H_new) + epsilon)).
Outputs convert_adam(const NodeContext& ctx) {
  OptimizerInputs in = read_optimizer_inputs(ctx, 4);
  DType dtype = ctx.input_type(2).dtype;
  double alpha = ctx.attr_float("alpha", 0.9);
  double beta = ctx.attr_float("beta", 0.999);
  double epsilon = ctx.attr_float("epsilon", 0.0);
  double norm_coefficient = ctx.attr_float("norm_coefficient", 0.0);
  double norm_coefficient_post = ctx.attr_float("norm_coefficient_post", 0.0);
  ir::Expr one = ctx.scalar(1, dtype);
  auto one_minus_power = [&](double base) {
    return ctx.call("subtract", {one, ctx.call("power", {ctx.scalar(base, dtype), in.count})});
  };
  // At T = 0 the corrected rate is 0 / 0; where picks R there.
  ir::Expr corrected = ctx.call(
      "divide", {ctx.call("multiply", {in.rate, ctx.call("sqrt", {one_minus_power(beta)})}),
                 one_minus_power(alpha)});
  ir::Expr rate = ctx.call("where", {in.count_positive, corrected, in.rate});
  Outputs xs, vs, hs;
  for (size_t i = 0; i < in.n; ++i) {
    const ir::Expr& x = in.tensor(0, i);
    ir::Expr g = regularized_gradient(ctx, x, in.tensor(1, i), norm_coefficient);
    ir::Expr v = ctx.call("add", {scale(ctx, in.tensor(2, i), alpha), scale(ctx, g, 1 - alpha)});
    ir::Expr h = ctx.call("add", {scale(ctx, in.tensor(3, i), beta),
                                  scale(ctx, ctx.call("multiply", {g, g}), 1 - beta)});
    ir::Expr denominator = ctx.call("add", {ctx.call("sqrt", {h}), ctx.scalar(epsilon, dtype)});
    ir::Expr step = ctx.call("multiply", {rate, ctx.call("divide", {v, denominator})});
    xs.push_back(scale(ctx, ctx.call("subtract", {x, step}), 1 - norm_coefficient_post));
    vs.push_back(v);
    hs.push_back(h);
  }
  xs.insert(xs.end(), vs.begin(), vs.end());
  xs.insert(xs.end(), hs.begin(), hs.end());
  return xs;
}

}  // namespace

void add_training_converters(ConverterTable& table) {
  const std::string domain = "ai.onnx.preview.training";
  table[converter_key(domain, "Momentum")] = convert_momentum;
  table[converter_key(domain, "Adagrad")] = convert_adagrad;
  table[converter_key(domain, "Adam")] = convert_adam;
}

}  // namespace kiln::frontend::onnx_import
