#include "ir/printer.h"

#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "ir/functor.h"
#include "ir/op.h"
#include "kiln/error.h"

namespace kiln::ir {

namespace {

bool is_plain_name(const std::string& name) {
  if (name.empty()) return false;
  for (char c : name) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '_' || c == '.' || c == ':' || c == '/' || c == '-';
    if (!ok) return false;
  }
  return true;
}

std::string quoted_if_needed(const std::string& name) {
  if (is_plain_name(name)) return name;
  std::string text = "\"";
  for (char c : name) {
    if (c == '"' || c == '\\') text += '\\';
    text += c;
  }
  return text + "\"";
}

// Built with append() rather than operator+ to avoid a GCC 12 -Wrestrict false positive.
std::string prefixed(char sigil, const std::string& name) {
  std::string text(1, sigil);
  return text.append(name);
}

std::string format_value(const Tensor& value, int64_t index) {
  if (dtype_is_float(value.dtype())) {
    std::ostringstream text;
    text.precision(9);
    text << value.element_as_double(index);
    return text.str();
  }
  if (value.dtype() == DType::kBool) return value.element_as_int64(index) ? "true" : "false";
  return std::to_string(value.element_as_int64(index));
}

std::string format_values(const Tensor& value) {
  if (value.ndim() == 0) return format_value(value, 0);
  std::string text = "[";
  for (int64_t i = 0; i < value.numel(); ++i) {
    if (i > 0) text += ", ";
    text += format_value(value, i);
  }
  return text + "]";
}

class Printer {
 public:
  explicit Printer(const PrintOptions& options) : options_(options) {}

  std::string print(const Module& module) {
    const Function& main = module.main();
    std::ostringstream out;
    out << "def @main(";
    for (size_t i = 0; i < main->params.size(); ++i) {
      const Var& param = main->params[i];
      names_[param.get()] = prefixed('%', quoted_if_needed(param->name));
      if (i > 0) out << ", ";
      out << names_[param.get()] << ": " << param->type().to_string();
    }
    out << ") -> " << main->body->type().to_string() << " {\n";
    print_body(main->body, out);
    out << "}\n";
    if (options_.show_constants) print_constant_table(out);
    bool any_output_name = false;
    for (const std::string& output_name : module.output_names()) {
      any_output_name = any_output_name || !output_name.empty();
    }
    if (any_output_name) {
      out << "outputs: ";
      for (size_t i = 0; i < module.output_names().size(); ++i) {
        if (i > 0) out << ", ";
        out << quoted_if_needed(module.output_names()[i]);
      }
      out << "\n";
    }
    return out.str();
  }

  void print_body(const Expr& body, std::ostream& out) {
    const std::vector<Expr> order = options_.order.empty() ? post_order(body) : options_.order;
    for (const Expr& node : order) {
      switch (node->kind()) {
        case ExprKind::kVar:
          if (!names_.count(node.get()))
            names_[node.get()] = prefixed('%', as<VarNode>(node)->name).append("?");
          break;
        case ExprKind::kConstant:
          name_constant(node);
          break;
        case ExprKind::kFunction:
          KILN_CHECK(false) << "nested functions are not printed";
          break;
        default:
          print_value_line(node, out);
          break;
      }
    }
    out << "  return " << names_.at(body.get()) << "\n";
  }

 private:
  void name_constant(const Expr& node) {
    const auto* constant = as<ConstantNode>(node);
    std::string base =
        constant->name.empty() ? "const_" + std::to_string(constants_.size()) : constant->name;
    std::string name = base;
    for (int suffix = 1; used_constant_names_.count(name); ++suffix) {
      name = base + "." + std::to_string(suffix);
    }
    used_constant_names_.insert(name);
    names_[node.get()] = prefixed('$', quoted_if_needed(name));
    constants_.push_back(node);
  }

  void print_value_line(const Expr& node, std::ostream& out) {
    if (options_.comment_before) {
      std::string comment = options_.comment_before(node.get());
      if (!comment.empty()) out << "  # " << comment << "\n";
    }
    std::string name = prefixed('%', std::to_string(next_value_++));
    names_[node.get()] = name;
    out << "  " << name << " = ";
    std::string source_name;
    if (const auto* call_node = as<CallNode>(node)) {
      out << call_node->op.name << "(";
      bool first = true;
      for (const Expr& arg : call_node->args) {
        out << (first ? "" : ", ") << names_.at(arg.get());
        first = false;
      }
      for (const auto& [attr_name, value] : call_node->attrs.values()) {
        out << (first ? "" : ", ") << attr_name << "=" << attr_value_to_string(value);
        first = false;
      }
      out << ")";
      source_name = call_node->source_name;
    } else if (const auto* tuple = as<TupleNode>(node)) {
      out << "(";
      for (size_t i = 0; i < tuple->fields.size(); ++i) {
        out << (i ? ", " : "") << names_.at(tuple->fields[i].get());
      }
      out << ")";
    } else if (const auto* item = as<TupleGetItemNode>(node)) {
      out << names_.at(item->tuple.get()) << "." << item->index;
    }
    out << " : " << node->type().to_string();
    if (options_.show_source_names && !source_name.empty()) out << "  # " << source_name;
    out << "\n";
  }

  void print_constant_table(std::ostream& out) {
    if (constants_.empty()) return;
    int64_t total = 0;
    for (const Expr& node : constants_) total += as<ConstantNode>(node)->value.numel();
    out << "constants (" << constants_.size() << ", " << total << " values):\n";
    for (const Expr& node : constants_) {
      const Tensor& value = as<ConstantNode>(node)->value;
      out << "  " << names_.at(node.get()) << ": " << node->type().to_string();
      if (value.numel() <= options_.inline_values_up_to) out << " = " << format_values(value);
      out << "\n";
    }
  }

  PrintOptions options_;
  std::unordered_map<const ExprNode*, std::string> names_;
  std::unordered_set<std::string> used_constant_names_;
  std::vector<Expr> constants_;
  int next_value_ = 0;
};

}  // namespace

std::string print_module(const Module& module, const PrintOptions& options) {
  return Printer(options).print(module);
}

std::string print_expr(const Expr& expr) {
  std::vector<Var> free_vars;
  for (const Expr& node : post_order(expr)) {
    if (as<VarNode>(node)) free_vars.push_back(std::static_pointer_cast<const VarNode>(node));
  }
  std::vector<std::string> no_names;
  if (const auto* tuple = as<TupleNode>(expr))
    no_names.resize(tuple->fields.size());
  else
    no_names.resize(1);
  Module module(FunctionNode::make(free_vars, expr), no_names);
  PrintOptions options;
  return Printer(options).print(module);
}

}  // namespace kiln::ir
