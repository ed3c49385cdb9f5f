#include "ir/functor.h"

#include <unordered_set>
#include <utility>

#include "ir/op.h"
#include "kiln/error.h"

namespace kiln::ir {

std::vector<Expr> children(const Expr& expr) {
  switch (expr->kind()) {
    case ExprKind::kVar:
    case ExprKind::kConstant:
      return {};
    case ExprKind::kCall:
      return as<CallNode>(expr)->args;
    case ExprKind::kTuple:
      return as<TupleNode>(expr)->fields;
    case ExprKind::kTupleGetItem:
      return {as<TupleGetItemNode>(expr)->tuple};
    case ExprKind::kFunction:
      return {as<FunctionNode>(expr)->body};
  }
  return {};
}

std::vector<Expr> post_order(const Expr& root) {
  std::vector<Expr> order;
  std::unordered_set<const ExprNode*> done;
  // Each stack entry: a node and whether its children were already pushed.
  std::vector<std::pair<Expr, bool>> stack{{root, false}};
  while (!stack.empty()) {
    auto [node, expanded] = stack.back();
    stack.pop_back();
    if (done.count(node.get())) continue;
    if (expanded) {
      done.insert(node.get());
      order.push_back(node);
      continue;
    }
    stack.emplace_back(node, true);
    std::vector<Expr> inputs = children(node);
    for (auto it = inputs.rbegin(); it != inputs.rend(); ++it) {
      if (!done.count(it->get())) stack.emplace_back(*it, false);
    }
  }
  return order;
}

Expr ExprMutator::mutate(const Expr& root) {
  for (const Expr& node : post_order(root)) {
    if (memo_.count(node.get())) continue;
    std::vector<Expr> new_children;
    for (const Expr& child : children(node)) {
      auto it = memo_.find(child.get());
      KILN_CHECK(it != memo_.end());
      new_children.push_back(it->second);
    }
    memo_[node.get()] = rewrite(node, new_children);
  }
  return memo_.at(root.get());
}

Expr ExprMutator::rewrite(const Expr& node, const std::vector<Expr>& new_children) {
  return rebuild(node, new_children);
}

Expr ExprMutator::rebuild(const Expr& node, const std::vector<Expr>& new_children) {
  std::vector<Expr> old_children = children(node);
  if (old_children == new_children) return node;
  switch (node->kind()) {
    case ExprKind::kCall: {
      const auto* call_node = as<CallNode>(node);
      return CallNode::make(call_node->op, new_children, call_node->attrs, call_node->source_name);
    }
    case ExprKind::kTuple:
      return TupleNode::make(new_children);
    case ExprKind::kTupleGetItem:
      return TupleGetItemNode::make(new_children[0], as<TupleGetItemNode>(node)->index);
    case ExprKind::kFunction:
      return FunctionNode::make(as<FunctionNode>(node)->params, new_children[0]);
    default:
      KILN_CHECK(false) << "leaf node with children";
  }
  return node;
}

}  // namespace kiln::ir
