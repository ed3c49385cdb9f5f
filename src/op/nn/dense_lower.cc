// Computes of dense (data[..., K] x weight[N, K]^T) and matmul (numpy semantics: 1-D operands
// promoted, batch dims broadcast) — one reduction stage each. The default schedule vectorizes the
// innermost output dim below the reduction loop and runs the outer output dims in parallel
// (packed weights and register blocking come with the performance work).
#include <string>
#include <vector>

#include "ir/attrs.h"
#include "kiln/error.h"
#include "op/lower_util.h"

namespace kiln::op {
namespace {

using ir::Attrs;
using Exprs = std::vector<PrimExpr>;

std::vector<te::Tensor> dense_compute(const std::vector<te::Tensor>& inputs, const Attrs&,
                                      const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  const te::Tensor& weight = inputs[1];
  std::vector<int64_t> out_shape = result_shape(result);
  int64_t features = weight->shape[1];
  return {te::compute(
      out_shape,
      [&](const Indices& i) {
        tir::IterVar k = te::reduce_axis(features, "k");
        Exprs in = as_exprs(i);
        PrimExpr unit = in.back();
        in.back() = PrimExpr(k.var);
        return te::sum(data(in) * weight(unit, k.var), {k});
      },
      "dense", "dense")};
}

std::vector<te::Tensor> matmul_compute(const std::vector<te::Tensor>& inputs, const Attrs&,
                                       const ir::Type& result) {
  const te::Tensor& a = inputs[0];
  const te::Tensor& b = inputs[1];
  std::vector<int64_t> out_shape = result_shape(result);
  bool a_vector = a->shape.size() == 1, b_vector = b->shape.size() == 1;
  int64_t depth = a->shape.back();
  // Output dims: batch..., then m unless a is a vector, then n unless b is a vector.
  size_t matrix_dims = (a_vector ? 0 : 1) + (b_vector ? 0 : 1);
  size_t batch_rank = out_shape.size() - matrix_dims;
  // An operand's batch index: its batch dims right-aligned to the output's, size 1 broadcasting.
  auto batch_index = [&](const te::Tensor& operand, size_t operand_matrix_dims, const Exprs& out) {
    size_t rank = operand->shape.size() - operand_matrix_dims;
    Exprs index;
    for (size_t d = 0; d < rank; ++d) {
      size_t out_dim = batch_rank - rank + d;
      index.push_back(operand->shape[d] == 1 ? PrimExpr(0) : out[out_dim]);
    }
    return index;
  };
  return {te::compute(
      out_shape,
      [&](const Indices& i) {
        tir::IterVar k = te::reduce_axis(depth, "k");
        Exprs out = as_exprs(i);
        Exprs a_index = batch_index(a, a_vector ? 1 : 2, out);
        if (!a_vector) a_index.push_back(out[batch_rank]);
        a_index.push_back(PrimExpr(k.var));
        Exprs b_index = batch_index(b, b_vector ? 1 : 2, out);
        b_index.push_back(PrimExpr(k.var));
        if (!b_vector) b_index.push_back(out.back());
        return te::sum(a(a_index) * b(b_index), {k});
      },
      "matmul", "matmul")};
}

}  // namespace

void register_dense_impls() {
  register_impl("dense", OpImpl{dense_compute, schedule_all_stages});
  register_impl("matmul", OpImpl{matmul_compute, schedule_all_stages});
}

}  // namespace kiln::op
