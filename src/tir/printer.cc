#include "tir/printer.h"

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "te/tensor.h"

namespace kiln::tir {
namespace {

// Binding strength, higher binds tighter; a child weaker than its context is parenthesized.
enum Precedence : int {
  kOr = 1,
  kAnd = 2,
  kCompare = 3,
  kAdditive = 4,
  kMultiplicative = 5,
  kUnary = 6,
  kAtom = 7,
};

// Suffix of an immediate whose dtype is not one of the two defaults (int64, float32).
const char* immediate_suffix(DType dtype) {
  switch (dtype) {
    case DType::kInt8:
      return "i8";
    case DType::kInt16:
      return "i16";
    case DType::kInt32:
      return "i32";
    case DType::kInt64:
      return "";
    case DType::kUInt8:
      return "u8";
    case DType::kUInt16:
      return "u16";
    case DType::kUInt32:
      return "u32";
    case DType::kUInt64:
      return "u64";
    case DType::kFloat16:
      return "f16";
    case DType::kBFloat16:
      return "bf16";
    case DType::kFloat32:
      return "f";
    case DType::kFloat64:
      return "f64";
    case DType::kBool:
      return "";
    default:  // the narrow types: their name ("1.5float8e4m3fn"), the text is not parsed back
      return dtype_name(dtype).data();
  }
}

// The shortest decimal text that reads back as the same value of `dtype` ("0.1", "1e-05").
std::string format_float(double value, DType dtype) {
  bool is_double = dtype == DType::kFloat64;
  char text[64];
  for (int precision = 1; precision <= 17; ++precision) {
    std::snprintf(text, sizeof(text), "%.*g", precision, value);
    double back = std::strtod(text, nullptr);
    bool same = is_double ? back == value : static_cast<float>(back) == static_cast<float>(value);
    if (same || std::isnan(value)) break;
  }
  return text;
}

class Printer {
 public:
  std::string func(const PrimFunc& func) {
    out_ << "func " << func.name << "(";
    for (size_t i = 0; i < func.params.size(); ++i) {
      const Buffer& buffer = func.params[i];
      if (i > 0) out_ << ", ";
      out_ << buffer_name(buffer.get()) << ": " << buffer_type(*buffer);
    }
    out_ << ") {\n";
    stmt(func.body, 1);
    out_ << "}\n";
    return out_.str();
  }

  std::string stmt_text(const Stmt& s, int indent) {
    stmt(s, indent);
    return out_.str();
  }

  std::string expr_text(const PrimExpr& e) { return expr(e); }

 private:
  std::string buffer_type(const BufferNode& buffer) {
    std::string text = buffer.dtype.to_string() + "[";
    for (size_t i = 0; i < buffer.shape.size(); ++i) {
      if (i > 0) text += ", ";
      text += std::to_string(buffer.shape[i]);
    }
    return text + "]";
  }

  // The printed name of a node: its own name, or name_N when another node already took it.
  static const std::string& unique_name(const void* node, const std::string& name,
                                        std::unordered_map<const void*, std::string>& names,
                                        std::unordered_set<std::string>& taken) {
    auto it = names.find(node);
    if (it != names.end()) return it->second;
    std::string base = name.empty() ? "v" : name, candidate = base;
    for (int suffix = 1; taken.count(candidate) > 0; ++suffix) {
      candidate = base + "_" + std::to_string(suffix);
    }
    taken.insert(candidate);
    return names.emplace(node, candidate).first->second;
  }

  const std::string& var_name(const VarNode* var) {
    return unique_name(var, var->name, var_names_, taken_var_names_);
  }
  const std::string& buffer_name(const BufferNode* buffer) {
    return unique_name(buffer, buffer->name, buffer_names_, taken_buffer_names_);
  }

  // A binding site: `name` or `name: dtype` when the variable is not an index (int64).
  std::string var_decl(const Var& var) {
    std::string text = var_name(var.get());
    if (var->dtype() != index_type()) text += ": " + var->dtype().to_string();
    return text;
  }

  void line(int indent, const std::string& text) {
    out_ << std::string(static_cast<size_t>(indent) * 2, ' ') << text << "\n";
  }

  void stmt(const Stmt& s, int indent) {
    if (!s) return;
    switch (s->kind()) {
      case StmtKind::kFor: {
        const auto* op = as<ForNode>(s);
        std::string kind =
            op->for_kind == ForKind::kSerial ? "" : std::string(for_kind_name(op->for_kind)) + " ";
        line(indent, kind + "for (" + var_decl(op->var) + ", " + expr(op->min) + ", " +
                         expr(op->extent) + ") {");
        stmt(op->body, indent + 1);
        line(indent, "}");
        return;
      }
      case StmtKind::kBufferStore: {
        const auto* op = as<BufferStoreNode>(s);
        line(indent, buffer_name(op->buffer.get()) + "[" + expr_list(op->indices) +
                         "] = " + expr(op->value));
        return;
      }
      case StmtKind::kAllocate: {
        const auto* op = as<AllocateNode>(s);
        const char* scope = op->buffer->scope == BufferScope::kLocal ? "local" : "global";
        line(indent, std::string("allocate ") + scope + " " + buffer_name(op->buffer.get()) + ": " +
                         buffer_type(*op->buffer) + " {");
        stmt(op->body, indent + 1);
        line(indent, "}");
        return;
      }
      case StmtKind::kSeq:
        for (const Stmt& child : as<SeqNode>(s)->stmts) stmt(child, indent);
        return;
      case StmtKind::kIfThenElse: {
        const auto* op = as<IfThenElseNode>(s);
        line(indent, "if (" + expr(op->condition) + ") {");
        stmt(op->then_case, indent + 1);
        if (op->else_case) {
          line(indent, "} else {");
          stmt(op->else_case, indent + 1);
        }
        line(indent, "}");
        return;
      }
      case StmtKind::kLet: {
        const auto* op = as<LetNode>(s);
        line(indent, "let " + var_decl(op->var) + " = " + expr(op->value) + " {");
        stmt(op->body, indent + 1);
        line(indent, "}");
        return;
      }
      case StmtKind::kEvaluate:
        line(indent, expr(as<EvaluateNode>(s)->value));
        return;
    }
  }

  std::string expr_list(const std::vector<PrimExpr>& exprs) {
    std::string text;
    for (size_t i = 0; i < exprs.size(); ++i) {
      if (i > 0) text += ", ";
      text += expr(exprs[i]);
    }
    return text;
  }

  std::string call(const std::string& name, const std::vector<PrimExpr>& args) {
    return name + "(" + expr_list(args) + ")";
  }

  std::string expr(const PrimExpr& e) { return expr(e, 0); }

  // The text of `e`, parenthesized when it binds weaker than `context`.
  std::string expr(const PrimExpr& e, int context) {
    int precedence = kAtom;
    std::string text = expr_bare(e, &precedence);
    return precedence < context ? "(" + text + ")" : text;
  }

  std::string infix(const PrimExpr& a, const char* op, const PrimExpr& b, int precedence,
                    int* out_precedence) {
    *out_precedence = precedence;
    // Left-associative: the right operand needs parentheses at equal strength.
    return expr(a, precedence) + " " + op + " " + expr(b, precedence + 1);
  }

  std::string expr_bare(const PrimExpr& e, int* precedence) {
    if (!e) return "<null>";
    const DataType& dtype = e.dtype();
    switch (e->kind()) {
      case ExprKind::kIntImm: {
        int64_t value = e.as<IntImmNode>()->value;
        if (value < 0) *precedence = kUnary;
        if (dtype.lanes > 1) return dtype.to_string() + "(" + std::to_string(value) + ")";
        if (dtype.is_bool()) return value != 0 ? "true" : "false";
        return std::to_string(value) + immediate_suffix(dtype.dtype);
      }
      case ExprKind::kFloatImm: {
        double value = e.as<FloatImmNode>()->value;
        std::string number = format_float(value, dtype.dtype);
        if (dtype.lanes > 1 || !std::isfinite(value)) {
          return dtype.to_string() + "(" + number + ")";
        }
        if (std::signbit(value)) *precedence = kUnary;
        return number + immediate_suffix(dtype.dtype);
      }
      case ExprKind::kVar:
        return var_name(e.as<VarNode>());
      case ExprKind::kBinary: {
        const auto* op = e.as<BinaryNode>();
        switch (op->op) {
          case BinaryOp::kAdd:
            return infix(op->a, "+", op->b, kAdditive, precedence);
          case BinaryOp::kSub:
            return infix(op->a, "-", op->b, kAdditive, precedence);
          case BinaryOp::kMul:
            return infix(op->a, "*", op->b, kMultiplicative, precedence);
          case BinaryOp::kDiv:
            return infix(op->a, "/", op->b, kMultiplicative, precedence);
          case BinaryOp::kMod:
            return infix(op->a, "%", op->b, kMultiplicative, precedence);
          case BinaryOp::kFloorDiv:
            return call("floordiv", {op->a, op->b});
          case BinaryOp::kFloorMod:
            return call("floormod", {op->a, op->b});
          case BinaryOp::kMin:
            return call("min", {op->a, op->b});
          case BinaryOp::kMax:
            return call("max", {op->a, op->b});
        }
        return "?";
      }
      case ExprKind::kCompare: {
        const auto* op = e.as<CompareNode>();
        static const char* const kNames[] = {"==", "!=", "<", "<=", ">", ">="};
        *precedence = kCompare;
        // Comparisons do not chain: both operands must bind tighter.
        return expr(op->a, kCompare + 1) + " " + kNames[static_cast<int>(op->op)] + " " +
               expr(op->b, kCompare + 1);
      }
      case ExprKind::kLogical: {
        const auto* op = e.as<LogicalNode>();
        return op->op == LogicalOp::kAnd ? infix(op->a, "&&", op->b, kAnd, precedence)
                                         : infix(op->a, "||", op->b, kOr, precedence);
      }
      case ExprKind::kNot:
        *precedence = kUnary;
        return "!" + expr(e.as<NotNode>()->a, kUnary);
      case ExprKind::kSelect: {
        const auto* op = e.as<SelectNode>();
        return call("select", {op->condition, op->true_value, op->false_value});
      }
      case ExprKind::kCast:
        return call(dtype.to_string(), {e.as<CastNode>()->value});
      case ExprKind::kIntrinsic: {
        const auto* op = e.as<IntrinsicNode>();
        return call(op->name, op->args);
      }
      case ExprKind::kTensorRead: {
        const auto* op = e.as<TensorReadNode>();
        return call(op->tensor->name, op->indices);
      }
      case ExprKind::kReduce: {
        const auto* op = e.as<ReduceNode>();
        static const char* const kNames[] = {"sum", "prod", "max_reduce", "min_reduce"};
        std::string text = std::string(kNames[static_cast<int>(op->combiner)]) + "(" +
                           expr(op->source) + ", axis=[";
        for (size_t i = 0; i < op->axes.size(); ++i) {
          if (i > 0) text += ", ";
          text += var_name(op->axes[i].var.get()) + ": " + std::to_string(op->axes[i].extent);
        }
        return text + "])";
      }
      case ExprKind::kBufferLoad: {
        const auto* op = e.as<BufferLoadNode>();
        return buffer_name(op->buffer.get()) + "[" + expr_list(op->indices) + "]";
      }
      case ExprKind::kRamp: {
        const auto* op = e.as<RampNode>();
        return "ramp(" + expr(op->base) + ", " + expr(op->stride) + ", " +
               std::to_string(op->lanes) + ")";
      }
      case ExprKind::kBroadcast: {
        const auto* op = e.as<BroadcastNode>();
        return "broadcast(" + expr(op->value) + ", " + std::to_string(op->lanes) + ")";
      }
    }
    return "?";
  }

  std::ostringstream out_;
  std::unordered_map<const void*, std::string> var_names_, buffer_names_;
  std::unordered_set<std::string> taken_var_names_, taken_buffer_names_;
};

}  // namespace

std::string to_text(const PrimFunc& func) { return Printer().func(func); }

std::string to_text(const Stmt& stmt, int indent) { return Printer().stmt_text(stmt, indent); }

std::string to_text(const PrimExpr& expr) { return Printer().expr_text(expr); }

std::string to_text(const std::vector<PrimFunc>& funcs) {
  std::string text;
  for (size_t i = 0; i < funcs.size(); ++i) {
    if (i > 0) text += "\n";
    text += to_text(funcs[i]);
  }
  return text;
}

}  // namespace kiln::tir
