// Pass: vectorize loops of kind kVectorized into vector operations.
//
// Expects: flattened loop IR (one index per access), simplified, so that loop extents that are
//   constants are IntImm.
// Guarantees: no kVectorized loop is left. A vectorized loop `for (v, min, n)` with a constant
//   extent 2 <= n <= max_lanes becomes its body with v replaced by ramp(min, 1, n), widened:
//   - affine indices become Ramp (contiguous: stride 1; strided: another constant stride), other
//     vector indices stay element-wise vectors (gathers);
//   - values that do not depend on v stay scalar and are Broadcast where they meet a vector;
//   - arithmetic, comparisons, select, casts and intrinsics become element-wise on vectors.
//   The loop falls back to a serial loop (same body) when vectorizing could change the result or
//   is unsupported: a nested loop or allocation, an if/let whose condition/value depends on v, a
//   store index that is not a Ramp with a constant non-zero stride (in particular a reduction,
//   `c[i] = c[i] + x` with i independent of v), two stores to one buffer at different indices, a
//   load of a stored buffer at another index than the store's (a loop-carried dependence), a
//   non-constant extent or one above max_lanes. Extent 1 substitutes min; extent <= 0 leaves no-op.
//   A body guarded by ifs without else whose conditions are comparisons (not !=) of expressions
//   affine in v (tail guards of splits that do not divide) becomes
//   `if (guard at v = min && guard at v = min + n - 1) { vector body } else { serial loop }`:
//   such a guard holds at every lane when it holds at the first and the last.
// Runs: after flatten and simplify, before unroll; run simplify afterwards.
#pragma once

#include "tir/stmt.h"

namespace kiln::tir {

Stmt vectorize(const Stmt& stmt, int max_lanes = 64);
PrimFunc vectorize(PrimFunc func, int max_lanes = 64);

}  // namespace kiln::tir
