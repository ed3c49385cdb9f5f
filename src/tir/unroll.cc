#include "tir/unroll.h"

#include "tir/functor.h"

namespace kiln::tir {
namespace {

// Copies a statement with fresh variables at every binding site (For, Let), so that replicated
// bodies never bind one variable twice.
class FreshBinders final : public IRMutator {
 public:
  explicit FreshBinders(VarMap map) : map_(std::move(map)) {}

 protected:
  PrimExpr mutate_var(const VarNode* op, const PrimExpr& self) override {
    auto it = map_.find(op);
    return it == map_.end() ? self : it->second;
  }

  Stmt mutate_for(const ForNode* op, const Stmt&) override {
    Var var = rebind(op->var);
    return make_for(var, mutate(op->min), mutate(op->extent), op->for_kind, mutate(op->body));
  }

  Stmt mutate_let(const LetNode* op, const Stmt&) override {
    PrimExpr value = mutate(op->value);
    Var var = rebind(op->var);
    return make_let(var, value, mutate(op->body));
  }

 private:
  Var rebind(const Var& var) {
    Var fresh = make_var(var->name, var->dtype());
    map_[var.get()] = PrimExpr(fresh);
    return fresh;
  }

  VarMap map_;
};

class Unroller final : public IRMutator {
 public:
  explicit Unroller(int max_extent) : max_extent_(max_extent) {}

 protected:
  Stmt mutate_for(const ForNode* op, const Stmt& self) override {
    Stmt loop = IRMutator::mutate_for(op, self);  // inner loops first
    if (op->for_kind != ForKind::kUnrolled) return loop;
    const auto* node = as<ForNode>(loop);
    const int64_t* extent = as_const_int(node->extent);
    if (!extent || *extent > max_extent_) {
      return make_for(node->var, node->min, node->extent, ForKind::kSerial, node->body);
    }
    const int64_t* min = as_const_int(node->min);
    std::vector<Stmt> copies;
    for (int64_t k = 0; k < *extent; ++k) {
      PrimExpr value = min ? int_imm(*min + k) : node->min + int_imm(k);
      copies.push_back(FreshBinders(VarMap{{node->var.get(), value}}).mutate(node->body));
    }
    return copies.empty() ? make_no_op() : make_seq(std::move(copies));
  }

 private:
  int max_extent_;
};

}  // namespace

Stmt unroll(const Stmt& stmt, int max_extent) { return Unroller(max_extent).mutate(stmt); }

PrimFunc unroll(PrimFunc func, int max_extent) {
  func.body = unroll(func.body, max_extent);
  return func;
}

}  // namespace kiln::tir
