#include "transform/fold_constant.h"

#include <cstdint>
#include <vector>

#include "ir/functor.h"
#include "ir/op.h"
#include "kiln/error.h"
#include "transform/pass_util.h"

namespace kiln::transform {
namespace {

// The same limits as the ONNX importer's folding (src/frontend/onnx/converter.cc), so a model
// folds the same whether the importer or this pass sees a constant subgraph first.
constexpr int64_t kMaxFoldedElements = int64_t{1} << 24;
constexpr int64_t kMaxFoldedGrowth = int64_t{1} << 12;

class ConstantFolder final : public ir::ExprMutator {
 protected:
  ir::Expr rewrite(const ir::Expr& node, const std::vector<ir::Expr>& new_children) override {
    ir::Expr rebuilt = rebuild(node, new_children);
    if (const auto* get = ir::as<ir::TupleGetItemNode>(rebuilt)) {
      if (const auto* tuple = ir::as<ir::TupleNode>(get->tuple)) {
        return tuple->fields.at(static_cast<size_t>(get->index));
      }
      return rebuilt;
    }
    return fold_if_constant(rebuilt);
  }
};

}  // namespace

ir::Expr fold_if_constant(const ir::Expr& expr, const std::string& name) {
  const auto* call = ir::as<ir::CallNode>(expr);
  if (call == nullptr || !call->op.evaluate || !call->type().is_tensor()) return expr;
  const ir::TensorType& result = call->type().as_tensor();
  if (!result.is_static()) return expr;
  std::vector<Tensor> values;
  int64_t input_numel = 0;
  for (const ir::Expr& arg : call->args) {
    const auto* constant = ir::as<ir::ConstantNode>(arg);
    if (constant == nullptr) return expr;
    values.push_back(constant->value);
    input_numel += constant->value.numel();
  }
  int64_t numel = result.numel();
  if (numel > kMaxFoldedElements) return expr;
  // Calls without arguments (full) follow the importer: only the absolute limit applies.
  if (!values.empty() && numel > input_numel + kMaxFoldedGrowth) return expr;
  Tensor value;
  try {
    value = call->op.evaluate(values, call->attrs, result);
  } catch (const Error&) {
    return expr;
  }
  return ir::ConstantNode::make(std::move(value), name.empty() ? call->source_name : name);
}

ir::Module fold_constant(const ir::Module& module) {
  ConstantFolder folder;
  return mutate_main(module, folder);
}

}  // namespace kiln::transform
