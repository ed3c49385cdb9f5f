// Normalisations: batch_norm (inference form), layer_norm, instance_norm, group_norm, lrn and
// lp_normalize. Each returns a tensor of the data's type.
#include <string>
#include <vector>

#include "ir/op.h"
#include "op/nn/nn_util.h"
#include "op/op_util.h"

namespace kiln::op {
namespace {

// Float data of at least `min_rank` dimensions; `layout` describes it in the message.
const TensorType& norm_data(const std::vector<Type>& args, int64_t min_rank,
                            std::string_view layout, std::string_view op_name) {
  const TensorType& data = tensor_arg(args, 0, op_name);
  if (data.rank() < min_rank) {
    // Appended piecewise: GCC 12 gives a false -Wrestrict for "literal" + std::string&&.
    std::string message = "data must have rank >= ";
    message += std::to_string(min_rank);
    if (!layout.empty()) message.append(" ").append(layout);
    type_error(op_name, message + ", got " + data.to_string());
  }
  require_float(data, op_name, "data");
  return data;
}

void check_epsilon(const ir::Attrs& attrs, std::string_view op_name) {
  nn::require_non_negative(attrs.get_float("epsilon"), "epsilon", op_name);
}

Type infer_batch_norm(const std::vector<Type>& args, const ir::Attrs& attrs) {
  constexpr std::string_view kOp = "batch_norm";
  const TensorType& data = norm_data(args, 1, "", kOp);
  int64_t axis = normalize_axis(attrs.get_int("axis"), data.rank(), kOp);
  check_epsilon(attrs, kOp);
  const Dim& channels = data.shape[static_cast<size_t>(axis)];
  const char* names[] = {"gamma", "beta", "mean", "var"};
  for (size_t i = 1; i < 5; ++i) {
    nn::require_channel_vector(tensor_arg(args, i, kOp), channels, data, names[i - 1], kOp);
  }
  return data;
}

// A layer_norm parameter must broadcast to the normalised trailing dims `trailing`: no more dims
// than they have, each 1 or compatible with the dim it lines up with (from the right).
void require_broadcastable_to(const TensorType& param, const Shape& trailing,
                              const TensorType& data, std::string_view what,
                              std::string_view op_name) {
  bool ok = param.rank() <= static_cast<int64_t>(trailing.size());
  size_t offset = ok ? trailing.size() - param.shape.size() : 0;
  for (size_t i = 0; ok && i < param.shape.size(); ++i) {
    const Dim& dim = param.shape[i];
    ok = (dim.is_static() && dim.value() == 1) || dims_compatible(dim, trailing[offset + i]);
  }
  if (!ok) {
    type_error(op_name, std::string(what) + " " + param.to_string() +
                            " does not broadcast to the normalised dims " +
                            ir::shape_to_string(trailing) + " of data " + data.to_string());
  }
  if (param.dtype != data.dtype) {
    type_error(op_name, std::string(what) + " has dtype " + std::string(dtype_name(param.dtype)) +
                            " but data is " + data.to_string());
  }
}

Type infer_layer_norm(const std::vector<Type>& args, const ir::Attrs& attrs) {
  constexpr std::string_view kOp = "layer_norm";
  const TensorType& data = norm_data(args, 1, "", kOp);
  int64_t axis = normalize_axis(attrs.get_int("axis"), data.rank(), kOp);
  check_epsilon(attrs, kOp);
  Shape trailing(data.shape.begin() + axis, data.shape.end());
  require_broadcastable_to(tensor_arg(args, 1, kOp), trailing, data, "gamma", kOp);
  if (args.size() > 2) {
    require_broadcastable_to(tensor_arg(args, 2, kOp), trailing, data, "beta", kOp);
  }
  return data;
}

Type infer_instance_norm(const std::vector<Type>& args, const ir::Attrs& attrs) {
  constexpr std::string_view kOp = "instance_norm";
  const TensorType& data = norm_data(args, 3, "(N, C, spatial...)", kOp);
  check_epsilon(attrs, kOp);
  nn::require_channel_vector(tensor_arg(args, 1, kOp), data.shape[1], data, "gamma", kOp);
  nn::require_channel_vector(tensor_arg(args, 2, kOp), data.shape[1], data, "beta", kOp);
  return data;
}

Type infer_group_norm(const std::vector<Type>& args, const ir::Attrs& attrs) {
  constexpr std::string_view kOp = "group_norm";
  const TensorType& data = norm_data(args, 2, "(N, C, ...)", kOp);
  check_epsilon(attrs, kOp);
  int64_t num_groups = attrs.get_int("num_groups");
  nn::require_positive(num_groups, "num_groups", kOp);
  const Dim& channels = data.shape[1];
  if (channels.is_static() && channels.value() % num_groups != 0) {
    type_error(kOp, "data has " + channels.to_string() + " channels, not divisible by num_groups " +
                        std::to_string(num_groups) + " (data " + data.to_string() + ")");
  }
  nn::require_channel_vector(tensor_arg(args, 1, kOp), channels, data, "gamma", kOp);
  nn::require_channel_vector(tensor_arg(args, 2, kOp), channels, data, "beta", kOp);
  return data;
}

Type infer_lrn(const std::vector<Type>& args, const ir::Attrs& attrs) {
  constexpr std::string_view kOp = "lrn";
  const TensorType& data = norm_data(args, 3, "(N, C, spatial...)", kOp);
  nn::require_positive(attrs.get_int("size"), "size", kOp);
  return data;
}

Type infer_lp_normalize(const std::vector<Type>& args, const ir::Attrs& attrs) {
  constexpr std::string_view kOp = "lp_normalize";
  const TensorType& data = norm_data(args, 1, "", kOp);
  normalize_axis(attrs.get_int("axis"), data.rank(), kOp);
  int64_t p = attrs.get_int("p");
  if (p != 1 && p != 2) type_error(kOp, "p must be 1 or 2, got " + std::to_string(p));
  return data;
}

ir::AttrDef epsilon_attr() {
  return attr_float("epsilon", 1e-5, "added to the variance to avoid dividing by zero");
}

}  // namespace

void register_norm_ops(ir::OpRegistry& registry) {
  constexpr ir::OpPattern kOpaque = ir::OpPattern::kOpaque;
  registry.add(nn::make_op(
      "batch_norm", "batch normalisation, inference form (running mean and variance)", 5, 5,
      {attr_int("axis", 1, "the channel axis"), epsilon_attr()}, kOpaque, infer_batch_norm));
  registry.add(nn::make_op("layer_norm",
                           "normalises over axes axis..rank-1, then scales by gamma, adds beta", 2,
                           3, {attr_int("axis", -1, "the first normalised axis"), epsilon_attr()},
                           kOpaque, infer_layer_norm));
  registry.add(nn::make_op("instance_norm",
                           "normalises each (sample, channel) plane, per-channel scale and shift",
                           3, 3, {epsilon_attr()}, kOpaque, infer_instance_norm));
  registry.add(nn::make_op("group_norm",
                           "normalises groups of channels, per-channel scale and shift", 3, 3,
                           {attr_int("num_groups", std::nullopt, "channel groups"), epsilon_attr()},
                           kOpaque, infer_group_norm));
  registry.add(
      nn::make_op("lrn", "local response normalisation across channels", 1, 1,
                  {attr_int("size", std::nullopt, "channels in the window"),
                   attr_float("alpha", 1e-4), attr_float("beta", 0.75), attr_float("bias", 1.0)},
                  kOpaque, infer_lrn));
  registry.add(nn::make_op("lp_normalize", "divides by the Lp norm along one axis (p = 1 or 2)", 1,
                           1, {attr_int("axis", -1), attr_int("p", 2)}, kOpaque,
                           infer_lp_normalize));
}

}  // namespace kiln::op
