// Compute and default schedule of conv2d_nchwc (src/op/nn/conv_blocked.cc).
//
// The schedule computes register tiles of [output-channel blocks x output rows x output columns x
// the channel block]; the channel block (ob, innermost in the result and the weight) is the
// vector. Each step of the reduction (input-channel block, kernel row, kernel column, channel in
// block) loads one weight vector per output-channel block of the tile and broadcasts one input
// value per output position of the tile, then does one multiply-add per (block, position) pair.
// The block sizes are chosen per shape (choose_blocks below), not fixed.
#include <algorithm>
#include <string>
#include <vector>

#include "ir/attrs.h"
#include "op/lower_util.h"
#include "op/nn/register_tile.h"

namespace kiln::op {
namespace {

constexpr const char* kTag = "conv2d_nchwc";

std::vector<te::Tensor> conv2d_nchwc_compute(const std::vector<te::Tensor>& inputs,
                                             const ir::Attrs& attrs, const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  const te::Tensor& weight = inputs[1];
  std::vector<int64_t> out_shape = result_shape(result);
  const std::vector<int64_t>& strides = attrs.get_ints("strides");
  const std::vector<int64_t>& padding = attrs.get_ints("padding");  // top, left, bottom, right
  const std::vector<int64_t>& dilation = attrs.get_ints("dilation");
  const bool depthwise = attrs.get_int("groups") != 1;
  DType dtype = data->dtype.dtype;
  // NHWC data (rank 4) is one channel block: positions below are [n, block, h, w, c] and
  // `nhwc_index` drops the block.
  // NCHW data (data_layout "NCHW") is one block too: [n, 0, h, w, c] reads [n, c, h, w].
  const bool nchw = attrs.get_string("data_layout") == "NCHW";
  const bool nhwc = data->shape.size() == 4 && !nchw;
  auto nhwc_index = [nhwc, nchw](std::vector<PrimExpr> index) {
    if (nhwc) index.erase(index.begin() + 1);
    if (nchw) index = {index[0], index[4], index[2], index[3]};
    return index;
  };
  const size_t h_axis = nhwc ? 1 : 2, w_axis = nhwc ? 2 : 3;

  // The padded input as its own stage, so that the reduction reads without bounds tests. Not for
  // a depthwise convolution: with only KH*KW taps per output it would spend more time copying its
  // input than computing, so it reads through a bounds test on the (scalar) row and column.
  te::Tensor source = data;
  const bool pad_h = padding[0] + padding[2] != 0, pad_w = padding[1] + padding[3] != 0;
  const bool inline_padding = depthwise && !nhwc && (pad_h || pad_w);
  if ((pad_h || pad_w) && !inline_padding) {
    std::vector<int64_t> padded_shape = data->shape;
    padded_shape[h_axis] += padding[0] + padding[2];
    padded_shape[w_axis] += padding[1] + padding[3];
    std::vector<bool> checked(data->shape.size(), false);
    checked[h_axis] = pad_h;
    checked[w_axis] = pad_w;
    std::vector<int64_t> offset(data->shape.size(), 0);
    offset[h_axis] = padding[0];
    offset[w_axis] = padding[1];
    source = te::compute(
        padded_shape,
        [&](const Indices& axes) {
          std::vector<PrimExpr> i = as_exprs(axes);
          for (size_t k = 0; k < i.size(); ++k) i[k] = i[k] - offset[k];
          return read_or(data, i, checked, constant(dtype, 0));
        },
        "conv2d_nchwc_pad", "pad");
  }

  // Reduce axes of extent 1 are left out (1x1 kernels, a single input-channel block).
  std::vector<tir::IterVar> reduce;
  auto reduce_axis = [&](int64_t extent, const char* name) -> PrimExpr {
    if (extent == 1) return PrimExpr(0);
    tir::IterVar axis = te::reduce_axis(extent, name);
    reduce.push_back(axis);
    return PrimExpr(axis.var);
  };
  PrimExpr block_in = depthwise ? PrimExpr(0) : reduce_axis(weight->shape[1], "rco");
  PrimExpr y = reduce_axis(weight->shape[2], "ry");
  PrimExpr x = reduce_axis(weight->shape[3], "rx");
  PrimExpr channel_in = depthwise ? PrimExpr(0) : reduce_axis(weight->shape[4], "rci");
  te::Tensor out = te::compute(
      out_shape,
      [&](const Indices& out_axes) {
        std::vector<PrimExpr> i = as_exprs(out_axes);
        if (nhwc) i.insert(i.begin() + 1, PrimExpr(0));  // [n, block 0, y, x, o]
        PrimExpr row = i[2] * strides[0] + y * dilation[0];
        PrimExpr column = i[3] * strides[1] + x * dilation[1];
        PrimExpr product =
            inline_padding
                ? read_or(data, {i[0], i[1], row - padding[0], column - padding[1], i[4]},
                          {false, false, pad_h, pad_w, false}, constant(dtype, 0)) *
                      weight(i[1], 0, y, x, 0, i[4])
            : depthwise ? source(nhwc_index({i[0], i[1], row, column, i[4]})) *
                              weight(i[1], 0, y, x, 0, i[4])
                        : source(nhwc_index({i[0], block_in, row, column, channel_in})) *
                              weight(i[1], block_in, y, x, channel_in, i[4]);
        return reduce.empty() ? product : te::sum(product, reduce);
      },
      "conv2d_nchwc", kTag,
      nhwc ? std::vector<std::string>{"n", "y", "x", "o"}
           : std::vector<std::string>{"n", "oc", "y", "x", "ob"});
  return {out};
}

struct Blocks {
  int64_t channel_blocks = 1, rows = 1, columns = 1;
};

std::vector<int64_t> divisors(int64_t extent, int64_t limit) {
  std::vector<int64_t> result;
  for (int64_t d = 1; d <= std::min(extent, limit); ++d) {
    if (extent % d == 0) result.push_back(d);
  }
  return result;
}

// The tile [channel_blocks x rows x columns] (times the vectors of one channel block) within
// `budget` accumulator registers that needs the fewest loads per multiply-add: per reduce step a
// tile loads channel_blocks weight vectors and broadcasts rows * columns inputs (depthwise: loads
// rows * columns input vectors, and channel blocks share nothing, so they stay 1). Ties go to the
// larger tile (less loop overhead). Tiles that would leave fewer tiles than cores are used only
// when nothing else fits. Divisors only: a tail would run as serial code.
// Consecutive tiles move along the image with the same output-channel blocks, so the weights of
// those blocks stay in the L1 cache from tile to tile while they fit (kL1WeightBytes, of a 32-48
// KiB L1): more than one block per tile is used only within that bound, else every tile would
// stream all its weights from L2 again.
constexpr int64_t kL1WeightBytes = 24 * 1024;

Blocks choose_blocks(const std::vector<int64_t>& out, int64_t budget, bool depthwise, int num_cores,
                     int64_t weight_bytes_per_block) {
  const int64_t channel_blocks = out[1], height = out[2], width = out[3];
  Blocks best;
  double best_cost = 1e30;
  bool best_parallel = false;
  for (int64_t columns : divisors(width, budget)) {
    int64_t max_blocks = depthwise ? 1 : budget / columns;
    max_blocks =
        std::min(max_blocks, std::max<int64_t>(1, kL1WeightBytes / weight_bytes_per_block));
    for (int64_t blocks : divisors(channel_blocks, max_blocks)) {
      for (int64_t rows : divisors(height, budget / (columns * blocks))) {
        double fmas = static_cast<double>(columns * rows * blocks);
        double cost = static_cast<double>(columns * rows + blocks) / fmas;
        int64_t tiles = out[0] * (channel_blocks / blocks) * (height / rows) * (width / columns);
        bool parallel = tiles >= num_cores;
        bool better =
            (parallel && !best_parallel) ||
            (parallel == best_parallel &&
             (cost < best_cost - 1e-9 ||
              (cost < best_cost + 1e-9 &&
               fmas > static_cast<double>(best.columns * best.rows * best.channel_blocks))));
        if (better) {
          best = {blocks, rows, columns};
          best_cost = cost;
          best_parallel = parallel;
        }
      }
    }
  }
  return best;
}

void conv2d_nchwc_schedule(te::Schedule& schedule, const std::vector<te::Tensor>& outputs,
                           const ScheduleContext& context) {
  const te::Tensor& output = outputs[0];
  const te::Tensor& conv = context.anchor ? context.anchor : output;
  std::vector<te::Tensor> inputs = te::input_tensors(conv);
  const size_t rank = conv->shape.size();
  if (conv->tag == kTag && (rank == 5 || rank == 4) && inputs.size() == 2) {
    const te::Tensor& source = inputs[0];
    const te::Tensor& weight = inputs[1];
    if (source->tag == "pad") schedule_injective_stage(schedule, source, context);
    const bool nhwc = rank == 4;
    bool depthwise = source->shape.size() == rank && weight->shape[1] == 1 &&
                     weight->shape[4] == 1 && weight->shape[5] > 1 &&
                     source->shape.back() == weight->shape[5];
    int lanes = context.lanes(conv->dtype.dtype);
    // The vector: the channel block; in NHWC, a slice of at most two vectors of the channels.
    int64_t vector_extent =
        nhwc ? vector_block(conv->shape[3], lanes, 2, /*prefer_larger=*/true) : conv->shape[4];
    int64_t vectors = (vector_extent + lanes - 1) / lanes;
    int64_t budget = std::max<int64_t>(1, accumulator_registers(context) / vectors);
    int64_t weight_bytes_per_block = weight->shape[1] * weight->shape[2] * weight->shape[3] *
                                     weight->shape[4] * weight->shape[5] *
                                     static_cast<int64_t>(dtype_size(weight->dtype.dtype));
    std::vector<int64_t> tile_shape =
        nhwc ? std::vector<int64_t>{conv->shape[0], 1, conv->shape[1], conv->shape[2]}
             : conv->shape;
    Blocks blocks = choose_blocks(tile_shape, budget, depthwise || nhwc, context.num_cores,
                                  weight_bytes_per_block);
    std::vector<int64_t> tile =
        nhwc ? std::vector<int64_t>{1, blocks.rows, blocks.columns, vector_extent}
             : std::vector<int64_t>{1, blocks.channel_blocks, blocks.rows, blocks.columns,
                                    vector_extent};
    if (register_tile(schedule, output, conv, tile, context)) return;
  }
  for (const te::Tensor& stage : compute_stages(outputs)) schedule_stage(schedule, stage, context);
}

}  // namespace

void register_conv_blocked_impls() {
  register_impl("conv2d_nchwc", OpImpl{conv2d_nchwc_compute, conv2d_nchwc_schedule});
}

}  // namespace kiln::op
