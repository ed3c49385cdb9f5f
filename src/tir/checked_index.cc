#include "tir/checked_index.h"

#include <memory>
#include <vector>

#include "kiln/error.h"

namespace kiln::tir {

PrimExpr checked_index(PrimExpr value, int64_t extent, int64_t axis, const std::string& op) {
  KILN_CHECK(extent >= 0) << op << ": negative extent " << extent;
  DataType index{DType::kInt64, value.dtype().lanes};
  // Built directly: intrinsic() types its result from the first argument, which is right here,
  // but the extent and axis must stay constants (codegen reads them).
  return PrimExpr(std::make_shared<const IntrinsicNode>(
      index, std::string(kCheckedIndexPrefix) + op,
      std::vector<PrimExpr>{cast(index, std::move(value)), PrimExpr(extent), PrimExpr(axis)}));
}

}  // namespace kiln::tir
