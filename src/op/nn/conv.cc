// Placeholder: the conv operator family is being written.
#include "ir/op.h"

namespace kiln::op {
void register_conv_ops(ir::OpRegistry& /*registry*/) {}
}  // namespace kiln::op
