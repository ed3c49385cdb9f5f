// simplify_expr: removes data movement that does nothing and collapses chains of it.
//
//   reshape / squeeze / unsqueeze / expand to the type it already has         -> x
//   pad with every pad 0                                                      -> x
//   transpose with the identity permutation                                   -> x
//   cast to the dtype it already has                                          -> x
//   a chain of reshape / squeeze / unsqueeze   -> one reshape to the final shape (or x when that
//                                                  is x's own shape; needs a static final shape
//                                                  unless the outermost is a reshape without 0s)
//   transpose(transpose(x, p), q)              -> transpose(x, p[q[i]]) (or x when that is the
//                                                  identity: adjacent layout changes cancel)
// These come from importers (Flatten of an already flat tensor, Reshape to a computed shape that
// folds to the input's own) and from other passes. Intermediate nodes that stay used elsewhere
// are kept; the rewrite only stops reading through them.
//
// Expects:    a well-typed module.
// Guarantees: the same values with the same types; input and output names unchanged.
// Run after:  fold_constant (a reshape's target shape must be a folded attribute to be seen).
#pragma once

#include "ir/module.h"

namespace kiln::transform {

ir::Module simplify_expr(const ir::Module& module);

}  // namespace kiln::transform
