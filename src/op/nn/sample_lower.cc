// Computes of the sampling operators (src/op/nn/sample.cc).
//
// grid_sample follows the ONNX reference step by step, one output element per grid point:
//  1. each normalized coordinate (grid's last dim lists x, y[, z]: the data's dims reversed) is
//     denormalized: align_corners maps -1 / 1 to the corner pixels' centres, else to their edges;
//  2. nearest rounds it half to even (as PyTorch does);
//  3. a coordinate outside [lo, hi] (the edges, or the centres with align_corners) is clamped to
//     [0, size - 1] (border) or reflected back in (reflection);
//  4. the taps (1, 2 or 4 per dim) are read with the padding mode: zeros reads 0 outside the data,
//     border clamps the index, reflection reflects it;
//  5. linear / cubic weights (cubic: Keys' kernel, a = -0.75) combine the taps, the last dim
//     first.
// Coordinates and weights are computed in float32 (float64 for float64 data).
//
// roi_align follows the ONNX reference (and onnxruntime): per bin, sampling_ratio^2 samples at
// the centres of a regular grid; a sample more than one pixel outside the data counts as 0;
// inside, its coordinates are clamped to the data and it is the bilinear mix of 4 pixels. avg
// averages the samples; max takes, per sample, the largest of the 4 weighted pixels, then the
// largest sample.
//
// col2im sums, per image pixel, the block entries that land on it: for each kernel offset k
// along a dim, the block b = (pixel + pad - k * dilation) / stride when that divides exactly and
// b is a block; one reduction over the kernel offsets.
//
// deform_conv2d: out[n, o, y, x] = sum over the group's input channels c and the taps (i, j) of
// weight[o, c, i, j] * mask[n, g*KH*KW + i*KW + j, y, x] * bilinear(data[n, c], h, w), where
// g is c's offset group, h = y*stride - pad + i*dilation + offset[n, 2*(g*KH*KW + i*KW + j), y, x]
// and w likewise with the next offset channel; the bilinear sample reads 0 outside the data (the
// reference samples with GridSample, align_corners, zeros padding). One reduction.
#include <string>
#include <vector>

#include "ir/attrs.h"
#include "kiln/error.h"
#include "op/lower_util.h"

namespace kiln::op {
namespace {

using tir::cast;
using tir::select;
using Exprs = std::vector<PrimExpr>;

// One spatial dim of the sampled data.
struct SampleAxis {
  int64_t size = 1;
  double lo = 0, hi = 0;  // the reflection bounds
  DataType math;

  PrimExpr c(double value) const { return tir::make_const(math, value); }

  // Reflects x into [lo, hi] by its nearer bound, as often as needed (ONNX's _gs_reflect).
  PrimExpr reflect(const PrimExpr& x) const {
    double range = hi - lo;
    if (range <= 0) return c(lo);  // a single pixel with align_corners: nowhere else to go
    auto fold = [&](const PrimExpr& distance, double near, double far) {
      PrimExpr times = tir::intrinsic("floor", {distance / c(range)});
      PrimExpr rest = distance - times * c(range);
      PrimExpr even = times - c(2) * tir::intrinsic("floor", {times / c(2)}) == c(0);
      return select(even, c(near) + (near < far ? rest : -rest),
                    c(far) + (near < far ? -rest : rest));
    };
    return select(x < c(lo), fold(c(lo) - x, lo, hi),
                  select(x > c(hi), fold(x - c(hi), hi, lo), x));
  }
};

// A tap's index along one dim under the padding mode: the index to read (always in range) and,
// for zeros padding, whether the tap is inside the data.
struct TapIndex {
  PrimExpr index;
  PrimExpr inside;  // null: always inside
};

TapIndex tap_index(const SampleAxis& axis, const PrimExpr& i, const std::string& padding) {
  if (padding == "zeros") {
    PrimExpr inside = tir::logical_and(i >= PrimExpr(0), i < PrimExpr(axis.size));
    return {clamp_index(i, axis.size), inside};
  }
  if (padding == "border") return {clamp_index(i, axis.size), PrimExpr()};
  PrimExpr reflected = axis.reflect(cast(axis.math, i));
  return {clamp_index(cast(tir::index_type(), reflected), axis.size), PrimExpr()};
}

// Keys' cubic convolution weights of the taps at distances 1 + t, t, 1 - t, 2 - t.
Exprs cubic_weights(const SampleAxis& axis, const PrimExpr& t) {
  const double a = -0.75;
  auto k = [&](double value) { return axis.c(value); };
  auto far = [&](const PrimExpr& x) {
    return ((k(a) * x - k(5 * a)) * x + k(8 * a)) * x - k(4 * a);
  };
  auto near = [&](const PrimExpr& x) { return (k(a + 2) * x - k(a + 3)) * x * x + k(1); };
  return {far(t + k(1)), near(t), near(k(1) - t), far(k(2) - t)};
}

std::vector<te::Tensor> grid_sample_compute(const std::vector<te::Tensor>& inputs,
                                            const ir::Attrs& attrs, const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  const te::Tensor& grid = inputs[1];
  std::vector<int64_t> out_shape = result_shape(result);
  const std::string& mode = attrs.get_string("mode");
  const std::string& padding = attrs.get_string("padding_mode");
  bool align_corners = attrs.get_int("align_corners") != 0;
  DType dtype = data->dtype.dtype;
  DataType math = scalar_type(dtype == DType::kFloat64 ? DType::kFloat64 : DType::kFloat32);
  size_t r = data->shape.size() - 2;
  std::vector<SampleAxis> axes;
  for (size_t a = 0; a < r; ++a) {
    double size = static_cast<double>(data->shape[2 + a]);
    axes.push_back(align_corners ? SampleAxis{data->shape[2 + a], 0, size - 1, math}
                                 : SampleAxis{data->shape[2 + a], -0.5, size - 0.5, math});
  }

  return {te::compute(
      out_shape,
      [&](const Indices& indices) {
        Exprs out = as_exprs(indices);
        std::vector<PrimExpr> coordinates;
        for (size_t a = 0; a < r; ++a) {
          const SampleAxis& axis = axes[a];
          Exprs at = {out[0]};
          for (size_t d = 0; d < r; ++d) at.push_back(out[2 + d]);
          at.push_back(PrimExpr(static_cast<int64_t>(r - 1 - a)));
          PrimExpr n = cast(math, grid(at));
          double size = static_cast<double>(axis.size);
          PrimExpr x = align_corners ? (n + axis.c(1)) / axis.c(2) * axis.c(size - 1)
                                     : ((n + axis.c(1)) * axis.c(size) - axis.c(1)) / axis.c(2);
          if (mode == "nearest") x = tir::intrinsic("round", {x});  // half to even
          if (padding != "zeros") {
            PrimExpr outside = tir::logical_or(x<axis.c(axis.lo), x> axis.c(axis.hi));
            PrimExpr moved = padding == "border"
                                 ? tir::min(tir::max(x, axis.c(0)), axis.c(size - 1))
                                 : axis.reflect(x);
            x = select(outside, moved, x);
          }
          coordinates.push_back(x);
        }
        // Per dim: the taps' indices and weights.
        std::vector<std::vector<TapIndex>> taps(r);
        std::vector<Exprs> weights(r);
        for (size_t a = 0; a < r; ++a) {
          const SampleAxis& axis = axes[a];
          const PrimExpr& x = coordinates[a];
          if (mode == "nearest") {
            taps[a].push_back(tap_index(axis, cast(tir::index_type(), x), padding));
            weights[a].push_back(axis.c(1));
            continue;
          }
          PrimExpr low = tir::intrinsic("floor", {x});
          PrimExpr t = x - low;
          PrimExpr base = cast(tir::index_type(), low);
          if (mode == "linear") {
            weights[a] = {axis.c(1) - t, t};
            for (int64_t k = 0; k < 2; ++k) taps[a].push_back(tap_index(axis, base + k, padding));
          } else {
            weights[a] = cubic_weights(axis, t);
            for (int64_t k = -1; k <= 2; ++k) {
              taps[a].push_back(tap_index(axis, base + k, padding));
            }
          }
        }
        // Weighted sum over the taps, the last dim innermost.
        auto combine = [&](size_t a, Exprs index, PrimExpr inside, auto& self) -> PrimExpr {
          if (a == r) {
            PrimExpr value = cast(math, data(index));
            return inside ? select(inside, value, tir::make_const(math, 0)) : value;
          }
          PrimExpr total;
          for (size_t k = 0; k < taps[a].size(); ++k) {
            Exprs next = index;
            next.push_back(taps[a][k].index);
            PrimExpr next_inside = inside;
            if (taps[a][k].inside) {
              next_inside =
                  inside ? tir::logical_and(inside, taps[a][k].inside) : taps[a][k].inside;
            }
            PrimExpr term = self(a + 1, next, next_inside, self);
            if (mode != "nearest") term = weights[a][k] * term;
            total = total ? total + term : term;
          }
          return total;
        };
        return cast(scalar_type(dtype),
                    combine(size_t{0}, Exprs{out[0], out[1]}, PrimExpr(), combine));
      },
      "grid_sample", "injective")};
}

std::vector<te::Tensor> roi_align_compute(const std::vector<te::Tensor>& inputs,
                                          const ir::Attrs& attrs, const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  const te::Tensor& rois = inputs[1];
  const te::Tensor& batch = inputs[2];
  std::vector<int64_t> out_shape = result_shape(result);
  DType dtype = data->dtype.dtype;
  DataType math = scalar_type(dtype == DType::kFloat64 ? DType::kFloat64 : DType::kFloat32);
  auto c = [math](double value) { return tir::make_const(math, value); };
  bool is_max = attrs.get_string("mode") == "max";
  bool half_pixel = attrs.get_string("coordinate_transformation_mode") == "half_pixel";
  double scale = attrs.get_float("spatial_scale");
  int64_t grid = attrs.get_int("sampling_ratio");
  int64_t height = data->shape[2], width = data->shape[3];
  tir::IterVar iy = te::reduce_axis(grid, "iy");
  tir::IterVar ix = te::reduce_axis(grid, "ix");

  auto sample = [&](const Exprs& out) {
    PrimExpr r = out[0];
    auto roi = [&](int64_t k) {
      return cast(math, rois(r, PrimExpr(k))) * c(scale) - c(half_pixel ? 0.5 : 0.0);
    };
    PrimExpr start_x = roi(0), start_y = roi(1);
    PrimExpr roi_w = roi(2) - start_x, roi_h = roi(3) - start_y;
    if (!half_pixel) {  // output_half_pixel: at least one pixel
      roi_w = tir::max(roi_w, c(1));
      roi_h = tir::max(roi_h, c(1));
    }
    PrimExpr bin_h = roi_h / c(double(out_shape[2])), bin_w = roi_w / c(double(out_shape[3]));
    PrimExpr y = start_y + cast(math, out[2]) * bin_h +
                 (cast(math, PrimExpr(iy.var)) + c(0.5)) * bin_h / c(double(grid));
    PrimExpr x = start_x + cast(math, out[3]) * bin_w +
                 (cast(math, PrimExpr(ix.var)) + c(0.5)) * bin_w / c(double(grid));
    PrimExpr outside = tir::logical_or(tir::logical_or(y<c(-1), y> c(double(height))),
                                       tir::logical_or(x<c(-1), x> c(double(width))));
    // Per axis: the low / high pixel and the clamped coordinate's fraction above the low one.
    auto axis = [&](PrimExpr v, int64_t size) {
      v = tir::max(v, c(0));
      PrimExpr low = cast(tir::index_type(), v);
      PrimExpr at_end = low >= PrimExpr(size - 1);
      PrimExpr low_index = tir::min(low, PrimExpr(size - 1));
      PrimExpr high_index = select(at_end, PrimExpr(size - 1), low + 1);
      PrimExpr fraction = select(at_end, c(0), v - cast(math, low));
      return std::vector<PrimExpr>{low_index, high_index, fraction};
    };
    std::vector<PrimExpr> ya = axis(y, height), xa = axis(x, width);
    PrimExpr n = clamp_index(cast(tir::index_type(), batch(r)), data->shape[0]);
    auto pixel = [&](const PrimExpr& yi, const PrimExpr& xi) {
      return cast(math, data(n, out[1], yi, xi));
    };
    PrimExpr ly = ya[2], lx = xa[2], hy = c(1) - ly, hx = c(1) - lx;
    std::vector<PrimExpr> terms = {hy * hx * pixel(ya[0], xa[0]), hy * lx * pixel(ya[0], xa[1]),
                                   ly * hx * pixel(ya[1], xa[0]), ly * lx * pixel(ya[1], xa[1])};
    PrimExpr value;
    if (is_max) {
      value = tir::max(tir::max(terms[0], terms[1]), tir::max(terms[2], terms[3]));
    } else {
      value = terms[0] + terms[1] + terms[2] + terms[3];
    }
    return select(outside, c(0), value);
  };
  std::vector<std::string> names = {"r", "c", "y", "x"};
  if (is_max) {
    te::Tensor best = te::compute(
        out_shape,
        [&](const Indices& i) {
          return te::max_reduce(sample(as_exprs(i)), {iy, ix});
        },
        "roi_align_max", "pool", names);
    return {te::compute(
        out_shape, [&](const Indices& i) { return cast(scalar_type(dtype), best(as_exprs(i))); },
        "roi_align", "elemwise", names)};
  }
  te::Tensor total = te::compute(
      out_shape,
      [&](const Indices& i) {
        return te::sum(sample(as_exprs(i)), {iy, ix});
      },
      "roi_align_sum", "pool", names);
  return {te::compute(
      out_shape,
      [&](const Indices& i) {
        return cast(scalar_type(dtype), total(as_exprs(i)) / c(double(grid * grid)));
      },
      "roi_align", "elemwise", names)};
}

std::vector<te::Tensor> col2im_compute(const std::vector<te::Tensor>& inputs,
                                       const ir::Attrs& attrs, const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  std::vector<int64_t> out_shape = result_shape(result);
  const std::vector<int64_t>& block = attrs.get_ints("block_shape");
  const std::vector<int64_t>& dilations = attrs.get_ints("dilations");
  const std::vector<int64_t>& strides = attrs.get_ints("strides");
  const std::vector<int64_t>& pads = attrs.get_ints("pads");
  size_t n = block.size();
  std::vector<int64_t> blocks;
  for (size_t d = 0; d < n; ++d) {
    int64_t span = out_shape[2 + d] + pads[d] + pads[d + n] - (dilations[d] * (block[d] - 1) + 1);
    blocks.push_back(span / strides[d] + 1);
  }
  std::vector<tir::IterVar> offsets;
  for (size_t d = 0; d < n; ++d)
    offsets.push_back(te::reduce_axis(block[d], "k" + std::to_string(d)));
  DType dtype = data->dtype.dtype;
  return {te::compute(
      out_shape,
      [&](const Indices& i) {
        Exprs out = as_exprs(i);
        PrimExpr valid, kernel_index, block_index;
        for (size_t d = 0; d < n; ++d) {
          PrimExpr k(offsets[d].var);
          PrimExpr t = out[2 + d] + pads[d] - k * dilations[d];
          PrimExpr b = tir::floordiv(t, PrimExpr(strides[d]));
          PrimExpr ok = tir::logical_and(t >= PrimExpr(0), b < PrimExpr(blocks[d]));
          if (strides[d] > 1) {
            ok = tir::logical_and(ok, tir::floormod(t, PrimExpr(strides[d])) == PrimExpr(0));
          }
          valid = valid ? tir::logical_and(valid, ok) : ok;
          kernel_index = kernel_index ? kernel_index * block[d] + k : k;
          PrimExpr clamped = clamp_index(b, blocks[d]);
          block_index = block_index ? block_index * blocks[d] + clamped : clamped;
        }
        int64_t kernel = 1;
        for (int64_t k : block) kernel *= k;
        PrimExpr value = data(out[0], out[1] * kernel + kernel_index, block_index);
        return te::sum(select(valid, value, constant(dtype, 0)), offsets);
      },
      "col2im", "pool")};
}

std::vector<te::Tensor> deform_conv2d_compute(const std::vector<te::Tensor>& inputs,
                                              const ir::Attrs& attrs, const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  const te::Tensor& weight = inputs[1];
  const te::Tensor& offset = inputs[2];
  const te::Tensor& mask = inputs[3];
  std::vector<int64_t> out_shape = result_shape(result);
  const std::vector<int64_t>& strides = attrs.get_ints("strides");
  const std::vector<int64_t>& padding = attrs.get_ints("padding");
  const std::vector<int64_t>& dilation = attrs.get_ints("dilation");
  int64_t groups = attrs.get_int("groups");
  int64_t channels = data->shape[1];
  int64_t in_per_group = channels / groups;
  int64_t out_per_group = weight->shape[0] / groups;
  int64_t per_offset_group = channels / attrs.get_int("offset_groups");
  int64_t kh = weight->shape[2], kw = weight->shape[3];
  int64_t height = data->shape[2], width = data->shape[3];
  DType dtype = data->dtype.dtype;
  DataType math = scalar_type(dtype);
  tir::IterVar rc = te::reduce_axis(in_per_group, "rc");
  tir::IterVar ry = te::reduce_axis(kh, "ry");
  tir::IterVar rx = te::reduce_axis(kw, "rx");
  return {te::compute(
      out_shape,
      [&](const Indices& indices) {
        Exprs out = as_exprs(indices);
        PrimExpr n = out[0], o = out[1], y = out[2], x = out[3];
        PrimExpr i(ry.var), j(rx.var);
        PrimExpr c = tir::floordiv(o, PrimExpr(out_per_group)) * in_per_group + PrimExpr(rc.var);
        PrimExpr tap = tir::floordiv(c, PrimExpr(per_offset_group)) * (kh * kw) + i * kw + j;
        PrimExpr h =
            cast(math, y * strides[0] - padding[0] + i * dilation[0]) + offset(n, tap * 2, y, x);
        PrimExpr w = cast(math, x * strides[1] - padding[1] + j * dilation[1]) +
                     offset(n, tap * 2 + 1, y, x);
        PrimExpr h_low = tir::intrinsic("floor", {h}), w_low = tir::intrinsic("floor", {w});
        PrimExpr lh = h - h_low, lw = w - w_low;
        PrimExpr h0 = cast(tir::index_type(), h_low), w0 = cast(tir::index_type(), w_low);
        PrimExpr one = tir::make_const(math, 1);
        PrimExpr sample;
        for (int64_t a = 0; a < 2; ++a) {
          for (int64_t b = 0; b < 2; ++b) {
            PrimExpr hi = h0 + a, wi = w0 + b;
            PrimExpr inside =
                tir::logical_and(tir::logical_and(hi >= PrimExpr(0), hi < PrimExpr(height)),
                                 tir::logical_and(wi >= PrimExpr(0), wi < PrimExpr(width)));
            PrimExpr value = data(n, c, clamp_index(hi, height), clamp_index(wi, width));
            PrimExpr term = (a ? lh : one - lh) * (b ? lw : one - lw) *
                            select(inside, value, tir::make_const(math, 0));
            sample = sample ? sample + term : term;
          }
        }
        PrimExpr product = weight(o, PrimExpr(rc.var), i, j) * mask(n, tap, y, x) * sample;
        return te::sum(product, {rc, ry, rx});
      },
      "deform_conv2d", "deform_conv2d", {"n", "o", "y", "x"})};
}

}  // namespace

void register_sample_impls() {
  register_impl("grid_sample", OpImpl{grid_sample_compute, nullptr});
  register_impl("roi_align", OpImpl{roi_align_compute, schedule_all_stages});
  register_impl("col2im", OpImpl{col2im_compute, schedule_all_stages});
  register_impl("deform_conv2d", OpImpl{deform_conv2d_compute, schedule_all_stages});
}

}  // namespace kiln::op
