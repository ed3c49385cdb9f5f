#include "transform/simplify_expr.h"

#include <algorithm>
#include <cstdint>
#include <string_view>
#include <vector>

#include "ir/functor.h"
#include "ir/op.h"
#include "transform/pass_util.h"

namespace kiln::transform {
namespace {

// Operators that keep the elements in row-major order and only change the shape.
bool is_reshape_like(const ir::CallNode& call) {
  std::string_view name = call.op.name;
  return name == "reshape" || name == "squeeze" || name == "unsqueeze";
}

bool is_identity_permutation(const std::vector<int64_t>& axes, int64_t rank) {
  if (axes.empty()) return rank <= 1;  // [] reverses the dims
  for (size_t i = 0; i < axes.size(); ++i) {
    if (axes[i] != static_cast<int64_t>(i)) return false;
  }
  return true;
}

// The permutation a transpose applies, with [] spelled out as the reversal.
std::vector<int64_t> permutation(const ir::CallNode& transpose) {
  std::vector<int64_t> axes = transpose.attrs.get_ints("axes");
  if (!axes.empty()) return axes;
  int64_t rank = transpose.type().as_tensor().rank();
  for (int64_t i = rank - 1; i >= 0; --i) axes.push_back(i);
  return axes;
}

// `replacement` when it has the type of `original` (so no consumer's type changes), else
// `original`: a relation may infer a symbolic dim differently from the chain it replaces.
ir::Expr if_same_type(const ir::Expr& original, const ir::Expr& replacement) {
  return replacement->type() == original->type() ? replacement : original;
}

// One simplification step at `expr` (whose inputs are already simplified), or `expr` unchanged.
ir::Expr simplify_once(const ir::Expr& expr) {
  const auto* call = ir::as<ir::CallNode>(expr);
  if (call == nullptr || call->args.size() != 1 || !call->type().is_tensor()) return expr;
  const ir::Expr& input = call->args[0];
  if (!input->type().is_tensor()) return expr;
  std::string_view name = call->op.name;
  bool same_type = call->type() == input->type();

  if (same_type && (is_reshape_like(*call) || name == "expand" || name == "cast")) return input;
  // Not merely the same type: pads of [1, -1] keep the shape but shift the data.
  if (name == "pad") {
    const std::vector<int64_t>& pads = call->attrs.get_ints("pads");
    bool all_zero = std::all_of(pads.begin(), pads.end(), [](int64_t pad) { return pad == 0; });
    return all_zero ? input : expr;
  }
  if (name == "transpose") {
    if (is_identity_permutation(call->attrs.get_ints("axes"), call->type().as_tensor().rank())) {
      return input;
    }
    const auto* inner = ir::as<ir::CallNode>(input);
    if (inner != nullptr && inner->op.name == "transpose") {
      // out[i] = y[q[i]] and y[j] = x[p[j]], so out[i] = x[p[q[i]]].
      std::vector<int64_t> p = permutation(*inner);
      std::vector<int64_t> q = permutation(*call);
      std::vector<int64_t> composed;
      for (int64_t axis : q) composed.push_back(p[static_cast<size_t>(axis)]);
      if (is_identity_permutation(composed, static_cast<int64_t>(composed.size()))) {
        return inner->args[0];
      }
      return if_same_type(
          expr, ir::call("transpose", {inner->args[0]}, {{"axes", composed}}, call->source_name));
    }
    return expr;
  }
  if (is_reshape_like(*call)) {
    const auto* inner = ir::as<ir::CallNode>(input);
    if (inner == nullptr || !is_reshape_like(*inner)) return expr;
    const ir::Expr& source = inner->args[0];
    if (call->type() == source->type()) return source;
    const ir::TensorType& out = call->type().as_tensor();
    if (out.is_static()) {
      return if_same_type(expr, ir::call("reshape", {source}, {{"newshape", out.static_shape()}},
                                         call->source_name));
    }
    // A symbolic final shape: the outer reshape's own target still applies to `source` when it
    // copies no dim from its input (no 0 entries) and the element count is the same.
    if (name == "reshape") {
      const std::vector<int64_t>& newshape = call->attrs.get_ints("newshape");
      bool copies_dims = call->attrs.get_int("allowzero") == 0 &&
                         std::find(newshape.begin(), newshape.end(), 0) != newshape.end();
      if (!copies_dims) {
        return if_same_type(expr, ir::call("reshape", {source}, call->attrs, call->source_name));
      }
    }
  }
  return expr;
}

class ExprSimplifier final : public ir::ExprMutator {
 protected:
  ir::Expr rewrite(const ir::Expr& node, const std::vector<ir::Expr>& new_children) override {
    ir::Expr current = rebuild(node, new_children);
    // A rewrite can enable another at the same place (a composed transpose that is the identity,
    // a collapsed reshape to the source's own shape); each step removes a node, so this ends.
    for (ir::Expr next = simplify_once(current); next != current; next = simplify_once(current)) {
      current = next;
    }
    return current;
  }
};

}  // namespace

ir::Module simplify_expr(const ir::Module& module) {
  ExprSimplifier simplifier;
  return mutate_main(module, simplifier);
}

}  // namespace kiln::transform
