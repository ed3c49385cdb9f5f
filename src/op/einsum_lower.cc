// einsum's compute: one stage, out[output labels] = sum over the other labels of the product of
// the operands (each read at its labels; index 0 along a broadcast "..." dim of size 1). With
// nothing to sum (transposes, outer products, diagonals) the stage is injective. The generic
// schedule fits both.
#include <string>
#include <vector>

#include "ir/attrs.h"
#include "op/einsum.h"
#include "op/lower_util.h"

namespace kiln::op {
namespace {

std::vector<te::Tensor> einsum_compute(const std::vector<te::Tensor>& inputs,
                                       const ir::Attrs& attrs, const ir::Type& result) {
  std::vector<ir::Shape> shapes;
  for (const te::Tensor& input : inputs) {
    shapes.push_back(ir::Shape(input->shape.begin(), input->shape.end()));
  }
  EinsumPlan plan = plan_einsum(attrs.get_string("equation"), shapes, "einsum");
  return {te::compute(
      result_shape(result),
      [&](const Indices& i) {
        std::vector<PrimExpr> value(plan.label_dims.size());
        for (size_t k = 0; k < plan.output_labels.size(); ++k) {
          value[static_cast<size_t>(plan.output_labels[k])] = PrimExpr(i[k]);
        }
        std::vector<tir::IterVar> axes;
        for (int label : plan.reduce_labels) {
          tir::IterVar axis = te::reduce_axis(plan.label_dims[static_cast<size_t>(label)].value(),
                                              "r" + std::to_string(label));
          value[static_cast<size_t>(label)] = PrimExpr(axis.var);
          axes.push_back(axis);
        }
        PrimExpr product;
        for (size_t n = 0; n < inputs.size(); ++n) {
          std::vector<PrimExpr> index;
          for (size_t d = 0; d < plan.operand_labels[n].size(); ++d) {
            index.push_back(plan.broadcast[n][d]
                                ? PrimExpr(0)
                                : value[static_cast<size_t>(plan.operand_labels[n][d])]);
          }
          PrimExpr term = inputs[n](index);
          product = product ? product * term : term;
        }
        return axes.empty() ? product : te::sum(product, axes);
      },
      "einsum", plan.reduce_labels.empty() ? "injective" : "reduce")};
}

}  // namespace

void register_einsum_impls() { register_impl("einsum", OpImpl{einsum_compute, nullptr}); }

}  // namespace kiln::op
