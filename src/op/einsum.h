// einsum's equation, parsed against the operand shapes: shared by the type relation and
// evaluator (einsum.cc) and the compute (einsum_lower.cc).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ir/type.h"

namespace kiln::op {

// Every distinct index of the equation gets a label id 0, 1, ...: the letters, and one label per
// broadcast dim that "..." stands for.
struct EinsumPlan {
  std::vector<std::vector<int>> operand_labels;  // per operand, one label per dim
  std::vector<int> output_labels;                // one per result dim
  std::vector<int> reduce_labels;                // labels summed over (not in the output)
  std::vector<ir::Dim> label_dims;               // the extent of each label
  // Per operand and dim: the dim is 1 where the label is wider (a broadcast "..." dim), so the
  // operand is read at index 0 there.
  std::vector<std::vector<bool>> broadcast;
};

// Parses `equation` ("ij,jk->ik", "bij,bjk", "...ii->...i") for operands of `shapes`:
// explicit or implicit output (then: the "..." dims, then the letters used once, in alphabetical
// order), repeated letters within an operand (diagonals, traces), "..." broadcasting with
// numpy's rules. kiln::Error naming `op_name` when the equation does not fit the shapes.
EinsumPlan plan_einsum(std::string_view equation, const std::vector<ir::Shape>& shapes,
                       std::string_view op_name);

}  // namespace kiln::op
