// Converters for small operators that the IR has no operator of its own for, each written as a
// few IR operators (ONNX's function body where it has one): Shrink, Swish,
// MeanVarianceNormalization, Det, ReverseSequence and CenterCropPad.
#include <string>
#include <vector>

#include "frontend/onnx/converter.h"

namespace kiln::frontend::onnx_import {

namespace {

using Outputs = std::vector<ir::Expr>;

// Det runs Gaussian elimination unrolled over the columns, about 20 IR operators per column.
constexpr int64_t kMaxDetSize = 64;

// Every dim of `type` when all are static, else an error naming what needs them.
std::vector<int64_t> static_shape(const NodeContext& ctx, const ir::TensorType& type,
                                  const std::string& what) {
  std::vector<int64_t> shape;
  for (const ir::Dim& dim : type.shape) {
    if (!dim.is_static()) {
      ctx.fail(what + " needs a static shape, got " + type.to_string() + ctx.shape_dict_hint());
    }
    shape.push_back(dim.value());
  }
  return shape;
}

// 0, 1, ..., count - 1 as an int64 (or `dtype`) constant of shape `shape` (count elements).
ir::Expr iota(const NodeContext& ctx, int64_t count, std::vector<int64_t> shape,
              DType dtype = DType::kInt64) {
  Tensor values(dtype, std::move(shape));
  for (int64_t i = 0; i < count; ++i) values.set_element_from_int64(i, i);
  return ctx.constant(std::move(values));
}

ir::Expr int_scalar(const NodeContext& ctx, int64_t value) {
  return ctx.constant(Tensor::from_int64s({value}, /*scalar=*/true));
}

void require_float(const NodeContext& ctx, const ir::TensorType& type) {
  if (!dtype_is_float(type.dtype))
    ctx.fail("input must be a float tensor, got " + type.to_string());
}

// Shrink: x + bias where x < -lambd, x - bias where x > lambd, 0 elsewhere.
Outputs convert_shrink(const NodeContext& ctx) {
  const ir::TensorType& type = ctx.input_type(0);
  if (type.dtype == DType::kBool) ctx.fail("input must be numeric, got " + type.to_string());
  ir::Expr x = ctx.input(0);
  double lambd = ctx.attr_float("lambd", 0.5);
  ir::Expr bias = ctx.scalar(ctx.attr_float("bias", 0.0), type.dtype);
  ir::Expr below = ctx.call("less", {x, ctx.scalar(-lambd, type.dtype)});
  ir::Expr above = ctx.call("less", {ctx.scalar(lambd, type.dtype), x});
  ir::Expr upper =
      ctx.call("where", {above, ctx.call("subtract", {x, bias}), ctx.scalar(0, type.dtype)});
  return {ctx.call("where", {below, ctx.call("add", {x, bias}), upper})};
}

// Swish (opset 24): x * sigmoid(alpha * x).
Outputs convert_swish(const NodeContext& ctx) {
  const ir::TensorType& type = ctx.input_type(0);
  require_float(ctx, type);
  ir::Expr x = ctx.input(0);
  double alpha = ctx.attr_float("alpha", 1.0);
  ir::Expr scaled = alpha == 1.0 ? x : ctx.call("multiply", {x, ctx.scalar(alpha, type.dtype)});
  return {ctx.call("multiply", {x, ctx.call("sigmoid", {scaled})})};
}

// MeanVarianceNormalization: (x - mean) / (sqrt(variance) + 1e-9) over `axes` (default N, H, W).
// The function body takes the variance as E[x^2] - E[x]^2, which rounding can make negative (a
// NaN from sqrt); E[(x - mean)^2] is the same quantity without that cancellation.
Outputs convert_mvn(const NodeContext& ctx) {
  const ir::TensorType& type = ctx.input_type(0);
  require_float(ctx, type);
  std::vector<int64_t> axes = ctx.attr_ints("axes", {0, 2, 3});
  for (int64_t& axis : axes) axis = normalize_axis(ctx, axis, type.rank(), "axis");
  ir::Attrs reduce = {{"axes", axes}, {"keepdims", int64_t{1}}};
  ir::Expr x = ctx.input(0);
  ir::Expr centered = ctx.call("subtract", {x, ctx.call("reduce_mean", {x}, reduce)});
  ir::Expr variance = ctx.call("reduce_mean", {ctx.call("multiply", {centered, centered})}, reduce);
  ir::Expr deviation =
      ctx.call("add", {ctx.call("sqrt", {variance}), ctx.scalar(1e-9, type.dtype)});
  return {ctx.call("divide", {centered, deviation})};
}

// Det of [..., M, M]: Gaussian elimination with partial pivoting, unrolled over the M columns
// on a [B, M, M] batch. Column k: the row with the largest |value| at or below k is swapped into
// row k (flipping the sign), the pivot multiplies the determinant, and the rows below subtract
// their multiple of row k. A zero pivot makes the determinant 0; it is replaced by 1 for the
// division so that no NaN appears.
Outputs convert_det(const NodeContext& ctx) {
  const ir::TensorType& type = ctx.input_type(0);
  require_float(ctx, type);
  if (type.rank() < 2) ctx.fail("input must have rank >= 2 ([..., M, M]), got " + type.to_string());
  std::vector<int64_t> shape = static_shape(ctx, type, "Det");
  int64_t m = shape.back();
  if (shape[shape.size() - 2] != m)
    ctx.fail("input must hold square matrices, got " + type.to_string());
  if (m < 1 || m > kMaxDetSize) {
    ctx.fail("matrices of size " + std::to_string(m) + " are not supported yet (1 to " +
             std::to_string(kMaxDetSize) + ")");
  }
  std::vector<int64_t> batch_shape(shape.begin(), shape.end() - 2);
  int64_t batch = 1;
  for (int64_t dim : batch_shape) batch *= dim;
  DType dtype = type.dtype;

  ir::Expr a =
      ctx.call("reshape", {ctx.input(0)}, {{"newshape", std::vector<int64_t>{batch, m, m}}});
  ir::Expr rows = iota(ctx, m, {m});
  ir::Expr det = ctx.scalar(1, dtype);
  ir::Expr one = ctx.scalar(1, dtype);
  ir::Expr zero = ctx.scalar(0, dtype);
  for (int64_t k = 0; k < m; ++k) {
    ir::Expr kth = int_scalar(ctx, k);
    // Pivot: the largest |a[b, i, k]| over rows i >= k (rows above are masked with -1).
    ir::Expr column = ctx.call("abs", {ctx.call("gather", {a, kth}, {{"axis", int64_t{2}}})});
    ir::Expr candidate = ctx.call("greater_equal", {rows, kth});
    ir::Expr masked = ctx.call("where", {candidate, column, ctx.scalar(-1, dtype)});
    ir::Expr pivot_row_index =
        ctx.call("argmax", {masked}, {{"axis", int64_t{1}}, {"keepdims", int64_t{1}}});  // [B, 1]
    // Swap rows k and p: perm[b, i] = p where i == k, k where i == p, i elsewhere.
    ir::Expr is_k = ctx.call("equal", {rows, kth});
    ir::Expr is_p = ctx.call("equal", {rows, pivot_row_index});
    ir::Expr perm =
        ctx.call("where", {is_k, pivot_row_index, ctx.call("where", {is_p, kth, rows})});  // [B, M]
    ir::Expr full_perm =
        ctx.call("expand", {ctx.call("unsqueeze", {perm}, {{"axes", std::vector<int64_t>{2}}})},
                 {{"shape", std::vector<int64_t>{batch, m, m}}});
    a = ctx.call("gather_elements", {a, full_perm}, {{"axis", int64_t{1}}});
    ir::Expr swapped = ctx.call("not_equal", {pivot_row_index, kth});
    det = ctx.call("where", {swapped, ctx.call("neg", {det}), det});

    ir::Expr pivot_row = ctx.call("gather", {a, kth}, {{"axis", int64_t{1}}});      // [B, M]
    ir::Expr pivot = ctx.call("gather", {pivot_row, kth}, {{"axis", int64_t{1}}});  // [B]
    pivot = ctx.call("unsqueeze", {pivot}, {{"axes", std::vector<int64_t>{1}}});    // [B, 1]
    det = ctx.call("multiply", {det, pivot});
    if (k + 1 == m) break;
    ir::Expr divisor = ctx.call("where", {ctx.call("equal", {pivot, zero}), one, pivot});
    ir::Expr below = ctx.call("greater", {rows, kth});
    ir::Expr factor = ctx.call(
        "divide", {ctx.call("gather", {a, kth}, {{"axis", int64_t{2}}}), divisor});  // [B, M]
    factor = ctx.call("where", {below, factor, zero});
    ir::Expr update = ctx.call(
        "multiply", {ctx.call("unsqueeze", {factor}, {{"axes", std::vector<int64_t>{2}}}),
                     ctx.call("unsqueeze", {pivot_row}, {{"axes", std::vector<int64_t>{1}}})});
    a = ctx.call("subtract", {a, update});
  }
  // det is [B, 1]; the result has the batch dims.
  return {ctx.call("reshape", {det}, {{"newshape", batch_shape}})};
}

// ReverseSequence: along time_axis, the first sequence_lens[b] elements of batch entry b are
// reversed and the rest copied: out[t, b] = x[len[b] - 1 - t, b] for t < len[b], else x[t, b].
// One gather_elements with an index computed from sequence_lens (which may be a model input).
Outputs convert_reverse_sequence(const NodeContext& ctx) {
  const ir::TensorType& type = ctx.input_type(0);
  const ir::TensorType& lens_type = ctx.input_type(1);
  if (type.rank() < 2) ctx.fail("input must have rank >= 2, got " + type.to_string());
  if (lens_type.rank() != 1 ||
      (lens_type.dtype != DType::kInt64 && lens_type.dtype != DType::kInt32)) {
    ctx.fail("input 1 (sequence_lens) must be a 1-D int32 or int64 tensor, got " +
             lens_type.to_string());
  }
  int64_t time_axis = ctx.attr_int("time_axis", 0);
  int64_t batch_axis = ctx.attr_int("batch_axis", 1);
  if (!((time_axis == 0 && batch_axis == 1) || (time_axis == 1 && batch_axis == 0))) {
    ctx.fail("time_axis and batch_axis must be 0 and 1 or 1 and 0, got " +
             std::to_string(time_axis) + " and " + std::to_string(batch_axis));
  }
  std::vector<int64_t> shape = static_shape(ctx, type, "ReverseSequence");
  int64_t steps = shape[static_cast<size_t>(time_axis)];
  DType index_dtype = lens_type.dtype;
  // time and lens laid out as [T, 1] and [1, B] (time_axis 0) or [1, T] and [B, 1].
  std::vector<int64_t> time_shape =
      time_axis == 0 ? std::vector<int64_t>{steps, 1} : std::vector<int64_t>{1, steps};
  ir::Expr time = iota(ctx, steps, time_shape, index_dtype);
  ir::Expr lens =
      ctx.call("unsqueeze", {ctx.input(1)}, {{"axes", std::vector<int64_t>{time_axis}}});
  ir::Expr reversed =
      ctx.call("subtract", {ctx.call("subtract", {lens, ctx.scalar(1, index_dtype)}), time});
  ir::Expr index = ctx.call("where", {ctx.call("less", {time, lens}), reversed, time});
  if (type.rank() > 2) {
    std::vector<int64_t> trailing;
    for (int64_t d = 2; d < type.rank(); ++d) trailing.push_back(d);
    index = ctx.call("unsqueeze", {index}, {{"axes", trailing}});
  }
  index = ctx.call("expand", {index}, {{"shape", shape}});
  return {ctx.call("gather_elements", {ctx.input(0), index}, {{"axis", time_axis}})};
}

// CenterCropPad: each listed axis is cropped or zero-padded to the given size around its center
// (the odd element goes to the end). One pad call: negative pads crop.
Outputs convert_center_crop_pad(const NodeContext& ctx) {
  const ir::TensorType& type = ctx.input_type(0);
  int64_t rank = type.rank();
  std::vector<int64_t> sizes = ctx.require_constant_ints(1, "shape");
  std::vector<int64_t> axes = ctx.attr_ints("axes", {});
  if (axes.empty()) {
    for (int64_t d = 0; d < rank; ++d) axes.push_back(d);
  }
  if (sizes.size() != axes.size()) {
    ctx.fail("input 1 (shape) holds " + std::to_string(sizes.size()) + " sizes for " +
             std::to_string(axes.size()) + " axes");
  }
  std::vector<int64_t> pads(static_cast<size_t>(2 * rank), 0);
  for (size_t i = 0; i < axes.size(); ++i) {
    auto axis = static_cast<size_t>(normalize_axis(ctx, axes[i], rank, "axis"));
    const ir::Dim& dim = type.shape[axis];
    if (!dim.is_static()) {
      ctx.fail("axis " + std::to_string(axis) + " has unknown size in " + type.to_string() +
               ctx.shape_dict_hint());
    }
    if (sizes[i] < 0) ctx.fail("sizes must not be negative, got " + std::to_string(sizes[i]));
    int64_t change = sizes[i] - dim.value();  // > 0: pad, < 0: crop
    int64_t sign = change < 0 ? -1 : 1;
    int64_t magnitude = change < 0 ? -change : change;
    pads[axis] = sign * (magnitude / 2);
    pads[axis + static_cast<size_t>(rank)] = sign * (magnitude - magnitude / 2);
  }
  return {ctx.call("pad", {ctx.input(0)},
                   {{"pads", pads}, {"mode", std::string("constant")}, {"value", 0.0}})};
}

}  // namespace

void add_misc_converters(ConverterTable& table) {
  table["Shrink"] = convert_shrink;
  table["Swish"] = convert_swish;
  table["MeanVarianceNormalization"] = convert_mvn;
  table["Det"] = convert_det;
  table["ReverseSequence"] = convert_reverse_sequence;
  table["CenterCropPad"] = convert_center_crop_pad;
}

}  // namespace kiln::frontend::onnx_import
