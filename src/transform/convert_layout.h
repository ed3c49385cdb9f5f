// convert_layout: puts the data of convolutions and pools into a desired layout.
//
// Kiln's conv2d and pooling operators take NCHW data only (src/op/nn/conv.cc, pool.cc: no layout
// attribute), which is the layout every importer produces. So:
//   "NCHW"  — nothing to do: the module is returned unchanged.
//   "NHWC"  — rejected with a kiln::Error ("not supported yet"). Emulating it with a transpose
//             before and after every conv2d would only add data movement, since the operators
//             would still compute in NCHW; it needs NHWC computes first.
//   ""      — nothing asked: unchanged.
// Anything else is a kiln::Error listing the choices. (The CPU blocked layout NCHW[x]c is a
// separate step of the fusion / scheduling work, not this pass.)
//
// Expects:    a well-typed module.
// Guarantees: for "NCHW", the module itself.
// Run after:  the other graph passes, before fusion.
#pragma once

#include <string>

#include "ir/module.h"

namespace kiln::transform {

ir::Module convert_layout(const ir::Module& module, const std::string& desired_layout);

}  // namespace kiln::transform
