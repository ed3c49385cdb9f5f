#include "transform/fold_scale_axis.h"

#include <cmath>
#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "ir/functor.h"
#include "ir/op.h"
#include "transform/fold_constant.h"
#include "transform/pass_util.h"

namespace kiln::transform {
namespace {

// The anchor (conv2d / dense) a scale or shift is folded into, with the bias_add that may sit
// between them.
struct Anchor {
  const ir::CallNode* call = nullptr;      // conv2d or dense
  const ir::CallNode* bias_add = nullptr;  // bias_add(call, bias) or nullptr
  int64_t channel_axis = 0;                // of the anchor's output
};

// The output channel axis of a conv2d (NCHW: 1) or dense ([..., N]: the last), or nullopt for
// anything else.
std::optional<int64_t> output_channel_axis(const ir::CallNode& call) {
  if (call.op.name == "conv2d") return 1;
  if (call.op.name == "dense") return call.type().as_tensor().rank() - 1;
  return std::nullopt;
}

// True when `constant` broadcasts against a tensor of `out` along `axis` only and keeps its shape.
bool broadcasts_along(const ir::ConstantNode& constant, const ir::TensorType& out, int64_t axis) {
  const Tensor& value = constant.value;
  if (value.dtype() != out.dtype || value.ndim() > out.rank()) return false;
  const ir::Dim& channels = out.shape[static_cast<size_t>(axis)];
  int64_t offset = out.rank() - value.ndim();
  for (int64_t i = 0; i < value.ndim(); ++i) {
    int64_t dim = value.shape()[static_cast<size_t>(i)];
    if (dim == 1) continue;
    if (offset + i != axis || !channels.is_static() || channels.value() != dim) return false;
  }
  return true;
}

bool all_finite(const Tensor& value) {
  for (int64_t i = 0; i < value.numel(); ++i) {
    if (!std::isfinite(value.element_as_double(i))) return false;
  }
  return true;
}

ir::Expr folded_call(std::string_view op_name, std::vector<ir::Expr> args, ir::Attrs attrs,
                     const std::string& name) {
  return fold_if_constant(ir::call(op_name, std::move(args), std::move(attrs)), name);
}

// `constant` (which broadcasts along one axis) reshaped to `rank` dims: [-1, 1, ..., 1].
ir::Expr as_column(const ir::Expr& constant, int64_t rank, const std::string& name) {
  std::vector<int64_t> newshape(static_cast<size_t>(rank), 1);
  newshape[0] = -1;
  return folded_call("reshape", {constant}, {{"newshape", newshape}}, name);
}

std::string constant_name(const ir::Expr& expr) {
  const auto* constant = ir::as<ir::ConstantNode>(expr);
  return constant != nullptr ? constant->name : "";
}

class ScaleAxisFolder final : public ir::ExprMutator {
 public:
  explicit ScaleAxisFolder(const ir::Expr& root) : uses_(use_counts(root)) {}

 protected:
  ir::Expr rewrite(const ir::Expr& node, const std::vector<ir::Expr>& new_children) override {
    ir::Expr rebuilt = rebuild(node, new_children);
    ir::Expr result = rebuilt;
    if (const auto* call = ir::as<ir::CallNode>(rebuilt)) {
      if (call->op.name == "multiply") result = fold_multiply(*call).value_or(rebuilt);
      if (call->op.name == "add") result = fold_add(*call).value_or(rebuilt);
    }
    // A replacement takes over the uses of the node it replaces.
    uses_[result.get()] = uses_[node.get()];
    return result;
  }

 private:
  bool single_use(const ir::ExprNode* node) const {
    auto it = uses_.find(node);
    return it != uses_.end() && it->second == 1;
  }

  // The anchor under `producer` (conv2d / dense, possibly behind a bias_add along its channel
  // axis); with `exclusive`, every node of the chain must have its consumer as single user.
  std::optional<Anchor> find_anchor(const ir::Expr& producer, bool exclusive) const {
    const auto* call = ir::as<ir::CallNode>(producer);
    if (call == nullptr) return std::nullopt;
    Anchor anchor;
    if (call->op.name == "bias_add") {
      // Its bias changes, so the bias_add must be the consumer's alone in every case.
      if (!single_use(call) || ir::as<ir::ConstantNode>(call->args[1]) == nullptr) {
        return std::nullopt;
      }
      anchor.bias_add = call;
      call = ir::as<ir::CallNode>(call->args[0]);
      if (call == nullptr) return std::nullopt;
    }
    std::optional<int64_t> axis = output_channel_axis(*call);
    if (!axis) return std::nullopt;
    if (!dtype_is_float(call->type().as_tensor().dtype)) return std::nullopt;
    if (anchor.bias_add != nullptr) {
      int64_t bias_axis = anchor.bias_add->attrs.get_int("axis");
      if (bias_axis < 0) bias_axis += call->type().as_tensor().rank();
      if (bias_axis != *axis) return std::nullopt;
    }
    if (exclusive && !single_use(call)) return std::nullopt;
    anchor.call = call;
    anchor.channel_axis = *axis;
    return anchor;
  }

  // The non-constant operand of a binary call and the constant one, when exactly one is constant.
  static std::optional<std::pair<ir::Expr, ir::Expr>> split_constant(const ir::CallNode& call) {
    bool lhs = ir::as<ir::ConstantNode>(call.args[0]) != nullptr;
    bool rhs = ir::as<ir::ConstantNode>(call.args[1]) != nullptr;
    if (rhs && !lhs) return std::make_pair(call.args[0], call.args[1]);
    if (lhs && !rhs) return std::make_pair(call.args[1], call.args[0]);
    return std::nullopt;
  }

  std::optional<ir::Expr> fold_multiply(const ir::CallNode& multiply) {
    auto operands = split_constant(multiply);
    if (!operands) return std::nullopt;
    auto [producer, scale_expr] = *operands;
    const auto* scale = ir::as<ir::ConstantNode>(scale_expr);
    std::optional<Anchor> anchor = find_anchor(producer, /*exclusive=*/true);
    if (!anchor || multiply.type() != producer->type()) return std::nullopt;
    const ir::TensorType& out = anchor->call->type().as_tensor();
    if (!broadcasts_along(*scale, out, anchor->channel_axis) || !all_finite(scale->value)) {
      return std::nullopt;
    }
    const ir::Expr& weight = anchor->call->args[1];
    if (ir::as<ir::ConstantNode>(weight) == nullptr) return std::nullopt;

    // One value per output channel (or a single value), as a column over the weight's rows.
    ir::Expr scale_vector =
        folded_call("reshape", {scale_expr}, {{"newshape", std::vector<int64_t>{-1}}}, "");
    int64_t weight_rank = weight->type().as_tensor().rank();
    ir::Expr new_weight = folded_call(
        "multiply", {weight, as_column(scale_vector, weight_rank, "")}, {}, constant_name(weight));
    if (ir::as<ir::ConstantNode>(new_weight) == nullptr) return std::nullopt;
    ir::Expr new_anchor = ir::CallNode::make(anchor->call->op, {anchor->call->args[0], new_weight},
                                             anchor->call->attrs, anchor->call->source_name);
    if (anchor->bias_add == nullptr) return new_anchor;

    const ir::Expr& bias = anchor->bias_add->args[1];
    ir::Expr new_bias = folded_call("multiply", {bias, scale_vector}, {}, constant_name(bias));
    if (ir::as<ir::ConstantNode>(new_bias) == nullptr) return std::nullopt;
    uses_[new_anchor.get()] = 1;
    return ir::CallNode::make(anchor->bias_add->op, {new_anchor, new_bias}, anchor->bias_add->attrs,
                              anchor->bias_add->source_name);
  }

  std::optional<ir::Expr> fold_add(const ir::CallNode& add) {
    auto operands = split_constant(add);
    if (!operands) return std::nullopt;
    auto [producer, shift_expr] = *operands;
    const auto* shift = ir::as<ir::ConstantNode>(shift_expr);
    // The add only replaces itself, so the anchor may have other users; merging into an
    // existing bias_add needs that bias_add to be the add's alone.
    std::optional<Anchor> anchor = find_anchor(producer, /*exclusive=*/false);
    if (!anchor || add.type() != producer->type()) return std::nullopt;
    const ir::TensorType& out = anchor->call->type().as_tensor();
    if (!broadcasts_along(*shift, out, anchor->channel_axis)) return std::nullopt;
    // bias_add needs a full [C] vector; a scalar shift stays an add.
    const ir::Dim& channels = out.shape[static_cast<size_t>(anchor->channel_axis)];
    if (!channels.is_static() || shift->value.numel() != channels.value()) return std::nullopt;

    ir::Expr shift_vector =
        folded_call("reshape", {shift_expr}, {{"newshape", std::vector<int64_t>{-1}}}, shift->name);
    if (anchor->bias_add != nullptr) {
      const ir::Expr& bias = anchor->bias_add->args[1];
      ir::Expr new_bias = folded_call("add", {bias, shift_vector}, {}, constant_name(bias));
      if (ir::as<ir::ConstantNode>(new_bias) == nullptr) return std::nullopt;
      return ir::CallNode::make(anchor->bias_add->op, {anchor->bias_add->args[0], new_bias},
                                anchor->bias_add->attrs, anchor->bias_add->source_name);
    }
    return ir::call("bias_add", {producer, shift_vector}, {{"axis", anchor->channel_axis}},
                    add.source_name);
  }

  std::unordered_map<const ir::ExprNode*, int64_t> uses_;
};

}  // namespace

ir::Module fold_scale_axis(const ir::Module& module) {
  ScaleAxisFolder folder(module.main());
  return mutate_main(module, folder);
}

}  // namespace kiln::transform
