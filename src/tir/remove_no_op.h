// Pass: remove statements that do nothing, and loops that need no loop.
//
// Expects: any loop IR; most effective after simplify (constant extents and conditions folded).
// Guarantees: no loop with a constant extent <= 0 or a no-op body; a loop of extent 1 is replaced
//   by its body with the variable replaced by min; no if with empty branches (an empty then with an
//   else becomes the negated if), let or allocation with a no-op body, evaluation of a constant, or
//   empty statement inside a Seq. A body that does nothing at all becomes the empty Seq (no-op).
// Runs: after simplify in lower_tir.
#pragma once

#include "tir/stmt.h"

namespace kiln::tir {

Stmt remove_no_op(const Stmt& stmt);
PrimFunc remove_no_op(PrimFunc func);

}  // namespace kiln::tir
