#include "transform/eliminate_common_subexpr.h"

#include <cstddef>
#include <cstdint>
#include <functional>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "ir/functor.h"
#include "ir/op.h"
#include "transform/pass_util.h"

namespace kiln::transform {
namespace {

constexpr size_t kMaxMergedConstantBytes = size_t{64} << 10;

size_t combine(size_t seed, size_t value) {
  return seed ^ (value + 0x9e3779b97f4a7c15ULL + (seed << 6) + (seed >> 2));
}

// A hash of what makes two nodes equal (kind, op, index, argument identities, constant bytes);
// attributes are compared on collision only, since hashing them would need per-kind code.
size_t node_hash(const ir::Expr& node) {
  size_t hash = static_cast<size_t>(node->kind());
  switch (node->kind()) {
    case ir::ExprKind::kCall:
      hash = combine(hash, std::hash<const void*>{}(&ir::as<ir::CallNode>(node)->op));
      break;
    case ir::ExprKind::kTupleGetItem:
      hash = combine(hash, static_cast<size_t>(ir::as<ir::TupleGetItemNode>(node)->index));
      break;
    case ir::ExprKind::kConstant: {
      const Tensor& value = ir::as<ir::ConstantNode>(node)->value;
      std::string_view bytes(static_cast<const char*>(value.data()), value.nbytes());
      hash = combine(hash, std::hash<std::string_view>{}(bytes));
      break;
    }
    default:
      break;
  }
  for (const ir::Expr& child : ir::children(node)) {
    hash = combine(hash, std::hash<const void*>{}(child.get()));
  }
  return hash;
}

// Equal values, given that the children of both nodes are already merged (so children compare
// by identity).
bool same_value(const ir::Expr& a, const ir::Expr& b) {
  if (a->kind() != b->kind() || a->type() != b->type()) return false;
  if (ir::children(a) != ir::children(b)) return false;
  switch (a->kind()) {
    case ir::ExprKind::kCall: {
      const auto* call_a = ir::as<ir::CallNode>(a);
      const auto* call_b = ir::as<ir::CallNode>(b);
      return &call_a->op == &call_b->op && call_a->attrs == call_b->attrs;
    }
    case ir::ExprKind::kTupleGetItem:
      return ir::as<ir::TupleGetItemNode>(a)->index == ir::as<ir::TupleGetItemNode>(b)->index;
    case ir::ExprKind::kTuple:
      return true;
    case ir::ExprKind::kConstant:
      return ir::as<ir::ConstantNode>(a)->value.identical(ir::as<ir::ConstantNode>(b)->value);
    default:
      return false;  // variables and functions are distinct by identity
  }
}

bool mergeable(const ir::Expr& node) {
  switch (node->kind()) {
    case ir::ExprKind::kCall:
    case ir::ExprKind::kTuple:
    case ir::ExprKind::kTupleGetItem:
      return true;
    case ir::ExprKind::kConstant:
      return ir::as<ir::ConstantNode>(node)->value.nbytes() <= kMaxMergedConstantBytes;
    default:
      return false;
  }
}

class CommonSubexprEliminator final : public ir::ExprMutator {
 protected:
  ir::Expr rewrite(const ir::Expr& node, const std::vector<ir::Expr>& new_children) override {
    ir::Expr rebuilt = rebuild(node, new_children);
    if (!mergeable(rebuilt)) return rebuilt;
    size_t hash = node_hash(rebuilt);
    auto [begin, end] = seen_.equal_range(hash);
    for (auto it = begin; it != end; ++it) {
      if (same_value(it->second, rebuilt)) return it->second;
    }
    seen_.emplace(hash, rebuilt);
    return rebuilt;
  }

 private:
  std::unordered_multimap<size_t, ir::Expr> seen_;
};

}  // namespace

ir::Module eliminate_common_subexpr(const ir::Module& module) {
  CommonSubexprEliminator eliminator;
  return mutate_main(module, eliminator);
}

}  // namespace kiln::transform
