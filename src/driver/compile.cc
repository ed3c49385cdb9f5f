// kiln::compile: graph IR -> one kernel per operator call -> LLVM -> package.
//
// The steps, in order (each a function below):
//   check_static_shapes   every value has a static shape (symbolic dims: use shape_dict)
//   plan_kernels          per call: compute + schedule -> loop IR kernel (identical calls share one)
//   add_output_copies     outputs that are inputs, weights or repeated get their own copy kernel
//   plan_memory           intermediate tensors share storages by liveness
//   generate code         LLVM module -> shared library
//   write_package         mod.so + mod.json + mod.params + metadata.json
#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <unordered_map>

#include "codegen/llvm/llvm_module.h"
#include "codegen/target.h"
#include "ir/functor.h"
#include "ir/module.h"
#include "ir/op.h"
#include "ir/printer.h"
#include "kiln/kiln.h"
#include "op/op_impl.h"
#include "runtime/package.h"
#include "te/lower.h"
#include "tir/pipeline.h"
#include "tir/printer.h"

namespace kiln {

namespace {

using nlohmann::json;

// One tensor of the compiled graph (what mod.json calls a tensor).
struct GraphTensor {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
  std::string kind;  // input, output, param, intermediate
  int storage = -1;
  size_t nbytes() const {
    int64_t count = 1;
    for (int64_t dim : shape) count *= dim;
    return static_cast<size_t>(count) * dtype_size(dtype);
  }
};

struct GraphNode {
  std::string kernel;
  std::vector<int> args;  // inputs then outputs
  int num_outputs = 1;
  std::string name;
  std::vector<std::string> ops;
};

void check_static_shapes(const ir::Module& module, const std::string& source) {
  for (const ir::Expr& node : ir::post_order(module.main()->body)) {
    std::vector<ir::Type> types;
    if (node->type().is_tensor()) {
      types.push_back(node->type());
    } else {
      types = node->type().fields();
    }
    for (const ir::Type& type : types) {
      if (type.is_tensor() && !type.as_tensor().is_static()) {
        std::string what = "a value";
        if (const auto* var = ir::as<ir::VarNode>(node)) what = "input '" + var->name + "'";
        if (const auto* call = ir::as<ir::CallNode>(node)) {
          what = "the result of " + call->op.name +
                 (call->source_name.empty() ? "" : " (node '" + call->source_name + "')");
        }
        throw Error("cannot compile " + source + ": " + what + " has the symbolic shape " +
                    type.to_string() +
                    "; Kiln compiles for static shapes — load the model with shape_dict (or "
                    "--input-shapes) giving every input a fixed shape");
      }
    }
  }
}

std::string attrs_key(const ir::Attrs& attrs) {
  std::string key;
  for (const auto& [name, value] : attrs.values()) key += name + "=" + ir::attr_value_to_string(value) + ";";
  return key;
}

class GraphCompiler {
 public:
  GraphCompiler(const ir::Module& module, const codegen::Target& target)
      : module_(module), target_(target) {
    context_.vector_bits = target.vector_bits();
    context_.num_cores = target.num_cores > 0 ? target.num_cores : 2;
  }

  void build(const std::string& source) {
    std::vector<std::string> unsupported;
    for (const ir::Expr& node : ir::post_order(module_.main()->body)) {
      if (const auto* call = ir::as<ir::CallNode>(node)) {
        if (op::find_impl(call->op.name) == nullptr) {
          std::string entry = call->op.name;
          if (!call->source_name.empty()) entry += " (node '" + call->source_name + "')";
          if (std::find(unsupported.begin(), unsupported.end(), entry) == unsupported.end()) {
            unsupported.push_back(entry);
          }
        }
      }
    }
    if (!unsupported.empty()) {
      std::string message = "cannot compile " + source + ": " +
                            std::to_string(unsupported.size()) +
                            " operators are not supported by code generation yet: ";
      for (size_t i = 0; i < unsupported.size(); ++i) message += (i ? ", " : "") + unsupported[i];
      throw Error(message);
    }
    for (const ir::Expr& node : ir::post_order(module_.main()->body)) visit(node);
    mark_outputs();
  }

  std::vector<GraphTensor> tensors;
  std::vector<GraphNode> nodes;
  std::vector<int> inputs;
  std::vector<int> outputs;
  std::vector<int> params;
  std::map<std::string, Tensor> param_values;
  std::vector<tir::PrimFunc> kernels;

 private:
  int add_tensor(std::string name, const ir::TensorType& type, std::string kind) {
    tensors.push_back({std::move(name), type.dtype, type.static_shape(), std::move(kind), -1});
    return static_cast<int>(tensors.size()) - 1;
  }

  std::string unique_param_name(const std::string& base) {
    std::string name = base.empty() ? "const_" + std::to_string(param_values.size()) : base;
    std::string candidate = name;
    for (int suffix = 1; param_values.count(candidate); ++suffix) {
      candidate = name + "." + std::to_string(suffix);
    }
    return candidate;
  }

  void visit(const ir::Expr& node) {
    switch (node->kind()) {
      case ir::ExprKind::kVar: {
        const auto* var = ir::as<ir::VarNode>(node);
        int id = add_tensor(var->name, var->tensor_type(), "input");
        inputs.push_back(id);
        values_[node.get()] = {id};
        break;
      }
      case ir::ExprKind::kConstant: {
        const auto* constant = ir::as<ir::ConstantNode>(node);
        std::string name = unique_param_name(constant->name);
        int id = add_tensor(name, constant->type().as_tensor(), "param");
        param_values[name] = constant->value;
        params.push_back(id);
        values_[node.get()] = {id};
        break;
      }
      case ir::ExprKind::kCall: visit_call(*ir::as<ir::CallNode>(node), node.get()); break;
      case ir::ExprKind::kTuple: {
        std::vector<int> ids;
        for (const ir::Expr& field : ir::as<ir::TupleNode>(node)->fields) {
          const auto& field_ids = values_.at(field.get());
          ids.insert(ids.end(), field_ids.begin(), field_ids.end());
        }
        values_[node.get()] = ids;
        break;
      }
      case ir::ExprKind::kTupleGetItem: {
        const auto* item = ir::as<ir::TupleGetItemNode>(node);
        values_[node.get()] = {values_.at(item->tuple.get()).at(static_cast<size_t>(item->index))};
        break;
      }
      case ir::ExprKind::kFunction: KILN_CHECK(false) << "nested function"; break;
    }
  }

  void visit_call(const ir::CallNode& call, const ir::ExprNode* node) {
    std::vector<int> arg_ids;
    std::vector<te::Tensor> placeholders;
    std::string key = call.op.name + "(";
    for (size_t i = 0; i < call.args.size(); ++i) {
      const auto& ids = values_.at(call.args[i].get());
      KILN_CHECK(ids.size() == 1) << call.op.name << ": tuple argument";
      arg_ids.push_back(ids[0]);
      const ir::TensorType& type = call.args[i]->type().as_tensor();
      placeholders.push_back(te::placeholder(type.static_shape(), tir::DataType{type.dtype, 1},
                                             "arg" + std::to_string(i)));
      key += type.to_string() + ",";
    }
    key += ")" + attrs_key(call.attrs);

    std::vector<ir::TensorType> result_types;
    if (call.type().is_tensor()) {
      result_types.push_back(call.type().as_tensor());
    } else {
      for (const ir::Type& field : call.type().fields()) result_types.push_back(field.as_tensor());
    }
    std::vector<int> out_ids;
    std::string base = call.source_name.empty() ? call.op.name : call.source_name;
    for (size_t i = 0; i < result_types.size(); ++i) {
      out_ids.push_back(add_tensor(result_types.size() == 1 ? base : base + ":" + std::to_string(i),
                                   result_types[i], "intermediate"));
    }
    values_[node] = out_ids;

    auto known = kernel_names_.find(key);
    std::string kernel_name;
    if (known != kernel_names_.end()) {
      kernel_name = known->second;
    } else {
      kernel_name = "k" + std::to_string(kernels.size()) + "_" + call.op.name;
      kernels.push_back(make_kernel(call, placeholders, kernel_name));
      kernel_names_[key] = kernel_name;
    }
    GraphNode graph_node;
    graph_node.kernel = kernel_name;
    graph_node.args = arg_ids;
    graph_node.args.insert(graph_node.args.end(), out_ids.begin(), out_ids.end());
    graph_node.num_outputs = static_cast<int>(out_ids.size());
    graph_node.name = call.source_name;
    graph_node.ops = {call.op.name};
    nodes.push_back(std::move(graph_node));
  }

  tir::PrimFunc make_kernel(const ir::CallNode& call, const std::vector<te::Tensor>& placeholders,
                            const std::string& kernel_name) {
    const op::OpImpl* impl = op::find_impl(call.op.name);
    KILN_CHECK(impl != nullptr);
    try {
      std::vector<te::Tensor> results = impl->compute(placeholders, call.attrs, call.type());
      te::Schedule schedule(results);
      if (impl->schedule) {
        impl->schedule(schedule, results, context_);
      } else {
        op::default_schedule(schedule, results, context_);
      }
      std::vector<te::Tensor> args = placeholders;
      args.insert(args.end(), results.begin(), results.end());
      tir::PrimFunc func = te::lower(schedule, args, kernel_name);
      return tir::lower_tir(std::move(func));
    } catch (const Error& error) {
      throw Error("cannot compile " + call.op.name +
                  (call.source_name.empty() ? "" : " (node '" + call.source_name + "')") + ": " +
                  error.what());
    }
  }

  // Every model output gets a tensor of kind "output" of its own. An output that is an input, a
  // weight, or the same value as an earlier output is copied by an identity kernel.
  void mark_outputs() {
    std::set<int> taken;
    const auto& names = module_.output_names();
    std::vector<ir::Expr> output_exprs = module_.outputs();
    for (size_t i = 0; i < output_exprs.size(); ++i) {
      int id = values_.at(output_exprs[i].get()).at(0);
      if (tensors[static_cast<size_t>(id)].kind != "intermediate" || taken.count(id)) {
        id = add_copy(id, names[i]);
      }
      taken.insert(id);
      tensors[static_cast<size_t>(id)].kind = "output";
      tensors[static_cast<size_t>(id)].name = names[i];
      outputs.push_back(id);
    }
  }

  int add_copy(int source, const std::string& name) {
    const GraphTensor& from = tensors[static_cast<size_t>(source)];
    ir::TensorType type = ir::tensor_type(from.dtype, from.shape);
    int id = add_tensor(name, type, "intermediate");
    std::string key = "copy:" + type.to_string();
    auto known = kernel_names_.find(key);
    std::string kernel_name;
    if (known != kernel_names_.end()) {
      kernel_name = known->second;
    } else {
      kernel_name = "k" + std::to_string(kernels.size()) + "_copy";
      te::Tensor in = te::placeholder(from.shape, tir::DataType{from.dtype, 1}, "arg0");
      te::Tensor out = te::compute(
          from.shape,
          [&](const te::Indices& index) {
            return in(std::vector<tir::PrimExpr>(index.begin(), index.end()));
          },
          "copy");
      te::Schedule schedule({out});
      op::default_schedule(schedule, {out}, context_);
      kernels.push_back(tir::lower_tir(te::lower(schedule, {in, out}, kernel_name)));
      kernel_names_[key] = kernel_name;
    }
    nodes.push_back({kernel_name, {source, id}, 1, name, {"copy"}});
    return id;
  }

  const ir::Module& module_;
  codegen::Target target_;
  op::ScheduleContext context_;
  std::unordered_map<const ir::ExprNode*, std::vector<int>> values_;
  std::map<std::string, std::string> kernel_names_;
};

// Assigns storages: inputs, outputs and params get their own; intermediates share storages whose
// lifetimes do not overlap (a tensor lives from the node that writes it to its last reader; a
// node's outputs never share with its own inputs).
std::vector<size_t> plan_memory(std::vector<GraphTensor>& tensors,
                                const std::vector<GraphNode>& nodes) {
  std::vector<size_t> storage_sizes;
  std::vector<int> last_use(tensors.size(), -1);
  for (size_t n = 0; n < nodes.size(); ++n) {
    for (int id : nodes[n].args) last_use[static_cast<size_t>(id)] = static_cast<int>(n);
  }
  for (GraphTensor& tensor : tensors) {
    if (tensor.kind != "intermediate") {
      tensor.storage = static_cast<int>(storage_sizes.size());
      storage_sizes.push_back(tensor.nbytes());
    }
  }
  std::multimap<size_t, int> free_storages;  // size -> storage id
  for (size_t n = 0; n < nodes.size(); ++n) {
    const GraphNode& node = nodes[n];
    size_t first_output = node.args.size() - static_cast<size_t>(node.num_outputs);
    for (size_t a = first_output; a < node.args.size(); ++a) {
      GraphTensor& tensor = tensors[static_cast<size_t>(node.args[a])];
      if (tensor.kind != "intermediate" || tensor.storage >= 0) continue;
      size_t needed = tensor.nbytes();
      auto fit = free_storages.lower_bound(needed);
      if (fit != free_storages.end()) {
        tensor.storage = fit->second;
        free_storages.erase(fit);
      } else {
        tensor.storage = static_cast<int>(storage_sizes.size());
        storage_sizes.push_back(needed);
      }
    }
    for (size_t a = 0; a < node.args.size(); ++a) {
      size_t id = static_cast<size_t>(node.args[a]);
      const GraphTensor& tensor = tensors[id];
      if (tensor.kind != "intermediate" || last_use[id] != static_cast<int>(n)) continue;
      // Freed once, after its last reader (or right away when nothing reads it).
      size_t storage = static_cast<size_t>(tensor.storage);
      free_storages.emplace(storage_sizes[storage], tensor.storage);
    }
  }
  return storage_sizes;
}

json tensor_info_json(const std::string& name, DType dtype, const std::vector<int64_t>& shape) {
  return {{"name", name}, {"dtype", dtype_name(dtype)}, {"shape", shape}};
}

std::string graph_to_json(const GraphCompiler& graph, const std::vector<size_t>& storages) {
  json storage_items = json::array();
  for (size_t size : storages) storage_items.push_back({{"nbytes", size}});
  json tensor_items = json::array();
  for (const GraphTensor& tensor : graph.tensors) {
    tensor_items.push_back({{"name", tensor.name},
                            {"dtype", dtype_name(tensor.dtype)},
                            {"shape", tensor.shape},
                            {"storage", tensor.storage},
                            {"offset", 0},
                            {"kind", tensor.kind}});
  }
  json node_items = json::array();
  for (const GraphNode& node : graph.nodes) {
    node_items.push_back({{"kernel", node.kernel},
                          {"args", node.args},
                          {"num_outputs", node.num_outputs},
                          {"name", node.name},
                          {"ops", node.ops}});
  }
  json graph_json = {{"format", "kiln-graph"}, {"version", 1},          {"storages", storage_items},
                     {"tensors", tensor_items}, {"inputs", graph.inputs}, {"outputs", graph.outputs},
                     {"params", graph.params},  {"nodes", node_items}};
  return graph_json.dump(1);
}

std::string read_binary(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  if (!file) throw Error("cannot write '" + path + "'");
  file << text;
}

// A private temporary directory removed when this object goes away.
class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "kiln-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) throw Error("cannot create a temporary directory");
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string file(const std::string& name) const { return (std::filesystem::path(path_) / name).string(); }

 private:
  std::string path_;
};

}  // namespace

Package compile(const Model& model, const CompileOptions& options) {
  if (options.package_path.empty()) throw Error("compile needs a package path (package_path, -o)");
  if (options.opt_level < 0 || options.opt_level > 3) {
    throw Error("opt_level must be 0 to 3, got " + std::to_string(options.opt_level));
  }
  for (const std::string& format : options.dump_code) {
    if (format != "ll" && format != "asm" && format != "tir" && format != "ir") {
      throw Error("unknown dump_code format '" + format + "'; choose from ll, asm, tir, ir");
    }
  }
  codegen::Target target = codegen::parse_target(options.target);
  if (options.opt_level != 3) target.opt_level = options.opt_level;
  const ir::Module& module = model.module();
  std::string source = model.source_path().empty() ? "the model" : model.source_path();
  check_static_shapes(module, source);

  GraphCompiler graph(module, target);
  graph.build(source);
  std::vector<size_t> storages = plan_memory(graph.tensors, graph.nodes);

  std::unique_ptr<codegen::LLVMModule> code = codegen::LLVMModule::build(graph.kernels, target);
  TempDir temp;
  std::string library_path = temp.file("mod.so");
  code->write_shared_library(library_path);

  runtime::PackageContents contents;
  contents.library = read_binary(library_path);
  contents.graph_json = graph_to_json(graph, storages);
  contents.params = runtime::serialize_params(graph.param_values);
  json metadata;
  metadata["kiln_version"] = version();
  metadata["target"] = target.str();
  metadata["triple"] = target.effective_triple();
  metadata["source"] = model.source_path();
  metadata["num_kernels"] = graph.kernels.size();
  json inputs = json::array();
  for (int id : graph.inputs) {
    const GraphTensor& tensor = graph.tensors[static_cast<size_t>(id)];
    inputs.push_back(tensor_info_json(tensor.name, tensor.dtype, tensor.shape));
  }
  json outputs = json::array();
  for (int id : graph.outputs) {
    const GraphTensor& tensor = graph.tensors[static_cast<size_t>(id)];
    outputs.push_back(tensor_info_json(tensor.name, tensor.dtype, tensor.shape));
  }
  metadata["inputs"] = inputs;
  metadata["outputs"] = outputs;
  contents.metadata_json = metadata.dump(1);
  runtime::write_package(options.package_path, contents);

  for (const std::string& format : options.dump_code) {
    std::string path = options.package_path;
    if (format == "ll") write_text(path + ".ll", code->llvm_ir());
    if (format == "asm") write_text(path + ".s", code->assembly());
    if (format == "ir") write_text(path + ".ir", ir::print_module(module));
    if (format == "tir") {
      std::string text;
      for (const tir::PrimFunc& kernel : graph.kernels) text += tir::to_text(kernel) + "\n";
      write_text(path + ".tir", text);
    }
  }
  return Package(options.package_path);
}

}  // namespace kiln
