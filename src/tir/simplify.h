// Pass: arithmetic simplification of the loop IR.
//
// Expects: loop IR (any stage: before or after flatten and vectorize). te-only nodes pass through
//   unchanged except for their children.
// Guarantees: the same values for every variable assignment in the given ranges (loop variables
//   take the ranges of their loops), with
//   - constants folded for every op and dtype (integers wrap to their width; Div/Mod truncate,
//     FloorDiv/FloorMod round down; division by zero is never folded);
//   - signed integer sums in a canonical linear form: `x * c1 + y * c2 - z + c` with like terms
//     combined ((x + 1) + 2 -> x + 3, x * 2 * 4 -> x * 8, x - x -> 0, floordiv(x, c) * c +
//     floormod(x, c) -> x), constants of commutative ops on the right;
//   - floordiv/floormod (and Div/Mod on non-negative values) by a positive constant split as
//     floordiv(a * c + b, c) -> a + floordiv(b, c), and removed when the range of b decides them;
//   - min/max, comparisons and select decided by ranges where they can be (tail guards that always
//     hold disappear), if/else with a constant condition replaced by the branch taken;
//   - lets of constants and variables inlined; ramp/broadcast arithmetic folded (ramp + broadcast
//     -> ramp, ramp with stride 0 -> broadcast).
//   Float arithmetic is only constant-folded and rewritten by exact identities (x * 1, x - 0,
//   x / 1): no reassociation.
// Assumes: signed integer index arithmetic does not overflow (as C does).
// Runs: first in lower_tir, and again after flatten and after vectorize/unroll.
#pragma once

#include "tir/bound.h"
#include "tir/expr.h"
#include "tir/stmt.h"

namespace kiln::tir {

PrimExpr simplify(const PrimExpr& expr, const RangeMap& ranges = {});
// Tracks loop and let variable ranges itself.
Stmt simplify(const Stmt& stmt, const RangeMap& ranges = {});
PrimFunc simplify(PrimFunc func);

}  // namespace kiln::tir
