// Compute of layout_transform (src/op/layout.cc): each result element reads its source element
// through the layouts' index arithmetic. Injective, so it takes the default schedule and fuses
// with its neighbours like any other data movement.
#include <string>
#include <vector>

#include "ir/attrs.h"
#include "op/layout.h"
#include "op/lower_util.h"

namespace kiln::op {
namespace {

std::vector<te::Tensor> layout_transform_compute(const std::vector<te::Tensor>& inputs,
                                                 const ir::Attrs& attrs, const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  Layout src = Layout::parse(attrs.get_string("src_layout"));
  Layout dst = Layout::parse(attrs.get_string("dst_layout"));
  auto div = [](const PrimExpr& a, int64_t b) { return tir::floordiv(a, PrimExpr(b)); };
  auto mod = [](const PrimExpr& a, int64_t b) { return tir::floormod(a, PrimExpr(b)); };
  return {te::compute(
      result_shape(result),
      [&](const Indices& i) { return data(source_index(src, dst, as_exprs(i), div, mod)); },
      "layout_transform", "injective")};
}

}  // namespace

void register_layout_impls() {
  register_impl("layout_transform", OpImpl{layout_transform_compute, nullptr});
}

}  // namespace kiln::op
