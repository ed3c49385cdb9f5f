// Register tiling for the reduction operators (conv2d, dense, matmul): the default schedules
// compute each output tile in a small local buffer that LLVM keeps in vector registers.
//
// The tile of the output stage (the operator's output, or the fused epilogue that reads it) is
// [block_0 x block_1 x ... x block_last]; the last block runs along the output's innermost axis
// and is vectorized. The accumulating stage (the anchor, or a cache_write copy of the output)
// is computed inside the tile loop over exactly that region, with
//
//   init (zeros);  for reduce loops { for block_0 (unrolled) ... for block_last (vector) acc += }
//
// so every reduce step updates whole vectors of independent outputs: no reassociation (the
// floating-point policy), and the accumulators never leave the registers because every access
// to the local buffer has a constant index once the block loops are unrolled.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "op/op_impl.h"
#include "te/schedule.h"
#include "te/tensor.h"

namespace kiln::op {

// Vector registers available for accumulators: three quarters of the register file (32 zmm on
// AVX-512, 16 ymm/xmm otherwise); the rest hold the input vector(s) and products in flight.
int accumulator_registers(const ScheduleContext& context);

// A divisor of `extent` of at most `max_vectors` vectors of `lanes` that fills the vector lanes
// best (ties go to the smaller block, which leaves registers for the other tile axes, unless
// `prefer_larger`). Divisors only: a tail would make the vectorized loop fall back to serial code.
int64_t vector_block(int64_t extent, int lanes, int max_vectors, bool prefer_larger = false);

// The largest divisor of `extent` that is at most `limit` (at least 1).
int64_t divisor_at_most(int64_t extent, int64_t limit);

// Applies the register tiling. `output` is the kernel's output stage (outputs[0]); `accumulate`
// the reduction it reads elementwise at the same index (the anchor of a fused group), or null /
// `output` itself (then a cache_write of `output` accumulates). `blocks` has one entry per
// output axis, each dividing the axis; block 1 leaves the axis outside the tile. The reduce
// loops keep their order; `unroll_reduce` names reduce loops of the accumulating stage to unroll
// too (short kernel-window loops: more independent work per iteration).
// Returns false (and changes nothing) when the stages do not have the expected form.
// `columns_outermost` runs the tiles along the innermost axis in the outer tile loop (all rows of
// one column panel, then the next panel): matrix products whose right operand is too big for the
// L2 cache then read each panel of it from memory once instead of once per row block.
bool register_tile(te::Schedule& schedule, const te::Tensor& output, const te::Tensor& accumulate,
                   const std::vector<int64_t>& blocks, const ScheduleContext& context,
                   const std::vector<std::string>& unroll_reduce = {},
                   bool columns_outermost = false);

}  // namespace kiln::op
