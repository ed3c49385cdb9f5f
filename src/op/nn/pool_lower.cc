// Computes of 2-D pooling over NCHW data (src/op/nn/pool.cc): max / avg / Lp pooling over windows
// and global pooling. The output size (ceil_mode included) comes from the result type; window
// taps outside the input read the identity (-inf for max, 0 for sums) through a bounds test that
// is emitted only on the axes where a window can leave the input.
//
// avg_pool2d divides by the taps inside the input (count_include_pad = 0) or inside the padded
// input (count_include_pad = 1; a ceil_mode window that overhangs the padding counts only up to
// the end of the padding, as PyTorch and onnxruntime do).
#include <string>
#include <vector>

#include "ir/attrs.h"
#include "kiln/error.h"
#include "op/lower_util.h"

namespace kiln::op {
namespace {

using ir::Attrs;
using Exprs = std::vector<PrimExpr>;

enum class PoolKind : uint8_t { kMax, kAvg, kLp };

struct PoolAxis {
  int64_t input = 0, output = 0, kernel = 1, stride = 1, dilation = 1, pad_before = 0,
          pad_after = 0;
  // Whether some window tap falls outside [0, input).
  bool leaves_input() const {
    return pad_before > 0 || (output - 1) * stride + (kernel - 1) * dilation - pad_before >= input;
  }
  // The taps of window `o` inside [low, high) (positions relative to the input), as an
  // expression: the count of r in [0, kernel) with low <= o * stride - pad_before + r * dilation
  // < high.
  PrimExpr taps_inside(const PrimExpr& o, int64_t low, int64_t high) const {
    PrimExpr start = o * stride - pad_before;
    auto ceil_div = [this](const PrimExpr& a) {
      return tir::floordiv(a + (dilation - 1), PrimExpr(dilation));
    };
    PrimExpr first = tir::max(ceil_div(PrimExpr(low) - start), PrimExpr(0));
    PrimExpr last = tir::min(ceil_div(PrimExpr(high) - start), PrimExpr(kernel));
    return tir::max(last - first, PrimExpr(0));
  }
};

std::vector<PoolAxis> pool_axes(const te::Tensor& data, const std::vector<int64_t>& out_shape,
                                const Attrs& attrs) {
  const std::vector<int64_t>& pool_size = attrs.get_ints("pool_size");
  const std::vector<int64_t>& strides = attrs.get_ints("strides");
  const std::vector<int64_t>& padding = attrs.get_ints("padding");
  const std::vector<int64_t>& dilation = attrs.get_ints("dilation");
  std::vector<PoolAxis> axes;
  for (size_t a = 0; a < 2; ++a) {
    axes.push_back({data->shape[2 + a], out_shape[2 + a], pool_size[a], strides[a], dilation[a],
                    padding[a], padding[a + 2]});
  }
  return axes;
}

std::vector<te::Tensor> window_pool_compute(PoolKind kind, const std::string& name,
                                            const std::vector<te::Tensor>& inputs,
                                            const Attrs& attrs, const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  std::vector<int64_t> out_shape = result_shape(result);
  std::vector<PoolAxis> axes = pool_axes(data, out_shape, attrs);
  DType dtype = data->dtype.dtype;
  tir::IterVar ry = te::reduce_axis(axes[0].kernel, "ry");
  tir::IterVar rx = te::reduce_axis(axes[1].kernel, "rx");
  std::vector<bool> checked = {false, false, axes[0].leaves_input(), axes[1].leaves_input()};
  const bool blocked = data->shape.size() == 5;  // NCHW<x>c: the channel block is the last axis
  if (blocked) checked.push_back(false);
  PrimExpr fill = kind == PoolKind::kMax ? lowest_value(dtype) : constant(dtype, 0);
  int64_t p = kind == PoolKind::kLp ? attrs.get_int("p") : 1;
  auto tap = [&](const Exprs& out) {
    Exprs in = {out[0], out[1],
                out[2] * axes[0].stride - axes[0].pad_before + PrimExpr(ry.var) * axes[0].dilation,
                out[3] * axes[1].stride - axes[1].pad_before + PrimExpr(rx.var) * axes[1].dilation};
    if (blocked) in.push_back(out[4]);
    PrimExpr x = read_or(data, in, checked, fill);
    if (kind != PoolKind::kLp) return x;
    if (p == 1) return tir::intrinsic("fabs", {x});
    if (p == 2) return x * x;
    return tir::intrinsic("pow", {tir::intrinsic("fabs", {x}), constant(dtype, double(p))});
  };
  std::vector<std::string> axis_names = {"n", "c", "y", "x"};
  if (blocked) axis_names.push_back("b");
  if (kind == PoolKind::kMax) {
    return {te::compute(
        out_shape,
        [&](const Indices& i) {
          return te::max_reduce(tap(as_exprs(i)), {ry, rx});
        },
        name, "pool", axis_names)};
  }
  te::Tensor total = te::compute(
      out_shape,
      [&](const Indices& i) {
        return te::sum(tap(as_exprs(i)), {ry, rx});
      },
      name + "_sum", "pool", axis_names);
  if (kind == PoolKind::kLp) {
    return {te::compute(
        out_shape,
        [&](const Indices& i) {
          PrimExpr sum = total(as_exprs(i));
          if (p == 1) return sum;
          if (p == 2) return tir::intrinsic("sqrt", {sum});
          return tir::intrinsic("pow", {sum, constant(dtype, 1.0 / double(p))});
        },
        name, "elemwise")};
  }
  bool include_pad = attrs.get_int("count_include_pad") != 0;
  return {te::compute(
      out_shape,
      [&](const Indices& i) {
        Exprs out = as_exprs(i);
        Exprs taps;
        for (size_t a = 0; a < 2; ++a) {
          const PoolAxis& axis = axes[a];
          int64_t low = include_pad ? -axis.pad_before : 0;
          int64_t high = include_pad ? axis.input + axis.pad_after : axis.input;
          taps.push_back(axis.taps_inside(out[2 + a], low, high));
        }
        // At least one: a window entirely in the padding (which ONNX forbids) must not divide by 0.
        PrimExpr count = tir::max(taps[0] * taps[1], PrimExpr(1));
        return total(out) / tir::cast(scalar_type(dtype), count);
      },
      name, "elemwise")};
}

std::vector<te::Tensor> global_pool_compute(bool is_max, const std::string& name,
                                            const std::vector<te::Tensor>& inputs,
                                            const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  std::vector<int64_t> out_shape = result_shape(result);
  int64_t height = data->shape[2], width = data->shape[3];
  DType dtype = data->dtype.dtype;
  tir::IterVar ry = te::reduce_axis(height, "ry");
  tir::IterVar rx = te::reduce_axis(width, "rx");
  auto tap = [&](const Indices& i) { return data(i[0], i[1], ry.var, rx.var); };
  if (is_max) {
    return {te::compute(
        out_shape,
        [&](const Indices& i) {
          return te::max_reduce(tap(i), {ry, rx});
        },
        name, "pool")};
  }
  te::Tensor total = te::compute(
      out_shape,
      [&](const Indices& i) {
        return te::sum(tap(i), {ry, rx});
      },
      name + "_sum", "pool");
  double count = static_cast<double>(height * width);
  return {te::compute(
      out_shape, [&](const Indices& i) { return total(as_exprs(i)) / constant(dtype, count); },
      name, "elemwise")};
}

OpImpl window_pool(PoolKind kind, const std::string& name) {
  return OpImpl{[kind, name](const std::vector<te::Tensor>& inputs, const Attrs& attrs,
                             const ir::Type& result) {
                  return window_pool_compute(kind, name, inputs, attrs, result);
                },
                schedule_all_stages};
}

OpImpl global_pool(bool is_max, const std::string& name) {
  return OpImpl{
      [is_max, name](const std::vector<te::Tensor>& inputs, const Attrs&, const ir::Type& result) {
        return global_pool_compute(is_max, name, inputs, result);
      },
      schedule_all_stages};
}

}  // namespace

void register_pool_impls() {
  register_impl("max_pool2d", window_pool(PoolKind::kMax, "max_pool2d"));
  register_impl("avg_pool2d", window_pool(PoolKind::kAvg, "avg_pool2d"));
  register_impl("lp_pool2d", window_pool(PoolKind::kLp, "lp_pool2d"));
  register_impl("global_avg_pool2d", global_pool(false, "global_avg_pool2d"));
  register_impl("global_max_pool2d", global_pool(true, "global_max_pool2d"));
}

}  // namespace kiln::op
