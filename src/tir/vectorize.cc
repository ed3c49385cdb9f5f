#include "tir/vectorize.h"

#include <utility>

#include "tir/functor.h"
#include "tir/simplify.h"

namespace kiln::tir {
namespace {

PrimExpr widen(const PrimExpr& expr, int lanes) {
  if (expr.dtype().lanes == lanes) return expr;
  return broadcast(expr, lanes);
}

int max_lanes_of(const std::vector<PrimExpr>& exprs) {
  int lanes = 1;
  for (const PrimExpr& expr : exprs) lanes = std::max(lanes, expr.dtype().lanes);
  return lanes;
}

// Widens the body of one vectorized loop. Values independent of the loop variable stay scalar
// until they meet a vector; `failed` is set when the body cannot be vectorized.
class Widener final : public IRMutator {
 public:
  Widener(const VarNode* var, PrimExpr min, int lanes)
      : var_(var), ramp_(ramp(std::move(min), int_imm(1), lanes)), lanes_(lanes) {}

  bool failed = false;

 protected:
  PrimExpr mutate_var(const VarNode* op, const PrimExpr& self) override {
    return op == var_ ? ramp_ : self;
  }

  PrimExpr mutate_binary(const BinaryNode* op, const PrimExpr& self) override {
    PrimExpr a = mutate(op->a), b = mutate(op->b);
    if (a.dtype().lanes == 1 && b.dtype().lanes == 1) {
      return a.same_as(op->a) && b.same_as(op->b) ? self : make_binary(op->op, a, b);
    }
    // Affine arithmetic keeps indices in Ramp form, which codegen turns into contiguous or
    // strided accesses.
    const auto *ra = a.as<RampNode>(), *rb = b.as<RampNode>();
    bool a_scalar = a.dtype().lanes == 1, b_scalar = b.dtype().lanes == 1;
    if (a.dtype().is_int()) {
      switch (op->op) {
        case BinaryOp::kAdd:
          if (ra && b_scalar) return ramp(ra->base + b, ra->stride, ra->lanes);
          if (a_scalar && rb) return ramp(a + rb->base, rb->stride, rb->lanes);
          if (ra && rb) return ramp(ra->base + rb->base, ra->stride + rb->stride, ra->lanes);
          break;
        case BinaryOp::kSub:
          if (ra && b_scalar) return ramp(ra->base - b, ra->stride, ra->lanes);
          if (a_scalar && rb) return ramp(a - rb->base, -rb->stride, rb->lanes);
          if (ra && rb) return ramp(ra->base - rb->base, ra->stride - rb->stride, ra->lanes);
          break;
        case BinaryOp::kMul:
          if (ra && b_scalar) return ramp(ra->base * b, ra->stride * b, ra->lanes);
          if (a_scalar && rb) return ramp(rb->base * a, rb->stride * a, rb->lanes);
          break;
        default:
          break;
      }
    }
    return make_binary(op->op, widen(a, lanes_), widen(b, lanes_));
  }

  PrimExpr mutate_compare(const CompareNode* op, const PrimExpr& self) override {
    PrimExpr a = mutate(op->a), b = mutate(op->b);
    if (a.same_as(op->a) && b.same_as(op->b)) return self;
    int lanes = max_lanes_of({a, b});
    return make_compare(op->op, widen(a, lanes), widen(b, lanes));
  }

  PrimExpr mutate_logical(const LogicalNode* op, const PrimExpr& self) override {
    PrimExpr a = mutate(op->a), b = mutate(op->b);
    if (a.same_as(op->a) && b.same_as(op->b)) return self;
    int lanes = max_lanes_of({a, b});
    return op->op == LogicalOp::kAnd ? logical_and(widen(a, lanes), widen(b, lanes))
                                     : logical_or(widen(a, lanes), widen(b, lanes));
  }

  PrimExpr mutate_select(const SelectNode* op, const PrimExpr& self) override {
    PrimExpr c = mutate(op->condition), t = mutate(op->true_value), f = mutate(op->false_value);
    if (c.same_as(op->condition) && t.same_as(op->true_value) && f.same_as(op->false_value)) {
      return self;
    }
    int lanes = max_lanes_of({c, t, f});
    return PrimExpr(
        std::make_shared<const SelectNode>(widen(c, lanes), widen(t, lanes), widen(f, lanes)));
  }

  PrimExpr mutate_cast(const CastNode* op, const PrimExpr& self) override {
    PrimExpr value = mutate(op->value);
    if (value.same_as(op->value)) return self;
    return cast(op->dtype().with_lanes(value.dtype().lanes), value);
  }

  PrimExpr mutate_intrinsic(const IntrinsicNode* op, const PrimExpr& self) override {
    bool changed = false;
    std::vector<PrimExpr> args = mutate_all(op->args, &changed);
    if (!changed) return self;
    int lanes = max_lanes_of(args);
    for (PrimExpr& arg : args) arg = widen(arg, lanes);
    return PrimExpr(std::make_shared<const IntrinsicNode>(op->dtype().with_lanes(lanes), op->name,
                                                          std::move(args)));
  }

  PrimExpr mutate_buffer_load(const BufferLoadNode* op, const PrimExpr& self) override {
    bool changed = false;
    std::vector<PrimExpr> indices = mutate_all(op->indices, &changed);
    if (!changed) return self;
    if (indices.size() != 1) return fail(self);  // vector accesses need the flat form
    // Simplified, so that equal indices compare equal and strides are constants.
    return make_load(op->dtype(), op->buffer, {simplify(indices[0])});
  }

  // Vectors inside the body (a vectorized loop nested in another) are not widened again.
  PrimExpr mutate_ramp(const RampNode*, const PrimExpr& self) override { return fail(self); }
  PrimExpr mutate_broadcast(const BroadcastNode*, const PrimExpr& self) override {
    return fail(self);
  }
  PrimExpr mutate_tensor_read(const TensorReadNode*, const PrimExpr& self) override {
    return fail(self);
  }
  PrimExpr mutate_reduce(const ReduceNode*, const PrimExpr& self) override { return fail(self); }

  Stmt mutate_for(const ForNode*, const Stmt& self) override { return fail(self); }
  Stmt mutate_allocate(const AllocateNode*, const Stmt& self) override { return fail(self); }

  Stmt mutate_buffer_store(const BufferStoreNode* op, const Stmt& self) override {
    if (op->indices.size() != 1) return fail(self);
    PrimExpr index = simplify(mutate(op->indices[0]));
    // Distinct lanes must write distinct elements, in the order of the lanes: an affine index with
    // a constant non-zero stride. An index independent of the loop variable is a reduction or a
    // repeated write, which must stay serial.
    const auto* r = index.as<RampNode>();
    const int64_t* stride = r ? as_const_int(r->stride) : nullptr;
    if (!stride || *stride == 0) return fail(self);
    PrimExpr value = widen(mutate(op->value), lanes_);
    return make_store(op->buffer, value, {index});
  }

  Stmt mutate_if(const IfThenElseNode* op, const Stmt& self) override {
    if (uses_var(op->condition, var_)) return fail(self);
    return IRMutator::mutate_if(op, self);
  }

  Stmt mutate_let(const LetNode* op, const Stmt& self) override {
    if (uses_var(op->value, var_)) return fail(self);
    return IRMutator::mutate_let(op, self);
  }

 private:
  template <typename T>
  T fail(const T& self) {
    failed = true;
    return self;
  }

  const VarNode* var_;
  PrimExpr ramp_;
  int lanes_;
};

// Loads and stores of a widened body, to check that lanes do not depend on each other.
class AccessCollector final : public IRVisitor {
 public:
  std::vector<std::pair<const BufferNode*, PrimExpr>> loads, stores;

 protected:
  void visit_buffer_load(const BufferLoadNode* op) override {
    loads.emplace_back(op->buffer.get(), op->indices[0]);
    IRVisitor::visit_buffer_load(op);
  }
  void visit_buffer_store(const BufferStoreNode* op) override {
    stores.emplace_back(op->buffer.get(), op->indices[0]);
    IRVisitor::visit_buffer_store(op);
  }
};

// Running all lanes of each statement before the next statement equals running the iterations
// in order when every buffer the body writes is written and read at one index only: then each
// lane touches its own elements of it.
bool lanes_independent(const Stmt& widened) {
  AccessCollector accesses;
  accesses.visit(widened);
  for (const auto& [buffer, index] : accesses.stores) {
    for (const auto& other : accesses.stores) {
      if (other.first == buffer && !structural_equal(other.second, index)) return false;
    }
    for (const auto& load : accesses.loads) {
      if (load.first == buffer && !structural_equal(load.second, index)) return false;
    }
  }
  return true;
}

// Whether `expr` is affine in `var`: sums of terms, each independent of var or var times a factor
// independent of var.
bool is_affine(const PrimExpr& expr, const VarNode* var) {
  if (!uses_var(expr, var)) return true;
  if (expr.get() == var) return true;
  const auto* op = expr.as<BinaryNode>();
  if (!op) return false;
  switch (op->op) {
    case BinaryOp::kAdd:
    case BinaryOp::kSub:
      return is_affine(op->a, var) && is_affine(op->b, var);
    case BinaryOp::kMul:
      return (!uses_var(op->a, var) && is_affine(op->b, var)) ||
             (!uses_var(op->b, var) && is_affine(op->a, var));
    default:
      return false;
  }
}

// Whether the set of `var` values where `condition` holds is an interval: a conjunction of
// comparisons of affine index expressions (not !=), or of conditions independent of var. Such a
// condition that holds at the first and the last lane holds at every lane.
bool is_convex(const PrimExpr& condition, const VarNode* var) {
  if (!uses_var(condition, var)) return true;
  if (const auto* op = condition.as<LogicalNode>()) {
    return op->op == LogicalOp::kAnd && is_convex(op->a, var) && is_convex(op->b, var);
  }
  const auto* cmp = condition.as<CompareNode>();
  return cmp && cmp->op != CompareOp::kNE && cmp->a.dtype() == index_type() &&
         is_affine(cmp->a, var) && is_affine(cmp->b, var);
}

class LoopVectorizer final : public IRMutator {
 public:
  explicit LoopVectorizer(int max_lanes) : max_lanes_(max_lanes) {}

 protected:
  Stmt mutate_for(const ForNode* op, const Stmt& self) override {
    Stmt loop = IRMutator::mutate_for(op, self);  // inner loops first
    if (op->for_kind != ForKind::kVectorized) return loop;
    const auto* node = as<ForNode>(loop);
    const int64_t* extent = as_const_int(node->extent);
    Stmt serial = make_for(node->var, node->min, node->extent, ForKind::kSerial, node->body);
    if (extent && *extent <= 0) return make_no_op();
    if (extent && *extent == 1) return substitute(node->body, VarMap{{node->var.get(), node->min}});
    if (!extent || *extent > max_lanes_ || node->min.dtype() != index_type()) return serial;
    int lanes = static_cast<int>(*extent);
    if (Stmt widened = widen(node->var.get(), node->min, lanes, node->body)) return widened;
    // A tail guard (`if (j.outer * 8 + j.inner < n)` around the whole body): vector code when the
    // guard holds at both ends of the vector, the serial loop otherwise.
    PrimExpr condition;
    Stmt guarded = node->body;
    while (const auto* branch = as<IfThenElseNode>(guarded)) {
      if (branch->else_case) break;
      condition = condition ? logical_and(condition, branch->condition) : branch->condition;
      guarded = branch->then_case;
    }
    if (!condition || !is_convex(condition, node->var.get())) return serial;
    Stmt widened = widen(node->var.get(), node->min, lanes, guarded);
    if (!widened) return serial;
    auto at = [&](PrimExpr value) {
      return substitute(condition, VarMap{{node->var.get(), std::move(value)}});
    };
    return make_if(logical_and(at(node->min), at(node->min + int_imm(lanes - 1))), widened, serial);
  }

 private:
  // The widened body, or null when it cannot be vectorized.
  static Stmt widen(const VarNode* var, const PrimExpr& min, int lanes, const Stmt& body) {
    Widener widener(var, min, lanes);
    Stmt widened = widener.mutate(body);
    if (widener.failed || !lanes_independent(widened)) return nullptr;
    return widened;
  }

  int max_lanes_;
};

}  // namespace

Stmt vectorize(const Stmt& stmt, int max_lanes) { return LoopVectorizer(max_lanes).mutate(stmt); }

PrimFunc vectorize(PrimFunc func, int max_lanes) {
  func.body = vectorize(func.body, max_lanes);
  return func;
}

}  // namespace kiln::tir
