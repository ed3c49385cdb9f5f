// Placeholder: the rnn operator family is being written.
#include "ir/op.h"

namespace kiln::op {
void register_rnn_ops(ir::OpRegistry& /*registry*/) {}
}  // namespace kiln::op
