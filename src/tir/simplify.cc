#include "tir/simplify.h"

#include <cmath>
#include <optional>
#include <utility>

#include "support/subbyte_cast.h"
#include "tir/functor.h"
#include "tir/semantics.h"

namespace kiln::tir {
namespace {

// ---- integer helpers
// ------------------------------------------------------------------------------

int dtype_bits(DType dtype) {
  return dtype == DType::kBool ? 1 : static_cast<int>(dtype_size(dtype) * 8);
}

// `value` reduced to the width of `dtype` (sign- or zero-extended back to 64 bits), which is how
// integer immediates of narrow dtypes are kept.
int64_t wrap(uint64_t value, DType dtype) {
  int bits = dtype_bits(dtype);
  if (bits >= 64) return static_cast<int64_t>(value);
  uint64_t mask = (uint64_t{1} << bits) - 1;
  value &= mask;
  if (dtype_is_signed(dtype) && ((value >> (bits - 1)) & 1)) value |= ~mask;
  return static_cast<int64_t>(value);
}

// Wrapping arithmetic without signed-overflow UB.
int64_t add(int64_t a, int64_t b, DType dtype) {
  return wrap(static_cast<uint64_t>(a) + static_cast<uint64_t>(b), dtype);
}
int64_t mul(int64_t a, int64_t b, DType dtype) {
  return wrap(static_cast<uint64_t>(a) * static_cast<uint64_t>(b), dtype);
}
int64_t neg(int64_t a, DType dtype) { return wrap(0 - static_cast<uint64_t>(a), dtype); }

bool is_signed_int(DataType dtype) { return dtype.is_int() && dtype_is_signed(dtype.dtype); }
// Scalar signed integers: the index arithmetic that gets the linear form and range reasoning.
bool is_index(DataType dtype) { return dtype.lanes == 1 && is_signed_int(dtype); }

PrimExpr make_int(int64_t value, DataType dtype) {
  PrimExpr scalar = int_imm(wrap(static_cast<uint64_t>(value), dtype.dtype), dtype.element());
  return dtype.lanes > 1 ? broadcast(scalar, dtype.lanes) : scalar;
}
PrimExpr make_bool(bool value, int lanes = 1) {
  PrimExpr scalar = int_imm(value ? 1 : 0, bool_type());
  return lanes > 1 ? broadcast(scalar, lanes) : scalar;
}

// Whether `expr` is the constant `value` (through a Broadcast).
bool is_const_value(const PrimExpr& expr, double value) {
  if (const auto* b = expr.as<BroadcastNode>()) return is_const_value(b->value, value);
  if (const auto* i = expr.as<IntImmNode>()) return static_cast<double>(i->value) == value;
  if (const auto* f = expr.as<FloatImmNode>()) return f->value == value;
  return false;
}
bool is_const(const PrimExpr& expr) {
  if (const auto* b = expr.as<BroadcastNode>()) return is_const(b->value);
  return expr.as<IntImmNode>() || expr.as<FloatImmNode>();
}

std::optional<int64_t> fold_int(BinaryOp op, int64_t a, int64_t b, DType dtype) {
  bool is_division = op == BinaryOp::kDiv || op == BinaryOp::kMod || op == BinaryOp::kFloorDiv ||
                     op == BinaryOp::kFloorMod;
  if (is_division && b == 0) return std::nullopt;
  if (!dtype_is_signed(dtype)) {
    // Immediates of unsigned dtypes hold the zero-extended value (uint64: the bit pattern).
    uint64_t x = static_cast<uint64_t>(a), y = static_cast<uint64_t>(b);
    switch (op) {
      case BinaryOp::kAdd:
        return wrap(x + y, dtype);
      case BinaryOp::kSub:
        return wrap(x - y, dtype);
      case BinaryOp::kMul:
        return wrap(x * y, dtype);
      case BinaryOp::kDiv:
      case BinaryOp::kFloorDiv:
        return wrap(x / y, dtype);
      case BinaryOp::kMod:
      case BinaryOp::kFloorMod:
        return wrap(x % y, dtype);
      case BinaryOp::kMin:
        return wrap(std::min(x, y), dtype);
      case BinaryOp::kMax:
        return wrap(std::max(x, y), dtype);
    }
    return std::nullopt;
  }
  if (is_division && a == INT64_MIN && b == -1) return std::nullopt;  // overflows even in C
  switch (op) {
    case BinaryOp::kAdd:
      return add(a, b, dtype);
    case BinaryOp::kSub:
      return add(a, neg(b, dtype), dtype);
    case BinaryOp::kMul:
      return mul(a, b, dtype);
    case BinaryOp::kDiv:
      return wrap(static_cast<uint64_t>(a / b), dtype);
    case BinaryOp::kMod:
      return wrap(static_cast<uint64_t>(a % b), dtype);
    case BinaryOp::kFloorDiv:
      return wrap(static_cast<uint64_t>(floor_div(a, b)), dtype);
    case BinaryOp::kFloorMod:
      return wrap(static_cast<uint64_t>(floor_mod(a, b)), dtype);
    case BinaryOp::kMin:
      return std::min(a, b);
    case BinaryOp::kMax:
      return std::max(a, b);
  }
  return std::nullopt;
}

std::optional<double> fold_float(BinaryOp op, double a, double b, DType dtype) {
  double result = 0;
  switch (op) {
    case BinaryOp::kAdd:
      result = a + b;
      break;
    case BinaryOp::kSub:
      result = a - b;
      break;
    case BinaryOp::kMul:
      result = a * b;
      break;
    case BinaryOp::kDiv:
      result = a / b;
      break;
    case BinaryOp::kMod:
      result = std::fmod(a, b);
      break;
    case BinaryOp::kFloorDiv:
      result = std::floor(a / b);
      break;
    case BinaryOp::kFloorMod:
      result = a - std::floor(a / b) * b;
      break;
    case BinaryOp::kMin:
    case BinaryOp::kMax:
      // Which NaN rule codegen follows is its business: leave NaN operands alone.
      if (std::isnan(a) || std::isnan(b)) return std::nullopt;
      result = op == BinaryOp::kMin ? std::min(a, b) : std::max(a, b);
      break;
  }
  return round_to_precision(dtype, result);
}

CompareOp negate(CompareOp op) {
  switch (op) {
    case CompareOp::kEQ:
      return CompareOp::kNE;
    case CompareOp::kNE:
      return CompareOp::kEQ;
    case CompareOp::kLT:
      return CompareOp::kGE;
    case CompareOp::kLE:
      return CompareOp::kGT;
    case CompareOp::kGT:
      return CompareOp::kLE;
    case CompareOp::kGE:
      return CompareOp::kLT;
  }
  return op;
}

bool is_commutative(BinaryOp op) {
  return op == BinaryOp::kAdd || op == BinaryOp::kMul || op == BinaryOp::kMin ||
         op == BinaryOp::kMax;
}

// ---- linear form of signed integer sums
// -------------------------------------------------------------

// sum(coef * term) + constant; terms are non-linear subexpressions, each once.
struct Linear {
  std::vector<std::pair<PrimExpr, int64_t>> terms;
  int64_t constant = 0;
};

void add_term(Linear& linear, const PrimExpr& term, int64_t coef, DType dtype) {
  for (auto& [existing, existing_coef] : linear.terms) {
    if (structural_equal(existing, term)) {
      existing_coef = add(existing_coef, coef, dtype);
      return;
    }
  }
  linear.terms.emplace_back(term, coef);
}

void linearize_into(const PrimExpr& expr, int64_t scale, Linear& linear, DType dtype) {
  if (const int64_t* value = as_const_int(expr)) {
    linear.constant = add(linear.constant, mul(*value, scale, dtype), dtype);
    return;
  }
  if (const auto* op = expr.as<BinaryNode>()) {
    switch (op->op) {
      case BinaryOp::kAdd:
        linearize_into(op->a, scale, linear, dtype);
        linearize_into(op->b, scale, linear, dtype);
        return;
      case BinaryOp::kSub:
        linearize_into(op->a, scale, linear, dtype);
        linearize_into(op->b, neg(scale, dtype), linear, dtype);
        return;
      case BinaryOp::kMul:
        if (const int64_t* c = as_const_int(op->b)) {
          return linearize_into(op->a, mul(scale, *c, dtype), linear, dtype);
        }
        if (const int64_t* c = as_const_int(op->a)) {
          return linearize_into(op->b, mul(scale, *c, dtype), linear, dtype);
        }
        break;
      default:
        break;
    }
  }
  add_term(linear, expr, scale, dtype);
}

// floordiv(t, c) * (k * c) + floormod(t, c) * k -> t * k: what fusing split loops leaves behind.
bool fuse_div_mod_pair(Linear& linear, DType dtype) {
  for (size_t i = 0; i < linear.terms.size(); ++i) {
    const auto* mod = linear.terms[i].first.as<BinaryNode>();
    if (!mod || mod->op != BinaryOp::kFloorMod) continue;
    const int64_t* c = as_const_int(mod->b);
    if (!c || *c <= 0) continue;
    int64_t k = linear.terms[i].second;
    for (size_t j = 0; j < linear.terms.size(); ++j) {
      const auto* div = linear.terms[j].first.as<BinaryNode>();
      if (!div || div->op != BinaryOp::kFloorDiv) continue;
      const int64_t* c2 = as_const_int(div->b);
      if (!c2 || *c2 != *c || linear.terms[j].second != mul(k, *c, dtype)) continue;
      if (!structural_equal(div->a, mod->a)) continue;
      PrimExpr fused = mod->a;
      linear.terms.erase(linear.terms.begin() + static_cast<std::ptrdiff_t>(std::max(i, j)));
      linear.terms.erase(linear.terms.begin() + static_cast<std::ptrdiff_t>(std::min(i, j)));
      linearize_into(fused, k, linear, dtype);
      return true;
    }
  }
  return false;
}

void drop_zero_terms(Linear& linear) {
  std::erase_if(linear.terms, [](const auto& term) { return term.second == 0; });
}

Linear linearize(const PrimExpr& expr) {
  Linear linear;
  DType dtype = expr.dtype().dtype;
  linearize_into(expr, 1, linear, dtype);
  drop_zero_terms(linear);
  while (fuse_div_mod_pair(linear, dtype)) drop_zero_terms(linear);
  return linear;
}

Linear subtract(Linear a, const Linear& b, DType dtype) {
  for (const auto& [term, coef] : b.terms) add_term(a, term, neg(coef, dtype), dtype);
  a.constant = add(a.constant, neg(b.constant, dtype), dtype);
  drop_zero_terms(a);
  return a;
}

// Canonical expression of a linear form: positive terms in order, then negative ones subtracted,
// then the constant: `x * 4 + y - z * 2 + 3`. A form with only negative terms and a constant
// starts with the constant: `5 - x`.
PrimExpr from_linear(const Linear& linear, DataType dtype) {
  DType d = dtype.dtype;
  auto scaled = [&](const PrimExpr& term, int64_t coef) {
    return coef == 1 ? term : make_binary(BinaryOp::kMul, term, make_int(coef, dtype));
  };
  PrimExpr acc;
  for (const auto& [term, coef] : linear.terms) {
    if (coef <= 0) continue;
    PrimExpr piece = scaled(term, coef);
    acc = acc ? make_binary(BinaryOp::kAdd, acc, piece) : piece;
  }
  bool constant_done = false;
  bool has_negative = false;
  for (const auto& term : linear.terms) has_negative = has_negative || term.second < 0;
  if (!acc && has_negative && linear.constant != 0) {
    acc = make_int(linear.constant, dtype);
    constant_done = true;
  }
  for (const auto& [term, coef] : linear.terms) {
    if (coef >= 0) continue;
    if (!acc || coef == INT64_MIN) {
      PrimExpr piece = scaled(term, coef);
      acc = acc ? make_binary(BinaryOp::kAdd, acc, piece) : piece;
    } else {
      acc = make_binary(BinaryOp::kSub, acc, scaled(term, neg(coef, d)));
    }
  }
  if (!constant_done && linear.constant != 0) {
    if (!acc) return make_int(linear.constant, dtype);
    if (linear.constant < 0 && linear.constant != INT64_MIN) {
      return make_binary(BinaryOp::kSub, acc, make_int(neg(linear.constant, d), dtype));
    }
    return make_binary(BinaryOp::kAdd, acc, make_int(linear.constant, dtype));
  }
  return acc ? acc : make_int(0, dtype);
}

// ---- the simplifier
// ---------------------------------------------------------------------------------

class Simplifier final : public IRMutator {
 public:
  explicit Simplifier(RangeMap ranges) : ranges_(std::move(ranges)) {}

 protected:
  PrimExpr mutate_binary(const BinaryNode* op, const PrimExpr& self) override {
    PrimExpr a = mutate(op->a), b = mutate(op->b);
    PrimExpr result = binary(op->op, a, b);
    return same_binary(result, op) ? self : result;
  }

  PrimExpr mutate_compare(const CompareNode* op, const PrimExpr& self) override {
    PrimExpr result = compare(op->op, mutate(op->a), mutate(op->b));
    const auto* node = result.as<CompareNode>();
    if (node && node->op == op->op && node->a.same_as(op->a) && node->b.same_as(op->b)) {
      return self;
    }
    return result;
  }

  PrimExpr mutate_logical(const LogicalNode* op, const PrimExpr& self) override {
    PrimExpr a = mutate(op->a), b = mutate(op->b);
    bool is_and = op->op == LogicalOp::kAnd;
    const int64_t *ca = as_const_int(a), *cb = as_const_int(b);
    // and(true, x) -> x, and(false, x) -> false; or likewise. Expressions have no side effects.
    if (ca) return (*ca != 0) == is_and ? b : a;
    if (cb) return (*cb != 0) == is_and ? a : b;
    if (structural_equal(a, b)) return a;
    if (a.same_as(op->a) && b.same_as(op->b)) return self;
    return is_and ? logical_and(a, b) : logical_or(a, b);
  }

  PrimExpr mutate_not(const NotNode* op, const PrimExpr& self) override {
    PrimExpr a = mutate(op->a);
    if (const int64_t* c = as_const_int(a)) return make_bool(*c == 0);
    if (const auto* inner = a.as<NotNode>()) return inner->a;
    // !(a < b) -> a >= b only for integers: with a NaN both sides of a float compare are false.
    if (const auto* cmp = a.as<CompareNode>(); cmp && !cmp->a.dtype().is_float()) {
      return compare(negate(cmp->op), cmp->a, cmp->b);
    }
    if (a.same_as(op->a)) return self;
    return logical_not(a);
  }

  PrimExpr mutate_select(const SelectNode* op, const PrimExpr& self) override {
    PrimExpr condition = mutate(op->condition);
    const PrimExpr& scalar_condition =
        condition.as<BroadcastNode>() ? condition.as<BroadcastNode>()->value : condition;
    if (const int64_t* c = as_const_int(scalar_condition)) {
      return mutate(*c != 0 ? op->true_value : op->false_value);
    }
    PrimExpr t = mutate(op->true_value), f = mutate(op->false_value);
    if (structural_equal(t, f)) return t;
    if (condition.same_as(op->condition) && t.same_as(op->true_value) &&
        f.same_as(op->false_value)) {
      return self;
    }
    return PrimExpr(std::make_shared<const SelectNode>(condition, t, f));
  }

  PrimExpr mutate_cast(const CastNode* op, const PrimExpr& self) override {
    PrimExpr value = mutate(op->value);
    DataType to = op->dtype();
    if (value.dtype() == to) return value;
    if (const auto* b = value.as<BroadcastNode>()) {
      return broadcast(cast_scalar(to.element(), b->value), b->lanes);
    }
    PrimExpr result = cast_scalar(to, value);
    if (const auto* node = result.as<CastNode>(); node && node->value.same_as(op->value)) {
      return self;
    }
    return result;
  }

  PrimExpr mutate_ramp(const RampNode* op, const PrimExpr& self) override {
    PrimExpr base = mutate(op->base), stride = mutate(op->stride);
    if (is_const_value(stride, 0)) return broadcast(base, op->lanes);
    if (base.same_as(op->base) && stride.same_as(op->stride)) return self;
    return ramp(base, stride, op->lanes);
  }

  Stmt mutate_for(const ForNode* op, const Stmt& self) override {
    PrimExpr min = mutate(op->min), extent = mutate(op->extent);
    Stmt body = with_range(op->var.get(), loop_var_bound(min, extent, ranges_),
                           [&] { return mutate(op->body); });
    if (min.same_as(op->min) && extent.same_as(op->extent) && body == op->body) return self;
    return make_for(op->var, min, extent, op->for_kind, body);
  }

  Stmt mutate_let(const LetNode* op, const Stmt& self) override {
    PrimExpr value = mutate(op->value);
    // Trivial values are inlined: a copy costs nothing and exposes the value to the rules.
    if (value.as<IntImmNode>() || value.as<FloatImmNode>() || value.as<VarNode>()) {
      return mutate(substitute(op->body, VarMap{{op->var.get(), value}}));
    }
    IntBound bound = is_index(value.dtype()) ? bound_of(value, ranges_) : IntBound{};
    Stmt body = with_range(op->var.get(), bound, [&] { return mutate(op->body); });
    if (value.same_as(op->value) && body == op->body) return self;
    return make_let(op->var, value, body);
  }

  Stmt mutate_if(const IfThenElseNode* op, const Stmt& self) override {
    PrimExpr condition = mutate(op->condition);
    if (const int64_t* c = as_const_int(condition)) {
      if (*c != 0) return mutate(op->then_case);
      return op->else_case ? mutate(op->else_case) : make_no_op();
    }
    Stmt then_case = mutate(op->then_case), else_case = mutate(op->else_case);
    if (condition.same_as(op->condition) && then_case == op->then_case &&
        else_case == op->else_case) {
      return self;
    }
    return make_if(condition, then_case, else_case);
  }

 private:
  template <typename Fn>
  Stmt with_range(const VarNode* var, IntBound bound, Fn&& fn) {
    auto previous = ranges_.find(var);
    std::optional<IntBound> saved;
    if (previous != ranges_.end()) saved = previous->second;
    ranges_[var] = bound;
    Stmt result = fn();
    if (saved) {
      ranges_[var] = *saved;
    } else {
      ranges_.erase(var);
    }
    return result;
  }

  static bool same_binary(const PrimExpr& result, const BinaryNode* op) {
    const auto* node = result.as<BinaryNode>();
    return node && node->op == op->op && node->a.same_as(op->a) && node->b.same_as(op->b);
  }

  IntBound bound(const PrimExpr& expr) const { return bound_of(expr, ranges_); }

  PrimExpr cast_scalar(DataType to, const PrimExpr& value) {
    if (value.dtype() == to) return value;
    if (to.lanes == 1) {
      if (const int64_t* i = as_const_int(value)) {
        // An unsigned uint64 immediate holds a bit pattern: read it as unsigned.
        bool is_unsigned = !dtype_is_signed(value.dtype().dtype) && !value.dtype().is_bool();
        double as_double =
            is_unsigned ? static_cast<double>(static_cast<uint64_t>(*i)) : static_cast<double>(*i);
        if (to.is_float()) return float_imm(round_to_precision(to.dtype, as_double), to);
        if (to.is_bool()) return make_bool(*i != 0);
        return int_imm(wrap(static_cast<uint64_t>(*i), to.dtype), to);
      }
      if (const auto* f = value.as<FloatImmNode>()) {
        if (to.is_float()) return float_imm(round_to_precision(to.dtype, f->value), to);
        if (to.is_bool()) return make_bool(f->value != 0.0);
        if (dtype_subbyte_bits(to.dtype) > 0) {  // defined for every value (ONNX int4.md)
          return int_imm(subbyte_to_int(to.dtype, float_to_subbyte(to.dtype, f->value)), to);
        }
        // Float to integer is defined only for values in range: fold only those.
        double truncated = std::trunc(f->value);
        IntBound whole = dtype_bound(to);
        if (std::isfinite(truncated) && truncated >= static_cast<double>(whole.min) &&
            truncated < static_cast<double>(whole.max)) {
          return int_imm(static_cast<int64_t>(truncated), to);
        }
      }
    }
    return PrimExpr(std::make_shared<const CastNode>(to, value));
  }

  PrimExpr compare(CompareOp op, const PrimExpr& a, const PrimExpr& b) {
    DataType dtype = a.dtype();
    const int64_t *ia = as_const_int(a), *ib = as_const_int(b);
    if (ia && ib) {
      bool result = dtype_is_signed(dtype.dtype) || dtype.is_bool()
                        ? apply_compare(op, *ia, *ib)
                        : apply_compare(op, static_cast<uint64_t>(*ia), static_cast<uint64_t>(*ib));
      return make_bool(result);
    }
    const auto *fa = a.as<FloatImmNode>(), *fb = b.as<FloatImmNode>();
    if (fa && fb) return make_bool(apply_compare(op, fa->value, fb->value));
    const auto *ba = a.as<BroadcastNode>(), *bb = b.as<BroadcastNode>();
    if (ba && bb && ba->lanes == bb->lanes) {
      return broadcast(compare(op, ba->value, bb->value), ba->lanes);
    }
    if (is_index(dtype)) {
      if (std::optional<bool> decided = decide(op, a, b)) return make_bool(*decided);
    }
    return make_compare(op, a, b);
  }

  // The truth of `a op b` when the ranges decide it.
  std::optional<bool> decide(CompareOp op, const PrimExpr& a, const PrimExpr& b) {
    DataType dtype = a.dtype();
    PrimExpr diff = from_linear(subtract(linearize(a), linearize(b), dtype.dtype), dtype);
    IntBound d = bound(diff);
    if (d == dtype_bound(dtype)) return std::nullopt;
    switch (op) {
      case CompareOp::kEQ:
      case CompareOp::kNE: {
        std::optional<bool> equal;
        if (d.min == 0 && d.max == 0) equal = true;
        if (d.min > 0 || d.max < 0) equal = false;
        if (!equal) return std::nullopt;
        return op == CompareOp::kEQ ? *equal : !*equal;
      }
      case CompareOp::kLT:
        if (d.max < 0) return true;
        if (d.min >= 0) return false;
        return std::nullopt;
      case CompareOp::kLE:
        if (d.max <= 0) return true;
        if (d.min > 0) return false;
        return std::nullopt;
      case CompareOp::kGT:
        if (d.min > 0) return true;
        if (d.max <= 0) return false;
        return std::nullopt;
      case CompareOp::kGE:
        if (d.min >= 0) return true;
        if (d.max < 0) return false;
        return std::nullopt;
    }
    return std::nullopt;
  }

  PrimExpr binary(BinaryOp op, PrimExpr a, PrimExpr b) {
    DataType dtype = a.dtype();
    // Constant folding.
    const int64_t *ia = as_const_int(a), *ib = as_const_int(b);
    if (ia && ib && dtype.is_int()) {
      if (auto folded = fold_int(op, *ia, *ib, dtype.dtype)) return int_imm(*folded, dtype);
    }
    const auto *fa = a.as<FloatImmNode>(), *fb = b.as<FloatImmNode>();
    if (fa && fb) {
      if (auto folded = fold_float(op, fa->value, fb->value, dtype.dtype)) {
        return float_imm(*folded, dtype);
      }
    }
    const auto *ba = a.as<BroadcastNode>(), *bb = b.as<BroadcastNode>();
    if (ba && bb && ba->lanes == bb->lanes) {
      return broadcast(binary(op, ba->value, bb->value), ba->lanes);
    }
    // Constants go right. Float min/max keep their order: NaN handling may depend on it.
    bool reorder =
        is_commutative(op) && (dtype.is_int() || op == BinaryOp::kAdd || op == BinaryOp::kMul);
    if (reorder && is_const(a) && !is_const(b)) std::swap(a, b);

    if (dtype.is_int() && dtype.lanes > 1) {
      if (std::optional<PrimExpr> folded = ramp_arith(op, a, b)) return *folded;
    }
    if (is_index(dtype)) {
      switch (op) {
        case BinaryOp::kAdd:
        case BinaryOp::kSub:
        case BinaryOp::kMul:
          return from_linear(linearize(make_binary(op, a, b)), dtype);
        case BinaryOp::kDiv:
        case BinaryOp::kMod:
        case BinaryOp::kFloorDiv:
        case BinaryOp::kFloorMod:
          if (const int64_t* c = as_const_int(b)) {
            if (auto result = div_mod_by_const(op, a, *c)) return *result;
          }
          break;
        case BinaryOp::kMin:
        case BinaryOp::kMax:
          if (auto result = min_max(op, a, b)) return *result;
          break;
      }
    }
    if (std::optional<PrimExpr> result = identity(op, a, b)) return *result;
    return make_binary(op, a, b);
  }

  // Rules that hold for every dtype (floats: only the exact ones).
  std::optional<PrimExpr> identity(BinaryOp op, const PrimExpr& a, const PrimExpr& b) {
    DataType dtype = a.dtype();
    bool is_int = dtype.is_int();
    switch (op) {
      case BinaryOp::kAdd:
        // x + 0.0 is not x for x = -0.0.
        if (is_int && is_const_value(b, 0)) return a;
        break;
      case BinaryOp::kSub:
        if (is_const_value(b, 0)) return a;
        if (is_int && structural_equal(a, b)) return make_int(0, dtype);
        break;
      case BinaryOp::kMul:
        if (is_const_value(b, 1)) return a;
        // x * 0.0 is not 0 for x = inf or NaN.
        if (is_int && is_const_value(b, 0)) return make_int(0, dtype);
        break;
      case BinaryOp::kDiv:
      case BinaryOp::kFloorDiv:
        if (is_int && is_const_value(b, 1)) return a;
        if (op == BinaryOp::kDiv && is_const_value(b, 1)) return a;
        break;
      case BinaryOp::kMod:
      case BinaryOp::kFloorMod:
        if (is_int && is_const_value(b, 1)) return make_int(0, dtype);
        break;
      case BinaryOp::kMin:
      case BinaryOp::kMax:
        if (structural_equal(a, b)) return a;
        break;
    }
    return std::nullopt;
  }

  // Splits `a` (a signed scalar) into c * quotient + rest, where the quotient holds the terms whose
  // coefficients c divides and the floor part of the constant.
  std::pair<Linear, Linear> split_by(const PrimExpr& a, int64_t c) {
    DType dtype = a.dtype().dtype;
    Linear linear = linearize(a), quotient, rest;
    for (const auto& [term, coef] : linear.terms) {
      if (coef % c == 0) {
        add_term(quotient, term, coef / c, dtype);
      } else {
        add_term(rest, term, coef, dtype);
      }
    }
    quotient.constant = floor_div(linear.constant, c);
    rest.constant = floor_mod(linear.constant, c);
    return {quotient, rest};
  }

  std::optional<PrimExpr> div_mod_by_const(BinaryOp op, const PrimExpr& a, int64_t c) {
    DataType dtype = a.dtype();
    bool is_div = op == BinaryOp::kDiv || op == BinaryOp::kFloorDiv;
    bool truncating = op == BinaryOp::kDiv || op == BinaryOp::kMod;
    if (c <= 0) return std::nullopt;
    if (c == 1) return is_div ? a : make_int(0, dtype);
    // floordiv(floordiv(x, c1), c2) -> floordiv(x, c1 * c2); floormod(floormod(x, c1), c2) ->
    // floormod(x, c2) when c2 divides c1.
    if (const auto* inner = a.as<BinaryNode>(); inner && inner->op == op && !truncating) {
      const int64_t* c1 = as_const_int(inner->b);
      if (c1 && *c1 > 0) {
        if (is_div && *c1 <= INT64_MAX / c) return binary(op, inner->a, make_int(*c1 * c, dtype));
        if (!is_div && *c1 % c == 0) return binary(op, inner->a, make_int(c, dtype));
      }
    }
    auto [quotient, rest] = split_by(a, c);
    PrimExpr rest_expr = from_linear(rest, dtype);
    IntBound r = bound(rest_expr);
    // Truncation agrees with flooring when both the whole and the rest are non-negative.
    if (truncating && (bound(a).min < 0 || r.min < 0)) return std::nullopt;
    DType d = dtype.dtype;
    if (r != dtype_bound(dtype) && floor_div(r.min, c) == floor_div(r.max, c)) {
      int64_t m = floor_div(r.min, c);
      if (is_div) {
        quotient.constant = add(quotient.constant, m, d);
        return from_linear(quotient, dtype);
      }
      rest.constant = add(rest.constant, neg(mul(m, c, d), d), d);
      return from_linear(rest, dtype);
    }
    if (quotient.terms.empty() && quotient.constant == 0) return std::nullopt;
    PrimExpr remainder = make_binary(op, rest_expr, make_int(c, dtype));
    if (!is_div) return remainder;
    add_term(quotient, remainder, 1, d);
    return from_linear(quotient, dtype);
  }

  std::optional<PrimExpr> min_max(BinaryOp op, const PrimExpr& a, const PrimExpr& b) {
    DataType dtype = a.dtype();
    bool is_min = op == BinaryOp::kMin;
    if (structural_equal(a, b)) return a;
    // min(min(x, c1), c2) -> min(x, min(c1, c2))
    if (const int64_t* c2 = as_const_int(b)) {
      if (const auto* inner = a.as<BinaryNode>(); inner && inner->op == op) {
        if (const int64_t* c1 = as_const_int(inner->b)) {
          return binary(op, inner->a,
                        make_int(is_min ? std::min(*c1, *c2) : std::max(*c1, *c2), dtype));
        }
      }
    }
    IntBound ra = bound(a), rb = bound(b);
    bool a_le_b = ra.max <= rb.min, b_le_a = rb.max <= ra.min;
    if (!a_le_b && !b_le_a) {
      IntBound d = bound(from_linear(subtract(linearize(a), linearize(b), dtype.dtype), dtype));
      if (d != dtype_bound(dtype)) {
        a_le_b = d.max <= 0;
        b_le_a = d.min >= 0;
      }
    }
    if (a_le_b) return is_min ? a : b;
    if (b_le_a) return is_min ? b : a;
    return std::nullopt;
  }

  // Integer vector arithmetic on ramps and broadcasts (which is what vectorized indices are).
  std::optional<PrimExpr> ramp_arith(BinaryOp op, const PrimExpr& a, const PrimExpr& b) {
    const auto *ra = a.as<RampNode>(), *rb = b.as<RampNode>();
    const auto *ba = a.as<BroadcastNode>(), *bb = b.as<BroadcastNode>();
    auto make_ramp = [&](PrimExpr base, PrimExpr stride, int lanes) {
      if (is_const_value(stride, 0)) return broadcast(base, lanes);
      return ramp(base, stride, lanes);
    };
    switch (op) {
      case BinaryOp::kAdd:
        if (ra && rb) {
          return make_ramp(binary(op, ra->base, rb->base), binary(op, ra->stride, rb->stride),
                           ra->lanes);
        }
        if (ra && bb) return make_ramp(binary(op, ra->base, bb->value), ra->stride, ra->lanes);
        if (ba && rb) return make_ramp(binary(op, ba->value, rb->base), rb->stride, rb->lanes);
        break;
      case BinaryOp::kSub:
        if (ra && rb) {
          return make_ramp(binary(op, ra->base, rb->base), binary(op, ra->stride, rb->stride),
                           ra->lanes);
        }
        if (ra && bb) return make_ramp(binary(op, ra->base, bb->value), ra->stride, ra->lanes);
        if (ba && rb) {
          return make_ramp(binary(op, ba->value, rb->base),
                           binary(BinaryOp::kSub, make_int(0, rb->stride.dtype()), rb->stride),
                           rb->lanes);
        }
        break;
      case BinaryOp::kMul:
        if (ra && bb) {
          return make_ramp(binary(op, ra->base, bb->value), binary(op, ra->stride, bb->value),
                           ra->lanes);
        }
        if (ba && rb) {
          return make_ramp(binary(op, rb->base, ba->value), binary(op, rb->stride, ba->value),
                           rb->lanes);
        }
        break;
      case BinaryOp::kFloorDiv:
      case BinaryOp::kFloorMod:
      case BinaryOp::kDiv:
      case BinaryOp::kMod:
        if (ra && bb && is_index(ra->base.dtype())) return ramp_div_mod(op, ra, bb);
        break;
      default:
        break;
    }
    return std::nullopt;
  }

  // floordiv(ramp(base, s, n), c) -> broadcast(q) and floormod -> ramp(rest, s, n) when all lanes
  // fall in one block of c.
  std::optional<PrimExpr> ramp_div_mod(BinaryOp op, const RampNode* r, const BroadcastNode* b) {
    const int64_t* c = as_const_int(b->value);
    const int64_t* stride = as_const_int(r->stride);
    if (!c || *c <= 0 || !stride || *stride < 0) return std::nullopt;
    bool is_div = op == BinaryOp::kDiv || op == BinaryOp::kFloorDiv;
    bool truncating = op == BinaryOp::kDiv || op == BinaryOp::kMod;
    DataType dtype = r->base.dtype();
    auto [quotient, rest] = split_by(r->base, *c);
    IntBound lo = bound(from_linear(rest, dtype));
    if (lo == dtype_bound(dtype) || (truncating && (bound(r->base).min < 0 || lo.min < 0))) {
      return std::nullopt;
    }
    __int128 hi = static_cast<__int128>(lo.max) + static_cast<__int128>(*stride) * (r->lanes - 1);
    if (hi > INT64_MAX || floor_div(lo.min, *c) != floor_div(static_cast<int64_t>(hi), *c)) {
      return std::nullopt;
    }
    DType d = dtype.dtype;
    int64_t m = floor_div(lo.min, *c);
    if (is_div) {
      quotient.constant = add(quotient.constant, m, d);
      return broadcast(from_linear(quotient, dtype), r->lanes);
    }
    rest.constant = add(rest.constant, neg(mul(m, *c, d), d), d);
    return ramp(from_linear(rest, dtype), r->stride, r->lanes);
  }

  RangeMap ranges_;
};

}  // namespace

PrimExpr simplify(const PrimExpr& expr, const RangeMap& ranges) {
  return Simplifier(ranges).mutate(expr);
}

Stmt simplify(const Stmt& stmt, const RangeMap& ranges) { return Simplifier(ranges).mutate(stmt); }

PrimFunc simplify(PrimFunc func) {
  func.body = simplify(func.body);
  return func;
}

}  // namespace kiln::tir
