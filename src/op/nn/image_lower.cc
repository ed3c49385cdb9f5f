// resize2d lowering: ONNX Resize on the H, W plane of NCHW data, one injective stage.
//
// Each output row (column) maps to an input coordinate by the coordinate transformation mode;
// every mode is the ONNX formula evaluated in float64, as the ONNX reference does, so that the
// rounding of `nearest` at exact halves follows it. Then:
//  - nearest: the coordinate rounded by nearest_mode and clamped into the input;
//  - linear: the coordinate clamped into [0, size - 1], then the two neighbours weighted by
//    distance (bilinear over the plane);
//  - cubic: the four neighbours floor - 1 .. floor + 2 (indices clamped to the edge) weighted by
//    the cubic kernel with coefficient a; exclude_outside zeroes the weights of neighbours outside
//    the input and renormalises the rest.
// Interpolation computes in the data's dtype when it is float32 / float64, else in float32, and
// converts back at the end (integer results are rounded to nearest, as onnxruntime does).
#include <cmath>
#include <string>
#include <vector>

#include "ir/attrs.h"
#include "kiln/error.h"
#include "op/lower_util.h"

namespace kiln::op {
namespace {

using tir::cast;
using tir::select;

DataType f64() { return scalar_type(DType::kFloat64); }

// The input coordinate (float64) of output index `x` along one axis.
struct AxisMap {
  int64_t in_size = 1;
  int64_t out_size = 1;
  double scale = 1.0;  // the given scale, or out_size / in_size
  std::string mode;
  double roi_start = 0, roi_end = 1;  // tf_crop_and_resize's region

  // The ONNX reference's output length: in_size * scale, which is fractional when a scale was
  // given and in_size * scale is not whole (align_corners and tf_crop_and_resize divide by it).
  double out_length() const { return static_cast<double>(in_size) * scale; }

  PrimExpr coordinate(const PrimExpr& x) const {
    PrimExpr xf = cast(f64(), x);
    auto c = [](double value) { return tir::make_const(f64(), value); };
    double in_last = static_cast<double>(in_size - 1);
    if (mode == "align_corners") {
      if (out_length() == 1) return c(0);
      return xf * c(in_last) / c(out_length() - 1);
    }
    if (mode == "tf_crop_and_resize") {
      double start = roi_start * in_last;
      if (out_length() == 1) return c((roi_end - roi_start) * in_last / 2 + start);
      return xf * c((roi_end - roi_start) * in_last) / c(out_length() - 1) + c(start);
    }
    if (mode == "asymmetric") return xf / c(scale);
    if (mode == "tf_half_pixel_for_nearest") return (xf + c(0.5)) / c(scale);
    if (mode == "pytorch_half_pixel" && out_size <= 1) return c(0);
    PrimExpr half_pixel = (xf + c(0.5)) / c(scale) - c(0.5);
    if (mode == "half_pixel_symmetric") {
      double adjustment = static_cast<double>(out_size) / (scale * static_cast<double>(in_size));
      double offset = static_cast<double>(in_size) / 2.0 * (1.0 - adjustment);
      return c(offset) + half_pixel;
    }
    return half_pixel;  // half_pixel, pytorch_half_pixel
  }
  // tf_crop_and_resize: whether the coordinate is outside the input (extrapolated).
  PrimExpr outside(const PrimExpr& coordinate) const {
    auto c = [](double value) { return tir::make_const(f64(), value); };
    return tir::logical_or(coordinate<c(0), coordinate> c(static_cast<double>(in_size - 1)));
  }
};

PrimExpr to_index(const PrimExpr& value) { return cast(tir::index_type(), value); }

PrimExpr nearest_index(const PrimExpr& coordinate, const std::string& nearest_mode,
                       int64_t in_size) {
  auto call = [](const char* name, const PrimExpr& x) { return tir::intrinsic(name, {x}); };
  PrimExpr half = tir::make_const(f64(), 0.5);
  PrimExpr rounded;
  if (nearest_mode == "floor") {
    rounded = call("floor", coordinate);
  } else if (nearest_mode == "ceil") {
    rounded = call("ceil", coordinate);
  } else if (nearest_mode == "round_prefer_ceil") {
    rounded = call("floor", coordinate + half);
  } else {
    rounded = call("ceil", coordinate - half);  // round_prefer_floor
  }
  return clamp_index(to_index(rounded), in_size);
}

// Neighbour indices (clamped into the input) and their weights along one axis, in the math type.
struct Taps {
  std::vector<PrimExpr> index;
  std::vector<PrimExpr> weight;
};

Taps linear_taps(const PrimExpr& coordinate, int64_t in_size, DataType math) {
  PrimExpr clamped = tir::min(tir::max(coordinate, tir::make_const(f64(), 0)),
                              tir::make_const(f64(), static_cast<double>(in_size - 1)));
  PrimExpr low = to_index(tir::intrinsic("floor", {clamped}));
  PrimExpr fraction = cast(math, clamped - cast(f64(), low));
  PrimExpr one = tir::make_const(math, 1);
  return {{low, tir::min(low + 1, PrimExpr(in_size - 1))}, {one - fraction, fraction}};
}

Taps cubic_taps(const PrimExpr& coordinate, int64_t in_size, double a, bool exclude_outside,
                DataType math) {
  PrimExpr low = to_index(tir::intrinsic("floor", {coordinate}));
  PrimExpr t = cast(math, coordinate - cast(f64(), low));
  auto k = [math](double value) { return tir::make_const(math, value); };
  PrimExpr one = k(1);
  // The ONNX reference's kernel for distances 1 + t, t, 1 - t, 2 - t.
  PrimExpr t1 = t + one, t2 = one - t, t3 = k(2) - t;
  std::vector<PrimExpr> weights = {
      ((k(a) * t1 - k(5 * a)) * t1 + k(8 * a)) * t1 - k(4 * a),
      ((k(a + 2) * t - k(a + 3)) * t) * t + one,
      ((k(a + 2) * t2 - k(a + 3)) * t2) * t2 + one,
      ((k(a) * t3 - k(5 * a)) * t3 + k(8 * a)) * t3 - k(4 * a),
  };
  Taps taps;
  PrimExpr total;
  for (int64_t offset = -1; offset <= 2; ++offset) {
    PrimExpr raw = low + offset;
    PrimExpr weight = weights[static_cast<size_t>(offset + 1)];
    if (exclude_outside) {
      PrimExpr inside = tir::logical_and(raw >= PrimExpr(0), raw < PrimExpr(in_size));
      weight = select(inside, weight, k(0));
    }
    total = total ? total + weight : weight;
    taps.index.push_back(clamp_index(raw, in_size));
    taps.weight.push_back(weight);
  }
  if (exclude_outside) {
    for (PrimExpr& weight : taps.weight) weight = weight / total;
  }
  return taps;
}

// The number of taps antialiased linear / cubic interpolation reads per output along an axis
// downsampled by `scale` < 1: the kernel (support 1 or 2) stretched by 1 / scale.
int64_t antialias_first_tap(double scale, bool cubic) {
  return static_cast<int64_t>(std::floor((cubic ? -2.0 : -1.0) / scale)) + 1;
}

// Antialiased taps (the ONNX reference's): the kernel evaluated at (offset - ratio) * scale for
// the taps base + first .. base + 1 - first, where base = ceil(x) - 1 and ratio = x - base in
// (0, 1]; weights normalized to sum 1 (after zeroing the outside ones with exclude_outside);
// indices clamped to the edge.
Taps antialias_taps(const PrimExpr& coordinate, int64_t in_size, double scale, bool cubic, double a,
                    bool exclude_outside, DataType math) {
  PrimExpr base = to_index(tir::intrinsic("ceil", {coordinate})) - 1;
  PrimExpr ratio = cast(math, coordinate - cast(f64(), base));
  auto k = [math](double value) { return tir::make_const(math, value); };
  int64_t first = antialias_first_tap(scale, cubic);
  Taps taps;
  PrimExpr total;
  for (int64_t offset = first; offset <= 1 - first; ++offset) {
    PrimExpr distance = tir::intrinsic("fabs", {(k(double(offset)) - ratio) * k(scale)});
    PrimExpr weight;
    if (cubic) {
      PrimExpr d = distance;
      PrimExpr near = ((k(a + 2) * d - k(a + 3)) * d) * d + k(1);
      PrimExpr far = ((k(a) * d - k(5 * a)) * d + k(8 * a)) * d - k(4 * a);
      weight = select(d <= k(1), near, select(d < k(2), far, k(0)));
    } else {
      weight = tir::max(k(1) - distance, k(0));
    }
    PrimExpr raw = base + offset;
    if (exclude_outside) {
      PrimExpr inside = tir::logical_and(raw >= PrimExpr(0), raw < PrimExpr(in_size));
      weight = select(inside, weight, k(0));
    }
    total = total ? total + weight : weight;
    taps.index.push_back(clamp_index(raw, in_size));
    taps.weight.push_back(weight);
  }
  for (PrimExpr& weight : taps.weight) weight = weight / total;
  return taps;
}

std::vector<te::Tensor> resize2d_compute(const std::vector<te::Tensor>& inputs,
                                         const ir::Attrs& attrs, const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  std::vector<int64_t> shape = result_shape(result);
  const std::string& method = attrs.get_string("method");
  const std::string& mode = attrs.get_string("coordinate_transformation_mode");
  const std::string& nearest_mode = attrs.get_string("nearest_mode");
  const std::vector<double>& scales = attrs.get_floats("scales");
  double a = attrs.get_float("cubic_coeff_a");
  bool exclude_outside = attrs.get_int("exclude_outside") != 0;
  bool antialias = attrs.get_int("antialias") != 0 && method != "nearest";
  const std::vector<double>& roi = attrs.get_floats("roi");
  double extrapolation = attrs.get_float("extrapolation_value");
  DType dtype = data->dtype.dtype;
  DataType math =
      dtype == DType::kFloat64 ? scalar_type(DType::kFloat64) : scalar_type(DType::kFloat32);

  AxisMap maps[2];
  for (size_t axis = 0; axis < 2; ++axis) {
    AxisMap& map = maps[axis];
    map.in_size = data->shape[2 + axis];
    map.out_size = shape[2 + axis];
    map.scale = scales.empty()
                    ? static_cast<double>(map.out_size) / static_cast<double>(map.in_size)
                    : scales[axis];
    map.mode = mode;
    if (mode == "tf_crop_and_resize") {
      map.roi_start = roi[axis];
      map.roi_end = roi[axis + 2];
    }
  }
  auto taps = [&](const PrimExpr& coordinate, const AxisMap& map) {
    if (antialias && map.scale < 1) {
      return antialias_taps(coordinate, map.in_size, map.scale, method == "cubic", a,
                            exclude_outside, math);
    }
    return method == "linear" ? linear_taps(coordinate, map.in_size, math)
                              : cubic_taps(coordinate, map.in_size, a, exclude_outside, math);
  };

  return {te::compute(
      shape,
      [&](const Indices& axes) {
        std::vector<PrimExpr> i = as_exprs(axes);
        PrimExpr n = i[0], c = i[1];
        PrimExpr y = maps[0].coordinate(i[2]), x = maps[1].coordinate(i[3]);
        // tf_crop_and_resize: outside the input on either axis gives the extrapolation value.
        auto extrapolate = [&](const PrimExpr& value) {
          if (mode != "tf_crop_and_resize") return value;
          return select(tir::logical_or(maps[0].outside(y), maps[1].outside(x)),
                        constant(dtype, extrapolation), value);
        };
        if (method == "nearest") {
          return extrapolate(data(n, c, nearest_index(y, nearest_mode, maps[0].in_size),
                                  nearest_index(x, nearest_mode, maps[1].in_size)));
        }
        Taps rows = taps(y, maps[0]);
        Taps cols = taps(x, maps[1]);
        // Each row is interpolated along the width first, then the rows along the height (the
        // order the ONNX reference uses).
        PrimExpr value;
        for (size_t r = 0; r < rows.index.size(); ++r) {
          PrimExpr row;
          for (size_t k = 0; k < cols.index.size(); ++k) {
            PrimExpr term = cast(math, data(n, c, rows.index[r], cols.index[k])) * cols.weight[k];
            row = row ? row + term : term;
          }
          PrimExpr term = row * rows.weight[r];
          value = value ? value + term : term;
        }
        if (dtype_is_float(dtype)) return extrapolate(cast(scalar_type(dtype), value));
        // Integers round to nearest and saturate to the dtype's range.
        PrimExpr rounded = tir::intrinsic("round", {value});
        rounded = tir::min(tir::max(rounded, cast(math, lowest_value(dtype))),
                           cast(math, highest_value(dtype)));
        return extrapolate(cast(scalar_type(dtype), rounded));
      },
      "resize2d", "injective")};
}

}  // namespace

void register_image_impls() { register_impl("resize2d", OpImpl{resize2d_compute, nullptr}); }

}  // namespace kiln::op
