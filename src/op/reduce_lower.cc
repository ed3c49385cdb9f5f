// Computes of the reduce family (src/op/reduce.cc): reductions over axes and argmax / argmin.
// A reduction is one stage (a Reduce over the reduced axes), followed by a finishing stage where
// the result needs one (mean, l2, log_sum, log_sum_exp); log_sum_exp subtracts a max stage first.
//
// cumsum and topk have no single reduction either; they are written as reductions whose cost is
// quadratic in the scanned axis (a masked sum per element, a rank per element), which keeps every
// stage data-parallel and deterministic. The axes they scan are short in the models that use them
// (positions, class scores), so the quadratic term is cheap there.
#include <string>
#include <vector>

#include "ir/attrs.h"
#include "kiln/error.h"
#include "op/lower_util.h"
#include "op/op_util.h"

namespace kiln::op {
namespace {

using ir::Attrs;
using tir::IterVar;

enum class Reduction : uint8_t {
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

// How the output index and the reduce axes make up an input index.
struct ReduceLayout {
  std::vector<int64_t> data_shape;
  std::vector<bool> reduced;
  bool keepdims = true;
  int64_t count = 1;  // elements combined into each output

  // The input index for output index `out` and one reduce axis per reduced dim (in order).
  std::vector<PrimExpr> input_index(const std::vector<PrimExpr>& out,
                                    const std::vector<IterVar>& axes) const {
    std::vector<PrimExpr> index;
    size_t next_out = 0, next_axis = 0;
    for (size_t d = 0; d < data_shape.size(); ++d) {
      if (reduced[d]) {
        index.push_back(PrimExpr(axes[next_axis++].var));
        if (keepdims) ++next_out;
      } else {
        index.push_back(out[next_out++]);
      }
    }
    return index;
  }

  // Fresh reduce axes, one per reduced dim, named prefix + dim.
  std::vector<IterVar> make_axes(const std::string& prefix) const {
    std::vector<IterVar> axes;
    for (size_t d = 0; d < data_shape.size(); ++d) {
      if (reduced[d]) axes.push_back(te::reduce_axis(data_shape[d], prefix + std::to_string(d)));
    }
    return axes;
  }
};

ReduceLayout reduce_layout(const te::Tensor& data, const std::vector<int64_t>& axes, bool keepdims,
                           std::string_view op_name) {
  ReduceLayout layout;
  layout.data_shape = data->shape;
  layout.keepdims = keepdims;
  auto rank = static_cast<int64_t>(data->shape.size());
  layout.reduced.assign(data->shape.size(), axes.empty());
  for (int64_t axis : axes) layout.reduced[normalize_axis(axis, rank, op_name)] = true;
  for (size_t d = 0; d < data->shape.size(); ++d) {
    if (layout.reduced[d]) layout.count *= data->shape[d];
  }
  return layout;
}

// One reduction stage: combine source(input index) over the reduced dims.
te::Tensor reduce_stage(const ReduceLayout& layout, const std::vector<int64_t>& out_shape,
                        tir::ReduceCombiner combiner,
                        const std::function<PrimExpr(const std::vector<PrimExpr>&)>& source,
                        const std::string& name, const std::string& tag) {
  return te::compute(
      out_shape,
      [&](const Indices& i) {
        std::vector<IterVar> axes = layout.make_axes("r");
        PrimExpr value = source(layout.input_index(as_exprs(i), axes));
        if (axes.empty()) return value;  // nothing reduced: a copy
        switch (combiner) {
          case tir::ReduceCombiner::kSum:
            return te::sum(value, axes);
          case tir::ReduceCombiner::kProd:
            return te::prod(value, axes);
          case tir::ReduceCombiner::kMax:
            return te::max_reduce(value, axes);
          case tir::ReduceCombiner::kMin:
            break;
        }
        return te::min_reduce(value, axes);
      },
      name, tag);
}

std::vector<te::Tensor> reduce_compute(Reduction kind, const std::string& name,
                                       const std::vector<te::Tensor>& inputs, const Attrs& attrs,
                                       const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  std::vector<int64_t> out_shape = result_shape(result);
  ReduceLayout layout =
      reduce_layout(data, attrs.get_ints("axes"), attrs.get_int("keepdims") != 0, name);
  DType dtype = data->dtype.dtype;
  // l2, log_sum and log_sum_exp are real-valued: integer data is reduced in float64 (as the
  // reference does) and the result converted back.
  bool real_valued =
      kind == Reduction::kL2 || kind == Reduction::kLogSum || kind == Reduction::kLogSumExp;
  DType math = real_valued && !dtype_is_float(dtype) ? DType::kFloat64 : dtype;
  auto load = [&](const std::vector<PrimExpr>& index) {
    return tir::cast(scalar_type(math), data(index));
  };
  auto finish = [&](const te::Tensor& stage, const std::function<PrimExpr(PrimExpr)>& fn) {
    return te::compute(
        out_shape,
        [&](const Indices& i) { return tir::cast(scalar_type(dtype), fn(stage(as_exprs(i)))); },
        name, "elemwise");
  };
  using tir::ReduceCombiner;
  switch (kind) {
    case Reduction::kSum:
      return {reduce_stage(layout, out_shape, ReduceCombiner::kSum, load, name, "reduce")};
    case Reduction::kProd:
      return {reduce_stage(layout, out_shape, ReduceCombiner::kProd, load, name, "reduce")};
    case Reduction::kMax:
      return {reduce_stage(layout, out_shape, ReduceCombiner::kMax, load, name, "reduce")};
    case Reduction::kMin:
      return {reduce_stage(layout, out_shape, ReduceCombiner::kMin, load, name, "reduce")};
    case Reduction::kL1:
      return {reduce_stage(
          layout, out_shape, ReduceCombiner::kSum,
          [&](const std::vector<PrimExpr>& index) {
            PrimExpr x = load(index);
            if (dtype_is_float(math)) return tir::intrinsic("fabs", {x});
            return dtype_is_signed(math) ? tir::select(x < 0, -x, x) : x;
          },
          name, "reduce")};
    case Reduction::kSumSquare:
      return {reduce_stage(
          layout, out_shape, ReduceCombiner::kSum,
          [&](const std::vector<PrimExpr>& index) {
            PrimExpr x = load(index);
            return x * x;
          },
          name, "reduce")};
    case Reduction::kMean: {
      te::Tensor total =
          reduce_stage(layout, out_shape, ReduceCombiner::kSum, load, name + "_sum", "reduce");
      // Integer means truncate toward zero, as the reference; an empty reduction gives 0.
      if (layout.count == 0) {
        return {finish(total, [&](const PrimExpr&) { return constant(math, 0); })};
      }
      return {finish(total, [&](const PrimExpr& sum) {
        return sum / constant(math, static_cast<double>(layout.count));
      })};
    }
    case Reduction::kL2: {
      te::Tensor total = reduce_stage(
          layout, out_shape, ReduceCombiner::kSum,
          [&](const std::vector<PrimExpr>& index) {
            PrimExpr x = load(index);
            return x * x;
          },
          name + "_sum", "reduce");
      return {finish(total, [](const PrimExpr& sum) { return tir::intrinsic("sqrt", {sum}); })};
    }
    case Reduction::kLogSum: {
      te::Tensor total =
          reduce_stage(layout, out_shape, ReduceCombiner::kSum, load, name + "_sum", "reduce");
      return {finish(total, [](const PrimExpr& sum) { return tir::intrinsic("log", {sum}); })};
    }
    case Reduction::kLogSumExp: {
      te::Tensor peak =
          reduce_stage(layout, out_shape, ReduceCombiner::kMax, load, name + "_max", "reduce");
      // The shift is the max, or 0 where it is not finite (all -inf, or an inf that dominates).
      te::Tensor shift = te::compute(
          out_shape,
          [&](const Indices& i) {
            PrimExpr m = peak(as_exprs(i));
            PrimExpr finite = tir::logical_not(
                tir::logical_or(tir::intrinsic("isinf", {m}), tir::intrinsic("isnan", {m})));
            return tir::select(finite, m, constant(math, 0));
          },
          name + "_shift", "elemwise");
      // The reduction reads the shift at the output index that the input index maps to.
      te::Tensor total = te::compute(
          out_shape,
          [&](const Indices& i) {
            std::vector<PrimExpr> out = as_exprs(i);
            std::vector<IterVar> axes = layout.make_axes("r");
            PrimExpr term =
                tir::intrinsic("exp", {load(layout.input_index(out, axes)) - shift(out)});
            return axes.empty() ? term : te::sum(term, axes);
          },
          name + "_sum", "reduce");
      return {te::compute(
          out_shape,
          [&](const Indices& i) {
            std::vector<PrimExpr> out = as_exprs(i);
            return tir::cast(scalar_type(dtype), shift(out) + tir::intrinsic("log", {total(out)}));
          },
          name, "elemwise")};
    }
  }
  return {};
}

// argmax / argmin: the extreme value along the axis, then the first (or last) index holding it.
std::vector<te::Tensor> arg_compute(bool is_max, const std::string& name,
                                    const std::vector<te::Tensor>& inputs, const Attrs& attrs,
                                    const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  std::vector<int64_t> out_shape = result_shape(result);
  auto axis = static_cast<size_t>(
      normalize_axis(attrs.get_int("axis"), static_cast<int64_t>(data->shape.size()), name));
  bool keepdims = attrs.get_int("keepdims") != 0;
  bool last = attrs.get_int("select_last_index") != 0;
  int64_t extent = data->shape[axis];
  DType dtype = data->dtype.dtype;
  ReduceLayout layout = reduce_layout(data, {static_cast<int64_t>(axis)}, keepdims, name);
  auto load = [&](const std::vector<PrimExpr>& index) { return data(index); };
  te::Tensor extreme = reduce_stage(layout, out_shape,
                                    is_max ? tir::ReduceCombiner::kMax : tir::ReduceCombiner::kMin,
                                    load, name + "_value", "reduce");
  te::Tensor index = te::compute(
      out_shape,
      [&](const Indices& i) {
        std::vector<PrimExpr> out = as_exprs(i);
        tir::IterVar r = te::reduce_axis(extent, "r");
        PrimExpr x = data(layout.input_index(out, {r}));
        PrimExpr target = extreme(out);
        PrimExpr hit = x == target;
        // NaN is the extreme whenever present (min/max propagate it); it equals nothing.
        if (dtype_is_float(dtype)) {
          hit = tir::logical_or(hit, tir::logical_and(tir::intrinsic("isnan", {x}),
                                                      tir::intrinsic("isnan", {target})));
        }
        PrimExpr position = PrimExpr(r.var);
        return last ? te::max_reduce(tir::select(hit, position, PrimExpr(-1)), {r})
                    : te::min_reduce(tir::select(hit, position, PrimExpr(extent)), {r});
      },
      name, "reduce");
  return {index};
}

OpImpl reduce_impl(Reduction kind, const std::string& name) {
  OpImpl impl;
  impl.compute = [kind, name](const std::vector<te::Tensor>& inputs, const Attrs& attrs,
                              const ir::Type& result) {
    return reduce_compute(kind, name, inputs, attrs, result);
  };
  impl.schedule = schedule_all_stages;
  return impl;
}

OpImpl arg_impl(bool is_max, const std::string& name) {
  OpImpl impl;
  impl.compute = [is_max, name](const std::vector<te::Tensor>& inputs, const Attrs& attrs,
                                const ir::Type& result) {
    return arg_compute(is_max, name, inputs, attrs, result);
  };
  impl.schedule = schedule_all_stages;
  return impl;
}

// Index `out` with the axis position replaced by `position`.
std::vector<PrimExpr> with_axis(std::vector<PrimExpr> index, size_t axis, PrimExpr position) {
  index[axis] = std::move(position);
  return index;
}

// out[..., i, ...] = sum (product) of data[..., r, ...] over r <= i (r < i exclusive; r >= i /
// r > i reversed). The reduction runs in increasing r, one masked term per position of the axis
// (a masked term is 0 for the sum, 1 for the product).
te::Tensor cumulative_compute(const std::vector<te::Tensor>& inputs, const Attrs& attrs,
                              const ir::Type& result, const char* name, bool product) {
  const te::Tensor& data = inputs[0];
  std::vector<int64_t> shape = result_shape(result);
  auto axis = static_cast<size_t>(
      normalize_axis(attrs.get_int("axis"), static_cast<int64_t>(shape.size()), name));
  bool exclusive = attrs.get_int("exclusive") != 0;
  bool reverse = attrs.get_int("reverse") != 0;
  DType dtype = data->dtype.dtype;
  return te::compute(
      shape,
      [&](const Indices& i) {
        std::vector<PrimExpr> out = as_exprs(i);
        IterVar r = te::reduce_axis(shape[axis], "r");
        PrimExpr position = PrimExpr(r.var), here = out[axis];
        PrimExpr included = reverse ? (exclusive ? position > here : position >= here)
                                    : (exclusive ? position < here : position <= here);
        PrimExpr term = tir::select(included, data(with_axis(out, axis, position)),
                                    constant(dtype, product ? 1 : 0));
        return product ? te::prod(term, {r}) : te::sum(term, {r});
      },
      name, "reduce");
}

std::vector<te::Tensor> cumsum_compute(const std::vector<te::Tensor>& inputs, const Attrs& attrs,
                                       const ir::Type& result) {
  return {cumulative_compute(inputs, attrs, result, "cumsum", false)};
}

std::vector<te::Tensor> cumprod_compute(const std::vector<te::Tensor>& inputs, const Attrs& attrs,
                                        const ir::Type& result) {
  return {cumulative_compute(inputs, attrs, result, "cumprod", true)};
}

// topk by ranks: rank[j] = how many elements come before element j in the sorted order (larger
// values first, or smaller with largest = 0; equal values by index, so the ranks are a
// permutation and ties keep the lower index first, as ONNX wants). The k-th output is the
// element of rank k. Results are always sorted, which `sorted = 0` allows.
std::vector<te::Tensor> topk_compute(const std::vector<te::Tensor>& inputs, const Attrs& attrs,
                                     const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  std::vector<int64_t> out_shape = tuple_shapes(result)[0];
  auto axis = static_cast<size_t>(
      normalize_axis(attrs.get_int("axis"), static_cast<int64_t>(data->shape.size()), "topk"));
  bool largest = attrs.get_int("largest") != 0;
  int64_t extent = data->shape[axis];
  auto before = [largest](const PrimExpr& other, const PrimExpr& other_index, const PrimExpr& x,
                          const PrimExpr& x_index) {
    PrimExpr beats = largest ? other > x : other < x;
    return tir::logical_or(beats, tir::logical_and(other == x, other_index < x_index));
  };
  te::Tensor rank = te::compute(
      data->shape,
      [&](const Indices& i) {
        std::vector<PrimExpr> at = as_exprs(i);
        IterVar r = te::reduce_axis(extent, "r");
        PrimExpr other = data(with_axis(at, axis, PrimExpr(r.var)));
        PrimExpr counted = before(other, PrimExpr(r.var), data(at), at[axis]);
        return te::sum(tir::select(counted, PrimExpr(1), PrimExpr(0)), {r});
      },
      "topk_rank", "reduce");
  // Exactly one position has each rank; min over the matches finds it.
  te::Tensor indices = te::compute(
      out_shape,
      [&](const Indices& i) {
        std::vector<PrimExpr> out = as_exprs(i);
        IterVar r = te::reduce_axis(extent, "r");
        PrimExpr hit = rank(with_axis(out, axis, PrimExpr(r.var))) == out[axis];
        return te::min_reduce(tir::select(hit, PrimExpr(r.var), PrimExpr(extent)), {r});
      },
      "topk_indices", "reduce");
  te::Tensor values = te::compute(
      out_shape,
      [&](const Indices& i) {
        std::vector<PrimExpr> out = as_exprs(i);
        // The clamp only matters for a NaN row, where no rank may match.
        return data(with_axis(out, axis, clamp_index(indices(out), extent)));
      },
      "topk_values", "injective");
  return {values, indices};
}

}  // namespace

void register_reduce_impls() {
  register_impl("reduce_sum", reduce_impl(Reduction::kSum, "reduce_sum"));
  register_impl("reduce_mean", reduce_impl(Reduction::kMean, "reduce_mean"));
  register_impl("reduce_max", reduce_impl(Reduction::kMax, "reduce_max"));
  register_impl("reduce_min", reduce_impl(Reduction::kMin, "reduce_min"));
  register_impl("reduce_prod", reduce_impl(Reduction::kProd, "reduce_prod"));
  register_impl("reduce_l1", reduce_impl(Reduction::kL1, "reduce_l1"));
  register_impl("reduce_l2", reduce_impl(Reduction::kL2, "reduce_l2"));
  register_impl("reduce_log_sum", reduce_impl(Reduction::kLogSum, "reduce_log_sum"));
  register_impl("reduce_log_sum_exp", reduce_impl(Reduction::kLogSumExp, "reduce_log_sum_exp"));
  register_impl("reduce_sum_square", reduce_impl(Reduction::kSumSquare, "reduce_sum_square"));
  register_impl("argmax", arg_impl(true, "argmax"));
  register_impl("argmin", arg_impl(false, "argmin"));
  register_impl("cumsum", OpImpl{cumsum_compute, nullptr});
  register_impl("cumprod", OpImpl{cumprod_compute, nullptr});
  register_impl("topk", OpImpl{topk_compute, schedule_all_stages});
}

}  // namespace kiln::op
