// How an operator becomes code: its compute (tensor expressions) and its default schedule. Kept in
// the operator's family file next to its type relation; registered under the operator's name.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <vector>

#include "ir/attrs.h"
#include "ir/type.h"
#include "te/schedule.h"
#include "te/tensor.h"

namespace kiln::op {

// What a default schedule may know about the target.
struct ScheduleContext {
  int vector_bits = 256;  // SIMD register width: 512 (AVX-512), 256 (AVX2), 128 (SSE, NEON)
  int num_cores = 1;      // parallel loops only when > 1
  // When the kernel is a fused group: the output of the group's anchor operator (conv2d, dense,
  // ...), whose elementwise epilogue (bias, relu, residual add) produces `outputs[0]`; the stages
  // between the anchor and outputs[0] are already inlined into outputs[0]. The anchor's schedule
  // tiles outputs[0] and computes the anchor inside that tiling (compute_at). Null when the
  // kernel is the operator alone or the group's last operator is the anchor (then the anchor is
  // outputs[0] itself). Stages that the driver inlined are not at the root
  // (te::Schedule::at_root): schedules leave them alone.
  te::Tensor anchor;
  // Lanes of `dtype` in one vector register (at least 1).
  int lanes(DType dtype) const;
};

// inputs: one placeholder per call argument, with the argument's static shape and dtype;
// result: the call's type (a tuple for multi-output operators). Returns one tensor per output.
using ComputeFn = std::function<std::vector<te::Tensor>(
    const std::vector<te::Tensor>& inputs, const ir::Attrs& attrs, const ir::Type& result)>;
// Adds steps to `schedule` for the stages of `outputs` (and the stages they depend on that the
// compute created). Must produce correct code for every shape, including sizes that the chosen
// split factors do not divide.
using ScheduleFn =
    std::function<void(te::Schedule& schedule, const std::vector<te::Tensor>& outputs,
                       const ScheduleContext& context)>;

struct OpImpl {
  ComputeFn compute;
  ScheduleFn schedule;  // optional: none means the generic injective/reduction schedule
};

void register_impl(const std::string& op_name, OpImpl impl);
// nullptr when the operator cannot be compiled yet.
const OpImpl* find_impl(std::string_view op_name);

// Registers every built-in operator lowering (src/op/*_lower.cc, src/op/nn/*_lower.cc). find_impl
// calls it once on first use; register_impl replaces an earlier registration of the same name.
void register_all_impls();

// The generic default schedule: fuse the outer data-parallel loops of each output stage and run
// them in parallel, vectorize the innermost data-parallel loop when it is long enough. With an
// anchor, every stage of the kernel is scheduled and the anchor is computed inside the tiling of
// outputs[0] (schedule_fused_epilogue in op/lower_util.h, which operator schedules may call too),
// or, where that does not apply, at the root as a loop nest of its own.
void default_schedule(te::Schedule& schedule, const std::vector<te::Tensor>& outputs,
                      const ScheduleContext& context);

}  // namespace kiln::op
