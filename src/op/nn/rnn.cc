// Recurrent layers in the ONNX layout (X[seq, batch, input], gates stacked along dim 1 of W and
// R): lstm (4 gates, results Y, Y_h, Y_c) and gru (3 gates, results Y, Y_h).
#include <string>
#include <vector>

#include "ir/op.h"
#include "op/nn/nn_util.h"
#include "op/op_util.h"

namespace kiln::op {
namespace {

// The shapes an RNN call works on, once its arguments are validated.
struct RnnDims {
  Dim seq, batch, input;
  int64_t hidden = 0;
  int64_t dirs = 1;
};

int64_t direction_count(const ir::Attrs& attrs, std::string_view op_name) {
  const std::string& direction =
      nn::string_choice(attrs, "direction", {"forward", "reverse", "bidirectional"}, op_name);
  return direction == "bidirectional" ? 2 : 1;
}

// Validates X, W, R, B, initial_h (and initial_c for lstm) against hidden_size and the direction
// count. `gates` is 4 for lstm, 3 for gru; `state_args` the number of initial states.
RnnDims check_rnn(const std::vector<Type>& args, const ir::Attrs& attrs, int64_t gates,
                  size_t state_args, std::string_view op_name) {
  const TensorType& x = tensor_arg(args, 0, op_name);
  require_rank(x, 3, op_name, "X [seq_length, batch_size, input_size]");
  require_float(x, op_name, "X");
  RnnDims dims{x.shape[0], x.shape[1], x.shape[2], attrs.get_int("hidden_size"),
               direction_count(attrs, op_name)};
  nn::require_positive(dims.hidden, "hidden_size", op_name);
  nn::require_non_negative(attrs.get_float("clip"), "clip", op_name);

  const std::string context = "for hidden_size " + std::to_string(dims.hidden) + " and " +
                              std::to_string(dims.dirs) + " direction(s)";
  const std::string g = std::to_string(gates);
  const int64_t gate_rows = gates * dims.hidden;
  struct Expected {
    const char* name;
    Shape shape;
    std::string layout;
  };
  std::vector<Expected> expected = {
      {"W", {dims.dirs, gate_rows, dims.input}, "[dirs, " + g + "*hidden, input]"},
      {"R", {dims.dirs, gate_rows, dims.hidden}, "[dirs, " + g + "*hidden, hidden]"},
      {"B", {dims.dirs, 2 * gate_rows}, "[dirs, " + std::to_string(2 * gates) + "*hidden]"},
      {"initial_h", {dims.dirs, dims.batch, dims.hidden}, "[dirs, batch, hidden]"},
      {"initial_c", {dims.dirs, dims.batch, dims.hidden}, "[dirs, batch, hidden]"},
  };
  for (size_t i = 0; i < 3 + state_args; ++i) {
    const TensorType& arg = tensor_arg(args, i + 1, op_name);
    nn::require_shape(arg, expected[i].shape, expected[i].name, expected[i].layout + " " + context,
                      op_name);
    if (arg.dtype != x.dtype) {
      type_error(op_name, std::string(expected[i].name) + " has dtype " +
                              std::string(dtype_name(arg.dtype)) + " but X is " + x.to_string());
    }
  }
  return dims;
}

// The per-step outputs Y[seq, dirs, batch, hidden] and a final state [dirs, batch, hidden].
TensorType sequence_output(const RnnDims& dims, DType dtype) {
  return TensorType{dtype, {dims.seq, dims.dirs, dims.batch, dims.hidden}};
}
TensorType state_output(const RnnDims& dims, DType dtype) {
  return TensorType{dtype, {dims.dirs, dims.batch, dims.hidden}};
}

Type infer_lstm(const std::vector<Type>& args, const ir::Attrs& attrs) {
  RnnDims dims = check_rnn(args, attrs, 4, 2, "lstm");
  nn::require_flag(attrs.get_int("input_forget"), "input_forget", "lstm");
  DType dtype = args[0].as_tensor().dtype;
  return Type::tuple(
      {sequence_output(dims, dtype), state_output(dims, dtype), state_output(dims, dtype)});
}

Type infer_gru(const std::vector<Type>& args, const ir::Attrs& attrs) {
  RnnDims dims = check_rnn(args, attrs, 3, 1, "gru");
  nn::require_flag(attrs.get_int("linear_before_reset"), "linear_before_reset", "gru");
  DType dtype = args[0].as_tensor().dtype;
  return Type::tuple({sequence_output(dims, dtype), state_output(dims, dtype)});
}

// Each step of each direction multiplies [input, hidden] into gates*hidden gate rows per batch
// row: seq * batch * dirs * gates*H * (I + H).
ir::MacCounter rnn_macs(int64_t gates) {
  return [gates](const std::vector<Type>& args, const ir::Attrs& attrs, const Type& result) {
    if (!nn::all_static(args, result)) return int64_t{0};
    std::vector<int64_t> x = args[0].as_tensor().static_shape();
    int64_t hidden = attrs.get_int("hidden_size");
    int64_t dirs = attrs.get_string("direction") == "bidirectional" ? 2 : 1;
    return x[0] * x[1] * dirs * gates * hidden * (x[2] + hidden);
  };
}

std::vector<ir::AttrDef> rnn_attrs() {
  return {attr_int("hidden_size", std::nullopt, "size of the hidden state"),
          attr_string("direction", "forward", "forward, reverse or bidirectional"),
          attr_float("clip", 0.0, "cell clip threshold; 0 = none")};
}

}  // namespace

void register_rnn_ops(ir::OpRegistry& registry) {
  std::vector<ir::AttrDef> lstm_attrs = rnn_attrs();
  lstm_attrs.push_back(attr_int("input_forget", 0, "couple the input and forget gates"));
  ir::OpDef lstm = nn::make_op("lstm", "LSTM layer (ONNX layout) -> (Y, Y_h, Y_c)", 6, 6,
                               std::move(lstm_attrs), ir::OpPattern::kOpaque, infer_lstm);
  lstm.macs = rnn_macs(4);
  registry.add(std::move(lstm));

  std::vector<ir::AttrDef> gru_attrs = rnn_attrs();
  gru_attrs.push_back(
      attr_int("linear_before_reset", 0, "apply the recurrence before the reset gate"));
  ir::OpDef gru = nn::make_op("gru", "GRU layer (ONNX layout) -> (Y, Y_h)", 5, 5,
                              std::move(gru_attrs), ir::OpPattern::kOpaque, infer_gru);
  gru.macs = rnn_macs(3);
  registry.add(std::move(gru));
}

}  // namespace kiln::op
