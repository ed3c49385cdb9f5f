// Lowering: a Schedule (tensor expressions + steps) becomes a loop-IR kernel.
//
// Contract: `args` are the kernel's parameters in calling order — placeholders (inputs) first, then
// output tensors; every output of the schedule must be among them, and every placeholder that a
// stage reads. Every other stage becomes an intermediate buffer (Allocate, global scope at the
// kernel's root; local scope, sized to the region needed, when computed inside another stage by
// compute_at or cache_write) unless inlined.
//
// Each stage is a loop nest over its current loops (For kinds from the annotations). Axis values
// are rebuilt from the split/fuse relations; a split that does not divide gets a guard
// `if (axis < extent)` placed right inside the innermost loop it depends on. A reduction is an
// init (the combiner's identity for the dtype) placed just outside its outermost reduce loop, over
// the data-parallel loops inside that point (guarded like the update), then the update
// `out[...] = out[...] op source`. compute_at computes the producer inside the consumer's loop over
// the region the consumer's inner loops read (interval arithmetic on affine indices; a non-affine
// index takes the whole axis).
//
// Guarantees: buffer accesses are multi-dimensional and in bounds; no TensorRead or Reduce remains.
// The result is meant for the tir pipeline (simplify, flatten, vectorize, unroll), which the
// caller runs. kiln::Error for arguments that do not fit the schedule.
#pragma once

#include <string>
#include <vector>

#include "te/schedule.h"
#include "te/tensor.h"
#include "tir/stmt.h"

namespace kiln::te {

tir::PrimFunc lower(const Schedule& schedule, const std::vector<Tensor>& args,
                    const std::string& name);

}  // namespace kiln::te
