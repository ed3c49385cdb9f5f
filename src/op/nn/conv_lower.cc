// Compute and default schedule of conv2d (NCHW data, OIHW weight; any stride, padding, dilation
// and groups, depthwise included).
//
// Padding is a separate stage (the padded input), so that the convolution's inner loops read
// without bounds tests; it exists only when some padding is non-zero.
#include <string>
#include <vector>

#include "ir/attrs.h"
#include "kiln/error.h"
#include "op/lower_util.h"

namespace kiln::op {
namespace {

constexpr const char* kConvTag = "conv2d_nchw";

std::vector<te::Tensor> conv2d_compute(const std::vector<te::Tensor>& inputs,
                                       const ir::Attrs& attrs, const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  const te::Tensor& weight = inputs[1];
  std::vector<int64_t> out_shape = result_shape(result);
  const std::vector<int64_t>& strides = attrs.get_ints("strides");
  const std::vector<int64_t>& padding = attrs.get_ints("padding");  // top, left, bottom, right
  const std::vector<int64_t>& dilation = attrs.get_ints("dilation");
  int64_t groups = attrs.get_int("groups");
  int64_t in_per_group = weight->shape[1];
  int64_t out_per_group = out_shape[1] / groups;
  int64_t kernel_h = weight->shape[2], kernel_w = weight->shape[3];

  te::Tensor source = data;
  if (padding[0] != 0 || padding[1] != 0 || padding[2] != 0 || padding[3] != 0) {
    std::vector<int64_t> padded_shape = {data->shape[0], data->shape[1],
                                         data->shape[2] + padding[0] + padding[2],
                                         data->shape[3] + padding[1] + padding[3]};
    DType dtype = data->dtype.dtype;
    source = te::compute(
        padded_shape,
        [&](const Indices& axes) {
          std::vector<PrimExpr> i = as_exprs(axes);
          return read_or(data, {i[0], i[1], i[2] - padding[0], i[3] - padding[1]},
                         {false, false, padding[0] + padding[2] != 0, padding[1] + padding[3] != 0},
                         constant(dtype, 0));
        },
        "conv2d_pad", "pad", {"n", "c", "h", "w"});
  }

  // Reduce axes of extent 1 are left out (depthwise: one input channel per group; 1x1 kernels).
  std::vector<tir::IterVar> axes;
  tir::IterVar rc = te::reduce_axis(in_per_group, "rc");
  tir::IterVar ry = te::reduce_axis(kernel_h, "ry");
  tir::IterVar rx = te::reduce_axis(kernel_w, "rx");
  for (const tir::IterVar& axis : {rc, ry, rx}) {
    if (axis.extent > 1) axes.push_back(axis);
  }
  auto axis_value = [](const tir::IterVar& axis) {
    return axis.extent > 1 ? PrimExpr(axis.var) : PrimExpr(0);
  };
  PrimExpr c = axis_value(rc), y = axis_value(ry), x = axis_value(rx);
  te::Tensor out = te::compute(
      out_shape,
      [&](const Indices& out_axes) {
        std::vector<PrimExpr> i = as_exprs(out_axes);
        PrimExpr channel =
            groups == 1 ? c : tir::floordiv(i[1], PrimExpr(out_per_group)) * in_per_group + c;
        PrimExpr row = i[2] * strides[0] + y * dilation[0];
        PrimExpr col = i[3] * strides[1] + x * dilation[1];
        PrimExpr product = source(i[0], channel, row, col) * weight(i[1], c, y, x);
        return axes.empty() ? product : te::sum(product, axes);
      },
      "conv2d", kConvTag, {"n", "o", "y", "x"});
  return {out};
}

// Parallel over (batch, output channel, output row); the output row is split into vectors that
// go below the reduce loops, so each reduce step updates a whole vector of outputs. (Blocked
// layouts and register tiling come with the performance work.)
void conv2d_schedule(te::Schedule& schedule, const std::vector<te::Tensor>& outputs,
                     const ScheduleContext& context) {
  for (const te::Tensor& stage : compute_stages(outputs)) schedule_stage(schedule, stage, context);
}

}  // namespace

void register_conv_impls() { register_impl("conv2d", OpImpl{conv2d_compute, conv2d_schedule}); }

}  // namespace kiln::op
