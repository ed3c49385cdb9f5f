// eliminate_common_subexpr: computes each distinct value once.
//
// Two calls with the same operator, the same attributes and the very same argument nodes are
// merged into the first one (the importer and the other passes produce such duplicates: the same
// shape computation or transpose of a shared weight written twice). Merging is bottom-up, so
// duplicates of duplicates merge too. Also merged: tuples of the same fields, `t.i` of the same
// tuple and index, and constants of the same dtype and shape with identical bytes when they hold
// at most 64 KiB (comparing large weights byte by byte would cost more than it saves). Variables
// (the model inputs) are never merged. Source names do not take part: the first node's name stays.
//
// Expects:    a well-typed module. Operators are pure (no IR operator has side effects or
//             randomness), which is what makes merging equal calls safe.
// Guarantees: the same values; no two reachable calls have equal op, attrs and arguments.
//             Output names and their number are unchanged (two outputs may become one node; the
//             compiler copies repeated outputs into storages of their own).
// Run after:  fold_constant and fold_scale_axis (they create most of the equal constants).
#pragma once

#include "ir/module.h"

namespace kiln::transform {

ir::Module eliminate_common_subexpr(const ir::Module& module);

}  // namespace kiln::transform
