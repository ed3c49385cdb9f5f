#include "te/interpreter.h"

#include <cmath>
#include <cstdint>
#include <functional>
#include <limits>
#include <set>
#include <utility>

#include "kiln/error.h"
#include "support/subbyte_cast.h"
#include "tir/checked_index.h"
#include "tir/semantics.h"

namespace kiln::te {
namespace {

using tir::BinaryOp;
using tir::CompareOp;
using tir::ExprKind;
using tir::ReduceCombiner;

// A scalar value: `f` for float dtypes, `i` otherwise (bool is 0/1; unsigned 64-bit values keep
// their bits in int64).
struct Scalar {
  double f = 0.0;
  int64_t i = 0;
};

bool is_unsigned(DType dtype) { return dtype_is_integer(dtype) && !dtype_is_signed(dtype); }

// Wraps an integer to an integer dtype's width, as two's complement hardware does.
int64_t wrap_int(DType dtype, int64_t value) {
  switch (dtype) {
    case DType::kInt8:
      return static_cast<int8_t>(value);
    case DType::kInt16:
      return static_cast<int16_t>(value);
    case DType::kInt32:
      return static_cast<int32_t>(value);
    case DType::kUInt8:
      return static_cast<uint8_t>(value);
    case DType::kUInt16:
      return static_cast<uint16_t>(value);
    case DType::kUInt32:
      return static_cast<uint32_t>(value);
    case DType::kBool:
      return value != 0 ? 1 : 0;
    case DType::kInt4:
    case DType::kUInt4:
    case DType::kInt2:
    case DType::kUInt2:
      return subbyte_to_int(dtype, int_to_subbyte(dtype, value));
    default:
      return value;
  }
}

// Float to int64: truncation toward zero, saturating, NaN -> 0 (never undefined behaviour).
// A float converted to the integer dtype `to`: truncated toward zero (saturating at the int64
// limits), except for 4-/2-bit types, which round to nearest even as ONNX specifies for them.
int64_t float_to_int(DType to, double value) {
  if (dtype_subbyte_bits(to) > 0) return subbyte_to_int(to, float_to_subbyte(to, value));
  if (std::isnan(value)) return 0;
  double truncated = std::trunc(value);
  if (truncated <= -9223372036854775808.0) return std::numeric_limits<int64_t>::min();
  if (truncated >= 9223372036854775808.0) return std::numeric_limits<int64_t>::max();
  return static_cast<int64_t>(truncated);
}

double nan_max(double a, double b) { return std::isnan(a) || std::isnan(b) ? NAN : std::max(a, b); }
double nan_min(double a, double b) { return std::isnan(a) || std::isnan(b) ? NAN : std::min(a, b); }

double float_binary(BinaryOp op, double a, double b) {
  switch (op) {
    case BinaryOp::kAdd:
      return a + b;
    case BinaryOp::kSub:
      return a - b;
    case BinaryOp::kMul:
      return a * b;
    case BinaryOp::kDiv:
      return a / b;
    case BinaryOp::kMod:
      return std::fmod(a, b);
    case BinaryOp::kFloorDiv:
      return std::floor(a / b);
    case BinaryOp::kFloorMod:
      return a - std::floor(a / b) * b;
    case BinaryOp::kMin:
      return nan_min(a, b);
    case BinaryOp::kMax:
      return nan_max(a, b);
  }
  return 0.0;
}

void check_divisor(bool zero) {
  if (zero) throw Error("tensor expression: integer division by zero");
}

int64_t signed_binary(BinaryOp op, int64_t a, int64_t b) {
  auto ua = static_cast<uint64_t>(a), ub = static_cast<uint64_t>(b);
  constexpr int64_t kMin = std::numeric_limits<int64_t>::min();
  switch (op) {
    case BinaryOp::kAdd:
      return static_cast<int64_t>(ua + ub);
    case BinaryOp::kSub:
      return static_cast<int64_t>(ua - ub);
    case BinaryOp::kMul:
      return static_cast<int64_t>(ua * ub);
    case BinaryOp::kDiv:
      check_divisor(b == 0);
      return (a == kMin && b == -1) ? kMin : a / b;
    case BinaryOp::kMod:
      check_divisor(b == 0);
      return b == -1 ? 0 : a % b;
    case BinaryOp::kFloorDiv:
      check_divisor(b == 0);
      return (a == kMin && b == -1) ? kMin : tir::floor_div(a, b);  // wraps like the hardware
    case BinaryOp::kFloorMod:
      check_divisor(b == 0);
      return b == -1 ? 0 : tir::floor_mod(a, b);
    case BinaryOp::kMin:
      return std::min(a, b);
    case BinaryOp::kMax:
      return std::max(a, b);
  }
  return 0;
}

uint64_t unsigned_binary(BinaryOp op, uint64_t a, uint64_t b) {
  switch (op) {
    case BinaryOp::kAdd:
      return a + b;
    case BinaryOp::kSub:
      return a - b;
    case BinaryOp::kMul:
      return a * b;
    case BinaryOp::kDiv:
    case BinaryOp::kFloorDiv:
      check_divisor(b == 0);
      return a / b;
    case BinaryOp::kMod:
    case BinaryOp::kFloorMod:
      check_divisor(b == 0);
      return a % b;
    case BinaryOp::kMin:
      return std::min(a, b);
    case BinaryOp::kMax:
      return std::max(a, b);
  }
  return 0;
}

// The C library's meaning of each intrinsic the loop IR knows (see tir::IntrinsicNode).
double float_intrinsic(const std::string& name, const std::vector<double>& args) {
  static const std::map<std::string, std::function<double(double)>, std::less<>> unary = {
      {"exp", [](double x) { return std::exp(x); }},
      {"log", [](double x) { return std::log(x); }},
      {"sqrt", [](double x) { return std::sqrt(x); }},
      {"tanh", [](double x) { return std::tanh(x); }},
      {"erf", [](double x) { return std::erf(x); }},
      {"fabs", [](double x) { return std::fabs(x); }},
      {"floor", [](double x) { return std::floor(x); }},
      {"ceil", [](double x) { return std::ceil(x); }},
      {"round", [](double x) { return std::nearbyint(x); }},
      {"trunc", [](double x) { return std::trunc(x); }},
      {"sin", [](double x) { return std::sin(x); }},
      {"cos", [](double x) { return std::cos(x); }},
      {"tan", [](double x) { return std::tan(x); }},
      {"asin", [](double x) { return std::asin(x); }},
      {"acos", [](double x) { return std::acos(x); }},
      {"atan", [](double x) { return std::atan(x); }},
      {"sinh", [](double x) { return std::sinh(x); }},
      {"cosh", [](double x) { return std::cosh(x); }},
      {"asinh", [](double x) { return std::asinh(x); }},
      {"acosh", [](double x) { return std::acosh(x); }},
      {"atanh", [](double x) { return std::atanh(x); }},
      {"log1p", [](double x) { return std::log1p(x); }},
      {"expm1", [](double x) { return std::expm1(x); }},
      {"sigmoid", [](double x) { return 1.0 / (1.0 + std::exp(-x)); }},
  };
  static const std::map<std::string, std::function<double(double, double)>, std::less<>> binary = {
      {"pow", [](double x, double y) { return std::pow(x, y); }},
      {"copysign", [](double x, double y) { return std::copysign(x, y); }},
      {"fmod", [](double x, double y) { return std::fmod(x, y); }},
  };
  if (auto it = unary.find(name); it != unary.end()) {
    KILN_CHECK(args.size() == 1) << "intrinsic " << name << " takes 1 argument";
    return it->second(args[0]);
  }
  if (auto it = binary.find(name); it != binary.end()) {
    KILN_CHECK(args.size() == 2) << "intrinsic " << name << " takes 2 arguments";
    return it->second(args[0], args[1]);
  }
  KILN_CHECK(false) << "unknown intrinsic " << name;
  return 0.0;
}

// The integer intrinsics (see tir::IntrinsicNode) on values of `dtype` held in int64 (sign- or
// zero-extended as the dtype says); the caller wraps the result to the dtype.
int64_t integer_intrinsic(const std::string& name, DType dtype, int64_t a, int64_t b) {
  // The rounding functions are the identity on integers and nothing is NaN, as in codegen.
  if (name == "floor" || name == "ceil" || name == "round" || name == "trunc") return a;
  if (name == "fabs") return dtype_is_signed(dtype) && a < 0 ? -a : a;
  if (name == "isnan" || name == "isinf") return 0;
  if (name == "bitwise_and") return a & b;
  if (name == "bitwise_or") return a | b;
  if (name == "bitwise_xor") return a ^ b;
  if (name == "shift_left" || name == "shift_right") {
    auto bits = static_cast<uint64_t>(dtype_size(dtype) * 8);
    bool is_signed = dtype_is_signed(dtype);
    auto amount = static_cast<uint64_t>(b);
    if (is_signed && b < 0) amount = bits;  // a negative amount is out of range, like a large one
    if (name == "shift_left") {
      return amount >= bits ? 0 : static_cast<int64_t>(static_cast<uint64_t>(a) << amount);
    }
    if (is_signed) return amount >= bits ? (a < 0 ? -1 : 0) : a >> amount;
    return amount >= bits ? 0 : static_cast<int64_t>(static_cast<uint64_t>(a) >> amount);
  }
  KILN_CHECK(false) << "intrinsic " << name << " on " << dtype_name(dtype);
  return 0;
}

// Calls fn(tensor) for every tensor read anywhere inside `expr`.
void for_each_read(const tir::PrimExpr& expr, const std::function<void(const TensorNode*)>& fn) {
  if (!expr) return;
  switch (expr->kind()) {
    case ExprKind::kBinary: {
      const auto* node = expr.as<tir::BinaryNode>();
      for_each_read(node->a, fn);
      for_each_read(node->b, fn);
      break;
    }
    case ExprKind::kCompare: {
      const auto* node = expr.as<tir::CompareNode>();
      for_each_read(node->a, fn);
      for_each_read(node->b, fn);
      break;
    }
    case ExprKind::kLogical: {
      const auto* node = expr.as<tir::LogicalNode>();
      for_each_read(node->a, fn);
      for_each_read(node->b, fn);
      break;
    }
    case ExprKind::kNot:
      for_each_read(expr.as<tir::NotNode>()->a, fn);
      break;
    case ExprKind::kSelect: {
      const auto* node = expr.as<tir::SelectNode>();
      for_each_read(node->condition, fn);
      for_each_read(node->true_value, fn);
      for_each_read(node->false_value, fn);
      break;
    }
    case ExprKind::kCast:
      for_each_read(expr.as<tir::CastNode>()->value, fn);
      break;
    case ExprKind::kIntrinsic:
      for (const tir::PrimExpr& arg : expr.as<tir::IntrinsicNode>()->args) for_each_read(arg, fn);
      break;
    case ExprKind::kTensorRead: {
      const auto* node = expr.as<tir::TensorReadNode>();
      fn(node->tensor.get());
      for (const tir::PrimExpr& index : node->indices) for_each_read(index, fn);
      break;
    }
    case ExprKind::kReduce:
      for_each_read(expr.as<tir::ReduceNode>()->source, fn);
      break;
    default:
      break;
  }
}

class Interpreter {
 public:
  explicit Interpreter(const std::map<const TensorNode*, kiln::Tensor>& inputs) : inputs_(inputs) {}

  // The value of `tensor`, computing it (and what it reads) on first use.
  const kiln::Tensor& value_of(const TensorNode* tensor) {
    if (auto it = values_.find(tensor); it != values_.end()) return it->second;
    KILN_CHECK(!in_progress_.count(tensor)) << "tensor " << tensor->name << " reads itself";
    if (tensor->is_placeholder()) {
      auto it = inputs_.find(tensor);
      KILN_CHECK(it != inputs_.end()) << "no input value for placeholder " << tensor->name;
      const kiln::Tensor& input = it->second;
      KILN_CHECK(input.dtype() == tensor->dtype.dtype && input.shape() == tensor->shape)
          << "input for placeholder " << tensor->name << " has the wrong dtype or shape";
      return values_.emplace(tensor, input).first->second;
    }
    // Producers first, so that evaluating this body never recurses into another stage.
    in_progress_.insert(tensor);
    for_each_read(tensor->body, [this](const TensorNode* producer) { value_of(producer); });
    in_progress_.erase(tensor);
    kiln::Tensor result = compute_stage(*tensor);
    return values_.emplace(tensor, std::move(result)).first->second;
  }

 private:
  kiln::Tensor compute_stage(const TensorNode& stage) {
    KILN_CHECK(stage.dtype.lanes == 1) << "stage " << stage.name << " has a vector dtype";
    kiln::Tensor out(stage.dtype.dtype, stage.shape);
    const auto* reduce = stage.body.as<tir::ReduceNode>();
    env_.clear();
    for (const tir::IterVar& axis : stage.axis) env_.emplace_back(axis.var.get(), 0);
    size_t data_axes = env_.size();
    if (reduce != nullptr) {
      for (const tir::IterVar& axis : reduce->axes) env_.emplace_back(axis.var.get(), 0);
    }
    DType dtype = stage.dtype.dtype;
    bool is_float = dtype_is_float(dtype);
    int64_t count = out.numel();
    for (int64_t flat = 0; flat < count; ++flat) {
      Scalar value = reduce ? reduce_at(*reduce, dtype, data_axes) : eval(stage.body);
      if (is_float) {
        out.set_element_from_double(flat, value.f);
      } else {
        out.set_element_from_int64(flat, value.i);
      }
      advance(env_, 0, data_axes, stage.axis);
    }
    return out;
  }

  // Steps the multi-index held in env_[begin, end) (row-major over `axes`' extents).
  static void advance(std::vector<std::pair<const tir::VarNode*, int64_t>>& env, size_t begin,
                      size_t end, const std::vector<tir::IterVar>& axes) {
    for (size_t d = end; d-- > begin;) {
      if (++env[d].second < axes[d - begin].extent) return;
      env[d].second = 0;
    }
  }

  Scalar identity(ReduceCombiner combiner, DType dtype) const {
    Scalar value;
    bool is_float = dtype_is_float(dtype);
    constexpr double kInf = std::numeric_limits<double>::infinity();
    switch (combiner) {
      case ReduceCombiner::kSum:
        break;
      case ReduceCombiner::kProd:
        value.f = 1.0;
        value.i = 1;
        break;
      case ReduceCombiner::kMax:
        value.f = -kInf;
        if (!is_float) value.i = lowest(dtype);
        break;
      case ReduceCombiner::kMin:
        value.f = kInf;
        if (!is_float) value.i = highest(dtype);
        break;
    }
    return value;
  }

  static int64_t lowest(DType dtype) {
    if (!dtype_is_signed(dtype)) return 0;
    return std::numeric_limits<int64_t>::min() >> (64 - 8 * dtype_size(dtype));
  }
  static int64_t highest(DType dtype) {
    if (dtype == DType::kBool) return 1;
    if (is_unsigned(dtype)) return wrap_int(dtype, -1);  // all ones
    return std::numeric_limits<int64_t>::max() >> (64 - 8 * dtype_size(dtype));
  }

  Scalar reduce_at(const tir::ReduceNode& reduce, DType dtype, size_t data_axes) {
    Scalar acc = identity(reduce.combiner, dtype);
    int64_t count = 1;
    for (const tir::IterVar& axis : reduce.axes) count *= axis.extent;
    for (size_t d = data_axes; d < env_.size(); ++d) env_[d].second = 0;
    BinaryOp op = reduce.combiner == ReduceCombiner::kSum    ? BinaryOp::kAdd
                  : reduce.combiner == ReduceCombiner::kProd ? BinaryOp::kMul
                  : reduce.combiner == ReduceCombiner::kMax  ? BinaryOp::kMax
                                                             : BinaryOp::kMin;
    for (int64_t step = 0; step < count; ++step) {
      acc = binary(op, dtype, acc, eval(reduce.source));
      advance(env_, data_axes, env_.size(), reduce.axes);
    }
    return acc;
  }

  static Scalar binary(BinaryOp op, DType dtype, Scalar a, Scalar b) {
    Scalar result;
    if (dtype_is_float(dtype)) {
      result.f = tir::round_to_precision(dtype, float_binary(op, a.f, b.f));
    } else if (is_unsigned(dtype) || dtype == DType::kBool) {
      auto value = unsigned_binary(op, static_cast<uint64_t>(a.i), static_cast<uint64_t>(b.i));
      result.i = wrap_int(dtype, static_cast<int64_t>(value));
    } else {
      result.i = wrap_int(dtype, signed_binary(op, a.i, b.i));
    }
    return result;
  }

  int64_t lookup(const tir::VarNode* var) const {
    for (const auto& [bound, value] : env_) {
      if (bound == var) return value;
    }
    KILN_CHECK(false) << "variable " << var->name << " is not bound in this stage";
    return 0;
  }

  Scalar cast(DType to, DType from, Scalar value) const {
    Scalar result;
    bool from_float = dtype_is_float(from);
    if (dtype_is_float(to)) {
      double source = from_float          ? value.f
                      : is_unsigned(from) ? static_cast<double>(static_cast<uint64_t>(value.i))
                                          : static_cast<double>(value.i);
      result.f = tir::round_to_precision(to, source);
    } else if (to == DType::kBool) {
      result.i = from_float ? (value.f != 0.0) : (value.i != 0);
    } else {
      result.i = wrap_int(to, from_float ? float_to_int(to, value.f) : value.i);
    }
    return result;
  }

  Scalar eval(const tir::PrimExpr& expr) {
    Scalar result;
    DType dtype = expr.dtype().dtype;
    KILN_CHECK(expr.dtype().lanes == 1) << "vector expression in a tensor expression";
    switch (expr->kind()) {
      case ExprKind::kIntImm: {
        int64_t value = expr.as<tir::IntImmNode>()->value;
        if (dtype_is_float(dtype)) {
          result.f = tir::round_to_precision(dtype, static_cast<double>(value));
        } else {
          result.i = wrap_int(dtype, value);
        }
        return result;
      }
      case ExprKind::kFloatImm: {
        double value = expr.as<tir::FloatImmNode>()->value;
        if (dtype_is_float(dtype)) {
          result.f = tir::round_to_precision(dtype, value);
        } else {
          result.i = wrap_int(dtype, float_to_int(dtype, value));
        }
        return result;
      }
      case ExprKind::kVar:
        result.i = lookup(expr.as<tir::VarNode>());
        if (dtype_is_float(dtype)) result.f = static_cast<double>(result.i);
        return result;
      case ExprKind::kBinary: {
        const auto* node = expr.as<tir::BinaryNode>();
        return binary(node->op, dtype, eval(node->a), eval(node->b));
      }
      case ExprKind::kCompare: {
        const auto* node = expr.as<tir::CompareNode>();
        Scalar a = eval(node->a), b = eval(node->b);
        DType operand = node->a.dtype().dtype;
        if (dtype_is_float(operand)) {
          result.i = apply_compare(node->op, a.f, b.f);
        } else if (is_unsigned(operand)) {
          result.i =
              apply_compare(node->op, static_cast<uint64_t>(a.i), static_cast<uint64_t>(b.i));
        } else {
          result.i = apply_compare(node->op, a.i, b.i);
        }
        return result;
      }
      case ExprKind::kLogical: {
        const auto* node = expr.as<tir::LogicalNode>();
        bool a = eval(node->a).i != 0, b = eval(node->b).i != 0;
        result.i = node->op == tir::LogicalOp::kAnd ? (a && b) : (a || b);
        return result;
      }
      case ExprKind::kNot:
        result.i = eval(expr.as<tir::NotNode>()->a).i == 0;
        return result;
      case ExprKind::kSelect: {
        const auto* node = expr.as<tir::SelectNode>();
        bool condition = eval(node->condition).i != 0;
        // Both sides, as compiled code may: a read out of bounds on either side is a bug.
        Scalar true_value = eval(node->true_value);
        Scalar false_value = eval(node->false_value);
        return condition ? true_value : false_value;
      }
      case ExprKind::kCast: {
        const auto* node = expr.as<tir::CastNode>();
        return cast(dtype, node->value.dtype().dtype, eval(node->value));
      }
      case ExprKind::kIntrinsic: {
        const auto* node = expr.as<tir::IntrinsicNode>();
        if (tir::is_checked_index(*node)) {
          // What the kernel does: wrap once, then refuse an index out of range.
          int64_t index = eval(node->args[0]).i;
          int64_t extent = eval(node->args[1]).i;
          int64_t wrapped = index < 0 ? index + extent : index;
          if (wrapped < 0 || wrapped >= extent) {
            throw Error(node->name.substr(tir::kCheckedIndexPrefix.size()) + ": index " +
                        std::to_string(index) + " is out of range for axis " +
                        std::to_string(eval(node->args[2]).i) + " of size " +
                        std::to_string(extent));
          }
          result.i = wrapped;
          return result;
        }
        if (!node->args.empty() && !node->args[0].dtype().is_float()) {
          result.i = wrap_int(dtype, integer_intrinsic(node->name, dtype, eval(node->args[0]).i,
                                                       eval(node->args.back()).i));
          return result;
        }
        std::vector<double> args;
        for (const tir::PrimExpr& arg : node->args) {
          KILN_CHECK(arg.dtype().is_float())
              << "intrinsic " << node->name << " on " << arg.dtype().to_string();
          args.push_back(eval(arg).f);
        }
        if (node->name == "isnan" || node->name == "isinf") {
          result.i = node->name == "isnan" ? std::isnan(args[0]) : std::isinf(args[0]);
          return result;
        }
        result.f = tir::round_to_precision(dtype, float_intrinsic(node->name, args));
        return result;
      }
      case ExprKind::kTensorRead:
        return read(*expr.as<tir::TensorReadNode>());
      case ExprKind::kReduce:
        KILN_CHECK(false) << "a reduction below the top of a compute body";
        break;
      default:
        KILN_CHECK(false) << "loop IR node in a tensor expression";
    }
    return result;
  }

  Scalar read(const tir::TensorReadNode& node) {
    const TensorNode* tensor = node.tensor.get();
    auto it = values_.find(tensor);
    KILN_CHECK(it != values_.end()) << "tensor " << tensor->name << " read before it is computed";
    const kiln::Tensor& value = it->second;
    int64_t flat = 0;
    for (size_t d = 0; d < node.indices.size(); ++d) {
      int64_t index = eval(node.indices[d]).i;
      int64_t extent = tensor->shape[d];
      KILN_CHECK(index >= 0 && index < extent)
          << "read of " << tensor->name << " out of bounds: index " << index << " of dim " << d
          << " (extent " << extent << ")";
      flat = flat * extent + index;
    }
    Scalar result;
    if (dtype_is_float(value.dtype())) {
      result.f = value.element_as_double(flat);
    } else {
      result.i = value.element_as_int64(flat);
    }
    return result;
  }

  const std::map<const TensorNode*, kiln::Tensor>& inputs_;
  std::map<const TensorNode*, kiln::Tensor> values_;
  std::set<const TensorNode*> in_progress_;
  // The bound axis variables of the stage being computed (a handful: a linear search is fastest).
  std::vector<std::pair<const tir::VarNode*, int64_t>> env_;
};

}  // namespace

std::vector<kiln::Tensor> evaluate(const std::vector<Tensor>& outputs,
                                   const std::map<const TensorNode*, kiln::Tensor>& inputs) {
  Interpreter interpreter(inputs);
  std::vector<kiln::Tensor> results;
  for (const Tensor& output : outputs) results.push_back(interpreter.value_of(output.get()));
  return results;
}

}  // namespace kiln::te
