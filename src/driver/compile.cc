// kiln::compile: graph IR -> one kernel per fused group of operator calls -> LLVM -> package.
//
// The steps, in order (each a function below):
//   check_static_shapes   every value has a static shape (symbolic dims: use shape_dict)
//   (graph passes)        the optimising pipeline runs here (see compile())
//   fuse_ops              partition the calls into fused groups (src/transform/fuse_ops.h)
//   plan_kernels          per group: computes + inlining + schedule -> loop IR kernel (identical
//                         groups share one)
//   add_output_copies     outputs that are inputs, weights or repeated get their own copy kernel
//   plan_memory           intermediate tensors share storages by liveness
//   generate code         LLVM module -> shared library
//   write_package         mod.so + mod.json + mod.params + metadata.json
#include <algorithm>
#include <cctype>
#include <cerrno>
#include <chrono>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <unordered_map>
#include <unordered_set>

#include "codegen/llvm/llvm_module.h"
#include "codegen/target.h"
#include "driver/pipeline.h"
#include "ir/functor.h"
#include "ir/module.h"
#include "ir/op.h"
#include "ir/printer.h"
#include "kiln/kiln.h"
#include "kiln/limits.h"
#include "op/lower_util.h"
#include "op/op_impl.h"
#include "op/op_util.h"
#include "runtime/package.h"
#include "te/lower.h"
#include "tir/pipeline.h"
#include "tir/printer.h"
#include "transform/fuse_ops.h"

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
  std::string name;                // the anchor's (else the first call's) source name
  std::vector<std::string> ops;    // every fused operator, in order
  std::vector<std::string> names;  // their source names
};

// Indices that are constants after folding are checked here, at compile time, the way kernels
// check indices read at run time (tir::checked_index): counted from the end once when negative,
// then in range — else the same message, naming the node.
void check_constant_indices(const ir::Module& module, const std::string& source) {
  for (const ir::Expr& node : ir::post_order(module.main()->body)) {
    const auto* call = ir::as<ir::CallNode>(node);
    if (call == nullptr || call->args.size() < 2) continue;
    const std::string& op = call->op.name;
    const char* onnx_name = op == "gather"             ? "Gather"
                            : op == "gather_elements"  ? "GatherElements"
                            : op == "gather_nd"        ? "GatherND"
                            : op == "scatter_elements" ? "ScatterElements"
                            : op == "scatter_nd"       ? "ScatterND"
                                                       : nullptr;
    const auto* indices = ir::as<ir::ConstantNode>(call->args[1]);
    if (onnx_name == nullptr || indices == nullptr || !call->args[0]->type().is_tensor()) continue;
    const ir::TensorType& data_type = call->args[0]->type().as_tensor();
    if (!data_type.is_static()) continue;
    std::vector<int64_t> data_shape = data_type.static_shape();
    const Tensor& values = indices->value;
    // The data axis that index element i addresses.
    std::function<size_t(int64_t)> axis_of;
    if (op == "gather_nd" || op == "scatter_nd") {
      int64_t tuple = values.shape().empty() ? 1 : values.shape().back();
      size_t first = op == "gather_nd" ? static_cast<size_t>(call->attrs.get_int("batch_dims")) : 0;
      axis_of = [=](int64_t i) { return first + static_cast<size_t>(tuple > 0 ? i % tuple : 0); };
    } else {
      auto axis = static_cast<size_t>(op::normalize_axis(
          call->attrs.get_int("axis"), static_cast<int64_t>(data_shape.size()), op));
      axis_of = [=](int64_t) { return axis; };
    }
    for (int64_t i = 0; i < values.numel(); ++i) {
      size_t axis = axis_of(i);
      if (axis >= data_shape.size()) break;  // the type relation refuses such calls
      int64_t extent = data_shape[axis];
      int64_t index = values.element_as_int64(i);
      int64_t wrapped = index < 0 ? index + extent : index;
      if (wrapped < 0 || wrapped >= extent) {
        throw Error("cannot compile " + source + ": " + onnx_name +
                    (call->source_name.empty() ? "" : " node '" + call->source_name + "'") +
                    ": index " + std::to_string(index) + " is out of range for axis " +
                    std::to_string(axis) + " of size " + std::to_string(extent));
      }
    }
  }
}

// "input 'x'", "the result of gather (node 'g')", ... for messages.
std::string describe_value(const ir::Expr& node) {
  if (const auto* var = ir::as<ir::VarNode>(node)) return "input '" + var->name + "'";
  if (const auto* constant = ir::as<ir::ConstantNode>(node)) {
    return constant->name.empty() ? "a constant" : "constant '" + constant->name + "'";
  }
  if (const auto* call = ir::as<ir::CallNode>(node)) {
    return "the result of " + call->op.name +
           (call->source_name.empty() ? "" : " (node '" + call->source_name + "')");
  }
  return "a value";
}

// The runtime refuses a tensor of more than kMaxTensorElements elements, or (storages are byte
// tensors) bytes: refuse it here, before a package that could never run is written.
void check_tensor_size(const ir::TensorType& type, const std::string& what,
                       const std::string& source) {
  uint64_t numel = 1;
  bool too_large = false;
  constexpr auto kMax = static_cast<uint64_t>(kMaxTensorElements);
  for (int64_t dim : type.static_shape()) {
    auto extent = static_cast<uint64_t>(dim);
    if (extent > kMax || (extent != 0 && numel > kMax / extent)) {
      too_large = true;
      break;
    }
    numel *= extent;
  }
  too_large = too_large || numel * dtype_size(type.dtype) > kMax;
  if (too_large) {
    throw Error("cannot compile " + source + ": " + what + " (" + type.to_string() +
                ") is too large: a tensor may have at most " + std::to_string(kMax) +
                " (2^40) elements and bytes");
  }
}

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
        std::string what = describe_value(node);
        throw Error("cannot compile " + source + ": " + what + " has the symbolic shape " +
                    type.to_string() +
                    "; Kiln compiles for static shapes — load the model with shape_dict (or "
                    "--input-shapes) giving every input a fixed shape");
      }
      if (type.is_tensor()) check_tensor_size(type.as_tensor(), describe_value(node), source);
    }
  }
}

std::string attrs_key(const ir::Attrs& attrs) {
  std::string key;
  for (const auto& [name, value] : attrs.values())
    key += name + "=" + ir::attr_value_to_string(value) + ";";
  return key;
}

class GraphCompiler {
 public:
  GraphCompiler(const ir::Module& module, const codegen::Target& target,
                const tir::TirOptions& tir_options, std::string kernel_prefix)
      : module_(module),
        target_(target),
        tir_options_(tir_options),
        kernel_prefix_(std::move(kernel_prefix)) {
    context_.vector_bits = target.vector_bits();
    context_.num_cores = target.num_cores > 0 ? target.num_cores : 2;
  }

  void build(const std::string& source, const transform::FusionPlan& plan) {
    source_ = source;
    check_supported(source);
    // Inputs first, in the model's declared order and including inputs nothing reads (a caller
    // may feed every declared input); then weights in first-use order.
    for (const ir::Var& input : module_.inputs()) value_ids(input);
    for (const ir::Expr& node : ir::post_order(module_.main()->body)) {
      if (ir::as<ir::VarNode>(node) || ir::as<ir::ConstantNode>(node)) value_ids(node);
    }
    for (const transform::FusedGroup& group : plan.groups) plan_kernel(group);
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
  void check_supported(const std::string& source) const {
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
      std::string message = "cannot compile " + source + ": " + std::to_string(unsupported.size()) +
                            " operators are not supported by code generation yet: ";
      for (size_t i = 0; i < unsupported.size(); ++i) message += (i ? ", " : "") + unsupported[i];
      throw Error(message);
    }
  }

  int add_tensor(std::string name, const ir::TensorType& type, std::string kind) {
    // Graph passes may grow tensors (blocked layouts pad channels): checked again here.
    check_tensor_size(type, "tensor '" + name + "'", source_);
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

  // The tensor ids of a value (several for a tuple). Inputs and weights get their tensor on first
  // sight; calls have theirs once their group's kernel is planned (groups come in topological
  // order, so a group's inputs are always there).
  const std::vector<int>& value_ids(const ir::Expr& node) {
    auto known = values_.find(node.get());
    if (known != values_.end()) return known->second;
    std::vector<int> ids;
    switch (node->kind()) {
      case ir::ExprKind::kVar: {
        const auto* var = ir::as<ir::VarNode>(node);
        ids = {add_tensor(var->name, var->tensor_type(), "input")};
        inputs.push_back(ids[0]);
        break;
      }
      case ir::ExprKind::kConstant: {
        const auto* constant = ir::as<ir::ConstantNode>(node);
        std::string name = unique_param_name(constant->name);
        ids = {add_tensor(name, constant->type().as_tensor(), "param")};
        param_values[name] = constant->value;
        params.push_back(ids[0]);
        break;
      }
      case ir::ExprKind::kTuple:
        for (const ir::Expr& field : ir::as<ir::TupleNode>(node)->fields) {
          const std::vector<int>& field_ids = value_ids(field);
          ids.insert(ids.end(), field_ids.begin(), field_ids.end());
        }
        break;
      case ir::ExprKind::kTupleGetItem: {
        const auto* item = ir::as<ir::TupleGetItemNode>(node);
        ids = {value_ids(item->tuple).at(static_cast<size_t>(item->index))};
        break;
      }
      case ir::ExprKind::kCall:
        KILN_CHECK(false) << "compile: " << ir::as<ir::CallNode>(node)->op.name
                          << " is read before its kernel is planned";
        break;
      case ir::ExprKind::kFunction:
        KILN_CHECK(false) << "nested function";
        break;
    }
    return values_[node.get()] = std::move(ids);
  }

  static std::vector<ir::TensorType> result_types(const ir::CallNode& call) {
    if (call.type().is_tensor()) return {call.type().as_tensor()};
    std::vector<ir::TensorType> types;
    for (const ir::Type& field : call.type().fields()) types.push_back(field.as_tensor());
    return types;
  }

  // One kernel launch for the group: its external inputs then its outputs. Groups with the same
  // calls (operators, attributes, wiring) over the same input types share one kernel.
  void plan_kernel(const transform::FusedGroup& group) {
    std::vector<int> arg_ids;
    std::vector<te::Tensor> placeholders;
    std::string key;
    std::unordered_map<const ir::ExprNode*, std::string> local_names;  // for the key
    for (size_t i = 0; i < group.inputs.size(); ++i) {
      const std::vector<int>& ids = value_ids(group.inputs[i]);
      const ir::Call& reader = group.calls.front();
      KILN_CHECK(ids.size() == 1) << reader->op.name << ": tuple argument";
      arg_ids.push_back(ids[0]);
      const ir::TensorType& type = group.inputs[i]->type().as_tensor();
      placeholders.push_back(te::placeholder(type.static_shape(), tir::DataType{type.dtype, 1},
                                             "arg" + std::to_string(i)));
      local_names[group.inputs[i].get()] = "in" + std::to_string(i);
      key += "in" + std::to_string(i) + ":" + type.to_string() + ";";
    }
    for (size_t c = 0; c < group.calls.size(); ++c) {
      const ir::CallNode& call = *group.calls[c];
      key += call.op.name + "(";
      for (const ir::Expr& arg : call.args) key += local_names.at(arg.get()) + ",";
      key += ")" + attrs_key(call.attrs) + ";";
      local_names[&call] = "%" + std::to_string(c);
    }
    key += "->";
    std::vector<int> out_ids;
    for (const ir::Call& output : group.outputs) {
      key += local_names.at(output.get()) + ",";
      std::vector<ir::TensorType> types = result_types(*output);
      std::string base = output->source_name.empty() ? output->op.name : output->source_name;
      std::vector<int> ids;
      for (size_t i = 0; i < types.size(); ++i) {
        ids.push_back(add_tensor(types.size() == 1 ? base : base + ":" + std::to_string(i),
                                 types[i], "intermediate"));
      }
      out_ids.insert(out_ids.end(), ids.begin(), ids.end());
      values_[output.get()] = ids;
    }

    std::string kernel_name;
    auto known = kernel_names_.find(key);
    if (known != kernel_names_.end()) {
      kernel_name = known->second;
    } else {
      kernel_name = kernel_prefix_ + "k" + std::to_string(kernels.size());
      for (const ir::Call& call : group.calls) {
        if (kernel_name.size() > 40) {
          kernel_name += "_etc";
          break;
        }
        kernel_name += "_" + call->op.name;
      }
      kernels.push_back(make_kernel(group, placeholders, kernel_name));
      kernel_names_[key] = kernel_name;
    }
    GraphNode graph_node;
    graph_node.kernel = kernel_name;
    graph_node.args = arg_ids;
    graph_node.args.insert(graph_node.args.end(), out_ids.begin(), out_ids.end());
    graph_node.num_outputs = static_cast<int>(out_ids.size());
    const ir::Call& named = group.anchor ? group.anchor : group.calls.front();
    graph_node.name = named->source_name;
    for (const ir::Call& call : group.calls) {
      graph_node.ops.push_back(call->op.name);
      graph_node.names.push_back(call->source_name);
    }
    nodes.push_back(std::move(graph_node));
  }

  static std::string describe(const transform::FusedGroup& group) {
    std::string names;
    for (const ir::Call& call : group.calls) {
      if (!call->source_name.empty())
        names += (names.empty() ? "'" : ", '") + call->source_name + "'";
    }
    return group.name() +
           (names.empty()
                ? ""
                : " (node" + std::string(group.calls.size() > 1 ? "s " : " ") + names + ")");
  }

  // The group's tensor expressions: each call's compute applied, in order, to the tensors of its
  // arguments (placeholders for the group's inputs).
  struct GroupCompute {
    std::vector<te::Tensor> outputs;
    te::Tensor anchor;
    std::vector<te::Tensor> inlinable;  // elementwise / injective results read only in the group
  };

  static GroupCompute compute_group(const transform::FusedGroup& group,
                                    const std::vector<te::Tensor>& placeholders) {
    GroupCompute result;
    std::unordered_map<const ir::ExprNode*, std::vector<te::Tensor>> tensors_of;
    std::unordered_set<const te::TensorNode*> earlier;  // tensors that existed before a call
    for (size_t i = 0; i < group.inputs.size(); ++i) {
      tensors_of[group.inputs[i].get()] = {placeholders[i]};
      earlier.insert(placeholders[i].get());
    }
    for (const ir::Call& call : group.calls) {
      const op::OpImpl* impl = op::find_impl(call->op.name);
      KILN_CHECK(impl != nullptr);
      std::vector<te::Tensor> args;
      for (const ir::Expr& arg : call->args) args.push_back(tensors_of.at(arg.get()).at(0));
      std::vector<te::Tensor> results;
      try {
        results = impl->compute(args, call->attrs, call->type());
      } catch (const Error& error) {
        throw Error("cannot compile " + call->op.name +
                    (call->source_name.empty() ? "" : " (node '" + call->source_name + "')") +
                    ": " + error.what());
      }
      bool is_output =
          std::find(group.outputs.begin(), group.outputs.end(), call) != group.outputs.end();
      for (const te::Tensor& tensor : results) {
        // A result the compute passed through (an earlier tensor) is not this call's stage.
        bool own = !earlier.count(tensor.get()) && !tensor->is_placeholder();
        if (own && !is_output && call != group.anchor && tensor->reduce_axis().empty()) {
          result.inlinable.push_back(tensor);
        }
        earlier.insert(tensor.get());
      }
      tensors_of[call.get()] = results;
      if (call == group.anchor) result.anchor = results.at(0);
      if (is_output) result.outputs.insert(result.outputs.end(), results.begin(), results.end());
    }
    return result;
  }

  // The schedule: the group's elementwise / injective intermediates inlined, then the anchor
  // operator's schedule (ScheduleContext::anchor set when the epilogue follows it), or for a
  // chain without an anchor the last operator's schedule (one call) or the generic one.
  tir::PrimFunc make_kernel(const transform::FusedGroup& group,
                            const std::vector<te::Tensor>& placeholders,
                            const std::string& kernel_name) {
    GroupCompute computed = compute_group(group, placeholders);
    std::vector<te::Tensor> args = placeholders;
    args.insert(args.end(), computed.outputs.begin(), computed.outputs.end());
    auto inlined_schedule = [&]() {
      te::Schedule schedule(computed.outputs);
      for (const te::Tensor& tensor : computed.inlinable) {
        schedule.compute_inline(schedule.stage_name(tensor));
      }
      return schedule;
    };
    op::ScheduleContext context = context_;
    op::ScheduleFn schedule_fn = op::default_schedule;
    const op::OpImpl* owner =
        op::find_impl((group.anchor ? group.anchor : group.calls.back())->op.name);
    if (group.anchor) {
      if (computed.anchor != computed.outputs.at(0)) context.anchor = computed.anchor;
      if (owner->schedule) schedule_fn = owner->schedule;
    } else if (group.calls.size() == 1) {
      if (owner->schedule) schedule_fn = owner->schedule;
    } else {
      // Several operators' stages: each that is left at the root gets the generic schedule.
      schedule_fn = op::schedule_all_stages;
    }
    try {
      te::Schedule schedule = inlined_schedule();
      schedule_fn(schedule, computed.outputs, context);
      return tir::lower_tir(te::lower(schedule, args, kernel_name), tir_options_);
    } catch (const Error& error) {
      if (!context.anchor) {
        throw Error("cannot compile " + describe(group) + ": " + error.what());
      }
    }
    // An anchor schedule that cannot take the epilogue yet: the anchor as a loop nest of its own
    // at the root, then the epilogue (still one kernel).
    try {
      te::Schedule schedule = inlined_schedule();
      op::ScheduleContext alone = context_;
      op::schedule_all_stages(schedule, computed.outputs, alone);
      return tir::lower_tir(te::lower(schedule, args, kernel_name), tir_options_);
    } catch (const Error& error) {
      throw Error("cannot compile " + describe(group) + ": " + error.what());
    }
  }

  // Every model output gets a tensor of kind "output" of its own. An output that is an input, a
  // weight, or the same value as an earlier output is copied by an identity kernel.
  void mark_outputs() {
    std::set<int> taken;
    const auto& names = module_.output_names();
    std::vector<ir::Expr> output_exprs = module_.outputs();
    for (size_t i = 0; i < output_exprs.size(); ++i) {
      int id = value_ids(output_exprs[i]).at(0);
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
    // A copy: add_tensor() below may reallocate `tensors`.
    const GraphTensor from = tensors[static_cast<size_t>(source)];
    ir::TensorType type = ir::tensor_type(from.dtype, from.shape);
    int id = add_tensor(name, type, "intermediate");
    std::string key = "copy:" + type.to_string();
    auto known = kernel_names_.find(key);
    std::string kernel_name;
    if (known != kernel_names_.end()) {
      kernel_name = known->second;
    } else {
      kernel_name = kernel_prefix_ + "k" + std::to_string(kernels.size()) + "_copy";
      te::Tensor in = te::placeholder(from.shape, tir::DataType{from.dtype, 1}, "arg0");
      te::Tensor out = te::compute(
          from.shape,
          [&](const te::Indices& index) {
            return in(std::vector<tir::PrimExpr>(index.begin(), index.end()));
          },
          "copy");
      te::Schedule schedule({out});
      op::default_schedule(schedule, {out}, context_);
      kernels.push_back(tir::lower_tir(te::lower(schedule, {in, out}, kernel_name), tir_options_));
      kernel_names_[key] = kernel_name;
    }
    nodes.push_back({kernel_name, {source, id}, 1, name, {"copy"}, {name}});
    return id;
  }

  const ir::Module& module_;
  std::string source_;  // the model, for messages
  codegen::Target target_;
  tir::TirOptions tir_options_;
  std::string kernel_prefix_;  // mod_name + "_", or "" for the default module name
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
    // Weights get no storage: the executor uses the loaded parameters in place (one copy of the
    // weights in memory instead of two).
    if (tensor.kind != "intermediate" && tensor.kind != "param") {
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
    json item = {{"name", tensor.name},   {"dtype", dtype_name(tensor.dtype)},
                 {"shape", tensor.shape}, {"storage", nullptr},
                 {"offset", 0},           {"kind", tensor.kind}};
    if (tensor.storage >= 0) item["storage"] = tensor.storage;
    tensor_items.push_back(std::move(item));
  }
  json node_items = json::array();
  for (const GraphNode& node : graph.nodes) {
    node_items.push_back({{"kernel", node.kernel},
                          {"args", node.args},
                          {"num_outputs", node.num_outputs},
                          {"name", node.name},
                          {"ops", node.ops},
                          {"names", node.names}});
  }
  json graph_json = {{"format", "kiln-graph"},    {"version", 1},
                     {"storages", storage_items}, {"tensors", tensor_items},
                     {"inputs", graph.inputs},    {"outputs", graph.outputs},
                     {"params", graph.params},    {"nodes", node_items}};
  return graph_json.dump(1);
}

std::string read_binary(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>());
}

void write_text(const std::string& path, const std::string& text) {
  std::ofstream file(path, std::ios::binary | std::ios::trunc);
  if (!file) throw Error("cannot write '" + path + "': " + std::strerror(errno));
  file << text;
  file.close();
  if (!file) throw Error("cannot write '" + path + "': " + std::strerror(errno));
}

// A private temporary directory removed when this object goes away.
class TempDir {
 public:
  TempDir() {
    std::error_code error;
    std::filesystem::path base = std::filesystem::temp_directory_path(error);
    if (error) {
      throw Error("cannot find the temporary directory (TMPDIR): " + error.message());
    }
    std::string pattern = (base / "kiln-XXXXXX").string();
    if (mkdtemp(pattern.data()) == nullptr) {
      throw Error("cannot create a temporary directory in '" + base.string() +
                  "': " + std::strerror(errno));
    }
    path_ = pattern;
  }
  ~TempDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  std::string file(const std::string& name) const {
    return (std::filesystem::path(path_) / name).string();
  }

 private:
  std::string path_;
};

// The target string with `additional` options merged in: an option given there replaces the same
// option in the string ("llvm -mcpu=a" + {mcpu: b} -> "llvm -mcpu=b").
std::string merge_target_options(
    const std::string& text,
    const std::map<std::string, std::map<std::string, std::string>>& additional) {
  std::vector<std::string> tokens;
  std::istringstream stream(text);
  for (std::string token; stream >> token;) tokens.push_back(token);
  for (const auto& [kind, values] : additional) {
    if (tokens.empty() || kind != tokens[0]) {
      throw Error("additional_target_options names the target kind '" + kind +
                  "', but the target is '" + text + "'");
    }
    for (const auto& [name, value] : values) {
      std::string prefix = "-" + name + "=";
      std::erase_if(tokens, [&](const std::string& token) { return token.starts_with(prefix); });
      if (value.find_first_of(" \t") != std::string::npos) {
        throw Error("target option -" + name + " has a value with spaces: '" + value + "'");
      }
      tokens.push_back(prefix + value);
    }
  }
  std::string merged;
  for (const std::string& token : tokens) merged += (merged.empty() ? "" : " ") + token;
  return merged;
}

bool parse_bool_config(const std::string& name, const std::string& value) {
  std::string low = value;
  std::transform(low.begin(), low.end(), low.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (low == "1" || low == "true" || low == "yes" || low == "on") return true;
  if (low == "0" || low == "false" || low == "no" || low == "off") return false;
  throw Error("pass config " + name + " takes true or false, got '" + value + "'");
}

// Applies the "name=value" pass configs to the graph and loop-IR pass options.
void apply_pass_configs(const std::vector<std::string>& configs, PassOptions& passes,
                        tir::TirOptions& tir_options) {
  for (const std::string& config : configs) {
    size_t equals = config.find('=');
    if (equals == std::string::npos || equals == 0) {
      throw Error("pass config '" + config + "' is not name=value (e.g. tir.disable_vectorize=1)");
    }
    std::string name = config.substr(0, equals);
    std::string value = config.substr(equals + 1);
    if (name == "tir.disable_vectorize") {
      tir_options.vectorize = !parse_bool_config(name, value);
    } else if (name == "tir.disable_unroll") {
      tir_options.unroll = !parse_bool_config(name, value);
    } else if (name == "kiln.verify_each_pass") {
      passes.verify_each_pass = parse_bool_config(name, value);
    } else if (name == "kiln.dump_dir") {
      if (value.empty()) throw Error("pass config kiln.dump_dir needs a directory");
      passes.dump_dir = value;
    } else {
      std::string known;
      for (const auto& [key, help] : pass_config_names())
        known += (known.empty() ? "" : ", ") + key;
      throw Error("unknown pass config '" + name + "'; known: " + known);
    }
  }
}

// Checks the options that do not need the model, before any work is done.
void check_options(const CompileOptions& options) {
  if (options.package_path.empty()) throw Error("compile needs a package path (package_path, -o)");
  if (options.opt_level < 0 || options.opt_level > 3) {
    throw Error("opt_level must be 0 to 3, got " + std::to_string(options.opt_level));
  }
  for (const std::string& format : options.dump_code) {
    if (format != "ll" && format != "asm" && format != "tir" && format != "ir") {
      throw Error("unknown dump_code format '" + format + "'; choose from ll, asm, tir, ir");
    }
  }
  if (options.output_format != "so" && options.output_format != "tar") {
    throw Error("unknown output_format '" + options.output_format + "'; choose so or tar");
  }
  if (!options.tuning_records.empty()) {
    std::error_code ignored;
    if (!std::filesystem::is_regular_file(options.tuning_records, ignored)) {
      throw Error("tuning_records file '" + options.tuning_records +
                  "' does not exist; pass the records file that tuning wrote, or none");
    }
    throw Error("not supported yet: compiling with tuning records ('" + options.tuning_records +
                "'); Kiln has no tuner yet, compile without tuning_records");
  }
  const std::string& mod_name = options.mod_name;
  bool identifier = !mod_name.empty() && !std::isdigit(static_cast<unsigned char>(mod_name[0]));
  for (char c : mod_name) {
    identifier = identifier && (std::isalnum(static_cast<unsigned char>(c)) || c == '_');
  }
  if (!identifier) {
    throw Error("mod_name '" + mod_name + "' must be an identifier (letters, digits, _)");
  }
  if (!options.desired_layout_ops.empty()) {
    if (options.desired_layout.empty()) {
      throw Error("desired_layout_ops needs desired_layout (the layout to convert them to)");
    }
    for (const std::string& name : options.desired_layout_ops) {
      // TVM spells them "nn.conv2d"; the registry has "conv2d".
      std::string op = name.starts_with("nn.") ? name.substr(3) : name;
      if (ir::OpRegistry::global().find(op) == nullptr) {
        throw Error("desired_layout_ops names '" + name + "', which is not an operator");
      }
    }
  }
}

// The target, with additional options merged and target_host checked.
codegen::Target resolve_target(const CompileOptions& options) {
  codegen::Target target = codegen::parse_target(
      merge_target_options(options.target, options.additional_target_options));
  if (options.opt_level != 3) target.opt_level = options.opt_level;
  if (!options.target_host.empty()) {
    codegen::Target host = codegen::parse_target(options.target_host);
    if (host.effective_triple() != target.effective_triple()) {
      throw Error("not supported yet: target_host '" + options.target_host + "' (" +
                  host.effective_triple() + ") differs from the target (" +
                  target.effective_triple() +
                  "); a CPU target is its own host, heterogeneous targets come later");
    }
  }
  return target;
}

std::vector<std::string> split_words(const std::string& text) {
  std::vector<std::string> words;
  std::istringstream stream(text);
  for (std::string word; stream >> word;) words.push_back(word);
  return words;
}

}  // namespace

std::vector<std::pair<std::string, std::string>> pass_config_names() {
  return {{"tir.disable_vectorize", "true: vectorized loops stay serial loops"},
          {"tir.disable_unroll", "true: unrolled loops stay loops"},
          {"kiln.verify_each_pass", "true: run the IR verifier after every graph pass"},
          {"kiln.dump_dir", "directory where the IR after every graph pass is written"}};
}

Package compile(const Model& model, const CompileOptions& options) {
  check_options(options);
  codegen::Target target = resolve_target(options);
  // A missing cross compiler is reported before the (long) compile, not after it.
  if (!options.cross_compiler.empty()) codegen::find_compiler(options.cross_compiler);
  ir::Module module = model.module();
  std::string source = model.source_path().empty() ? "the model" : model.source_path();
  check_static_shapes(module, source);

  PassOptions passes;
  tir::TirOptions tir_options;
  apply_pass_configs(options.pass_context_configs, passes, tir_options);
  passes.opt_level = options.opt_level;
  passes.disabled_passes = options.disabled_pass;
  passes.desired_layout = options.desired_layout;
  // The layout conversion rewrites convolutions (and what follows them); a desired_layout_ops
  // list without conv2d leaves nothing to convert.
  if (!options.desired_layout_ops.empty()) {
    bool lists_conv = false;
    for (const std::string& name : options.desired_layout_ops) {
      lists_conv = lists_conv || name == "conv2d" || name == "nn.conv2d";
    }
    if (!lists_conv) passes.desired_layout.clear();
  }
  passes.blocked_layout_lanes = target.vector_bits() / 32;
  // Graph passes: the optimising pipeline (src/driver/pipeline.h) rewrites `module` here, before
  // fusion and kernel planning.
  module = optimize(module, passes);
  check_constant_indices(module, source);

  // Fusion is the pipeline's last pass by name ("fuse_ops": opt_level >= 1, not disabled); off,
  // each call is a kernel of its own.
  transform::FuseOptions fuse_options;
  fuse_options.fuse = pass_enabled("fuse_ops", passes);
  transform::FusionPlan plan = transform::fuse_ops(module, fuse_options);
  GraphCompiler graph(module, target, tir_options,
                      options.mod_name == "default" ? "" : options.mod_name + "_");
  graph.build(source, plan);
  std::vector<size_t> storages = plan_memory(graph.tensors, graph.nodes);

  std::unique_ptr<codegen::LLVMModule> code = codegen::LLVMModule::build(graph.kernels, target);
  TempDir temp;
  std::string library_path = temp.file("mod.so");
  if (options.cross_compiler.empty()) {
    code->write_shared_library(library_path);
  } else {
    code->write_shared_library_with(library_path, options.cross_compiler,
                                    split_words(options.cross_compiler_options));
  }

  runtime::PackageContents contents;
  contents.library = read_binary(library_path);
  if (options.output_format == "tar") {
    code->write_object(temp.file("mod.o"));
    contents.object = read_binary(temp.file("mod.o"));
  }
  contents.graph_json = graph_to_json(graph, storages);
  contents.params = runtime::serialize_params(graph.param_values);
  json metadata;
  metadata["kiln_version"] = version();
  metadata["target"] = target.str();
  metadata["triple"] = target.effective_triple();
  metadata["source"] = model.source_path();
  metadata["num_kernels"] = graph.kernels.size();
  metadata["mod_name"] = options.mod_name;
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
    if (format == "ir") write_text(path + ".ir", transform::print_fused(module, plan));
    if (format == "tir") {
      std::string text;
      for (const tir::PrimFunc& kernel : graph.kernels) text += tir::to_text(kernel) + "\n";
      write_text(path + ".tir", text);
    }
  }
  return Package(options.package_path);
}

}  // namespace kiln
