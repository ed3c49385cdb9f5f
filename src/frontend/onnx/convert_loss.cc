// Converters for the loss operators: NegativeLogLikelihoodLoss and SoftmaxCrossEntropyLoss, as
// their ONNX function bodies: pick each sample's log-probability of its target class with
// gather_elements, weight it by the class weight, zero the samples whose target is ignore_index,
// then reduce (none / sum / weighted mean).
#include <optional>
#include <string>
#include <vector>

#include "frontend/onnx/converter.h"

namespace kiln::frontend::onnx_import {

namespace {

using Outputs = std::vector<ir::Expr>;

std::string dtype_text(DType dtype) { return std::string(dtype_name(dtype)); }

// Checks input [N, C, d1..dk], target [N, d1..dk] (integers) and weight [C].
void check_loss_inputs(const NodeContext& ctx) {
  const ir::TensorType& input = ctx.input_type(0);
  const ir::TensorType& target = ctx.input_type(1);
  if (input.rank() < 2 || !dtype_is_float(input.dtype)) {
    ctx.fail("input 0 (scores) must be a float tensor [N, C, d1, ...] of rank >= 2, got " +
             input.to_string());
  }
  if (target.dtype != DType::kInt32 && target.dtype != DType::kInt64) {
    ctx.fail("input 1 (target) must be int32 or int64, got " + target.to_string());
  }
  bool shapes_match = target.rank() == input.rank() - 1;
  for (int64_t d = 0; shapes_match && d < target.rank(); ++d) {
    const ir::Dim& want = input.shape[static_cast<size_t>(d == 0 ? 0 : d + 1)];
    const ir::Dim& got = target.shape[static_cast<size_t>(d)];
    shapes_match = !(want.is_static() && got.is_static() && want != got);
  }
  if (!shapes_match) {
    ctx.fail("input 1 (target) " + target.to_string() + " must have the shape of input 0 " +
             input.to_string() + " without its class dim (axis 1)");
  }
  if (ctx.has_input(2)) {
    const ir::TensorType& weight = ctx.input_type(2);
    if (weight.rank() != 1 || weight.dtype != input.dtype) {
      ctx.fail("input 2 (weight) must be a 1-D " + dtype_text(input.dtype) +
               " tensor with one weight per class, got " + weight.to_string());
    }
  }
}

std::string read_reduction(const NodeContext& ctx) {
  std::string reduction = ctx.attr_string("reduction", "mean");
  if (reduction != "none" && reduction != "sum" && reduction != "mean") {
    ctx.fail("attribute 'reduction' must be \"none\", \"sum\" or \"mean\", got \"" + reduction +
             "\"");
  }
  return reduction;
}

// The loss from log-probabilities [N, C, d...] (NegativeLogLikelihoodLoss's definition):
// loss[n, d] = -log_prob[n, target[n, d], d] * weight[target[n, d]], 0 where target is
// ignore_index; "mean" divides the sum by the sum of the weights that were applied.
ir::Expr nll_loss(const NodeContext& ctx, const ir::Expr& log_prob) {
  const ir::TensorType& type = log_prob->type().as_tensor();
  DType dtype = type.dtype;
  std::string reduction = read_reduction(ctx);
  ir::Expr target = ctx.input(1);
  DType index_dtype = ctx.input_type(1).dtype;

  // Ignored samples (and only they) may hold an index outside [0, C): send them to class 0 so
  // that every gather stays in range; their loss is replaced by 0 below.
  std::optional<ir::Expr> kept;
  if (ctx.has_attr("ignore_index")) {
    ir::Expr ignored = ctx.scalar(static_cast<double>(ctx.attr_int("ignore_index")), index_dtype);
    kept = ctx.call("not_equal", {target, ignored});
    target = ctx.call("where", {*kept, target, ctx.scalar(0, index_dtype)});
  }

  ir::Expr index = ctx.call("unsqueeze", {target}, {{"axes", std::vector<int64_t>{1}}});
  ir::Expr picked = ctx.call("gather_elements", {log_prob, index}, {{"axis", int64_t{1}}});
  ir::Expr loss =
      ctx.call("neg", {ctx.call("squeeze", {picked}, {{"axes", std::vector<int64_t>{1}}})});

  // The weight applied to each sample (target's shape): weight[target], 0 where ignored; none
  // when every sample weighs 1.
  std::optional<ir::Expr> applied;
  if (ctx.has_input(2)) {
    applied = ctx.call("gather", {ctx.input(2), target}, {{"axis", int64_t{0}}});
    loss = ctx.call("multiply", {loss, *applied});
  }
  if (kept) {
    ir::Expr zero = ctx.scalar(0, dtype);
    // where, not a product with the mask: an ignored sample's -log p may be inf, and inf * 0 is
    // NaN.
    loss = ctx.call("where", {*kept, loss, zero});
    applied = applied ? ctx.call("where", {*kept, *applied, zero})
                      : ctx.call("cast", {*kept}, {{"dtype", dtype_text(dtype)}});
  }

  if (reduction == "none") return loss;
  ir::Attrs all_axes = {{"axes", std::vector<int64_t>{}}, {"keepdims", int64_t{0}}};
  ir::Expr total = ctx.call("reduce_sum", {loss}, all_axes);
  if (reduction == "sum") return total;
  if (!applied) return ctx.call("reduce_mean", {loss}, all_axes);
  // The weights may sum to 0 (every sample ignored): 0 / 0 is NaN, as in the reference.
  return ctx.call("divide", {total, ctx.call("reduce_sum", {*applied}, all_axes)});
}

Outputs convert_nll_loss(const NodeContext& ctx) {
  check_loss_inputs(ctx);
  return {nll_loss(ctx, ctx.input(0))};
}

// SoftmaxCrossEntropyLoss: log_softmax over the class axis, then the NLL loss; the optional
// second output is the log-probabilities.
Outputs convert_softmax_cross_entropy(const NodeContext& ctx) {
  check_loss_inputs(ctx);
  ir::Expr log_prob = ctx.call("log_softmax", {ctx.input(0)}, {{"axis", int64_t{1}}});
  return {nll_loss(ctx, log_prob), log_prob};
}

}  // namespace

void add_loss_converters(ConverterTable& table) {
  table["NegativeLogLikelihoodLoss"] = convert_nll_loss;
  table["SoftmaxCrossEntropyLoss"] = convert_softmax_cross_entropy;
}

}  // namespace kiln::frontend::onnx_import
