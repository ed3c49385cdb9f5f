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
            PrimExpr outside = tir::logical_or(x < axis.c(axis.lo), x > axis.c(axis.hi));
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
        return cast(scalar_type(dtype), combine(size_t{0}, Exprs{out[0], out[1]}, PrimExpr(), combine));
      },
      "grid_sample", "injective")};
}

}  // namespace

void register_sample_impls() {
  register_impl("grid_sample", OpImpl{grid_sample_compute, nullptr});
}

}  // namespace kiln::op
