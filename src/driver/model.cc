// kiln::load and kiln::Model: format detection, shape overrides, statistics.
#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "driver/model_formats.h"
#include "frontend/frontend.h"
#include "ir/functor.h"
#include "ir/module.h"
#include "ir/op.h"
#include "ir/printer.h"
#include "ir/serializer.h"
#include "ir/verifier.h"
#include "kiln/kiln.h"

namespace kiln {

namespace {

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// Format names and the extensions that select them.
struct FormatInfo {
  std::string name;
  std::vector<std::string> extensions;
  bool supported;
};

const std::vector<FormatInfo>& formats() {
  static const std::vector<FormatInfo> kFormats = {
      {"onnx", {".onnx"}, true},           {"kiln", {".kiln"}, true},
      {"tflite", {".tflite"}, false},      {"pytorch", {".pt", ".pth", ".pt2", ".zip"}, false},
      {"keras", {".h5", ".keras"}, false}, {"tensorflow", {".pb"}, false},
  };
  return kFormats;
}

// The formats that load today, for messages that tell the user what to pass.
std::string format_list() {
  std::string text;
  for (const FormatInfo& format : formats()) {
    if (format.supported) text += (text.empty() ? "" : ", ") + format.name;
  }
  return text;
}

std::string detect_format(const std::string& path) {
  if (ir::is_model_file(path)) return "kiln";
  std::string extension = lower(std::filesystem::path(path).extension().string());
  for (const FormatInfo& format : formats()) {
    for (const std::string& known : format.extensions) {
      if (extension == known) return format.name;
    }
  }
  throw Error("failed to infer the model format of '" + path + "' from its extension '" +
              extension + "'; pass model_format (--model-format), one of: " + format_list());
}

TensorInfo info_of(const std::string& name, const ir::TensorType& type) {
  TensorInfo info;
  info.name = name;
  info.dtype = type.dtype;
  for (const ir::Dim& dim : type.shape) {
    info.shape.push_back(dim.is_static() ? dim.value() : -1);
    info.dim_names.push_back(dim.is_static() ? "" : dim.symbol_name());
  }
  return info;
}

// Replaces graph inputs (by node) and remakes every node that depends on them.
class Rebinder : public ir::ExprMutator {
 public:
  explicit Rebinder(const std::map<const ir::ExprNode*, ir::Expr>& vars) : vars_(vars) {}

 protected:
  ir::Expr rewrite(const ir::Expr& node, const std::vector<ir::Expr>& new_children) override {
    auto it = vars_.find(node.get());
    if (it != vars_.end()) return it->second;
    return rebuild(node, new_children);
  }

 private:
  const std::map<const ir::ExprNode*, ir::Expr>& vars_;
};

std::string input_list(const ir::Module& module) {
  std::string existing;
  for (const ir::Var& input : module.inputs()) {
    existing += (existing.empty() ? "'" : ", '") + input->name + "' " + input->type().to_string();
  }
  return existing.empty() ? "(none)" : existing;
}

// Turns inputs of a loaded Kiln model into constants (ONNX does it while importing, so that
// converters see the values).
ir::Module apply_constant_inputs(const ir::Module& module, const ConstantInputs& constants,
                                 const std::string& path) {
  std::map<const ir::ExprNode*, ir::Expr> rebound;
  std::vector<ir::Var> params;
  for (const auto& [name, value] : constants) {
    bool found = false;
    for (const ir::Var& input : module.inputs()) found = found || input->name == name;
    if (!found) {
      throw Error("constant_inputs names input '" + name + "', which " + path +
                  " does not have; its inputs are: " + input_list(module));
    }
  }
  for (const ir::Var& input : module.inputs()) {
    auto it = constants.find(input->name);
    if (it == constants.end()) {
      params.push_back(input);
      continue;
    }
    const ir::TensorType& declared = input->tensor_type();
    const Tensor& value = it->second;
    bool fits = declared.dtype == value.dtype() && declared.shape.size() == value.shape().size();
    for (size_t i = 0; fits && i < declared.shape.size(); ++i) {
      fits = !declared.shape[i].is_static() || declared.shape[i].value() == value.shape()[i];
    }
    if (!fits) {
      throw Error("constant_inputs gives input '" + input->name + "' a " +
                  ir::tensor_type(value.dtype(), value.shape()).to_string() + " value, but " +
                  path + " declares it as " + declared.to_string());
    }
    rebound[input.get()] = ir::ConstantNode::make(value, input->name);
  }
  try {
    ir::Expr body = Rebinder(rebound).mutate(module.main()->body);
    return module.with_main(ir::FunctionNode::make(params, body));
  } catch (const Error& error) {
    throw Error(path +
                ": the model does not accept the values in constant_inputs: " + error.what());
  }
}

// Rebinds the inputs of a loaded Kiln model to the shapes in `shape_dict` and re-infers every
// node (ONNX applies shape_dict while importing, so that shape subgraphs fold with it).
ir::Module apply_shape_dict(const ir::Module& module, const ShapeDict& shape_dict,
                            const std::string& path) {
  std::map<std::string, ir::Var> replacements;
  for (const auto& [name, shape] : shape_dict) {
    bool found = false;
    for (const ir::Var& input : module.inputs()) found = found || input->name == name;
    if (!found) {
      throw Error("shape_dict names input '" + name + "', which " + path +
                  " does not have; its inputs are: " + input_list(module));
    }
  }
  std::vector<ir::Var> params;
  std::map<const ir::ExprNode*, ir::Expr> rebound;
  for (const ir::Var& input : module.inputs()) {
    auto it = shape_dict.find(input->name);
    if (it == shape_dict.end()) {
      params.push_back(input);
      continue;
    }
    ir::Var replacement =
        ir::VarNode::make(input->name, ir::tensor_type(input->tensor_type().dtype, it->second));
    rebound[input.get()] = replacement;
    params.push_back(replacement);
  }
  try {
    ir::Expr body = Rebinder(rebound).mutate(module.main()->body);
    return module.with_main(ir::FunctionNode::make(params, body));
  } catch (const Error& error) {
    throw Error(path + ": the model does not accept the shapes in shape_dict: " + error.what());
  }
}

}  // namespace

std::string TensorInfo::shape_string() const {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += shape[i] >= 0 ? std::to_string(shape[i]) : dim_names[i];
  }
  return text + "]";
}

Model::Model(std::shared_ptr<const ir::Module> module, std::string source_format,
             std::string source_path)
    : module_(std::move(module)),
      source_format_(std::move(source_format)),
      source_path_(std::move(source_path)) {}

std::vector<TensorInfo> Model::inputs() const {
  std::vector<TensorInfo> infos;
  for (const ir::Var& input : module_->inputs()) {
    infos.push_back(info_of(input->name, input->tensor_type()));
  }
  return infos;
}

std::vector<TensorInfo> Model::outputs() const {
  std::vector<TensorInfo> infos;
  std::vector<ir::Expr> outputs = module_->outputs();
  for (size_t i = 0; i < outputs.size(); ++i) {
    infos.push_back(info_of(module_->output_names()[i], outputs[i]->type().as_tensor()));
  }
  return infos;
}

std::string Model::summary() const { return ir::print_module(*module_); }

void Model::save(const std::string& path) const { ir::save_module(*module_, path); }

std::vector<std::pair<std::string, Tensor>> Model::params() const {
  std::vector<std::pair<std::string, Tensor>> result;
  std::map<std::string, int> seen;
  for (const ir::Constant& constant : module_->constants()) {
    std::string name =
        constant->name.empty() ? "const_" + std::to_string(result.size()) : constant->name;
    if (seen[name]++ > 0) name += "." + std::to_string(seen[name] - 1);
    result.emplace_back(name, constant->value);
  }
  return result;
}

ModelStats Model::stats() const {
  ModelStats stats;
  for (const ir::Constant& constant : module_->constants()) {
    ++stats.num_constants;
    if (dtype_is_float(constant->value.dtype())) stats.num_params += constant->value.numel();
  }
  for (const ir::Expr& node : ir::post_order(module_->main()->body)) {
    const auto* call_node = ir::as<ir::CallNode>(node);
    if (call_node == nullptr) continue;
    ++stats.op_histogram[call_node->op.name];
    // A call without arguments materialises a constant (full: the large ConstantOfShape weights
    // that the importer leaves unfolded); its elements are parameters like any weight's.
    if (call_node->args.empty() && call_node->type().is_tensor() &&
        dtype_is_float(call_node->type().as_tensor().dtype) &&
        call_node->type().as_tensor().numel() > 0) {
      stats.num_params += call_node->type().as_tensor().numel();
    }
    int64_t macs = 0;
    if (call_node->op.macs) {
      std::vector<ir::Type> arg_types;
      for (const ir::Expr& arg : call_node->args) arg_types.push_back(arg->type());
      macs = call_node->op.macs(arg_types, call_node->attrs, call_node->type());
    }
    stats.macs += macs;
    if (macs > 0) {
      stats.flops += 2 * macs;
    } else if (call_node->type().is_tensor() && call_node->type().as_tensor().numel() > 0 &&
               call_node->op.pattern != ir::OpPattern::kInjective) {
      stats.flops += call_node->type().as_tensor().numel();
    }
  }
  return stats;
}

std::string Model::source_format() const { return source_format_; }

std::string Model::source_path() const { return source_path_; }

std::vector<std::string> known_model_formats() {
  std::vector<std::string> names;
  for (const FormatInfo& format : formats()) names.push_back(format.name);
  return names;
}

bool model_format_supported(const std::string& name) {
  for (const FormatInfo& format : formats()) {
    if (format.name == name) return format.supported;
  }
  return false;
}

Model load(const std::string& path, const ShapeDict& shape_dict, const std::string& model_format) {
  LoadOptions options;
  options.shape_dict = shape_dict;
  options.model_format = model_format;
  return load(path, options);
}

Model load(const std::string& path, const LoadOptions& options) {
  const ShapeDict& shape_dict = options.shape_dict;
  const std::string& model_format = options.model_format;
  std::error_code ignored;
  if (!std::filesystem::exists(path, ignored)) {
    throw Error("model file '" + path + "' does not exist");
  }
  if (std::filesystem::is_directory(path, ignored)) {
    throw Error("'" + path + "' is a directory, not a model file");
  }
  std::string format = model_format.empty() ? detect_format(path) : lower(model_format);
  auto known = std::find_if(formats().begin(), formats().end(),
                            [&](const FormatInfo& info) { return info.name == format; });
  if (known == formats().end()) {
    throw Error("unknown model format '" + model_format + "'; formats that load: " + format_list());
  }
  if (!known->supported) {
    throw Error("not supported yet: loading " + format + " models ('" + path +
                "'); Kiln imports onnx and kiln files today — export the model to ONNX");
  }
  ir::Module module;
  if (format == "onnx") {
    module = frontend::import_onnx(path, shape_dict, options.constant_inputs);
  } else {
    module = ir::load_module(path);
    if (!options.constant_inputs.empty()) {
      module = apply_constant_inputs(module, options.constant_inputs, path);
    }
    if (!shape_dict.empty()) module = apply_shape_dict(module, shape_dict, path);
  }
  // Callers feed inputs by name: two inputs of one name are the file's mistake, not Kiln's.
  std::set<std::string> input_names;
  for (const ir::Var& input : module.inputs()) {
    if (!input_names.insert(input->name).second) {
      throw Error(path + ": the model has two inputs named '" + input->name +
                  "'; input names must be unique (rename one in the model)");
    }
  }
  ir::verify_or_throw(module);
  return Model(std::make_shared<const ir::Module>(std::move(module)), format, path);
}

std::string version() { return KILN_VERSION; }

}  // namespace kiln
