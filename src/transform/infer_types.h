// infer_types: re-infers the type of every node.
//
// Kiln's types are eager: CallNode::make runs the operator's type relation, so a node that exists
// is already well typed and any pass that replaces an input rebuilds (and so re-infers) everything
// above it through ExprMutator. This pass is therefore a cheap re-check: it remakes every call,
// tuple and getitem from its (re-made) inputs, which re-runs every type relation bottom-up. Use it
// after changing input types from outside a pass, or as the first step of the pipeline so that a
// stale or hand-built node is caught (as a kiln::Error naming the operator) before other passes.
//
// Expects:    a module whose nodes were built through the IR's make() functions.
// Guarantees: a module structurally identical to the input whose every type is the one the type
//             relations infer now; nodes are shared with the input where nothing changed.
// Run after:  nothing.
#pragma once

#include "ir/module.h"

namespace kiln::transform {

ir::Module infer_types(const ir::Module& module);

}  // namespace kiln::transform
