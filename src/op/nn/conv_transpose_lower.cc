// Compute of conv2d_transpose (NCHW data, IOHW weight; strides, padding, dilation, groups,
// output_padding), as a stride-1 convolution over the input spread out by the stride:
//
//   spread[n, c, u, v] = data[n, c, (u - lead_h) / s_h, (v - lead_w) / s_w] where the division is
//                        exact and in range, else 0;  lead = dilation * (kernel - 1) - pad_before
//   out[n, o, y, x]    = sum over c in o's group, ky, kx of
//                        spread[n, c, y + ky * d_h, x + kx * d_w] * weight[c, o % O_g, K_h-1-ky,
//                        K_w-1-kx]
//
// The spread stage makes the convolution's inner loops free of divisibility tests at the price
// of stride^2 multiplications by zero; output_padding only extends the output, which the spread
// stage's range covers. Default schedule: each stage on its own (injective, then reduction).
#include <string>
#include <vector>

#include "ir/attrs.h"
#include "kiln/error.h"
#include "op/lower_util.h"

namespace kiln::op {
namespace {

std::vector<te::Tensor> conv2d_transpose_compute(const std::vector<te::Tensor>& inputs,
                                                 const ir::Attrs& attrs, const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  const te::Tensor& weight = inputs[1];
  std::vector<int64_t> out_shape = result_shape(result);
  const std::vector<int64_t>& strides = attrs.get_ints("strides");
  const std::vector<int64_t>& padding = attrs.get_ints("padding");  // top, left, bottom, right
  const std::vector<int64_t>& dilation = attrs.get_ints("dilation");
  int64_t groups = attrs.get_int("groups");
  int64_t in_per_group = data->shape[1] / groups;
  int64_t out_per_group = weight->shape[1];
  int64_t kernel[2] = {weight->shape[2], weight->shape[3]};
  int64_t lead[2];
  for (size_t axis = 0; axis < 2; ++axis) {
    lead[axis] = dilation[axis] * (kernel[axis] - 1) - padding[axis];
  }
  DType dtype = data->dtype.dtype;

  std::vector<int64_t> spread_shape = {data->shape[0], data->shape[1],
                                       out_shape[2] + dilation[0] * (kernel[0] - 1),
                                       out_shape[3] + dilation[1] * (kernel[1] - 1)};
  te::Tensor spread = te::compute(
      spread_shape,
      [&](const Indices& axes) {
        std::vector<PrimExpr> i = as_exprs(axes);
        PrimExpr valid;
        std::vector<PrimExpr> source = {i[0], i[1]};
        for (size_t axis = 0; axis < 2; ++axis) {
          PrimExpr offset = i[2 + axis] - lead[axis];
          int64_t stride = strides[axis];
          PrimExpr row = tir::floordiv(offset, PrimExpr(stride));
          PrimExpr ok =
              tir::logical_and(offset >= PrimExpr(0), row < PrimExpr(data->shape[2 + axis]));
          if (stride > 1) {
            ok = tir::logical_and(ok, tir::floormod(offset, PrimExpr(stride)) == PrimExpr(0));
          }
          valid = valid ? tir::logical_and(valid, ok) : ok;
          source.push_back(clamp_index(row, data->shape[2 + axis]));
        }
        return tir::select(valid, data(source), constant(dtype, 0));
      },
      "conv2d_transpose_spread", "pad", {"n", "c", "h", "w"});

  // Reduce axes of extent 1 are left out (one channel per group, 1x1 kernels).
  tir::IterVar rc = te::reduce_axis(in_per_group, "rc");
  tir::IterVar ry = te::reduce_axis(kernel[0], "ry");
  tir::IterVar rx = te::reduce_axis(kernel[1], "rx");
  std::vector<tir::IterVar> reduce_axes;
  for (const tir::IterVar& axis : {rc, ry, rx}) {
    if (axis.extent > 1) reduce_axes.push_back(axis);
  }
  auto axis_value = [](const tir::IterVar& axis) {
    return axis.extent > 1 ? PrimExpr(axis.var) : PrimExpr(0);
  };
  PrimExpr c = axis_value(rc), ky = axis_value(ry), kx = axis_value(rx);
  te::Tensor out = te::compute(
      out_shape,
      [&](const Indices& axes) {
        std::vector<PrimExpr> i = as_exprs(axes);
        PrimExpr group = groups == 1 ? PrimExpr(0) : tir::floordiv(i[1], PrimExpr(out_per_group));
        PrimExpr o = groups == 1 ? i[1] : tir::floormod(i[1], PrimExpr(out_per_group));
        PrimExpr channel = groups == 1 ? c : group * in_per_group + c;
        PrimExpr product =
            spread(i[0], channel, i[2] + ky * dilation[0], i[3] + kx * dilation[1]) *
            weight(channel, o, PrimExpr(kernel[0] - 1) - ky, PrimExpr(kernel[1] - 1) - kx);
        return reduce_axes.empty() ? product : te::sum(product, reduce_axes);
      },
      "conv2d_transpose", "conv2d_transpose_nchw", {"n", "o", "h", "w"});
  return {out};
}

}  // namespace

void register_conv_transpose_impls() {
  register_impl("conv2d_transpose", OpImpl{conv2d_transpose_compute, schedule_all_stages});
}

}  // namespace kiln::op
