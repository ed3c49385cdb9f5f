// Computes of lstm and gru (src/op/nn/rnn.cc), ONNX semantics: gate order i, o, f, c (LSTM) and
// z, r, h (GRU) along dim 1 of W / R, B = [Wb, Rb], directions forward / reverse /
// bidirectional, clip on every gate pre-activation, LSTM input_forget (f = 1 - i) and GRU
// linear_before_reset.
//
// te has no scan, so the recurrence is unrolled over the static sequence length: step s of
// every direction is a few stages over [dirs, batch, ...] that read the previous step's state
// stages (direction d at step s works on time s, or seq - 1 - s when d runs in reverse):
//
//   input projection (one stage for all steps):  xw[s, d, b, g] = sum_k X[time, b, k] W[d, g, k]
//   per step:  rec_s[d, b, g] = sum_k h_{s-1}[d, b, k] R[d, g, k]       (reduction)
//              LSTM: c_s, then h_s = o * tanh(c_s)                     (elementwise)
//              GRU:  (linear_before_reset = 0) r * h_{s-1}, its product with R_h, then h_s
//
// Y gathers h_s of step(t, d) through a balanced tree of selects; Y_h / Y_c copy the last step.
// Three or four stages a step keep compile time linear in the sequence length (about 6 s for 128
// steps of hidden size 128 on these machines). The schedule treats each stage on its own; the
// per-step stages run serially unless a step has enough work to pay for waking the thread pool,
// which also spares LLVM one outlined task function per stage.
#include <functional>
#include <string>
#include <vector>

#include "ir/attrs.h"
#include "kiln/error.h"
#include "op/lower_util.h"

namespace kiln::op {
namespace {

using tir::IterVar;
using tir::select;

// Tag of the per-step stages, which the schedule keeps serial when they are small.
constexpr const char* kStepTag = "rnn_step";
// Multiply-adds (or elements) below which a per-step stage is not worth a parallel launch.
constexpr int64_t kParallelWork = int64_t{1} << 18;

struct RnnShape {
  int64_t seq = 0, batch = 0, input = 0, hidden = 0, dirs = 1, gates = 4;
  std::string direction;
  double clip = 0;
  DType dtype = DType::kFloat32;

  // Whether direction d runs from the last time step to the first.
  PrimExpr reversed(const PrimExpr& d) const {
    if (direction == "reverse") return constant(DType::kBool, 1);
    if (direction == "bidirectional") return d == PrimExpr(1);
    return constant(DType::kBool, 0);
  }
  // The time step direction d works on at step s (and the step that works on time t).
  PrimExpr time_of(const PrimExpr& step, const PrimExpr& d) const {
    if (direction == "forward") return step;
    if (direction == "reverse") return PrimExpr(seq - 1) - step;
    return select(reversed(d), PrimExpr(seq - 1) - step, step);
  }
};

RnnShape rnn_shape(const std::vector<te::Tensor>& inputs, const ir::Attrs& attrs, int64_t gates) {
  RnnShape shape;
  const te::Tensor& x = inputs[0];
  shape.seq = x->shape[0];
  shape.batch = x->shape[1];
  shape.input = x->shape[2];
  shape.hidden = attrs.get_int("hidden_size");
  shape.direction = attrs.get_string("direction");
  shape.dirs = shape.direction == "bidirectional" ? 2 : 1;
  shape.gates = gates;
  shape.clip = attrs.get_float("clip");
  shape.dtype = x->dtype.dtype;
  return shape;
}

// Shared pieces of both layers.
class Unrolled {
 public:
  Unrolled(const RnnShape& shape, const std::vector<te::Tensor>& inputs, std::string op)
      : shape_(shape),
        x_(inputs[0]),
        w_(inputs[1]),
        r_(inputs[2]),
        b_(inputs[3]),
        op_(std::move(op)) {
    int64_t rows = shape_.gates * shape_.hidden;
    // X times W for every step at once: the only part of the layer that does not depend on the
    // recurrence.
    xw_ = te::compute(
        {shape_.seq, shape_.dirs, shape_.batch, rows},
        [&](const Indices& axes) {
          std::vector<PrimExpr> i = as_exprs(axes);
          IterVar k = te::reduce_axis(shape_.input, "k");
          PrimExpr time = shape_.time_of(i[0], i[1]);
          return te::sum(x_(time, i[2], k) * w_(i[1], i[3], k), {k});
        },
        op_ + "_xw", "reduce");
  }

  // sum_k state[d, b, k] * R[d, first_row + g, k] over g in [0, rows).
  te::Tensor recurrent(const te::Tensor& state, int64_t first_row, int64_t rows,
                       const std::string& name) const {
    return te::compute(
        {shape_.dirs, shape_.batch, rows},
        [&](const Indices& axes) {
          std::vector<PrimExpr> i = as_exprs(axes);
          IterVar k = te::reduce_axis(shape_.hidden, "k");
          return te::sum(state(i[0], i[1], k) * r_(i[0], PrimExpr(first_row) + i[2], k), {k});
        },
        name, kStepTag);
  }

  // Input projection of `gate` at step s plus the input bias Wb (and the recurrent bias Rb when
  // `with_recurrent_bias`), for direction d, batch row b, unit j.
  PrimExpr projected(int64_t step, int64_t gate, const PrimExpr& d, const PrimExpr& b,
                     const PrimExpr& j, bool with_recurrent_bias) const {
    PrimExpr row = PrimExpr(gate * shape_.hidden) + j;
    PrimExpr value = xw_(PrimExpr(step), d, b, row) + b_(d, row);
    if (with_recurrent_bias) value = value + recurrent_bias(gate, d, j);
    return value;
  }
  PrimExpr recurrent_bias(int64_t gate, const PrimExpr& d, const PrimExpr& j) const {
    return b_(d, PrimExpr((shape_.gates + gate) * shape_.hidden) + j);
  }

  PrimExpr clipped(const PrimExpr& value) const {
    if (shape_.clip <= 0) return value;
    return tir::min(tir::max(value, constant(shape_.dtype, -shape_.clip)),
                    constant(shape_.dtype, shape_.clip));
  }

  std::vector<int64_t> state_shape() const { return {shape_.dirs, shape_.batch, shape_.hidden}; }

  // Y[t, d, b, j] = states[step(t, d)][d, b, j], the step found by bisection.
  te::Tensor sequence_output(const std::vector<te::Tensor>& states) const {
    return te::compute(
        {shape_.seq, shape_.dirs, shape_.batch, shape_.hidden},
        [&](const Indices& axes) {
          std::vector<PrimExpr> i = as_exprs(axes);
          PrimExpr step = shape_.time_of(i[0], i[1]);  // time_of is its own inverse
          return pick(states, 0, static_cast<int64_t>(states.size()), step, i[1], i[2], i[3]);
        },
        op_ + "_y", "injective");
  }

  te::Tensor copy(const te::Tensor& state, const std::string& name) const {
    return te::compute(
        state_shape(), [&](const Indices& i) { return state(as_exprs(i)); }, name, "injective");
  }

 private:
  PrimExpr pick(const std::vector<te::Tensor>& states, int64_t begin, int64_t end,
                const PrimExpr& step, const PrimExpr& d, const PrimExpr& b,
                const PrimExpr& j) const {
    if (end - begin == 1) return states[static_cast<size_t>(begin)](d, b, j);
    int64_t middle = begin + (end - begin) / 2;
    return select(step < PrimExpr(middle), pick(states, begin, middle, step, d, b, j),
                  pick(states, middle, end, step, d, b, j));
  }

  const RnnShape& shape_;
  te::Tensor x_, w_, r_, b_;
  std::string op_;
  te::Tensor xw_;
};

void rnn_schedule(te::Schedule& schedule, const std::vector<te::Tensor>& outputs,
                  const ScheduleContext& context) {
  ScheduleContext serial = context;
  serial.num_cores = 1;
  for (const te::Tensor& stage : compute_stages(outputs)) {
    int64_t work = 1;
    for (int64_t extent : stage->shape) work *= extent;
    for (const IterVar& axis : stage->reduce_axis()) work *= axis.extent;
    bool small_step = stage->tag == kStepTag && work < kParallelWork;
    schedule_stage(schedule, stage, small_step ? serial : context);
  }
}

PrimExpr sigmoid(const PrimExpr& x) { return tir::intrinsic("sigmoid", {x}); }
PrimExpr tanh_of(const PrimExpr& x) { return tir::intrinsic("tanh", {x}); }

std::vector<te::Tensor> lstm_compute(const std::vector<te::Tensor>& inputs, const ir::Attrs& attrs,
                                     const ir::Type&) {
  RnnShape shape = rnn_shape(inputs, attrs, 4);
  bool input_forget = attrs.get_int("input_forget") != 0;
  Unrolled layer(shape, inputs, "lstm");
  te::Tensor h = inputs[4], c = inputs[5];
  std::vector<te::Tensor> hs;
  PrimExpr one = constant(shape.dtype, 1);
  for (int64_t s = 0; s < shape.seq; ++s) {
    std::string suffix = "_" + std::to_string(s);
    te::Tensor rec = layer.recurrent(h, 0, 4 * shape.hidden, "lstm_rec" + suffix);
    // Gate g's activation input for (d, b, j); gates are i, o, f, c.
    auto gate = [&](int64_t g, const std::vector<PrimExpr>& i) {
      PrimExpr row = PrimExpr(g * shape.hidden) + i[2];
      return layer.clipped(layer.projected(s, g, i[0], i[1], i[2], true) + rec(i[0], i[1], row));
    };
    te::Tensor previous_c = c;
    c = te::compute(
        layer.state_shape(),
        [&](const Indices& axes) {
          std::vector<PrimExpr> i = as_exprs(axes);
          PrimExpr input_gate = sigmoid(gate(0, i));
          PrimExpr forget_gate = input_forget ? one - input_gate : sigmoid(gate(2, i));
          return forget_gate * previous_c(i[0], i[1], i[2]) + input_gate * tanh_of(gate(3, i));
        },
        "lstm_c" + suffix, kStepTag);
    te::Tensor cell = c;
    h = te::compute(
        layer.state_shape(),
        [&](const Indices& axes) {
          std::vector<PrimExpr> i = as_exprs(axes);
          return sigmoid(gate(1, i)) * tanh_of(cell(i[0], i[1], i[2]));
        },
        "lstm_h" + suffix, kStepTag);
    hs.push_back(h);
  }
  return {layer.sequence_output(hs), layer.copy(h, "lstm_y_h"), layer.copy(c, "lstm_y_c")};
}

std::vector<te::Tensor> gru_compute(const std::vector<te::Tensor>& inputs, const ir::Attrs& attrs,
                                    const ir::Type&) {
  RnnShape shape = rnn_shape(inputs, attrs, 3);
  bool linear_before_reset = attrs.get_int("linear_before_reset") != 0;
  int64_t hidden = shape.hidden;
  Unrolled layer(shape, inputs, "gru");
  te::Tensor h = inputs[4];
  std::vector<te::Tensor> hs;
  PrimExpr one = constant(shape.dtype, 1);
  for (int64_t s = 0; s < shape.seq; ++s) {
    std::string suffix = "_" + std::to_string(s);
    // z and r (and h's recurrent product when it comes before the reset gate).
    te::Tensor rec =
        layer.recurrent(h, 0, (linear_before_reset ? 3 : 2) * hidden, "gru_rec" + suffix);
    auto zr_gate = [&](int64_t g, const PrimExpr& d, const PrimExpr& b, const PrimExpr& j) {
      PrimExpr row = PrimExpr(g * hidden) + j;
      return sigmoid(layer.clipped(layer.projected(s, g, d, b, j, true) + rec(d, b, row)));
    };
    te::Tensor previous = h;
    std::function<PrimExpr(const std::vector<PrimExpr>&)> candidate;
    te::Tensor reset_rec;
    if (linear_before_reset) {
      candidate = [&, s](const std::vector<PrimExpr>& i) {
        PrimExpr recurrent =
            rec(i[0], i[1], PrimExpr(2 * hidden) + i[2]) + layer.recurrent_bias(2, i[0], i[2]);
        return tanh_of(layer.clipped(layer.projected(s, 2, i[0], i[1], i[2], false) +
                                     zr_gate(1, i[0], i[1], i[2]) * recurrent));
      };
    } else {
      te::Tensor reset = te::compute(
          layer.state_shape(),
          [&](const Indices& axes) {
            std::vector<PrimExpr> i = as_exprs(axes);
            return zr_gate(1, i[0], i[1], i[2]) * previous(i[0], i[1], i[2]);
          },
          "gru_reset" + suffix, kStepTag);
      reset_rec = layer.recurrent(reset, 2 * hidden, hidden, "gru_reset_rec" + suffix);
      candidate = [&, s](const std::vector<PrimExpr>& i) {
        return tanh_of(layer.clipped(layer.projected(s, 2, i[0], i[1], i[2], true) +
                                     reset_rec(i[0], i[1], i[2])));
      };
    }
    h = te::compute(
        layer.state_shape(),
        [&](const Indices& axes) {
          std::vector<PrimExpr> i = as_exprs(axes);
          PrimExpr z = zr_gate(0, i[0], i[1], i[2]);
          return (one - z) * candidate(i) + z * previous(i[0], i[1], i[2]);
        },
        "gru_h" + suffix, kStepTag);
    hs.push_back(h);
  }
  return {layer.sequence_output(hs), layer.copy(h, "gru_y_h")};
}

}  // namespace

void register_rnn_impls() {
  register_impl("lstm", OpImpl{lstm_compute, rnn_schedule});
  register_impl("gru", OpImpl{gru_compute, rnn_schedule});
}

}  // namespace kiln::op
