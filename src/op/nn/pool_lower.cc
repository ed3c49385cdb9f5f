// Computes of pooling over NCHW / NCDHW data (src/op/nn/pool.cc): max / avg / Lp pooling over
// windows (2 or 3 spatial dims, from the data's rank), the argmax of max pooling, and global
// pooling. The output size (ceil_mode included) comes from the result type; window
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
  size_t n = pool_size.size();
  std::vector<PoolAxis> axes;
  for (size_t a = 0; a < n; ++a) {
    axes.push_back({data->shape[2 + a], out_shape[2 + a], pool_size[a], strides[a], dilation[a],
                    padding[a], padding[a + n]});
  }
  return axes;
}

// The window of one output position: a reduce axis per spatial dim, the input position each tap
// reads, and which dims need a bounds test.
struct PoolWindow {
  std::vector<PoolAxis> axes;
  std::vector<tir::IterVar> reduce;
  std::vector<bool> checked;

  // NCHW<x>c data (rank 5 for a 2-D window): the channel block is the last axis.
  bool blocked = false;

  PoolWindow(const te::Tensor& data, const std::vector<int64_t>& out_shape, const Attrs& attrs)
      : axes(pool_axes(data, out_shape, attrs)), checked(2, false) {
    static const char* const kNames[] = {"rz", "ry", "rx"};
    for (size_t a = 0; a < axes.size(); ++a) {
      reduce.push_back(te::reduce_axis(axes[a].kernel, kNames[a + 3 - axes.size()]));
      checked.push_back(axes[a].leaves_input());
    }
    blocked = data->shape.size() == axes.size() + 3;
    if (blocked) checked.push_back(false);
  }
  // The input index read by tap (k...) of output `out` (k the reduce variables by default).
  Exprs input_index(const Exprs& out, const Exprs& taps) const {
    Exprs in = {out[0], out[1]};
    for (size_t a = 0; a < axes.size(); ++a) {
      in.push_back(out[2 + a] * axes[a].stride - axes[a].pad_before + taps[a] * axes[a].dilation);
    }
    if (blocked) in.push_back(out.back());
    return in;
  }
  Exprs reduce_vars() const {
    Exprs vars;
    for (const tir::IterVar& r : reduce) vars.push_back(PrimExpr(r.var));
    return vars;
  }
  // Whether every spatial index of `in` is inside the input.
  PrimExpr inside(const Exprs& in) const {
    PrimExpr all;
    for (size_t a = 0; a < axes.size(); ++a) {
      if (!axes[a].leaves_input()) continue;
      PrimExpr ok = tir::logical_and(in[2 + a] >= PrimExpr(0), in[2 + a] < PrimExpr(axes[a].input));
      all = all ? tir::logical_and(all, ok) : ok;
    }
    return all;
  }
};

std::vector<std::string> pool_axis_names(size_t spatial) {
  if (spatial == 3) return {"n", "c", "z", "y", "x"};
  return {"n", "c", "y", "x"};
}

std::vector<te::Tensor> window_pool_compute(PoolKind kind, const std::string& name,
                                            const std::vector<te::Tensor>& inputs,
                                            const Attrs& attrs, const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  std::vector<int64_t> out_shape = result_shape(result);
  PoolWindow window(data, out_shape, attrs);
  const std::vector<PoolAxis>& axes = window.axes;
  DType dtype = data->dtype.dtype;
  PrimExpr fill = kind == PoolKind::kMax ? lowest_value(dtype) : constant(dtype, 0);
  int64_t p = kind == PoolKind::kLp ? attrs.get_int("p") : 1;
  auto tap = [&](const Exprs& out) {
    PrimExpr x = read_or(data, window.input_index(out, window.reduce_vars()), window.checked, fill);
    if (kind != PoolKind::kLp) return x;
    if (p == 1) return tir::intrinsic("fabs", {x});
    if (p == 2) return x * x;
    return tir::intrinsic("pow", {tir::intrinsic("fabs", {x}), constant(dtype, double(p))});
  };
  std::vector<std::string> axis_names = pool_axis_names(axes.size());
  if (window.blocked) axis_names.push_back("b");
  if (kind == PoolKind::kMax) {
    return {te::compute(
        out_shape,
        [&](const Indices& i) { return te::max_reduce(tap(as_exprs(i)), window.reduce); }, name,
        "pool", axis_names)};
  }
  te::Tensor total = te::compute(
      out_shape, [&](const Indices& i) { return te::sum(tap(as_exprs(i)), window.reduce); },
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
        PrimExpr count;
        for (size_t a = 0; a < axes.size(); ++a) {
          const PoolAxis& axis = axes[a];
          int64_t low = include_pad ? -axis.pad_before : 0;
          int64_t high = include_pad ? axis.input + axis.pad_after : axis.input;
          PrimExpr taps = axis.taps_inside(out[2 + a], low, high);
          count = count ? count * taps : taps;
        }
        // At least one: a window entirely in the padding (which ONNX forbids) must not divide by 0.
        count = tir::max(count, PrimExpr(1));
        return total(out) / tir::cast(scalar_type(dtype), count);
      },
      name, "elemwise")};
}

// MaxPool's Indices: the maximum (as max pooling computes it), then the first tap in window
// order (row-major over the kernel) that holds it, then that tap's flat index in the whole input.
// Taps in the padding never count; a window with no tap inside the input (which ONNX forbids)
// gives the index of its first tap.
std::vector<te::Tensor> max_pool_indices_compute(const std::vector<te::Tensor>& inputs,
                                                 const Attrs& attrs, const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  std::vector<int64_t> out_shape = result_shape(result);
  PoolWindow window(data, out_shape, attrs);
  const std::vector<PoolAxis>& axes = window.axes;
  size_t n = axes.size();
  DType dtype = data->dtype.dtype;
  std::vector<std::string> axis_names = pool_axis_names(n);
  te::Tensor maximum = te::compute(
      out_shape,
      [&](const Indices& i) {
        Exprs in = window.input_index(as_exprs(i), window.reduce_vars());
        return te::max_reduce(read_or(data, in, window.checked, lowest_value(dtype)),
                              window.reduce);
      },
      "max_pool_indices_max", "pool", axis_names);
  int64_t window_size = 1;
  for (const PoolAxis& axis : axes) window_size *= axis.kernel;
  PoolWindow tap_window(data, out_shape, attrs);
  te::Tensor first_tap = te::compute(
      out_shape,
      [&](const Indices& i) {
        Exprs out = as_exprs(i);
        Exprs taps = tap_window.reduce_vars();
        Exprs in = tap_window.input_index(out, taps);
        PrimExpr tap_number;
        for (size_t a = 0; a < n; ++a) {
          tap_number = tap_number ? tap_number * axes[a].kernel + taps[a] : taps[a];
        }
        PrimExpr hit = read_or(data, in, tap_window.checked, lowest_value(dtype)) == maximum(out);
        if (PrimExpr inside = tap_window.inside(in)) hit = tir::logical_and(inside, hit);
        return te::min_reduce(tir::select(hit, tap_number, PrimExpr(window_size)),
                              tap_window.reduce);
      },
      "max_pool_indices_tap", "pool", axis_names);
  bool column_major = attrs.get_int("storage_order") != 0;
  return {te::compute(
      out_shape,
      [&](const Indices& i) {
        Exprs out = as_exprs(i);
        PrimExpr tap = tir::min(first_tap(out), PrimExpr(window_size - 1));
        // The tap number back to one kernel offset per dim (row-major over the kernel).
        Exprs offsets(n);
        for (size_t a = n; a-- > 0;) {
          offsets[a] = tir::floormod(tap, PrimExpr(axes[a].kernel));
          tap = tir::floordiv(tap, PrimExpr(axes[a].kernel));
        }
        Exprs in = window.input_index(out, offsets);
        int64_t plane = 1;
        for (const PoolAxis& axis : axes) plane *= axis.input;
        PrimExpr spatial;
        if (column_major) {
          int64_t stride = 1;
          for (size_t a = 0; a < n; ++a) {
            PrimExpr term = in[2 + a] * stride;
            spatial = spatial ? spatial + term : term;
            stride *= axes[a].input;
          }
        } else {
          for (size_t a = 0; a < n; ++a) {
            spatial = spatial ? spatial * axes[a].input + in[2 + a] : in[2 + a];
          }
        }
        PrimExpr channel = out[0] * data->shape[1] + out[1];
        return tir::cast(scalar_type(DType::kInt64), channel * plane + spatial);
      },
      "max_pool_indices", "elemwise", axis_names)};
}

// max_unpool: each output position p can only have come from the windows that cover it, at most
// ceil(kernel / stride) per dim; the candidates are visited in row-major order and the last one
// whose index names p wins (as a sequential scatter would). Indices of other positions are
// never looked at, which is exact for indices that a max pooling with this window computed over
// an input of the output's size (the importer checks that before choosing this operator).
std::vector<te::Tensor> max_unpool_compute(const std::vector<te::Tensor>& inputs,
                                           const Attrs& attrs, const ir::Type& result) {
  const te::Tensor& values = inputs[0];
  const te::Tensor& indices = inputs[1];
  std::vector<int64_t> out_shape = result_shape(result);
  const std::vector<int64_t>& pool_size = attrs.get_ints("pool_size");
  const std::vector<int64_t>& strides = attrs.get_ints("strides");
  const std::vector<int64_t>& padding = attrs.get_ints("padding");
  size_t n = pool_size.size();
  std::vector<int64_t> candidates;
  for (size_t a = 0; a < n; ++a) {
    candidates.push_back((pool_size[a] + strides[a] - 1) / strides[a]);
  }
  DType dtype = values->dtype.dtype;
  return {te::compute(
      out_shape,
      [&](const Indices& i) {
        Exprs out = as_exprs(i);
        PrimExpr flat = out[0] * out_shape[1] + out[1];
        for (size_t a = 0; a < n; ++a) flat = flat * out_shape[2 + a] + out[2 + a];
        // The first window covering p along each dim: ceil((p + pad - kernel + 1) / stride).
        Exprs first;
        for (size_t a = 0; a < n; ++a) {
          PrimExpr start = out[2 + a] + padding[a] - (pool_size[a] - 1);
          first.push_back(tir::floordiv(start + (strides[a] - 1), PrimExpr(strides[a])));
        }
        PrimExpr value = constant(dtype, 0);
        std::vector<int64_t> offset(n, 0);
        // Row-major walk over the candidate windows.
        while (true) {
          Exprs at = {out[0], out[1]};
          PrimExpr valid;
          for (size_t a = 0; a < n; ++a) {
            PrimExpr o = first[a] + offset[a];
            PrimExpr ok = tir::logical_and(o >= PrimExpr(0), o < PrimExpr(values->shape[2 + a]));
            // A window starting past p does not cover it (the last candidate may not).
            ok = tir::logical_and(ok, o * strides[a] - padding[a] <= out[2 + a]);
            valid = valid ? tir::logical_and(valid, ok) : ok;
            at.push_back(clamp_index(o, values->shape[2 + a]));
          }
          PrimExpr hit =
              tir::logical_and(valid, indices(at) == tir::cast(scalar_type(DType::kInt64), flat));
          value = tir::select(hit, values(at), value);
          size_t a = n;
          while (a > 0 && ++offset[a - 1] == candidates[a - 1]) offset[--a] = 0;
          if (a == 0) break;
        }
        return value;
      },
      "max_unpool", "injective")};
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
  for (const char* suffix : {"2d", "3d"}) {
    std::string max_name = std::string("max_pool") + suffix;
    std::string avg_name = std::string("avg_pool") + suffix;
    std::string lp_name = std::string("lp_pool") + suffix;
    register_impl(max_name, window_pool(PoolKind::kMax, max_name));
    register_impl(avg_name, window_pool(PoolKind::kAvg, avg_name));
    register_impl(lp_name, window_pool(PoolKind::kLp, lp_name));
    register_impl(max_name + "_indices", OpImpl{max_pool_indices_compute, schedule_all_stages});
  }
  register_impl("max_unpool", OpImpl{max_unpool_compute, schedule_all_stages});
  register_impl("global_avg_pool2d", global_pool(false, "global_avg_pool2d"));
  register_impl("global_max_pool2d", global_pool(true, "global_max_pool2d"));
}

}  // namespace kiln::op
