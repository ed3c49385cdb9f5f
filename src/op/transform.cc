// The transform family, part 1: operators that rearrange a tensor's elements without computing
// on them — reshape, transpose, squeeze, unsqueeze, expand, tile, concat, split, pad,
// depth_to_space, space_to_depth. Indexing operators live in transform_index.cc, operators that
// create tensors (shape_of, full, range...) in transform_create.cc.
#include <algorithm>
#include <optional>
#include <set>

#include "kiln/error.h"
#include "kiln/limits.h"
#include "op/eval_util.h"
#include "op/op_util.h"

namespace kiln::op {

void register_transform_index_ops(ir::OpRegistry& registry);   // op/transform_index.cc
void register_transform_create_ops(ir::OpRegistry& registry);  // op/transform_create.cc

namespace {

using ir::Attrs;
using ir::OpDef;
using ir::OpPattern;

std::string ints_to_string(const std::vector<int64_t>& values) {
  return ir::attr_value_to_string(ir::AttrValue(values));
}

OpDef transform_op(std::string name, std::string summary, std::vector<ir::AttrDef> attrs) {
  OpDef def;
  def.name = std::move(name);
  def.family = "transform";
  def.summary = std::move(summary);
  def.attrs = std::move(attrs);
  def.pattern = OpPattern::kInjective;
  return def;
}

// Same elements, new shape: the evaluator of reshape, squeeze and unsqueeze.
Tensor evaluate_as_reshape(const std::vector<Tensor>& args, const Attrs&,
                           const TensorType& result) {
  return args[0].reshaped(result.static_shape());
}

// ---------------------------------------------------------------------------------------------
// reshape

// The dims of a shape split into a static product and the names of its symbolic dims.
struct DimProduct {
  int64_t static_product = 1;
  std::multiset<std::string> symbols;
};

DimProduct dim_product(const Shape& shape, std::optional<size_t> skip = std::nullopt) {
  DimProduct product;
  for (size_t d = 0; d < shape.size(); ++d) {
    if (skip && d == *skip) continue;
    if (shape[d].is_static()) {
      // A shape from a file may hold any dims; their product must not overflow (it is compared,
      // never allocated, so the tensor limit is the bound).
      if (__builtin_mul_overflow(product.static_product, shape[d].value(),
                                 &product.static_product) ||
          product.static_product > kMaxTensorElements) {
        throw Error("reshape: the shape " + shape_to_string(shape) +
                    " describes more than 2^40 elements");
      }
    } else {
      product.symbols.insert(shape[d].symbol_name());
    }
  }
  return product;
}

// Removes the symbols both products have ("batch" in [batch, 3, 4] -> [batch, 12]); the unknown
// symbol "?" never cancels, since two unknown dims need not be equal.
void cancel_common_symbols(DimProduct& a, DimProduct& b) {
  for (auto it = a.symbols.begin(); it != a.symbols.end();) {
    auto match = b.symbols.find(*it);
    if (*it != "?" && match != b.symbols.end()) {
      b.symbols.erase(match);
      it = a.symbols.erase(it);
    } else {
      ++it;
    }
  }
}

// ONNX Reshape: 0 copies the input dim (unless allowzero), one -1 takes the remaining size.
Shape reshape_shape(const TensorType& data, const std::vector<int64_t>& newshape, bool allowzero) {
  std::string numel = data.is_static() ? " (" + std::to_string(data.numel()) + " elements)" : "";
  auto fail = [&](const std::string& why) {
    type_error("reshape", "cannot reshape " + data.to_string() + numel + " to " +
                              ints_to_string(newshape) + why);
  };
  Shape result;
  std::optional<size_t> inferred;
  bool has_zero = false;
  for (size_t i = 0; i < newshape.size(); ++i) {
    int64_t value = newshape[i];
    if (value == -1) {
      if (inferred) fail(": more than one -1");
      inferred = i;
      result.push_back(Dim::unknown());
    } else if (value == 0 && !allowzero) {
      if (i >= data.shape.size())
        fail(": 0 at position " + std::to_string(i) + " has no dim to copy");
      result.push_back(data.shape[i]);
    } else if (value < 0) {
      fail(": " + std::to_string(value) + " is not a valid dim");
    } else {
      has_zero = has_zero || value == 0;
      result.push_back(value);
    }
  }
  if (inferred && has_zero) fail(": -1 cannot be inferred beside a literal 0 dim");

  DimProduct in = dim_product(data.shape);
  DimProduct out = dim_product(result, inferred);
  cancel_common_symbols(in, out);
  if (!in.symbols.empty() || !out.symbols.empty()) return result;  // cannot be checked
  if (!inferred) {
    if (in.static_product != out.static_product) fail("");
    return result;
  }
  if (out.static_product == 0 || in.static_product % out.static_product != 0) fail("");
  result[*inferred] = in.static_product / out.static_product;
  return result;
}

OpDef make_reshape_op() {
  OpDef def = transform_op(
      "reshape", "new shape, same elements (ONNX Reshape: 0 copies a dim, -1 is inferred)",
      {attr_ints("newshape", std::nullopt), attr_int("allowzero", 0, "0 is a literal 0 dim")});
  def.infer_type = [](const std::vector<Type>& args, const Attrs& attrs) -> Type {
    const TensorType& data = tensor_arg(args, 0, "reshape");
    TensorType result = data;
    result.shape = reshape_shape(data, attrs.get_ints("newshape"), attrs.get_int("allowzero") != 0);
    return result;
  };
  def.evaluate = evaluate_as_reshape;
  return def;
}

// ---------------------------------------------------------------------------------------------
// transpose, squeeze, unsqueeze

std::vector<int64_t> transpose_permutation(const TensorType& data,
                                           const std::vector<int64_t>& axes) {
  std::vector<int64_t> permutation(axes);
  if (axes.empty()) {  // [] reverses the dims
    for (int64_t d = data.rank(); d-- > 0;) permutation.push_back(d);
    return permutation;
  }
  if (data.rank() != static_cast<int64_t>(axes.size())) {
    type_error("transpose",
               "axes " + ints_to_string(axes) + " do not match the rank of " + data.to_string());
  }
  std::vector<bool> seen(axes.size(), false);
  for (int64_t& axis : permutation) {
    axis = normalize_axis(axis, data.rank(), "transpose");
    if (seen[axis]) type_error("transpose", "axes " + ints_to_string(axes) + " repeat an axis");
    seen[axis] = true;
  }
  return permutation;
}

OpDef make_transpose_op() {
  OpDef def = transform_op("transpose", "permute the dims ([] reverses them)",
                           {attr_ints("axes", std::vector<int64_t>{})});
  def.infer_type = [](const std::vector<Type>& args, const Attrs& attrs) -> Type {
    const TensorType& data = tensor_arg(args, 0, "transpose");
    TensorType result = data;
    std::vector<int64_t> permutation = transpose_permutation(data, attrs.get_ints("axes"));
    for (size_t d = 0; d < permutation.size(); ++d) result.shape[d] = data.shape[permutation[d]];
    return result;
  };
  def.evaluate = [](const std::vector<Tensor>& args, const Attrs& attrs, const TensorType& result) {
    const Tensor& data = args[0];
    std::vector<int64_t> permutation =
        transpose_permutation(ir::tensor_type(data.dtype(), data.shape()), attrs.get_ints("axes"));
    std::vector<int64_t> strides = row_major_strides(data.shape());
    return copy_from_input(data, result, [&](const std::vector<int64_t>& out) {
      int64_t flat = 0;
      for (size_t d = 0; d < out.size(); ++d) flat += out[d] * strides[permutation[d]];
      return flat;
    });
  };
  return def;
}

OpDef make_squeeze_op() {
  OpDef def = transform_op("squeeze", "remove size-1 dims ([] = every static 1)",
                           {attr_ints("axes", std::vector<int64_t>{})});
  def.infer_type = [](const std::vector<Type>& args, const Attrs& attrs) -> Type {
    const TensorType& data = tensor_arg(args, 0, "squeeze");
    const std::vector<int64_t>& axes = attrs.get_ints("axes");
    std::vector<bool> removed(data.shape.size(), false);
    for (size_t d = 0; d < data.shape.size() && axes.empty(); ++d) {
      removed[d] = data.shape[d] == Dim(1);
    }
    for (int64_t axis : axes) {
      int64_t d = normalize_axis(axis, data.rank(), "squeeze");
      if (removed[d]) type_error("squeeze", "axis " + std::to_string(axis) + " is repeated");
      // A symbolic dim is taken to be 1: the model says so by squeezing it.
      if (data.shape[d].is_static() && data.shape[d].value() != 1) {
        type_error("squeeze", "cannot squeeze axis " + std::to_string(axis) + " of size " +
                                  data.shape[d].to_string() + " in " + data.to_string());
      }
      removed[d] = true;
    }
    TensorType result = data;
    result.shape.clear();
    for (size_t d = 0; d < data.shape.size(); ++d) {
      if (!removed[d]) result.shape.push_back(data.shape[d]);
    }
    return result;
  };
  def.evaluate = evaluate_as_reshape;
  return def;
}

OpDef make_unsqueeze_op() {
  OpDef def = transform_op("unsqueeze", "insert size-1 dims (axes index the output rank)",
                           {attr_ints("axes", std::nullopt)});
  def.infer_type = [](const std::vector<Type>& args, const Attrs& attrs) -> Type {
    const TensorType& data = tensor_arg(args, 0, "unsqueeze");
    const std::vector<int64_t>& axes = attrs.get_ints("axes");
    int64_t rank = data.rank() + static_cast<int64_t>(axes.size());
    std::vector<bool> inserted(static_cast<size_t>(rank), false);
    for (int64_t axis : axes) {
      int64_t d = normalize_axis(axis, rank, "unsqueeze");
      if (inserted[d]) type_error("unsqueeze", "axis " + std::to_string(axis) + " is repeated");
      inserted[d] = true;
    }
    TensorType result = data;
    result.shape.clear();
    size_t next = 0;
    for (int64_t d = 0; d < rank; ++d) {
      result.shape.push_back(inserted[d] ? Dim(1) : data.shape[next++]);
    }
    return result;
  };
  def.evaluate = evaluate_as_reshape;
  return def;
}

// ---------------------------------------------------------------------------------------------
// expand, tile

OpDef make_expand_op() {
  OpDef def = transform_op("expand", "broadcast to a shape (ONNX Expand, bidirectional)",
                           {attr_ints("shape", std::nullopt)});
  def.pattern = OpPattern::kBroadcast;
  def.infer_type = [](const std::vector<Type>& args, const Attrs& attrs) -> Type {
    const TensorType& data = tensor_arg(args, 0, "expand");
    Shape target;
    for (int64_t dim : attrs.get_ints("shape")) {
      if (dim < 0) {
        type_error("expand",
                   "shape " + ints_to_string(attrs.get_ints("shape")) + " has a negative dim");
      }
      target.push_back(dim);
    }
    TensorType result = data;
    result.shape = broadcast_shapes(data.shape, target, "expand");
    return result;
  };
  def.evaluate = [](const std::vector<Tensor>& args, const Attrs&, const TensorType& result) {
    BroadcastIndex source(args[0].shape(), result.static_shape());
    Tensor output = make_result(result);
    for (int64_t i = 0; i < output.numel(); ++i) copy_element(args[0], source(i), output, i);
    return output;
  };
  return def;
}

OpDef make_tile_op() {
  OpDef def = transform_op("tile", "repeat the tensor along each dim",
                           {attr_ints("repeats", std::nullopt)});
  def.infer_type = [](const std::vector<Type>& args, const Attrs& attrs) -> Type {
    const TensorType& data = tensor_arg(args, 0, "tile");
    const std::vector<int64_t>& repeats = attrs.get_ints("repeats");
    if (static_cast<int64_t>(repeats.size()) != data.rank()) {
      type_error("tile", "repeats " + ints_to_string(repeats) + " must have one entry per dim of " +
                             data.to_string());
    }
    TensorType result = data;
    for (size_t d = 0; d < repeats.size(); ++d) {
      const Dim& dim = data.shape[d];
      if (repeats[d] < 0) type_error("tile", "repeats " + ints_to_string(repeats) + " is negative");
      if (dim.is_static()) {
        result.shape[d] = dim.value() * repeats[d];
      } else if (repeats[d] == 0) {
        result.shape[d] = 0;
      } else if (repeats[d] != 1) {
        result.shape[d] = Dim::unknown();
      }
    }
    return result;
  };
  def.evaluate = [](const std::vector<Tensor>& args, const Attrs&, const TensorType& result) {
    const std::vector<int64_t>& shape = args[0].shape();
    std::vector<int64_t> strides = row_major_strides(shape);
    return copy_from_input(args[0], result, [&](const std::vector<int64_t>& out) {
      int64_t flat = 0;
      for (size_t d = 0; d < out.size(); ++d) flat += (out[d] % shape[d]) * strides[d];
      return flat;
    });
  };
  return def;
}

// ---------------------------------------------------------------------------------------------
// concat, split

OpDef make_concat_op() {
  OpDef def =
      transform_op("concat", "join tensors along an axis", {attr_int("axis", std::nullopt)});
  def.max_args = -1;
  def.infer_type = [](const std::vector<Type>& args, const Attrs& attrs) -> Type {
    const TensorType& first = tensor_arg(args, 0, "concat");
    int64_t axis = normalize_axis(attrs.get_int("axis"), first.rank(), "concat");
    TensorType result = first;
    // The axis dim: the sum of the static parts, or the one symbolic part when the rest are 0.
    int64_t axis_size = 0;
    std::vector<Dim> symbolic_parts;
    for (size_t i = 0; i < args.size(); ++i) {
      const TensorType& arg = tensor_arg(args, i, "concat");
      require_same_dtype(first, arg, "concat");
      if (arg.rank() != first.rank()) {
        type_error("concat", "argument " + std::to_string(i) + " " + arg.to_string() +
                                 " has a different rank than " + first.to_string());
      }
      for (size_t d = 0; d < arg.shape.size(); ++d) {
        const Dim& dim = arg.shape[d];
        if (static_cast<int64_t>(d) == axis) {
          if (dim.is_static()) {
            axis_size += dim.value();
          } else {
            symbolic_parts.push_back(dim);
          }
        } else if (!dims_compatible(result.shape[d], dim)) {
          type_error("concat", "dim " + std::to_string(d) + " of argument " + std::to_string(i) +
                                   " " + arg.to_string() + " does not match " + first.to_string());
        } else if (result.shape[d] != dim && !result.shape[d].is_static()) {
          // Prefer what is known: a static dim, else an unknown one for differing symbols.
          result.shape[d] = dim.is_static() ? dim : Dim::unknown();
        }
      }
    }
    if (symbolic_parts.empty()) {
      result.shape[axis] = axis_size;
    } else if (symbolic_parts.size() == 1 && axis_size == 0) {
      result.shape[axis] = symbolic_parts[0];
    } else {
      result.shape[axis] = Dim::unknown();
    }
    return result;
  };
  def.evaluate = [](const std::vector<Tensor>& args, const Attrs& attrs, const TensorType& result) {
    Tensor output = make_result(result);
    int64_t axis = normalize_axis(attrs.get_int("axis"), output.ndim(), "concat");
    AxisView out_view(output.shape(), axis);
    int64_t offset = 0;  // where this argument starts along the axis
    for (const Tensor& arg : args) {
      AxisView view(arg.shape(), axis);
      for (int64_t o = 0; o < view.outer; ++o) {
        for (int64_t a = 0; a < view.dim; ++a) {
          for (int64_t i = 0; i < view.inner; ++i) {
            copy_element(arg, view.flat(o, a, i), output, out_view.flat(o, offset + a, i));
          }
        }
      }
      offset += view.dim;
    }
    return output;
  };
  return def;
}

OpDef make_split_op() {
  OpDef def = transform_op("split", "cut along an axis into parts of the given sizes (a tuple)",
                           {attr_int("axis", 0), attr_ints("sections", std::nullopt)});
  def.infer_type = [](const std::vector<Type>& args, const Attrs& attrs) -> Type {
    const TensorType& data = tensor_arg(args, 0, "split");
    int64_t axis = normalize_axis(attrs.get_int("axis"), data.rank(), "split");
    const std::vector<int64_t>& sections = attrs.get_ints("sections");
    if (sections.empty()) type_error("split", "sections must not be empty");
    int64_t total = 0;
    std::vector<Type> parts;
    for (int64_t size : sections) {
      if (size < 0) type_error("split", "sections " + ints_to_string(sections) + " is negative");
      total += size;
      TensorType part = data;
      part.shape[axis] = size;
      parts.push_back(part);
    }
    const Dim& dim = data.shape[axis];
    if (dim.is_static() && dim.value() != total) {
      type_error("split", "sections " + ints_to_string(sections) + " sum to " +
                              std::to_string(total) + ", but axis " + std::to_string(axis) +
                              " of " + data.to_string() + " has size " + dim.to_string());
    }
    return Type::tuple(parts);
  };
  // No `evaluate`: ir::Evaluator returns one tensor and split returns a tuple (split_reference).
  return def;
}

// ---------------------------------------------------------------------------------------------
// pad

// Maps an index outside [0, size) into it by mirroring at the edges (excluding the edge), any
// number of times, like numpy's "reflect".
int64_t reflect_index(int64_t index, int64_t size) {
  if (size == 1) return 0;
  int64_t period = 2 * (size - 1);
  int64_t folded = ((index % period) + period) % period;
  return folded < size ? folded : period - folded;
}

OpDef make_pad_op() {
  OpDef def =
      transform_op("pad", "pad (or crop, with negative pads) each dim: constant, reflect or edge",
                   {attr_ints("pads", std::nullopt, "begin pads of every dim, then end pads"),
                    attr_string("mode", "constant", "\"constant\", \"reflect\" or \"edge\""),
                    attr_float("value", 0.0, "the constant mode's fill value")});
  def.infer_type = [](const std::vector<Type>& args, const Attrs& attrs) -> Type {
    const TensorType& data = tensor_arg(args, 0, "pad");
    const std::vector<int64_t>& pads = attrs.get_ints("pads");
    const std::string& mode = attrs.get_string("mode");
    if (mode != "constant" && mode != "reflect" && mode != "edge") {
      type_error("pad", "mode must be \"constant\", \"reflect\" or \"edge\", got \"" + mode + "\"");
    }
    if (static_cast<int64_t>(pads.size()) != 2 * data.rank()) {
      type_error("pad", "pads " + ints_to_string(pads) + " must have 2 entries per dim of " +
                            data.to_string());
    }
    TensorType result = data;
    for (size_t d = 0; d < data.shape.size(); ++d) {
      int64_t added = pads[d] + pads[d + data.shape.size()];
      const Dim& dim = data.shape[d];
      if (!dim.is_static()) {
        if (added != 0) result.shape[d] = Dim::unknown();
        continue;
      }
      if (dim.value() + added < 0) {
        type_error("pad", "pads " + ints_to_string(pads) + " crop dim " + std::to_string(d) +
                              " of " + data.to_string() + " below zero");
      }
      // Reflect and edge copy from the input, so an empty dim cannot be padded that way.
      if (dim.value() == 0 && added > 0 && mode != "constant") {
        type_error("pad", "mode \"" + mode + "\" cannot pad the empty dim " + std::to_string(d) +
                              " of " + data.to_string());
      }
      result.shape[d] = dim.value() + added;
    }
    return result;
  };
  def.evaluate = [](const std::vector<Tensor>& args, const Attrs& attrs, const TensorType& result) {
    const Tensor& data = args[0];
    const std::vector<int64_t>& pads = attrs.get_ints("pads");
    const std::string& mode = attrs.get_string("mode");
    const std::vector<int64_t>& shape = data.shape();
    std::vector<int64_t> strides = row_major_strides(shape);
    Tensor output = make_result(result);
    for (int64_t i = 0; i < output.numel(); ++i) {
      std::vector<int64_t> in_index = unravel_index(i, output.shape());
      bool inside = true;
      for (size_t d = 0; d < shape.size(); ++d) {
        int64_t& index = in_index[d];
        index -= pads[d];
        if (index >= 0 && index < shape[d]) continue;
        if (mode == "edge") {
          index = std::clamp<int64_t>(index, 0, shape[d] - 1);
        } else if (mode == "reflect") {
          index = reflect_index(index, shape[d]);
        } else {
          inside = false;
        }
      }
      if (inside) {
        copy_element(data, ravel_index(in_index, strides), output, i);
      } else {
        output.set_element_from_double(i, attrs.get_float("value"));
      }
    }
    return output;
  };
  return def;
}

// ---------------------------------------------------------------------------------------------
// depth_to_space, space_to_depth

int64_t block_size_of(const Attrs& attrs, std::string_view op_name) {
  int64_t block = attrs.get_int("block_size");
  if (block < 1) type_error(op_name, "block_size must be >= 1, got " + std::to_string(block));
  return block;
}

// dim / divisor when static and divisible (an error otherwise), unknown when symbolic.
Dim divide_dim(const Dim& dim, int64_t divisor, std::string_view op_name, std::string_view what,
               const TensorType& data) {
  if (divisor == 1) return dim;
  if (!dim.is_static()) return Dim::unknown();
  if (dim.value() % divisor != 0) {
    type_error(op_name, std::string(what) + " " + dim.to_string() + " of " + data.to_string() +
                            " is not divisible by " + std::to_string(divisor));
  }
  return dim.value() / divisor;
}

Dim multiply_dim(const Dim& dim, int64_t factor) {
  if (factor == 1) return dim;
  return dim.is_static() ? Dim(dim.value() * factor) : Dim::unknown();
}

OpDef make_depth_to_space_op() {
  OpDef def =
      transform_op("depth_to_space",
                   "move channel blocks into spatial blocks: [N, C, H, W] -> [N, C/b^2, H*b, W*b]",
                   {attr_int("block_size", std::nullopt),
                    attr_string("mode", "DCR", "\"DCR\" (depth-column-row) or \"CRD\"")});
  def.infer_type = [](const std::vector<Type>& args, const Attrs& attrs) -> Type {
    const TensorType& data = tensor_arg(args, 0, "depth_to_space");
    require_rank(data, 4, "depth_to_space", "data");
    int64_t block = block_size_of(attrs, "depth_to_space");
    const std::string& mode = attrs.get_string("mode");
    if (mode != "DCR" && mode != "CRD") {
      type_error("depth_to_space", "mode must be \"DCR\" or \"CRD\", got \"" + mode + "\"");
    }
    TensorType result = data;
    result.shape[1] = divide_dim(data.shape[1], block * block, "depth_to_space", "channels", data);
    result.shape[2] = multiply_dim(data.shape[2], block);
    result.shape[3] = multiply_dim(data.shape[3], block);
    return result;
  };
  def.evaluate = [](const std::vector<Tensor>& args, const Attrs& attrs, const TensorType& result) {
    int64_t block = block_size_of(attrs, "depth_to_space");
    bool dcr = attrs.get_string("mode") == "DCR";
    int64_t out_channels = result.static_shape()[1];
    std::vector<int64_t> strides = row_major_strides(args[0].shape());
    return copy_from_input(args[0], result, [&](const std::vector<int64_t>& out) {
      int64_t row = out[2] % block, col = out[3] % block;
      // DCR: the block offset is the outer part of the channel; CRD: the inner part.
      int64_t channel =
          dcr ? (row * block + col) * out_channels + out[1] : (out[1] * block + row) * block + col;
      return out[0] * strides[0] + channel * strides[1] + (out[2] / block) * strides[2] +
             (out[3] / block) * strides[3];
    });
  };
  return def;
}

OpDef make_space_to_depth_op() {
  OpDef def = transform_op(
      "space_to_depth", "move spatial blocks into channels: [N, C, H, W] -> [N, C*b^2, H/b, W/b]",
      {attr_int("block_size", std::nullopt)});
  def.infer_type = [](const std::vector<Type>& args, const Attrs& attrs) -> Type {
    const TensorType& data = tensor_arg(args, 0, "space_to_depth");
    require_rank(data, 4, "space_to_depth", "data");
    int64_t block = block_size_of(attrs, "space_to_depth");
    TensorType result = data;
    result.shape[1] = multiply_dim(data.shape[1], block * block);
    result.shape[2] = divide_dim(data.shape[2], block, "space_to_depth", "height", data);
    result.shape[3] = divide_dim(data.shape[3], block, "space_to_depth", "width", data);
    return result;
  };
  def.evaluate = [](const std::vector<Tensor>& args, const Attrs& attrs, const TensorType& result) {
    int64_t block = block_size_of(attrs, "space_to_depth");
    int64_t in_channels = args[0].shape()[1];
    std::vector<int64_t> strides = row_major_strides(args[0].shape());
    return copy_from_input(args[0], result, [&](const std::vector<int64_t>& out) {
      // Output channel = (row * b + col) * C + c, the inverse of depth_to_space's DCR.
      int64_t offset = out[1] / in_channels;
      int64_t channel = out[1] % in_channels;
      int64_t row = offset / block, col = offset % block;
      return out[0] * strides[0] + channel * strides[1] + (out[2] * block + row) * strides[2] +
             (out[3] * block + col) * strides[3];
    });
  };
  return def;
}

}  // namespace

void register_transform_ops(ir::OpRegistry& registry) {
  registry.add(make_reshape_op());
  registry.add(make_transpose_op());
  registry.add(make_squeeze_op());
  registry.add(make_unsqueeze_op());
  registry.add(make_expand_op());
  registry.add(make_tile_op());
  registry.add(make_concat_op());
  registry.add(make_split_op());
  registry.add(make_pad_op());
  registry.add(make_depth_to_space_op());
  registry.add(make_space_to_depth_op());
  register_transform_index_ops(registry);
  register_transform_create_ops(registry);
}

}  // namespace kiln::op
