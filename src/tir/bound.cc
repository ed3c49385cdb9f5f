#include "tir/bound.h"

#include <algorithm>
#include <initializer_list>

namespace kiln::tir {
namespace {

using Wide = __int128;  // intermediate results of int64 bounds never overflow in 128 bits

Wide floor_div(Wide a, Wide b) {
  Wide q = a / b;
  if (a % b != 0 && ((a < 0) != (b < 0))) --q;
  return q;
}

// [lo, hi] clamped to `dtype`: the whole dtype range when it does not fit (the value may wrap).
IntBound make_bound(Wide lo, Wide hi, DataType dtype) {
  IntBound whole = dtype_bound(dtype);
  if (lo < whole.min || hi > whole.max) return whole;
  return {static_cast<int64_t>(lo), static_cast<int64_t>(hi)};
}

IntBound corners(std::initializer_list<Wide> values, DataType dtype) {
  return make_bound(std::min(values), std::max(values), dtype);
}

bool is_integer(DataType dtype) { return dtype.is_int() || dtype.is_bool(); }

class BoundAnalyzer {
 public:
  explicit BoundAnalyzer(const RangeMap& ranges) : ranges_(ranges) {}

  IntBound bound(const PrimExpr& expr) {
    DataType dtype = expr.dtype();
    if (!is_integer(dtype)) return IntBound{};
    if (dtype.is_bool()) return {0, 1};
    switch (expr->kind()) {
      case ExprKind::kIntImm: {
        int64_t value = expr.as<IntImmNode>()->value;
        return {value, value};
      }
      case ExprKind::kVar: {
        auto it = ranges_.find(expr.as<VarNode>());
        return it == ranges_.end() ? dtype_bound(dtype) : it->second;
      }
      case ExprKind::kBinary:
        return binary(expr.as<BinaryNode>(), dtype);
      case ExprKind::kSelect: {
        const auto* op = expr.as<SelectNode>();
        IntBound t = bound(op->true_value), f = bound(op->false_value);
        return {std::min(t.min, f.min), std::max(t.max, f.max)};
      }
      case ExprKind::kCast: {
        const auto* op = expr.as<CastNode>();
        if (!is_integer(op->value.dtype())) return dtype_bound(dtype);
        IntBound value = bound(op->value), whole = dtype_bound(dtype);
        // A uint64 source beyond int64's range shows as negative: only trust signed sources.
        bool trusted = op->value.dtype().dtype != DType::kUInt64;
        if (trusted && value.min >= whole.min && value.max <= whole.max) return value;
        return whole;
      }
      case ExprKind::kRamp: {
        const auto* op = expr.as<RampNode>();
        IntBound base = bound(op->base), stride = bound(op->stride);
        Wide last = op->lanes - 1;
        return corners({Wide(base.min), Wide(base.max), Wide(base.min) + stride.min * last,
                        Wide(base.min) + stride.max * last, Wide(base.max) + stride.min * last,
                        Wide(base.max) + stride.max * last},
                       dtype);
      }
      case ExprKind::kBroadcast:
        return bound(expr.as<BroadcastNode>()->value);
      default:
        return dtype_bound(dtype);
    }
  }

 private:
  IntBound binary(const BinaryNode* op, DataType dtype) {
    IntBound a = bound(op->a), b = bound(op->b);
    Wide a0 = a.min, a1 = a.max, b0 = b.min, b1 = b.max;
    switch (op->op) {
      case BinaryOp::kAdd:
        return make_bound(a0 + b0, a1 + b1, dtype);
      case BinaryOp::kSub:
        return make_bound(a0 - b1, a1 - b0, dtype);
      case BinaryOp::kMul:
        return corners({a0 * b0, a0 * b1, a1 * b0, a1 * b1}, dtype);
      case BinaryOp::kMin:
        return {std::min(a.min, b.min), std::min(a.max, b.max)};
      case BinaryOp::kMax:
        return {std::max(a.min, b.min), std::max(a.max, b.max)};
      case BinaryOp::kDiv:
        // Truncating division is monotone in each operand on either side of a zero divisor.
        if (b0 > 0 || b1 < 0) return corners({a0 / b0, a0 / b1, a1 / b0, a1 / b1}, dtype);
        return dtype_bound(dtype);
      case BinaryOp::kFloorDiv:
        if (b0 > 0 || b1 < 0) {
          return corners(
              {floor_div(a0, b0), floor_div(a0, b1), floor_div(a1, b0), floor_div(a1, b1)}, dtype);
        }
        return dtype_bound(dtype);
      case BinaryOp::kMod: {
        // |a % b| < |b|, and the result has the sign of a.
        if (b0 <= 0 && b1 >= 0) return dtype_bound(dtype);
        Wide limit = std::max(b0 < 0 ? -b0 : b0, b1 < 0 ? -b1 : b1) - 1;
        Wide lo = a0 >= 0 ? 0 : std::max(-limit, a0);
        Wide hi = a1 <= 0 ? 0 : std::min(limit, a1);
        return make_bound(lo, hi, dtype);
      }
      case BinaryOp::kFloorMod: {
        if (b0 > 0) {
          // A constant divisor and an interval within one period keep the interval.
          if (b0 == b1 && floor_div(a0, b0) == floor_div(a1, b0)) {
            Wide base = floor_div(a0, b0) * b0;
            return make_bound(a0 - base, a1 - base, dtype);
          }
          return make_bound(0, b1 - 1, dtype);
        }
        if (b1 < 0) return make_bound(b0 + 1, 0, dtype);
        return dtype_bound(dtype);
      }
    }
    return dtype_bound(dtype);
  }

  const RangeMap& ranges_;
};

}  // namespace

IntBound dtype_bound(DataType dtype) {
  switch (dtype.dtype) {
    case DType::kBool:
      return {0, 1};
    case DType::kInt8:
      return {INT8_MIN, INT8_MAX};
    case DType::kInt16:
      return {INT16_MIN, INT16_MAX};
    case DType::kInt32:
      return {INT32_MIN, INT32_MAX};
    case DType::kUInt8:
      return {0, UINT8_MAX};
    case DType::kUInt16:
      return {0, UINT16_MAX};
    case DType::kUInt32:
      return {0, UINT32_MAX};
    default:
      return IntBound{};
  }
}

IntBound bound_of(const PrimExpr& expr, const RangeMap& ranges) {
  return BoundAnalyzer(ranges).bound(expr);
}

IntBound loop_var_bound(const PrimExpr& min, const PrimExpr& extent, const RangeMap& ranges) {
  IntBound lo = bound_of(min, ranges), count = bound_of(extent, ranges);
  if (count.max < 1) return IntBound{};
  return make_bound(lo.min, Wide(lo.max) + count.max - 1, min.dtype());
}

}  // namespace kiln::tir
