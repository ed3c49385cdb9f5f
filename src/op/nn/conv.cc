// Convolutions (NCHW data): conv2d (OIHW weight), conv2d_transpose (IOHW weight, the ONNX
// ConvTranspose layout) and bias_add.
#include <algorithm>
#include <string>
#include <vector>

#include "ir/op.h"
#include "op/nn/nn_util.h"
#include "op/op_util.h"

namespace kiln::op {
namespace {

using nn::Window;

// The strides / padding / dilation / groups attributes shared by conv2d and conv2d_transpose,
// validated.
struct ConvParams {
  std::vector<int64_t> strides;
  std::vector<int64_t> padding;  // top, left, bottom, right
  std::vector<int64_t> dilation;
  int64_t groups = 1;

  // The window along spatial axis 0 (height) or 1 (width) for a kernel of `kernel`.
  Window window(size_t axis, int64_t kernel) const {
    return {kernel, strides[axis], dilation[axis], padding[axis], padding[axis + 2]};
  }
};

ConvParams conv_params(const ir::Attrs& attrs, std::string_view op_name) {
  ConvParams params;
  params.strides = nn::ints_attr(attrs, "strides", 2, op_name);
  params.padding = nn::ints_attr(attrs, "padding", 4, op_name);
  params.dilation = nn::ints_attr(attrs, "dilation", 2, op_name);
  params.groups = attrs.get_int("groups");
  nn::require_positive(params.strides, "strides", op_name);
  nn::require_non_negative(params.padding, "padding", op_name);
  nn::require_positive(params.dilation, "dilation", op_name);
  nn::require_positive(params.groups, "groups", op_name);
  return params;
}

// Checks the data / weight ranks, dtypes and kernel sizes common to both convolutions.
void check_conv_operands(const TensorType& data, const TensorType& weight,
                         std::string_view op_name) {
  require_rank(data, 4, op_name, "data");
  require_rank(weight, 4, op_name, "weight");
  if (data.dtype != weight.dtype) {
    type_error(op_name, "data " + data.to_string() + " and weight " + weight.to_string() +
                            " have different dtypes");
  }
  for (size_t axis = 2; axis < 4; ++axis) {
    const Dim& kernel = weight.shape[axis];
    if (kernel.is_static() && kernel.value() <= 0) {
      type_error(op_name, "weight " + weight.to_string() + " has an empty kernel");
    }
  }
}

Type infer_conv2d(const std::vector<Type>& args, const ir::Attrs& attrs) {
  constexpr std::string_view kOp = "conv2d";
  const TensorType& data = tensor_arg(args, 0, kOp);
  const TensorType& weight = tensor_arg(args, 1, kOp);
  check_conv_operands(data, weight, kOp);
  ConvParams params = conv_params(attrs, kOp);

  const Dim& channels = data.shape[1];
  const Dim& out_channels = weight.shape[0];
  const Dim& weight_in = weight.shape[1];
  if (channels.is_static() && weight_in.is_static() &&
      channels.value() != weight_in.value() * params.groups) {
    type_error(kOp, "data has " + channels.to_string() + " input channels but weight expects " +
                        std::to_string(weight_in.value() * params.groups) + " (weight " +
                        weight.to_string() + ", groups " + std::to_string(params.groups) + ")");
  }
  nn::require_divisible_by_groups(out_channels, params.groups, "output channel count", weight, kOp);

  Shape out = {data.shape[0], out_channels, Dim::unknown(), Dim::unknown()};
  for (size_t axis = 0; axis < 2; ++axis) {
    const Dim& kernel = weight.shape[2 + axis];
    if (!kernel.is_static()) continue;  // the output size cannot be known
    out[2 + axis] = nn::window_output_dim(data.shape[2 + axis], params.window(axis, kernel.value()),
                                          false, axis == 0 ? "height" : "width", kOp);
  }
  return TensorType{data.dtype, out};
}

// N*O*OH*OW output elements, each a dot product over (C/groups)*KH*KW weights.
int64_t conv2d_macs(const std::vector<Type>& args, const ir::Attrs& /*attrs*/, const Type& result) {
  if (!nn::all_static(args, result)) return 0;
  std::vector<int64_t> weight = args[1].as_tensor().static_shape();
  return result.as_tensor().numel() * weight[1] * weight[2] * weight[3];
}

// Output size of a transposed convolution along one axis: the input size of the convolution
// whose gradient it is, plus output_padding.
Dim transposed_output_dim(const Dim& input, const Window& window, int64_t output_padding,
                          std::string_view axis_name) {
  constexpr std::string_view kOp = "conv2d_transpose";
  if (!input.is_static()) return Dim::unknown();
  int64_t size = (input.value() - 1) * window.stride - window.pad_before - window.pad_after +
                 window.extent() + output_padding;
  if (size <= 0) {
    type_error(
        kOp, "output " + std::string(axis_name) + " would be " + std::to_string(size) + " (input " +
                 input.to_string() + ", stride " + std::to_string(window.stride) + ", padding " +
                 std::to_string(window.pad_before) + " + " + std::to_string(window.pad_after) +
                 ", kernel " + std::to_string(window.kernel) + ")");
  }
  return size;
}

Type infer_conv2d_transpose(const std::vector<Type>& args, const ir::Attrs& attrs) {
  constexpr std::string_view kOp = "conv2d_transpose";
  const TensorType& data = tensor_arg(args, 0, kOp);
  const TensorType& weight = tensor_arg(args, 1, kOp);
  check_conv_operands(data, weight, kOp);
  ConvParams params = conv_params(attrs, kOp);
  const std::vector<int64_t>& output_padding = nn::ints_attr(attrs, "output_padding", 2, kOp);
  nn::require_non_negative(output_padding, "output_padding", kOp);
  for (size_t axis = 0; axis < 2; ++axis) {
    // As in PyTorch: a larger output_padding would add rows that no input element reaches.
    if (output_padding[axis] >= std::max(params.strides[axis], params.dilation[axis])) {
      type_error(kOp, "output_padding " + nn::ints_to_string(output_padding) +
                          " must be smaller than the stride or the dilation (strides " +
                          nn::ints_to_string(params.strides) + ", dilation " +
                          nn::ints_to_string(params.dilation) + ")");
    }
  }

  const Dim& channels = data.shape[1];
  const Dim& weight_in = weight.shape[0];
  if (!dims_compatible(channels, weight_in)) {
    type_error(kOp, "data has " + channels.to_string() + " input channels but weight expects " +
                        weight_in.to_string() + " (weight " + weight.to_string() + ", groups " +
                        std::to_string(params.groups) + ")");
  }
  nn::require_divisible_by_groups(weight_in, params.groups, "input channel count", weight, kOp);

  const Dim& per_group = weight.shape[1];
  Dim out_channels =
      per_group.is_static() ? Dim(per_group.value() * params.groups) : Dim::unknown();
  if (params.groups == 1) out_channels = per_group;  // keeps a symbolic name
  Shape out = {data.shape[0], out_channels, Dim::unknown(), Dim::unknown()};
  for (size_t axis = 0; axis < 2; ++axis) {
    const Dim& kernel = weight.shape[2 + axis];
    if (!kernel.is_static()) continue;
    out[2 + axis] = transposed_output_dim(data.shape[2 + axis], params.window(axis, kernel.value()),
                                          output_padding[axis], axis == 0 ? "height" : "width");
  }
  return TensorType{data.dtype, out};
}

// Each of the N*C_in*H*W input elements is scattered through (C_out/groups)*KH*KW weights.
int64_t conv2d_transpose_macs(const std::vector<Type>& args, const ir::Attrs& /*attrs*/,
                              const Type& result) {
  if (!nn::all_static(args, result)) return 0;
  std::vector<int64_t> weight = args[1].as_tensor().static_shape();
  return args[0].as_tensor().numel() * weight[1] * weight[2] * weight[3];
}

Type infer_bias_add(const std::vector<Type>& args, const ir::Attrs& attrs) {
  constexpr std::string_view kOp = "bias_add";
  const TensorType& data = tensor_arg(args, 0, kOp);
  const TensorType& bias = tensor_arg(args, 1, kOp);
  if (data.rank() == 0) type_error(kOp, "data must have rank >= 1, got " + data.to_string());
  int64_t axis = normalize_axis(attrs.get_int("axis"), data.rank(), kOp);
  nn::require_channel_vector(bias, data.shape[static_cast<size_t>(axis)], data, "bias", kOp);
  return data;
}

// out[..., c, ...] = data[..., c, ...] + bias[c], computed in double for floating-point types and
// in wrapping int64 for integers.
Tensor eval_bias_add(const std::vector<Tensor>& args, const ir::Attrs& attrs,
                     const TensorType& result) {
  const Tensor& data = args[0];
  const Tensor& bias = args[1];
  int64_t axis = normalize_axis(attrs.get_int("axis"), data.ndim(), "bias_add");
  int64_t channels = data.shape()[static_cast<size_t>(axis)];
  int64_t inner = row_major_strides(data.shape())[static_cast<size_t>(axis)];
  Tensor out(result.dtype, data.shape());
  for (int64_t i = 0; i < data.numel(); ++i) {
    int64_t c = (i / inner) % channels;
    if (dtype_is_float(result.dtype)) {
      out.set_element_from_double(i, data.element_as_double(i) + bias.element_as_double(c));
    } else {
      uint64_t sum = static_cast<uint64_t>(data.element_as_int64(i)) +
                     static_cast<uint64_t>(bias.element_as_int64(c));
      out.set_element_from_int64(i, static_cast<int64_t>(sum));
    }
  }
  return out;
}

}  // namespace

void register_conv_ops(ir::OpRegistry& registry) {
  ir::OpDef conv2d =
      nn::make_op("conv2d", "2-D convolution, data NCHW, weight OIHW", 2, 2,
                  nn::conv2d_window_attrs(), ir::OpPattern::kOutEWiseFusable, infer_conv2d);
  conv2d.macs = conv2d_macs;
  registry.add(std::move(conv2d));

  std::vector<ir::AttrDef> transpose_attrs = nn::conv2d_window_attrs();
  transpose_attrs.push_back(attr_ints("output_padding", std::vector<int64_t>{0, 0},
                                      "extra rows / columns at the bottom / right"));
  ir::OpDef transpose = nn::make_op(
      "conv2d_transpose", "2-D transposed convolution, data NCHW, weight IOHW (C_in, C_out/groups)",
      2, 2, std::move(transpose_attrs), ir::OpPattern::kOutEWiseFusable, infer_conv2d_transpose);
  transpose.macs = conv2d_transpose_macs;
  registry.add(std::move(transpose));

  ir::OpDef bias_add = nn::make_op("bias_add", "adds a per-channel bias along one axis", 2, 2,
                                   {attr_int("axis", 1, "the channel axis of data")},
                                   ir::OpPattern::kBroadcast, infer_bias_add);
  bias_add.evaluate = eval_bias_add;
  registry.add(std::move(bias_add));
}

}  // namespace kiln::op
