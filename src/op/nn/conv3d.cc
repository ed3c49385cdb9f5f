// 3-D convolutions over NCDHW data: conv3d (OIDHW weight) and conv3d_transpose (IODHW weight, the
// ONNX ConvTranspose layout). Plain reductions without a blocked layout: 3-D models are rare on
// CPU, and the 2-D operators' register tiling does not carry over.
#include <algorithm>
#include <string>
#include <vector>

#include "ir/op.h"
#include "op/nn/nn_util.h"
#include "op/op_util.h"

namespace kiln::op {
namespace {

constexpr const char* kAxisNames[] = {"depth", "height", "width"};

struct Conv3dParams {
  std::vector<int64_t> strides, padding, dilation;
  int64_t groups = 1;
  nn::Window window(size_t axis, int64_t kernel) const {
    return {kernel, strides[axis], dilation[axis], padding[axis], padding[axis + 3]};
  }
};

// Validates the attributes and the operands (static ranks, dtypes, static kernel sizes).
Conv3dParams conv3d_params(const TensorType& data, const TensorType& weight, const ir::Attrs& attrs,
                           std::string_view op_name) {
  require_rank(data, 5, op_name, "data");
  require_rank(weight, 5, op_name, "weight");
  if (data.dtype != weight.dtype) {
    type_error(op_name, "data " + data.to_string() + " and weight " + weight.to_string() +
                            " have different dtypes");
  }
  for (size_t axis = 2; axis < 5; ++axis) {
    if (!weight.shape[axis].is_static() || weight.shape[axis].value() <= 0) {
      type_error(op_name, "weight " + weight.to_string() + " needs static, non-empty kernel sizes");
    }
  }
  Conv3dParams params;
  params.strides = nn::ints_attr(attrs, "strides", 3, op_name);
  params.padding = nn::ints_attr(attrs, "padding", 6, op_name);
  params.dilation = nn::ints_attr(attrs, "dilation", 3, op_name);
  params.groups = attrs.get_int("groups");
  nn::require_positive(params.strides, "strides", op_name);
  nn::require_non_negative(params.padding, "padding", op_name);
  nn::require_positive(params.dilation, "dilation", op_name);
  nn::require_positive(params.groups, "groups", op_name);
  return params;
}

Type infer_conv3d(const std::vector<Type>& args, const ir::Attrs& attrs) {
  constexpr std::string_view kOp = "conv3d";
  const TensorType& data = tensor_arg(args, 0, kOp);
  const TensorType& weight = tensor_arg(args, 1, kOp);
  Conv3dParams params = conv3d_params(data, weight, attrs, kOp);
  const Dim& channels = data.shape[1];
  const Dim& weight_in = weight.shape[1];
  if (channels.is_static() && weight_in.is_static() &&
      channels.value() != weight_in.value() * params.groups) {
    type_error(kOp, "data has " + channels.to_string() + " input channels but weight expects " +
                        std::to_string(weight_in.value() * params.groups) + " (weight " +
                        weight.to_string() + ", groups " + std::to_string(params.groups) + ")");
  }
  nn::require_divisible_by_groups(weight.shape[0], params.groups, "output channel count", weight,
                                  kOp);
  Shape out = {data.shape[0], weight.shape[0]};
  for (size_t axis = 0; axis < 3; ++axis) {
    out.push_back(nn::window_output_dim(data.shape[2 + axis],
                                        params.window(axis, weight.shape[2 + axis].value()), false,
                                        kAxisNames[axis], kOp));
  }
  return TensorType{data.dtype, out};
}

Type infer_conv3d_transpose(const std::vector<Type>& args, const ir::Attrs& attrs) {
  constexpr std::string_view kOp = "conv3d_transpose";
  const TensorType& data = tensor_arg(args, 0, kOp);
  const TensorType& weight = tensor_arg(args, 1, kOp);
  Conv3dParams params = conv3d_params(data, weight, attrs, kOp);
  const std::vector<int64_t>& output_padding = nn::ints_attr(attrs, "output_padding", 3, kOp);
  nn::require_non_negative(output_padding, "output_padding", kOp);
  for (size_t axis = 0; axis < 3; ++axis) {
    if (output_padding[axis] >= std::max(params.strides[axis], params.dilation[axis])) {
      type_error(kOp, "output_padding " + nn::ints_to_string(output_padding) +
                          " must be smaller than the stride or the dilation");
    }
  }
  if (!dims_compatible(data.shape[1], weight.shape[0])) {
    type_error(kOp, "data has " + data.shape[1].to_string() + " input channels but weight " +
                        weight.to_string() + " expects " + weight.shape[0].to_string());
  }
  nn::require_divisible_by_groups(weight.shape[0], params.groups, "input channel count", weight,
                                  kOp);
  const Dim& per_group = weight.shape[1];
  Dim out_channels =
      per_group.is_static() ? Dim(per_group.value() * params.groups) : Dim::unknown();
  Shape out = {data.shape[0], out_channels};
  for (size_t axis = 0; axis < 3; ++axis) {
    const Dim& input = data.shape[2 + axis];
    if (!input.is_static()) {
      out.push_back(Dim::unknown());
      continue;
    }
    nn::Window window = params.window(axis, weight.shape[2 + axis].value());
    int64_t size = (input.value() - 1) * window.stride - window.pad_before - window.pad_after +
                   window.extent() + output_padding[axis];
    if (size <= 0) {
      type_error(kOp, std::string("output ") + kAxisNames[axis] + " would be " +
                          std::to_string(size) + " for input " + data.to_string());
    }
    out.push_back(Dim(size));
  }
  return TensorType{data.dtype, out};
}

std::vector<ir::AttrDef> conv3d_attrs() {
  return {attr_ints("strides", std::vector<int64_t>(3, 1), "stride along depth, height, width"),
          attr_ints("padding", std::vector<int64_t>(6, 0), "front, top, left, back, bottom, right"),
          attr_ints("dilation", std::vector<int64_t>(3, 1), "dilation along depth, height, width"),
          attr_int("groups", 1, "number of channel groups")};
}

}  // namespace

void register_conv3d_ops(ir::OpRegistry& registry) {
  registry.add(nn::make_op("conv3d", "3-D convolution, data NCDHW, weight OIDHW", 2, 2,
                           conv3d_attrs(), ir::OpPattern::kOutEWiseFusable, infer_conv3d));
  std::vector<ir::AttrDef> transpose_attrs = conv3d_attrs();
  transpose_attrs.push_back(attr_ints("output_padding", std::vector<int64_t>(3, 0),
                                      "extra planes / rows / columns at the end"));
  registry.add(nn::make_op(
      "conv3d_transpose",
      "3-D transposed convolution, data NCDHW, weight IODHW (C_in, C_out/groups)", 2, 2,
      std::move(transpose_attrs), ir::OpPattern::kOutEWiseFusable, infer_conv3d_transpose));
}

}  // namespace kiln::op
