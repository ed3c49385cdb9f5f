// Pass: unroll loops of kind kUnrolled.
//
// Expects: simplified loop IR, so that constant extents are IntImm.
// Guarantees: no kUnrolled loop is left. One with a constant extent 0 <= n <= max_extent becomes n
//   copies of its body in sequence, copy k with the loop variable replaced by min + k; variables
//   bound inside the body (inner loops, lets) are fresh in each copy so that every variable is
//   bound once. Other kUnrolled loops become serial loops. Inner loops unroll first.
// Runs: after vectorize (an unrolled loop around a vectorized one replicates vector code); run
//   simplify afterwards to fold the substituted indices.
#pragma once

#include "tir/stmt.h"

namespace kiln::tir {

Stmt unroll(const Stmt& stmt, int max_extent = 64);
PrimFunc unroll(PrimFunc func, int max_extent = 64);

}  // namespace kiln::tir
