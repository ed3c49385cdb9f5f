// The per-operator converter interface of the ONNX importer. A converter turns one ONNX node,
// whose inputs are already graph IR expressions, into IR expressions for its outputs. It sees no
// protobuf: attributes arrive as plain values (onnx_model.h).
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_set>
#include <vector>

#include "frontend/onnx/onnx_model.h"
#include "ir/expr.h"

namespace kiln::frontend::onnx_import {

// Imports a subgraph inline (If's taken branch, one iteration of a Loop or Scan body): binds its
// inputs to the given expressions, converts its nodes with the enclosing graphs' values visible
// by name, and returns its outputs. Provided by the importer.
using SubgraphInliner =
    std::function<std::vector<ir::Expr>(const OnnxGraph&, const std::vector<ir::Expr>&)>;

// One node being converted: its attributes, its input expressions and the helpers converters
// share (attribute defaults, "this input must be constant", calls that fold constants).
class NodeContext {
 public:
  // `shape_hint` lists the model inputs with non-static dims, for messages that suggest
  // shape_dict.
  NodeContext(const OnnxNode& node, std::string display_name, int64_t opset,
              std::vector<ir::Expr> inputs, const std::unordered_set<std::string>& used_values,
              const std::string& shape_hint, const SubgraphInliner* inliner = nullptr);

  const std::string& op_type() const { return node_.op_type; }
  // The node name, or "<op_type>_<index>" when the file leaves it empty.
  const std::string& name() const { return name_; }
  int64_t opset() const { return opset_; }

  // --- inputs. ONNX marks an omitted optional input with an empty name.
  size_t num_inputs() const { return inputs_.size(); }
  bool has_input(size_t i) const { return i < inputs_.size() && inputs_[i] != nullptr; }
  // The input expression; an error when it is omitted.
  const ir::Expr& input(size_t i) const;
  // nullptr when omitted.
  ir::Expr optional_input(size_t i) const { return has_input(i) ? inputs_[i] : nullptr; }
  const ir::TensorType& input_type(size_t i) const;
  // The input's value when it is a constant (an initializer or a folded subgraph), else nullopt.
  std::optional<Tensor> constant_input(size_t i) const;
  // The input's value, which the IR needs at import time (a shape, pads, k ...); an error naming
  // the input and suggesting constant_inputs (a model input) or shape_dict (a computed value)
  // when it is not constant.
  Tensor require_constant(size_t i, std::string_view what) const;
  std::vector<int64_t> require_constant_ints(size_t i, std::string_view what) const;
  double require_constant_scalar(size_t i, std::string_view what) const;

  // --- outputs.
  size_t num_outputs() const { return node_.outputs.size(); }
  // Whether output i exists and a later node or the graph output reads it.
  bool output_used(size_t i) const;

  // --- attributes. Getters with a default return it when the attribute is absent; an attribute
  // of another kind is an error naming it.
  bool has_attr(const std::string& name) const { return node_.attrs.count(name) != 0; }
  int64_t attr_int(const std::string& name, int64_t default_value) const;
  int64_t attr_int(const std::string& name) const;  // required
  double attr_float(const std::string& name, double default_value) const;
  std::string attr_string(const std::string& name, const std::string& default_value) const;
  std::vector<int64_t> attr_ints(const std::string& name,
                                 const std::vector<int64_t>& default_value) const;
  std::vector<int64_t> attr_ints(const std::string& name) const;  // required
  std::vector<double> attr_floats(const std::string& name,
                                  const std::vector<double>& default_value) const;
  std::vector<std::string> attr_strings(const std::string& name,
                                        const std::vector<std::string>& default_value) const;
  Tensor attr_tensor(const std::string& name) const;           // required
  const OnnxGraph& attr_graph(const std::string& name) const;  // required

  // --- subgraphs: converts `graph` inline with its inputs bound to `inputs` (same count).
  std::vector<ir::Expr> inline_subgraph(const OnnxGraph& graph,
                                        const std::vector<ir::Expr>& inputs) const;

  // --- building IR. call() runs the operator's type relation (ir::call) and, when every argument
  // is a constant and the operator has an evaluator, replaces the call by its value.
  ir::Expr call(std::string_view op_name, std::vector<ir::Expr> args, ir::Attrs attrs = {}) const;
  ir::Expr constant(Tensor value) const;
  // A scalar constant of `dtype` (for alpha/beta factors, Mean's divisor ...).
  ir::Expr scalar(double value, DType dtype) const;
  ir::Expr tuple_item(const ir::Expr& tuple, int64_t index) const;

  // "; fix the input shapes with shape_dict (inputs with unknown dims: 'ids' [batch, seq])".
  std::string shape_dict_hint() const;

  // Raises kiln::Error with `message`; the importer prefixes file, node and op.
  [[noreturn]] void fail(const std::string& message) const;

 private:
  const OnnxAttr* find_attr(const std::string& name) const;
  template <typename T>
  const T& attr_as(const std::string& name, const char* kind_name) const;
  std::string describe_input(size_t i) const;

  const OnnxNode& node_;
  std::string name_;
  int64_t opset_;
  std::vector<ir::Expr> inputs_;
  const std::unordered_set<std::string>& used_values_;
  const std::string& shape_hint_;
  const SubgraphInliner* inliner_;
};

// Returns one expression per ONNX output (a shorter vector, or nullptr entries, for outputs the
// converter does not compute; the importer rejects a model that uses them).
using Converter = std::function<std::vector<ir::Expr>(const NodeContext&)>;
using ConverterTable = std::map<std::string, Converter, std::less<>>;

// Operator key -> converter. Its keys are the list of supported operators: the op_type for the
// default domain ("Conv"), "<domain>.<op_type>" for the others ("ai.onnx.ml.Binarizer").
const ConverterTable& converter_table();
// The table key of an operator of `domain` ("" for the default domain).
std::string converter_key(std::string_view domain, std::string_view op_type);

// Each family adds its converters (convert_<family>.cc).
void add_math_converters(ConverterTable& table);
void add_nn_converters(ConverterTable& table);
void add_tensor_converters(ConverterTable& table);
void add_rnn_converters(ConverterTable& table);
void add_control_converters(ConverterTable& table);
void add_signal_converters(ConverterTable& table);
void add_loss_converters(ConverterTable& table);
void add_misc_converters(ConverterTable& table);
void add_training_converters(ConverterTable& table);  // ai.onnx.preview.training
void add_ml_converters(ConverterTable& table);        // ai.onnx.ml
void add_attention_converters(ConverterTable& table);
void add_quant_converters(ConverterTable& table);

// Conv's window attributes (kernel_shape, strides, dilations, pads/auto_pad, group) applied to
// `data` and `weight` (1-D, 2-D or 3-D); no bias. Shared by Conv and the quantized convolutions.
ir::Expr convert_conv_of(const NodeContext& ctx, ir::Expr data, const ir::TensorType& data_type,
                         ir::Expr weight, const ir::TensorType& weight_type);

// Shared helpers.
// Axis in [0, rank) or an error naming the attribute.
int64_t normalize_axis(const NodeContext& ctx, int64_t axis, int64_t rank, std::string_view what);
// Product of dims [begin, end) when all are static, else nullopt (checked against overflow).
std::optional<int64_t> static_product(const NodeContext& ctx, const ir::Shape& shape, size_t begin,
                                      size_t end);
// Reshapes `data` to two dims [prod(dims[:axis]), prod(dims[axis:])] (Flatten, pre-13 Softmax).
ir::Expr flatten_to_2d(const NodeContext& ctx, const ir::Expr& data, int64_t axis);
// Reshapes `data` to `shape`. A symbolic dim equal to the input's dim at the same position is
// copied (0), keeping its name; one other symbolic dim may be inferred (-1); more is an error.
ir::Expr reshape_to(const NodeContext& ctx, const ir::Expr& data, const ir::Shape& shape);

}  // namespace kiln::frontend::onnx_import
