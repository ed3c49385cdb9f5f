// softmax, log_softmax and hardmax along one axis; each keeps the data's type.
#include <string>
#include <vector>

#include "ir/op.h"
#include "op/nn/nn_util.h"
#include "op/op_util.h"

namespace kiln::op {
namespace {

// The relation shared by the three: float data of rank >= 1 and an axis inside it.
Type infer_along_axis(const std::vector<Type>& args, const ir::Attrs& attrs,
                      std::string_view op_name) {
  const TensorType& data = tensor_arg(args, 0, op_name);
  if (data.rank() < 1) type_error(op_name, "data must have rank >= 1, got " + data.to_string());
  require_float(data, op_name, "data");
  normalize_axis(attrs.get_int("axis"), data.rank(), op_name);
  return data;
}

ir::OpDef softmax_like(const std::string& name, std::string summary) {
  return nn::make_op(name, std::move(summary), 1, 1,
                     {attr_int("axis", -1, "the axis normalised over")}, ir::OpPattern::kOpaque,
                     [name](const std::vector<Type>& args, const ir::Attrs& attrs) {
                       return infer_along_axis(args, attrs, name);
                     });
}

}  // namespace

void register_softmax_ops(ir::OpRegistry& registry) {
  registry.add(softmax_like("softmax", "exp(x) / sum(exp(x)) along an axis"));
  registry.add(softmax_like("log_softmax", "log of softmax along an axis, computed stably"));
  registry.add(softmax_like("hardmax", "1 at the first maximum along an axis, 0 elsewhere"));
}

}  // namespace kiln::op
