#include "transform/simplify_inference.h"

#include <cstdint>
#include <string>
#include <vector>

#include "ir/functor.h"
#include "ir/op.h"
#include "transform/fold_constant.h"
#include "transform/pass_util.h"

namespace kiln::transform {
namespace {

// op(args), folded right away when every argument is a constant.
ir::Expr folded_call(std::string_view op_name, std::vector<ir::Expr> args, ir::Attrs attrs,
                     const std::string& name) {
  return fold_if_constant(ir::call(op_name, std::move(args), std::move(attrs), name), name);
}

// A per-channel vector [C] reshaped to [C, 1, ..., 1] so that it lines up with `axis` of a tensor
// of rank `rank` under numpy broadcasting (the trailing dims are 1).
ir::Expr along_axis(const ir::Expr& vector, int64_t axis, int64_t rank, const std::string& name) {
  int64_t trailing = rank - 1 - axis;
  if (trailing == 0) return vector;
  std::vector<int64_t> newshape(static_cast<size_t>(trailing) + 1, 1);
  newshape[0] = -1;  // C may be symbolic
  return folded_call("reshape", {vector}, {{"newshape", newshape}}, name);
}

ir::Expr expand_batch_norm(const ir::CallNode& bn) {
  const ir::Expr& data = bn.args[0];
  const ir::Expr& gamma = bn.args[1];
  const ir::Expr& beta = bn.args[2];
  const ir::Expr& mean = bn.args[3];
  const ir::Expr& var = bn.args[4];
  const ir::TensorType& data_type = data->type().as_tensor();
  int64_t rank = data_type.rank();
  int64_t axis = bn.attrs.get_int("axis");
  if (axis < 0) axis += rank;  // the type relation already checked the range
  const std::string& name = bn.source_name;
  std::string scale_name = name.empty() ? "" : name + ".scale";
  std::string shift_name = name.empty() ? "" : name + ".shift";

  ir::Expr epsilon = scalar_constant(bn.attrs.get_float("epsilon"), data_type.dtype);
  ir::Expr std_dev = folded_call("sqrt", {folded_call("add", {var, epsilon}, {}, name)}, {}, name);
  ir::Expr scale = folded_call("divide", {gamma, std_dev}, {}, scale_name);
  ir::Expr shift = folded_call(
      "subtract", {beta, folded_call("multiply", {mean, scale}, {}, shift_name)}, {}, shift_name);
  ir::Expr scaled =
      ir::call("multiply", {data, along_axis(scale, axis, rank, scale_name)}, {}, name);
  return ir::call("add", {scaled, along_axis(shift, axis, rank, shift_name)}, {}, name);
}

class InferenceSimplifier final : public ir::ExprMutator {
 protected:
  ir::Expr rewrite(const ir::Expr& node, const std::vector<ir::Expr>& new_children) override {
    ir::Expr rebuilt = rebuild(node, new_children);
    const auto* call = ir::as<ir::CallNode>(rebuilt);
    if (call != nullptr && call->op.name == "batch_norm") return expand_batch_norm(*call);
    return rebuilt;
  }
};

}  // namespace

ir::Module simplify_inference(const ir::Module& module) {
  InferenceSimplifier simplifier;
  return mutate_main(module, simplifier);
}

}  // namespace kiln::transform
