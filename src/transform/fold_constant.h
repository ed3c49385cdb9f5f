// fold_constant: evaluates at compile time what does not depend on the model inputs.
//
// Expects:    a well-typed module (any pass order; it is cheap and safe to run repeatedly).
// Guarantees: every call whose arguments are all constants, whose operator has a reference
//             evaluator (ir::OpDef::evaluate) and whose result is a single tensor becomes a
//             ConstantNode holding the evaluated value, unless the result is larger than 2^24
//             elements or larger than its constant arguments together plus 4096 elements (the
//             importer's rule: folding must not trade a cheap kernel for a big weight, e.g. an
//             expand of a small constant). `tuple.i` of an explicit tuple becomes that field.
//             Calls whose evaluation raises a kiln::Error (an integer division by zero) stay calls:
//             the runtime decides what they do, as it would without folding.
//             Input and output names, and the number of outputs, are unchanged.
// Run after:  any pass that creates constant subgraphs (simplify_inference, fold_scale_axis).
#pragma once

#include <string>

#include "ir/module.h"

namespace kiln::transform {

ir::Module fold_constant(const ir::Module& module);

// The folding rule for one node, for passes that build constant subexpressions and want them
// folded as they go: the constant `expr` evaluates to (named `name`, or the call's source name
// when empty) when the rule above allows, else `expr` itself.
ir::Expr fold_if_constant(const ir::Expr& expr, const std::string& name = "");

}  // namespace kiln::transform
