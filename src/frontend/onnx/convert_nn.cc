// Converters for neural-network layers: convolutions, pooling and unpooling, normalizations,
// softmax, resize and the sampling operators (GridSample, AffineGrid, RoiAlign, Col2Im,
// DeformConv). The IR's spatial operators are 2-D or 3-D; 1-D ONNX layers run as 2-D with a
// height of 1.
#include <cmath>

#include "frontend/onnx/converter.h"
#include "ir/op.h"

namespace kiln::frontend::onnx_import {

namespace {

using Outputs = std::vector<ir::Expr>;

// Window geometry of a conv or pool over n spatial dims, in ONNX order: pads = [begins, ends].
struct Window {
  std::vector<int64_t> kernel, strides, dilations, pads;
};

std::string ints_text(const std::vector<int64_t>& values) {
  std::string text = "[";
  for (size_t i = 0; i < values.size(); ++i) text += (i ? ", " : "") + std::to_string(values[i]);
  return text + "]";
}

void require_length(const NodeContext& ctx, const std::vector<int64_t>& values, size_t length,
                    const char* what) {
  if (values.size() != length) {
    ctx.fail("attribute '" + std::string(what) + "' " + ints_text(values) + " must hold " +
             std::to_string(length) + " values");
  }
}

// Resolves auto_pad SAME_UPPER / SAME_LOWER / VALID into explicit pads from the static input
// sizes (output = ceil(input / stride) for SAME).
std::vector<int64_t> auto_pads(const NodeContext& ctx, const std::string& auto_pad,
                               const ir::Shape& spatial, const Window& window) {
  size_t n = spatial.size();
  std::vector<int64_t> pads(2 * n, 0);
  if (auto_pad == "VALID") return pads;
  if (auto_pad != "SAME_UPPER" && auto_pad != "SAME_LOWER") {
    ctx.fail("attribute 'auto_pad' \"" + auto_pad +
             "\" is not one of NOTSET, SAME_UPPER, "
             "SAME_LOWER, VALID");
  }
  for (size_t i = 0; i < n; ++i) {
    if (!spatial[i].is_static()) {
      ctx.fail("auto_pad " + auto_pad + " needs static spatial sizes, got " +
               ir::shape_to_string(spatial) + ctx.shape_dict_hint());
    }
    int64_t in = spatial[i].value();
    int64_t stride = window.strides[i];
    int64_t out = (in + stride - 1) / stride;
    int64_t extent = (window.kernel[i] - 1) * window.dilations[i] + 1;
    int64_t total = std::max<int64_t>((out - 1) * stride + extent - in, 0);
    int64_t small = total / 2;
    bool upper = auto_pad == "SAME_UPPER";  // the odd pixel goes at the end
    pads[i] = upper ? small : total - small;
    pads[i + n] = upper ? total - small : small;
  }
  return pads;
}

// Reads kernel_shape (or takes it from the weight), strides, dilations and pads/auto_pad.
// Without resolve_auto_pad (ConvTranspose), auto_pad leaves the pads at 0 for the caller.
Window read_window(const NodeContext& ctx, const ir::Shape& spatial,
                   std::vector<int64_t> default_kernel, bool resolve_auto_pad = true) {
  size_t n = spatial.size();
  Window window;
  window.kernel = ctx.has_attr("kernel_shape") ? ctx.attr_ints("kernel_shape") : default_kernel;
  window.strides = ctx.attr_ints("strides", std::vector<int64_t>(n, 1));
  window.dilations = ctx.attr_ints("dilations", std::vector<int64_t>(n, 1));
  require_length(ctx, window.kernel, n, "kernel_shape");
  require_length(ctx, window.strides, n, "strides");
  require_length(ctx, window.dilations, n, "dilations");
  for (size_t i = 0; i < n; ++i) {
    if (window.kernel[i] <= 0 || window.strides[i] <= 0 || window.dilations[i] <= 0) {
      ctx.fail("kernel_shape, strides and dilations must be positive, got " +
               ints_text(window.kernel) + ", " + ints_text(window.strides) + ", " +
               ints_text(window.dilations));
    }
  }
  std::string auto_pad = ctx.attr_string("auto_pad", "NOTSET");
  if (auto_pad == "NOTSET") {
    window.pads = ctx.attr_ints("pads", std::vector<int64_t>(2 * n, 0));
    require_length(ctx, window.pads, 2 * n, "pads");
  } else if (!resolve_auto_pad) {
    window.pads.assign(2 * n, 0);
  } else {
    window.pads = auto_pads(ctx, auto_pad, spatial, window);
  }
  return window;
}

// A 1-D window as the 2-D one the IR runs: height 1, no padding in height.
Window lift_to_2d(const Window& window) {
  if (window.kernel.size() == 2) return window;
  return Window{{1, window.kernel[0]},
                {1, window.strides[0]},
                {1, window.dilations[0]},
                {0, window.pads[0], 0, window.pads[1]}};
}

ir::Shape spatial_dims(const ir::TensorType& type) {
  return ir::Shape(type.shape.begin() + 2, type.shape.end());
}

// The spatial rank of a conv or pool: 1 (run as 2-D), 2 or 3.
size_t require_pool_rank(const NodeContext& ctx, const ir::TensorType& type) {
  if (type.rank() < 3 || type.rank() > 5) {
    ctx.fail("input must have rank 3 (1-D), 4 (2-D) or 5 (3-D), got " + type.to_string());
  }
  return static_cast<size_t>(type.rank() - 2);
}

ir::Expr unsqueeze_height(const NodeContext& ctx, const ir::Expr& x) {
  return ctx.call("unsqueeze", {x}, {{"axes", std::vector<int64_t>{2}}});
}

ir::Expr squeeze_height(const NodeContext& ctx, const ir::Expr& x) {
  return ctx.call("squeeze", {x}, {{"axes", std::vector<int64_t>{2}}});
}

ir::Attrs window_attrs(const Window& window) {
  return {{"strides", window.strides}, {"padding", window.pads}, {"dilation", window.dilations}};
}

std::vector<int64_t> weight_kernel(const NodeContext& ctx, const ir::TensorType& weight) {
  std::vector<int64_t> kernel;
  for (size_t i = 2; i < weight.shape.size(); ++i) {
    if (!weight.shape[i].is_static()) ctx.fail("the weight's kernel size must be static");
    kernel.push_back(weight.shape[i].value());
  }
  return kernel;
}

}  // namespace

ir::Expr convert_conv_of(const NodeContext& ctx, ir::Expr data, const ir::TensorType& data_type,
                         ir::Expr weight, const ir::TensorType& weight_type) {
  if (data_type.rank() != weight_type.rank()) {
    ctx.fail("data " + data_type.to_string() + " has rank " + std::to_string(data_type.rank()) +
             " but weight " + weight_type.to_string() + " has rank " +
             std::to_string(weight_type.rank()) +
             "; Conv needs both of the same rank ([N, C, spatial...] and [O, C/group, kernel...])");
  }
  size_t n = require_pool_rank(ctx, data_type);
  if (n == 3) {
    Window window = read_window(ctx, spatial_dims(data_type), weight_kernel(ctx, weight_type));
    ir::Attrs attrs = window_attrs(window);
    attrs.set("groups", ctx.attr_int("group", 1));
    return ctx.call("conv3d", {data, weight}, std::move(attrs));
  }
  Window window =
      lift_to_2d(read_window(ctx, spatial_dims(data_type), weight_kernel(ctx, weight_type)));
  if (n == 1) {
    data = unsqueeze_height(ctx, data);
    weight = unsqueeze_height(ctx, weight);
  }
  ir::Attrs attrs = window_attrs(window);
  attrs.set("groups", ctx.attr_int("group", 1));
  ir::Expr y = ctx.call("conv2d", {data, weight}, std::move(attrs));
  return n == 1 ? squeeze_height(ctx, y) : y;
}

namespace {

Outputs convert_conv(const NodeContext& ctx) {
  ir::Expr y =
      convert_conv_of(ctx, ctx.input(0), ctx.input_type(0), ctx.input(1), ctx.input_type(1));
  if (ctx.has_input(2)) y = ctx.call("bias_add", {y, ctx.input(2)}, {{"axis", int64_t{1}}});
  return {y};
}

// ConvTranspose pads from an output shape (explicit, or input * stride for auto_pad SAME), by
// ONNX's formula; a negative total padding goes into output_padding instead.
void pads_for_output_shape(const NodeContext& ctx, const ir::Shape& spatial,
                           std::vector<int64_t> output_shape, const std::string& auto_pad,
                           Window& window, std::vector<int64_t>& output_padding) {
  size_t n = spatial.size();
  // output_shape may list N and C too; keep the spatial part.
  if (output_shape.size() == n + 2)
    output_shape.erase(output_shape.begin(), output_shape.begin() + 2);
  require_length(ctx, output_shape, n, "output_shape");
  for (size_t i = 0; i < n; ++i) {
    if (!spatial[i].is_static()) {
      ctx.fail("output_shape / auto_pad need static spatial input sizes, got " +
               ir::shape_to_string(spatial) + ctx.shape_dict_hint());
    }
    int64_t extent = (window.kernel[i] - 1) * window.dilations[i] + 1;
    int64_t total =
        window.strides[i] * (spatial[i].value() - 1) + output_padding[i] + extent - output_shape[i];
    if (total < 0) {
      output_padding[i] -= total;
      total = 0;
    }
    // ONNX: SAME_UPPER puts the smaller half at the start, otherwise at the end.
    int64_t small = total / 2;
    window.pads[i] = auto_pad == "SAME_UPPER" ? small : total - small;
    window.pads[i + n] = total - window.pads[i];
  }
}

Outputs convert_conv_transpose(const NodeContext& ctx) {
  const ir::TensorType& data_type = ctx.input_type(0);
  size_t n = require_pool_rank(ctx, data_type);
  ir::Shape spatial = spatial_dims(data_type);
  std::string auto_pad = ctx.attr_string("auto_pad", "NOTSET");
  bool same = auto_pad == "SAME_UPPER" || auto_pad == "SAME_LOWER";
  Window window =
      read_window(ctx, spatial, weight_kernel(ctx, ctx.input_type(1)), /*resolve_auto_pad=*/false);
  std::vector<int64_t> output_padding = ctx.attr_ints("output_padding", std::vector<int64_t>(n, 0));
  require_length(ctx, output_padding, n, "output_padding");
  std::vector<int64_t> output_shape = ctx.attr_ints("output_shape", {});
  if (output_shape.empty() && same) {
    for (size_t i = 0; i < n; ++i) {
      output_shape.push_back(spatial[i].is_static() ? spatial[i].value() * window.strides[i] : -1);
    }
  }
  if (!output_shape.empty()) {
    pads_for_output_shape(ctx, spatial, output_shape, auto_pad, window, output_padding);
  }
  if (n == 3) {
    ir::Attrs attrs = window_attrs(window);
    attrs.set("groups", ctx.attr_int("group", 1));
    attrs.set("output_padding", output_padding);
    ir::Expr y = ctx.call("conv3d_transpose", {ctx.input(0), ctx.input(1)}, std::move(attrs));
    if (ctx.has_input(2)) y = ctx.call("bias_add", {y, ctx.input(2)}, {{"axis", int64_t{1}}});
    return {y};
  }
  ir::Expr data = ctx.input(0);
  ir::Expr weight = ctx.input(1);
  if (n == 1) {
    data = unsqueeze_height(ctx, data);
    weight = unsqueeze_height(ctx, weight);
    output_padding = {0, output_padding[0]};
  }
  window = lift_to_2d(window);
  ir::Attrs attrs = window_attrs(window);
  attrs.set("groups", ctx.attr_int("group", 1));
  attrs.set("output_padding", output_padding);
  ir::Expr y = ctx.call("conv2d_transpose", {data, weight}, std::move(attrs));
  if (ctx.has_input(2)) y = ctx.call("bias_add", {y, ctx.input(2)}, {{"axis", int64_t{1}}});
  return {n == 1 ? squeeze_height(ctx, y) : y};
}

// MaxPool / AveragePool / LpPool: `<ir_op>2d` or `<ir_op>3d` with the window and the
// pool-specific attributes; `indices_op` (MaxPool's second output) is the same window's argmax.
Outputs convert_pool(const NodeContext& ctx, const std::string& ir_op, ir::Attrs extra,
                     bool with_indices = false) {
  const ir::TensorType& data_type = ctx.input_type(0);
  size_t n = require_pool_rank(ctx, data_type);
  if (!ctx.has_attr("kernel_shape")) ctx.fail("required attribute 'kernel_shape' is missing");
  Window window = read_window(ctx, spatial_dims(data_type), {});
  if (n == 1) window = lift_to_2d(window);
  ir::Attrs attrs = window_attrs(window);
  attrs.set("pool_size", window.kernel);
  attrs.set("ceil_mode", ctx.attr_int("ceil_mode", 0));
  std::string suffix = n == 3 ? "3d" : "2d";
  ir::Expr data = n == 1 ? unsqueeze_height(ctx, ctx.input(0)) : ctx.input(0);
  Outputs outputs;
  if (with_indices) {
    // 1-D indices count in the 1-D input, which is what the lifted [N, C, 1, W] input gives.
    ir::Attrs index_attrs = attrs;
    index_attrs.set("storage_order", ctx.attr_int("storage_order", 0));
    ir::Expr indices = ctx.call(ir_op + suffix + "_indices", {data}, std::move(index_attrs));
    outputs.push_back(n == 1 ? squeeze_height(ctx, indices) : indices);
  }
  for (const auto& [name, value] : extra.values()) attrs.set(name, value);
  ir::Expr y = ctx.call(ir_op + suffix, {data}, std::move(attrs));
  outputs.insert(outputs.begin(), n == 1 ? squeeze_height(ctx, y) : y);
  return outputs;
}

Outputs convert_max_pool(const NodeContext& ctx) {
  return convert_pool(ctx, "max_pool", {}, ctx.output_used(1));
}

Outputs convert_average_pool(const NodeContext& ctx) {
  return convert_pool(ctx, "avg_pool",
                      {{"count_include_pad", ctx.attr_int("count_include_pad", 0)}});
}

Outputs convert_lp_pool(const NodeContext& ctx) {
  return convert_pool(ctx, "lp_pool", {{"p", ctx.attr_int("p", 2)}});
}

// Whether MaxUnpool's indices are a max pooling's, computed with this window (no dilation,
// row-major) over an input of the unpooled shape: then max_unpool finds each output's value among
// the few windows covering it, instead of a scatter that scans the whole plane.
bool pooled_by_same_window(const NodeContext& ctx, const Window& window,
                           const std::vector<int64_t>& shape) {
  const auto* pool = ir::as<ir::CallNode>(ctx.input(1));
  if (!pool || (pool->op.name != "max_pool2d_indices" && pool->op.name != "max_pool3d_indices")) {
    return false;
  }
  const ir::TensorType& pooled = pool->args[0]->type().as_tensor();
  if (!pooled.is_static() || pooled.static_shape() != shape) return false;
  const ir::Attrs& attrs = pool->attrs;
  std::vector<int64_t> ones(window.kernel.size(), 1);
  return attrs.get_ints("pool_size") == window.kernel &&
         attrs.get_ints("strides") == window.strides && attrs.get_ints("padding") == window.pads &&
         attrs.get_ints("dilation") == ones && attrs.get_int("storage_order") == 0;
}

// The general MaxUnpool: a scatter_elements per [N*C] row along the flattened plane, with the
// row's offset taken off the indices (MaxPool's indices never leave their channel). Quadratic in
// the plane size: each output element scans the row's indices.
ir::Expr unpool_by_scatter(const NodeContext& ctx, const std::vector<int64_t>& shape, int64_t plane,
                           int64_t in_plane) {
  int64_t rows = shape[0] * shape[1];
  Tensor offsets(ctx.input_type(1).dtype, {rows, 1});
  for (int64_t r = 0; r < rows; ++r) offsets.set_element_from_double(r, double(r * plane));
  ir::Shape row_shape = {ir::Dim(rows), ir::Dim(in_plane)};
  ir::Expr indices = ctx.call(
      "subtract", {reshape_to(ctx, ctx.input(1), row_shape), ctx.constant(std::move(offsets))});
  ir::Expr values = reshape_to(ctx, ctx.input(0), row_shape);
  ir::Expr zeros = ctx.call("full", {},
                            {{"shape", std::vector<int64_t>{rows, plane}},
                             {"fill_value", 0.0},
                             {"dtype", std::string(dtype_name(ctx.input_type(0).dtype))}});
  ir::Expr scattered =
      ctx.call("scatter_elements", {zeros, indices, values}, {{"axis", int64_t{1}}});
  return reshape_to(ctx, scattered, ir::Shape(shape.begin(), shape.end()));
}

// MaxUnpool: X's values written at their Indices (flat positions, as MaxPool gives them) into
// zeros of the shape the pooling window implies; an output_shape larger than that pads the
// result with zeros at the end of each spatial dim (the ONNX reference's reading of
// output_shape). Indices straight from a MaxPool with the same window use max_unpool, others a
// scatter.
Outputs convert_max_unpool(const NodeContext& ctx) {
  const ir::TensorType& data_type = ctx.input_type(0);
  const ir::TensorType& index_type = ctx.input_type(1);
  size_t n = require_pool_rank(ctx, data_type);
  if (!data_type.is_static() || !index_type.is_static() || data_type.shape != index_type.shape) {
    ctx.fail("X " + data_type.to_string() + " and I " + index_type.to_string() +
             " must have the same static shape" + ctx.shape_dict_hint());
  }
  if (!ctx.has_attr("kernel_shape")) ctx.fail("required attribute 'kernel_shape' is missing");
  Window window = read_window(ctx, spatial_dims(data_type), {}, /*resolve_auto_pad=*/false);
  std::vector<int64_t> shape = {data_type.shape[0].value(), data_type.shape[1].value()};
  int64_t plane = 1, in_plane = 1;
  for (size_t i = 0; i < n; ++i) {
    int64_t extent = (data_type.shape[2 + i].value() - 1) * window.strides[i] - window.pads[i] -
                     window.pads[i + n] + window.kernel[i];
    if (extent <= 0) ctx.fail("the unpooled size " + std::to_string(extent) + " is not positive");
    shape.push_back(extent);
    plane *= extent;
    in_plane *= data_type.shape[2 + i].value();
  }
  ir::Expr y = pooled_by_same_window(ctx, window, shape)
                   ? ctx.call("max_unpool", {ctx.input(0), ctx.input(1)},
                              {{"pool_size", window.kernel},
                               {"strides", window.strides},
                               {"padding", window.pads}})
                   : unpool_by_scatter(ctx, shape, plane, in_plane);
  if (!ctx.has_input(2)) return {y};
  std::vector<int64_t> out_shape = ctx.require_constant_ints(2, "output_shape");
  require_length(ctx, out_shape, n + 2, "output_shape");
  std::vector<int64_t> pads(2 * (n + 2), 0);
  for (size_t d = 0; d < n + 2; ++d) {
    if (out_shape[d] < shape[d] || (d < 2 && out_shape[d] != shape[d])) {
      ctx.fail("output_shape " + ints_text(out_shape) + " must keep N and C and be at least " +
               ints_text(shape) + ", the size the pooling window implies");
    }
    pads[d + n + 2] = out_shape[d] - shape[d];
  }
  return {ctx.call("pad", {y}, {{"pads", pads}})};
}

// AffineGrid: the normalized grid of the output size (x, y[, z], 1 per point, constant) times
// theta transposed: [points, r + 1] x [N, r + 1, r] -> [N, points, r], reshaped to [N, ..., r].
Outputs convert_affine_grid(const NodeContext& ctx) {
  const ir::TensorType& theta_type = ctx.input_type(0);
  std::vector<int64_t> size = ctx.require_constant_ints(1, "size");
  if (size.size() != 4 && size.size() != 5) {
    ctx.fail("size " + ints_text(size) + " must be [N, C, H, W] or [N, C, D, H, W]");
  }
  size_t r = size.size() - 2;
  ir::Shape expected = {ir::Dim(size[0]), ir::Dim(static_cast<int64_t>(r)),
                        ir::Dim(static_cast<int64_t>(r + 1))};
  if (theta_type.rank() != 3 || !dtype_is_float(theta_type.dtype) ||
      theta_type.shape[1] != expected[1] || theta_type.shape[2] != expected[2] ||
      (theta_type.shape[0].is_static() && theta_type.shape[0] != expected[0])) {
    ctx.fail("theta must be a float tensor of shape " + ir::shape_to_string(expected) + ", got " +
             theta_type.to_string());
  }
  bool align_corners = ctx.attr_int("align_corners", 0) != 0;
  std::vector<int64_t> spatial(size.begin() + 2, size.end());
  int64_t points = 1;
  for (int64_t extent : spatial) {
    if (extent <= 0) ctx.fail("size " + ints_text(size) + " must be positive");
    points *= extent;
  }
  // Normalized coordinate of index i along an axis of `extent` points. A single point is the
  // centre, 0, in both modes (PyTorch and onnxruntime; the ONNX reference divides by zero there).
  auto coordinate = [align_corners](int64_t i, int64_t extent) {
    if (align_corners) return extent == 1 ? 0.0 : -1.0 + 2.0 * double(i) / double(extent - 1);
    return -1.0 + (2.0 * double(i) + 1.0) / double(extent);
  };
  Tensor base(theta_type.dtype, {points, static_cast<int64_t>(r + 1)});
  for (int64_t p = 0; p < points; ++p) {
    int64_t rest = p;
    // Columns: x (the last dim), y, z, then 1.
    for (size_t a = 0; a < r; ++a) {
      int64_t extent = spatial[r - 1 - a];
      base.set_element_from_double(p * int64_t(r + 1) + int64_t(a),
                                   coordinate(rest % extent, extent));
      rest /= extent;
    }
    base.set_element_from_double(p * int64_t(r + 1) + int64_t(r), 1.0);
  }
  ir::Expr theta_t =
      ctx.call("transpose", {ctx.input(0)}, {{"axes", std::vector<int64_t>{0, 2, 1}}});
  ir::Expr grid = ctx.call("matmul", {ctx.constant(std::move(base)), theta_t});
  ir::Shape out_shape = {theta_type.shape[0]};
  for (int64_t extent : spatial) out_shape.push_back(ir::Dim(extent));
  out_shape.push_back(ir::Dim(static_cast<int64_t>(r)));
  return {reshape_to(ctx, grid, out_shape)};
}

// Global pools: the IR's 2-D operator for NCHW, a keepdims reduction over the spatial axes for
// other ranks.
Converter global_pool(std::string ir_op, std::string reduce_op) {
  return [ir_op = std::move(ir_op), reduce_op = std::move(reduce_op)](const NodeContext& ctx) {
    int64_t rank = ctx.input_type(0).rank();
    if (rank == 4) return Outputs{ctx.call(ir_op, {ctx.input(0)})};
    if (rank < 3) ctx.fail("input must have rank 3 or more, got " + ctx.input_type(0).to_string());
    std::vector<int64_t> axes;
    for (int64_t axis = 2; axis < rank; ++axis) axes.push_back(axis);
    return Outputs{ctx.call(reduce_op, {ctx.input(0)}, {{"axes", axes}, {"keepdims", int64_t{1}}})};
  };
}

// BatchNormalization. Inference: the IR's batch_norm with the running statistics. Training
// (training_mode=1, opset 14+): normalise with the batch's own mean and (population) variance
// over every axis but the channel axis, and output the updated running statistics
// running * momentum + batch * (1 - momentum).
Outputs convert_batch_norm(const NodeContext& ctx) {
  if (ctx.attr_int("spatial", 1) != 1) ctx.fail("spatial=0 is not supported");
  // Before opset 7, is_test=0 (the default) meant training: batch statistics, updated means.
  if (ctx.opset() < 7 && ctx.attr_int("is_test", 0) == 0) {
    ctx.fail("is_test=0 (training) is not supported: export the model in eval mode");
  }
  double epsilon = ctx.attr_float("epsilon", 1e-5);
  if (ctx.attr_int("training_mode", 0) == 0) {
    if (ctx.output_used(1) || ctx.output_used(2) || ctx.output_used(3) || ctx.output_used(4)) {
      ctx.fail("the running or saved statistics outputs need training_mode=1 (opset 14+)");
    }
    std::vector<ir::Expr> args;
    for (size_t i = 0; i < 5; ++i) args.push_back(ctx.input(i));
    return {ctx.call("batch_norm", std::move(args), {{"axis", int64_t{1}}, {"epsilon", epsilon}})};
  }
  const ir::TensorType& type = ctx.input_type(0);
  if (type.rank() < 2 || !dtype_is_float(type.dtype)) {
    ctx.fail("input must be a float tensor [N, C, ...], got " + type.to_string());
  }
  std::vector<int64_t> axes = {0};
  for (int64_t a = 2; a < type.rank(); ++a) axes.push_back(a);
  ir::Expr x = ctx.input(0);
  ir::Attrs keep = {{"axes", axes}, {"keepdims", int64_t{1}}};
  ir::Expr mean = ctx.call("reduce_mean", {x}, keep);
  ir::Expr centered = ctx.call("subtract", {x, mean});
  ir::Expr variance = ctx.call("reduce_mean", {ctx.call("multiply", {centered, centered})}, keep);
  // Per-channel [C] vectors broadcast as [C, 1, ..., 1] against [N, C, ...].
  std::vector<int64_t> trailing;
  for (int64_t a = 1; a + 1 < type.rank(); ++a) trailing.push_back(a);
  auto per_channel = [&](const ir::Expr& v) {
    return trailing.empty() ? v : ctx.call("unsqueeze", {v}, {{"axes", trailing}});
  };
  ir::Expr inv_std =
      ctx.call("rsqrt", {ctx.call("add", {variance, ctx.scalar(epsilon, type.dtype)})});
  ir::Expr y = ctx.call(
      "add",
      {ctx.call("multiply", {ctx.call("multiply", {centered, inv_std}), per_channel(ctx.input(1))}),
       per_channel(ctx.input(2))});
  double momentum = ctx.attr_float("momentum", 0.9);
  auto running = [&](size_t input, const ir::Expr& batch_stat) {
    ir::Expr flat = ctx.call("reshape", {batch_stat}, {{"newshape", std::vector<int64_t>{-1}}});
    return ctx.call("add",
                    {ctx.call("multiply", {ctx.input(input), ctx.scalar(momentum, type.dtype)}),
                     ctx.call("multiply", {flat, ctx.scalar(1 - momentum, type.dtype)})});
  };
  return {y, running(3, mean), running(4, variance)};
}

Outputs convert_instance_norm(const NodeContext& ctx) {
  return {ctx.call("instance_norm", {ctx.input(0), ctx.input(1), ctx.input(2)},
                   {{"epsilon", ctx.attr_float("epsilon", 1e-5)}})};
}

// GroupNormalization's scale/bias are per group in opset 18 and per channel from 21; per-group
// constants are repeated to per-channel ones.
ir::Expr per_channel(const NodeContext& ctx, size_t i, int64_t channels, int64_t groups) {
  const ir::TensorType& type = ctx.input_type(i);
  if (type.rank() == 1 && type.shape[0] == ir::Dim(channels)) return ctx.input(i);
  if (type.rank() != 1 || type.shape[0] != ir::Dim(groups) || groups <= 0 ||
      channels % groups != 0) {
    ctx.fail("input " + std::to_string(i) + " must have shape [" + std::to_string(channels) +
             "] or [" + std::to_string(groups) + "], got " + type.to_string());
  }
  Tensor per_group = ctx.require_constant(i, "per-group scale or bias");
  Tensor repeated(per_group.dtype(), {channels});
  int64_t each = channels / groups;
  for (int64_t c = 0; c < channels; ++c) {
    repeated.set_element_from_double(c, per_group.element_as_double(c / each));
  }
  return ctx.constant(std::move(repeated));
}

Outputs convert_group_norm(const NodeContext& ctx) {
  const ir::TensorType& type = ctx.input_type(0);
  int64_t groups = ctx.attr_int("num_groups");
  if (type.rank() < 2 || !type.shape[1].is_static()) {
    ctx.fail("input must have rank >= 2 and a static channel dim, got " + type.to_string());
  }
  int64_t channels = type.shape[1].value();
  return {ctx.call(
      "group_norm",
      {ctx.input(0), per_channel(ctx, 1, channels, groups), per_channel(ctx, 2, channels, groups)},
      {{"num_groups", groups}, {"epsilon", ctx.attr_float("epsilon", 1e-5)}})};
}

// LayerNormalization. Y is the IR's layer_norm; the optional Mean and InvStdDev outputs (shape
// [d0, ..., d(axis-1), 1, ..., 1], in the stash type float32) are computed beside it:
// mean(x), 1 / sqrt(mean((x - mean)^2) + epsilon) over axes axis..rank-1.
Outputs convert_layer_norm(const NodeContext& ctx) {
  double epsilon = ctx.attr_float("epsilon", 1e-5);
  int64_t axis_attr = ctx.attr_int("axis", -1);
  std::vector<ir::Expr> args = {ctx.input(0), ctx.input(1)};
  if (ctx.has_input(2)) args.push_back(ctx.input(2));
  Outputs outputs = {
      ctx.call("layer_norm", std::move(args), {{"axis", axis_attr}, {"epsilon", epsilon}})};
  if (!ctx.output_used(1) && !ctx.output_used(2)) return outputs;

  const ir::TensorType& type = ctx.input_type(0);
  if (ctx.attr_int("stash_type", 1) != 1) {
    ctx.fail("stash_type " + std::to_string(ctx.attr_int("stash_type", 1)) +
             " is not supported yet for the Mean and InvStdDev outputs (1, float32, is)");
  }
  int64_t axis = normalize_axis(ctx, axis_attr, type.rank(), "axis");
  std::vector<int64_t> axes;
  for (int64_t a = axis; a < type.rank(); ++a) axes.push_back(a);
  ir::Attrs reduce = {{"axes", axes}, {"keepdims", int64_t{1}}};
  ir::Expr x = ctx.input(0);
  if (type.dtype != DType::kFloat32) {
    x = ctx.call("cast", {x}, {{"dtype", std::string(dtype_name(DType::kFloat32))}});
  }
  ir::Expr mean = ctx.call("reduce_mean", {x}, reduce);
  ir::Expr centered = ctx.call("subtract", {x, mean});
  ir::Expr variance = ctx.call("reduce_mean", {ctx.call("multiply", {centered, centered})}, reduce);
  ir::Expr inv_std_dev =
      ctx.call("rsqrt", {ctx.call("add", {variance, ctx.scalar(epsilon, DType::kFloat32)})});
  outputs.push_back(mean);
  outputs.push_back(inv_std_dev);
  return outputs;
}

// RMSNormalization (opset 23), as its function body: x / sqrt(mean(x * x over axes axis..end) +
// epsilon) * scale, computed in float32 (stash_type 1) and cast back to x's dtype.
Outputs convert_rms_norm(const NodeContext& ctx) {
  const ir::TensorType& type = ctx.input_type(0);
  if (!dtype_is_float(type.dtype))
    ctx.fail("input must be a float tensor, got " + type.to_string());
  if (ctx.attr_int("stash_type", 1) != 1) ctx.fail("only stash_type 1 (float32) is supported");
  int64_t rank = type.rank();
  int64_t axis = normalize_axis(ctx, ctx.attr_int("axis", -1), rank, "axis");
  std::vector<int64_t> axes;
  for (int64_t a = axis; a < rank; ++a) axes.push_back(a);
  const std::string f32(dtype_name(DType::kFloat32));
  ir::Expr x = ctx.input(0);
  if (type.dtype != DType::kFloat32) x = ctx.call("cast", {x}, {{"dtype", f32}});
  ir::Expr mean_square = ctx.call("reduce_mean", {ctx.call("multiply", {x, x})},
                                  {{"axes", axes}, {"keepdims", int64_t{1}}});
  ir::Expr rms = ctx.call(
      "sqrt", {ctx.call("add", {mean_square,
                                ctx.scalar(ctx.attr_float("epsilon", 1e-5), DType::kFloat32)})});
  ir::Expr normalized = ctx.call("divide", {x, rms});
  if (type.dtype != DType::kFloat32) {
    normalized = ctx.call("cast", {normalized}, {{"dtype", std::string(dtype_name(type.dtype))}});
  }
  return {ctx.call("multiply", {normalized, ctx.input(1)})};
}

Outputs convert_lp_norm(const NodeContext& ctx) {
  return {ctx.call("lp_normalize", {ctx.input(0)},
                   {{"axis", ctx.attr_int("axis", -1)}, {"p", ctx.attr_int("p", 2)}})};
}

Outputs convert_lrn(const NodeContext& ctx) {
  return {ctx.call("lrn", {ctx.input(0)},
                   {{"size", ctx.attr_int("size")},
                    {"alpha", ctx.attr_float("alpha", 1e-4)},
                    {"beta", ctx.attr_float("beta", 0.75)},
                    {"bias", ctx.attr_float("bias", 1.0)}})};
}

// Softmax / LogSoftmax / Hardmax. Before opset 13 they flatten the input to 2-D at `axis`
// (default 1) and normalize each row; from 13 they work along one axis (default -1).
Converter softmax_like(std::string ir_op) {
  return [ir_op = std::move(ir_op)](const NodeContext& ctx) {
    ir::Expr data = ctx.input(0);
    const ir::TensorType& type = ctx.input_type(0);
    if (ctx.opset() >= 13) {
      return Outputs{ctx.call(ir_op, {data}, {{"axis", ctx.attr_int("axis", -1)}})};
    }
    int64_t axis =
        normalize_axis(ctx, ctx.attr_int("axis", 1), std::max<int64_t>(type.rank(), 1), "axis");
    if (axis == type.rank() - 1 || type.rank() <= 1) {
      return Outputs{ctx.call(ir_op, {data}, {{"axis", int64_t{-1}}})};
    }
    ir::Expr rows = flatten_to_2d(ctx, data, axis);
    ir::Expr normalized = ctx.call(ir_op, {rows}, {{"axis", int64_t{-1}}});
    return Outputs{reshape_to(ctx, normalized, type.shape)};
  };
}

// Dropout in inference: the output is the input and the mask all true (ones of the input's type
// before opset 10). Training mode (opset 12's third input) must be a constant; it is supported
// only with ratio 0, where it is the identity too: random masks are not supported.
Outputs convert_dropout(const NodeContext& ctx) {
  if (ctx.opset() >= 12 && ctx.has_input(2) &&
      ctx.require_constant_scalar(2, "training_mode") != 0.0) {
    double ratio = ctx.has_input(1) ? ctx.require_constant_scalar(1, "ratio") : 0.5;
    if (ratio != 0.0) {
      ctx.fail("training mode with ratio " + std::to_string(ratio) +
               " (random masks) is not supported yet; export the model for inference "
               "(training_mode false) to use Dropout as the identity");
    }
  }
  Outputs outputs = {ctx.input(0)};
  if (!ctx.output_used(1)) return outputs;
  const ir::TensorType& type = ctx.input_type(0);
  std::vector<int64_t> shape;
  for (const ir::Dim& dim : type.shape) {
    if (!dim.is_static()) {
      ctx.fail("the mask output needs a static input shape, got " + type.to_string() +
               ctx.shape_dict_hint());
    }
    shape.push_back(dim.value());
  }
  DType mask_dtype = ctx.opset() < 10 ? type.dtype : DType::kBool;
  outputs.push_back(ctx.call(
      "full", {},
      {{"shape", shape}, {"fill_value", 1.0}, {"dtype", std::string(dtype_name(mask_dtype))}}));
  return outputs;
}

// Output [H, W] of a 4-D Resize/Upsample from sizes or scales (N and C must not change), and
// the H, W scales when they were given: ONNX maps coordinates with the given scale, which differs
// from output / input when input * scale is not a whole number.
struct ResizeTarget {
  std::vector<int64_t> size;
  std::vector<double> scales;  // empty when sizes were given
};

// keep_aspect_ratio_policy not_larger / not_smaller: one scale for every axis in `axes` (the
// smallest / largest of sizes / input), the sizes rounded from it (half up, as the reference).
// The scale then maps the coordinates, so it goes into `factors` beside the sizes.
void keep_aspect_ratio(const NodeContext& ctx, const ir::TensorType& type,
                       const std::string& policy, const std::vector<int64_t>& axes,
                       std::vector<int64_t>& sizes, std::vector<double>& factors) {
  if (policy != "not_larger" && policy != "not_smaller") {
    ctx.fail("keep_aspect_ratio_policy \"" + policy +
             "\" is not one of stretch, not_larger, not_smaller");
  }
  std::optional<double> scale;
  for (int64_t axis : axes) {
    const ir::Dim& dim = type.shape[static_cast<size_t>(axis)];
    if (!dim.is_static()) {
      ctx.fail("keep_aspect_ratio_policy needs static sizes, got " + type.to_string() +
               ctx.shape_dict_hint());
    }
    double ratio = double(sizes[static_cast<size_t>(axis)]) / double(dim.value());
    if (!scale) scale = ratio;
    scale = policy == "not_larger" ? std::min(*scale, ratio) : std::max(*scale, ratio);
  }
  if (!scale) return;
  for (int64_t axis : axes) {
    size_t d = static_cast<size_t>(axis);
    sizes[d] = static_cast<int64_t>(*scale * double(type.shape[d].value()) + 0.5);
    factors[d] = *scale;
  }
}

ResizeTarget resize_target(const NodeContext& ctx, const ir::TensorType& type,
                           std::optional<size_t> sizes_input,
                           std::optional<std::vector<double>> scales) {
  std::vector<int64_t> axes = ctx.attr_ints("axes", {0, 1, 2, 3});
  for (int64_t& axis : axes) axis = normalize_axis(ctx, axis, 4, "axis");
  std::vector<int64_t> sizes(4, -1);
  std::vector<double> factors(4, 1.0);
  if (sizes_input) {
    std::vector<int64_t> given = ctx.require_constant_ints(*sizes_input, "sizes");
    if (given.size() != axes.size()) ctx.fail("sizes must hold one value per axis");
    for (size_t i = 0; i < axes.size(); ++i) sizes[static_cast<size_t>(axes[i])] = given[i];
    std::string policy = ctx.attr_string("keep_aspect_ratio_policy", "stretch");
    if (policy != "stretch") keep_aspect_ratio(ctx, type, policy, axes, sizes, factors);
  } else if (scales) {
    if (scales->size() != axes.size()) ctx.fail("scales must hold one value per axis");
    for (size_t i = 0; i < axes.size(); ++i) factors[static_cast<size_t>(axes[i])] = (*scales)[i];
  } else {
    ctx.fail("needs scales or sizes");
  }
  std::vector<int64_t> out(4);
  for (size_t d = 0; d < 4; ++d) {
    if (sizes[d] >= 0) {
      out[d] = sizes[d];
      continue;
    }
    if (factors[d] == 1.0 && d < 2) continue;
    if (!type.shape[d].is_static()) {
      ctx.fail("resizing by scales needs static sizes, got " + type.to_string() +
               ctx.shape_dict_hint());
    }
    double scaled = std::floor(static_cast<double>(type.shape[d].value()) * factors[d]);
    if (!(scaled >= 0 && scaled < 1e12))
      ctx.fail("scale " + std::to_string(factors[d]) + " is out of range");
    out[d] = static_cast<int64_t>(scaled);
  }
  for (size_t d = 0; d < 2; ++d) {
    bool changes = sizes[d] >= 0 ? type.shape[d] != ir::Dim(sizes[d]) : factors[d] != 1.0;
    if (changes) ctx.fail("resizing the batch or channel dim is not supported");
  }
  ResizeTarget target{{out[2], out[3]}, {}};
  if (!sizes_input || factors[2] != 1.0 || factors[3] != 1.0) {
    for (size_t d = 2; d < 4; ++d) {
      if (!(factors[d] > 0)) ctx.fail("scale " + std::to_string(factors[d]) + " must be positive");
      target.scales.push_back(factors[d]);
    }
  }
  return target;
}

std::vector<double> constant_floats(const NodeContext& ctx, size_t i, const char* what) {
  Tensor value = ctx.require_constant(i, what);
  std::vector<double> values;
  for (int64_t k = 0; k < value.numel(); ++k) values.push_back(value.element_as_double(k));
  return values;
}

ir::Expr make_resize(const NodeContext& ctx, ResizeTarget target, std::string method,
                     ir::Attrs attrs) {
  if (method == "bilinear") method = "linear";  // Upsample-7's name
  attrs.set("size", std::move(target.size));
  attrs.set("scales", std::move(target.scales));
  attrs.set("method", std::move(method));
  return ctx.call("resize2d", {ctx.input(0)}, std::move(attrs));
}

const ir::TensorType& require_4d(const NodeContext& ctx) {
  const ir::TensorType& type = ctx.input_type(0);
  if (type.rank() != 4) ctx.fail("only 4-D (NCHW) inputs are supported, got " + type.to_string());
  return type;
}

// tf_crop_and_resize's roi (input 1, [starts..., ends...] over `axes`) as resize2d's
// [start_h, start_w, end_h, end_w]; N and C must keep their whole range.
std::vector<double> resize_roi(const NodeContext& ctx) {
  if (!ctx.has_input(1)) ctx.fail("tf_crop_and_resize needs the roi input");
  std::vector<double> roi = constant_floats(ctx, 1, "roi");
  std::vector<int64_t> axes = ctx.attr_ints("axes", {0, 1, 2, 3});
  for (int64_t& axis : axes) axis = normalize_axis(ctx, axis, 4, "axis");
  if (roi.size() != 2 * axes.size()) {
    ctx.fail("roi must hold " + std::to_string(2 * axes.size()) + " values (starts and ends of " +
             ints_text(axes) + "), got " + std::to_string(roi.size()));
  }
  std::vector<double> full = {0, 0, 0, 0, 1, 1, 1, 1};
  for (size_t i = 0; i < axes.size(); ++i) {
    full[static_cast<size_t>(axes[i])] = roi[i];
    full[static_cast<size_t>(axes[i]) + 4] = roi[i + axes.size()];
  }
  for (size_t d = 0; d < 2; ++d) {
    if (full[d] != 0 || full[d + 4] != 1) ctx.fail("a roi that crops N or C is not supported");
  }
  return {full[2], full[3], full[6], full[7]};
}

// Antialiased linear / cubic downsampling reads 2 / 4 taps per axis stretched by 1 / scale: the
// compute unrolls them, so very small scales are refused instead of exploding in code size.
void check_antialias_taps(const NodeContext& ctx, const ir::TensorType& type,
                          const ResizeTarget& target, const std::string& method) {
  constexpr int64_t kMaxTaps = 32;
  for (size_t d = 0; d < 2; ++d) {
    if (target.scales.empty() && !type.shape[2 + d].is_static()) continue;
    double scale = target.scales.empty()
                       ? double(target.size[d]) / double(type.shape[2 + d].value())
                       : target.scales[d];
    if (scale >= 1) continue;
    double support = method == "cubic" ? 2.0 : 1.0;
    int64_t taps = 2 * (1 - (static_cast<int64_t>(std::floor(-support / scale)) + 1));
    if (taps > kMaxTaps) {
      ctx.fail("antialias=1 with scale " + std::to_string(scale) + " (" + std::to_string(taps) +
               " taps per axis, at most " + std::to_string(kMaxTaps) +
               ") is not supported yet: resize in several smaller steps");
    }
  }
}

// Resize: opset 10 has (X, scales) and asymmetric coordinates; 11+ has (X, roi, scales, sizes)
// and the coordinate_transformation_mode attribute.
Outputs convert_resize(const NodeContext& ctx) {
  const ir::TensorType& type = require_4d(ctx);
  std::string method = ctx.attr_string("mode", "nearest");
  if (ctx.opset() < 11) {
    ResizeTarget target = resize_target(ctx, type, std::nullopt, constant_floats(ctx, 1, "scales"));
    return {make_resize(ctx, std::move(target), method,
                        {{"coordinate_transformation_mode", std::string("asymmetric")},
                         {"nearest_mode", std::string("floor")}})};
  }
  std::string coordinates = ctx.attr_string("coordinate_transformation_mode", "half_pixel");
  std::optional<std::vector<double>> scales;
  std::optional<size_t> sizes_input;
  if (ctx.has_input(3)) {
    sizes_input = 3;
  } else if (ctx.has_input(2)) {
    scales = constant_floats(ctx, 2, "scales");
    // An empty scales tensor stands for "not given" in opset 11-12 exports.
    if (scales->empty()) scales.reset();
  }
  ResizeTarget target = resize_target(ctx, type, sizes_input, scales);
  int64_t antialias = ctx.attr_int("antialias", 0);
  if (antialias != 0 && method != "nearest") check_antialias_taps(ctx, type, target, method);
  ir::Attrs attrs = {{"coordinate_transformation_mode", coordinates},
                     {"nearest_mode", ctx.attr_string("nearest_mode", "round_prefer_floor")},
                     {"cubic_coeff_a", ctx.attr_float("cubic_coeff_a", -0.75)},
                     {"exclude_outside", ctx.attr_int("exclude_outside", 0)},
                     {"antialias", antialias}};
  if (coordinates == "tf_crop_and_resize") {
    attrs.set("roi", resize_roi(ctx));
    attrs.set("extrapolation_value", ctx.attr_float("extrapolation_value", 0.0));
  }
  return {make_resize(ctx, std::move(target), method, std::move(attrs))};
}

// GridSample: opset 16 names the modes bilinear / bicubic, 20+ linear / cubic (and allows N-D).
Outputs convert_grid_sample(const NodeContext& ctx) {
  std::string mode = ctx.attr_string("mode", ctx.opset() >= 20 ? "linear" : "bilinear");
  if (mode == "bilinear") mode = "linear";
  if (mode == "bicubic") mode = "cubic";
  return {ctx.call("grid_sample", {ctx.input(0), ctx.input(1)},
                   {{"mode", mode},
                    {"padding_mode", ctx.attr_string("padding_mode", "zeros")},
                    {"align_corners", ctx.attr_int("align_corners", 0)}})};
}

// RoiAlign: opset 16 added coordinate_transformation_mode (default half_pixel); opset 10's
// behaviour is output_half_pixel. The adaptive sampling (sampling_ratio 0: per roi, from its
// size) would need a data-dependent loop count.
Outputs convert_roi_align(const NodeContext& ctx) {
  int64_t sampling_ratio = ctx.attr_int("sampling_ratio", 0);
  if (sampling_ratio <= 0) {
    ctx.fail("sampling_ratio " + std::to_string(sampling_ratio) +
             " (adaptive sampling) is not supported yet: export with a fixed sampling_ratio > 0");
  }
  std::string mode = ctx.opset() >= 16
                         ? ctx.attr_string("coordinate_transformation_mode", "half_pixel")
                         : std::string("output_half_pixel");
  return {ctx.call("roi_align", {ctx.input(0), ctx.input(1), ctx.input(2)},
                   {{"mode", ctx.attr_string("mode", "avg")},
                    {"coordinate_transformation_mode", mode},
                    {"output_height", ctx.attr_int("output_height", 1)},
                    {"output_width", ctx.attr_int("output_width", 1)},
                    {"sampling_ratio", sampling_ratio},
                    {"spatial_scale", ctx.attr_float("spatial_scale", 1.0)}})};
}

// Col2Im: image_shape and block_shape are inputs, which must be constants.
Outputs convert_col2im(const NodeContext& ctx) {
  std::vector<int64_t> image = ctx.require_constant_ints(1, "image_shape");
  std::vector<int64_t> block = ctx.require_constant_ints(2, "block_shape");
  size_t n = image.size();
  require_length(ctx, block, n, "block_shape");
  std::vector<int64_t> dilations = ctx.attr_ints("dilations", std::vector<int64_t>(n, 1));
  std::vector<int64_t> strides = ctx.attr_ints("strides", std::vector<int64_t>(n, 1));
  std::vector<int64_t> pads = ctx.attr_ints("pads", std::vector<int64_t>(2 * n, 0));
  return {ctx.call("col2im", {ctx.input(0)},
                   {{"image_shape", image},
                    {"block_shape", block},
                    {"dilations", dilations},
                    {"pads", pads},
                    {"strides", strides}})};
}

// DeformConv (2-D): a missing mask is all ones, a bias becomes a bias_add.
Outputs convert_deform_conv(const NodeContext& ctx) {
  const ir::TensorType& data_type = ctx.input_type(0);
  if (data_type.rank() != 4) {
    ctx.fail("only 2-D DeformConv (rank-4 input) is supported yet, got " + data_type.to_string());
  }
  const ir::TensorType& offset_type = ctx.input_type(2);
  Window window = read_window(ctx, spatial_dims(data_type), weight_kernel(ctx, ctx.input_type(1)));
  std::vector<int64_t> kernel = weight_kernel(ctx, ctx.input_type(1));
  if (window.kernel != kernel) {
    ctx.fail("kernel_shape " + ints_text(window.kernel) + " differs from the weight's " +
             ints_text(kernel));
  }
  int64_t offset_groups = ctx.attr_int("offset_group", 1);
  ir::Expr mask = ctx.optional_input(4);
  if (!mask) {
    if (!offset_type.is_static() || offset_type.rank() != 4) {
      ctx.fail("offset must have a static rank-4 shape, got " + offset_type.to_string() +
               ctx.shape_dict_hint());
    }
    std::vector<int64_t> shape = offset_type.static_shape();
    shape[1] = offset_groups * kernel[0] * kernel[1];
    mask = ctx.call("full", {},
                    {{"shape", shape},
                     {"fill_value", 1.0},
                     {"dtype", std::string(dtype_name(data_type.dtype))}});
  }
  ir::Attrs attrs = window_attrs(window);
  attrs.set("groups", ctx.attr_int("group", 1));
  attrs.set("offset_groups", offset_groups);
  ir::Expr y =
      ctx.call("deform_conv2d", {ctx.input(0), ctx.input(1), ctx.input(2), mask}, std::move(attrs));
  if (ctx.has_input(3)) y = ctx.call("bias_add", {y, ctx.input(3)}, {{"axis", int64_t{1}}});
  return {y};
}

// Upsample (opset 7-9): scales as an attribute (7-8) or input (9), asymmetric coordinates.
Outputs convert_upsample(const NodeContext& ctx) {
  const ir::TensorType& type = require_4d(ctx);
  std::vector<double> scales =
      ctx.opset() < 9 ? ctx.attr_floats("scales", {}) : constant_floats(ctx, 1, "scales");
  ResizeTarget target = resize_target(ctx, type, std::nullopt, scales);
  return {make_resize(ctx, std::move(target), ctx.attr_string("mode", "nearest"),
                      {{"coordinate_transformation_mode", std::string("asymmetric")},
                       {"nearest_mode", std::string("floor")}})};
}

}  // namespace

void add_nn_converters(ConverterTable& table) {
  table["Conv"] = convert_conv;
  table["ConvTranspose"] = convert_conv_transpose;
  table["MaxPool"] = convert_max_pool;
  table["AveragePool"] = convert_average_pool;
  table["LpPool"] = convert_lp_pool;
  table["MaxUnpool"] = convert_max_unpool;
  table["AffineGrid"] = convert_affine_grid;
  table["GlobalAveragePool"] = global_pool("global_avg_pool2d", "reduce_mean");
  table["GlobalMaxPool"] = global_pool("global_max_pool2d", "reduce_max");
  table["BatchNormalization"] = convert_batch_norm;
  table["InstanceNormalization"] = convert_instance_norm;
  table["GroupNormalization"] = convert_group_norm;
  table["LayerNormalization"] = convert_layer_norm;
  table["LpNormalization"] = convert_lp_norm;
  table["RMSNormalization"] = convert_rms_norm;
  table["LRN"] = convert_lrn;
  table["Softmax"] = softmax_like("softmax");
  table["LogSoftmax"] = softmax_like("log_softmax");
  table["Hardmax"] = softmax_like("hardmax");
  table["Dropout"] = convert_dropout;
  table["Resize"] = convert_resize;
  table["Upsample"] = convert_upsample;
  table["GridSample"] = convert_grid_sample;
  table["RoiAlign"] = convert_roi_align;
  table["Col2Im"] = convert_col2im;
  table["DeformConv"] = convert_deform_conv;
}

}  // namespace kiln::frontend::onnx_import
