// simplify_inference: rewrites inference-only operators into plain arithmetic.
//
// batch_norm(x, gamma, beta, mean, var; axis, epsilon) becomes
//   x * scale + shift,   scale = gamma / sqrt(var + epsilon),   shift = beta - mean * scale
// with scale and shift reshaped to [C, 1, ...] so that they broadcast along `axis` only. When the
// parameters are constants (always, for an imported model) scale and shift are folded on the spot,
// leaving one broadcast multiply and one broadcast add that fold_scale_axis can push into a
// preceding conv2d / dense and that fusion can merge into any kernel.
//
// Dropout and Identity need no rewrite: the ONNX importer already drops them (the IR has no
// dropout or identity operator). layer_norm, instance_norm and group_norm stay as they are: their
// statistics depend on the data, so there is nothing to precompute.
//
// Expects:    a well-typed module.
// Guarantees: no batch_norm call is left; types, input names and outputs are unchanged.
// Run after:  infer_types. Run fold_scale_axis and fold_constant after it.
#pragma once

#include "ir/module.h"

namespace kiln::transform {

ir::Module simplify_inference(const ir::Module& module);

}  // namespace kiln::transform
