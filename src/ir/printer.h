// The readable text form of a module: what Model.summary() shows. One line per value with its
// type; constants are referenced by name ($conv1.weight) and listed with their types at the end.
//
//   def @main(%data: float32[1, 3, 224, 224]) -> float32[1, 1000] {
//     %0 = conv2d(%data, $conv1.weight, dilation=[1, 1], groups=1, ...) : float32[1, 64, 112, 112]
//     # conv1
//     ...
//     return %42
//   }
//
// The text is deterministic (golden tests compare it) and identical for a module and its
// serialized-then-loaded copy.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "ir/module.h"

namespace kiln::ir {

struct PrintOptions {
  bool show_constants = true;       // the constant table at the end
  bool show_source_names = true;    // "# conv1" comments with the source model's node names
  int64_t inline_values_up_to = 8;  // constants this small show their values in the table
  // The order of the value lines, when not empty: every node of main's body exactly once, each
  // after its inputs (the fusion printer lists values group by group). Default: post order.
  std::vector<Expr> order;
  // A comment printed on a line of its own before a value's line ("# kernel 3: conv2d + relu");
  // empty for none.
  std::function<std::string(const ExprNode*)> comment_before;
};

std::string print_module(const Module& module, const PrintOptions& options = {});
// One expression and everything it depends on, as a function-less listing (for errors/tests).
std::string print_expr(const Expr& expr);

}  // namespace kiln::ir
