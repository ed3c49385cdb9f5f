// einsum: sums of products of its operands over the indices an Einstein-summation equation names
// (ONNX Einsum). Covers matrix and batch products, transposes, reductions, outer products,
// diagonals and traces, with "..." for leading broadcast dims.
#include "op/einsum.h"

#include <algorithm>
#include <cctype>
#include <map>

#include "kiln/error.h"
#include "op/op_util.h"

namespace kiln::op {
namespace {

using ir::Attrs;
using ir::OpDef;

constexpr std::string_view kEllipsis = "...";

// One side of the equation's operand list: its letters, and where "..." stands (or npos).
struct Term {
  std::string letters;
  size_t ellipsis_at = std::string::npos;  // position in `letters` where "..." was
};

Term parse_term(std::string_view text, std::string_view op_name, std::string_view equation) {
  Term term;
  for (size_t i = 0; i < text.size(); ++i) {
    if (text.substr(i, kEllipsis.size()) == kEllipsis) {
      if (term.ellipsis_at != std::string::npos) {
        type_error(op_name, "\"...\" appears twice in a term of \"" + std::string(equation) + "\"");
      }
      term.ellipsis_at = term.letters.size();
      i += kEllipsis.size() - 1;
      continue;
    }
    if (!std::isalpha(static_cast<unsigned char>(text[i]))) {
      type_error(op_name, "unexpected character '" + std::string(1, text[i]) + "' in \"" +
                              std::string(equation) + "\" (only letters, ',', '->' and '...')");
    }
    term.letters.push_back(text[i]);
  }
  return term;
}

std::vector<std::string_view> split(std::string_view text, char separator) {
  std::vector<std::string_view> parts;
  size_t start = 0;
  for (size_t i = 0; i <= text.size(); ++i) {
    if (i == text.size() || text[i] == separator) {
      parts.push_back(text.substr(start, i - start));
      start = i + 1;
    }
  }
  return parts;
}

// Merges `dim` into the extent `known` of a label; broadcast dims (of "...") may be 1.
void merge_dim(ir::Dim& known, bool& known_set, const ir::Dim& dim, bool broadcastable,
               std::string_view op_name, const std::string& what) {
  if (!known_set) {
    known = dim;
    known_set = true;
    return;
  }
  if (broadcastable && dim.is_static() && dim.value() == 1) return;
  if (broadcastable && known.is_static() && known.value() == 1) {
    known = dim;
    return;
  }
  if (known.is_static() && dim.is_static() && known.value() != dim.value()) {
    type_error(op_name, what + " has sizes " + known.to_string() + " and " + dim.to_string());
  }
  if (!known.is_static() && dim.is_static()) known = dim;
}

}  // namespace

EinsumPlan plan_einsum(std::string_view equation, const std::vector<ir::Shape>& shapes,
                       std::string_view op_name) {
  std::string compact;
  for (char ch : equation) {
    if (!std::isspace(static_cast<unsigned char>(ch))) compact.push_back(ch);
  }
  std::string_view text = compact;
  size_t arrow = text.find("->");
  std::string_view inputs_text = text.substr(0, arrow);
  std::vector<std::string_view> input_texts = split(inputs_text, ',');
  if (input_texts.size() != shapes.size()) {
    type_error(op_name, "equation \"" + std::string(equation) + "\" has " +
                            std::to_string(input_texts.size()) + " operand(s) but " +
                            std::to_string(shapes.size()) + " were given");
  }
  std::vector<Term> terms;
  for (std::string_view part : input_texts) terms.push_back(parse_term(part, op_name, equation));

  // Broadcast dims: each operand's "..." covers its rank minus its letters; all right-aligned.
  size_t broadcast_rank = 0;
  std::vector<size_t> operand_broadcast(terms.size(), 0);
  for (size_t i = 0; i < terms.size(); ++i) {
    size_t rank = shapes[i].size();
    size_t letters = terms[i].letters.size();
    bool has_ellipsis = terms[i].ellipsis_at != std::string::npos;
    if (rank < letters || (!has_ellipsis && rank != letters)) {
      type_error(op_name, "operand " + std::to_string(i) + " has rank " + std::to_string(rank) +
                              " but its term \"" + std::string(input_texts[i]) + "\" has " +
                              std::to_string(letters) + " letter(s)" +
                              (has_ellipsis ? " and \"...\"" : ""));
    }
    operand_broadcast[i] = rank - letters;
    broadcast_rank = std::max(broadcast_rank, operand_broadcast[i]);
  }

  EinsumPlan plan;
  std::map<char, int> letter_label;
  std::vector<bool> label_set;
  auto new_label = [&]() {
    plan.label_dims.emplace_back();
    label_set.push_back(false);
    return static_cast<int>(plan.label_dims.size() - 1);
  };
  std::vector<int> broadcast_labels;
  for (size_t k = 0; k < broadcast_rank; ++k) broadcast_labels.push_back(new_label());
  std::map<char, int> letter_count;
  for (size_t i = 0; i < terms.size(); ++i) {
    const Term& term = terms[i];
    std::vector<int>& labels = plan.operand_labels.emplace_back();
    std::vector<bool>& broadcast = plan.broadcast.emplace_back();
    size_t dim = 0;
    auto add = [&](int label, bool broadcastable, const std::string& what) {
      const ir::Dim& extent = shapes[i][dim++];
      bool known = label_set[static_cast<size_t>(label)];
      merge_dim(plan.label_dims[static_cast<size_t>(label)], known, extent, broadcastable, op_name,
                what);
      label_set[static_cast<size_t>(label)] = true;
      labels.push_back(label);
      broadcast.push_back(false);
    };
    for (size_t l = 0; l <= term.letters.size(); ++l) {
      if (l == term.ellipsis_at) {
        for (size_t k = broadcast_rank - operand_broadcast[i]; k < broadcast_rank; ++k) {
          add(broadcast_labels[k], true, "broadcast dim " + std::to_string(k) + " of \"...\"");
        }
      }
      if (l == term.letters.size()) break;
      char letter = term.letters[l];
      auto [it, inserted] = letter_label.try_emplace(letter, 0);
      if (inserted) it->second = new_label();
      ++letter_count[letter];
      add(it->second, false, std::string("index '") + letter + "'");
    }
  }
  // A "..." dim of size 1 that another operand widens is read at 0.
  for (size_t i = 0; i < terms.size(); ++i) {
    for (size_t d = 0; d < plan.operand_labels[i].size(); ++d) {
      const ir::Dim& own = shapes[i][d];
      const ir::Dim& full = plan.label_dims[static_cast<size_t>(plan.operand_labels[i][d])];
      plan.broadcast[i][d] = own.is_static() && own.value() == 1 && full != own;
    }
  }

  if (arrow == std::string_view::npos) {
    plan.output_labels = broadcast_labels;
    for (const auto& [letter, count] : letter_count) {  // std::map: alphabetical (ASCII) order
      if (count == 1) plan.output_labels.push_back(letter_label[letter]);
    }
  } else {
    Term output = parse_term(text.substr(arrow + 2), op_name, equation);
    if (output.ellipsis_at == std::string::npos && broadcast_rank > 0) {
      type_error(op_name, "the output of \"" + std::string(equation) +
                              "\" needs \"...\" for the operands' broadcast dims");
    }
    std::vector<bool> used(plan.label_dims.size(), false);
    for (size_t l = 0; l <= output.letters.size(); ++l) {
      if (l == output.ellipsis_at) {
        plan.output_labels.insert(plan.output_labels.end(), broadcast_labels.begin(),
                                  broadcast_labels.end());
      }
      if (l == output.letters.size()) break;
      char letter = output.letters[l];
      auto it = letter_label.find(letter);
      if (it == letter_label.end()) {
        type_error(op_name, std::string("output index '") + letter + "' of \"" +
                                std::string(equation) + "\" is not an index of any operand");
      }
      if (used[static_cast<size_t>(it->second)]) {
        type_error(op_name, std::string("output index '") + letter + "' appears twice in \"" +
                                std::string(equation) + "\"");
      }
      used[static_cast<size_t>(it->second)] = true;
      plan.output_labels.push_back(it->second);
    }
  }
  std::vector<bool> in_output(plan.label_dims.size(), false);
  for (int label : plan.output_labels) in_output[static_cast<size_t>(label)] = true;
  for (size_t label = 0; label < plan.label_dims.size(); ++label) {
    if (!in_output[label]) plan.reduce_labels.push_back(static_cast<int>(label));
  }
  return plan;
}

namespace {

Type infer_einsum(const std::vector<Type>& args, const Attrs& attrs) {
  constexpr std::string_view kOp = "einsum";
  if (args.empty()) type_error(kOp, "needs at least one operand");
  std::vector<ir::Shape> shapes;
  const TensorType& first = tensor_arg(args, 0, kOp);
  if (first.dtype == DType::kBool) type_error(kOp, "operands must be numeric, got bool");
  for (size_t i = 0; i < args.size(); ++i) {
    const TensorType& arg = tensor_arg(args, i, kOp);
    require_same_dtype(first, arg, kOp);
    shapes.push_back(arg.shape);
  }
  EinsumPlan plan = plan_einsum(attrs.get_string("equation"), shapes, kOp);
  TensorType result{first.dtype, {}};
  for (int label : plan.output_labels) {
    result.shape.push_back(plan.label_dims[static_cast<size_t>(label)]);
  }
  return result;
}

// Every combination of label values, the output's first: products summed in double (int64 for
// integers, wrapping), rounded once to the result dtype.
Tensor eval_einsum(const std::vector<Tensor>& args, const Attrs& attrs, const TensorType& result) {
  std::vector<ir::Shape> shapes;
  for (const Tensor& arg : args)
    shapes.push_back(ir::Shape(arg.shape().begin(), arg.shape().end()));
  EinsumPlan plan = plan_einsum(attrs.get_string("equation"), shapes, "einsum");
  std::vector<int64_t> extent;
  for (const ir::Dim& dim : plan.label_dims) extent.push_back(dim.value());
  Tensor out(result.dtype, result.static_shape());
  bool is_float = dtype_is_float(result.dtype);
  std::vector<std::vector<int64_t>> strides;
  for (const Tensor& arg : args) strides.push_back(row_major_strides(arg.shape()));
  std::vector<int64_t> value(plan.label_dims.size(), 0);
  int64_t reduce_count = 1;
  for (int label : plan.reduce_labels) reduce_count *= extent[static_cast<size_t>(label)];
  for (int64_t o = 0; o < out.numel(); ++o) {
    int64_t rest = o;
    for (size_t k = plan.output_labels.size(); k-- > 0;) {
      auto label = static_cast<size_t>(plan.output_labels[k]);
      value[label] = rest % extent[label];
      rest /= extent[label];
    }
    double sum = 0;
    uint64_t integer_sum = 0;
    for (int64_t r = 0; r < reduce_count; ++r) {
      int64_t left = r;
      for (size_t k = plan.reduce_labels.size(); k-- > 0;) {
        auto label = static_cast<size_t>(plan.reduce_labels[k]);
        value[label] = left % extent[label];
        left /= extent[label];
      }
      double product = 1;
      uint64_t integer_product = 1;
      for (size_t i = 0; i < args.size(); ++i) {
        int64_t offset = 0;
        for (size_t d = 0; d < plan.operand_labels[i].size(); ++d) {
          int64_t at =
              plan.broadcast[i][d] ? 0 : value[static_cast<size_t>(plan.operand_labels[i][d])];
          offset += at * strides[i][d];
        }
        if (is_float) {
          product *= args[i].element_as_double(offset);
        } else {
          integer_product *= static_cast<uint64_t>(args[i].element_as_int64(offset));
        }
      }
      sum += product;
      integer_sum += integer_product;
    }
    if (is_float) {
      out.set_element_from_double(o, sum);
    } else {
      out.set_element_from_int64(o, static_cast<int64_t>(integer_sum));
    }
  }
  return out;
}

}  // namespace

void register_einsum_ops(ir::OpRegistry& registry) {
  OpDef def;
  def.name = "einsum";
  def.family = "reduce";
  def.summary = "sum of products over the indices of an Einstein-summation equation (ONNX Einsum)";
  def.min_args = 1;
  def.max_args = -1;
  def.attrs = {attr_string("equation", std::nullopt, "e.g. \"bij,bjk->bik\"")};
  def.pattern = ir::OpPattern::kOpaque;
  def.infer_type = infer_einsum;
  def.evaluate = eval_einsum;
  def.macs = [](const std::vector<Type>& args, const Attrs& attrs, const Type& result) {
    std::vector<ir::Shape> shapes;
    for (const Type& arg : args) {
      if (!arg.is_tensor() || !arg.as_tensor().is_static()) return int64_t{0};
      shapes.push_back(arg.as_tensor().shape);
    }
    if (!result.is_tensor() || !result.as_tensor().is_static()) return int64_t{0};
    EinsumPlan plan = plan_einsum(attrs.get_string("equation"), shapes, "einsum");
    int64_t count = result.as_tensor().numel();
    for (int label : plan.reduce_labels)
      count *= plan.label_dims[static_cast<size_t>(label)].value();
    return count;
  };
  registry.add(std::move(def));
}

}  // namespace kiln::op
