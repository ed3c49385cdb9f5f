// Converters for control flow: If, Loop and Scan. Kiln's IR has no control flow and compiles for
// static shapes, so control flow is resolved while importing: If inlines the branch its constant
// condition takes, Loop and Scan are unrolled (their trip count or sequence length must be known)
// by converting the body once per iteration with that iteration's values. The body reads outer
// values by name (the importer's subgraph scope).
#include <algorithm>
#include <string>

#include "frontend/onnx/converter.h"

namespace kiln::frontend::onnx_import {

namespace {

using Outputs = std::vector<ir::Expr>;

// Unrolling copies the body per iteration: beyond these limits the graph (and compile time)
// would explode, so such models get a clear error instead.
constexpr int64_t kMaxUnrolledIterations = 4096;
constexpr int64_t kMaxUnrolledNodes = 100000;

void check_unroll_limit(const NodeContext& ctx, int64_t iterations, const OnnxGraph& body) {
  // Compared one factor at a time: the product of a hostile trip count would overflow.
  int64_t body_nodes = static_cast<int64_t>(std::max<size_t>(body.nodes.size(), 1));
  if (iterations > kMaxUnrolledIterations || body_nodes > kMaxUnrolledNodes ||
      iterations * body_nodes > kMaxUnrolledNodes) {
    ctx.fail("not supported yet: unrolling " + std::to_string(iterations) + " iterations of a " +
             std::to_string(body.nodes.size()) +
             "-node body (Kiln unrolls loops at import, up to " +
             std::to_string(kMaxUnrolledIterations) + " iterations and " +
             std::to_string(kMaxUnrolledNodes) + " nodes)");
  }
}

Tensor int64_scalar(int64_t value) { return Tensor::from_int64s({value}, /*scalar=*/true); }

Tensor bool_scalar(bool value) {
  Tensor tensor(DType::kBool, {});
  tensor.set_element_from_int64(0, value ? 1 : 0);
  return tensor;
}

// A single-element constant's truth value.
bool truth_of(const NodeContext& ctx, const Tensor& value, const std::string& what) {
  if (value.numel() != 1) {
    ctx.fail(what + " must hold one value, it has " + std::to_string(value.numel()));
  }
  return value.element_as_double(0) != 0.0;
}

// Stacks per-iteration values along a new axis `axis` (ONNX's scan output layout).
ir::Expr stack(const NodeContext& ctx, const std::vector<ir::Expr>& values, int64_t axis) {
  std::vector<ir::Expr> expanded;
  for (const ir::Expr& value : values) {
    expanded.push_back(ctx.call("unsqueeze", {value}, {{"axes", std::vector<int64_t>{axis}}}));
  }
  if (expanded.size() == 1) return expanded[0];
  return ctx.call("concat", std::move(expanded), {{"axis", axis}});
}

// Element `index` of `data` along `axis`, that axis removed.
ir::Expr slice_at(const NodeContext& ctx, const ir::Expr& data, int64_t axis, int64_t index) {
  ir::Expr sliced = ctx.call("strided_slice", {data},
                             {{"begin", std::vector<int64_t>{index}},
                              {"end", std::vector<int64_t>{index + 1}},
                              {"axes", std::vector<int64_t>{axis}},
                              {"strides", std::vector<int64_t>{1}}});
  return ctx.call("squeeze", {sliced}, {{"axes", std::vector<int64_t>{axis}}});
}

// where(condition, updated, previous) for a loop-carried value once the loop condition is known
// only at run time; the value must keep its type across iterations.
ir::Expr keep_unless(const NodeContext& ctx, const ir::Expr& condition, const ir::Expr& updated,
                     const ir::Expr& previous, int64_t iteration) {
  if (updated->type().to_string() != previous->type().to_string()) {
    ctx.fail("not supported yet: a loop-carried value changes type from " +
             previous->type().to_string() + " to " + updated->type().to_string() +
             " at iteration " + std::to_string(iteration) +
             " while the loop condition is computed at run time");
  }
  return ctx.call("where", {condition, updated, previous});
}

// If: the condition must be constant; the taken branch is converted in place of the node.
Outputs convert_if(const NodeContext& ctx) {
  Tensor condition = ctx.require_constant(0, "condition");
  bool taken = truth_of(ctx, condition, "input 0 (condition)");
  const OnnxGraph& branch = ctx.attr_graph(taken ? "then_branch" : "else_branch");
  Outputs outputs = ctx.inline_subgraph(branch, {});
  if (outputs.size() != ctx.num_outputs()) {
    ctx.fail(std::string(taken ? "then_branch" : "else_branch") + " has " +
             std::to_string(outputs.size()) + " outputs, the node has " +
             std::to_string(ctx.num_outputs()));
  }
  return outputs;
}

// Loop(M, cond, v_initial...) with body(iter_num, cond_in, v...) -> (cond_out, v..., scan...):
// unrolled while the iteration count is below M and the condition holds. M and the initial
// condition must be constant at import. A body condition computed at run time is supported for a
// loop bounded by M without scan outputs: all M iterations run, masked once it turns false.
Outputs convert_loop(const NodeContext& ctx) {
  const OnnxGraph& body = ctx.attr_graph("body");
  if (ctx.num_inputs() < 2) ctx.fail("needs the inputs M and cond (either may be empty)");
  size_t num_carried = ctx.num_inputs() - 2;
  if (body.inputs.size() != num_carried + 2) {
    ctx.fail("the body has " + std::to_string(body.inputs.size()) + " inputs, expected " +
             std::to_string(num_carried + 2) + " (iteration number, condition and " +
             std::to_string(num_carried) + " loop-carried values)");
  }
  if (body.outputs.size() < num_carried + 1) {
    ctx.fail("the body has " + std::to_string(body.outputs.size()) +
             " outputs, expected at least " + std::to_string(num_carried + 1) +
             " (condition and loop-carried values)");
  }
  size_t num_scan = body.outputs.size() - 1 - num_carried;
  std::optional<int64_t> trip_count;
  if (ctx.has_input(0)) {
    std::vector<int64_t> values = ctx.require_constant_ints(0, "trip count M");
    if (values.size() != 1) ctx.fail("input 0 (trip count M) must hold one value");
    trip_count = std::max<int64_t>(values[0], 0);
  }
  bool has_condition = ctx.has_input(1);
  bool running = has_condition
                     ? truth_of(ctx, ctx.require_constant(1, "condition"), "input 1 (condition)")
                     : true;
  if (!trip_count && !has_condition) {
    ctx.fail("has neither a trip count nor a condition (an endless loop)");
  }
  if (trip_count) check_unroll_limit(ctx, *trip_count, body);

  std::vector<ir::Expr> carried;
  for (size_t i = 0; i < num_carried; ++i) carried.push_back(ctx.input(2 + i));
  std::vector<std::vector<ir::Expr>> scans(num_scan);
  // Once the body's condition is computed at run time, the remaining iterations (up to M) still
  // run, but each keeps the previous values where the condition has turned false.
  ir::Expr dynamic_condition;
  for (int64_t iteration = 0; running && (!trip_count || iteration < *trip_count); ++iteration) {
    if (!trip_count) check_unroll_limit(ctx, iteration + 1, body);
    ir::Expr condition_in =
        dynamic_condition ? dynamic_condition : ctx.constant(bool_scalar(running));
    std::vector<ir::Expr> body_inputs = {ctx.constant(int64_scalar(iteration)), condition_in};
    body_inputs.insert(body_inputs.end(), carried.begin(), carried.end());
    Outputs results = ctx.inline_subgraph(body, body_inputs);
    for (size_t i = 0; i < num_carried; ++i) {
      carried[i] = dynamic_condition
                       ? keep_unless(ctx, dynamic_condition, results[1 + i], carried[i], iteration)
                       : results[1 + i];
    }
    for (size_t k = 0; k < num_scan; ++k) scans[k].push_back(results[1 + num_carried + k]);
    if (!has_condition) continue;
    const auto* condition = ir::as<ir::ConstantNode>(results[0]);
    if (condition != nullptr && !dynamic_condition) {
      running = truth_of(ctx, condition->value, "the body's condition output");
      continue;
    }
    if (!trip_count || num_scan > 0) {
      ctx.fail(
          "not supported yet: the body computes the loop condition from the model's inputs "
          "(iteration " +
          std::to_string(iteration) + ") and the loop " +
          (trip_count ? "has scan outputs, whose length would depend on it"
                      : "has no trip count to bound it") +
          "; Kiln unrolls loops at import (fix the inputs it depends on with "
          "constant_inputs)");
    }
    // A one-element boolean scalar, so that masking keeps every value's shape.
    ir::Expr next = results[0];
    const ir::TensorType& next_type = next->type().as_tensor();
    if (next_type.numel() != 1) {
      ctx.fail("the body's condition output must hold one value, got " + next_type.to_string());
    }
    if (next_type.rank() > 0) {
      next = ctx.call("reshape", {next}, {{"newshape", std::vector<int64_t>{}}});
    }
    if (next_type.dtype != DType::kBool) {
      next = ctx.call("cast", {next}, {{"dtype", std::string("bool")}});
    }
    dynamic_condition =
        dynamic_condition ? ctx.call("logical_and", {dynamic_condition, next}) : next;
  }
  Outputs outputs = carried;
  for (size_t k = 0; k < num_scan; ++k) {
    if (scans[k].empty()) {
      ctx.fail(
          "not supported yet: a loop that runs no iteration with scan outputs (their shape "
          "is unknown)");
    }
    outputs.push_back(stack(ctx, scans[k], 0));
  }
  return outputs;
}

// The Scan attributes of opset 9+: per scan input / output, the axis and the direction.
struct ScanLayout {
  std::vector<int64_t> input_axes, input_directions, output_axes, output_directions;
};

// One Scan over states and scan inputs (no batch axis): the body runs once per element of the
// scan axis; returns the final states followed by the stacked scan outputs.
Outputs run_scan(const NodeContext& ctx, const OnnxGraph& body, std::vector<ir::Expr> states,
                 const std::vector<ir::Expr>& scan_inputs, const ScanLayout& layout) {
  size_t num_states = states.size();
  if (body.inputs.size() != num_states + scan_inputs.size()) {
    ctx.fail("the body has " + std::to_string(body.inputs.size()) + " inputs, expected " +
             std::to_string(num_states + scan_inputs.size()) + " (states and scan inputs)");
  }
  if (body.outputs.size() < num_states) {
    ctx.fail("the body has " + std::to_string(body.outputs.size()) + " outputs, fewer than its " +
             std::to_string(num_states) + " states");
  }
  size_t num_scan_outputs = body.outputs.size() - num_states;
  std::vector<int64_t> axes;
  int64_t length = -1;
  for (size_t j = 0; j < scan_inputs.size(); ++j) {
    const ir::TensorType& type = scan_inputs[j]->type().as_tensor();
    int64_t axis = normalize_axis(ctx, layout.input_axes[j], type.rank(), "scan_input_axes");
    const ir::Dim& dim = type.shape[static_cast<size_t>(axis)];
    if (!dim.is_static()) {
      ctx.fail("the sequence length of scan input " + std::to_string(j) + " (" + type.to_string() +
               ") is not static" + ctx.shape_dict_hint());
    }
    if (length >= 0 && dim.value() != length) {
      ctx.fail("scan inputs have different sequence lengths: " + std::to_string(length) + " and " +
               std::to_string(dim.value()));
    }
    length = dim.value();
    axes.push_back(axis);
  }
  if (length < 0) ctx.fail("has no scan input");
  check_unroll_limit(ctx, length, body);
  if (length == 0 && num_scan_outputs > 0) {
    ctx.fail("not supported yet: a scan over an empty sequence with scan outputs");
  }
  std::vector<std::vector<ir::Expr>> scanned(num_scan_outputs);
  for (int64_t step = 0; step < length; ++step) {
    std::vector<ir::Expr> body_inputs = states;
    for (size_t j = 0; j < scan_inputs.size(); ++j) {
      int64_t index = layout.input_directions[j] != 0 ? length - 1 - step : step;
      body_inputs.push_back(slice_at(ctx, scan_inputs[j], axes[j], index));
    }
    Outputs results = ctx.inline_subgraph(body, body_inputs);
    for (size_t i = 0; i < num_states; ++i) states[i] = results[i];
    for (size_t k = 0; k < num_scan_outputs; ++k) scanned[k].push_back(results[num_states + k]);
  }
  Outputs outputs = states;
  for (size_t k = 0; k < num_scan_outputs; ++k) {
    if (layout.output_directions[k] != 0) std::reverse(scanned[k].begin(), scanned[k].end());
    int64_t rank = scanned[k][0]->type().as_tensor().rank() + 1;
    int64_t axis = normalize_axis(ctx, layout.output_axes[k], rank, "scan_output_axes");
    outputs.push_back(stack(ctx, scanned[k], axis));
  }
  return outputs;
}

// Per-input attribute list of the given length (default all zeros).
std::vector<int64_t> per_item_attr(const NodeContext& ctx, const std::string& name, size_t count) {
  std::vector<int64_t> values = ctx.attr_ints(name, std::vector<int64_t>(count, 0));
  if (values.size() != count) {
    ctx.fail("attribute '" + name + "' has " + std::to_string(values.size()) +
             " entries, expected " + std::to_string(count));
  }
  return values;
}

// Scan opset 9+: inputs are N states then M scan inputs (M = num_scan_inputs).
Outputs convert_scan9(const NodeContext& ctx, const OnnxGraph& body) {
  int64_t num_scan_inputs = ctx.attr_int("num_scan_inputs");
  int64_t num_inputs = static_cast<int64_t>(ctx.num_inputs());
  if (num_scan_inputs <= 0 || num_scan_inputs > num_inputs) {
    ctx.fail("attribute 'num_scan_inputs' " + std::to_string(num_scan_inputs) + " must be in [1, " +
             std::to_string(num_inputs) + "]");
  }
  size_t num_states = static_cast<size_t>(num_inputs - num_scan_inputs);
  std::vector<ir::Expr> states, scan_inputs;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) {
    (i < num_states ? states : scan_inputs).push_back(ctx.input(i));
  }
  size_t num_scan_outputs = body.outputs.size() > num_states ? body.outputs.size() - num_states : 0;
  ScanLayout layout;
  layout.input_axes = per_item_attr(ctx, "scan_input_axes", scan_inputs.size());
  layout.input_directions = per_item_attr(ctx, "scan_input_directions", scan_inputs.size());
  layout.output_axes = per_item_attr(ctx, "scan_output_axes", num_scan_outputs);
  layout.output_directions = per_item_attr(ctx, "scan_output_directions", num_scan_outputs);
  return run_scan(ctx, body, states, scan_inputs, layout);
}

// Scan opset 8: an optional sequence_lens input first, then states and scan inputs that all have
// a batch axis 0; the sequence axis is 1. Each batch entry is scanned on its own and the results
// are stacked back along the batch axis.
Outputs convert_scan8(const NodeContext& ctx, const OnnxGraph& body) {
  int64_t num_scan_inputs = ctx.attr_int("num_scan_inputs");
  int64_t num_data = static_cast<int64_t>(ctx.num_inputs()) - 1;
  if (num_scan_inputs <= 0 || num_scan_inputs > num_data) {
    ctx.fail("attribute 'num_scan_inputs' " + std::to_string(num_scan_inputs) + " must be in [1, " +
             std::to_string(num_data) + "]");
  }
  size_t num_states = static_cast<size_t>(num_data - num_scan_inputs);
  std::vector<ir::Expr> data;
  for (size_t i = 1; i < ctx.num_inputs(); ++i) data.push_back(ctx.input(i));
  if (ctx.has_input(0)) {
    // Only lengths that cover whole sequences are supported: shorter ones would need per-batch
    // lengths of the scan outputs.
    const ir::Dim& sequence = data[num_states]->type().as_tensor().shape.at(1);
    for (int64_t length : ctx.require_constant_ints(0, "sequence_lens")) {
      if (!sequence.is_static() || length != sequence.value()) {
        ctx.fail("not supported yet: input 0 (sequence_lens) holds " + std::to_string(length) +
                 ", shorter than the sequence (" + sequence.to_string() +
                 "); only whole sequences are scanned");
      }
    }
  }
  const ir::Dim& batch_dim = data[0]->type().as_tensor().shape.at(0);
  if (!batch_dim.is_static()) ctx.fail("the batch size is not static" + ctx.shape_dict_hint());
  ScanLayout layout;
  layout.input_directions = per_item_attr(ctx, "directions", static_cast<size_t>(num_scan_inputs));
  layout.input_axes.assign(static_cast<size_t>(num_scan_inputs), 0);  // axis 1 minus the batch
  size_t num_scan_outputs = body.outputs.size() > num_states ? body.outputs.size() - num_states : 0;
  layout.output_axes.assign(num_scan_outputs, 0);
  layout.output_directions.assign(num_scan_outputs, 0);
  std::vector<std::vector<ir::Expr>> per_batch(body.outputs.size());
  for (int64_t b = 0; b < batch_dim.value(); ++b) {
    std::vector<ir::Expr> states, scan_inputs;
    for (size_t i = 0; i < data.size(); ++i) {
      (i < num_states ? states : scan_inputs).push_back(slice_at(ctx, data[i], 0, b));
    }
    Outputs results = run_scan(ctx, body, states, scan_inputs, layout);
    for (size_t k = 0; k < results.size(); ++k) per_batch[k].push_back(results[k]);
  }
  Outputs outputs;
  for (auto& values : per_batch) {
    if (values.empty()) ctx.fail("not supported yet: a scan over an empty batch");
    outputs.push_back(stack(ctx, values, 0));
  }
  return outputs;
}

Outputs convert_scan(const NodeContext& ctx) {
  const OnnxGraph& body = ctx.attr_graph("body");
  return ctx.opset() < 9 ? convert_scan8(ctx, body) : convert_scan9(ctx, body);
}

}  // namespace

void add_control_converters(ConverterTable& table) {
  table["If"] = convert_if;
  table["Loop"] = convert_loop;
  table["Scan"] = convert_scan;
}

}  // namespace kiln::frontend::onnx_import
