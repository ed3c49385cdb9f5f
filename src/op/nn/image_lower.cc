// resize2d lowering: not yet (see register_image_impls).
#include "op/lower_util.h"

namespace kiln::op {

// resize2d is not lowered yet: its coordinate transformation and interpolation modes need their
// own tests against onnxruntime; compile reports it as unsupported until then.
void register_image_impls() {}

}  // namespace kiln::op
