// A reference evaluator of tensor expressions: computes every stage element by element straight
// from its body, ignoring any schedule. It gives each operator's compute a test before code
// generation exists, and later a reference for the generated code.
//
// Semantics (what compiled code must also do):
//  - every operation rounds to its dtype: float32 math is done in double and rounded to float32
//    after each operation (float16 / bfloat16 likewise); integers wrap to their width; bool is 0/1;
//    unsigned 64-bit values divide and compare as unsigned;
//  - min / max propagate NaN (as numpy's maximum / minimum); reductions combine in the stage's
//    dtype, starting from the combiner's identity (max: -inf or the dtype's lowest);
//  - both sides of a select are evaluated, so a read out of bounds is an error even on the side
//    not taken (compiled code may evaluate both);
//  - float to integer casts truncate toward zero (saturating, NaN -> 0); anything to bool is
//    `!= 0`.
#pragma once

#include <map>
#include <vector>

#include "kiln/tensor.h"
#include "te/tensor.h"

namespace kiln::te {

// The values of `outputs`, one kiln::Tensor each (dtype and shape of the te tensor). `inputs` gives
// a value for every placeholder reachable from the outputs, with the placeholder's dtype and
// shape. Internal errors (KILN_CHECK): a missing or misshapen input, a read out of bounds, a node
// of lowered loop IR. kiln::Error: an integer division or remainder by zero.
std::vector<kiln::Tensor> evaluate(const std::vector<Tensor>& outputs,
                                   const std::map<const TensorNode*, kiln::Tensor>& inputs);

}  // namespace kiln::te
