#include "frontend/onnx/converter.h"

#include <algorithm>
#include <limits>

#include "ir/functor.h"
#include "ir/op.h"
#include "kiln/error.h"

namespace kiln::frontend::onnx_import {

namespace {

// Folding a constant larger than this would trade a cheap operator for a large weight (e.g. a
// ConstantOfShape filling a big buffer); such calls stay in the graph.
constexpr int64_t kMaxFoldedElements = int64_t{1} << 24;
// Folding never grows the weights by more than this many elements: a broadcast or a gather that
// expands a small constant (a token-type embedding looked up at 128 positions, a mask expanded
// to every head) stays a call, so the model does not carry the expanded copy as a weight.
constexpr int64_t kMaxFoldedGrowth = int64_t{1} << 12;

const char* attr_kind_text(const OnnxAttr& value) {
  switch (value.index()) {
    case 0:
      return "an int";
    case 1:
      return "a float";
    case 2:
      return "a string";
    case 3:
      return "a list of ints";
    case 4:
      return "a list of floats";
    case 5:
      return "a list of strings";
    case 6:
      return "a tensor";
    case 7:
      return "a graph";
    default:
      return std::get<UnreadableAttr>(value).kind.c_str();
  }
}

}  // namespace

NodeContext::NodeContext(const OnnxNode& node, std::string display_name, int64_t opset,
                         std::vector<ir::Expr> inputs,
                         const std::unordered_set<std::string>& used_values,
                         const std::string& shape_hint, const SubgraphInliner* inliner)
    : node_(node),
      name_(std::move(display_name)),
      opset_(opset),
      inputs_(std::move(inputs)),
      used_values_(used_values),
      shape_hint_(shape_hint),
      inliner_(inliner) {}

std::string NodeContext::shape_dict_hint() const {
  std::string hint = "; fix the input shapes with shape_dict";
  if (!shape_hint_.empty()) hint += " (inputs with unknown dims: " + shape_hint_ + ")";
  return hint;
}

std::string NodeContext::describe_input(size_t i) const {
  std::string text = "input " + std::to_string(i);
  if (i < node_.inputs.size() && !node_.inputs[i].empty()) text += " '" + node_.inputs[i] + "'";
  return text;
}

const ir::Expr& NodeContext::input(size_t i) const {
  if (!has_input(i)) fail("required " + describe_input(i) + " is missing");
  return inputs_[i];
}

const ir::TensorType& NodeContext::input_type(size_t i) const {
  const ir::Type& type = input(i)->type();
  if (!type.is_tensor()) fail(describe_input(i) + " is a tuple, expected a tensor");
  return type.as_tensor();
}

std::optional<Tensor> NodeContext::constant_input(size_t i) const {
  if (!has_input(i)) return std::nullopt;
  if (const auto* constant = ir::as<ir::ConstantNode>(inputs_[i])) return constant->value;
  return std::nullopt;
}

Tensor NodeContext::require_constant(size_t i, std::string_view what) const {
  std::optional<Tensor> value = constant_input(i);
  if (value) return *value;
  std::string needed =
      describe_input(i) + " (" + std::string(what) + ") must be known when the model is imported";
  // A model input fed at run time: the user can fix its value when loading.
  if (const auto* var = ir::as<ir::VarNode>(input(i))) {
    fail(needed + ", but it is the model input '" + var->name + "' (" + var->type().to_string() +
         "); give its value with constant_inputs={'" + var->name +
         "': ...} (CLI: --constant-input " + var->name + "=FILE.npy)");
  }
  // Name the model inputs the value depends on: fixing them with constant_inputs makes it fold.
  std::string depends;
  for (const ir::Expr& node : ir::post_order(input(i))) {
    if (const auto* var = ir::as<ir::VarNode>(node)) {
      depends += (depends.empty() ? "'" : ", '") + var->name + "'";
    }
  }
  if (depends.empty()) {
    fail(needed + ", but Kiln could not fold it to a constant (" + input(i)->type().to_string() +
         "): not supported yet for this subgraph");
  }
  fail(needed + ", but it is computed from the model's inputs " + depends + " (" +
       input(i)->type().to_string() + "); give their values with constant_inputs" +
       shape_dict_hint().replace(0, 1, ", or"));
}

std::vector<int64_t> NodeContext::require_constant_ints(size_t i, std::string_view what) const {
  Tensor value = require_constant(i, what);
  if (dtype_is_float(value.dtype())) {
    fail(describe_input(i) + " (" + std::string(what) + ") must hold integers, got " +
         std::string(dtype_name(value.dtype())));
  }
  return value.to_int64s();
}

double NodeContext::require_constant_scalar(size_t i, std::string_view what) const {
  Tensor value = require_constant(i, what);
  if (value.numel() != 1) {
    fail(describe_input(i) + " (" + std::string(what) + ") must hold one value, it has " +
         std::to_string(value.numel()));
  }
  return value.element_as_double(0);
}

bool NodeContext::output_used(size_t i) const {
  return i < node_.outputs.size() && !node_.outputs[i].empty() &&
         used_values_.count(node_.outputs[i]) != 0;
}

const OnnxAttr* NodeContext::find_attr(const std::string& name) const {
  auto it = node_.attrs.find(name);
  return it == node_.attrs.end() ? nullptr : &it->second;
}

template <typename T>
const T& NodeContext::attr_as(const std::string& name, const char* kind_name) const {
  const OnnxAttr* value = find_attr(name);
  if (value == nullptr) fail("required attribute '" + name + "' is missing");
  if (const T* typed = std::get_if<T>(value)) return *typed;
  fail("attribute '" + name + "' must be " + kind_name + ", got " + attr_kind_text(*value));
}

int64_t NodeContext::attr_int(const std::string& name, int64_t default_value) const {
  return has_attr(name) ? attr_int(name) : default_value;
}

int64_t NodeContext::attr_int(const std::string& name) const {
  return attr_as<int64_t>(name, "an int");
}

double NodeContext::attr_float(const std::string& name, double default_value) const {
  const OnnxAttr* value = find_attr(name);
  if (value == nullptr) return default_value;
  // Some exporters write whole-number floats as ints.
  if (const auto* as_int = std::get_if<int64_t>(value)) return static_cast<double>(*as_int);
  return attr_as<double>(name, "a float");
}

std::string NodeContext::attr_string(const std::string& name,
                                     const std::string& default_value) const {
  return has_attr(name) ? attr_as<std::string>(name, "a string") : default_value;
}

std::vector<int64_t> NodeContext::attr_ints(const std::string& name,
                                            const std::vector<int64_t>& default_value) const {
  return has_attr(name) ? attr_ints(name) : default_value;
}

std::vector<int64_t> NodeContext::attr_ints(const std::string& name) const {
  return attr_as<std::vector<int64_t>>(name, "a list of ints");
}

std::vector<double> NodeContext::attr_floats(const std::string& name,
                                             const std::vector<double>& default_value) const {
  return has_attr(name) ? attr_as<std::vector<double>>(name, "a list of floats") : default_value;
}

std::vector<std::string> NodeContext::attr_strings(
    const std::string& name, const std::vector<std::string>& default_value) const {
  return has_attr(name) ? attr_as<std::vector<std::string>>(name, "a list of strings")
                        : default_value;
}

Tensor NodeContext::attr_tensor(const std::string& name) const {
  return attr_as<Tensor>(name, "a tensor");
}

const OnnxGraph& NodeContext::attr_graph(const std::string& name) const {
  const auto& graph = attr_as<std::shared_ptr<const OnnxGraph>>(name, "a graph");
  KILN_CHECK(graph != nullptr);
  return *graph;
}

std::vector<ir::Expr> NodeContext::inline_subgraph(const OnnxGraph& graph,
                                                   const std::vector<ir::Expr>& inputs) const {
  KILN_CHECK(inliner_ != nullptr) << "no subgraph inliner for node " << name_;
  return (*inliner_)(graph, inputs);
}

ir::Expr NodeContext::call(std::string_view op_name, std::vector<ir::Expr> args,
                           ir::Attrs attrs) const {
  ir::Call made = ir::call(op_name, std::move(args), std::move(attrs), name_);
  if (!made->op.evaluate || !made->type().is_tensor()) return made;
  std::vector<Tensor> values;
  int64_t input_numel = 0;
  for (const ir::Expr& arg : made->args) {
    const auto* constant = ir::as<ir::ConstantNode>(arg);
    if (constant == nullptr) return made;
    values.push_back(constant->value);
    input_numel += constant->value.numel();
  }
  int64_t numel = made->type().as_tensor().numel();
  if (numel > kMaxFoldedElements) return made;
  if (!values.empty() && numel > input_numel + kMaxFoldedGrowth) return made;
  Tensor value = made->op.evaluate(values, made->attrs, made->type().as_tensor());
  std::string folded_name = node_.outputs.empty() ? name_ : node_.outputs[0];
  return ir::ConstantNode::make(std::move(value), std::move(folded_name));
}

ir::Expr NodeContext::constant(Tensor value) const {
  std::string folded_name = node_.outputs.empty() ? name_ : node_.outputs[0];
  return ir::ConstantNode::make(std::move(value), std::move(folded_name));
}

ir::Expr NodeContext::scalar(double value, DType dtype) const {
  Tensor tensor(dtype, {});
  tensor.set_element_from_double(0, value);
  return ir::ConstantNode::make(std::move(tensor));
}

ir::Expr NodeContext::tuple_item(const ir::Expr& tuple, int64_t index) const {
  return ir::TupleGetItemNode::make(tuple, index);
}

void NodeContext::fail(const std::string& message) const { throw Error(message); }

const ConverterTable& converter_table() {
  static const ConverterTable table = [] {
    ConverterTable built;
    add_math_converters(built);
    add_nn_converters(built);
    add_tensor_converters(built);
    add_rnn_converters(built);
    add_control_converters(built);
    add_signal_converters(built);
    add_loss_converters(built);
    add_misc_converters(built);
    add_training_converters(built);
    add_ml_converters(built);
    add_attention_converters(built);
    add_quant_converters(built);
    return built;
  }();
  return table;
}

std::string converter_key(std::string_view domain, std::string_view op_type) {
  if (domain.empty() || domain == "ai.onnx") return std::string(op_type);
  return std::string(domain) + "." + std::string(op_type);
}

int64_t normalize_axis(const NodeContext& ctx, int64_t axis, int64_t rank, std::string_view what) {
  if (axis < -rank || axis >= rank) {
    ctx.fail(std::string(what) + " " + std::to_string(axis) + " is out of range for rank " +
             std::to_string(rank));
  }
  return axis < 0 ? axis + rank : axis;
}

std::optional<int64_t> static_product(const NodeContext& ctx, const ir::Shape& shape, size_t begin,
                                      size_t end) {
  int64_t product = 1;
  for (size_t i = begin; i < end && i < shape.size(); ++i) {
    if (!shape[i].is_static()) return std::nullopt;
    int64_t dim = shape[i].value();
    if (dim != 0 && product > std::numeric_limits<int64_t>::max() / dim) {
      ctx.fail("the shape " + ir::shape_to_string(shape) + " has too many elements");
    }
    product *= dim;
  }
  return product;
}

ir::Expr reshape_to(const NodeContext& ctx, const ir::Expr& data, const ir::Shape& shape) {
  const ir::Shape& input_shape = data->type().as_tensor().shape;
  bool has_zero =
      std::any_of(shape.begin(), shape.end(), [](const ir::Dim& dim) { return dim == ir::Dim(0); });
  std::vector<int64_t> newshape;
  bool inferred = false;
  for (size_t i = 0; i < shape.size(); ++i) {
    const ir::Dim& dim = shape[i];
    if (dim.is_static()) {
      newshape.push_back(dim.value());
    } else if (!has_zero && i < input_shape.size() && input_shape[i] == dim &&
               dim != ir::Dim::unknown()) {
      newshape.push_back(0);  // copy the input's dim, symbol included
    } else if (!inferred && !has_zero) {
      newshape.push_back(-1);
      inferred = true;
    } else {
      ctx.fail("cannot reshape " + data->type().to_string() + " to " + ir::shape_to_string(shape) +
               ": too many unknown dims" + ctx.shape_dict_hint());
    }
  }
  // With a static 0 in the target, allowzero makes it an empty dim rather than "copy".
  return ctx.call("reshape", {data}, {{"newshape", newshape}, {"allowzero", int64_t{has_zero}}});
}

ir::Expr flatten_to_2d(const NodeContext& ctx, const ir::Expr& data, int64_t axis) {
  const ir::Shape& shape = data->type().as_tensor().shape;
  size_t split = static_cast<size_t>(axis);
  // A single leading dim (the usual batch) keeps its symbol.
  ir::Dim outer = split == 1 ? shape[0] : ir::Dim::unknown();
  ir::Dim inner = ir::Dim::unknown();
  if (auto product = static_product(ctx, shape, 0, split)) outer = *product;
  if (auto product = static_product(ctx, shape, split, shape.size())) inner = *product;
  return reshape_to(ctx, data, {outer, inner});
}

}  // namespace kiln::frontend::onnx_import

namespace kiln::frontend {

std::vector<std::string> onnx_supported_operators() {
  std::vector<std::string> names;
  for (const auto& [name, converter] : onnx_import::converter_table()) names.push_back(name);
  return names;
}

}  // namespace kiln::frontend
