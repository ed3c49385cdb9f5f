// Helpers shared by the operator lowerings (src/op/*_lower.cc, src/op/nn/*_lower.cc): reading the
// static result type, broadcasting and guarded reads in tensor expressions, and the schedule
// building blocks that the default schedules are made of.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/type.h"
#include "op/op_impl.h"
#include "te/schedule.h"
#include "te/tensor.h"
#include "tir/expr.h"

namespace kiln::op {

using te::Indices;
using tir::DataType;
using tir::PrimExpr;

// The result of a single-output operator as a static tensor type (the driver only lowers static
// shapes; anything else is an internal error).
const ir::TensorType& result_tensor(const ir::Type& result);
std::vector<int64_t> result_shape(const ir::Type& result);
// The static shapes of a tuple result's fields.
std::vector<std::vector<int64_t>> tuple_shapes(const ir::Type& result);

inline DataType scalar_type(DType dtype) { return DataType{dtype, 1}; }
// A constant of `dtype` (float, integer or bool as the dtype says).
inline PrimExpr constant(DType dtype, double value) {
  return tir::make_const(scalar_type(dtype), value);
}

// The indices as expressions.
std::vector<PrimExpr> as_exprs(const Indices& indices);

// Reads `tensor` at the output position `index` of a numpy broadcast: the tensor is aligned to
// the right of `index`; its size-1 dims (where the output is wider) read index 0.
PrimExpr broadcast_read(const te::Tensor& tensor, const std::vector<PrimExpr>& index,
                        const std::vector<int64_t>& out_shape);

// min(max(index, 0), extent - 1).
PrimExpr clamp_index(const PrimExpr& index, int64_t extent);

// tensor(index) where every index is in range, `fill` elsewhere. The read itself uses clamped
// indices, because both sides of a select may be evaluated: it never reads out of bounds. Only the
// dims flagged in `checked` get a bounds test (the others are known to be in range).
PrimExpr read_or(const te::Tensor& tensor, const std::vector<PrimExpr>& index,
                 const std::vector<bool>& checked, const PrimExpr& fill);

// The lowest / highest finite-or-infinite value of a dtype: -inf / +inf for floats, the integer
// range otherwise (the identity of max / min).
PrimExpr lowest_value(DType dtype);
PrimExpr highest_value(DType dtype);

// Half-precision (float16, bfloat16) products and sums accumulate in float32, as numpy and
// onnxruntime do: a float16 sum rounds at every step (a float16 MatMul with K = 64 came out 7x
// further from the exact result than its rounding). `widen` casts a value to the accumulator
// type (float32 for half types, else unchanged); `round_to` is the stage that casts the widened
// result back to `dtype` once (the tensor itself when the types already match).
DType accumulator_dtype(DType dtype);
PrimExpr widen(const PrimExpr& value);
te::Tensor round_to(const te::Tensor& widened, DType dtype, const std::string& name);

// Row-major flat index of `index` in `shape`, and its inverse (the multi-index of a flat index).
PrimExpr flatten_index(const std::vector<PrimExpr>& index, const std::vector<int64_t>& shape);
std::vector<PrimExpr> unflatten_index(const PrimExpr& flat, const std::vector<int64_t>& shape);

// --- schedule building blocks ------------------------------------------------------------------

// Every compute stage that `outputs` depend on (placeholders excluded), producers first.
std::vector<te::Tensor> compute_stages(const std::vector<te::Tensor>& outputs);

// An elementwise / injective stage: split the innermost loop by the vector lanes and vectorize
// it (when it is at least one vector long), fuse every loop outside it and run that in parallel.
void schedule_injective_stage(te::Schedule& schedule, const te::Tensor& stage,
                              const ScheduleContext& context);
// A reduction stage: the innermost output dim split into vectors that go below the reduce loops
// (when it is at least one vector long), the other output dims fused and run in parallel.
void schedule_reduction_stage(te::Schedule& schedule, const te::Tensor& stage,
                              const ScheduleContext& context);
// The injective or the reduction schedule, as the stage has reduce axes or not. Stages that are
// inlined or computed inside another stage are left alone.
void schedule_stage(te::Schedule& schedule, const te::Tensor& stage,
                    const ScheduleContext& context);
// A fused group's anchor and epilogue (ScheduleContext::anchor set and not `output` itself):
// `output`'s outer dims are fused into one parallel loop and its innermost dim is vectorized; the
// anchor is computed inside the fused loop (one innermost row of it per iteration, while the row
// is hot in cache) with its own loops serial and vectorized. An anchor without reduce axes
// (reduce_mean's division) is inlined into `output` instead. Returns the stages it scheduled;
// none (and the schedule unchanged) when the anchor cannot be attached there (it is an output or
// has another reader, either stage was scheduled already, `output` has rank < 2): then schedule
// the anchor as a stage of its own.
std::vector<te::Tensor> schedule_fused_epilogue(te::Schedule& schedule, const te::Tensor& output,
                                                const ScheduleContext& context);
// Each compute stage of `outputs`' graph gets the injective or the reduction schedule; with an
// anchor, the anchor and outputs[0] get schedule_fused_epilogue first.
void schedule_all_stages(te::Schedule& schedule, const std::vector<te::Tensor>& outputs,
                         const ScheduleContext& context);

}  // namespace kiln::op
