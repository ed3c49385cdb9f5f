// Computes of the 3-D convolutions (src/op/nn/conv3d.cc), default schedules per stage.
//
// conv3d: out[n, o, z, y, x] = sum over c in o's group, kz, ky, kx of
//   data[n, c, z*s - p + kz*d, ...] (0 in the padding) * weight[o, c % C_g, kz, ky, kx].
// conv3d_transpose: as conv2d_transpose (conv_transpose_lower.cc), a stride-1 convolution with the
// flipped kernel over the input spread out by the stride.
#include <string>
#include <vector>

#include "ir/attrs.h"
#include "kiln/error.h"
#include "op/lower_util.h"

namespace kiln::op {
namespace {

using Exprs = std::vector<PrimExpr>;

// The reduce axes (channel in group, kz, ky, kx), extent-1 axes left out, and their values.
struct ConvReduce {
  std::vector<tir::IterVar> axes;
  Exprs values;  // c, kz, ky, kx (0 for a left-out axis)
  ConvReduce(int64_t channels, const std::vector<int64_t>& kernel) {
    std::vector<int64_t> extents = {channels, kernel[0], kernel[1], kernel[2]};
    const char* names[] = {"rc", "rz", "ry", "rx"};
    for (size_t i = 0; i < 4; ++i) {
      if (extents[i] > 1) {
        axes.push_back(te::reduce_axis(extents[i], names[i]));
        values.push_back(PrimExpr(axes.back().var));
      } else {
        values.push_back(PrimExpr(0));
      }
    }
  }
  PrimExpr sum(const PrimExpr& product) const {
    return axes.empty() ? product : te::sum(product, axes);
  }
};

std::vector<te::Tensor> conv3d_compute(const std::vector<te::Tensor>& inputs,
                                       const ir::Attrs& attrs, const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  const te::Tensor& weight = inputs[1];
  std::vector<int64_t> out_shape = result_shape(result);
  const std::vector<int64_t>& strides = attrs.get_ints("strides");
  const std::vector<int64_t>& padding = attrs.get_ints("padding");
  const std::vector<int64_t>& dilation = attrs.get_ints("dilation");
  int64_t groups = attrs.get_int("groups");
  int64_t in_per_group = weight->shape[1];
  int64_t out_per_group = weight->shape[0] / groups;
  std::vector<int64_t> kernel = {weight->shape[2], weight->shape[3], weight->shape[4]};
  std::vector<bool> checked = {false, false};
  for (size_t a = 0; a < 3; ++a) {
    int64_t last = (out_shape[2 + a] - 1) * strides[a] - padding[a] + (kernel[a] - 1) * dilation[a];
    checked.push_back(padding[a] > 0 || last >= data->shape[2 + a]);
  }
  ConvReduce reduce(in_per_group, kernel);
  DType dtype = data->dtype.dtype;
  return {te::compute(
      out_shape,
      [&](const Indices& indices) {
        Exprs out = as_exprs(indices);
        PrimExpr channel =
            groups == 1
                ? reduce.values[0]
                : tir::floordiv(out[1], PrimExpr(out_per_group)) * in_per_group + reduce.values[0];
        Exprs in = {out[0], channel};
        for (size_t a = 0; a < 3; ++a) {
          in.push_back(out[2 + a] * strides[a] - padding[a] + reduce.values[1 + a] * dilation[a]);
        }
        PrimExpr product =
            read_or(data, in, checked, constant(dtype, 0)) *
            weight(out[1], reduce.values[0], reduce.values[1], reduce.values[2], reduce.values[3]);
        return reduce.sum(product);
      },
      "conv3d", "conv3d_ncdhw", {"n", "o", "z", "y", "x"})};
}

std::vector<te::Tensor> conv3d_transpose_compute(const std::vector<te::Tensor>& inputs,
                                                 const ir::Attrs& attrs, const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  const te::Tensor& weight = inputs[1];
  std::vector<int64_t> out_shape = result_shape(result);
  const std::vector<int64_t>& strides = attrs.get_ints("strides");
  const std::vector<int64_t>& padding = attrs.get_ints("padding");
  const std::vector<int64_t>& dilation = attrs.get_ints("dilation");
  int64_t groups = attrs.get_int("groups");
  int64_t in_per_group = data->shape[1] / groups;
  int64_t out_per_group = weight->shape[1];
  std::vector<int64_t> kernel = {weight->shape[2], weight->shape[3], weight->shape[4]};
  DType dtype = data->dtype.dtype;
  std::vector<int64_t> spread_shape = {data->shape[0], data->shape[1]};
  std::vector<int64_t> lead;
  for (size_t a = 0; a < 3; ++a) {
    spread_shape.push_back(out_shape[2 + a] + dilation[a] * (kernel[a] - 1));
    lead.push_back(dilation[a] * (kernel[a] - 1) - padding[a]);
  }
  te::Tensor spread = te::compute(
      spread_shape,
      [&](const Indices& indices) {
        Exprs i = as_exprs(indices);
        PrimExpr valid;
        Exprs source = {i[0], i[1]};
        for (size_t a = 0; a < 3; ++a) {
          PrimExpr offset = i[2 + a] - lead[a];
          PrimExpr row = tir::floordiv(offset, PrimExpr(strides[a]));
          PrimExpr ok = tir::logical_and(offset >= PrimExpr(0), row < PrimExpr(data->shape[2 + a]));
          if (strides[a] > 1) {
            ok = tir::logical_and(ok, tir::floormod(offset, PrimExpr(strides[a])) == PrimExpr(0));
          }
          valid = valid ? tir::logical_and(valid, ok) : ok;
          source.push_back(clamp_index(row, data->shape[2 + a]));
        }
        return tir::select(valid, data(source), constant(dtype, 0));
      },
      "conv3d_transpose_spread", "pad", {"n", "c", "z", "y", "x"});
  ConvReduce reduce(in_per_group, kernel);
  return {te::compute(
      out_shape,
      [&](const Indices& indices) {
        Exprs i = as_exprs(indices);
        PrimExpr group = groups == 1 ? PrimExpr(0) : tir::floordiv(i[1], PrimExpr(out_per_group));
        PrimExpr o = groups == 1 ? i[1] : tir::floormod(i[1], PrimExpr(out_per_group));
        PrimExpr channel = groups == 1 ? reduce.values[0] : group * in_per_group + reduce.values[0];
        Exprs at = {i[0], channel};
        Exprs w = {channel, o};
        for (size_t a = 0; a < 3; ++a) {
          at.push_back(i[2 + a] + reduce.values[1 + a] * dilation[a]);
          w.push_back(PrimExpr(kernel[a] - 1) - reduce.values[1 + a]);
        }
        return reduce.sum(spread(at) * weight(w));
      },
      "conv3d_transpose", "conv3d_transpose_ncdhw", {"n", "o", "z", "y", "x"})};
}

}  // namespace

void register_conv3d_impls() {
  register_impl("conv3d", OpImpl{conv3d_compute, schedule_all_stages});
  register_impl("conv3d_transpose", OpImpl{conv3d_transpose_compute, schedule_all_stages});
}

}  // namespace kiln::op
