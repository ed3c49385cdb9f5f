#include "runtime/graph_executor.h"

#include <algorithm>
#include <chrono>
#include <cstring>
#include <new>
#include <nlohmann/json.hpp>
#include <set>

#include "kiln/error.h"
#include "kiln/limits.h"
#include "runtime/thread_pool.h"

namespace kiln::runtime {

namespace {

using Json = nlohmann::json;

enum class TensorKind { kInput, kOutput, kParam, kIntermediate };

struct TensorEntry {
  TensorSpec spec;
  TensorKind kind = TensorKind::kIntermediate;
  size_t nbytes = 0;
  int64_t storage = -1;  // -1: a parameter bound by reference
  uint64_t offset = 0;
  void* data = nullptr;
};

struct NodeEntry {
  std::string kernel;
  std::string name;
  std::vector<std::string> ops;
  KilnKernel function = nullptr;
  size_t first_arg = 0;  // into Impl::args
};

std::string type_string(DType dtype, const std::vector<int64_t>& shape) {
  std::string text(dtype_name(dtype));
  text += "[";
  for (size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

[[noreturn]] void malformed(const std::string& what) {
  throw Error("the graph (mod.json) is malformed: " + what +
              " (the package is damaged or was written by another Kiln version; compile it again)");
}

const Json& field(const Json& object, const char* key, const std::string& where) {
  if (!object.is_object()) malformed(where + " must be an object");
  auto it = object.find(key);
  if (it == object.end()) malformed(where + " has no \"" + key + "\"");
  return *it;
}

uint64_t as_uint(const Json& value, const std::string& where) {
  if (!value.is_number_integer() || (!value.is_number_unsigned() && value.get<int64_t>() < 0)) {
    malformed(where + " must be a non-negative integer");
  }
  return value.get<uint64_t>();
}

std::string as_string(const Json& value, const std::string& where) {
  if (!value.is_string()) malformed(where + " must be a string");
  return value.get<std::string>();
}

const Json& as_array(const Json& value, const std::string& where) {
  if (!value.is_array()) malformed(where + " must be a list");
  return value;
}

// A list of tensor ids, each checked against the tensor count.
std::vector<size_t> tensor_ids(const Json& value, const std::string& where, size_t num_tensors) {
  std::vector<size_t> ids;
  for (size_t i = 0; i < as_array(value, where).size(); ++i) {
    std::string item = where + "[" + std::to_string(i) + "]";
    uint64_t id = as_uint(value[i], item);
    if (id >= num_tensors) {
      malformed(item + " = " + std::to_string(id) + " is not a tensor id (there are " +
                std::to_string(num_tensors) + " tensors)");
    }
    ids.push_back(static_cast<size_t>(id));
  }
  return ids;
}

TensorKind parse_kind(const std::string& text, const std::string& where) {
  if (text == "input") return TensorKind::kInput;
  if (text == "output") return TensorKind::kOutput;
  if (text == "param") return TensorKind::kParam;
  if (text == "intermediate") return TensorKind::kIntermediate;
  malformed(where + " = \"" + text +
            "\" is not one of \"input\", \"output\", \"param\", \"intermediate\"");
}

// Tensors whose storage a kernel may not overwrite after binding.
bool is_bound(TensorKind kind) { return kind == TensorKind::kInput || kind == TensorKind::kParam; }

}  // namespace

struct GraphExecutor::Impl {
  std::shared_ptr<KernelModule> module;
  std::vector<Tensor> storages;      // one aligned, zeroed allocation each
  std::vector<Tensor> bound_params;  // parameters referenced in place, kept alive
  std::vector<TensorEntry> tensors;
  std::vector<size_t> input_ids, output_ids;
  std::vector<TensorSpec> input_specs, output_specs;
  std::vector<NodeEntry> nodes;
  std::vector<size_t> arg_ids;  // every node's argument tensor ids, one node after the other
  std::vector<void*> args;      // the same as data pointers, built once all are bound
  size_t storage_bytes = 0;
  size_t param_bytes = 0;

  void parse(const Json& graph);
  // Checks one node's arguments against its kernel's signature (the module's kernel table):
  // count, dtype and element count of each, and that what the kernel writes is neither an input,
  // a parameter, nor memory another argument of the call reads (kernels assume no aliasing).
  void check_call(const std::string& where, const NodeEntry& node, const KilnKernelInfo& kernel,
                  const std::vector<size_t>& ids) const;
  void bind_params(const std::map<std::string, Tensor>& params);
  [[noreturn]] void kernel_failed(const NodeEntry& node, int32_t code) const;
};

void GraphExecutor::Impl::parse(const Json& graph) {
  auto format = graph.is_object() ? graph.find("format") : graph.end();
  if (format == graph.end() || !format->is_string() || format->get<std::string>() != "kiln-graph") {
    malformed("it is not a Kiln graph (\"format\" is not \"kiln-graph\")");
  }
  uint64_t version = as_uint(field(graph, "version", "the graph"), "\"version\"");
  if (version != 1) {
    throw Error("the graph (mod.json) has format version " + std::to_string(version) +
                ", this runtime reads version 1: compile the model again with this Kiln");
  }

  // Storages: sizes only; allocated after everything is validated.
  const Json& storage_list = as_array(field(graph, "storages", "the graph"), "\"storages\"");
  std::vector<uint64_t> storage_sizes;
  for (size_t i = 0; i < storage_list.size(); ++i) {
    std::string where = "storages[" + std::to_string(i) + "]";
    storage_sizes.push_back(as_uint(field(storage_list[i], "nbytes", where), where + ".nbytes"));
    // Storages are byte tensors (kMaxTensorElements bytes at most).
    if (storage_sizes.back() > static_cast<uint64_t>(kMaxTensorElements)) {
      malformed(where + ".nbytes = " + std::to_string(storage_sizes.back()) + " is more than " +
                std::to_string(kMaxTensorElements) + " bytes");
    }
  }

  const Json& tensor_list = as_array(field(graph, "tensors", "the graph"), "\"tensors\"");
  std::vector<size_t> storage_users(storage_sizes.size(), 0);
  for (size_t i = 0; i < tensor_list.size(); ++i) {
    const Json& item = tensor_list[i];
    std::string where = "tensors[" + std::to_string(i) + "]";
    TensorEntry entry;
    entry.spec.name = as_string(field(item, "name", where), where + ".name");
    where += " ('" + entry.spec.name + "')";
    std::string dtype = as_string(field(item, "dtype", where), where + ".dtype");
    auto parsed_dtype = dtype_from_name(dtype);
    if (!parsed_dtype) malformed(where + " has an unknown dtype '" + dtype + "'");
    entry.spec.dtype = *parsed_dtype;
    const Json& shape = as_array(field(item, "shape", where), where + ".shape");
    uint64_t numel = 1;
    for (const Json& dim : shape) {
      uint64_t extent = as_uint(dim, where + ".shape");
      // Tensors are limited to kMaxTensorElements, which also keeps nbytes from overflowing.
      constexpr auto kMax = static_cast<uint64_t>(kMaxTensorElements);
      if (extent > kMax || (extent != 0 && numel > kMax / extent)) {
        malformed(where + " is too large (more than " + std::to_string(kMax) + " elements)");
      }
      numel *= extent;
      entry.spec.shape.push_back(static_cast<int64_t>(extent));
    }
    entry.nbytes = static_cast<size_t>(numel) * dtype_size(entry.spec.dtype);
    entry.kind =
        parse_kind(as_string(field(item, "kind", where), where + ".kind"), where + ".kind");

    auto storage = item.find("storage");
    if (storage == item.end() || storage->is_null()) {
      if (entry.kind != TensorKind::kParam) malformed(where + " has no \"storage\"");
    } else {
      uint64_t id = as_uint(*storage, where + ".storage");
      if (id >= storage_sizes.size()) {
        malformed(where + ".storage = " + std::to_string(id) + " is not a storage id (there are " +
                  std::to_string(storage_sizes.size()) + " storages)");
      }
      entry.storage = static_cast<int64_t>(id);
      auto offset = item.find("offset");
      entry.offset = offset == item.end() ? 0 : as_uint(*offset, where + ".offset");
      // Kernels may use aligned vector loads on every buffer.
      if (entry.offset % Tensor::kAlignment != 0) {
        malformed(where + ".offset = " + std::to_string(entry.offset) + " is not a multiple of " +
                  std::to_string(Tensor::kAlignment));
      }
      uint64_t size = storage_sizes[id];
      if (entry.offset > size || entry.nbytes > size - entry.offset) {
        malformed(where + " (" + std::to_string(entry.nbytes) + " bytes at offset " +
                  std::to_string(entry.offset) + ") does not fit in storage " + std::to_string(id) +
                  " (" + std::to_string(size) + " bytes)");
      }
      ++storage_users[id];
    }
    tensors.push_back(std::move(entry));
  }

  // Inputs and parameters keep their values across runs: their storage must be theirs alone.
  for (const TensorEntry& entry : tensors) {
    if (is_bound(entry.kind) && entry.storage >= 0 &&
        storage_users[static_cast<size_t>(entry.storage)] != 1) {
      malformed("tensor '" + entry.spec.name + "' (an input or parameter) shares storage " +
                std::to_string(entry.storage) + " with another tensor");
    }
  }

  input_ids = tensor_ids(field(graph, "inputs", "the graph"), "inputs", tensors.size());
  output_ids = tensor_ids(field(graph, "outputs", "the graph"), "outputs", tensors.size());
  std::vector<size_t> param_ids =
      tensor_ids(field(graph, "params", "the graph"), "params", tensors.size());
  auto check_listed = [&](const std::vector<size_t>& ids, TensorKind kind, const char* list) {
    std::set<std::string> names;
    for (size_t id : ids) {
      const TensorEntry& entry = tensors[id];
      if (entry.kind != kind) {
        malformed(std::string("\"") + list + "\" lists tensor " + std::to_string(id) + " ('" +
                  entry.spec.name + "'), which is not of that kind");
      }
      if (!names.insert(entry.spec.name).second) {
        malformed(std::string("\"") + list + "\" names '" + entry.spec.name + "' twice");
      }
    }
    for (size_t id = 0; id < tensors.size(); ++id) {
      if (tensors[id].kind == kind && std::find(ids.begin(), ids.end(), id) == ids.end()) {
        malformed("tensor '" + tensors[id].spec.name + "' is missing from \"" + list + "\"");
      }
    }
  };
  check_listed(input_ids, TensorKind::kInput, "inputs");
  check_listed(param_ids, TensorKind::kParam, "params");
  for (size_t id : input_ids) input_specs.push_back(tensors[id].spec);
  for (size_t id : output_ids) output_specs.push_back(tensors[id].spec);

  const Json& node_list = as_array(field(graph, "nodes", "the graph"), "\"nodes\"");
  std::vector<std::vector<size_t>> node_args;
  for (size_t i = 0; i < node_list.size(); ++i) {
    const Json& item = node_list[i];
    std::string where = "nodes[" + std::to_string(i) + "]";
    NodeEntry node;
    node.kernel = as_string(field(item, "kernel", where), where + ".kernel");
    auto name = item.find("name");
    node.name = name == item.end() ? "" : as_string(*name, where + ".name");
    auto ops = item.find("ops");
    if (ops != item.end()) {
      for (const Json& op : as_array(*ops, where + ".ops")) {
        node.ops.push_back(as_string(op, where + ".ops"));
      }
    }
    std::vector<size_t> ids =
        tensor_ids(field(item, "args", where), where + ".args", tensors.size());
    auto outputs = item.find("num_outputs");
    uint64_t num_outputs = outputs == item.end() ? 1 : as_uint(*outputs, where + ".num_outputs");
    if (num_outputs > ids.size()) malformed(where + ".num_outputs exceeds its argument count");
    for (size_t k = ids.size() - num_outputs; k < ids.size(); ++k) {
      if (is_bound(tensors[ids[k]].kind)) {
        malformed(where + " (kernel '" + node.kernel + "') writes to '" +
                  tensors[ids[k]].spec.name + "', an input or parameter");
      }
    }
    const KilnKernelInfo* kernel = module->find(node.kernel);
    if (kernel == nullptr) {
      throw Error("the compiled module has no kernel '" + node.kernel + "' (node '" + node.name +
                  "' of the graph): mod.so and mod.json do not belong together; compile again");
    }
    check_call(where, node, *kernel, ids);
    node.function = kernel->function;
    nodes.push_back(std::move(node));
    node_args.push_back(std::move(ids));
  }

  // Everything is valid: allocate (zeroed, so that a run before set_input is deterministic).
  for (uint64_t size : storage_sizes) {
    try {
      storages.emplace_back(DType::kUInt8, std::vector<int64_t>{static_cast<int64_t>(size)});
    } catch (const std::bad_alloc&) {
      throw Error("out of memory allocating " + std::to_string(size) + " bytes for the graph");
    }
    storage_bytes += size;
  }
  for (TensorEntry& entry : tensors) {
    if (entry.storage < 0) continue;
    entry.data =
        storages[static_cast<size_t>(entry.storage)].mutable_data_as<std::byte>() + entry.offset;
  }
  for (size_t i = 0; i < nodes.size(); ++i) {
    nodes[i].first_arg = arg_ids.size();
    arg_ids.insert(arg_ids.end(), node_args[i].begin(), node_args[i].end());
  }
}

void GraphExecutor::Impl::check_call(const std::string& where, const NodeEntry& node,
                                     const KilnKernelInfo& kernel,
                                     const std::vector<size_t>& ids) const {
  std::string call = "node '" + node.name + "' (" + where + ", kernel '" + node.kernel + "')";
  auto mismatch = [&](const std::string& what) {
    throw Error("the graph (mod.json) does not match the compiled module (mod.so): " + call + " " +
                what + " (the package is damaged or was modified; compile it again)");
  };
  if (ids.size() != kernel.num_params) {
    mismatch("passes " + std::to_string(ids.size()) + " arguments, the kernel takes " +
             std::to_string(kernel.num_params));
  }
  for (size_t k = 0; k < ids.size(); ++k) {
    const KilnKernelParam& param = kernel.params[k];
    const TensorEntry& tensor = tensors[ids[k]];
    std::string got =
        "'" + tensor.spec.name + "' " + type_string(tensor.spec.dtype, tensor.spec.shape);
    uint64_t numel = 1;
    for (int64_t dim : tensor.spec.shape) numel *= static_cast<uint64_t>(dim);
    if (dtype_name(tensor.spec.dtype) != param.dtype || numel != param.num_elements) {
      mismatch("argument " + std::to_string(k) + ": the kernel expects " + param.dtype + " with " +
               std::to_string(param.num_elements) + " elements, got " + got + " (" +
               std::to_string(numel) + " elements)");
    }
    if ((param.flags & KILN_PARAM_WRITTEN) == 0) continue;
    if (is_bound(tensor.kind)) {
      mismatch("argument " + std::to_string(k) + ": the kernel writes it, and " + got +
               " is an input or parameter");
    }
    for (size_t other = 0; other < ids.size(); ++other) {
      const TensorEntry& read = tensors[ids[other]];
      bool overlaps = other != k && read.storage >= 0 && read.storage == tensor.storage &&
                      read.nbytes > 0 && tensor.nbytes > 0 &&
                      read.offset < tensor.offset + tensor.nbytes &&
                      tensor.offset < read.offset + read.nbytes;
      if (overlaps) {
        mismatch("argument " + std::to_string(k) + ": the kernel writes " + got +
                 ", which overlaps argument " + std::to_string(other) + " ('" + read.spec.name +
                 "') in storage " + std::to_string(tensor.storage));
      }
    }
  }
}

void GraphExecutor::Impl::bind_params(const std::map<std::string, Tensor>& params) {
  for (TensorEntry& entry : tensors) {
    if (entry.kind != TensorKind::kParam) continue;
    std::string expected = type_string(entry.spec.dtype, entry.spec.shape);
    auto it = params.find(entry.spec.name);
    if (it == params.end() || !it->second.defined()) {
      throw Error("parameter '" + entry.spec.name + "' (" + expected +
                  ") is missing from the parameters (mod.params); compile the model again");
    }
    const Tensor& value = it->second;
    if (value.dtype() != entry.spec.dtype || value.shape() != entry.spec.shape) {
      throw Error("parameter '" + entry.spec.name + "' expects " + expected + ", got " +
                  type_string(value.dtype(), value.shape()) + " in the parameters (mod.params)");
    }
    if (entry.storage >= 0) {
      if (entry.nbytes > 0) std::memcpy(entry.data, value.data(), entry.nbytes);
    } else {
      // Shared, not copied: kernels only read parameters. Tensors are always 64-byte aligned.
      entry.data = const_cast<void*>(value.data());
      bound_params.push_back(value);
    }
    param_bytes += entry.nbytes;
  }
  // Every tensor has its data pointer now: build the kernels' argument arrays, once.
  for (size_t id : arg_ids) args.push_back(tensors[id].data);
}

void GraphExecutor::Impl::kernel_failed(const NodeEntry& node, int32_t code) const {
  std::string message = "kernel '" + node.kernel + "' (node '" + node.name +
                        "') failed with code " + std::to_string(code);
  std::string detail = take_last_error();
  if (!detail.empty()) message += ": " + detail;
  throw Error(message);
}

GraphExecutor::GraphExecutor(const std::string& graph_json, std::shared_ptr<KernelModule> module,
                             const std::map<std::string, Tensor>& params)
    : impl_(std::make_unique<Impl>()) {
  KILN_CHECK(module != nullptr);
  impl_->module = std::move(module);
  Json graph;
  try {
    graph = Json::parse(graph_json);
  } catch (const Json::exception& error) {
    throw Error(std::string("the graph (mod.json) is not valid JSON: ") + error.what());
  }
  try {
    impl_->parse(graph);
  } catch (const Json::exception& error) {
    // Every access above is checked first; a JSON exception here is a gap in those checks, still
    // the file's fault, never a bare exception in the caller's face.
    malformed(error.what());
  }
  impl_->bind_params(params);
}

GraphExecutor::~GraphExecutor() = default;

const std::vector<TensorSpec>& GraphExecutor::inputs() const { return impl_->input_specs; }

const std::vector<TensorSpec>& GraphExecutor::outputs() const { return impl_->output_specs; }

void GraphExecutor::set_input(const std::string& name, const Tensor& value) {
  for (size_t id : impl_->input_ids) {
    TensorEntry& entry = impl_->tensors[id];
    if (entry.spec.name != name) continue;
    if (!value.defined() || value.dtype() != entry.spec.dtype ||
        value.shape() != entry.spec.shape) {
      std::string got = value.defined() ? type_string(value.dtype(), value.shape()) : "nothing";
      throw Error("input '" + name + "' expects " +
                  type_string(entry.spec.dtype, entry.spec.shape) + ", got " + got);
    }
    if (entry.nbytes > 0) std::memcpy(entry.data, value.data(), entry.nbytes);
    return;
  }
  std::string known;
  for (const TensorSpec& spec : impl_->input_specs) {
    known += (known.empty() ? "" : ", ") +
             ("'" + spec.name + "' " + type_string(spec.dtype, spec.shape));
  }
  throw Error("the model has no input '" + name +
              "'; its inputs are: " + (known.empty() ? "(none)" : known));
}

void GraphExecutor::run() {
  set_last_error({});
  void** args = impl_->args.data();
  for (const NodeEntry& node : impl_->nodes) {
    int32_t code = node.function(args + node.first_arg);
    if (code != 0) impl_->kernel_failed(node, code);
  }
}

Tensor GraphExecutor::get_output(size_t index) const {
  if (index >= impl_->output_ids.size()) {
    throw Error("output index " + std::to_string(index) + " is out of range (the model has " +
                std::to_string(impl_->output_ids.size()) + " outputs)");
  }
  const TensorEntry& entry = impl_->tensors[impl_->output_ids[index]];
  return Tensor::from_bytes(entry.spec.dtype, entry.spec.shape, entry.data, entry.nbytes);
}

size_t GraphExecutor::storage_bytes() const { return impl_->storage_bytes; }

size_t GraphExecutor::param_bytes() const { return impl_->param_bytes; }

std::vector<GraphExecutor::KernelTiming> GraphExecutor::profile(int runs) {
  if (runs < 1) throw Error("profile needs at least one run, got " + std::to_string(runs));
  std::vector<KernelTiming> timings;
  for (const NodeEntry& node : impl_->nodes)
    timings.push_back({node.kernel, node.name, node.ops, 0.0, 0});
  set_last_error({});
  void** args = impl_->args.data();
  for (int run = 0; run < runs; ++run) {
    for (size_t i = 0; i < impl_->nodes.size(); ++i) {
      const NodeEntry& node = impl_->nodes[i];
      auto start = std::chrono::steady_clock::now();
      int32_t code = node.function(args + node.first_arg);
      auto stop = std::chrono::steady_clock::now();
      if (code != 0) impl_->kernel_failed(node, code);
      timings[i].seconds += std::chrono::duration<double>(stop - start).count();
      ++timings[i].calls;
    }
  }
  return timings;
}

}  // namespace kiln::runtime
