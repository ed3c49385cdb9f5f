// Converters for recurrent layers (LSTM, GRU). The IR operators take every argument explicitly,
// so omitted biases and initial states become zero constants; layout=1 (batch first) is handled
// by transposing into and out of the IR's sequence-first layout.
#include <algorithm>
#include <cctype>

#include "frontend/onnx/converter.h"

namespace kiln::frontend::onnx_import {

namespace {

using Outputs = std::vector<ir::Expr>;

// Input positions shared by LSTM and GRU.
constexpr size_t kX = 0, kW = 1, kR = 2, kB = 3, kSequenceLens = 4, kInitialH = 5;

struct RnnSetup {
  int64_t hidden = 0;
  int64_t directions = 1;
  std::string direction;
  bool batch_first = false;
  DType dtype = DType::kFloat32;
  ir::Dim batch;
};

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

// Only ONNX's default gate activations are supported (the IR operators fix them).
void check_activations(const NodeContext& ctx, const std::vector<std::string>& defaults,
                       int64_t directions) {
  std::vector<std::string> given = ctx.attr_strings("activations", {});
  if (given.empty()) return;
  std::vector<std::string> expected;
  for (int64_t d = 0; d < directions; ++d) {
    for (const auto& name : defaults) expected.push_back(lower(name));
  }
  for (std::string& name : given) name = lower(name);
  if (given != expected) {
    std::string listed;
    for (const auto& name : defaults) listed += (listed.empty() ? "" : ", ") + name;
    ctx.fail("only the default activations (" + listed + ") are supported");
  }
}

RnnSetup read_setup(const NodeContext& ctx, int64_t gates) {
  if (ctx.has_input(kSequenceLens)) {
    ctx.fail("sequence_lens is not supported: export the model without variable sequence lengths");
  }
  RnnSetup setup;
  setup.direction = ctx.attr_string("direction", "forward");
  if (setup.direction != "forward" && setup.direction != "reverse" &&
      setup.direction != "bidirectional") {
    ctx.fail("attribute 'direction' \"" + setup.direction +
             "\" is not forward, reverse or bidirectional");
  }
  setup.directions = setup.direction == "bidirectional" ? 2 : 1;
  setup.batch_first = ctx.attr_int("layout", 0) != 0;
  const ir::TensorType& x = ctx.input_type(kX);
  if (x.rank() != 3) ctx.fail("input X must have rank 3, got " + x.to_string());
  setup.dtype = x.dtype;
  setup.batch = x.shape[setup.batch_first ? 0 : 1];
  const ir::TensorType& r = ctx.input_type(kR);
  if (ctx.has_attr("hidden_size")) {
    setup.hidden = ctx.attr_int("hidden_size");
  } else if (r.rank() == 3 && r.shape[2].is_static()) {
    setup.hidden = r.shape[2].value();
  } else {
    ctx.fail("needs attribute 'hidden_size' (R's shape does not give it)");
  }
  if (setup.hidden <= 0 || setup.hidden > (int64_t{1} << 32) / gates) {
    ctx.fail("hidden_size " + std::to_string(setup.hidden) + " is out of range");
  }
  return setup;
}

ir::Expr zeros(DType dtype, std::vector<int64_t> shape) {
  return ir::ConstantNode::make(Tensor(dtype, std::move(shape)));
}

ir::Expr swap_first_two(const NodeContext& ctx, const ir::Expr& x) {
  return ctx.call("transpose", {x}, {{"axes", std::vector<int64_t>{1, 0, 2}}});
}

// An initial state in the IR's [dirs, batch, H] layout: given (transposed when batch first) or
// zeros, which need a static batch.
ir::Expr initial_state(const NodeContext& ctx, size_t i, const RnnSetup& setup) {
  if (ctx.has_input(i)) {
    return setup.batch_first ? swap_first_two(ctx, ctx.input(i)) : ctx.input(i);
  }
  if (!setup.batch.is_static()) {
    ctx.fail("zero initial states need a static batch size, got " + setup.batch.to_string() +
             ctx.shape_dict_hint());
  }
  return zeros(setup.dtype, {setup.directions, setup.batch.value(), setup.hidden});
}

// Common tail: tuple outputs back into ONNX's layout.
Outputs map_outputs(const NodeContext& ctx, const ir::Expr& result, const RnnSetup& setup,
                    size_t count) {
  Outputs outputs;
  for (size_t i = 0; i < count; ++i) {
    ir::Expr item = ctx.tuple_item(result, static_cast<int64_t>(i));
    if (setup.batch_first) {
      // Y [seq, dirs, batch, H] -> [batch, seq, dirs, H]; states [dirs, batch, H] -> [batch, dirs,
      // H].
      item = i == 0 ? ctx.call("transpose", {item}, {{"axes", std::vector<int64_t>{2, 0, 1, 3}}})
                    : swap_first_two(ctx, item);
    }
    outputs.push_back(item);
  }
  return outputs;
}

ir::Expr sequence_first_x(const NodeContext& ctx, const RnnSetup& setup) {
  return setup.batch_first ? swap_first_two(ctx, ctx.input(kX)) : ctx.input(kX);
}

ir::Expr bias_or_zeros(const NodeContext& ctx, const RnnSetup& setup, int64_t gates) {
  if (ctx.has_input(kB)) return ctx.input(kB);
  return zeros(setup.dtype, {setup.directions, 2 * gates * setup.hidden});
}

double clip_threshold(const NodeContext& ctx) {
  double clip = ctx.attr_float("clip", 0.0);
  if (clip < 0) ctx.fail("attribute 'clip' must not be negative");
  return clip;
}

Outputs convert_lstm(const NodeContext& ctx) {
  RnnSetup setup = read_setup(ctx, 4);
  check_activations(ctx, {"Sigmoid", "Tanh", "Tanh"}, setup.directions);
  if (ctx.has_input(7)) ctx.fail("peephole weights (input P) are not supported");
  ir::Expr result = ctx.call(
      "lstm",
      {sequence_first_x(ctx, setup), ctx.input(kW), ctx.input(kR), bias_or_zeros(ctx, setup, 4),
       initial_state(ctx, kInitialH, setup), initial_state(ctx, 6, setup)},
      {{"hidden_size", setup.hidden},
       {"direction", setup.direction},
       {"clip", clip_threshold(ctx)},
       {"input_forget", ctx.attr_int("input_forget", 0)}});
  return map_outputs(ctx, result, setup, 3);
}

Outputs convert_gru(const NodeContext& ctx) {
  RnnSetup setup = read_setup(ctx, 3);
  check_activations(ctx, {"Sigmoid", "Tanh"}, setup.directions);
  ir::Expr result = ctx.call("gru",
                             {sequence_first_x(ctx, setup), ctx.input(kW), ctx.input(kR),
                              bias_or_zeros(ctx, setup, 3), initial_state(ctx, kInitialH, setup)},
                             {{"hidden_size", setup.hidden},
                              {"direction", setup.direction},
                              {"linear_before_reset", ctx.attr_int("linear_before_reset", 0)},
                              {"clip", clip_threshold(ctx)}});
  return map_outputs(ctx, result, setup, 2);
}

}  // namespace

void add_rnn_converters(ConverterTable& table) {
  table["LSTM"] = convert_lstm;
  table["GRU"] = convert_gru;
}

}  // namespace kiln::frontend::onnx_import
