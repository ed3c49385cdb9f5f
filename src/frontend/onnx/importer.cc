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

constexpr int64_t kOldestOpset = 7;
constexpr int64_t kNewestOpset = 27;

std::string node_display_name(const OnnxNode& node, size_t index) {
  return node.name.empty() ? node.op_type + "_" + std::to_string(index) : node.name;
}

void check_opset(const OnnxModel& model, const std::string& path) {
  if (model.opset == 0) {
    throw Error(path +
                " does not import the default ONNX operator set (ai.onnx); Kiln reads "
                "opsets " +
                std::to_string(kOldestOpset) + " to " + std::to_string(kNewestOpset));
  }
  if (model.opset < kOldestOpset) {
    throw Error(path + " uses ONNX opset " + std::to_string(model.opset) +
                ", older than the oldest Kiln reads (" + std::to_string(kOldestOpset) +
                "); upgrade it with onnx.version_converter.convert_version(model, 13)");
  }
}

// Every operator the converter table lacks, reported together so that one run lists them all.
void check_supported(const OnnxModel& model, const std::string& path) {
  const auto& table = onnx_import::converter_table();
  std::vector<std::string> unsupported;
  for (size_t i = 0; i < model.nodes.size(); ++i) {
    const OnnxNode& node = model.nodes[i];
    bool known = node.domain.empty() && table.count(node.op_type) != 0;
    if (known) continue;
    std::string op = node.domain.empty() ? node.op_type : node.domain + "." + node.op_type;
    unsupported.push_back(op + " (node '" + node_display_name(node, i) + "')");
  }
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

// Names read by some node or by the graph outputs: a converter may refuse to compute an output
// (MaxPool's Indices) only when nothing reads it.
std::unordered_set<std::string> used_value_names(const OnnxModel& model) {
  std::unordered_set<std::string> used(model.outputs.begin(), model.outputs.end());
  for (const OnnxNode& node : model.nodes) {
    for (const std::string& name : node.inputs) {
      if (!name.empty()) used.insert(name);
    }
  }
  return used;
}

class GraphBuilder {
 public:
  GraphBuilder(const OnnxModel& model, const ShapeDict& shape_dict, const std::string& path)
      : model_(model), shape_dict_(shape_dict), path_(path), used_(used_value_names(model)) {}

  ir::Module build() {
    check_opset(model_, path_);
    check_supported(model_, path_);
    std::unordered_set<std::string> initializer_names;
    for (const auto& init : model_.initializers) initializer_names.insert(init.name);
    check_shape_dict(model_, shape_dict_, initializer_names, path_);

    bind_initializers();
    bind_inputs(initializer_names);
    for (size_t i = 0; i < model_.nodes.size(); ++i) convert_node(model_.nodes[i], i);
    return make_module();
  }

 private:
  void bind_initializers() {
    for (const auto& init : model_.initializers) {
      if (!init.error.empty()) {
        unavailable_[init.name] = "initializer '" + init.name + "' " + init.error;
        continue;
      }
      env_[init.name] = ir::ConstantNode::make(init.value, init.name);
    }
  }

  // Graph inputs that are also initializers (old exporters list weights as inputs) stay
  // constants, unless shape_dict names them: then the user feeds them.
  void bind_inputs(const std::unordered_set<std::string>& initializer_names) {
    for (const auto& input : model_.inputs) {
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

  ir::Expr lookup(const std::string& name, const std::string& user) const {
    auto found = env_.find(name);
    if (found != env_.end()) return found->second;
    auto why = unavailable_.find(name);
    if (why != unavailable_.end()) throw Error(path_ + ": " + user + " uses " + why->second);
    throw Error(path_ + ": " + user + " uses '" + name +
                "', which no input, initializer or earlier node produces");
  }

  void convert_node(const OnnxNode& node, size_t index) {
    std::string name = node_display_name(node, index);
    std::string where = "node '" + name + "' (" + node.op_type + ")";
    std::vector<ir::Expr> inputs;
    for (const std::string& input : node.inputs) {
      inputs.push_back(input.empty() ? nullptr : lookup(input, where));
    }
    NodeContext ctx(node, name, model_.opset, std::move(inputs), used_, shape_hint_);
    std::vector<ir::Expr> outputs;
    try {
      outputs = onnx_import::converter_table().find(node.op_type)->second(ctx);
    } catch (const Error& error) {
      throw Error(path_ + ": " + where + ": " + error.what());
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
  const std::string& path_;
  std::unordered_set<std::string> used_;
  std::unordered_map<std::string, ir::Expr> env_;
  // Names that exist but cannot be used, with the reason (unsupported dtype, output not computed).
  std::unordered_map<std::string, std::string> unavailable_;
  std::vector<ir::Var> params_;
  std::string shape_hint_;  // inputs with non-static dims, for NodeContext::shape_dict_hint
};

}  // namespace

ir::Module import_onnx(const std::string& path, const ShapeDict& shape_dict) {
  OnnxModel model = onnx_import::read_onnx_model(path);
  return GraphBuilder(model, shape_dict, path).build();
}

}  // namespace kiln::frontend
