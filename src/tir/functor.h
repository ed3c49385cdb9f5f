// Traversal of the loop IR: a visitor and a mutator over PrimExpr and Stmt, and the small helpers
// every pass needs (substitution, variable use, structural equality).
//
// The visitor walks children in a fixed order (the order of the node's fields). The mutator
// rebuilds bottom-up and hands back the *same* node when no child changed, so a pass that changes
// nothing costs no allocation and `same_as` tells a caller whether anything happened.
//
// Overridable hooks have one name per node kind (visit_binary, mutate_for, ...) rather than
// overloads, so that overriding one does not hide the others.
#pragma once

#include <unordered_map>
#include <vector>

#include "tir/expr.h"
#include "tir/stmt.h"

namespace kiln::tir {

class IRVisitor {
 public:
  virtual ~IRVisitor() = default;
  // Dispatch on the node kind. A null statement (an absent else branch) is ignored.
  virtual void visit(const PrimExpr& expr);
  virtual void visit(const Stmt& stmt);

 protected:
  // Defaults visit every child expression and statement.
  virtual void visit_int_imm(const IntImmNode*) {}
  virtual void visit_float_imm(const FloatImmNode*) {}
  virtual void visit_var(const VarNode*) {}
  virtual void visit_binary(const BinaryNode* op);
  virtual void visit_compare(const CompareNode* op);
  virtual void visit_logical(const LogicalNode* op);
  virtual void visit_not(const NotNode* op);
  virtual void visit_select(const SelectNode* op);
  virtual void visit_cast(const CastNode* op);
  virtual void visit_intrinsic(const IntrinsicNode* op);
  virtual void visit_tensor_read(const TensorReadNode* op);
  virtual void visit_reduce(const ReduceNode* op);
  virtual void visit_buffer_load(const BufferLoadNode* op);
  virtual void visit_ramp(const RampNode* op);
  virtual void visit_broadcast(const BroadcastNode* op);

  virtual void visit_for(const ForNode* op);
  virtual void visit_buffer_store(const BufferStoreNode* op);
  virtual void visit_allocate(const AllocateNode* op);
  virtual void visit_seq(const SeqNode* op);
  virtual void visit_if(const IfThenElseNode* op);
  virtual void visit_let(const LetNode* op);
  virtual void visit_evaluate(const EvaluateNode* op);
};

class IRMutator {
 public:
  virtual ~IRMutator() = default;
  // Dispatch on the node kind. A null statement stays null.
  virtual PrimExpr mutate(const PrimExpr& expr);
  virtual Stmt mutate(const Stmt& stmt);

 protected:
  // Each hook gets the node and its handle (`self`), and returns `self` when nothing changed.
  // Defaults mutate the children and rebuild only when one of them changed.
  virtual PrimExpr mutate_int_imm(const IntImmNode*, const PrimExpr& self) { return self; }
  virtual PrimExpr mutate_float_imm(const FloatImmNode*, const PrimExpr& self) { return self; }
  virtual PrimExpr mutate_var(const VarNode*, const PrimExpr& self) { return self; }
  virtual PrimExpr mutate_binary(const BinaryNode* op, const PrimExpr& self);
  virtual PrimExpr mutate_compare(const CompareNode* op, const PrimExpr& self);
  virtual PrimExpr mutate_logical(const LogicalNode* op, const PrimExpr& self);
  virtual PrimExpr mutate_not(const NotNode* op, const PrimExpr& self);
  virtual PrimExpr mutate_select(const SelectNode* op, const PrimExpr& self);
  virtual PrimExpr mutate_cast(const CastNode* op, const PrimExpr& self);
  virtual PrimExpr mutate_intrinsic(const IntrinsicNode* op, const PrimExpr& self);
  virtual PrimExpr mutate_tensor_read(const TensorReadNode* op, const PrimExpr& self);
  virtual PrimExpr mutate_reduce(const ReduceNode* op, const PrimExpr& self);
  virtual PrimExpr mutate_buffer_load(const BufferLoadNode* op, const PrimExpr& self);
  virtual PrimExpr mutate_ramp(const RampNode* op, const PrimExpr& self);
  virtual PrimExpr mutate_broadcast(const BroadcastNode* op, const PrimExpr& self);

  virtual Stmt mutate_for(const ForNode* op, const Stmt& self);
  virtual Stmt mutate_buffer_store(const BufferStoreNode* op, const Stmt& self);
  virtual Stmt mutate_allocate(const AllocateNode* op, const Stmt& self);
  virtual Stmt mutate_seq(const SeqNode* op, const Stmt& self);
  virtual Stmt mutate_if(const IfThenElseNode* op, const Stmt& self);
  virtual Stmt mutate_let(const LetNode* op, const Stmt& self);
  virtual Stmt mutate_evaluate(const EvaluateNode* op, const Stmt& self);

  // Mutates each element; `changed` is set when any element changed.
  std::vector<PrimExpr> mutate_all(const std::vector<PrimExpr>& exprs, bool* changed);
};

// ---- node builders that keep the original's dtype conventions -----------------------------------
PrimExpr make_binary(BinaryOp op, PrimExpr a, PrimExpr b);
PrimExpr make_compare(CompareOp op, PrimExpr a, PrimExpr b);
// A load with `indices`; the result's lanes follow a single vector index, else the element dtype
// of `element` (normally the buffer's dtype).
PrimExpr make_load(DataType element, Buffer buffer, std::vector<PrimExpr> indices);
// The empty statement (an empty Seq): what a pass leaves where nothing remains to do.
Stmt make_no_op();
bool is_no_op(const Stmt& stmt);

// ---- helpers
// -------------------------------------------------------------------------------------- Variables
// are identified by their node.
using VarMap = std::unordered_map<const VarNode*, PrimExpr>;

// Replaces every use of a mapped variable by its value. Binding sites (For, Let) are not renamed:
// the map must not contain variables bound inside the expression or statement.
PrimExpr substitute(const PrimExpr& expr, const VarMap& map);
Stmt substitute(const Stmt& stmt, const VarMap& map);

bool uses_var(const PrimExpr& expr, const VarNode* var);
bool uses_var(const Stmt& stmt, const VarNode* var);

// Free and bound variables of `expr`, each once, in order of first appearance.
std::vector<Var> collect_vars(const PrimExpr& expr);

// The variable handle of a Var expression (null when `expr` is not a Var).
Var as_var(const PrimExpr& expr);

// Same tree: same kinds, dtypes, operators, constants, variables (by identity) and buffers.
bool structural_equal(const PrimExpr& a, const PrimExpr& b);

}  // namespace kiln::tir
