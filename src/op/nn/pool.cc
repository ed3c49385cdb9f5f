// Placeholder: the pool operator family is being written.
#include "ir/op.h"

namespace kiln::op {
void register_pool_ops(ir::OpRegistry& /*registry*/) {}
}  // namespace kiln::op
