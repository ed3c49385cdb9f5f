// Compute of bitcast (src/op/bitcast.cc): one reinterpret per element; elementwise, so it takes the
// default schedule and fuses with its neighbours.
#include <string>
#include <vector>

#include "ir/attrs.h"
#include "op/lower_util.h"

namespace kiln::op {
namespace {

std::vector<te::Tensor> bitcast_compute(const std::vector<te::Tensor>& inputs, const ir::Attrs&,
                                        const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  DType to = result_tensor(result).dtype;
  return {te::compute(
      result_shape(result),
      [&](const Indices& i) { return tir::reinterpret(data(as_exprs(i)), to); }, "bitcast",
      "elemwise")};
}

}  // namespace

void register_bitcast_impls() { register_impl("bitcast", OpImpl{bitcast_compute, nullptr}); }

}  // namespace kiln::op
