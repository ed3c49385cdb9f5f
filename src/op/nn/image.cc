// Image operators: resize2d (ONNX Resize on NCHW data, output size given as an attribute; the
// importer turns scales into sizes and passes the scales too, because ONNX maps coordinates with
// the given scale, not with output / input, when the two differ).
#include <string>
#include <vector>

#include "ir/op.h"
#include "op/nn/nn_util.h"
#include "op/op_util.h"

namespace kiln::op {
namespace {

Type infer_resize2d(const std::vector<Type>& args, const ir::Attrs& attrs) {
  constexpr std::string_view kOp = "resize2d";
  const TensorType& data = tensor_arg(args, 0, kOp);
  require_rank(data, 4, kOp, "data");
  const std::vector<int64_t>& size = nn::ints_attr(attrs, "size", 2, kOp);
  nn::require_positive(size, "size", kOp);
  const std::string& method =
      nn::string_choice(attrs, "method", {"nearest", "linear", "cubic"}, kOp);
  const std::string& mode = nn::string_choice(
      attrs, "coordinate_transformation_mode",
      {"half_pixel", "half_pixel_symmetric", "pytorch_half_pixel", "align_corners", "asymmetric",
       "tf_half_pixel_for_nearest", "tf_crop_and_resize"},
      kOp);
  const std::vector<double>& roi = attrs.get_floats("roi");
  if (mode == "tf_crop_and_resize" && roi.size() != 4) {
    type_error(kOp, "tf_crop_and_resize needs roi = [start_h, start_w, end_h, end_w], got " +
                        std::to_string(roi.size()) + " values");
  }
  nn::require_flag(attrs.get_int("antialias"), "antialias", kOp);
  nn::string_choice(attrs, "nearest_mode",
                    {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"}, kOp);
  nn::require_flag(attrs.get_int("exclude_outside"), "exclude_outside", kOp);
  const std::vector<double>& scales = attrs.get_floats("scales");
  if (!scales.empty()) {
    if (scales.size() != 2 || !(scales[0] > 0) || !(scales[1] > 0)) {
      type_error(kOp, "scales must be empty or two positive values (height, width)");
    }
  }
  if (method != "nearest" && data.dtype == DType::kBool) {
    type_error(kOp, method + " interpolation needs numeric data, got " + data.to_string());
  }
  return TensorType{data.dtype, {data.shape[0], data.shape[1], size[0], size[1]}};
}

}  // namespace

void register_image_ops(ir::OpRegistry& registry) {
  registry.add(nn::make_op(
      "resize2d", "resizes the H, W plane of NCHW data (nearest, linear or cubic)", 1, 1,
      {attr_ints("size", std::nullopt, "output height, width"),
       attr_string("method", "nearest", "nearest, linear or cubic"),
       attr_string("coordinate_transformation_mode", "half_pixel",
                   "maps output to input coordinates (ONNX names)"),
       attr_string("nearest_mode", "round_prefer_floor",
                   "rounding of the input coordinate for nearest"),
       attr_float("cubic_coeff_a", -0.75, "the cubic kernel's a"),
       attr_int("exclude_outside", 0, "zero the weights of samples outside the input"),
       attr_floats("scales", std::vector<double>{},
                   "height, width scales for the coordinate mapping; empty: output / input"),
       attr_int("antialias", 0, "linear / cubic downsampling widens the kernel by 1 / scale"),
       attr_floats("roi", std::vector<double>{},
                   "tf_crop_and_resize's region: start_h, start_w, end_h, end_w (normalized)"),
       attr_float("extrapolation_value", 0.0, "tf_crop_and_resize's value outside the input")},
      ir::OpPattern::kInjective, infer_resize2d));
}

}  // namespace kiln::op
