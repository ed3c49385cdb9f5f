// Constant integer bounds of index expressions (a ConstIntBound-style analysis): for each
// expression, an inclusive interval [min, max] that holds for every value the variables can take,
// given intervals for the loop (and let) variables in scope. The simplifier uses it to drop
// floordiv/floormod, min/max and comparisons that the ranges decide.
//
// Sound for signed integer arithmetic under wrap-around: when an intermediate interval leaves the
// dtype's range the result is the dtype's whole range. Expressions that are not integers (floats,
// loads of unknown values) get their dtype's whole range.
#pragma once

#include <cstdint>
#include <limits>
#include <unordered_map>

#include "tir/expr.h"

namespace kiln::tir {

struct IntBound {
  int64_t min = std::numeric_limits<int64_t>::min();
  int64_t max = std::numeric_limits<int64_t>::max();

  bool is_const() const { return min == max; }
  bool operator==(const IntBound& other) const { return min == other.min && max == other.max; }
};

// Known ranges of variables, by variable node.
using RangeMap = std::unordered_map<const VarNode*, IntBound>;

// The range of a loop variable: [min, min + extent - 1] over every value of min and extent.
// Whole range when the loop may not run (extent possibly < 1 makes no difference to the body, but
// an empty range would be meaningless) or the bounds are unknown.
IntBound loop_var_bound(const PrimExpr& min, const PrimExpr& extent, const RangeMap& ranges);

// Bound of `expr` over all lanes (for a Ramp: every lane).
IntBound bound_of(const PrimExpr& expr, const RangeMap& ranges);

// The whole range of an integer dtype (int64's whole range for uint64, bool [0, 1]).
IntBound dtype_bound(DataType dtype);

}  // namespace kiln::tir
