// Computes of the normalisations (src/op/nn/norm.cc). batch_norm (inference) is one elementwise
// stage after a per-channel scale; layer_norm, instance_norm and group_norm share one plan:
// sum -> mean -> sum of squared deviations -> 1 / sqrt(variance + epsilon) -> normalised output
// (two passes over the data, which keeps the variance accurate). lrn sums squares over a channel
// window; lp_normalize divides by a norm along one axis.
#include <functional>
#include <string>
#include <vector>

#include "ir/attrs.h"
#include "kiln/error.h"
#include "op/lower_util.h"
#include "op/op_util.h"

namespace kiln::op {
namespace {

using ir::Attrs;
using Exprs = std::vector<PrimExpr>;

std::vector<te::Tensor> batch_norm_compute(const std::vector<te::Tensor>& inputs,
                                           const Attrs& attrs, const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  const te::Tensor &gamma = inputs[1], &beta = inputs[2], &mean = inputs[3], &var = inputs[4];
  std::vector<int64_t> shape = result_shape(result);
  auto axis = static_cast<size_t>(
      normalize_axis(attrs.get_int("axis"), static_cast<int64_t>(shape.size()), "batch_norm"));
  double epsilon = attrs.get_float("epsilon");
  te::Tensor scale = te::compute(
      {shape[axis]},
      [&](const Indices& c) { return gamma(c[0]) / tir::intrinsic("sqrt", {var(c[0]) + epsilon}); },
      "batch_norm_scale", "elemwise");
  return {te::compute(
      shape,
      [&](const Indices& i) {
        const tir::Var& c = i[axis];
        return (data(as_exprs(i)) - mean(c)) * scale(c) + beta(c);
      },
      "batch_norm", "broadcast")};
}

// Where the statistics of a normalisation live and which elements they cover.
struct NormPlan {
  std::vector<int64_t> stats_shape;
  std::vector<int64_t> reduce_extents;  // one reduce axis per entry
  // The data index of statistics index `stat` and reduce axis values `r`.
  std::function<Exprs(const Exprs& stat, const Exprs& r)> input_of;
  // The statistics index that data index `in` is normalised with.
  std::function<Exprs(const Exprs& in)> stat_of;
};

// (x - mean) / sqrt(variance + epsilon), then `affine(normalised, data index)`.
te::Tensor normalize(const te::Tensor& data, const NormPlan& plan, double epsilon,
                     const std::string& name,
                     const std::function<PrimExpr(const PrimExpr&, const Exprs&)>& affine) {
  DType dtype = data->dtype.dtype;
  int64_t count = 1;
  for (int64_t extent : plan.reduce_extents) count *= extent;
  // A reduction over the plan's reduce axes of source(data index).
  auto reduce = [&](const std::string& stage_name,
                    const std::function<PrimExpr(const Exprs& stat, const Exprs& in)>& source) {
    return te::compute(
        plan.stats_shape,
        [&](const Indices& i) {
          std::vector<tir::IterVar> axes;
          Exprs r;
          for (size_t k = 0; k < plan.reduce_extents.size(); ++k) {
            axes.push_back(te::reduce_axis(plan.reduce_extents[k], "r" + std::to_string(k)));
            r.push_back(PrimExpr(axes.back().var));
          }
          Exprs stat = as_exprs(i);
          return te::sum(source(stat, plan.input_of(stat, r)), axes);
        },
        stage_name, "reduce");
  };
  auto per_stat = [&](const std::string& stage_name,
                      const std::function<PrimExpr(const Exprs& stat)>& value) {
    return te::compute(
        plan.stats_shape, [&](const Indices& i) { return value(as_exprs(i)); }, stage_name,
        "elemwise");
  };
  PrimExpr inverse_count = constant(dtype, 1.0 / static_cast<double>(count));
  te::Tensor total = reduce(name + "_sum", [&](const Exprs&, const Exprs& in) { return data(in); });
  te::Tensor mean =
      per_stat(name + "_mean", [&](const Exprs& s) { return total(s) * inverse_count; });
  te::Tensor squares = reduce(name + "_sqsum", [&](const Exprs& stat, const Exprs& in) {
    PrimExpr deviation = data(in) - mean(stat);
    return deviation * deviation;
  });
  te::Tensor rstd = per_stat(name + "_rstd", [&](const Exprs& s) {
    return PrimExpr(1.0) / tir::intrinsic("sqrt", {squares(s) * inverse_count + epsilon});
  });
  return te::compute(
      data->shape,
      [&](const Indices& i) {
        Exprs in = as_exprs(i);
        Exprs stat = plan.stat_of(in);
        return affine((data(in) - mean(stat)) * rstd(stat), in);
      },
      name, "elemwise");
}

std::vector<te::Tensor> layer_norm_compute(const std::vector<te::Tensor>& inputs,
                                           const Attrs& attrs, const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  std::vector<int64_t> shape = result_shape(result);
  size_t rank = shape.size();
  auto axis = static_cast<size_t>(
      normalize_axis(attrs.get_int("axis"), static_cast<int64_t>(rank), "layer_norm"));
  // Statistics keep the normalised dims as 1s, so that they always have the data's rank.
  NormPlan plan;
  plan.stats_shape = shape;
  for (size_t d = axis; d < rank; ++d) {
    plan.stats_shape[d] = 1;
    plan.reduce_extents.push_back(shape[d]);
  }
  plan.input_of = [axis](const Exprs& stat, const Exprs& r) {
    Exprs in(stat.begin(), stat.begin() + static_cast<long>(axis));
    in.insert(in.end(), r.begin(), r.end());
    return in;
  };
  plan.stat_of = [axis, rank](const Exprs& in) {
    Exprs stat(in.begin(), in.begin() + static_cast<long>(axis));
    stat.resize(rank, PrimExpr(0));
    return stat;
  };
  std::vector<int64_t> trailing(shape.begin() + static_cast<long>(axis), shape.end());
  auto affine = [&](const PrimExpr& normalised, const Exprs& in) {
    Exprs position(in.begin() + static_cast<long>(axis), in.end());
    PrimExpr value = normalised * broadcast_read(inputs[1], position, trailing);
    if (inputs.size() > 2) value = value + broadcast_read(inputs[2], position, trailing);
    return value;
  };
  return {normalize(data, plan, attrs.get_float("epsilon"), "layer_norm", affine)};
}

std::vector<te::Tensor> instance_norm_compute(const std::vector<te::Tensor>& inputs,
                                              const Attrs& attrs, const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  const te::Tensor &gamma = inputs[1], &beta = inputs[2];
  std::vector<int64_t> shape = result_shape(result);
  NormPlan plan;
  plan.stats_shape = {shape[0], shape[1]};
  plan.reduce_extents.assign(shape.begin() + 2, shape.end());
  plan.input_of = [](const Exprs& stat, const Exprs& r) {
    Exprs in = stat;
    in.insert(in.end(), r.begin(), r.end());
    return in;
  };
  plan.stat_of = [](const Exprs& in) { return Exprs{in[0], in[1]}; };
  auto affine = [&](const PrimExpr& normalised, const Exprs& in) {
    return normalised * gamma(in[1]) + beta(in[1]);
  };
  return {normalize(data, plan, attrs.get_float("epsilon"), "instance_norm", affine)};
}

std::vector<te::Tensor> group_norm_compute(const std::vector<te::Tensor>& inputs,
                                           const Attrs& attrs, const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  const te::Tensor &gamma = inputs[1], &beta = inputs[2];
  std::vector<int64_t> shape = result_shape(result);
  int64_t groups = attrs.get_int("num_groups");
  int64_t per_group = shape[1] / groups;
  NormPlan plan;
  plan.stats_shape = {shape[0], groups};
  plan.reduce_extents = {per_group};
  plan.reduce_extents.insert(plan.reduce_extents.end(), shape.begin() + 2, shape.end());
  plan.input_of = [per_group](const Exprs& stat, const Exprs& r) {
    Exprs in = {stat[0], stat[1] * per_group + r[0]};
    in.insert(in.end(), r.begin() + 1, r.end());
    return in;
  };
  plan.stat_of = [per_group](const Exprs& in) {
    return Exprs{in[0], tir::floordiv(in[1], PrimExpr(per_group))};
  };
  auto affine = [&](const PrimExpr& normalised, const Exprs& in) {
    return normalised * gamma(in[1]) + beta(in[1]);
  };
  return {normalize(data, plan, attrs.get_float("epsilon"), "group_norm", affine)};
}

// ONNX LRN: x / (bias + alpha / size * sum of x^2 over channels [c - (size-1)/2, c + size/2])^beta.
std::vector<te::Tensor> lrn_compute(const std::vector<te::Tensor>& inputs, const Attrs& attrs,
                                    const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  std::vector<int64_t> shape = result_shape(result);
  int64_t size = attrs.get_int("size");
  double alpha = attrs.get_float("alpha"), beta = attrs.get_float("beta");
  double bias = attrs.get_float("bias");
  DType dtype = data->dtype.dtype;
  int64_t before = (size - 1) / 2;
  te::Tensor squares = te::compute(
      shape,
      [&](const Indices& i) {
        tir::IterVar r = te::reduce_axis(size, "rc");
        Exprs in = as_exprs(i);
        in[1] = in[1] - before + PrimExpr(r.var);
        std::vector<bool> checked(shape.size(), false);
        checked[1] = true;
        PrimExpr x = read_or(data, in, checked, constant(dtype, 0));
        return te::sum(x * x, {r});
      },
      "lrn_sqsum", "reduce");
  return {te::compute(
      shape,
      [&](const Indices& i) {
        Exprs in = as_exprs(i);
        PrimExpr base = squares(in) * (alpha / static_cast<double>(size)) + bias;
        return data(in) / tir::intrinsic("pow", {base, constant(dtype, beta)});
      },
      "lrn", "elemwise")};
}

std::vector<te::Tensor> lp_normalize_compute(const std::vector<te::Tensor>& inputs,
                                             const Attrs& attrs, const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  std::vector<int64_t> shape = result_shape(result);
  auto axis = static_cast<size_t>(
      normalize_axis(attrs.get_int("axis"), static_cast<int64_t>(shape.size()), "lp_normalize"));
  bool l1 = attrs.get_int("p") == 1;
  std::vector<int64_t> norm_shape = shape;
  norm_shape[axis] = 1;
  te::Tensor total = te::compute(
      norm_shape,
      [&](const Indices& i) {
        tir::IterVar r = te::reduce_axis(shape[axis], "r");
        Exprs in = as_exprs(i);
        in[axis] = PrimExpr(r.var);
        PrimExpr x = data(in);
        return te::sum(l1 ? tir::intrinsic("fabs", {x}) : x * x, {r});
      },
      "lp_normalize_sum", "reduce");
  return {te::compute(
      shape,
      [&](const Indices& i) {
        Exprs in = as_exprs(i);
        Exprs at = in;
        at[axis] = PrimExpr(0);
        PrimExpr norm = l1 ? total(at) : tir::intrinsic("sqrt", {total(at)});
        // A zero vector stays zero (ONNX's reference), not 0 / 0 = NaN.
        PrimExpr zero = constant(data->dtype.dtype, 0);
        return tir::select(norm == zero, zero, data(in) / norm);
      },
      "lp_normalize", "elemwise")};
}

}  // namespace

void register_norm_impls() {
  register_impl("batch_norm", OpImpl{batch_norm_compute, schedule_all_stages});
  register_impl("layer_norm", OpImpl{layer_norm_compute, schedule_all_stages});
  register_impl("instance_norm", OpImpl{instance_norm_compute, schedule_all_stages});
  register_impl("group_norm", OpImpl{group_norm_compute, schedule_all_stages});
  register_impl("lrn", OpImpl{lrn_compute, schedule_all_stages});
  register_impl("lp_normalize", OpImpl{lp_normalize_compute, schedule_all_stages});
}

}  // namespace kiln::op
