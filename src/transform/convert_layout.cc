#include "transform/convert_layout.h"

#include "kiln/error.h"
#include "transform/alter_op_layout.h"

namespace kiln::transform {

ir::Module convert_layout(const ir::Module& module, const std::string& desired_layout) {
  if (desired_layout.empty() || desired_layout == "NCHW") return module;
  if (desired_layout == "NHWC") return convert_to_nhwc(module);
  throw Error("unknown desired_layout \"" + desired_layout + "\": choose \"NCHW\" or \"NHWC\"");
}

}  // namespace kiln::transform
