// Graph traversal. Graphs can be deep (thousands of nodes in a chain), so nothing here recurses:
// post_order() walks with an explicit stack, and the mutator rebuilds nodes in that order.
#pragma once

#include <functional>
#include <unordered_map>
#include <vector>

#include "ir/expr.h"

namespace kiln::ir {

// The direct inputs of a node (call args, tuple fields, the tuple of a getitem, a function's
// body). Function parameters are not children.
std::vector<Expr> children(const Expr& expr);

// Every node reachable from `root`, each once, children before parents.
std::vector<Expr> post_order(const Expr& root);

// Rebuilds a graph bottom-up. Override rewrite() to change nodes; the default keeps a node when
// none of its inputs changed and otherwise remakes it (which re-infers its type).
class ExprMutator {
 public:
  virtual ~ExprMutator() = default;
  Expr mutate(const Expr& root);

 protected:
  // `node` is the original node; `new_children` are the already-rewritten children, in the order
  // of children(node). Return the node to use in its place.
  virtual Expr rewrite(const Expr& node, const std::vector<Expr>& new_children);
  // The default rebuild with new children (same node when they are unchanged).
  static Expr rebuild(const Expr& node, const std::vector<Expr>& new_children);

  // Rewritten node for each original node already visited.
  std::unordered_map<const ExprNode*, Expr> memo_;
};

}  // namespace kiln::ir
