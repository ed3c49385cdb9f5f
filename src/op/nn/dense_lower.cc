// Computes of dense (data[..., K] x weight[N, K]^T) and matmul (numpy semantics: 1-D operands
// promoted, batch dims broadcast), and their default schedules: register tiles of [rows x
// columns] (see register_tile.h), the columns (N, contiguous in the output) a vector.
//
// The vector loads along N must be contiguous in the right operand: matmul's b[..., K, N] is;
// dense's weight[N, K] is not (a vector along N would be a gather), so when the data has enough
// rows (kPackRows) dense first packs the weight into [K, N] (a stage "dense_pack" computed
// each run: N*K copies against M*N*K multiply-adds). With fewer rows the matrix-vector product is
// bound by reading the weight anyway, and keeps the generic schedule.
#include <string>
#include <vector>

#include "ir/attrs.h"
#include "kiln/error.h"
#include "op/lower_util.h"
#include "op/nn/register_tile.h"

namespace kiln::op {
namespace {

using ir::Attrs;
using Exprs = std::vector<PrimExpr>;

// Rows of data from which dense packs its weight (measured: 16 rows already amortise the copy).
constexpr int64_t kPackRows = 16;

int64_t rows_of(const std::vector<int64_t>& shape) {
  int64_t rows = 1;
  for (size_t k = 0; k + 1 < shape.size(); ++k) rows *= shape[k];
  return rows;
}

std::vector<te::Tensor> dense_compute(const std::vector<te::Tensor>& inputs, const Attrs&,
                                      const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  const te::Tensor& weight = inputs[1];
  std::vector<int64_t> out_shape = result_shape(result);
  int64_t features = weight->shape[1];
  int64_t units = weight->shape[0];
  te::Tensor packed;
  if (rows_of(data->shape) >= kPackRows) {
    packed = te::compute({features, units}, [&](const Indices& i) { return weight(i[1], i[0]); },
                         "dense_pack", "pack", {"k", "n"});
  }
  te::Tensor product = te::compute(
      out_shape,
      [&](const Indices& i) {
        tir::IterVar k = te::reduce_axis(features, "k");
        Exprs in = as_exprs(i);
        PrimExpr unit = in.back();
        in.back() = PrimExpr(k.var);
        PrimExpr w = packed ? packed(k.var, unit) : weight(unit, k.var);
        return te::sum(widen(data(in)) * widen(w), {k});
      },
      "dense", "dense");
  return {round_to(product, result_tensor(result).dtype, "dense_round")};
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
  te::Tensor product = te::compute(
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
        return te::sum(widen(a(a_index)) * widen(b(b_index)), {k});
      },
      "matmul", "matmul");
  return {round_to(product, result_tensor(result).dtype, "matmul_round")};
}

// Register tiles over the last two output dims (rows x columns): columns the vector block of N
// that fills the lanes best, up to 2 vectors (ties: the larger; each broadcast of a data element
// then serves 2 vectors), rows the largest divisor of M that fits the remaining accumulators.
// The right operand must be contiguous along N (matmul's b, dense's packed weight); otherwise,
// and for a single row (matrix-vector), the generic schedule.
void matrix_schedule(te::Schedule& schedule, const std::vector<te::Tensor>& outputs,
                     const ScheduleContext& context) {
  const te::Tensor& output = outputs[0];
  const te::Tensor& product = context.anchor ? context.anchor : output;
  std::vector<te::Tensor> inputs = te::input_tensors(product);
  bool contiguous_n = false;
  for (const te::Tensor& input : inputs) {
    if (input->tag == "pack") {
      schedule_injective_stage(schedule, input, context);
      contiguous_n = true;
    }
  }
  if (product->tag == "matmul") {
    // b is the last input read; contiguous along N unless it is a vector (then N is absent).
    contiguous_n = inputs.size() == 2 && inputs[1]->shape.size() >= 2 &&
                   inputs[1]->shape.back() == product->shape.back();
  }
  size_t rank = product->shape.size();
  if (contiguous_n && rank >= 2 && product->shape[rank - 2] > 1) {
    int lanes = context.lanes(product->dtype.dtype);
    int64_t columns = vector_block(product->shape.back(), lanes, 2, true);
    int64_t vectors = (columns + lanes - 1) / lanes;
    int64_t rows =
        divisor_at_most(product->shape[rank - 2], accumulator_registers(context) / vectors);
    std::vector<int64_t> blocks(rank, 1);
    blocks[rank - 2] = rows;
    blocks[rank - 1] = columns;
    if (register_tile(schedule, output, product, blocks, context, {}, /*columns_outermost=*/true)) {
      return;
    }
  }
  schedule_all_stages(schedule, outputs, context);
}

}  // namespace

void register_dense_impls() {
  register_impl("dense", OpImpl{dense_compute, matrix_schedule});
  register_impl("matmul", OpImpl{matmul_compute, matrix_schedule});
}

}  // namespace kiln::op
