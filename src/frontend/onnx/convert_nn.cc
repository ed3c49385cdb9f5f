// Converters for neural-network layers: convolutions, pooling, normalizations, softmax, resize.
// The IR's spatial operators are 2-D; 1-D ONNX layers run as 2-D with a height of 1.
#include <cmath>

#include "frontend/onnx/converter.h"

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

// The spatial rank the IR can run: 1 or 2; 3-D and others are refused with a clear message.
size_t require_1d_or_2d(const NodeContext& ctx, const ir::TensorType& type) {
  if (type.rank() == 5) ctx.fail("3-D " + ctx.op_type() + " is not supported yet");
  if (type.rank() != 3 && type.rank() != 4) {
    ctx.fail("input must have rank 3 (1-D) or 4 (2-D), got " + type.to_string());
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
  size_t n = require_1d_or_2d(ctx, data_type);
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
  size_t n = require_1d_or_2d(ctx, data_type);
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

// MaxPool / AveragePool / LpPool: ir_op with the window and the pool-specific attributes.
Outputs convert_pool(const NodeContext& ctx, const std::string& ir_op, ir::Attrs extra) {
  const ir::TensorType& data_type = ctx.input_type(0);
  size_t n = require_1d_or_2d(ctx, data_type);
  if (!ctx.has_attr("kernel_shape")) ctx.fail("required attribute 'kernel_shape' is missing");
  Window window = lift_to_2d(read_window(ctx, spatial_dims(data_type), {}));
  ir::Attrs attrs = window_attrs(window);
  attrs.set("pool_size", window.kernel);
  attrs.set("ceil_mode", ctx.attr_int("ceil_mode", 0));
  for (const auto& [name, value] : extra.values()) attrs.set(name, value);
  ir::Expr data = n == 1 ? unsqueeze_height(ctx, ctx.input(0)) : ctx.input(0);
  ir::Expr y = ctx.call(ir_op, {data}, std::move(attrs));
  return {n == 1 ? squeeze_height(ctx, y) : y};
}

Outputs convert_max_pool(const NodeContext& ctx) {
  if (ctx.output_used(1)) ctx.fail("the Indices output of MaxPool is not supported");
  return convert_pool(ctx, "max_pool2d", {});
}

Outputs convert_average_pool(const NodeContext& ctx) {
  return convert_pool(ctx, "avg_pool2d",
                      {{"count_include_pad", ctx.attr_int("count_include_pad", 0)}});
}

Outputs convert_lp_pool(const NodeContext& ctx) {
  return convert_pool(ctx, "lp_pool2d", {{"p", ctx.attr_int("p", 2)}});
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

Outputs convert_batch_norm(const NodeContext& ctx) {
  if (ctx.attr_int("training_mode", 0) != 0) {
    ctx.fail("training_mode=1 is not supported: export the model in eval mode (model.eval())");
  }
  if (ctx.attr_int("spatial", 1) != 1) ctx.fail("spatial=0 is not supported");
  std::vector<ir::Expr> args;
  for (size_t i = 0; i < 5; ++i) args.push_back(ctx.input(i));
  return {ctx.call("batch_norm", std::move(args),
                   {{"axis", int64_t{1}}, {"epsilon", ctx.attr_float("epsilon", 1e-5)}})};
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

Outputs convert_layer_norm(const NodeContext& ctx) {
  if (ctx.output_used(1) || ctx.output_used(2)) {
    ctx.fail("the Mean and InvStdDev outputs are not supported");
  }
  std::vector<ir::Expr> args = {ctx.input(0), ctx.input(1)};
  if (ctx.has_input(2)) args.push_back(ctx.input(2));
  return {
      ctx.call("layer_norm", std::move(args),
               {{"axis", ctx.attr_int("axis", -1)}, {"epsilon", ctx.attr_float("epsilon", 1e-5)}})};
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

Outputs convert_dropout(const NodeContext& ctx) {
  if (ctx.output_used(1)) ctx.fail("the mask output of Dropout is not supported");
  return {ctx.input(0)};
}

// Output [H, W] of a 4-D Resize/Upsample from sizes or scales (N and C must not change), and
// the H, W scales when they were given: ONNX maps coordinates with the given scale, which differs
// from output / input when input * scale is not a whole number.
struct ResizeTarget {
  std::vector<int64_t> size;
  std::vector<double> scales;  // empty when sizes were given
};

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
    if (policy != "stretch")
      ctx.fail("keep_aspect_ratio_policy \"" + policy + "\" is not supported yet");
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
  if (!sizes_input) {
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
  if (ctx.attr_int("antialias", 0) != 0) ctx.fail("antialias=1 is not supported yet");
  std::string coordinates = ctx.attr_string("coordinate_transformation_mode", "half_pixel");
  if (coordinates == "tf_crop_and_resize") ctx.fail("tf_crop_and_resize is not supported yet");
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
  return {make_resize(ctx, std::move(target), method,
                      {{"coordinate_transformation_mode", coordinates},
                       {"nearest_mode", ctx.attr_string("nearest_mode", "round_prefer_floor")},
                       {"cubic_coeff_a", ctx.attr_float("cubic_coeff_a", -0.75)},
                       {"exclude_outside", ctx.attr_int("exclude_outside", 0)}})};
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
}

}  // namespace kiln::frontend::onnx_import
