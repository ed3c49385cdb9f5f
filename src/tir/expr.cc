#include "tir/expr.h"

#include "kiln/error.h"
#include "te/tensor.h"

namespace kiln::tir {

std::string DataType::to_string() const {
  std::string text(dtype_name(dtype));
  if (lanes > 1) text += "x" + std::to_string(lanes);
  return text;
}

PrimExpr::PrimExpr(int value) : PrimExpr(int_imm(value)) {}
PrimExpr::PrimExpr(int64_t value) : PrimExpr(int_imm(value)) {}
PrimExpr::PrimExpr(float value) : PrimExpr(float_imm(value)) {}
PrimExpr::PrimExpr(double value) : PrimExpr(float_imm(value)) {}

Var make_var(std::string name, DataType dtype) {
  return std::make_shared<const VarNode>(std::move(name), dtype);
}

namespace {

void check_same_dtype(const PrimExpr& a, const PrimExpr& b, const char* what) {
  KILN_CHECK(a && b) << what << ": null operand";
  KILN_CHECK(a.dtype() == b.dtype())
      << what << ": operands of " << a.dtype().to_string() << " and " << b.dtype().to_string();
}

bool is_immediate(const PrimExpr& expr) {
  return expr.as<IntImmNode>() != nullptr || expr.as<FloatImmNode>() != nullptr;
}

double immediate_value(const PrimExpr& expr) {
  if (const auto* i = expr.as<IntImmNode>()) return static_cast<double>(i->value);
  return expr.as<FloatImmNode>()->value;
}

// Immediates adopt the dtype (and lanes) of the other operand, so `x * 2` and `x + 0.5` work for
// any dtype of x.
void unify(PrimExpr& a, PrimExpr& b) {
  if (a.dtype() == b.dtype()) return;
  if (is_immediate(b) && !is_immediate(a)) {
    b = make_const(a.dtype().element(), immediate_value(b));
    if (a.dtype().lanes > 1) b = broadcast(b, a.dtype().lanes);
  } else if (is_immediate(a) && !is_immediate(b)) {
    a = make_const(b.dtype().element(), immediate_value(a));
    if (b.dtype().lanes > 1) a = broadcast(a, b.dtype().lanes);
  }
}

}  // namespace

BinaryNode::BinaryNode(BinaryOp op, PrimExpr a, PrimExpr b)
    : PrimExprNode(kKind, a.dtype()), op(op), a(std::move(a)), b(std::move(b)) {
  check_same_dtype(this->a, this->b, "binary op");
}

CompareNode::CompareNode(CompareOp op, PrimExpr a, PrimExpr b)
    : PrimExprNode(kKind, DataType{DType::kBool, a.dtype().lanes}),
      op(op),
      a(std::move(a)),
      b(std::move(b)) {
  check_same_dtype(this->a, this->b, "comparison");
}

LogicalNode::LogicalNode(LogicalOp op, PrimExpr a, PrimExpr b)
    : PrimExprNode(kKind, a.dtype()), op(op), a(std::move(a)), b(std::move(b)) {
  check_same_dtype(this->a, this->b, "logical op");
  KILN_CHECK(this->a.dtype().is_bool()) << "logical op on " << this->a.dtype().to_string();
}

NotNode::NotNode(PrimExpr a) : PrimExprNode(kKind, a.dtype()), a(std::move(a)) {
  KILN_CHECK(this->a.dtype().is_bool()) << "logical not on " << this->a.dtype().to_string();
}

SelectNode::SelectNode(PrimExpr condition, PrimExpr true_value, PrimExpr false_value)
    : PrimExprNode(kKind, true_value.dtype()),
      condition(std::move(condition)),
      true_value(std::move(true_value)),
      false_value(std::move(false_value)) {
  check_same_dtype(this->true_value, this->false_value, "select");
  KILN_CHECK(this->condition.dtype().is_bool()) << "select condition is not bool";
}

TensorReadNode::TensorReadNode(std::shared_ptr<const te::TensorNode> tensor,
                               std::vector<PrimExpr> indices)
    : PrimExprNode(kKind, tensor->dtype), tensor(std::move(tensor)), indices(std::move(indices)) {
  KILN_CHECK(static_cast<int64_t>(this->indices.size()) == this->tensor->ndim())
      << "tensor " << this->tensor->name << " of rank " << this->tensor->ndim() << " read with "
      << this->indices.size() << " indices";
}

ReduceNode::ReduceNode(ReduceCombiner combiner, PrimExpr source, std::vector<IterVar> axes)
    : PrimExprNode(kKind, source.dtype()),
      combiner(combiner),
      source(std::move(source)),
      axes(std::move(axes)) {}

RampNode::RampNode(PrimExpr base, PrimExpr stride, int lanes)
    : PrimExprNode(kKind, base.dtype().with_lanes(lanes)),
      base(std::move(base)),
      stride(std::move(stride)),
      lanes(lanes) {
  KILN_CHECK(lanes > 1 && this->base.dtype().lanes == 1);
}

BroadcastNode::BroadcastNode(PrimExpr value, int lanes)
    : PrimExprNode(kKind, value.dtype().with_lanes(lanes)), value(std::move(value)), lanes(lanes) {
  KILN_CHECK(lanes > 1 && this->value.dtype().lanes == 1);
}

int64_t BufferNode::numel() const {
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  return count;
}

Buffer make_buffer(std::string name, DataType dtype, std::vector<int64_t> shape,
                   BufferScope scope) {
  return std::make_shared<const BufferNode>(std::move(name), dtype, std::move(shape), scope);
}

PrimExpr int_imm(int64_t value, DataType dtype) {
  return PrimExpr(std::make_shared<const IntImmNode>(dtype, value));
}

PrimExpr float_imm(double value, DataType dtype) {
  return PrimExpr(std::make_shared<const FloatImmNode>(dtype, value));
}

PrimExpr make_const(DataType dtype, double value) {
  if (dtype.is_float()) return float_imm(value, dtype);
  if (dtype.is_bool()) return int_imm(value != 0.0 ? 1 : 0, dtype);
  return int_imm(static_cast<int64_t>(value), dtype);
}

PrimExpr cast(DataType dtype, PrimExpr value) {
  if (value.dtype() == dtype) return value;
  return PrimExpr(std::make_shared<const CastNode>(dtype, std::move(value)));
}

PrimExpr select(PrimExpr condition, PrimExpr true_value, PrimExpr false_value) {
  unify(true_value, false_value);
  return PrimExpr(std::make_shared<const SelectNode>(std::move(condition), std::move(true_value),
                                                     std::move(false_value)));
}

PrimExpr intrinsic(const std::string& name, std::vector<PrimExpr> args) {
  KILN_CHECK(!args.empty()) << "intrinsic " << name << " without arguments";
  DataType dtype = args[0].dtype();
  if (name == "isnan" || name == "isinf") dtype = DataType{DType::kBool, dtype.lanes};
  if (name == "float_to_e8m0") dtype = DataType{DType::kFloat8E8M0, dtype.lanes};
  return PrimExpr(std::make_shared<const IntrinsicNode>(dtype, name, std::move(args)));
}

PrimExpr reinterpret(PrimExpr value, DType to) {
  DataType from = value.dtype();
  KILN_CHECK(dtype_size(from.dtype) == dtype_size(to)) << "reinterpret between sizes";
  DataType dtype{to, from.lanes};
  return PrimExpr(
      std::make_shared<const IntrinsicNode>(dtype, "reinterpret", std::vector<PrimExpr>{value}));
}

namespace {
PrimExpr binary(BinaryOp op, PrimExpr a, PrimExpr b) {
  unify(a, b);
  return PrimExpr(std::make_shared<const BinaryNode>(op, std::move(a), std::move(b)));
}
PrimExpr compare(CompareOp op, PrimExpr a, PrimExpr b) {
  unify(a, b);
  return PrimExpr(std::make_shared<const CompareNode>(op, std::move(a), std::move(b)));
}
}  // namespace

PrimExpr min(PrimExpr a, PrimExpr b) { return binary(BinaryOp::kMin, std::move(a), std::move(b)); }
PrimExpr max(PrimExpr a, PrimExpr b) { return binary(BinaryOp::kMax, std::move(a), std::move(b)); }
PrimExpr floordiv(PrimExpr a, PrimExpr b) {
  return binary(BinaryOp::kFloorDiv, std::move(a), std::move(b));
}
PrimExpr floormod(PrimExpr a, PrimExpr b) {
  return binary(BinaryOp::kFloorMod, std::move(a), std::move(b));
}
PrimExpr logical_and(PrimExpr a, PrimExpr b) {
  return PrimExpr(std::make_shared<const LogicalNode>(LogicalOp::kAnd, std::move(a), std::move(b)));
}
PrimExpr logical_or(PrimExpr a, PrimExpr b) {
  return PrimExpr(std::make_shared<const LogicalNode>(LogicalOp::kOr, std::move(a), std::move(b)));
}
PrimExpr logical_not(PrimExpr a) { return PrimExpr(std::make_shared<const NotNode>(std::move(a))); }

PrimExpr buffer_load(Buffer buffer, std::vector<PrimExpr> indices) {
  DataType dtype = buffer->dtype;
  if (indices.size() == 1 && indices[0].dtype().lanes > 1)
    dtype = dtype.with_lanes(indices[0].dtype().lanes);
  return PrimExpr(
      std::make_shared<const BufferLoadNode>(dtype, std::move(buffer), std::move(indices)));
}

PrimExpr ramp(PrimExpr base, PrimExpr stride, int lanes) {
  return PrimExpr(std::make_shared<const RampNode>(std::move(base), std::move(stride), lanes));
}

PrimExpr broadcast(PrimExpr value, int lanes) {
  return PrimExpr(std::make_shared<const BroadcastNode>(std::move(value), lanes));
}

PrimExpr operator+(PrimExpr a, PrimExpr b) {
  return binary(BinaryOp::kAdd, std::move(a), std::move(b));
}
PrimExpr operator-(PrimExpr a, PrimExpr b) {
  return binary(BinaryOp::kSub, std::move(a), std::move(b));
}
PrimExpr operator*(PrimExpr a, PrimExpr b) {
  return binary(BinaryOp::kMul, std::move(a), std::move(b));
}
PrimExpr operator/(PrimExpr a, PrimExpr b) {
  return binary(BinaryOp::kDiv, std::move(a), std::move(b));
}
PrimExpr operator%(PrimExpr a, PrimExpr b) {
  return binary(BinaryOp::kMod, std::move(a), std::move(b));
}
PrimExpr operator-(PrimExpr a) { return make_const(a.dtype().element(), 0) - a; }
PrimExpr operator==(PrimExpr a, PrimExpr b) {
  return compare(CompareOp::kEQ, std::move(a), std::move(b));
}
PrimExpr operator!=(PrimExpr a, PrimExpr b) {
  return compare(CompareOp::kNE, std::move(a), std::move(b));
}
PrimExpr operator<(PrimExpr a, PrimExpr b) {
  return compare(CompareOp::kLT, std::move(a), std::move(b));
}
PrimExpr operator<=(PrimExpr a, PrimExpr b) {
  return compare(CompareOp::kLE, std::move(a), std::move(b));
}
PrimExpr operator>(PrimExpr a, PrimExpr b) {
  return compare(CompareOp::kGT, std::move(a), std::move(b));
}
PrimExpr operator>=(PrimExpr a, PrimExpr b) {
  return compare(CompareOp::kGE, std::move(a), std::move(b));
}

const int64_t* as_const_int(const PrimExpr& expr) {
  const auto* imm = expr.as<IntImmNode>();
  return imm ? &imm->value : nullptr;
}

}  // namespace kiln::tir
