#include "tir/remove_no_op.h"

#include "tir/functor.h"

namespace kiln::tir {
namespace {

class NoOpRemover final : public IRMutator {
 protected:
  Stmt mutate_for(const ForNode* op, const Stmt& self) override {
    Stmt loop = IRMutator::mutate_for(op, self);
    const auto* node = as<ForNode>(loop);
    const int64_t* extent = as_const_int(node->extent);
    if ((extent && *extent <= 0) || is_no_op(node->body)) return make_no_op();
    if (extent && *extent == 1) {
      return mutate(substitute(node->body, VarMap{{node->var.get(), node->min}}));
    }
    return loop;
  }

  Stmt mutate_if(const IfThenElseNode* op, const Stmt& self) override {
    Stmt result = IRMutator::mutate_if(op, self);
    const auto* node = as<IfThenElseNode>(result);
    bool empty_then = is_no_op(node->then_case), empty_else = is_no_op(node->else_case);
    if (empty_then && empty_else) return make_no_op();
    if (empty_then) return make_if(logical_not(node->condition), node->else_case);
    if (node->else_case && empty_else) return make_if(node->condition, node->then_case);
    return result;
  }

  Stmt mutate_let(const LetNode* op, const Stmt& self) override {
    Stmt result = IRMutator::mutate_let(op, self);
    const auto* node = as<LetNode>(result);
    return is_no_op(node->body) ? make_no_op() : result;
  }

  Stmt mutate_allocate(const AllocateNode* op, const Stmt& self) override {
    Stmt result = IRMutator::mutate_allocate(op, self);
    const auto* node = as<AllocateNode>(result);
    return is_no_op(node->body) ? make_no_op() : result;
  }

  Stmt mutate_evaluate(const EvaluateNode* op, const Stmt& self) override {
    if (op->value.as<IntImmNode>() || op->value.as<FloatImmNode>()) return make_no_op();
    return self;
  }
};

}  // namespace

Stmt remove_no_op(const Stmt& stmt) { return NoOpRemover().mutate(stmt); }

PrimFunc remove_no_op(PrimFunc func) {
  func.body = remove_no_op(func.body);
  return func;
}

}  // namespace kiln::tir
