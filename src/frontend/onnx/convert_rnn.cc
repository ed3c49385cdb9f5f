// Converters for recurrent layers (LSTM, GRU, RNN). The IR operators take every argument
// explicitly, so omitted biases and initial states become zero constants; layout=1 (batch first) is
// handled by transposing into and out of the IR's sequence-first layout.
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

// The simple RNN, H_t = f(X_t W^T + H_{t-1} R^T + Wb + Rb), unrolled over the static sequence
// length: the input projection of every step is one matmul, then one small matmul per step.
// f is Tanh (the default), Relu or Sigmoid per direction; `clip` bounds f's input.
constexpr int64_t kMaxRnnSteps = 4096;

ir::Expr rnn_activation(const NodeContext& ctx, const std::string& name, const ir::Expr& x) {
  std::string op = lower(name);
  if (op == "tanh" || op == "relu" || op == "sigmoid") return ctx.call(op, {x});
  ctx.fail("activation '" + name + "' is not supported yet (Tanh, Relu and Sigmoid are)");
}

Outputs convert_rnn(const NodeContext& ctx) {
  RnnSetup setup = read_setup(ctx, 1);
  std::vector<std::string> activations = ctx.attr_strings("activations", {});
  if (activations.empty()) activations.assign(static_cast<size_t>(setup.directions), "Tanh");
  if (static_cast<int64_t>(activations.size()) != setup.directions) {
    ctx.fail("needs one activation per direction, got " + std::to_string(activations.size()));
  }
  if (ctx.has_attr("activation_alpha") || ctx.has_attr("activation_beta")) {
    ctx.fail("activation_alpha / activation_beta are not supported yet");
  }
  ir::Expr x = sequence_first_x(ctx, setup);  // [S, B, I]
  const ir::TensorType& x_type = x->type().as_tensor();
  if (!x_type.shape[0].is_static()) {
    ctx.fail("needs a static sequence length, got " + x_type.to_string() + ctx.shape_dict_hint());
  }
  const int64_t steps = x_type.shape[0].value();
  if (steps > kMaxRnnSteps) {
    ctx.fail("unrolls at most " + std::to_string(kMaxRnnSteps) + " steps, got " +
             std::to_string(steps));
  }
  const int64_t hidden = setup.hidden;
  double clip = clip_threshold(ctx);
  ir::Expr bias = bias_or_zeros(ctx, setup, 1);        // [dirs, 2H]
  ir::Expr h0 = initial_state(ctx, kInitialH, setup);  // [dirs, B, H]
  auto take = [&](const ir::Expr& value, int64_t axis, int64_t index) {
    return ctx.call("squeeze",
                    {ctx.call("strided_slice", {value},
                              {{"begin", std::vector<int64_t>{index}},
                               {"end", std::vector<int64_t>{index + 1}},
                               {"axes", std::vector<int64_t>{axis}},
                               {"strides", std::vector<int64_t>{1}}})},
                    {{"axes", std::vector<int64_t>{axis}}});
  };
  auto transposed = [&](const ir::Expr& matrix) {
    return ctx.call("transpose", {matrix}, {{"axes", std::vector<int64_t>{1, 0}}});
  };
  // Per step, per direction, the hidden state [B, H].
  std::vector<std::vector<ir::Expr>> outputs(static_cast<size_t>(steps));
  std::vector<ir::Expr> last;
  for (int64_t d = 0; d < setup.directions; ++d) {
    ir::Expr w = take(ctx.input(kW), 0, d);  // [H, I]
    ir::Expr r = take(ctx.input(kR), 0, d);  // [H, H]
    ir::Expr b = take(bias, 0, d);           // [2H]
    ir::Expr biases = ctx.call("add", {ctx.call("strided_slice", {b},
                                                {{"begin", std::vector<int64_t>{0}},
                                                 {"end", std::vector<int64_t>{hidden}},
                                                 {"axes", std::vector<int64_t>{0}},
                                                 {"strides", std::vector<int64_t>{1}}}),
                                       ctx.call("strided_slice", {b},
                                                {{"begin", std::vector<int64_t>{hidden}},
                                                 {"end", std::vector<int64_t>{2 * hidden}},
                                                 {"axes", std::vector<int64_t>{0}},
                                                 {"strides", std::vector<int64_t>{1}}})});
    ir::Expr projected =
        ctx.call("add", {ctx.call("matmul", {x, transposed(w)}), biases});  // [S, B, H]
    ir::Expr r_t = transposed(r);
    ir::Expr h = take(h0, 0, d);
    bool reverse = setup.direction == "reverse" || d == 1;
    for (int64_t i = 0; i < steps; ++i) {
      int64_t t = reverse ? steps - 1 - i : i;
      ir::Expr pre = ctx.call("add", {take(projected, 0, t), ctx.call("matmul", {h, r_t})});
      if (clip > 0) pre = ctx.call("clip", {pre}, {{"min", -clip}, {"max", clip}});
      h = rnn_activation(ctx, activations[static_cast<size_t>(d)], pre);
      outputs[static_cast<size_t>(t)].push_back(h);
    }
    last.push_back(ctx.call("unsqueeze", {h}, {{"axes", std::vector<int64_t>{0}}}));
  }
  // Y [S, dirs, B, H] and Y_h [dirs, B, H], the IR's sequence-first layout.
  std::vector<ir::Expr> per_step;
  for (const auto& step : outputs) {
    std::vector<ir::Expr> dirs;
    for (const ir::Expr& h : step) {
      dirs.push_back(ctx.call("unsqueeze", {h}, {{"axes", std::vector<int64_t>{0, 1}}}));
    }
    per_step.push_back(dirs.size() == 1 ? dirs[0]
                                        : ctx.call("concat", dirs, {{"axis", int64_t{1}}}));
  }
  ir::Expr y =
      per_step.size() == 1 ? per_step[0] : ctx.call("concat", per_step, {{"axis", int64_t{0}}});
  ir::Expr y_h = last.size() == 1 ? last[0] : ctx.call("concat", last, {{"axis", int64_t{0}}});
  if (setup.batch_first) {
    y = ctx.call("transpose", {y}, {{"axes", std::vector<int64_t>{2, 0, 1, 3}}});
    y_h = swap_first_two(ctx, y_h);
  }
  return {y, y_h};
}

}  // namespace

void add_rnn_converters(ConverterTable& table) {
  table["LSTM"] = convert_lstm;
  table["GRU"] = convert_gru;
  table["RNN"] = convert_rnn;
}

}  // namespace kiln::frontend::onnx_import
