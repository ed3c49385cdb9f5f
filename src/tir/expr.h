// Scalar expressions of the loop IR (and of tensor expressions, which are built from them).
// Nodes are small, immutable and reference-counted, like the graph IR. PrimExpr is a thin handle
// with arithmetic operators so that computes read like math: `a(i, k) * b(k, j) + 1.0f`.
//
// Indices and loop variables are int64. A DataType is an element dtype plus a vector lane count
// (lanes > 1 only after vectorization).
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "kiln/tensor.h"

namespace kiln::te {
class TensorNode;
}

namespace kiln::tir {

struct DataType {
  DType dtype = DType::kFloat32;
  int lanes = 1;
  bool operator==(const DataType& other) const {
    return dtype == other.dtype && lanes == other.lanes;
  }
  bool operator!=(const DataType& other) const { return !(*this == other); }
  bool is_float() const { return dtype_is_float(dtype); }
  bool is_bool() const { return dtype == DType::kBool; }
  bool is_int() const { return dtype_is_integer(dtype); }
  DataType with_lanes(int new_lanes) const { return {dtype, new_lanes}; }
  DataType element() const { return {dtype, 1}; }
  std::string to_string() const;  // "float32", "float32x16"
};

inline DataType index_type() { return {DType::kInt64, 1}; }
inline DataType bool_type() { return {DType::kBool, 1}; }

enum class ExprKind : uint8_t {
  kIntImm,
  kFloatImm,
  kVar,
  kBinary,
  kCompare,
  kLogical,
  kNot,
  kSelect,
  kCast,
  kIntrinsic,
  kTensorRead,  // te only: read of a te::Tensor at multi-dimensional indices
  kReduce,      // te only: a commutative reduction over reduce axes
  kBufferLoad,  // load from a Buffer (multi-dimensional before flattening, one index after)
  kRamp,        // vector of base + i * stride, i in [0, lanes)
  kBroadcast,   // vector of one scalar repeated
};

class PrimExprNode {
 public:
  virtual ~PrimExprNode() = default;
  ExprKind kind() const { return kind_; }
  const DataType& dtype() const { return dtype_; }

 protected:
  PrimExprNode(ExprKind kind, DataType dtype) : kind_(kind), dtype_(dtype) {}

 private:
  ExprKind kind_;
  DataType dtype_;
};

class PrimExpr {
 public:
  PrimExpr() = default;
  PrimExpr(std::shared_ptr<const PrimExprNode> node) : node_(std::move(node)) {}  // NOLINT
  PrimExpr(int value);      // NOLINT: int64 immediate
  PrimExpr(int64_t value);  // NOLINT: int64 immediate
  PrimExpr(float value);    // NOLINT: float32 immediate
  PrimExpr(double value);   // NOLINT: float32 immediate (computes are float32 by default)

  const PrimExprNode* get() const { return node_.get(); }
  const PrimExprNode* operator->() const { return node_.get(); }
  explicit operator bool() const { return node_ != nullptr; }
  const std::shared_ptr<const PrimExprNode>& node() const { return node_; }
  const DataType& dtype() const { return node_->dtype(); }
  bool same_as(const PrimExpr& other) const { return node_ == other.node_; }

  template <typename T>
  const T* as() const {
    return node_ && node_->kind() == T::kKind ? static_cast<const T*>(node_.get()) : nullptr;
  }

 private:
  std::shared_ptr<const PrimExprNode> node_;
};

class IntImmNode final : public PrimExprNode {
 public:
  static constexpr ExprKind kKind = ExprKind::kIntImm;
  IntImmNode(DataType dtype, int64_t value) : PrimExprNode(kKind, dtype), value(value) {}
  const int64_t value;
};

class FloatImmNode final : public PrimExprNode {
 public:
  static constexpr ExprKind kKind = ExprKind::kFloatImm;
  FloatImmNode(DataType dtype, double value) : PrimExprNode(kKind, dtype), value(value) {}
  const double value;
};

// A scalar variable: a loop index, a compute axis, a let-bound value. Identity is the node
// (two vars with the same name are different variables).
class VarNode final : public PrimExprNode {
 public:
  static constexpr ExprKind kKind = ExprKind::kVar;
  VarNode(std::string name, DataType dtype) : PrimExprNode(kKind, dtype), name(std::move(name)) {}
  const std::string name;
};
using Var = std::shared_ptr<const VarNode>;
Var make_var(std::string name, DataType dtype = index_type());

enum class BinaryOp : uint8_t { kAdd, kSub, kMul, kDiv, kMod, kFloorDiv, kFloorMod, kMin, kMax };
// kDiv/kMod: C semantics (truncation) for integers, IEEE division for floats.
// kFloorDiv/kFloorMod: rounding toward negative infinity (index arithmetic uses these).

class BinaryNode final : public PrimExprNode {
 public:
  static constexpr ExprKind kKind = ExprKind::kBinary;
  BinaryNode(BinaryOp op, PrimExpr a, PrimExpr b);
  const BinaryOp op;
  const PrimExpr a;
  const PrimExpr b;
};

enum class CompareOp : uint8_t { kEQ, kNE, kLT, kLE, kGT, kGE };

class CompareNode final : public PrimExprNode {
 public:
  static constexpr ExprKind kKind = ExprKind::kCompare;
  CompareNode(CompareOp op, PrimExpr a, PrimExpr b);
  const CompareOp op;
  const PrimExpr a;
  const PrimExpr b;
};

enum class LogicalOp : uint8_t { kAnd, kOr };

class LogicalNode final : public PrimExprNode {
 public:
  static constexpr ExprKind kKind = ExprKind::kLogical;
  LogicalNode(LogicalOp op, PrimExpr a, PrimExpr b);
  const LogicalOp op;
  const PrimExpr a;
  const PrimExpr b;
};

class NotNode final : public PrimExprNode {
 public:
  static constexpr ExprKind kKind = ExprKind::kNot;
  explicit NotNode(PrimExpr a);
  const PrimExpr a;
};

// condition ? true_value : false_value; both sides may be evaluated (no short circuit).
class SelectNode final : public PrimExprNode {
 public:
  static constexpr ExprKind kKind = ExprKind::kSelect;
  SelectNode(PrimExpr condition, PrimExpr true_value, PrimExpr false_value);
  const PrimExpr condition;
  const PrimExpr true_value;
  const PrimExpr false_value;
};

class CastNode final : public PrimExprNode {
 public:
  static constexpr ExprKind kKind = ExprKind::kCast;
  CastNode(DataType dtype, PrimExpr value) : PrimExprNode(kKind, dtype), value(std::move(value)) {}
  const PrimExpr value;
};

// Math intrinsics with the C library's semantics. Codegen maps each to an LLVM intrinsic or a
// libm call: exp, log, sqrt, tanh, erf, fabs, floor, ceil, round (half to even: nearbyint),
// trunc, pow, sin, cos, tan, asin, acos, atan, sinh, cosh, asinh, acosh, atanh, log1p, expm1,
// sigmoid (1 / (1 + exp(-x))), isnan, isinf, copysign, fmod.
// Integer intrinsics (both operands of the result's dtype): bitwise_and, bitwise_or,
// bitwise_xor, shift_left, shift_right (logical for unsigned, arithmetic for signed types; a
// shift by the bit width or more gives 0, or -1 for a right shift of a negative signed value).
// They are intrinsics rather than BinaryOps so that the simplifier, which folds only the
// arithmetic it knows, leaves them alone.
class IntrinsicNode final : public PrimExprNode {
 public:
  static constexpr ExprKind kKind = ExprKind::kIntrinsic;
  IntrinsicNode(DataType dtype, std::string name, std::vector<PrimExpr> args)
      : PrimExprNode(kKind, dtype), name(std::move(name)), args(std::move(args)) {}
  const std::string name;
  const std::vector<PrimExpr> args;
};

// te only: tensor(indices...). Lowering turns it into a BufferLoad.
class TensorReadNode final : public PrimExprNode {
 public:
  static constexpr ExprKind kKind = ExprKind::kTensorRead;
  TensorReadNode(std::shared_ptr<const te::TensorNode> tensor, std::vector<PrimExpr> indices);
  const std::shared_ptr<const te::TensorNode> tensor;
  const std::vector<PrimExpr> indices;
};

// An iteration axis of a compute: a variable ranging over [0, extent).
struct IterVar {
  Var var;
  int64_t extent = 0;
};

enum class ReduceCombiner : uint8_t { kSum, kProd, kMax, kMin };

// te only: combine `source` over all values of `axes` (identity element first). A compute whose
// body is a Reduce is a reduction stage; Reduce appears only at the top of a compute body.
class ReduceNode final : public PrimExprNode {
 public:
  static constexpr ExprKind kKind = ExprKind::kReduce;
  ReduceNode(ReduceCombiner combiner, PrimExpr source, std::vector<IterVar> axes);
  const ReduceCombiner combiner;
  const PrimExpr source;
  const std::vector<IterVar> axes;
};

// A memory region: function arguments (model inputs/outputs/weights), intermediate tensors,
// and local scratch (cache_write). Shapes are static.
enum class BufferScope : uint8_t { kGlobal, kLocal };

class BufferNode {
 public:
  BufferNode(std::string name, DataType dtype, std::vector<int64_t> shape,
             BufferScope scope = BufferScope::kGlobal)
      : name(std::move(name)), dtype(dtype), shape(std::move(shape)), scope(scope) {}
  const std::string name;
  const DataType dtype;
  const std::vector<int64_t> shape;
  const BufferScope scope;
  int64_t numel() const;
};
using Buffer = std::shared_ptr<const BufferNode>;
Buffer make_buffer(std::string name, DataType dtype, std::vector<int64_t> shape,
                   BufferScope scope = BufferScope::kGlobal);

// buffer[indices]; after flattening exactly one index (row-major offset). With a vector dtype the
// index is a Ramp (contiguous or strided lanes) or the load is a gather.
class BufferLoadNode final : public PrimExprNode {
 public:
  static constexpr ExprKind kKind = ExprKind::kBufferLoad;
  BufferLoadNode(DataType dtype, Buffer buffer, std::vector<PrimExpr> indices)
      : PrimExprNode(kKind, dtype), buffer(std::move(buffer)), indices(std::move(indices)) {}
  const Buffer buffer;
  const std::vector<PrimExpr> indices;
};

class RampNode final : public PrimExprNode {
 public:
  static constexpr ExprKind kKind = ExprKind::kRamp;
  RampNode(PrimExpr base, PrimExpr stride, int lanes);
  const PrimExpr base;
  const PrimExpr stride;
  const int lanes;
};

class BroadcastNode final : public PrimExprNode {
 public:
  static constexpr ExprKind kKind = ExprKind::kBroadcast;
  BroadcastNode(PrimExpr value, int lanes);
  const PrimExpr value;
  const int lanes;
};

// ---- builders ----------------------------------------------------------------------------
PrimExpr int_imm(int64_t value, DataType dtype = index_type());
PrimExpr float_imm(double value, DataType dtype = {DType::kFloat32, 1});
// A constant of `dtype` holding `value` (float, int or bool as the dtype says).
PrimExpr make_const(DataType dtype, double value);
PrimExpr cast(DataType dtype, PrimExpr value);  // no-op when the dtype already matches
PrimExpr select(PrimExpr condition, PrimExpr true_value, PrimExpr false_value);
PrimExpr intrinsic(const std::string& name, std::vector<PrimExpr> args);
// The bits of `value` read as `to` (same size; the "reinterpret" intrinsic, ONNX BitCast).
PrimExpr reinterpret(PrimExpr value, DType to);
PrimExpr min(PrimExpr a, PrimExpr b);
PrimExpr max(PrimExpr a, PrimExpr b);
PrimExpr floordiv(PrimExpr a, PrimExpr b);
PrimExpr floormod(PrimExpr a, PrimExpr b);
PrimExpr logical_and(PrimExpr a, PrimExpr b);
PrimExpr logical_or(PrimExpr a, PrimExpr b);
PrimExpr logical_not(PrimExpr a);
PrimExpr buffer_load(Buffer buffer, std::vector<PrimExpr> indices);
PrimExpr ramp(PrimExpr base, PrimExpr stride, int lanes);
PrimExpr broadcast(PrimExpr value, int lanes);

// Arithmetic on PrimExpr. Operands of different dtypes are an internal error, except that
// immediates (PrimExpr(1), PrimExpr(0.5)) adopt the dtype of the other side.
PrimExpr operator+(PrimExpr a, PrimExpr b);
PrimExpr operator-(PrimExpr a, PrimExpr b);
PrimExpr operator*(PrimExpr a, PrimExpr b);
PrimExpr operator/(PrimExpr a, PrimExpr b);  // C division for ints
PrimExpr operator%(PrimExpr a, PrimExpr b);  // C remainder for ints
PrimExpr operator-(PrimExpr a);
PrimExpr operator==(PrimExpr a, PrimExpr b);
PrimExpr operator!=(PrimExpr a, PrimExpr b);
PrimExpr operator<(PrimExpr a, PrimExpr b);
PrimExpr operator<=(PrimExpr a, PrimExpr b);
PrimExpr operator>(PrimExpr a, PrimExpr b);
PrimExpr operator>=(PrimExpr a, PrimExpr b);
// (No &&, ||, ! overloads: they would be ambiguous with pointer truth tests; use logical_and,
// logical_or, logical_not.)

// Value of an integer immediate, if `expr` is one.
const int64_t* as_const_int(const PrimExpr& expr);

}  // namespace kiln::tir
