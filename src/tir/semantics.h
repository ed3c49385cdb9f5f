// The meaning of loop-IR operators on plain values, shared by everything that evaluates them at
// compile time (the simplifier's constant folding, bound analysis in te lowering, the te
// interpreter). Code generation must agree with these definitions.
#pragma once

#include <cstdint>

#include "tir/expr.h"

namespace kiln::tir {

// Division rounding toward negative infinity (FloorDiv), for any signs; b != 0.
inline int64_t floor_div(int64_t a, int64_t b) {
  int64_t quotient = a / b;
  if (a % b != 0 && ((a < 0) != (b < 0))) --quotient;
  return quotient;
}

// The remainder matching floor_div: it takes the sign of b (FloorMod); b != 0.
inline int64_t floor_mod(int64_t a, int64_t b) { return a - floor_div(a, b) * b; }

template <typename T>
bool apply_compare(CompareOp op, T a, T b) {
  switch (op) {
    case CompareOp::kEQ:
      return a == b;
    case CompareOp::kNE:
      return a != b;
    case CompareOp::kLT:
      return a < b;
    case CompareOp::kLE:
      return a <= b;
    case CompareOp::kGT:
      return a > b;
    case CompareOp::kGE:
      return a >= b;
  }
  return false;
}

}  // namespace kiln::tir
