// Small helpers shared by the graph passes (src/transform/*.cc). Not a pass itself.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "ir/functor.h"
#include "ir/module.h"

namespace kiln::transform {

// The module with main rebuilt by `mutator` (same parameters, output names and metadata).
ir::Module mutate_main(const ir::Module& module, ir::ExprMutator& mutator);

// How many times each node reachable from `root` is used as an input (call argument, tuple field,
// tuple of a getitem, function body). A pass that folds a node into its consumer may only do so
// when that consumer is the node's single user; otherwise the node would be computed twice.
std::unordered_map<const ir::ExprNode*, int64_t> use_counts(const ir::Expr& root);

// A rank-0 constant of `dtype` holding `value`.
ir::Constant scalar_constant(double value, DType dtype, std::string name = "");

// The dims of a statically shaped tensor expression; nullopt for a tuple or a symbolic shape.
std::optional<std::vector<int64_t>> static_shape(const ir::Expr& expr);

}  // namespace kiln::transform
