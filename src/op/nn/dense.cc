// Placeholder: the dense operator family is being written.
#include "ir/op.h"

namespace kiln::op {
void register_dense_ops(ir::OpRegistry& /*registry*/) {}
}  // namespace kiln::op
