#include "transform/pass_util.h"

#include <memory>

#include "kiln/error.h"

namespace kiln::transform {

ir::Module mutate_main(const ir::Module& module, ir::ExprMutator& mutator) {
  ir::Expr main = mutator.mutate(module.main());
  KILN_CHECK(main->kind() == ir::ExprKind::kFunction) << "a pass turned main into a non-function";
  return module.with_main(std::static_pointer_cast<const ir::FunctionNode>(main));
}

std::unordered_map<const ir::ExprNode*, int64_t> use_counts(const ir::Expr& root) {
  std::unordered_map<const ir::ExprNode*, int64_t> counts;
  for (const ir::Expr& node : ir::post_order(root)) {
    counts.emplace(node.get(), 0);
    for (const ir::Expr& child : ir::children(node)) ++counts[child.get()];
  }
  return counts;
}

ir::Constant scalar_constant(double value, DType dtype, std::string name) {
  Tensor tensor(dtype, {});
  tensor.set_element_from_double(0, value);
  return ir::ConstantNode::make(std::move(tensor), std::move(name));
}

std::optional<std::vector<int64_t>> static_shape(const ir::Expr& expr) {
  if (!expr->type().is_tensor() || !expr->type().as_tensor().is_static()) return std::nullopt;
  return expr->type().as_tensor().static_shape();
}

}  // namespace kiln::transform
