// Placeholder: the image operator family is being written.
#include "ir/op.h"

namespace kiln::op {
void register_image_ops(ir::OpRegistry& /*registry*/) {}
}  // namespace kiln::op
