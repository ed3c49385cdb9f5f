// fold_scale_axis: pushes per-output-channel scales and shifts that follow a conv2d or dense into
// its weights and bias, so they cost nothing at run time (the usual source is a batch_norm that
// simplify_inference turned into a multiply and an add).
//
//   conv2d(x, W) * s              -> conv2d(x, W * s[o])
//   bias_add(conv2d(x, W), b) * s -> bias_add(conv2d(x, W * s[o]), b * s)
//   conv2d(x, W) + t              -> bias_add(conv2d(x, W), t)
//   bias_add(conv2d(x, W), b) + t -> bias_add(conv2d(x, W), b + t)
// and the same for dense(x, W[N, K]), whose output channel axis is the last one.
//
// Only when s / t is a constant of the anchor's float dtype that broadcasts along the output
// channel axis only (every other dim 1, so the result has the anchor's type); s may also be a
// scalar, and must be finite (W * inf would turn the zeros of W into NaN). The weight, and the
// bias when there is one, must be constants, and a scale is only folded into an anchor (and
// bias_add) whose single user is the multiply: folding into a shared conv would change its other
// users or compute it twice. Scales on a conv's input side are not folded. Folding happens
// bottom-up, so chains (two multiplies, a multiply then an add) fold completely.
//
// Expects:    a well-typed module; simplify_inference has run (batch_norm is gone).
// Guarantees: the same values up to float rounding (W * s is rounded once to the weight dtype);
//             input and output names unchanged; new weights and biases are folded constants
//             named after the originals.
// Run after:  simplify_inference and fold_constant (so that scales are single constants).
#pragma once

#include "ir/module.h"

namespace kiln::transform {

ir::Module fold_scale_axis(const ir::Module& module);

}  // namespace kiln::transform
