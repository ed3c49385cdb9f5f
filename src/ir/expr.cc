#include "ir/expr.h"

#include "ir/op.h"
#include "kiln/error.h"

namespace kiln::ir {

namespace {

// The work list of the outermost destructor running on this thread; nested destructors append
// to it instead of recursing.
thread_local std::vector<Expr>* pending_releases = nullptr;

// Releases `inputs` without recursion. Const members may be modified here: const semantics end
// when an object's destructor starts.
void release_inputs(std::vector<Expr>& inputs) {
  if (pending_releases != nullptr) {
    for (Expr& input : inputs) pending_releases->push_back(std::move(input));
    inputs.clear();
    return;
  }
  std::vector<Expr> work = std::move(inputs);
  inputs.clear();
  pending_releases = &work;
  while (!work.empty()) {
    Expr last = std::move(work.back());
    work.pop_back();
    last.reset();  // may append this node's own inputs to `work`
  }
  pending_releases = nullptr;
}

void release_input(Expr& input) {
  std::vector<Expr> single;
  single.push_back(std::move(input));
  release_inputs(single);
}

}  // namespace

CallNode::~CallNode() { release_inputs(const_cast<std::vector<Expr>&>(args)); }
TupleNode::~TupleNode() { release_inputs(const_cast<std::vector<Expr>&>(fields)); }
TupleGetItemNode::~TupleGetItemNode() { release_input(const_cast<Expr&>(tuple)); }
FunctionNode::~FunctionNode() { release_input(const_cast<Expr&>(body)); }

VarNode::VarNode(std::string name, TensorType type)
    : ExprNode(kKind, Type(std::move(type))), name(std::move(name)) {}

Var VarNode::make(std::string name, TensorType type) {
  return Var(new VarNode(std::move(name), std::move(type)));
}

namespace {
TensorType type_of_tensor(const Tensor& value) { return tensor_type(value.dtype(), value.shape()); }
}  // namespace

ConstantNode::ConstantNode(Tensor value, std::string name)
    : ExprNode(kKind, Type(type_of_tensor(value))),
      value(std::move(value)),
      name(std::move(name)) {}

Constant ConstantNode::make(Tensor value, std::string name) {
  KILN_CHECK(value.defined()) << "constant '" << name << "' has no value";
  return Constant(new ConstantNode(std::move(value), std::move(name)));
}

CallNode::CallNode(const OpDef& op, std::vector<Expr> args, Attrs attrs, std::string source_name,
                   Type type)
    : ExprNode(kKind, std::move(type)),
      op(op),
      args(std::move(args)),
      attrs(std::move(attrs)),
      source_name(std::move(source_name)) {}

namespace {

Attrs normalize_attrs(const OpDef& op, Attrs attrs) {
  for (const auto& [name, value] : attrs.values()) {
    const AttrDef* def = op.find_attr(name);
    if (def == nullptr) throw Error(op.name + ": unknown attribute '" + name + "'");
    if (attr_kind(value) != def->kind) {
      throw Error(op.name + ": attribute '" + name + "' must be " +
                  std::string(attr_kind_name(def->kind)) + ", got " +
                  std::string(attr_kind_name(attr_kind(value))));
    }
  }
  for (const AttrDef& def : op.attrs) {
    if (attrs.has(def.name)) continue;
    if (!def.default_value)
      throw Error(op.name + ": required attribute '" + def.name + "' is missing");
    attrs.set(def.name, *def.default_value);
  }
  return attrs;
}

}  // namespace

Call CallNode::make(const OpDef& op, std::vector<Expr> args, Attrs attrs, std::string source_name) {
  int count = static_cast<int>(args.size());
  if (count < op.min_args || (op.max_args >= 0 && count > op.max_args)) {
    std::string expected = op.max_args == op.min_args ? std::to_string(op.min_args)
                           : op.max_args < 0
                               ? "at least " + std::to_string(op.min_args)
                               : std::to_string(op.min_args) + " to " + std::to_string(op.max_args);
    throw Error(op.name + ": takes " + expected + " arguments, got " + std::to_string(count));
  }
  std::vector<Type> arg_types;
  arg_types.reserve(args.size());
  for (const Expr& arg : args) {
    KILN_CHECK(arg != nullptr) << op.name << ": null argument";
    arg_types.push_back(arg->type());
  }
  Attrs normalized = normalize_attrs(op, std::move(attrs));
  Type type = op.infer_type(arg_types, normalized);
  return Call(new CallNode(op, std::move(args), std::move(normalized), std::move(source_name),
                           std::move(type)));
}

TupleNode::TupleNode(std::vector<Expr> fields, Type type)
    : ExprNode(kKind, std::move(type)), fields(std::move(fields)) {}

std::shared_ptr<const TupleNode> TupleNode::make(std::vector<Expr> fields) {
  std::vector<Type> types;
  for (const Expr& field : fields) {
    KILN_CHECK(field != nullptr);
    types.push_back(field->type());
  }
  return std::shared_ptr<const TupleNode>(new TupleNode(std::move(fields), Type::tuple(types)));
}

TupleGetItemNode::TupleGetItemNode(Expr tuple, int64_t index, Type type)
    : ExprNode(kKind, std::move(type)), tuple(std::move(tuple)), index(index) {}

std::shared_ptr<const TupleGetItemNode> TupleGetItemNode::make(Expr tuple, int64_t index) {
  KILN_CHECK(tuple != nullptr);
  if (!tuple->type().is_tuple()) {
    throw Error("tuple index " + std::to_string(index) + " applied to a tensor of type " +
                tuple->type().to_string());
  }
  const auto& fields = tuple->type().fields();
  if (index < 0 || index >= static_cast<int64_t>(fields.size())) {
    throw Error("tuple index " + std::to_string(index) + " is out of range for a tuple of " +
                std::to_string(fields.size()) + " values");
  }
  Type type = fields[static_cast<size_t>(index)];
  return std::shared_ptr<const TupleGetItemNode>(
      new TupleGetItemNode(std::move(tuple), index, std::move(type)));
}

FunctionNode::FunctionNode(std::vector<Var> params, Expr body)
    : ExprNode(kKind, body->type()), params(std::move(params)), body(std::move(body)) {}

Function FunctionNode::make(std::vector<Var> params, Expr body) {
  KILN_CHECK(body != nullptr);
  return Function(new FunctionNode(std::move(params), std::move(body)));
}

Call call(std::string_view op_name, std::vector<Expr> args, Attrs attrs, std::string source_name) {
  return CallNode::make(op(op_name), std::move(args), std::move(attrs), std::move(source_name));
}

}  // namespace kiln::ir
