// Sampling operators: values read at computed (fractional) positions of NCHW / NCDHW data.
// grid_sample (ONNX GridSample) samples at the normalized coordinates of a grid; roi_align (ONNX
// RoiAlign) averages or maxes bilinear samples of regions; col2im (ONNX Col2Im) sums sliding
// blocks back into an image, the inverse layout of im2col; deform_conv2d (ONNX DeformConv) is a
// convolution whose taps are bilinear samples at learned offsets, scaled by a mask.
#include <string>
#include <vector>

#include "ir/op.h"
#include "op/nn/nn_util.h"
#include "op/op_util.h"

namespace kiln::op {
namespace {

// data [N, C, D1..Dr] (r = 2 or 3), grid [N, O1..Or, r] -> [N, C, O1..Or].
Type infer_grid_sample(const std::vector<Type>& args, const ir::Attrs& attrs) {
  constexpr std::string_view kOp = "grid_sample";
  const TensorType& data = tensor_arg(args, 0, kOp);
  const TensorType& grid = tensor_arg(args, 1, kOp);
  require_float(data, kOp, "data");
  require_float(grid, kOp, "grid");
  if (data.rank() != 4 && data.rank() != 5) {
    type_error(kOp, "data must have rank 4 (NCHW) or 5 (NCDHW), got " + data.to_string());
  }
  int64_t r = data.rank() - 2;
  if (grid.rank() != data.rank() || !dims_compatible(grid.shape[0], data.shape[0]) ||
      !dims_compatible(grid.shape.back(), Dim(r))) {
    type_error(kOp, "grid must have shape [N, out spatial..., " + std::to_string(r) +
                        "] for data " + data.to_string() + ", got " + grid.to_string());
  }
  nn::string_choice(attrs, "mode", {"linear", "nearest", "cubic"}, kOp);
  nn::string_choice(attrs, "padding_mode", {"zeros", "border", "reflection"}, kOp);
  nn::require_flag(attrs.get_int("align_corners"), "align_corners", kOp);
  Shape out = {data.shape[0], data.shape[1]};
  for (int64_t a = 1; a <= r; ++a) out.push_back(grid.shape[static_cast<size_t>(a)]);
  return TensorType{data.dtype, out};
}

// data [N, C, H, W], rois [R, 4], batch_indices [R] -> [R, C, output_height, output_width].
Type infer_roi_align(const std::vector<Type>& args, const ir::Attrs& attrs) {
  constexpr std::string_view kOp = "roi_align";
  const TensorType& data = tensor_arg(args, 0, kOp);
  const TensorType& rois = tensor_arg(args, 1, kOp);
  const TensorType& batch = tensor_arg(args, 2, kOp);
  require_rank(data, 4, kOp, "data");
  require_float(data, kOp, "data");
  require_float(rois, kOp, "rois");
  if (rois.rank() != 2 || !dims_compatible(rois.shape[1], Dim(4))) {
    type_error(kOp, "rois must have shape [num_rois, 4], got " + rois.to_string());
  }
  if (batch.rank() != 1 || !dims_compatible(batch.shape[0], rois.shape[0]) ||
      (batch.dtype != DType::kInt64 && batch.dtype != DType::kInt32)) {
    type_error(kOp, "batch_indices must be int64[num_rois] for rois " + rois.to_string() +
                        ", got " + batch.to_string());
  }
  nn::string_choice(attrs, "mode", {"avg", "max"}, kOp);
  nn::string_choice(attrs, "coordinate_transformation_mode", {"half_pixel", "output_half_pixel"},
                    kOp);
  int64_t height = attrs.get_int("output_height"), width = attrs.get_int("output_width");
  nn::require_positive(height, "output_height", kOp);
  nn::require_positive(width, "output_width", kOp);
  nn::require_positive(attrs.get_int("sampling_ratio"), "sampling_ratio", kOp);
  return TensorType{data.dtype, {rois.shape[0], data.shape[1], Dim(height), Dim(width)}};
}

// The number of sliding blocks along each image dim (ONNX Col2Im / im2col).
std::vector<int64_t> col2im_blocks(const ir::Attrs& attrs) {
  constexpr std::string_view kOp = "col2im";
  const std::vector<int64_t>& image = attrs.get_ints("image_shape");
  size_t n = image.size();
  const std::vector<int64_t>& block = nn::ints_attr(attrs, "block_shape", n, kOp);
  const std::vector<int64_t>& dilations = nn::ints_attr(attrs, "dilations", n, kOp);
  const std::vector<int64_t>& strides = nn::ints_attr(attrs, "strides", n, kOp);
  const std::vector<int64_t>& pads = nn::ints_attr(attrs, "pads", 2 * n, kOp);
  nn::require_positive(image, "image_shape", kOp);
  nn::require_positive(block, "block_shape", kOp);
  nn::require_positive(dilations, "dilations", kOp);
  nn::require_positive(strides, "strides", kOp);
  nn::require_non_negative(pads, "pads", kOp);
  std::vector<int64_t> blocks;
  for (size_t d = 0; d < n; ++d) {
    int64_t span = image[d] + pads[d] + pads[d + n] - (dilations[d] * (block[d] - 1) + 1);
    if (span < 0) {
      type_error(kOp, "block_shape " + nn::ints_to_string(block) +
                          " (dilated) is larger than "
                          "the padded image_shape " +
                          nn::ints_to_string(image));
    }
    blocks.push_back(span / strides[d] + 1);
  }
  return blocks;
}

// data [N, C * prod(block_shape), L] -> [N, C, image_shape...], L the number of blocks.
Type infer_col2im(const std::vector<Type>& args, const ir::Attrs& attrs) {
  constexpr std::string_view kOp = "col2im";
  const TensorType& data = tensor_arg(args, 0, kOp);
  require_rank(data, 3, kOp, "data");
  const std::vector<int64_t>& image = attrs.get_ints("image_shape");
  if (image.empty()) type_error(kOp, "image_shape must not be empty");
  std::vector<int64_t> blocks = col2im_blocks(attrs);
  int64_t kernel = 1, count = 1;
  for (int64_t k : attrs.get_ints("block_shape")) kernel *= k;
  for (int64_t b : blocks) count *= b;
  if (!dims_compatible(data.shape[2], Dim(count))) {
    type_error(kOp, "data " + data.to_string() + " must hold " + std::to_string(count) +
                        " blocks in its last dim for image_shape " + nn::ints_to_string(image) +
                        " and block_shape " + nn::ints_to_string(attrs.get_ints("block_shape")));
  }
  Dim channels = Dim::unknown();
  if (data.shape[1].is_static()) {
    if (data.shape[1].value() % kernel != 0) {
      type_error(kOp, "data " + data.to_string() + " must have C * " + std::to_string(kernel) +
                          " (the block size) rows");
    }
    channels = Dim(data.shape[1].value() / kernel);
  }
  Shape out = {data.shape[0], channels};
  for (int64_t extent : image) out.push_back(Dim(extent));
  return TensorType{data.dtype, out};
}

// data [N, C, H, W], weight [O, C/groups, KH, KW], offset [N, G*2*KH*KW, OH, OW], mask
// [N, G*KH*KW, OH, OW] (G = offset_groups) -> [N, O, OH, OW], OH and OW the window's output size.
Type infer_deform_conv2d(const std::vector<Type>& args, const ir::Attrs& attrs) {
  constexpr std::string_view kOp = "deform_conv2d";
  const TensorType& data = tensor_arg(args, 0, kOp);
  const TensorType& weight = tensor_arg(args, 1, kOp);
  const TensorType& offset = tensor_arg(args, 2, kOp);
  const TensorType& mask = tensor_arg(args, 3, kOp);
  require_rank(data, 4, kOp, "data");
  require_rank(weight, 4, kOp, "weight");
  require_float(data, kOp, "data");
  for (const TensorType* other : {&weight, &offset, &mask}) require_same_dtype(data, *other, kOp);
  const std::vector<int64_t>& strides = nn::ints_attr(attrs, "strides", 2, kOp);
  const std::vector<int64_t>& padding = nn::ints_attr(attrs, "padding", 4, kOp);
  const std::vector<int64_t>& dilation = nn::ints_attr(attrs, "dilation", 2, kOp);
  nn::require_positive(strides, "strides", kOp);
  nn::require_non_negative(padding, "padding", kOp);
  nn::require_positive(dilation, "dilation", kOp);
  int64_t groups = attrs.get_int("groups"), offset_groups = attrs.get_int("offset_groups");
  nn::require_positive(groups, "groups", kOp);
  nn::require_positive(offset_groups, "offset_groups", kOp);
  if (!data.is_static() || !weight.is_static()) {
    type_error(kOp, "data " + data.to_string() + " and weight " + weight.to_string() +
                        " must have static shapes");
  }
  int64_t channels = data.shape[1].value(), out_channels = weight.shape[0].value();
  if (channels % groups != 0 || out_channels % groups != 0 ||
      weight.shape[1].value() * groups != channels || channels % offset_groups != 0) {
    type_error(kOp, "data " + data.to_string() + " and weight " + weight.to_string() +
                        " do not fit groups " + std::to_string(groups) + " and offset_groups " +
                        std::to_string(offset_groups) +
                        " (weight must be [O, C/groups, KH, KW], C divisible by both)");
  }
  int64_t taps = weight.shape[2].value() * weight.shape[3].value();
  Shape out = {data.shape[0], weight.shape[0]};
  for (size_t axis = 0; axis < 2; ++axis) {
    nn::Window window{weight.shape[2 + axis].value(), strides[axis], dilation[axis], padding[axis],
                      padding[axis + 2]};
    out.push_back(nn::window_output_dim(data.shape[2 + axis], window, false,
                                        axis == 0 ? "height" : "width", kOp));
  }
  nn::require_shape(offset, {out[0], Dim(offset_groups * 2 * taps), out[2], out[3]}, "offset",
                    "[N, offset_groups * 2 * KH * KW, OH, OW]", kOp);
  nn::require_shape(mask, {out[0], Dim(offset_groups * taps), out[2], out[3]}, "mask",
                    "[N, offset_groups * KH * KW, OH, OW]", kOp);
  return TensorType{data.dtype, out};
}

std::vector<ir::AttrDef> deform_conv2d_attrs() {
  std::vector<ir::AttrDef> attrs = nn::conv2d_window_attrs();
  attrs.push_back(
      attr_int("offset_groups", 1, "number of channel groups sharing one offset and mask"));
  return attrs;
}

}  // namespace

void register_sample_ops(ir::OpRegistry& registry) {
  registry.add(nn::make_op(
      "grid_sample",
      "samples NCHW / NCDHW data at a grid's normalized coordinates (ONNX GridSample)", 2, 2,
      {attr_string("mode", "linear", "linear, nearest or cubic interpolation"),
       attr_string("padding_mode", "zeros", "zeros, border or reflection outside the data"),
       attr_int("align_corners", 0, "-1 and 1 are the corner pixels' centres (else their edges)")},
      ir::OpPattern::kInjective, infer_grid_sample));
  registry.add(nn::make_op(
      "roi_align", "average / max of bilinear samples of NCHW regions (ONNX RoiAlign)", 3, 3,
      {attr_string("mode", "avg", "avg or max over each bin's samples"),
       attr_string("coordinate_transformation_mode", "half_pixel",
                   "half_pixel (shift rois by -0.5) or output_half_pixel"),
       attr_int("output_height", 1, "bins per roi along the height"),
       attr_int("output_width", 1, "bins per roi along the width"),
       attr_int("sampling_ratio", std::nullopt, "samples per bin along each axis (> 0)"),
       attr_float("spatial_scale", 1.0, "rois' scale to data coordinates")},
      ir::OpPattern::kOpaque, infer_roi_align));
  registry.add(nn::make_op(
      "col2im", "sums sliding blocks [N, C*K, L] into images [N, C, ...] (ONNX Col2Im)", 1, 1,
      {attr_ints("image_shape", std::nullopt, "the image's spatial size"),
       attr_ints("block_shape", std::nullopt, "the block's spatial size"),
       attr_ints("dilations", std::nullopt, "dilation per spatial dim"),
       attr_ints("pads", std::nullopt, "begin pads per spatial dim, then end pads"),
       attr_ints("strides", std::nullopt, "stride per spatial dim")},
      ir::OpPattern::kOpaque, infer_col2im));
  registry.add(nn::make_op(
      "deform_conv2d",
      "2-D deformable convolution (ONNX DeformConv): data NCHW, weight OIHW, offset, mask", 4, 4,
      deform_conv2d_attrs(), ir::OpPattern::kOutEWiseFusable, infer_deform_conv2d));
}

}  // namespace kiln::op
