// convert_layout: puts the data of convolutions into a desired layout (TVM's ConvertLayout).
//
//   "" or "NCHW" — the importers' layout: the module is returned unchanged (on CPU targets the
//                  alter_op_layout pass then moves convolutions into NCHW[x]c by itself).
//   "NHWC"       — every conv2d with constant weights, groups 1 or depthwise, computes on NHWC
//                  data with HWIO weights (transformed at compile time); elementwise operators,
//                  per-channel constants and reductions over H and W follow the NHWC value;
//                  layout_transforms (transposes) sit where NCHW is needed: model inputs and
//                  outputs, pooling, and any other operator (src/transform/alter_op_layout.h).
// Anything else is a kiln::Error listing the choices.
//
// Expects:    a typed module with static shapes.
// Guarantees: inputs, outputs, their names and types unchanged; for "NCHW", the module itself.
// Run after:  the other graph passes, before fusion.
#pragma once

#include <string>

#include "ir/module.h"

namespace kiln::transform {

ir::Module convert_layout(const ir::Module& module, const std::string& desired_layout);

}  // namespace kiln::transform
