#include "transform/infer_types.h"

#include <vector>

#include "ir/functor.h"
#include "transform/pass_util.h"

namespace kiln::transform {
namespace {

// Remakes a node whenever its stored type differs from what the relation infers now; the default
// rebuild() only remakes nodes whose inputs changed, which would keep a stale type at the leaves.
class TypeReinferrer final : public ir::ExprMutator {
 protected:
  ir::Expr rewrite(const ir::Expr& node, const std::vector<ir::Expr>& new_children) override {
    if (const auto* call = ir::as<ir::CallNode>(node)) {
      ir::Expr remade = ir::CallNode::make(call->op, new_children, call->attrs, call->source_name);
      // Keep sharing the original node when nothing changed, so the module stays cheap to copy.
      if (new_children == call->args && remade->type() == call->type()) return node;
      return remade;
    }
    return rebuild(node, new_children);
  }
};

}  // namespace

ir::Module infer_types(const ir::Module& module) {
  TypeReinferrer reinferrer;
  return mutate_main(module, reinferrer);
}

}  // namespace kiln::transform
