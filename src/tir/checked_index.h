// Indices read from tensors at run time (Gather, GatherND, ScatterElements, ...): the
// checked_index.<Op> intrinsic. Its value is the index counted from the end once when negative
// (as ONNX specifies), and it must then lie in [0, extent): otherwise the kernel stops and reports
// "<Op>: index <index> is out of range for axis <axis> of size <extent>" (codegen: one compare and
// an unlikely branch per index read; the te interpreter throws kiln::Error with that message).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "tir/expr.h"

namespace kiln::tir {

inline constexpr std::string_view kCheckedIndexPrefix = "checked_index.";

// checked_index.<op>(int64(value), extent, axis); `op` is the ONNX operator named in the message.
PrimExpr checked_index(PrimExpr value, int64_t extent, int64_t axis, const std::string& op);

inline bool is_checked_index(const IntrinsicNode& node) {
  return node.name.starts_with(kCheckedIndexPrefix);
}

}  // namespace kiln::tir
