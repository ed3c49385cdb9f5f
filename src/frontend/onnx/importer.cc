// import_onnx: reads the model (model_reader.cc), checks it as a whole (opset, unsupported
// operators, shape_dict), then converts the nodes in file order into one IR function. Values are
// looked up by ONNX name in an environment that holds graph inputs, initializers and node outputs.
//
// Opsets up to 27 (onnx 1.22) are read with their own semantics. The operators that changed
// after opset 22 were checked one by one: Attention, RotaryEmbedding, TensorScatter,
// LinearAttention, CausalConvWithState and RMSNormalization are new (convert_attention.cc,
// convert_nn.cc); Range's stash_type (27) is honoured by its converter; Cast/CastLike's
// round_mode (24) only concerns float8e8m0, a type Kiln refuses; TopK (24) and the other bumps
// (Reshape, Transpose, Pad, Flatten, Shape, ...) only add types Kiln does not have. Newer opsets
// are accepted and read with opset-27 semantics: an operator that changed again fails its
// converter's attribute or input checks with a message naming it.
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "frontend/frontend.h"
#include "frontend/onnx/converter.h"
#include "frontend/onnx/onnx_model.h"
#include "ir/functor.h"
#include "kiln/error.h"

namespace kiln::frontend {

namespace {

using onnx_import::NodeContext;
using onnx_import::OnnxModel;
using onnx_import::OnnxNode;

constexpr int64_t kOldestOpset = 1;
// Opsets from here on are read for every operator; older ones for a listed set (check_opset).
constexpr int64_t kOldestFullOpset = 7;
constexpr int64_t kNewestOpset = 27;

std::string node_display_name(const OnnxNode& node, size_t index) {
  return node.name.empty() ? node.op_type + "_" + std::to_string(index) : node.name;
}

// Calls `visit` on every node of `graph` and of its subgraphs (If branches, Loop/Scan bodies).
template <typename Visit>
void for_each_node(const onnx_import::OnnxGraph& graph, const Visit& visit) {
  for (size_t i = 0; i < graph.nodes.size(); ++i) {
    const OnnxNode& node = graph.nodes[i];
    visit(node, i);
    for (const auto& [name, attr] : node.attrs) {
      if (const auto* sub = std::get_if<std::shared_ptr<const onnx_import::OnnxGraph>>(&attr)) {
        for_each_node(**sub, visit);
      }
    }
  }
}

// Operators whose opset 1-6 versions the converters read correctly: legacy broadcast/axis
// attributes, consumed_inputs (ignored), is_test, attributes that later became inputs, Cast's
// type names.
constexpr const char* kReadsOldVersions =
    "Abs Add And ArgMax ArgMin AveragePool BatchNormalization Cast Ceil Clip Concat Conv Div "
    "Dropout Elu Equal Exp Flatten Floor Gemm GlobalAveragePool GlobalMaxPool Greater "
    "HardSigmoid Identity InstanceNormalization LRN LeakyRelu Less Log MatMul Max MaxPool "
    "Mean Min Mul Neg Not Or Pow Reciprocal ReduceL1 ReduceL2 ReduceLogSumExp ReduceMax ReduceMean "
    "ReduceMin ReduceProd ReduceSum ReduceSumSquare Relu Reshape Selu Sigmoid Slice Softmax "
    "Softplus Softsign Sqrt Squeeze Sub Sum Tanh Transpose Unsqueeze Xor";

// The model must import the default operator set, unless all its nodes are of other domains
// (a model of ai.onnx.ml or ai.onnx.preview.training operators only).
void check_opset(const OnnxModel& model, const std::string& path) {
  bool uses_default = model.nodes.empty();
  for (const OnnxNode& node : model.nodes) uses_default = uses_default || node.domain.empty();
  if (model.opset == 0 && (uses_default || model.domain_opsets.empty())) {
    throw Error(path +
                " does not import the default ONNX operator set (ai.onnx); Kiln reads "
                "opsets " +
                std::to_string(kOldestOpset) + " to " + std::to_string(kNewestOpset));
  }
  // A model of other domains only (model.opset 0) has no old default-domain operators.
  if (model.opset == 0 || model.opset >= kOldestFullOpset) return;
  // Opsets 1-6: only operators whose old versions the converters read correctly.
  static const std::unordered_set<std::string> reads_old_versions = [] {
    std::unordered_set<std::string> names;
    std::istringstream words(kReadsOldVersions);
    for (std::string name; words >> name;) names.insert(name);
    return names;
  }();
  std::vector<std::string> refused;
  for_each_node(model, [&](const OnnxNode& node, size_t i) {
    if (node.domain.empty() && !reads_old_versions.count(node.op_type)) {
      refused.push_back(node.op_type + " (node '" + node_display_name(node, i) + "')");
    }
  });
  if (refused.empty()) return;
  std::string listed;
  for (size_t i = 0; i < refused.size(); ++i) listed += (i ? ", " : "") + refused[i];
  throw Error(path + " uses ONNX opset " + std::to_string(model.opset) +
              "; reading these operators at opsets older than " + std::to_string(kOldestFullOpset) +
              " is not supported yet: " + listed +
              "; upgrade the model with onnx.version_converter.convert_version(model, 13)");
}

// The version of the operator set a node belongs to (0 when the model does not import it).
int64_t node_opset(const OnnxModel& model, const OnnxNode& node) {
  if (node.domain.empty()) return model.opset;
  auto found = model.domain_opsets.find(node.domain);
  return found == model.domain_opsets.end() ? 0 : found->second;
}

// Every operator the converter table lacks, reported together so that one run lists them all.
void check_supported(const OnnxModel& model, const std::string& path) {
  const auto& table = onnx_import::converter_table();
  std::vector<std::string> unsupported;
  for_each_node(model, [&](const OnnxNode& node, size_t i) {
    std::string op = onnx_import::converter_key(node.domain, node.op_type);
    if (table.count(op) != 0) return;
    unsupported.push_back(op + " (node '" + node_display_name(node, i) + "')");
  });
  if (unsupported.empty()) return;
  std::string message = path + ": " + std::to_string(unsupported.size()) +
                        (unsupported.size() == 1 ? " operator is" : " operators are") +
                        " not supported: ";
  for (size_t i = 0; i < unsupported.size(); ++i) message += (i ? ", " : "") + unsupported[i];
  throw Error(message);
}

std::string describe_input(const onnx_import::OnnxValueInfo& input) {
  std::string text = "'" + input.name + "' ";
  if (input.has_shape) text += ir::shape_to_string(input.shape) + " ";
  return text + input.type_text;
}

void check_shape_dict(const OnnxModel& model, const ShapeDict& shape_dict,
                      const std::unordered_set<std::string>& initializer_names,
                      const std::string& path) {
  for (const auto& [name, shape] : shape_dict) {
    bool found = false;
    for (const auto& input : model.inputs) found = found || input.name == name;
    if (!found) {
      std::string listed;
      for (const auto& input : model.inputs) {
        if (initializer_names.count(input.name)) continue;
        listed += (listed.empty() ? "" : ", ") + describe_input(input);
      }
      throw Error("shape_dict names input '" + name + "', which " + path +
                  " does not have; its inputs are: " + (listed.empty() ? "(none)" : listed));
    }
    for (const auto& input : model.inputs) {
      // A shape of another rank than the model declares would surface later as a confusing
      // operator error; say what is wrong where the user can fix it.
      if (input.name == name && input.has_shape && input.shape.size() != shape.size()) {
        std::string given = "[";
        for (size_t i = 0; i < shape.size(); ++i)
          given += (i ? ", " : "") + std::to_string(shape[i]);
        throw Error("shape_dict gives input '" + name + "' the shape " + given + "] of rank " +
                    std::to_string(shape.size()) + ", but " + path + " declares it as " +
                    describe_input(input) + " of rank " + std::to_string(input.shape.size()));
      }
    }
    for (int64_t dim : shape) {
      if (dim < 0) {
        throw Error("shape_dict gives input '" + name + "' the negative dim " +
                    std::to_string(dim) + "; shapes must be fully static");
      }
    }
  }
}

ir::Var make_input(const onnx_import::OnnxValueInfo& input, const ShapeDict& shape_dict,
                   const std::string& path) {
  if (!input.dtype) {
    throw Error(path + ": input '" + input.name + "' is a " + input.type_text +
                ", Kiln reads tensor inputs of numeric types only");
  }
  ir::TensorType type;
  type.dtype = *input.dtype;
  auto given = shape_dict.find(input.name);
  if (given != shape_dict.end()) {
    for (int64_t dim : given->second) type.shape.emplace_back(dim);
  } else if (input.has_shape) {
    type.shape = input.shape;
  } else {
    throw Error(path + ": input '" + input.name +
                "' has no shape in the model; give it one with shape_dict");
  }
  return ir::VarNode::make(input.name, std::move(type));
}

// Names read by some node or by a graph's outputs (subgraphs included: they may read outer
// values): a converter may refuse to compute an output (MaxPool's Indices) only when nothing
// reads it.
std::unordered_set<std::string> used_value_names(const OnnxModel& model) {
  std::unordered_set<std::string> used(model.outputs.begin(), model.outputs.end());
  for_each_node(model, [&](const OnnxNode& node, size_t) {
    for (const std::string& name : node.inputs) {
      if (!name.empty()) used.insert(name);
    }
    for (const auto& [attr_name, attr] : node.attrs) {
      if (const auto* sub = std::get_if<std::shared_ptr<const onnx_import::OnnxGraph>>(&attr)) {
        used.insert((*sub)->outputs.begin(), (*sub)->outputs.end());
      }
    }
  });
  return used;
}

// Checks the constant inputs against the model's declared inputs: known name, same dtype, a
// shape that the declaration (and shape_dict, when it names the input too) allows.
void check_constant_inputs(const OnnxModel& model, const ConstantInputs& constant_inputs,
                           const ShapeDict& shape_dict,
                           const std::unordered_set<std::string>& initializer_names,
                           const std::string& path) {
  for (const auto& [name, value] : constant_inputs) {
    const onnx_import::OnnxValueInfo* declared = nullptr;
    for (const auto& input : model.inputs) {
      if (input.name == name) declared = &input;
    }
    if (declared == nullptr) {
      std::string listed;
      for (const auto& input : model.inputs) {
        if (initializer_names.count(input.name)) continue;
        listed += (listed.empty() ? "" : ", ") + describe_input(input);
      }
      throw Error("constant_inputs names input '" + name + "', which " + path +
                  " does not have; its inputs are: " + (listed.empty() ? "(none)" : listed));
    }
    std::string given = ir::tensor_type(value.dtype(), value.shape()).to_string();
    if (!declared->dtype || *declared->dtype != value.dtype()) {
      throw Error("constant_inputs gives input '" + name + "' a " + given + " value, but " + path +
                  " declares it as " + describe_input(*declared));
    }
    bool fits = !declared->has_shape || declared->shape.size() == value.shape().size();
    for (size_t i = 0; fits && declared->has_shape && i < declared->shape.size(); ++i) {
      const ir::Dim& dim = declared->shape[i];
      fits = !dim.is_static() || dim.value() == value.shape()[i];
    }
    if (!fits) {
      throw Error("constant_inputs gives input '" + name + "' a " + given + " value, but " + path +
                  " declares it as " + describe_input(*declared));
    }
    auto fixed = shape_dict.find(name);
    if (fixed != shape_dict.end() && fixed->second != value.shape()) {
      throw Error("constant_inputs gives input '" + name + "' a " + given +
                  " value, but shape_dict gives it another shape");
    }
  }
}

// Inputs of a subgraph that Kiln binds to the values the control-flow converter passes in:
// their declared dtype must agree (shapes may be left out or symbolic in the body).
void check_subgraph_inputs(const onnx_import::OnnxGraph& graph,
                           const std::vector<ir::Expr>& inputs) {
  if (inputs.size() != graph.inputs.size()) {
    throw Error("the subgraph '" + graph.name + "' declares " +
                std::to_string(graph.inputs.size()) + " inputs, but " +
                std::to_string(inputs.size()) + " values are passed to it");
  }
  for (size_t i = 0; i < inputs.size(); ++i) {
    const auto& declared = graph.inputs[i];
    if (!inputs[i]->type().is_tensor()) continue;
    DType passed = inputs[i]->type().as_tensor().dtype;
    if (declared.dtype && *declared.dtype != passed) {
      throw Error("the subgraph '" + graph.name + "' declares input '" + declared.name + "' as " +
                  declared.type_text + ", but it receives " + inputs[i]->type().to_string());
    }
  }
}

class GraphBuilder {
 public:
  GraphBuilder(const OnnxModel& model, const ShapeDict& shape_dict,
               const ConstantInputs& constant_inputs, const std::string& path)
      : model_(model),
        shape_dict_(shape_dict),
        constant_inputs_(constant_inputs),
        path_(path),
        used_(used_value_names(model)),
        inliner_([this](const onnx_import::OnnxGraph& graph, const std::vector<ir::Expr>& inputs) {
          return inline_graph(graph, inputs);
        }) {}

  ir::Module build() {
    check_opset(model_, path_);
    check_supported(model_, path_);
    std::unordered_set<std::string> initializer_names;
    for (const auto& init : model_.initializers) initializer_names.insert(init.name);
    check_shape_dict(model_, shape_dict_, initializer_names, path_);
    check_constant_inputs(model_, constant_inputs_, shape_dict_, initializer_names, path_);

    bind_initializers(model_);
    bind_inputs(initializer_names);
    for (size_t i = 0; i < model_.nodes.size(); ++i) convert_node(model_.nodes[i], i);
    return make_module();
  }

 private:
  void bind_initializers(const onnx_import::OnnxGraph& graph) {
    for (const auto& init : graph.initializers) {
      if (!init.error.empty()) {
        unavailable_[init.name] = "initializer '" + init.name + "' " + init.error;
        continue;
      }
      env_[init.name] = ir::ConstantNode::make(init.value, init.name);
    }
  }

  // Graph inputs that are also initializers (old exporters list weights as inputs) stay
  // constants, unless shape_dict names them: then the user feeds them. A constant input becomes
  // a constant of the graph and leaves the signature.
  void bind_inputs(const std::unordered_set<std::string>& initializer_names) {
    for (const auto& input : model_.inputs) {
      auto constant = constant_inputs_.find(input.name);
      if (constant != constant_inputs_.end()) {
        unavailable_.erase(input.name);
        env_[input.name] = ir::ConstantNode::make(constant->second, input.name);
        continue;
      }
      if (initializer_names.count(input.name) && !shape_dict_.count(input.name)) continue;
      ir::Var var = make_input(input, shape_dict_, path_);
      unavailable_.erase(input.name);
      env_[input.name] = var;
      params_.push_back(var);
      if (!var->tensor_type().is_static()) {
        shape_hint_ += (shape_hint_.empty() ? "'" : ", '") + input.name + "' " +
                       ir::shape_to_string(var->tensor_type().shape);
      }
    }
  }

  // Messages from the main graph name the file; those from inside a subgraph are prefixed by the
  // enclosing node's converter, which adds the file.
  std::string prefix() const { return depth_ == 0 ? path_ + ": " : std::string(); }

  ir::Expr lookup(const std::string& name, const std::string& user) const {
    auto found = env_.find(name);
    if (found != env_.end()) return found->second;
    auto why = unavailable_.find(name);
    if (why != unavailable_.end()) throw Error(prefix() + user + " uses " + why->second);
    throw Error(prefix() + user + " uses '" + name +
                "', which no input, initializer or earlier node produces");
  }

  void convert_node(const OnnxNode& node, size_t index) {
    std::string name = node_display_name(node, index);
    std::string where = "node '" + name + "' (" + node.op_type + ")";
    std::vector<ir::Expr> inputs;
    for (const std::string& input : node.inputs) {
      inputs.push_back(input.empty() ? nullptr : lookup(input, where));
    }
    NodeContext ctx(node, name, node_opset(model_, node), std::move(inputs), used_, shape_hint_,
                    &inliner_);
    std::vector<ir::Expr> outputs;
    try {
      const auto& table = onnx_import::converter_table();
      outputs = table.find(onnx_import::converter_key(node.domain, node.op_type))->second(ctx);
    } catch (const Error& error) {
      throw Error(prefix() + where + ": " + error.what());
    }
    bind_outputs(node, outputs, where);
  }

  void bind_outputs(const OnnxNode& node, const std::vector<ir::Expr>& outputs,
                    const std::string& where) {
    for (size_t i = 0; i < node.outputs.size(); ++i) {
      const std::string& name = node.outputs[i];
      if (name.empty()) continue;
      if (i < outputs.size() && outputs[i] != nullptr) {
        env_[name] = outputs[i];
        unavailable_.erase(name);
      } else {
        env_.erase(name);
        unavailable_[name] = "output " + std::to_string(i) + " '" + name + "' of " + where +
                             ", which Kiln does not compute";
      }
    }
  }

  // Converts a subgraph in a scope of its own: its inputs, initializers and node outputs are
  // visible inside it (shadowing outer names), the enclosing values stay visible, and nothing it
  // defines leaks out. Each call (a loop iteration) builds fresh IR from the given inputs.
  std::vector<ir::Expr> inline_graph(const onnx_import::OnnxGraph& graph,
                                     const std::vector<ir::Expr>& inputs) {
    check_subgraph_inputs(graph, inputs);
    // Restores the enclosing scope on return and when an error passes through.
    struct ScopeGuard {
      GraphBuilder& builder;
      std::unordered_map<std::string, ir::Expr> env;
      std::unordered_map<std::string, std::string> unavailable;
      ~ScopeGuard() {
        --builder.depth_;
        builder.env_ = std::move(env);
        builder.unavailable_ = std::move(unavailable);
      }
    } guard{*this, env_, unavailable_};
    ++depth_;
    bind_initializers(graph);
    for (size_t i = 0; i < inputs.size(); ++i) {
      env_[graph.inputs[i].name] = inputs[i];
      unavailable_.erase(graph.inputs[i].name);
    }
    for (size_t i = 0; i < graph.nodes.size(); ++i) convert_node(graph.nodes[i], i);
    std::vector<ir::Expr> outputs;
    for (const std::string& name : graph.outputs) {
      outputs.push_back(lookup(name, "the output of subgraph '" + graph.name + "'"));
    }
    return outputs;
  }

  ir::Module make_module() {
    std::vector<ir::Expr> outputs;
    for (const std::string& name : model_.outputs) outputs.push_back(lookup(name, "graph output"));
    if (outputs.empty()) throw Error(path_ + ": the graph has no outputs");
    ir::Expr body = outputs.size() == 1 ? outputs[0] : ir::TupleNode::make(outputs);
    std::map<std::string, std::string> metadata = {
        {"source_format", "onnx"},
        {"source_path", path_},
        {"opset", std::to_string(model_.opset)},
        {"producer", model_.producer},
    };
    return ir::Module(ir::FunctionNode::make(params_, body), model_.outputs, std::move(metadata));
  }

  const OnnxModel& model_;
  const ShapeDict& shape_dict_;
  const ConstantInputs& constant_inputs_;
  const std::string& path_;
  std::unordered_set<std::string> used_;
  std::unordered_map<std::string, ir::Expr> env_;
  // Names that exist but cannot be used, with the reason (unsupported dtype, output not computed).
  std::unordered_map<std::string, std::string> unavailable_;
  std::vector<ir::Var> params_;
  std::string shape_hint_;  // inputs with non-static dims, for NodeContext::shape_dict_hint
  onnx_import::SubgraphInliner inliner_;
  int depth_ = 0;  // subgraph nesting while converting
};

}  // namespace

ir::Module import_onnx(const std::string& path, const ShapeDict& shape_dict,
                       const ConstantInputs& constant_inputs) {
  OnnxModel model = onnx_import::read_onnx_model(path);
  return GraphBuilder(model, shape_dict, constant_inputs, path).build();
}

}  // namespace kiln::frontend
