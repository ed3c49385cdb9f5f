// Graph IR nodes: small, immutable, reference-counted. Every node knows its type when it is
// made: Call::make runs the operator's type relation, so a node that exists is well typed.
// Rebuilding a node with new arguments (ExprMutator) re-infers its type.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "ir/attrs.h"
#include "ir/type.h"
#include "kiln/tensor.h"

namespace kiln::ir {

struct OpDef;

enum class ExprKind : uint8_t { kVar, kConstant, kCall, kTuple, kTupleGetItem, kFunction };

// Destroying a long chain of nodes would recurse once per node through shared_ptr destructors
// and overflow the stack; the destructors of nodes with inputs hand those inputs to an explicit
// work list instead (see expr.cc).
class ExprNode {
 public:
  virtual ~ExprNode() = default;
  ExprKind kind() const { return kind_; }
  const Type& type() const { return type_; }

 protected:
  ExprNode(ExprKind kind, Type type) : kind_(kind), type_(std::move(type)) {}

 private:
  ExprKind kind_;
  Type type_;
};

using Expr = std::shared_ptr<const ExprNode>;

// Downcast: nullptr when `expr` is not a T.
template <typename T>
const T* as(const Expr& expr) {
  return expr && expr->kind() == T::kKind ? static_cast<const T*>(expr.get()) : nullptr;
}
template <typename T>
const T* as(const ExprNode* expr) {
  return expr && expr->kind() == T::kKind ? static_cast<const T*>(expr) : nullptr;
}

// A graph input (function parameter).
class VarNode final : public ExprNode {
 public:
  static constexpr ExprKind kKind = ExprKind::kVar;
  static std::shared_ptr<const VarNode> make(std::string name, TensorType type);
  const std::string name;
  const TensorType& tensor_type() const { return type().as_tensor(); }

 private:
  VarNode(std::string name, TensorType type);
};

// A constant tensor: a weight or a folded value. `name` is the weight's name in the source model
// (may be empty for folded values; the printer then numbers it).
class ConstantNode final : public ExprNode {
 public:
  static constexpr ExprKind kKind = ExprKind::kConstant;
  static std::shared_ptr<const ConstantNode> make(Tensor value, std::string name = "");
  const Tensor value;
  const std::string name;

 private:
  ConstantNode(Tensor value, std::string name);
};

// An operator applied to arguments. `source_name` is the node name in the source model, kept for
// error messages and profiles; it does not take part in equality.
class CallNode final : public ExprNode {
 public:
  ~CallNode() override;
  static constexpr ExprKind kKind = ExprKind::kCall;
  // Checks the arity and attributes against the operator's declaration (filling defaults) and
  // infers the type; raises kiln::Error naming the operator when the call is ill-formed.
  static std::shared_ptr<const CallNode> make(const OpDef& op, std::vector<Expr> args,
                                              Attrs attrs = {}, std::string source_name = "");
  const OpDef& op;
  const std::vector<Expr> args;
  const Attrs attrs;
  const std::string source_name;

 private:
  CallNode(const OpDef& op, std::vector<Expr> args, Attrs attrs, std::string source_name,
           Type type);
};

class TupleNode final : public ExprNode {
 public:
  ~TupleNode() override;
  static constexpr ExprKind kKind = ExprKind::kTuple;
  static std::shared_ptr<const TupleNode> make(std::vector<Expr> fields);
  const std::vector<Expr> fields;

 private:
  TupleNode(std::vector<Expr> fields, Type type);
};

class TupleGetItemNode final : public ExprNode {
 public:
  ~TupleGetItemNode() override;
  static constexpr ExprKind kKind = ExprKind::kTupleGetItem;
  static std::shared_ptr<const TupleGetItemNode> make(Expr tuple, int64_t index);
  const Expr tuple;
  const int64_t index;

 private:
  TupleGetItemNode(Expr tuple, int64_t index, Type type);
};

// A function of parameters; its type is the type of its body.
class FunctionNode final : public ExprNode {
 public:
  ~FunctionNode() override;
  static constexpr ExprKind kKind = ExprKind::kFunction;
  static std::shared_ptr<const FunctionNode> make(
      std::vector<std::shared_ptr<const VarNode>> params, Expr body);
  const std::vector<std::shared_ptr<const VarNode>> params;
  const Expr body;

 private:
  FunctionNode(std::vector<std::shared_ptr<const VarNode>> params, Expr body);
};

using Var = std::shared_ptr<const VarNode>;
using Constant = std::shared_ptr<const ConstantNode>;
using Call = std::shared_ptr<const CallNode>;
using Function = std::shared_ptr<const FunctionNode>;

// Convenience: make a call by operator name.
Call call(std::string_view op_name, std::vector<Expr> args, Attrs attrs = {},
          std::string source_name = "");

}  // namespace kiln::ir
