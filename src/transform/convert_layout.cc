#include "transform/convert_layout.h"

#include "kiln/error.h"

namespace kiln::transform {

ir::Module convert_layout(const ir::Module& module, const std::string& desired_layout) {
  if (desired_layout.empty() || desired_layout == "NCHW") return module;
  if (desired_layout == "NHWC") {
    throw Error(
        "desired_layout \"NHWC\" is not supported yet: Kiln's conv2d and pooling operators "
        "compute on NCHW data only; use \"NCHW\" or leave desired_layout empty");
  }
  throw Error("unknown desired_layout \"" + desired_layout + "\": choose \"NCHW\" or \"NHWC\"");
}

}  // namespace kiln::transform
