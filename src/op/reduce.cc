// The reduce family: reductions over a set of axes (reduce_sum ...), argmax / argmin, cumsum and
// topk. Reductions accumulate floats in double and integers in int64 (uint64 for unsigned
// dtypes), wrapping like C++; reduce_l2, reduce_log_sum and reduce_log_sum_exp compute in double
// for every dtype since their results are not integers.
#include <cmath>
#include <functional>
#include <limits>

#include "kiln/error.h"
#include "op/eval_util.h"
#include "op/op_util.h"

namespace kiln::op {
namespace {

using ir::Attrs;
using ir::OpDef;
using ir::OpPattern;

// ---------------------------------------------------------------------------------------------
// Reductions over axes

enum class ReduceKind : uint8_t {
  kSum,
  kMean,
  kMax,
  kMin,
  kProd,
  kL1,
  kL2,
  kLogSum,
  kLogSumExp,
  kSumSquare,
};

// Which axes of data are reduced: [] means all of them.
std::vector<bool> reduced_axes(const TensorType& data, const std::vector<int64_t>& axes,
                               std::string_view op_name) {
  std::vector<bool> reduced(data.shape.size(), axes.empty());
  for (int64_t axis : axes) {
    int64_t normalized = normalize_axis(axis, data.rank(), op_name);
    if (reduced[normalized]) {
      type_error(op_name,
                 "axis " + std::to_string(axis) + " is repeated in axes for " + data.to_string());
    }
    reduced[normalized] = true;
  }
  return reduced;
}

// The reduced shape: reduced dims become 1 (keepdims) or disappear.
Shape reduced_shape(const Shape& shape, const std::vector<bool>& reduced, bool keepdims) {
  Shape result;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (!reduced[d]) {
      result.push_back(shape[d]);
    } else if (keepdims) {
      result.push_back(1);
    }
  }
  return result;
}

// For each input element, the flat index of the output element it reduces into. The flat index
// is the same with and without keepdims, since kept size-1 dims do not change it.
std::vector<int64_t> output_positions(const std::vector<int64_t>& shape,
                                      const std::vector<bool>& reduced) {
  std::vector<int64_t> kept_shape = shape;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (reduced[d]) kept_shape[d] = 1;
  }
  std::vector<int64_t> kept_strides = row_major_strides(kept_shape);
  for (size_t d = 0; d < shape.size(); ++d) {
    if (reduced[d]) kept_strides[d] = 0;
  }
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  std::vector<int64_t> positions(static_cast<size_t>(count));
  for (int64_t i = 0; i < count; ++i) {
    positions[static_cast<size_t>(i)] = ravel_index(unravel_index(i, shape), kept_strides);
  }
  return positions;
}

// The smallest and largest values of an integer dtype in the arithmetic T.
template <typename T>
T integer_lowest(DType dtype) {
  if constexpr (std::is_signed_v<T>) {
    return std::numeric_limits<T>::min() >> (64 - 8 * dtype_size(dtype));
  } else {
    return 0;
  }
}
template <typename T>
T integer_highest(DType dtype) {
  if (dtype == DType::kBool) return 1;
  return std::numeric_limits<T>::max() >> (64 - 8 * dtype_size(dtype));
}

// Float reductions in double. NaN propagates through max and min, as numpy's.
Tensor reduce_in_double(const Tensor& data, ReduceKind kind, const std::vector<int64_t>& positions,
                        const TensorType& result) {
  Tensor output = make_result(result);
  auto outputs = static_cast<size_t>(output.numel());
  double count = outputs == 0 ? 0.0 : static_cast<double>(data.numel()) / outputs;
  constexpr double kInf = std::numeric_limits<double>::infinity();
  double initial = kind == ReduceKind::kProd  ? 1.0
                   : kind == ReduceKind::kMax ? -kInf
                   : kind == ReduceKind::kMin ? kInf
                                              : 0.0;
  std::vector<double> accumulator(outputs, initial);
  // log_sum_exp subtracts each group's maximum first, so that exp cannot overflow.
  std::vector<double> shift(outputs, 0.0);
  if (kind == ReduceKind::kLogSumExp) {
    shift.assign(outputs, -kInf);
    for (int64_t i = 0; i < data.numel(); ++i) {
      double& m = shift[static_cast<size_t>(positions[static_cast<size_t>(i)])];
      m = std::max(m, data.element_as_double(i));
    }
    for (double& m : shift) {
      if (!std::isfinite(m)) m = 0.0;  // all -inf, or an inf that dominates the sum anyway
    }
  }
  for (int64_t i = 0; i < data.numel(); ++i) {
    auto out = static_cast<size_t>(positions[static_cast<size_t>(i)]);
    double x = data.element_as_double(i);
    double& acc = accumulator[out];
    switch (kind) {
      case ReduceKind::kSum:
      case ReduceKind::kMean:
      case ReduceKind::kLogSum:
        acc += x;
        break;
      case ReduceKind::kMax:
        acc = std::isnan(acc) || std::isnan(x) ? NAN : std::max(acc, x);
        break;
      case ReduceKind::kMin:
        acc = std::isnan(acc) || std::isnan(x) ? NAN : std::min(acc, x);
        break;
      case ReduceKind::kProd:
        acc *= x;
        break;
      case ReduceKind::kL1:
        acc += std::fabs(x);
        break;
      case ReduceKind::kL2:
      case ReduceKind::kSumSquare:
        acc += x * x;
        break;
      case ReduceKind::kLogSumExp:
        acc += std::exp(x - shift[out]);
        break;
    }
  }
  for (size_t out = 0; out < outputs; ++out) {
    double value = accumulator[out];
    switch (kind) {
      case ReduceKind::kMean:
        value /= count;
        break;
      case ReduceKind::kL2:
        value = std::sqrt(value);
        break;
      case ReduceKind::kLogSum:
        value = std::log(value);
        break;
      case ReduceKind::kLogSumExp:
        value = shift[out] + std::log(value);
        break;
      default:
        break;
    }
    output.set_element_from_double(static_cast<int64_t>(out), value);
  }
  return output;
}

// Integer reductions in T (int64_t or uint64_t); sums and products wrap.
template <typename T>
Tensor reduce_in_integer(const Tensor& data, ReduceKind kind, const std::vector<int64_t>& positions,
                         const TensorType& result) {
  Tensor output = make_result(result);
  auto outputs = static_cast<size_t>(output.numel());
  T initial = kind == ReduceKind::kProd  ? T{1}
              : kind == ReduceKind::kMax ? integer_lowest<T>(data.dtype())
              : kind == ReduceKind::kMin ? integer_highest<T>(data.dtype())
                                         : T{0};
  std::vector<T> accumulator(outputs, initial);
  for (int64_t i = 0; i < data.numel(); ++i) {
    T x = load_element<T>(data, i);
    T& acc = accumulator[static_cast<size_t>(positions[static_cast<size_t>(i)])];
    switch (kind) {
      case ReduceKind::kSum:
      case ReduceKind::kMean:
        acc = wrapping_add(acc, x);
        break;
      case ReduceKind::kMax:
        acc = std::max(acc, x);
        break;
      case ReduceKind::kMin:
        acc = std::min(acc, x);
        break;
      case ReduceKind::kProd:
        acc = wrapping_mul(acc, x);
        break;
      case ReduceKind::kL1: {
        T magnitude = x;
        if constexpr (std::is_signed_v<T>) {
          if (x < 0) magnitude = wrapping_sub(T{0}, x);
        }
        acc = wrapping_add(acc, magnitude);
        break;
      }
      case ReduceKind::kSumSquare:
        acc = wrapping_add(acc, wrapping_mul(x, x));
        break;
      default:
        KILN_CHECK(false) << "reduction computed in double";
    }
  }
  // Integer mean truncates toward zero; an empty reduction has mean 0.
  auto count = static_cast<T>(outputs == 0 ? 0 : data.numel() / static_cast<int64_t>(outputs));
  for (size_t out = 0; out < outputs; ++out) {
    T value = accumulator[out];
    if (kind == ReduceKind::kMean) value = count == 0 ? T{0} : value / count;
    store_element(output, static_cast<int64_t>(out), value);
  }
  return output;
}

Tensor evaluate_reduce(const Tensor& data, ReduceKind kind, const Attrs& attrs,
                       const TensorType& result, std::string_view op_name) {
  ir::TensorType data_type = ir::tensor_type(data.dtype(), data.shape());
  std::vector<bool> reduced = reduced_axes(data_type, attrs.get_ints("axes"), op_name);
  std::vector<int64_t> positions = output_positions(data.shape(), reduced);
  bool real_valued =
      kind == ReduceKind::kL2 || kind == ReduceKind::kLogSum || kind == ReduceKind::kLogSumExp;
  if (real_valued) return reduce_in_double(data, kind, positions, result);
  return with_math_type(data.dtype(), [&](auto tag) {
    using T = decltype(tag);
    if constexpr (std::is_floating_point_v<T>) {
      return reduce_in_double(data, kind, positions, result);
    } else {
      return reduce_in_integer<T>(data, kind, positions, result);
    }
  });
}

OpDef make_reduce_op(std::string name, std::string summary, ReduceKind kind) {
  OpDef def;
  def.name = name;
  def.family = "reduce";
  def.summary = std::move(summary);
  def.attrs = {attr_ints("axes", std::vector<int64_t>{}, "axes to reduce; [] = all"),
               attr_int("keepdims", 1, "keep reduced axes as size 1")};
  def.pattern = OpPattern::kReduction;
  def.infer_type = [name](const std::vector<Type>& args, const Attrs& attrs) -> Type {
    const TensorType& data = tensor_arg(args, 0, name);
    if (data.dtype == DType::kBool) {
      type_error(name, "data must be a numeric tensor, got " + data.to_string());
    }
    std::vector<bool> reduced = reduced_axes(data, attrs.get_ints("axes"), name);
    TensorType result;
    result.dtype = data.dtype;
    result.shape = reduced_shape(data.shape, reduced, attrs.get_int("keepdims") != 0);
    return result;
  };
  def.evaluate = [name, kind](const std::vector<Tensor>& args, const Attrs& attrs,
                              const TensorType& result) {
    return evaluate_reduce(args[0], kind, attrs, result, name);
  };
  return def;
}

// ---------------------------------------------------------------------------------------------
// argmax / argmin

OpDef make_arg_op(std::string name, bool is_max) {
  OpDef def;
  def.name = name;
  def.family = "reduce";
  def.summary = is_max ? "index of the largest element along an axis (int64)"
                       : "index of the smallest element along an axis (int64)";
  def.attrs = {attr_int("axis", 0), attr_int("keepdims", 1),
               attr_int("select_last_index", 0, "on ties, the last index instead of the first")};
  def.pattern = OpPattern::kReduction;
  def.infer_type = [name](const std::vector<Type>& args, const Attrs& attrs) -> Type {
    const TensorType& data = tensor_arg(args, 0, name);
    int64_t axis = normalize_axis(attrs.get_int("axis"), data.rank(), name);
    if (data.shape[axis] == Dim(0)) {
      type_error(name, "axis " + std::to_string(axis) + " of " + data.to_string() + " is empty");
    }
    std::vector<bool> reduced(data.shape.size(), false);
    reduced[axis] = true;
    TensorType result;
    result.dtype = DType::kInt64;
    result.shape = reduced_shape(data.shape, reduced, attrs.get_int("keepdims") != 0);
    return result;
  };
  def.evaluate = [name, is_max](const std::vector<Tensor>& args, const Attrs& attrs,
                                const TensorType& result) {
    const Tensor& data = args[0];
    AxisView view(data.shape(), normalize_axis(attrs.get_int("axis"), data.ndim(), name));
    bool last = attrs.get_int("select_last_index") != 0;
    Tensor output = make_result(result);
    for (int64_t o = 0; o < view.outer; ++o) {
      for (int64_t i = 0; i < view.inner; ++i) {
        int64_t best = 0;
        for (int64_t a = 1; a < view.dim; ++a) {
          int cmp = compare_elements(data, view.flat(o, a, i), view.flat(o, best, i));
          if (!is_max) cmp = -cmp;
          if (cmp > 0 || (cmp == 0 && last)) best = a;
        }
        output.set_element_from_int64(o * view.inner + i, best);
      }
    }
    return output;
  };
  return def;
}

// ---------------------------------------------------------------------------------------------
// cumsum, cumprod and topk

template <typename T>
Tensor cumulative_in(const Tensor& data, const AxisView& view, bool product, bool exclusive,
                     bool reverse) {
  Tensor output(data.dtype(), data.shape());
  for (int64_t o = 0; o < view.outer; ++o) {
    for (int64_t i = 0; i < view.inner; ++i) {
      T running = product ? T{1} : T{0};
      auto accumulate = [&](T x) {
        running = product ? wrapping_mul(running, x) : wrapping_add(running, x);
      };
      for (int64_t step = 0; step < view.dim; ++step) {
        int64_t a = reverse ? view.dim - 1 - step : step;
        int64_t flat = view.flat(o, a, i);
        T x = load_element<T>(data, flat);
        if (!exclusive) accumulate(x);
        store_element(output, flat, running);
        if (exclusive) accumulate(x);
      }
    }
  }
  return output;
}

// cumsum / cumprod.
OpDef make_cumulative_op(const char* name, const char* summary, bool product) {
  OpDef def;
  def.name = name;
  def.family = "reduce";
  def.summary = summary;
  def.attrs = {attr_int("axis", std::nullopt), attr_int("exclusive", 0), attr_int("reverse", 0)};
  def.pattern = OpPattern::kOpaque;
  def.infer_type = [name](const std::vector<Type>& args, const Attrs& attrs) -> Type {
    const TensorType& data = tensor_arg(args, 0, name);
    if (data.dtype == DType::kBool) {
      type_error(name, "data must be a numeric tensor, got " + data.to_string());
    }
    normalize_axis(attrs.get_int("axis"), data.rank(), name);
    return data;
  };
  def.evaluate = [name, product](const std::vector<Tensor>& args, const Attrs& attrs,
                                 const TensorType&) {
    const Tensor& data = args[0];
    AxisView view(data.shape(), normalize_axis(attrs.get_int("axis"), data.ndim(), name));
    bool exclusive = attrs.get_int("exclusive") != 0;
    bool reverse = attrs.get_int("reverse") != 0;
    return with_math_type(data.dtype(), [&](auto tag) {
      return cumulative_in<decltype(tag)>(data, view, product, exclusive, reverse);
    });
  };
  return def;
}

OpDef make_topk_op() {
  OpDef def;
  def.name = "topk";
  def.family = "reduce";
  def.summary = "the k largest (or smallest) elements along an axis and their int64 indices";
  def.attrs = {attr_int("k", std::nullopt), attr_int("axis", -1), attr_int("largest", 1),
               attr_int("sorted", 1)};
  def.pattern = OpPattern::kOpaque;
  def.infer_type = [](const std::vector<Type>& args, const Attrs& attrs) -> Type {
    const TensorType& data = tensor_arg(args, 0, "topk");
    int64_t axis = normalize_axis(attrs.get_int("axis"), data.rank(), "topk");
    int64_t k = attrs.get_int("k");
    if (k < 0) type_error("topk", "k must be >= 0, got " + std::to_string(k));
    const Dim& dim = data.shape[axis];
    if (dim.is_static() && k > dim.value()) {
      type_error("topk", "k = " + std::to_string(k) + " exceeds the size " +
                             std::to_string(dim.value()) + " of axis " + std::to_string(axis) +
                             " of " + data.to_string());
    }
    TensorType values = data;
    values.shape[axis] = k;
    TensorType indices = values;
    indices.dtype = DType::kInt64;
    return Type::tuple({values, indices});
  };
  // No `evaluate`: ir::Evaluator returns one tensor and topk returns two (see topk_reference).
  return def;
}

}  // namespace

void register_reduce_ops(ir::OpRegistry& registry) {
  registry.add(make_reduce_op("reduce_sum", "sum over axes", ReduceKind::kSum));
  registry.add(make_reduce_op("reduce_mean", "mean over axes", ReduceKind::kMean));
  registry.add(make_reduce_op("reduce_max", "maximum over axes", ReduceKind::kMax));
  registry.add(make_reduce_op("reduce_min", "minimum over axes", ReduceKind::kMin));
  registry.add(make_reduce_op("reduce_prod", "product over axes", ReduceKind::kProd));
  registry.add(make_reduce_op("reduce_l1", "sum of |x| over axes", ReduceKind::kL1));
  registry.add(make_reduce_op("reduce_l2", "sqrt of the sum of x^2 over axes", ReduceKind::kL2));
  registry.add(make_reduce_op("reduce_log_sum", "log of the sum over axes", ReduceKind::kLogSum));
  registry.add(make_reduce_op("reduce_log_sum_exp", "log of the sum of e^x over axes",
                              ReduceKind::kLogSumExp));
  registry.add(make_reduce_op("reduce_sum_square", "sum of x^2 over axes", ReduceKind::kSumSquare));
  registry.add(make_arg_op("argmax", true));
  registry.add(make_arg_op("argmin", false));
  registry.add(make_cumulative_op(
      "cumsum", "cumulative sum along an axis (optionally exclusive and/or reversed)", false));
  registry.add(make_cumulative_op(
      "cumprod", "cumulative product along an axis (optionally exclusive and/or reversed)", true));
  registry.add(make_topk_op());
}

}  // namespace kiln::op
