// Converters for shape and data movement: reshapes, slices, gathers, constants, casts, padding.
// Many of these take shapes as inputs; the IR wants them as attributes, so those inputs must be
// constants at import time (initializers, or subgraphs folded from static shapes).
#include <algorithm>

#include "frontend/onnx/converter.h"

namespace kiln::frontend::onnx_import {

namespace {

using Outputs = std::vector<ir::Expr>;

// Largest constant that ConstantOfShape writes directly; larger ones stay a `full` call.
constexpr int64_t kMaxDirectFill = int64_t{1} << 24;

Outputs convert_identity(const NodeContext& ctx) { return {ctx.input(0)}; }

Outputs convert_reshape(const NodeContext& ctx) {
  std::vector<int64_t> shape =
      ctx.opset() < 5 ? ctx.attr_ints("shape") : ctx.require_constant_ints(1, "shape");
  return {ctx.call("reshape", {ctx.input(0)},
                   {{"newshape", shape}, {"allowzero", ctx.attr_int("allowzero", 0)}})};
}

Outputs convert_flatten(const NodeContext& ctx) {
  int64_t rank = ctx.input_type(0).rank();
  int64_t axis = ctx.attr_int("axis", 1);
  // Flatten's axis may equal the rank (everything in the outer dim).
  if (axis < -rank || axis > rank) {
    ctx.fail("attribute 'axis' " + std::to_string(axis) + " is out of range for rank " +
             std::to_string(rank));
  }
  if (axis < 0) axis += rank;
  return {flatten_to_2d(ctx, ctx.input(0), axis)};
}

Outputs convert_transpose(const NodeContext& ctx) {
  return {ctx.call("transpose", {ctx.input(0)}, {{"axes", ctx.attr_ints("perm", {})}})};
}

Outputs convert_concat(const NodeContext& ctx) {
  std::vector<ir::Expr> args;
  for (size_t i = 0; i < ctx.num_inputs(); ++i) args.push_back(ctx.input(i));
  // Concat-1 made axis optional (default 1); it is required since opset 4.
  int64_t axis = ctx.opset() < 4 ? ctx.attr_int("axis", 1) : ctx.attr_int("axis");
  return {ctx.call("concat", std::move(args), {{"axis", axis}})};
}

// Slice: starts/ends/axes are attributes before opset 10, inputs (with steps) since.
Outputs convert_slice(const NodeContext& ctx) {
  std::vector<int64_t> starts, ends, axes, steps;
  if (ctx.opset() < 10) {
    starts = ctx.attr_ints("starts");
    ends = ctx.attr_ints("ends");
    axes = ctx.attr_ints("axes", {});
  } else {
    starts = ctx.require_constant_ints(1, "starts");
    ends = ctx.require_constant_ints(2, "ends");
    if (ctx.has_input(3)) axes = ctx.require_constant_ints(3, "axes");
    if (ctx.has_input(4)) steps = ctx.require_constant_ints(4, "steps");
  }
  if (axes.empty()) {
    for (size_t i = 0; i < starts.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  }
  if (steps.empty()) steps.assign(starts.size(), 1);
  if (ends.size() != starts.size() || axes.size() != starts.size() ||
      steps.size() != starts.size()) {
    ctx.fail("starts, ends, axes and steps must have the same length, got " +
             std::to_string(starts.size()) + ", " + std::to_string(ends.size()) + ", " +
             std::to_string(axes.size()) + ", " + std::to_string(steps.size()));
  }
  return {ctx.call("strided_slice", {ctx.input(0)},
                   {{"begin", starts}, {"end", ends}, {"axes", axes}, {"strides", steps}})};
}

// Section sizes for Split: given (attribute before 13, input since), num_outputs (18), or an
// even split into the node's outputs.
std::vector<int64_t> split_sections(const NodeContext& ctx, const ir::Dim& dim) {
  if (ctx.opset() < 13 && ctx.has_attr("split")) return ctx.attr_ints("split");
  if (ctx.opset() >= 13 && ctx.has_input(1)) return ctx.require_constant_ints(1, "split");
  bool by_attr = ctx.opset() >= 18 && ctx.has_attr("num_outputs");
  int64_t parts = by_attr ? ctx.attr_int("num_outputs") : static_cast<int64_t>(ctx.num_outputs());
  if (parts <= 0) ctx.fail("cannot split into " + std::to_string(parts) + " parts");
  if (!dim.is_static()) {
    ctx.fail("the split axis has unknown size " + dim.to_string() + ctx.shape_dict_hint());
  }
  int64_t size = dim.value();
  if (!by_attr && size % parts != 0) {
    ctx.fail("cannot split a dim of " + std::to_string(size) + " into " + std::to_string(parts) +
             " equal parts");
  }
  // opset 18: chunks of ceil(size / parts), the last one smaller.
  int64_t chunk = (size + parts - 1) / parts;
  if (chunk * (parts - 1) > size) {
    ctx.fail("cannot split a dim of " + std::to_string(size) + " into " + std::to_string(parts) +
             " parts");
  }
  std::vector<int64_t> sections(static_cast<size_t>(parts), chunk);
  sections.back() = size - chunk * (parts - 1);
  return sections;
}

Outputs convert_split(const NodeContext& ctx) {
  const ir::TensorType& type = ctx.input_type(0);
  int64_t axis = normalize_axis(ctx, ctx.attr_int("axis", 0), type.rank(), "axis");
  std::vector<int64_t> sections = split_sections(ctx, type.shape[static_cast<size_t>(axis)]);
  if (sections.size() != ctx.num_outputs()) {
    ctx.fail("splits into " + std::to_string(sections.size()) + " parts but the node has " +
             std::to_string(ctx.num_outputs()) + " outputs");
  }
  Outputs outputs;
  // A constant input (a shape being taken apart) splits into constants: slices fold, whereas the
  // items of a tuple-valued split call would not.
  if (ctx.constant_input(0)) {
    int64_t begin = 0;
    for (int64_t section : sections) {
      outputs.push_back(ctx.call("strided_slice", {ctx.input(0)},
                                 {{"begin", std::vector<int64_t>{begin}},
                                  {"end", std::vector<int64_t>{begin + section}},
                                  {"axes", std::vector<int64_t>{axis}},
                                  {"strides", std::vector<int64_t>{1}}}));
      begin += section;
    }
    return outputs;
  }
  ir::Expr parts = ctx.call("split", {ctx.input(0)}, {{"axis", axis}, {"sections", sections}});
  for (size_t i = 0; i < sections.size(); ++i) {
    outputs.push_back(ctx.tuple_item(parts, static_cast<int64_t>(i)));
  }
  return outputs;
}

// Squeeze/Unsqueeze axes: an attribute before opset 13, an input since.
std::vector<int64_t> squeeze_axes(const NodeContext& ctx, bool required) {
  if (ctx.opset() < 13) return required ? ctx.attr_ints("axes") : ctx.attr_ints("axes", {});
  if (!required && !ctx.has_input(1)) return {};
  return ctx.require_constant_ints(1, "axes");
}

Outputs convert_squeeze(const NodeContext& ctx) {
  return {ctx.call("squeeze", {ctx.input(0)}, {{"axes", squeeze_axes(ctx, false)}})};
}

Outputs convert_unsqueeze(const NodeContext& ctx) {
  return {ctx.call("unsqueeze", {ctx.input(0)}, {{"axes", squeeze_axes(ctx, true)}})};
}

Outputs convert_expand(const NodeContext& ctx) {
  return {ctx.call("expand", {ctx.input(0)}, {{"shape", ctx.require_constant_ints(1, "shape")}})};
}

Outputs convert_tile(const NodeContext& ctx) {
  return {ctx.call("tile", {ctx.input(0)}, {{"repeats", ctx.require_constant_ints(1, "repeats")}})};
}

Outputs convert_gather(const NodeContext& ctx) {
  return {ctx.call("gather", {ctx.input(0), ctx.input(1)}, {{"axis", ctx.attr_int("axis", 0)}})};
}

// Compress: the positions where the (constant) condition holds, gathered along `axis` (or from
// the flattened input when there is no axis). The output length depends on the condition's
// values, so it must be known at import.
Outputs convert_compress(const NodeContext& ctx) {
  Tensor condition = ctx.require_constant(1, "condition");
  if (condition.ndim() != 1) {
    ctx.fail("input 1 (condition) must be 1-D, got " + std::to_string(condition.ndim()) + " dims");
  }
  ir::Expr data = ctx.input(0);
  int64_t axis = 0;
  if (ctx.has_attr("axis")) {
    axis = normalize_axis(ctx, ctx.attr_int("axis"), ctx.input_type(0).rank(), "attribute 'axis'");
  } else {
    std::optional<int64_t> numel =
        static_product(ctx, ctx.input_type(0).shape, 0, ctx.input_type(0).shape.size());
    if (!numel) ctx.fail("the input shape must be static" + ctx.shape_dict_hint());
    data = ctx.call("reshape", {data}, {{"newshape", std::vector<int64_t>{*numel}}});
  }
  const ir::Dim& dim = data->type().as_tensor().shape[static_cast<size_t>(axis)];
  std::vector<int64_t> kept;
  for (int64_t i = 0; i < condition.numel(); ++i) {
    if (condition.element_as_double(i) == 0.0) continue;
    // A condition longer than the axis may only hold false beyond it.
    if (!dim.is_static() || i >= dim.value()) {
      ctx.fail("input 1 (condition) selects index " + std::to_string(i) + " beyond the axis (" +
               dim.to_string() + ")");
    }
    kept.push_back(i);
  }
  Tensor indices = Tensor::from_int64s(kept);
  return {ctx.call("gather", {data, ctx.constant(indices)}, {{"axis", axis}})};
}

Outputs convert_gather_elements(const NodeContext& ctx) {
  return {ctx.call("gather_elements", {ctx.input(0), ctx.input(1)},
                   {{"axis", ctx.attr_int("axis", 0)}})};
}

Outputs convert_gather_nd(const NodeContext& ctx) {
  return {ctx.call("gather_nd", {ctx.input(0), ctx.input(1)},
                   {{"batch_dims", ctx.attr_int("batch_dims", 0)}})};
}

Outputs convert_scatter_elements(const NodeContext& ctx) {
  return {ctx.call(
      "scatter_elements", {ctx.input(0), ctx.input(1), ctx.input(2)},
      {{"axis", ctx.attr_int("axis", 0)}, {"reduction", ctx.attr_string("reduction", "none")}})};
}

// ScatterND: with no index tuples (an empty indices prefix) the result is data.
Outputs convert_scatter_nd(const NodeContext& ctx) {
  const ir::Shape& index_shape = ctx.input_type(1).shape;
  if (!index_shape.empty()) {
    std::optional<int64_t> tuples = static_product(ctx, index_shape, 0, index_shape.size() - 1);
    if (tuples == 0) return {ctx.input(0)};
  }
  return {ctx.call("scatter_nd", {ctx.input(0), ctx.input(1), ctx.input(2)},
                   {{"reduction", ctx.attr_string("reduction", "none")}})};
}

// ONNX Shape's start/end (opset 15): negative counts from the back, then clamp to [0, rank].
int64_t clamp_shape_bound(int64_t bound, int64_t rank) {
  if (bound < 0) bound += rank;
  return std::clamp<int64_t>(bound, 0, rank);
}

// Shape folds from the static type (only the dims in [start, end) need to be static); otherwise
// it becomes shape_of, sliced when start/end select part of it.
Outputs convert_shape(const NodeContext& ctx) {
  const ir::TensorType& type = ctx.input_type(0);
  int64_t rank = type.rank();
  int64_t start = clamp_shape_bound(ctx.attr_int("start", 0), rank);
  int64_t end = std::max(start, clamp_shape_bound(ctx.attr_int("end", rank), rank));
  std::vector<int64_t> dims;
  bool all_static = true;
  for (int64_t i = start; i < end; ++i) {
    const ir::Dim& dim = type.shape[static_cast<size_t>(i)];
    all_static = all_static && dim.is_static();
    if (dim.is_static()) dims.push_back(dim.value());
  }
  if (all_static) return {ctx.constant(Tensor::from_int64s(dims))};
  ir::Expr shape = ctx.call("shape_of", {ctx.input(0)});
  if (start == 0 && end == rank) return {shape};
  return {ctx.call("strided_slice", {shape},
                   {{"begin", std::vector<int64_t>{start}},
                    {"end", std::vector<int64_t>{end}},
                    {"axes", std::vector<int64_t>{0}},
                    {"strides", std::vector<int64_t>{1}}})};
}

Outputs convert_size(const NodeContext& ctx) {
  int64_t numel = ctx.input_type(0).numel();
  if (numel >= 0) return {ctx.constant(Tensor::from_int64s({numel}, /*scalar=*/true))};
  return {ctx.call("size_of", {ctx.input(0)})};
}

Tensor scalar_tensor(DType dtype, double value) {
  Tensor tensor(dtype, {});
  tensor.set_element_from_double(0, value);
  return tensor;
}

Outputs convert_constant(const NodeContext& ctx) {
  if (ctx.has_attr("value")) return {ctx.constant(ctx.attr_tensor("value"))};
  if (ctx.has_attr("value_float")) {
    return {ctx.constant(scalar_tensor(DType::kFloat32, ctx.attr_float("value_float", 0)))};
  }
  if (ctx.has_attr("value_int")) {
    return {ctx.constant(Tensor::from_int64s({ctx.attr_int("value_int")}, /*scalar=*/true))};
  }
  if (ctx.has_attr("value_ints"))
    return {ctx.constant(Tensor::from_int64s(ctx.attr_ints("value_ints")))};
  if (ctx.has_attr("value_floats")) {
    std::vector<double> values = ctx.attr_floats("value_floats", {});
    std::vector<float> narrowed(values.begin(), values.end());
    return {ctx.constant(Tensor::from_float32s(narrowed, {static_cast<int64_t>(narrowed.size())}))};
  }
  for (const char* name : {"value_string", "value_strings", "sparse_value"}) {
    if (ctx.has_attr(name)) ctx.fail("attribute '" + std::string(name) + "' is not supported");
  }
  ctx.fail("has no value attribute");
}

// ConstantOfShape: a tensor of `shape` filled with the one element of `value` (float32 0 when
// absent). Written directly when small, exactly for integers; a `full` call otherwise.
Outputs convert_constant_of_shape(const NodeContext& ctx) {
  std::vector<int64_t> shape = ctx.require_constant_ints(0, "shape");
  Tensor fill =
      ctx.has_attr("value") ? ctx.attr_tensor("value") : scalar_tensor(DType::kFloat32, 0);
  if (fill.numel() != 1) ctx.fail("attribute 'value' must hold one element");
  int64_t numel = 1;  // saturates just above kMaxDirectFill so that it cannot overflow
  for (int64_t dim : shape) {
    if (dim < 0) ctx.fail("input 0 (shape) holds the negative dim " + std::to_string(dim));
    if (dim == 0)
      numel = 0;
    else
      numel = numel > kMaxDirectFill / dim ? kMaxDirectFill + 1 : numel * dim;
  }
  if (numel > kMaxDirectFill) {
    return {ctx.call("full", {},
                     {{"shape", shape},
                      {"fill_value", fill.element_as_double(0)},
                      {"dtype", std::string(dtype_name(fill.dtype()))}})};
  }
  Tensor result(fill.dtype(), shape);
  bool integral = !dtype_is_float(fill.dtype());
  for (int64_t i = 0; i < result.numel(); ++i) {
    if (integral) {
      result.set_element_from_int64(i, fill.element_as_int64(0));
    } else {
      result.set_element_from_double(i, fill.element_as_double(0));
    }
  }
  return {ctx.constant(std::move(result))};
}

// Range's output length depends on the values of start, limit and delta: they must be known at
// import (Kiln compiles for static shapes), so the call folds into a constant. Opset 27 adds
// stash_type, which (at its default 1) computes float16/bfloat16 ranges in float32 and casts the
// result back.
Outputs convert_range(const NodeContext& ctx) {
  const char* names[] = {"start", "limit", "delta"};
  DType dtype = ctx.input_type(0).dtype;
  bool half = dtype == DType::kFloat16 || dtype == DType::kBFloat16;
  int64_t stash_type = ctx.opset() >= 27 ? ctx.attr_int("stash_type", 1) : 0;
  if (half && stash_type != 0 && stash_type != 1) {
    ctx.fail("stash_type must be 0 or 1 (float), got " + std::to_string(stash_type));
  }
  const bool widen = half && stash_type == 1;
  std::vector<ir::Expr> args;
  for (size_t i = 0; i < 3; ++i) {
    Tensor value = ctx.require_constant(i, names[i]);
    if (value.numel() != 1) {
      ctx.fail("input " + std::to_string(i) + " (" + names[i] + ") must hold one value, it has " +
               std::to_string(value.numel()));
    }
    // Function bodies (AffineGrid's) pass one-element 1-D tensors; range wants scalars.
    Tensor scalar(widen ? DType::kFloat32 : value.dtype(), {});
    if (dtype_is_float(value.dtype())) {
      scalar.set_element_from_double(0, value.element_as_double(0));
    } else {
      scalar.set_element_from_int64(0, value.element_as_int64(0));
    }
    args.push_back(ir::ConstantNode::make(std::move(scalar)));
  }
  ir::Expr range = ctx.call("range", std::move(args));
  if (!widen) return {range};
  return {ctx.call("cast", {range}, {{"dtype", std::string(dtype_name(dtype))}})};
}

// Cast / CastLike with their float8 attributes (opset 19: saturate, opset 24: round_mode).
ir::Expr cast_with_attrs(const NodeContext& ctx, DType dtype) {
  const ir::Expr& data = ctx.input(0);
  if (data->type().as_tensor().dtype == dtype) return data;
  std::string round_mode = ctx.attr_string("round_mode", "up");
  if (round_mode != "up" && round_mode != "down" && round_mode != "nearest") {
    ctx.fail("round_mode \"" + round_mode + "\" is not one of up, down, nearest");
  }
  return ctx.call("cast", {data},
                  {{"dtype", std::string(dtype_name(dtype))},
                   {"saturate", ctx.attr_int("saturate", 1) != 0 ? int64_t{1} : int64_t{0}},
                   {"round_mode", round_mode}});
}

// Cast-1..5 name the target type with a string ("FLOAT"); later versions with its number.
int64_t cast_target(const NodeContext& ctx) {
  if (ctx.opset() >= 6) return ctx.attr_int("to");
  std::string name = ctx.attr_string("to", "");
  for (int64_t code = 1; code <= 23; ++code) {
    if (onnx_type_name(code) == name) return code;
  }
  ctx.fail("attribute 'to' \"" + name + "\" is not an ONNX element type name");
}

Outputs convert_cast(const NodeContext& ctx) {
  int64_t to = cast_target(ctx);
  std::optional<DType> dtype = dtype_from_onnx(to);
  if (!dtype) ctx.fail("cannot cast to " + onnx_type_name(to) + ", which Kiln does not support");
  return {cast_with_attrs(ctx, *dtype)};
}

// BitCast (opset 26): the same bits as another type of the same width.
Outputs convert_bitcast(const NodeContext& ctx) {
  int64_t to = ctx.attr_int("to");
  std::optional<DType> dtype = dtype_from_onnx(to);
  if (!dtype) ctx.fail("cannot bitcast to " + onnx_type_name(to) + ", which Kiln does not support");
  return {ctx.call("bitcast", {ctx.input(0)}, {{"dtype", std::string(dtype_name(*dtype))}})};
}

Outputs convert_cast_like(const NodeContext& ctx) {
  return {cast_with_attrs(ctx, ctx.input_type(1).dtype)};
}

// Pad: pads/value are attributes before opset 11, inputs since; opset 18 adds `axes`.
// Pad mode "wrap" (opset 19): the input repeats periodically, so output position i of an axis
// padded by (before, after) reads input index (i - before) mod size. One gather per padded axis
// with those indices as a constant (negative pads crop the same way).
ir::Expr wrap_pad(const NodeContext& ctx, ir::Expr data, const std::vector<int64_t>& pads) {
  const ir::TensorType& type = data->type().as_tensor();
  size_t rank = type.shape.size();
  for (size_t axis = 0; axis < rank; ++axis) {
    int64_t before = pads[axis], after = pads[axis + rank];
    if (before == 0 && after == 0) continue;
    const ir::Dim& dim = type.shape[axis];
    if (!dim.is_static()) {
      ctx.fail("wrap padding needs static sizes, got " + type.to_string() + ctx.shape_dict_hint());
    }
    int64_t size = dim.value();
    int64_t length = size + before + after;
    if (length < 0 || (size == 0 && length > 0)) {
      ctx.fail("pads " + std::to_string(before) + ", " + std::to_string(after) +
               " do not fit axis " + std::to_string(axis) + " of size " + std::to_string(size));
    }
    Tensor indices(DType::kInt64, {length});
    for (int64_t i = 0; i < length; ++i) {
      indices.set_element_from_int64(i, ((i - before) % size + size) % size);
    }
    data = ctx.call("gather", {data, ctx.constant(std::move(indices))},
                    {{"axis", static_cast<int64_t>(axis)}});
  }
  return data;
}

Outputs convert_pad(const NodeContext& ctx) {
  int64_t rank = ctx.input_type(0).rank();
  std::string mode = ctx.attr_string("mode", "constant");
  if (mode != "constant" && mode != "reflect" && mode != "edge" && mode != "wrap") {
    ctx.fail("mode \"" + mode + "\" is not supported yet (constant, reflect, edge, wrap are)");
  }
  std::vector<int64_t> pads;
  double value = 0.0;
  std::vector<int64_t> axes;
  if (ctx.opset() < 11) {
    pads = ctx.attr_ints("pads");
    value = ctx.attr_float("value", 0.0);
  } else {
    pads = ctx.require_constant_ints(1, "pads");
    if (ctx.has_input(2)) value = ctx.require_constant_scalar(2, "constant_value");
    if (ctx.has_input(3)) axes = ctx.require_constant_ints(3, "axes");
  }
  if (!axes.empty()) {  // spread the per-axis pads over all dims
    if (pads.size() != 2 * axes.size()) ctx.fail("pads must hold 2 values per axis");
    std::vector<int64_t> full(static_cast<size_t>(2 * rank), 0);
    for (size_t i = 0; i < axes.size(); ++i) {
      auto axis = static_cast<size_t>(normalize_axis(ctx, axes[i], rank, "axis"));
      full[axis] = pads[i];
      full[axis + static_cast<size_t>(rank)] = pads[i + axes.size()];
    }
    pads = std::move(full);
  }
  if (static_cast<int64_t>(pads.size()) != 2 * rank) {
    ctx.fail("pads must hold " + std::to_string(2 * rank) + " values for rank " +
             std::to_string(rank) + ", got " + std::to_string(pads.size()));
  }
  if (mode == "wrap") return {wrap_pad(ctx, ctx.input(0), pads)};
  return {ctx.call("pad", {ctx.input(0)}, {{"pads", pads}, {"mode", mode}, {"value", value}})};
}

Outputs convert_depth_to_space(const NodeContext& ctx) {
  return {ctx.call(
      "depth_to_space", {ctx.input(0)},
      {{"block_size", ctx.attr_int("blocksize")}, {"mode", ctx.attr_string("mode", "DCR")}})};
}

Outputs convert_space_to_depth(const NodeContext& ctx) {
  return {ctx.call("space_to_depth", {ctx.input(0)}, {{"block_size", ctx.attr_int("blocksize")}})};
}

// OneHot: depth and values [off, on] must be constants; the result takes values' dtype.
Outputs convert_one_hot(const NodeContext& ctx) {
  double depth = ctx.require_constant_scalar(1, "depth");
  if (!(depth >= 1 && depth <= double(int64_t{1} << 40))) {
    ctx.fail("input 1 (depth) must be a positive count, got " + std::to_string(depth));
  }
  Tensor values = ctx.require_constant(2, "values");
  if (values.numel() != 2) ctx.fail("input 2 (values) must hold [off_value, on_value]");
  return {ctx.call("one_hot", {ctx.input(0)},
                   {{"depth", static_cast<int64_t>(depth)},
                    {"axis", ctx.attr_int("axis", -1)},
                    {"on_value", values.element_as_double(1)},
                    {"off_value", values.element_as_double(0)},
                    {"dtype", std::string(dtype_name(values.dtype()))}})};
}

Outputs convert_non_zero(const NodeContext& ctx) { return {ctx.call("non_zero", {ctx.input(0)})}; }

Outputs convert_where(const NodeContext& ctx) {
  return {ctx.call("where", {ctx.input(0), ctx.input(1), ctx.input(2)})};
}

// EyeLike: a constant with the input's (static, 2-D) shape, ones on diagonal k, zeros elsewhere;
// the dtype attribute or the input's dtype.
Outputs convert_eye_like(const NodeContext& ctx) {
  const ir::TensorType& type = ctx.input_type(0);
  if (type.rank() != 2) ctx.fail("input must be 2-D, got " + type.to_string());
  if (!type.is_static()) {
    ctx.fail("the input shape must be static, got " + type.to_string() + ctx.shape_dict_hint());
  }
  DType dtype = type.dtype;
  if (ctx.has_attr("dtype")) {
    int64_t onnx_type = ctx.attr_int("dtype");
    std::optional<DType> converted = dtype_from_onnx(onnx_type);
    if (!converted) ctx.fail("dtype " + onnx_type_name(onnx_type) + " is not supported");
    dtype = *converted;
  }
  int64_t rows = type.shape[0].value();
  int64_t cols = type.shape[1].value();
  int64_t k = ctx.attr_int("k", 0);
  Tensor result(dtype, {rows, cols});
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j)
      result.set_element_from_int64(i * cols + j, j - i == k ? 1 : 0);
  }
  return {ctx.constant(std::move(result))};
}

// Trilu: where(mask, x, 0) over the last two dims, the element [i, j] kept when j - i >= k for
// the upper triangle, j - i <= k for the lower. With a constant k the mask is a constant; else it
// is a comparison of the constant j - i grid with k.
Outputs convert_trilu(const NodeContext& ctx) {
  const ir::TensorType& type = ctx.input_type(0);
  if (type.rank() < 2) ctx.fail("input must have rank >= 2, got " + type.to_string());
  const ir::Dim& row_dim = type.shape[type.shape.size() - 2];
  const ir::Dim& col_dim = type.shape.back();
  if (!row_dim.is_static() || !col_dim.is_static()) {
    ctx.fail("the last two dims must be static, got " + type.to_string() + ctx.shape_dict_hint());
  }
  bool upper = ctx.attr_int("upper", 1) != 0;
  int64_t rows = row_dim.value();
  int64_t cols = col_dim.value();
  ir::Expr zero = ctx.scalar(0.0, type.dtype);
  std::optional<Tensor> k_value;
  if (ctx.has_input(1)) {
    if (ctx.input_type(1).dtype != DType::kInt64) ctx.fail("input 1 (k) must be int64");
    k_value = ctx.constant_input(1);
  }
  if (k_value.has_value() || !ctx.has_input(1)) {
    int64_t k = 0;
    if (k_value.has_value()) {
      if (k_value->numel() != 1) ctx.fail("input 1 (k) must hold one value");
      k = k_value->data_as<int64_t>()[0];
    }
    Tensor mask(DType::kBool, {rows, cols});
    auto* out = mask.mutable_data_as<bool>();
    for (int64_t i = 0; i < rows; ++i) {
      for (int64_t j = 0; j < cols; ++j) out[i * cols + j] = upper ? (j - i >= k) : (j - i <= k);
    }
    return {ctx.call("where", {ctx.constant(mask), ctx.input(0), zero})};
  }
  Tensor diff(DType::kInt64, {rows, cols});
  auto* out = diff.mutable_data_as<int64_t>();
  for (int64_t i = 0; i < rows; ++i) {
    for (int64_t j = 0; j < cols; ++j) out[i * cols + j] = j - i;
  }
  const ir::TensorType& k_type = ctx.input_type(1);
  if (k_type.rank() > 1 ||
      (k_type.rank() == 1 && !(k_type.shape[0].is_static() && k_type.shape[0].value() == 1))) {
    ctx.fail("input 1 (k) must hold one value, got " + k_type.to_string());
  }
  ir::Expr mask =
      ctx.call(upper ? "greater_equal" : "less_equal", {ctx.constant(diff), ctx.input(1)});
  return {ctx.call("where", {mask, ctx.input(0), zero})};
}

}  // namespace

void add_tensor_converters(ConverterTable& table) {
  table["Identity"] = convert_identity;
  table["Reshape"] = convert_reshape;
  table["Flatten"] = convert_flatten;
  table["Transpose"] = convert_transpose;
  table["Concat"] = convert_concat;
  table["Slice"] = convert_slice;
  table["Split"] = convert_split;
  table["Squeeze"] = convert_squeeze;
  table["Unsqueeze"] = convert_unsqueeze;
  table["Expand"] = convert_expand;
  table["Tile"] = convert_tile;
  table["Gather"] = convert_gather;
  table["GatherElements"] = convert_gather_elements;
  table["Compress"] = convert_compress;
  table["GatherND"] = convert_gather_nd;
  table["ScatterElements"] = convert_scatter_elements;
  table["ScatterND"] = convert_scatter_nd;
  table["Scatter"] = convert_scatter_elements;  // opset 9-10 name of the same operator
  table["Shape"] = convert_shape;
  table["Size"] = convert_size;
  table["Constant"] = convert_constant;
  table["ConstantOfShape"] = convert_constant_of_shape;
  table["Range"] = convert_range;
  table["Cast"] = convert_cast;
  table["BitCast"] = convert_bitcast;
  table["CastLike"] = convert_cast_like;
  table["Pad"] = convert_pad;
  table["DepthToSpace"] = convert_depth_to_space;
  table["SpaceToDepth"] = convert_space_to_depth;
  table["OneHot"] = convert_one_hot;
  table["NonZero"] = convert_non_zero;
  table["Where"] = convert_where;
  table["Trilu"] = convert_trilu;
  table["EyeLike"] = convert_eye_like;
}

}  // namespace kiln::frontend::onnx_import
