// A test-only executor of lowered loop IR (before flattening/vectorization): runs a PrimFunc on
// host vectors so that lowering can be checked against plain C++ loops without code generation.
//
// Every buffer holds doubles (float32 values are rounded to float after each operation and store;
// integers are exact below 2^53). It is strict where lowering bugs hide: an index out of a
// buffer's shape, a read of an element of an Allocate'd buffer that was never written, an unbound
// variable — each throws std::runtime_error naming the buffer or variable.
#pragma once

#include <cmath>
#include <cstdint>
#include <limits>
#include <stdexcept>
#include <string>
#include <unordered_map>
#include <vector>

#include "tir/expr.h"
#include "tir/stmt.h"

namespace kiln::test {

class TirExec {
 public:
  // One vector per parameter, each of the parameter's numel(); outputs are written in place.
  void run(const tir::PrimFunc& func, const std::vector<std::vector<double>*>& args) {
    if (args.size() != func.params.size()) throw std::runtime_error("wrong argument count");
    for (size_t k = 0; k < args.size(); ++k) {
      const tir::BufferNode* buffer = func.params[k].get();
      if (static_cast<int64_t>(args[k]->size()) != buffer->numel()) {
        throw std::runtime_error("argument " + buffer->name + " has the wrong size");
      }
      memory_[buffer] = Memory{args[k], {}};
    }
    exec(func.body);
    memory_.clear();
  }

  int64_t stores() const { return stores_; }

 private:
  struct Memory {
    std::vector<double>* data;
    std::vector<bool> written;  // only for Allocate'd buffers
  };

  struct Value {
    double f = 0;
    int64_t i = 0;
  };

  static double round(const tir::DataType& dtype, double value) {
    return dtype.dtype == DType::kFloat32 ? static_cast<double>(static_cast<float>(value)) : value;
  }

  static int64_t wrap(const tir::DataType& dtype, int64_t value) {
    switch (dtype.dtype) {
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
      default:
        return value;
    }
  }

  int64_t offset(const tir::BufferNode* buffer, const std::vector<tir::PrimExpr>& indices) {
    if (indices.size() != buffer->shape.size()) {
      throw std::runtime_error("buffer " + buffer->name + " accessed with wrong rank");
    }
    int64_t flat = 0;
    for (size_t k = 0; k < indices.size(); ++k) {
      int64_t index = eval(indices[k]).i;
      if (index < 0 || index >= buffer->shape[k]) {
        throw std::runtime_error("buffer " + buffer->name + " index " + std::to_string(index) +
                                 " out of [0, " + std::to_string(buffer->shape[k]) +
                                 ") in dimension " + std::to_string(k));
      }
      flat = flat * buffer->shape[k] + index;
    }
    return flat;
  }

  Memory& memory(const tir::BufferNode* buffer) {
    auto it = memory_.find(buffer);
    if (it == memory_.end()) throw std::runtime_error("buffer " + buffer->name + " not allocated");
    return it->second;
  }

  // Stored as double for both kinds.
  Value from_storage(const tir::DataType& dtype, double stored) {
    Value value;
    if (dtype.is_float()) {
      value.f = stored;
    } else {
      // int64 limits (reduction identities) do not survive the double round trip exactly.
      if (stored >= 0x1p63) {
        value.i = std::numeric_limits<int64_t>::max();
      } else if (stored <= -0x1p63) {
        value.i = std::numeric_limits<int64_t>::min();
      } else {
        value.i = static_cast<int64_t>(stored);
      }
    }
    return value;
  }

  Value eval(const tir::PrimExpr& expr) {
    using namespace tir;
    const DataType& dtype = expr.dtype();
    bool is_float = dtype.is_float();
    Value out;
    switch (expr->kind()) {
      case ExprKind::kIntImm:
        out.i = expr.as<IntImmNode>()->value;
        return out;
      case ExprKind::kFloatImm:
        out.f = round(dtype, expr.as<FloatImmNode>()->value);
        return out;
      case ExprKind::kVar: {
        auto it = vars_.find(expr.as<VarNode>());
        if (it == vars_.end()) {
          throw std::runtime_error("unbound variable " + expr.as<VarNode>()->name);
        }
        return it->second;
      }
      case ExprKind::kBinary: {
        const auto* op = expr.as<BinaryNode>();
        Value a = eval(op->a), b = eval(op->b);
        if (is_float) {
          double x = a.f, y = b.f, r = 0;
          switch (op->op) {
            case BinaryOp::kAdd:
              r = x + y;
              break;
            case BinaryOp::kSub:
              r = x - y;
              break;
            case BinaryOp::kMul:
              r = x * y;
              break;
            case BinaryOp::kDiv:
              r = x / y;
              break;
            case BinaryOp::kMod:
              r = std::fmod(x, y);
              break;
            case BinaryOp::kFloorDiv:
              r = std::floor(x / y);
              break;
            case BinaryOp::kFloorMod:
              r = x - std::floor(x / y) * y;
              break;
            case BinaryOp::kMin:
              r = std::fmin(x, y);
              break;
            case BinaryOp::kMax:
              r = std::fmax(x, y);
              break;
          }
          out.f = round(dtype, r);
        } else {
          int64_t x = a.i, y = b.i, r = 0;
          bool division = op->op == BinaryOp::kDiv || op->op == BinaryOp::kMod ||
                          op->op == BinaryOp::kFloorDiv || op->op == BinaryOp::kFloorMod;
          if (division && y == 0) throw std::runtime_error("integer division by zero");
          switch (op->op) {
            case BinaryOp::kAdd:
              r = x + y;
              break;
            case BinaryOp::kSub:
              r = x - y;
              break;
            case BinaryOp::kMul:
              r = x * y;
              break;
            case BinaryOp::kDiv:
              r = x / y;
              break;
            case BinaryOp::kMod:
              r = x % y;
              break;
            case BinaryOp::kFloorDiv:
              r = x / y - ((x % y != 0 && ((x < 0) != (y < 0))) ? 1 : 0);
              break;
            case BinaryOp::kFloorMod:
              r = ((x % y) + y) % y;
              break;
            case BinaryOp::kMin:
              r = std::min(x, y);
              break;
            case BinaryOp::kMax:
              r = std::max(x, y);
              break;
          }
          out.i = wrap(dtype, r);
        }
        return out;
      }
      case ExprKind::kCompare: {
        const auto* op = expr.as<CompareNode>();
        Value a = eval(op->a), b = eval(op->b);
        bool operand_float = op->a.dtype().is_float();
        double x = operand_float ? a.f : static_cast<double>(a.i);
        double y = operand_float ? b.f : static_cast<double>(b.i);
        bool r = false;
        switch (op->op) {
          case CompareOp::kEQ:
            r = x == y;
            break;
          case CompareOp::kNE:
            r = x != y;
            break;
          case CompareOp::kLT:
            r = x < y;
            break;
          case CompareOp::kLE:
            r = x <= y;
            break;
          case CompareOp::kGT:
            r = x > y;
            break;
          case CompareOp::kGE:
            r = x >= y;
            break;
        }
        out.i = r;
        return out;
      }
      case ExprKind::kLogical: {
        const auto* op = expr.as<LogicalNode>();
        bool a = eval(op->a).i != 0, b = eval(op->b).i != 0;
        out.i = op->op == LogicalOp::kAnd ? (a && b) : (a || b);
        return out;
      }
      case ExprKind::kNot:
        out.i = eval(expr.as<NotNode>()->a).i == 0;
        return out;
      case ExprKind::kSelect: {
        const auto* op = expr.as<SelectNode>();
        Value t = eval(op->true_value), f = eval(op->false_value);
        return eval(op->condition).i ? t : f;
      }
      case ExprKind::kCast: {
        const auto* op = expr.as<CastNode>();
        Value v = eval(op->value);
        bool from_float = op->value.dtype().is_float();
        if (is_float) {
          out.f = round(dtype, from_float ? v.f : static_cast<double>(v.i));
        } else if (dtype.is_bool()) {
          out.i = from_float ? v.f != 0 : v.i != 0;
        } else {
          out.i = wrap(dtype, from_float ? static_cast<int64_t>(v.f) : v.i);
        }
        return out;
      }
      case ExprKind::kIntrinsic: {
        const auto* op = expr.as<IntrinsicNode>();
        double x = eval(op->args[0]).f;
        double r = 0;
        if (op->name == "exp") {
          r = std::exp(x);
        } else if (op->name == "sqrt") {
          r = std::sqrt(x);
        } else if (op->name == "tanh") {
          r = std::tanh(x);
        } else if (op->name == "fabs") {
          r = std::fabs(x);
        } else if (op->name == "sigmoid") {
          r = 1 / (1 + std::exp(-x));
        } else {
          throw std::runtime_error("intrinsic " + op->name + " not supported by the test executor");
        }
        out.f = round(dtype, r);
        return out;
      }
      case ExprKind::kBufferLoad: {
        const auto* op = expr.as<BufferLoadNode>();
        Memory& mem = memory(op->buffer.get());
        int64_t flat = offset(op->buffer.get(), op->indices);
        if (!mem.written.empty() && !mem.written[flat]) {
          throw std::runtime_error("read of an unwritten element of " + op->buffer->name);
        }
        return from_storage(dtype, (*mem.data)[flat]);
      }
      default:
        throw std::runtime_error("expression kind not supported by the test executor");
    }
  }

  void exec(const tir::Stmt& stmt) {
    using namespace tir;
    if (!stmt) return;
    switch (stmt->kind()) {
      case StmtKind::kFor: {
        const auto* op = as<ForNode>(stmt);
        int64_t begin = eval(op->min).i, end = begin + eval(op->extent).i;
        for (int64_t v = begin; v < end; ++v) {
          vars_[op->var.get()].i = v;
          exec(op->body);
        }
        vars_.erase(op->var.get());
        return;
      }
      case StmtKind::kBufferStore: {
        const auto* op = as<BufferStoreNode>(stmt);
        Memory& mem = memory(op->buffer.get());
        int64_t flat = offset(op->buffer.get(), op->indices);
        Value v = eval(op->value);
        (*mem.data)[flat] =
            op->buffer->dtype.is_float() ? round(op->buffer->dtype, v.f) : static_cast<double>(v.i);
        if (!mem.written.empty()) mem.written[flat] = true;
        ++stores_;
        return;
      }
      case StmtKind::kAllocate: {
        const auto* op = as<AllocateNode>(stmt);
        if (memory_.count(op->buffer.get())) {
          throw std::runtime_error("buffer " + op->buffer->name + " allocated twice at once");
        }
        std::vector<double> storage(op->buffer->numel(), std::nan(""));
        memory_[op->buffer.get()] = Memory{&storage, std::vector<bool>(op->buffer->numel(), false)};
        exec(op->body);
        memory_.erase(op->buffer.get());
        return;
      }
      case StmtKind::kSeq:
        for (const Stmt& s : as<SeqNode>(stmt)->stmts) exec(s);
        return;
      case StmtKind::kIfThenElse: {
        const auto* op = as<IfThenElseNode>(stmt);
        exec(eval(op->condition).i ? op->then_case : op->else_case);
        return;
      }
      case StmtKind::kLet: {
        const auto* op = as<LetNode>(stmt);
        vars_[op->var.get()] = eval(op->value);
        exec(op->body);
        vars_.erase(op->var.get());
        return;
      }
      case StmtKind::kEvaluate:
        eval(as<EvaluateNode>(stmt)->value);
        return;
    }
  }

  std::unordered_map<const tir::BufferNode*, Memory> memory_;
  std::unordered_map<const tir::VarNode*, Value> vars_;
  int64_t stores_ = 0;
};

}  // namespace kiln::test
