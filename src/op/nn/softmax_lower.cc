// Computes of softmax, log_softmax and hardmax along one axis (src/op/nn/softmax.cc), as separate
// stages: the maximum along the axis, the sum of exp(x - max), then the normalised output
// (subtracting the maximum keeps exp from overflowing).
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

struct AlongAxis {
  std::vector<int64_t> shape;
  std::vector<int64_t> reduced_shape;  // shape with the axis kept as 1
  size_t axis = 0;

  // A reduction stage over the axis of source(data index).
  te::Tensor reduce(const std::string& name, tir::ReduceCombiner combiner,
                    const std::function<PrimExpr(const Exprs& at, const Exprs& in)>& source) const {
    return te::compute(
        reduced_shape,
        [&](const Indices& i) {
          tir::IterVar r = te::reduce_axis(shape[axis], "r");
          Exprs at = as_exprs(i);
          Exprs in = at;
          in[axis] = PrimExpr(r.var);
          PrimExpr value = source(at, in);
          switch (combiner) {
            case tir::ReduceCombiner::kMax:
              return te::max_reduce(value, {r});
            case tir::ReduceCombiner::kMin:
              return te::min_reduce(value, {r});
            default:
              return te::sum(value, {r});
          }
        },
        name, "reduce");
  }
  // The index of the reduced stages that data index `in` belongs to.
  Exprs at(const Exprs& in) const {
    Exprs index = in;
    index[axis] = PrimExpr(0);
    return index;
  }
};

AlongAxis along_axis(const ir::Type& result, const Attrs& attrs, std::string_view op_name) {
  AlongAxis along;
  along.shape = result_shape(result);
  along.axis = static_cast<size_t>(
      normalize_axis(attrs.get_int("axis"), static_cast<int64_t>(along.shape.size()), op_name));
  along.reduced_shape = along.shape;
  along.reduced_shape[along.axis] = 1;
  return along;
}

std::vector<te::Tensor> softmax_compute(bool log, const std::vector<te::Tensor>& inputs,
                                        const Attrs& attrs, const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  std::string name = log ? "log_softmax" : "softmax";
  AlongAxis along = along_axis(result, attrs, name);
  te::Tensor peak = along.reduce(name + "_max", tir::ReduceCombiner::kMax,
                                 [&](const Exprs&, const Exprs& in) { return data(in); });
  // Half types sum their exponentials in float32 and round once at the end (see widen).
  te::Tensor total = along.reduce(
      name + "_expsum", tir::ReduceCombiner::kSum, [&](const Exprs& at, const Exprs& in) {
        return tir::intrinsic("exp", {widen(data(in)) - widen(peak(at))});
      });
  DType dtype = data->dtype.dtype;
  return {te::compute(
      along.shape,
      [&](const Indices& i) {
        Exprs in = as_exprs(i);
        Exprs at = along.at(in);
        PrimExpr shifted = widen(data(in)) - widen(peak(at));
        PrimExpr value = log ? shifted - tir::intrinsic("log", {total(at)})
                             : tir::intrinsic("exp", {shifted}) / total(at);
        return tir::cast(scalar_type(dtype), value);
      },
      name, "elemwise")};
}

// 1 at the first maximum along the axis, 0 elsewhere.
std::vector<te::Tensor> hardmax_compute(const std::vector<te::Tensor>& inputs, const Attrs& attrs,
                                        const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  AlongAxis along = along_axis(result, attrs, "hardmax");
  DType dtype = data->dtype.dtype;
  int64_t extent = along.shape[along.axis];
  te::Tensor peak = along.reduce("hardmax_max", tir::ReduceCombiner::kMax,
                                 [&](const Exprs&, const Exprs& in) { return data(in); });
  te::Tensor first = along.reduce(
      "hardmax_first", tir::ReduceCombiner::kMin, [&](const Exprs& at, const Exprs& in) {
        return tir::select(data(in) == peak(at), in[along.axis], PrimExpr(extent));
      });
  return {te::compute(
      along.shape,
      [&](const Indices& i) {
        Exprs in = as_exprs(i);
        return tir::select(in[along.axis] == first(along.at(in)), constant(dtype, 1),
                           constant(dtype, 0));
      },
      "hardmax", "elemwise")};
}

}  // namespace

void register_softmax_impls() {
  register_impl("softmax", OpImpl{[](const std::vector<te::Tensor>& inputs, const ir::Attrs& attrs,
                                     const ir::Type& result) {
                                    return softmax_compute(false, inputs, attrs, result);
                                  },
                                  schedule_all_stages});
  register_impl("log_softmax", OpImpl{[](const std::vector<te::Tensor>& inputs,
                                         const ir::Attrs& attrs, const ir::Type& result) {
                                        return softmax_compute(true, inputs, attrs, result);
                                      },
                                      schedule_all_stages});
  register_impl("hardmax", OpImpl{hardmax_compute, schedule_all_stages});
}

}  // namespace kiln::op
