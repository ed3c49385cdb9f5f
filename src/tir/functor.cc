#include "tir/functor.h"

#include <cstring>
#include <unordered_set>

#include "kiln/error.h"

namespace kiln::tir {

// ---- IRVisitor ----------------------------------------------------------------------------------

void IRVisitor::visit(const PrimExpr& expr) {
  KILN_CHECK(expr) << "visiting a null expression";
  const PrimExprNode* node = expr.get();
  switch (node->kind()) {
    case ExprKind::kIntImm:
      return visit_int_imm(static_cast<const IntImmNode*>(node));
    case ExprKind::kFloatImm:
      return visit_float_imm(static_cast<const FloatImmNode*>(node));
    case ExprKind::kVar:
      return visit_var(static_cast<const VarNode*>(node));
    case ExprKind::kBinary:
      return visit_binary(static_cast<const BinaryNode*>(node));
    case ExprKind::kCompare:
      return visit_compare(static_cast<const CompareNode*>(node));
    case ExprKind::kLogical:
      return visit_logical(static_cast<const LogicalNode*>(node));
    case ExprKind::kNot:
      return visit_not(static_cast<const NotNode*>(node));
    case ExprKind::kSelect:
      return visit_select(static_cast<const SelectNode*>(node));
    case ExprKind::kCast:
      return visit_cast(static_cast<const CastNode*>(node));
    case ExprKind::kIntrinsic:
      return visit_intrinsic(static_cast<const IntrinsicNode*>(node));
    case ExprKind::kTensorRead:
      return visit_tensor_read(static_cast<const TensorReadNode*>(node));
    case ExprKind::kReduce:
      return visit_reduce(static_cast<const ReduceNode*>(node));
    case ExprKind::kBufferLoad:
      return visit_buffer_load(static_cast<const BufferLoadNode*>(node));
    case ExprKind::kRamp:
      return visit_ramp(static_cast<const RampNode*>(node));
    case ExprKind::kBroadcast:
      return visit_broadcast(static_cast<const BroadcastNode*>(node));
  }
}

void IRVisitor::visit(const Stmt& stmt) {
  if (!stmt) return;
  const StmtNode* node = stmt.get();
  switch (node->kind()) {
    case StmtKind::kFor:
      return visit_for(static_cast<const ForNode*>(node));
    case StmtKind::kBufferStore:
      return visit_buffer_store(static_cast<const BufferStoreNode*>(node));
    case StmtKind::kAllocate:
      return visit_allocate(static_cast<const AllocateNode*>(node));
    case StmtKind::kSeq:
      return visit_seq(static_cast<const SeqNode*>(node));
    case StmtKind::kIfThenElse:
      return visit_if(static_cast<const IfThenElseNode*>(node));
    case StmtKind::kLet:
      return visit_let(static_cast<const LetNode*>(node));
    case StmtKind::kEvaluate:
      return visit_evaluate(static_cast<const EvaluateNode*>(node));
  }
}

void IRVisitor::visit_binary(const BinaryNode* op) {
  visit(op->a);
  visit(op->b);
}
void IRVisitor::visit_compare(const CompareNode* op) {
  visit(op->a);
  visit(op->b);
}
void IRVisitor::visit_logical(const LogicalNode* op) {
  visit(op->a);
  visit(op->b);
}
void IRVisitor::visit_not(const NotNode* op) { visit(op->a); }
void IRVisitor::visit_select(const SelectNode* op) {
  visit(op->condition);
  visit(op->true_value);
  visit(op->false_value);
}
void IRVisitor::visit_cast(const CastNode* op) { visit(op->value); }
void IRVisitor::visit_intrinsic(const IntrinsicNode* op) {
  for (const PrimExpr& arg : op->args) visit(arg);
}
void IRVisitor::visit_tensor_read(const TensorReadNode* op) {
  for (const PrimExpr& index : op->indices) visit(index);
}
void IRVisitor::visit_reduce(const ReduceNode* op) { visit(op->source); }
void IRVisitor::visit_buffer_load(const BufferLoadNode* op) {
  for (const PrimExpr& index : op->indices) visit(index);
}
void IRVisitor::visit_ramp(const RampNode* op) {
  visit(op->base);
  visit(op->stride);
}
void IRVisitor::visit_broadcast(const BroadcastNode* op) { visit(op->value); }

void IRVisitor::visit_for(const ForNode* op) {
  visit(PrimExpr(op->var));
  visit(op->min);
  visit(op->extent);
  visit(op->body);
}
void IRVisitor::visit_buffer_store(const BufferStoreNode* op) {
  visit(op->value);
  for (const PrimExpr& index : op->indices) visit(index);
}
void IRVisitor::visit_allocate(const AllocateNode* op) { visit(op->body); }
void IRVisitor::visit_seq(const SeqNode* op) {
  for (const Stmt& stmt : op->stmts) visit(stmt);
}
void IRVisitor::visit_if(const IfThenElseNode* op) {
  visit(op->condition);
  visit(op->then_case);
  visit(op->else_case);
}
void IRVisitor::visit_let(const LetNode* op) {
  visit(PrimExpr(op->var));
  visit(op->value);
  visit(op->body);
}
void IRVisitor::visit_evaluate(const EvaluateNode* op) { visit(op->value); }

// ---- builders
// -------------------------------------------------------------------------------------

PrimExpr make_binary(BinaryOp op, PrimExpr a, PrimExpr b) {
  return PrimExpr(std::make_shared<const BinaryNode>(op, std::move(a), std::move(b)));
}

PrimExpr make_compare(CompareOp op, PrimExpr a, PrimExpr b) {
  return PrimExpr(std::make_shared<const CompareNode>(op, std::move(a), std::move(b)));
}

PrimExpr make_load(DataType element, Buffer buffer, std::vector<PrimExpr> indices) {
  DataType dtype = element.element();
  if (indices.size() == 1) dtype = dtype.with_lanes(indices[0].dtype().lanes);
  return PrimExpr(
      std::make_shared<const BufferLoadNode>(dtype, std::move(buffer), std::move(indices)));
}

Stmt make_no_op() { return std::make_shared<const SeqNode>(std::vector<Stmt>{}); }

bool is_no_op(const Stmt& stmt) {
  const auto* seq = as<SeqNode>(stmt);
  return !stmt || (seq && seq->stmts.empty());
}

// ---- IRMutator ----------------------------------------------------------------------------------

PrimExpr IRMutator::mutate(const PrimExpr& expr) {
  KILN_CHECK(expr) << "mutating a null expression";
  const PrimExprNode* node = expr.get();
  switch (node->kind()) {
    case ExprKind::kIntImm:
      return mutate_int_imm(static_cast<const IntImmNode*>(node), expr);
    case ExprKind::kFloatImm:
      return mutate_float_imm(static_cast<const FloatImmNode*>(node), expr);
    case ExprKind::kVar:
      return mutate_var(static_cast<const VarNode*>(node), expr);
    case ExprKind::kBinary:
      return mutate_binary(static_cast<const BinaryNode*>(node), expr);
    case ExprKind::kCompare:
      return mutate_compare(static_cast<const CompareNode*>(node), expr);
    case ExprKind::kLogical:
      return mutate_logical(static_cast<const LogicalNode*>(node), expr);
    case ExprKind::kNot:
      return mutate_not(static_cast<const NotNode*>(node), expr);
    case ExprKind::kSelect:
      return mutate_select(static_cast<const SelectNode*>(node), expr);
    case ExprKind::kCast:
      return mutate_cast(static_cast<const CastNode*>(node), expr);
    case ExprKind::kIntrinsic:
      return mutate_intrinsic(static_cast<const IntrinsicNode*>(node), expr);
    case ExprKind::kTensorRead:
      return mutate_tensor_read(static_cast<const TensorReadNode*>(node), expr);
    case ExprKind::kReduce:
      return mutate_reduce(static_cast<const ReduceNode*>(node), expr);
    case ExprKind::kBufferLoad:
      return mutate_buffer_load(static_cast<const BufferLoadNode*>(node), expr);
    case ExprKind::kRamp:
      return mutate_ramp(static_cast<const RampNode*>(node), expr);
    case ExprKind::kBroadcast:
      return mutate_broadcast(static_cast<const BroadcastNode*>(node), expr);
  }
  return expr;
}

Stmt IRMutator::mutate(const Stmt& stmt) {
  if (!stmt) return stmt;
  const StmtNode* node = stmt.get();
  switch (node->kind()) {
    case StmtKind::kFor:
      return mutate_for(static_cast<const ForNode*>(node), stmt);
    case StmtKind::kBufferStore:
      return mutate_buffer_store(static_cast<const BufferStoreNode*>(node), stmt);
    case StmtKind::kAllocate:
      return mutate_allocate(static_cast<const AllocateNode*>(node), stmt);
    case StmtKind::kSeq:
      return mutate_seq(static_cast<const SeqNode*>(node), stmt);
    case StmtKind::kIfThenElse:
      return mutate_if(static_cast<const IfThenElseNode*>(node), stmt);
    case StmtKind::kLet:
      return mutate_let(static_cast<const LetNode*>(node), stmt);
    case StmtKind::kEvaluate:
      return mutate_evaluate(static_cast<const EvaluateNode*>(node), stmt);
  }
  return stmt;
}

std::vector<PrimExpr> IRMutator::mutate_all(const std::vector<PrimExpr>& exprs, bool* changed) {
  std::vector<PrimExpr> result;
  result.reserve(exprs.size());
  for (const PrimExpr& expr : exprs) {
    result.push_back(mutate(expr));
    if (!result.back().same_as(expr)) *changed = true;
  }
  return result;
}

PrimExpr IRMutator::mutate_binary(const BinaryNode* op, const PrimExpr& self) {
  PrimExpr a = mutate(op->a), b = mutate(op->b);
  if (a.same_as(op->a) && b.same_as(op->b)) return self;
  return make_binary(op->op, std::move(a), std::move(b));
}

PrimExpr IRMutator::mutate_compare(const CompareNode* op, const PrimExpr& self) {
  PrimExpr a = mutate(op->a), b = mutate(op->b);
  if (a.same_as(op->a) && b.same_as(op->b)) return self;
  return make_compare(op->op, std::move(a), std::move(b));
}

PrimExpr IRMutator::mutate_logical(const LogicalNode* op, const PrimExpr& self) {
  PrimExpr a = mutate(op->a), b = mutate(op->b);
  if (a.same_as(op->a) && b.same_as(op->b)) return self;
  return op->op == LogicalOp::kAnd ? logical_and(std::move(a), std::move(b))
                                   : logical_or(std::move(a), std::move(b));
}

PrimExpr IRMutator::mutate_not(const NotNode* op, const PrimExpr& self) {
  PrimExpr a = mutate(op->a);
  if (a.same_as(op->a)) return self;
  return logical_not(std::move(a));
}

PrimExpr IRMutator::mutate_select(const SelectNode* op, const PrimExpr& self) {
  PrimExpr c = mutate(op->condition), t = mutate(op->true_value), f = mutate(op->false_value);
  if (c.same_as(op->condition) && t.same_as(op->true_value) && f.same_as(op->false_value)) {
    return self;
  }
  return PrimExpr(std::make_shared<const SelectNode>(std::move(c), std::move(t), std::move(f)));
}

PrimExpr IRMutator::mutate_cast(const CastNode* op, const PrimExpr& self) {
  PrimExpr value = mutate(op->value);
  if (value.same_as(op->value)) return self;
  return PrimExpr(std::make_shared<const CastNode>(op->dtype(), std::move(value)));
}

PrimExpr IRMutator::mutate_intrinsic(const IntrinsicNode* op, const PrimExpr& self) {
  bool changed = false;
  std::vector<PrimExpr> args = mutate_all(op->args, &changed);
  if (!changed) return self;
  return PrimExpr(std::make_shared<const IntrinsicNode>(op->dtype(), op->name, std::move(args)));
}

PrimExpr IRMutator::mutate_tensor_read(const TensorReadNode* op, const PrimExpr& self) {
  bool changed = false;
  std::vector<PrimExpr> indices = mutate_all(op->indices, &changed);
  if (!changed) return self;
  return PrimExpr(std::make_shared<const TensorReadNode>(op->tensor, std::move(indices)));
}

PrimExpr IRMutator::mutate_reduce(const ReduceNode* op, const PrimExpr& self) {
  PrimExpr source = mutate(op->source);
  if (source.same_as(op->source)) return self;
  return PrimExpr(std::make_shared<const ReduceNode>(op->combiner, std::move(source), op->axes));
}

PrimExpr IRMutator::mutate_buffer_load(const BufferLoadNode* op, const PrimExpr& self) {
  bool changed = false;
  std::vector<PrimExpr> indices = mutate_all(op->indices, &changed);
  if (!changed) return self;
  return make_load(op->dtype(), op->buffer, std::move(indices));
}

PrimExpr IRMutator::mutate_ramp(const RampNode* op, const PrimExpr& self) {
  PrimExpr base = mutate(op->base), stride = mutate(op->stride);
  if (base.same_as(op->base) && stride.same_as(op->stride)) return self;
  return ramp(std::move(base), std::move(stride), op->lanes);
}

PrimExpr IRMutator::mutate_broadcast(const BroadcastNode* op, const PrimExpr& self) {
  PrimExpr value = mutate(op->value);
  if (value.same_as(op->value)) return self;
  return broadcast(std::move(value), op->lanes);
}

Stmt IRMutator::mutate_for(const ForNode* op, const Stmt& self) {
  PrimExpr min = mutate(op->min), extent = mutate(op->extent);
  Stmt body = mutate(op->body);
  if (min.same_as(op->min) && extent.same_as(op->extent) && body == op->body) return self;
  return make_for(op->var, std::move(min), std::move(extent), op->for_kind, std::move(body));
}

Stmt IRMutator::mutate_buffer_store(const BufferStoreNode* op, const Stmt& self) {
  PrimExpr value = mutate(op->value);
  bool changed = !value.same_as(op->value);
  std::vector<PrimExpr> indices = mutate_all(op->indices, &changed);
  if (!changed) return self;
  return make_store(op->buffer, std::move(value), std::move(indices));
}

Stmt IRMutator::mutate_allocate(const AllocateNode* op, const Stmt& self) {
  Stmt body = mutate(op->body);
  if (body == op->body) return self;
  return make_allocate(op->buffer, std::move(body));
}

Stmt IRMutator::mutate_seq(const SeqNode* op, const Stmt& self) {
  std::vector<Stmt> stmts;
  stmts.reserve(op->stmts.size());
  bool changed = false;
  for (const Stmt& stmt : op->stmts) {
    stmts.push_back(mutate(stmt));
    if (stmts.back() != stmt) changed = true;
  }
  if (!changed) return self;
  // Not make_seq: a Seq that became empty must stay a (no-op) statement, not vanish to null.
  std::vector<Stmt> flat;
  for (Stmt& stmt : stmts) {
    if (const auto* seq = as<SeqNode>(stmt)) {
      flat.insert(flat.end(), seq->stmts.begin(), seq->stmts.end());
    } else if (stmt) {
      flat.push_back(std::move(stmt));
    }
  }
  if (flat.size() == 1) return flat[0];
  return std::make_shared<const SeqNode>(std::move(flat));
}

Stmt IRMutator::mutate_if(const IfThenElseNode* op, const Stmt& self) {
  PrimExpr condition = mutate(op->condition);
  Stmt then_case = mutate(op->then_case), else_case = mutate(op->else_case);
  if (condition.same_as(op->condition) && then_case == op->then_case &&
      else_case == op->else_case) {
    return self;
  }
  return make_if(std::move(condition), std::move(then_case), std::move(else_case));
}

Stmt IRMutator::mutate_let(const LetNode* op, const Stmt& self) {
  PrimExpr value = mutate(op->value);
  Stmt body = mutate(op->body);
  if (value.same_as(op->value) && body == op->body) return self;
  return make_let(op->var, std::move(value), std::move(body));
}

Stmt IRMutator::mutate_evaluate(const EvaluateNode* op, const Stmt& self) {
  PrimExpr value = mutate(op->value);
  if (value.same_as(op->value)) return self;
  return std::make_shared<const EvaluateNode>(std::move(value));
}

// ---- helpers
// --------------------------------------------------------------------------------------

namespace {

class Substituter final : public IRMutator {
 public:
  explicit Substituter(const VarMap& map) : map_(map) {}

 protected:
  PrimExpr mutate_var(const VarNode* op, const PrimExpr& self) override {
    auto it = map_.find(op);
    return it == map_.end() ? self : it->second;
  }

 private:
  const VarMap& map_;
};

class VarUseFinder final : public IRVisitor {
 public:
  explicit VarUseFinder(const VarNode* var) : var_(var) {}
  bool found = false;

 protected:
  void visit_var(const VarNode* op) override { found = found || op == var_; }

 private:
  const VarNode* var_;
};

class VarCollector final : public IRVisitor {
 public:
  std::vector<Var> vars;

  void visit(const PrimExpr& expr) override {
    if (const auto* var = expr.as<VarNode>()) {
      if (seen_.insert(var).second) vars.push_back(as_var(expr));
      return;
    }
    IRVisitor::visit(expr);
  }
  using IRVisitor::visit;

 private:
  std::unordered_set<const VarNode*> seen_;
};

bool all_equal(const std::vector<PrimExpr>& a, const std::vector<PrimExpr>& b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (!structural_equal(a[i], b[i])) return false;
  }
  return true;
}

}  // namespace

PrimExpr substitute(const PrimExpr& expr, const VarMap& map) {
  if (map.empty()) return expr;
  Substituter substituter(map);
  return substituter.mutate(expr);
}

Stmt substitute(const Stmt& stmt, const VarMap& map) {
  if (map.empty()) return stmt;
  Substituter substituter(map);
  return substituter.mutate(stmt);
}

bool uses_var(const PrimExpr& expr, const VarNode* var) {
  VarUseFinder finder(var);
  finder.visit(expr);
  return finder.found;
}

bool uses_var(const Stmt& stmt, const VarNode* var) {
  VarUseFinder finder(var);
  finder.visit(stmt);
  return finder.found;
}

std::vector<Var> collect_vars(const PrimExpr& expr) {
  VarCollector collector;
  collector.visit(expr);
  return std::move(collector.vars);
}

Var as_var(const PrimExpr& expr) {
  if (!expr.as<VarNode>()) return nullptr;
  return std::static_pointer_cast<const VarNode>(expr.node());
}

bool structural_equal(const PrimExpr& a, const PrimExpr& b) {
  if (a.same_as(b)) return true;
  if (!a || !b || a->kind() != b->kind() || a.dtype() != b.dtype()) return false;
  switch (a->kind()) {
    case ExprKind::kIntImm:
      return a.as<IntImmNode>()->value == b.as<IntImmNode>()->value;
    case ExprKind::kFloatImm: {
      // Bitwise, so that NaN equals itself and 0.0 differs from -0.0.
      double x = a.as<FloatImmNode>()->value, y = b.as<FloatImmNode>()->value;
      return std::memcmp(&x, &y, sizeof(double)) == 0;
    }
    case ExprKind::kVar:
      return false;  // identity was checked by same_as
    case ExprKind::kBinary: {
      const auto *x = a.as<BinaryNode>(), *y = b.as<BinaryNode>();
      return x->op == y->op && structural_equal(x->a, y->a) && structural_equal(x->b, y->b);
    }
    case ExprKind::kCompare: {
      const auto *x = a.as<CompareNode>(), *y = b.as<CompareNode>();
      return x->op == y->op && structural_equal(x->a, y->a) && structural_equal(x->b, y->b);
    }
    case ExprKind::kLogical: {
      const auto *x = a.as<LogicalNode>(), *y = b.as<LogicalNode>();
      return x->op == y->op && structural_equal(x->a, y->a) && structural_equal(x->b, y->b);
    }
    case ExprKind::kNot:
      return structural_equal(a.as<NotNode>()->a, b.as<NotNode>()->a);
    case ExprKind::kSelect: {
      const auto *x = a.as<SelectNode>(), *y = b.as<SelectNode>();
      return structural_equal(x->condition, y->condition) &&
             structural_equal(x->true_value, y->true_value) &&
             structural_equal(x->false_value, y->false_value);
    }
    case ExprKind::kCast:
      return structural_equal(a.as<CastNode>()->value, b.as<CastNode>()->value);
    case ExprKind::kIntrinsic: {
      const auto *x = a.as<IntrinsicNode>(), *y = b.as<IntrinsicNode>();
      return x->name == y->name && all_equal(x->args, y->args);
    }
    case ExprKind::kTensorRead: {
      const auto *x = a.as<TensorReadNode>(), *y = b.as<TensorReadNode>();
      return x->tensor == y->tensor && all_equal(x->indices, y->indices);
    }
    case ExprKind::kReduce: {
      const auto *x = a.as<ReduceNode>(), *y = b.as<ReduceNode>();
      if (x->combiner != y->combiner || x->axes.size() != y->axes.size()) return false;
      for (size_t i = 0; i < x->axes.size(); ++i) {
        if (x->axes[i].var != y->axes[i].var || x->axes[i].extent != y->axes[i].extent) {
          return false;
        }
      }
      return structural_equal(x->source, y->source);
    }
    case ExprKind::kBufferLoad: {
      const auto *x = a.as<BufferLoadNode>(), *y = b.as<BufferLoadNode>();
      return x->buffer == y->buffer && all_equal(x->indices, y->indices);
    }
    case ExprKind::kRamp: {
      const auto *x = a.as<RampNode>(), *y = b.as<RampNode>();
      return x->lanes == y->lanes && structural_equal(x->base, y->base) &&
             structural_equal(x->stride, y->stride);
    }
    case ExprKind::kBroadcast: {
      const auto *x = a.as<BroadcastNode>(), *y = b.as<BroadcastNode>();
      return x->lanes == y->lanes && structural_equal(x->value, y->value);
    }
  }
  return false;
}

}  // namespace kiln::tir
