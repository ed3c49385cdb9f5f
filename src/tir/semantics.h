// The meaning of loop-IR operators on plain values, shared by everything that evaluates them at
// compile time (the simplifier's constant folding, bound analysis in te lowering, the te
// interpreter). Code generation must agree with these definitions.
#pragma once

#include <cstdint>

#include "kiln/tensor.h"
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

// `value` rounded to the precision of the float dtype `dtype` (unchanged for float64 and
// non-float types), so that float32 / half / narrow-float code is modelled operation by operation.
inline double round_to_precision(DType dtype, double value) {
  switch (dtype) {
    case DType::kFloat32:
      return static_cast<double>(static_cast<float>(value));
    case DType::kFloat16:
      return half_to_float(float_to_half(static_cast<float>(value)));
    case DType::kBFloat16:
      return bfloat16_to_float(float_to_bfloat16(static_cast<float>(value)));
    case DType::kFloat8E4M3FN:
    case DType::kFloat8E4M3FNUZ:
    case DType::kFloat8E5M2:
    case DType::kFloat8E5M2FNUZ:
    case DType::kFloat8E8M0:
    case DType::kFloat4E2M1:
      return narrow_float_to_float(dtype, float_to_narrow_float(dtype, static_cast<float>(value)));
    default:
      return value;
  }
}

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
