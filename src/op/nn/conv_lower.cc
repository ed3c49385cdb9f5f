// Compute and default schedule of conv2d (NCHW data, OIHW weight; any stride, padding, dilation
// and groups, depthwise included).
//
// Padding is a separate stage (the padded input), so that the convolution's inner loops read
// without bounds tests; it exists only when some padding is non-zero or the column stride is
// more than 1 (then it also splits the columns into phases: see conv2d_compute).
#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include "ir/attrs.h"
#include "kiln/error.h"
#include "op/lower_util.h"
#include "op/nn/register_tile.h"

namespace kiln::op {
namespace {

constexpr const char* kConvTag = "conv2d_nchw";

std::vector<te::Tensor> conv2d_compute(const std::vector<te::Tensor>& inputs,
                                       const ir::Attrs& attrs, const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  const te::Tensor& weight = inputs[1];
  std::vector<int64_t> out_shape = result_shape(result);
  const std::vector<int64_t>& strides = attrs.get_ints("strides");
  const std::vector<int64_t>& padding = attrs.get_ints("padding");  // top, left, bottom, right
  const std::vector<int64_t>& dilation = attrs.get_ints("dilation");
  int64_t groups = attrs.get_int("groups");
  int64_t in_per_group = weight->shape[1];
  int64_t out_per_group = out_shape[1] / groups;
  int64_t kernel_h = weight->shape[2], kernel_w = weight->shape[3];

  // With a column stride s > 1 the input is split into s column phases,
  //   source[n, c, row, p, q] = padded[n, c, row, q * s + p],
  // so that the output columns, which read padded columns ow * s + kx * dilation, read phase
  // (kx * dilation) % s at q = ow + (kx * dilation) / s: contiguous vectors instead of gathers.
  // A 1-wide kernel reads only phase 0, a 1-high kernel only every s-th row: the stage keeps just
  // those (the 1x1 stride-2 downsampling convolutions read a quarter of their input).
  const int64_t stride_w = strides[1];
  const bool phased = stride_w > 1;
  const bool pad_h = padding[0] + padding[2] != 0, pad_w = padding[1] + padding[3] != 0;
  const bool rows_strided = phased && kernel_h == 1;
  DType dtype = data->dtype.dtype;
  te::Tensor source = data;
  if (phased) {
    int64_t rows = rows_strided ? out_shape[2] : data->shape[2] + padding[0] + padding[2];
    int64_t phases = kernel_w == 1 ? 1 : stride_w;
    int64_t columns = out_shape[3] + (kernel_w - 1) * dilation[1] / stride_w;
    source = te::compute({data->shape[0], data->shape[1], rows, phases, columns},
                         [&](const Indices& axes) {
                           std::vector<PrimExpr> i = as_exprs(axes);
                           PrimExpr row = rows_strided ? i[2] * strides[0] : i[2];
                           PrimExpr column = i[4] * stride_w + i[3];
                           // Columns past the padded input exist in the last phases' tails (never
                           // read): zeros.
                           return read_or(data, {i[0], i[1], row - padding[0], column - padding[1]},
                                          {false, false, pad_h, true}, constant(dtype, 0));
                         },
                         "conv2d_pad", "pad", {"n", "c", "h", "p", "w"});
  } else if (pad_h || pad_w) {
    std::vector<int64_t> padded_shape = {data->shape[0], data->shape[1],
                                         data->shape[2] + padding[0] + padding[2],
                                         data->shape[3] + padding[1] + padding[3]};
    source = te::compute(padded_shape,
                         [&](const Indices& axes) {
                           std::vector<PrimExpr> i = as_exprs(axes);
                           return read_or(data, {i[0], i[1], i[2] - padding[0], i[3] - padding[1]},
                                          {false, false, pad_h, pad_w}, constant(dtype, 0));
                         },
                         "conv2d_pad", "pad", {"n", "c", "h", "w"});
  }

  // Reduce axes of extent 1 are left out (depthwise: one input channel per group; 1x1 kernels).
  std::vector<tir::IterVar> axes;
  tir::IterVar rc = te::reduce_axis(in_per_group, "rc");
  tir::IterVar ry = te::reduce_axis(kernel_h, "ry");
  tir::IterVar rx = te::reduce_axis(kernel_w, "rx");
  for (const tir::IterVar& axis : {rc, ry, rx}) {
    if (axis.extent > 1) axes.push_back(axis);
  }
  auto axis_value = [](const tir::IterVar& axis) {
    return axis.extent > 1 ? PrimExpr(axis.var) : PrimExpr(0);
  };
  PrimExpr c = axis_value(rc), y = axis_value(ry), x = axis_value(rx);
  te::Tensor out = te::compute(
      out_shape,
      [&](const Indices& out_axes) {
        std::vector<PrimExpr> i = as_exprs(out_axes);
        PrimExpr channel =
            groups == 1 ? c : tir::floordiv(i[1], PrimExpr(out_per_group)) * in_per_group + c;
        PrimExpr row = rows_strided ? i[2] : i[2] * strides[0] + y * dilation[0];
        PrimExpr read;
        if (phased) {
          PrimExpr offset = x * dilation[1];
          PrimExpr phase = kernel_w == 1 ? PrimExpr(0) : tir::floormod(offset, PrimExpr(stride_w));
          read =
              source(i[0], channel, row, phase, i[3] + tir::floordiv(offset, PrimExpr(stride_w)));
        } else {
          read = source(i[0], channel, row, i[3] * stride_w + x * dilation[1]);
        }
        PrimExpr product = widen(read) * widen(weight(i[1], c, y, x));
        return axes.empty() ? product : te::sum(product, axes);
      },
      "conv2d", kConvTag, {"n", "o", "y", "x"});
  return {round_to(out, result_tensor(result).dtype, "conv2d_round")};
}

// Weight rows read in step that may share one L1 set (of 12 or 8 ways), leaving ways for the
// input rows.
constexpr int64_t kMaxRowsPerSet = 8;

// The most of `rows` rows `row_bytes` apart whose lines fall into one L1 set (64 sets of 64-byte
// lines: the L1 data cache of current x86 cores, 32 KiB 8-way or 48 KiB 12-way).
int64_t rows_per_set(int64_t rows, int64_t row_bytes) {
  std::map<int64_t, int64_t> count;
  int64_t most = 0;
  for (int64_t row = 0; row < rows; ++row)
    most = std::max(most, ++count[row * row_bytes / 64 % 64]);
  return most;
}

// The column-phase stage [n, c, row, phase, column] reads input column column * s + phase: a
// vector along its columns would be a gather (slow: several times the cost of the convolution
// for depthwise layers). Its phases go innermost instead, unrolled, so that each step reads s
// adjacent input columns, and LLVM's loop vectorizer turns the column loop into contiguous loads
// and shuffles (interleaved accesses).
void schedule_phase_split(te::Schedule& schedule, const te::Tensor& stage,
                          const ScheduleContext& context) {
  std::string name = schedule.stage_name(stage);
  std::vector<std::string> loops = schedule.loops(name);
  if (!schedule.at_root(name) || loops.size() != 5) return;
  schedule.reorder(name, {loops[0], loops[1], loops[2], loops[4], loops[3]});
  schedule.unroll(name, loops[3]);
  if (context.num_cores > 1)
    schedule.parallel(name, schedule.fuse(name, {loops[0], loops[1], loops[2]}));
}

// The default schedule: register tiles of [output channels x output rows x output columns]
// (see register_tile.h), the columns a vector. Block sizes, per shape:
//   - columns: the divisor of the output width of at most 4 vectors that fills the vector lanes
//     best (56 -> 14, 112 -> 16, 7 -> 7); the smallest such, which leaves registers for channels;
//   - channels: the largest divisor of the output channels per group that fits the accumulator
//     registers with the column vectors (16 for 64..2048 channels on AVX-512): each input vector
//     loaded in the reduce loop serves that many weights (broadcast); halved while more than
//     kMaxRowsPerSet of its weight rows (one per channel, read in step) fall into one L1 set: with
//     4 KiB-multiple rows (1x1, 1024 input channels) all 16 rows collide in one 12-way set and
//     every weight load would miss L1;
//   - rows: when few channels fit a block (depthwise: one), the largest divisor of the output
//     height that fills the remaining accumulators.
// Divisors only, so that no block has a tail (a tail would run as serial code). The tiles run in
// parallel; the padded (or column-phase) input is computed whole first, in parallel, so that
// the reduce loops read without bounds tests.
void conv2d_schedule(te::Schedule& schedule, const std::vector<te::Tensor>& outputs,
                     const ScheduleContext& context) {
  const te::Tensor& output = outputs[0];
  const te::Tensor& conv = context.anchor ? context.anchor : output;
  std::vector<te::Tensor> inputs = te::input_tensors(conv);
  if (conv->tag == kConvTag && conv->shape.size() == 4 && inputs.size() == 2) {
    const te::Tensor& source = inputs[0];
    const te::Tensor& weight = inputs[1];
    if (source->tag == "pad" && source->shape.size() == 5) {
      schedule_phase_split(schedule, source, context);
    } else if (source->tag == "pad") {
      schedule_injective_stage(schedule, source, context);
    }
    int64_t groups = source->shape[1] / weight->shape[1];
    int64_t out_per_group = conv->shape[1] / groups;
    int lanes = context.lanes(conv->dtype.dtype);
    int registers = accumulator_registers(context);
    int64_t width_block = vector_block(conv->shape[3], lanes, 4);
    int64_t vectors = (width_block + lanes - 1) / lanes;
    int64_t channel_block = divisor_at_most(out_per_group, registers / vectors);
    int64_t row_bytes = weight->shape[1] * weight->shape[2] * weight->shape[3] *
                        static_cast<int64_t>(dtype_size(weight->dtype.dtype));
    while (channel_block % 2 == 0 && rows_per_set(channel_block, row_bytes) > kMaxRowsPerSet) {
      channel_block /= 2;
    }
    int64_t row_block = divisor_at_most(conv->shape[2], registers / (vectors * channel_block));
    if (register_tile(schedule, output, conv, {1, channel_block, row_block, width_block},
                      context)) {
      return;
    }
  }
  for (const te::Tensor& stage : compute_stages(outputs)) schedule_stage(schedule, stage, context);
}

}  // namespace

void register_conv_impls() { register_impl("conv2d", OpImpl{conv2d_compute, conv2d_schedule}); }

}  // namespace kiln::op
