// Text of the loop IR: what `dump_code=["tir"]` writes and what golden tests compare. The format
// is documented in docs/formats.md ("Loop IR text"); keep the two in step, and keep it
// deterministic: the same IR always prints the same bytes.
//
//   func add_one(a: float32[4, 16], out: float32[4, 16]) {
//     parallel for (i, 0, 4) {
//       vectorized for (j, 0, 16) {
//         out[i, j] = a[i, j] + 1f
//       }
//     }
//   }
//
// Distinct variables (or buffers) that share a name are told apart by a suffix in order of first
// appearance: `i`, `i_1`, `i_2`.
#pragma once

#include <string>

#include "tir/expr.h"
#include "tir/stmt.h"

namespace kiln::tir {

std::string to_text(const PrimFunc& func);
// Statements print one per line at `indent` levels of two spaces, each line ending in '\n'.
std::string to_text(const Stmt& stmt, int indent = 0);
std::string to_text(const PrimExpr& expr);
// Several kernels, separated by a blank line (the content of a `.tir` dump).
std::string to_text(const std::vector<PrimFunc>& funcs);

}  // namespace kiln::tir
