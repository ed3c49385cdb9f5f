// Placeholder: the transform operator family is being written.
#include "ir/op.h"

namespace kiln::op {
void register_transform_ops(ir::OpRegistry& /*registry*/) {}
}  // namespace kiln::op
