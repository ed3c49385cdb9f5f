// The transform family, part 2: indexing — strided_slice, gather, gather_elements, gather_nd,
// scatter_elements, scatter_nd, one_hot, non_zero. Negative indices count from the end; in
// evaluation an index outside the dim is a kiln::Error naming the operator (never a read out of
// bounds).
#include <algorithm>
#include <limits>

#include "kiln/error.h"
#include "op/eval_util.h"
#include "op/op_util.h"

namespace kiln::op {
namespace {

using ir::Attrs;
using ir::OpDef;
using ir::OpPattern;

std::string ints_to_string(const std::vector<int64_t>& values) {
  return ir::attr_value_to_string(ir::AttrValue(values));
}

OpDef index_op(std::string name, std::string summary, int args, std::vector<ir::AttrDef> attrs) {
  OpDef def;
  def.name = std::move(name);
  def.family = "transform";
  def.summary = std::move(summary);
  def.min_args = def.max_args = args;
  def.attrs = std::move(attrs);
  def.pattern = OpPattern::kInjective;
  return def;
}

void require_index_dtype(const TensorType& indices, std::string_view op_name) {
  if (indices.dtype != DType::kInt32 && indices.dtype != DType::kInt64) {
    type_error(op_name, "indices must be int32 or int64, got " + indices.to_string());
  }
}

// ---------------------------------------------------------------------------------------------
// strided_slice (ONNX Slice)

// One axis of a slice: the first input index, the step, and the output length.
struct AxisSlice {
  int64_t start = 0;
  int64_t step = 1;
  int64_t length = 0;
};

// ONNX Slice on a static dim: negative begin/end count from the end, then both are clamped
// ([0, dim] going forward, [-1, dim - 1] going backward).
AxisSlice slice_static_dim(int64_t dim, int64_t begin, int64_t end, int64_t step) {
  if (begin < 0) begin += dim;
  if (end < 0) end += dim;
  AxisSlice slice;
  slice.step = step;
  if (step > 0) {
    slice.start = std::clamp<int64_t>(begin, 0, dim);
    end = std::clamp<int64_t>(end, 0, dim);
    slice.length = end > slice.start ? (end - slice.start - 1) / step + 1 : 0;
  } else {
    slice.start = std::clamp<int64_t>(begin, -1, dim - 1);
    end = std::clamp<int64_t>(end, -1, dim - 1);
    // -step overflows for INT64_MIN; any step that large takes one element.
    int64_t stride =
        step == std::numeric_limits<int64_t>::min() ? std::numeric_limits<int64_t>::max() : -step;
    slice.length = slice.start > end ? (slice.start - end - 1) / stride + 1 : 0;
  }
  return slice;
}

// Exporters write "to the end" as INT64_MAX or INT32_MAX (and INT64_MIN / INT32_MIN backwards).
constexpr int64_t kToEnd = std::numeric_limits<int32_t>::max();

// On a symbolic dim only the whole-axis slices keep the dim: [0:end] and [-1:start:-1].
Dim slice_symbolic_dim(const Dim& dim, int64_t begin, int64_t end, int64_t step) {
  bool whole_forward = step == 1 && (begin == 0 || begin <= -kToEnd) && end >= kToEnd;
  bool whole_backward = step == -1 && (begin == -1 || begin >= kToEnd) && end <= -kToEnd;
  return whole_forward || whole_backward ? dim : Dim::unknown();
}

// The per-axis begin/end/step of a slice, for every dim of data (untouched dims: the whole dim).
struct SliceSpec {
  std::vector<int64_t> begin, end, step;
};

SliceSpec slice_spec(const TensorType& data, const Attrs& attrs) {
  const std::vector<int64_t>& begin = attrs.get_ints("begin");
  const std::vector<int64_t>& end = attrs.get_ints("end");
  std::vector<int64_t> axes = attrs.get_ints("axes");
  std::vector<int64_t> strides = attrs.get_ints("strides");
  // Empty axes / strides mean ONNX's defaults: the leading axes, step 1.
  if (axes.empty()) {
    for (size_t i = 0; i < begin.size(); ++i) axes.push_back(static_cast<int64_t>(i));
  }
  if (strides.empty()) strides.assign(begin.size(), 1);
  if (end.size() != begin.size() || axes.size() != begin.size() || strides.size() != begin.size()) {
    type_error("strided_slice", "begin " + ints_to_string(begin) + ", end " + ints_to_string(end) +
                                    ", axes " + ints_to_string(axes) + " and strides " +
                                    ints_to_string(strides) + " must have the same length");
  }
  auto rank = static_cast<size_t>(data.rank());
  SliceSpec spec{std::vector<int64_t>(rank, 0),
                 std::vector<int64_t>(rank, std::numeric_limits<int64_t>::max()),
                 std::vector<int64_t>(rank, 1)};
  std::vector<bool> seen(rank, false);
  for (size_t i = 0; i < axes.size(); ++i) {
    int64_t axis = normalize_axis(axes[i], data.rank(), "strided_slice");
    if (seen[axis]) type_error("strided_slice", "axes " + ints_to_string(axes) + " repeat an axis");
    if (strides[i] == 0) type_error("strided_slice", "strides must not be 0");
    seen[axis] = true;
    spec.begin[axis] = begin[i];
    spec.end[axis] = end[i];
    spec.step[axis] = strides[i];
  }
  return spec;
}

OpDef make_strided_slice_op() {
  OpDef def =
      index_op("strided_slice",
               "ONNX Slice: begin/end/stride per axis, negative indices and steps, clamped", 1,
               {attr_ints("begin", std::nullopt), attr_ints("end", std::nullopt),
                attr_ints("axes", std::nullopt, "[] = the leading axes"),
                attr_ints("strides", std::nullopt, "[] = all 1")});
  def.infer_type = [](const std::vector<Type>& args, const Attrs& attrs) -> Type {
    const TensorType& data = tensor_arg(args, 0, "strided_slice");
    SliceSpec spec = slice_spec(data, attrs);
    TensorType result = data;
    for (size_t d = 0; d < data.shape.size(); ++d) {
      const Dim& dim = data.shape[d];
      result.shape[d] =
          dim.is_static()
              ? Dim(slice_static_dim(dim.value(), spec.begin[d], spec.end[d], spec.step[d]).length)
              : slice_symbolic_dim(dim, spec.begin[d], spec.end[d], spec.step[d]);
    }
    return result;
  };
  def.evaluate = [](const std::vector<Tensor>& args, const Attrs& attrs, const TensorType& result) {
    const Tensor& data = args[0];
    SliceSpec spec = slice_spec(ir::tensor_type(data.dtype(), data.shape()), attrs);
    std::vector<AxisSlice> slices;
    for (size_t d = 0; d < data.shape().size(); ++d) {
      slices.push_back(slice_static_dim(data.shape()[d], spec.begin[d], spec.end[d], spec.step[d]));
    }
    std::vector<int64_t> strides = row_major_strides(data.shape());
    return copy_from_input(data, result, [&](const std::vector<int64_t>& out) {
      int64_t flat = 0;
      for (size_t d = 0; d < out.size(); ++d) {
        flat += (slices[d].start + out[d] * slices[d].step) * strides[d];
      }
      return flat;
    });
  };
  return def;
}

// ---------------------------------------------------------------------------------------------
// gather, gather_elements, gather_nd

OpDef make_gather_op() {
  OpDef def = index_op("gather", "take slices along an axis at the given indices", 2,
                       {attr_int("axis", 0)});
  def.infer_type = [](const std::vector<Type>& args, const Attrs& attrs) -> Type {
    const TensorType& data = tensor_arg(args, 0, "gather");
    const TensorType& indices = tensor_arg(args, 1, "gather");
    require_index_dtype(indices, "gather");
    auto axis = static_cast<size_t>(normalize_axis(attrs.get_int("axis"), data.rank(), "gather"));
    // data[:axis] + indices + data[axis + 1:]
    TensorType result = data;
    result.shape.assign(data.shape.begin(), data.shape.begin() + axis);
    result.shape.insert(result.shape.end(), indices.shape.begin(), indices.shape.end());
    result.shape.insert(result.shape.end(), data.shape.begin() + axis + 1, data.shape.end());
    return result;
  };
  def.evaluate = [](const std::vector<Tensor>& args, const Attrs& attrs, const TensorType& result) {
    const Tensor& data = args[0];
    const Tensor& indices = args[1];
    AxisView view(data.shape(), normalize_axis(attrs.get_int("axis"), data.ndim(), "gather"));
    Tensor output = make_result(result);
    int64_t count = indices.numel();
    for (int64_t j = 0; j < count; ++j) {
      int64_t index = wrap_index(indices.element_as_int64(j), view.dim, "gather", "index");
      for (int64_t o = 0; o < view.outer; ++o) {
        for (int64_t i = 0; i < view.inner; ++i) {
          copy_element(data, view.flat(o, index, i), output, (o * count + j) * view.inner + i);
        }
      }
    }
    return output;
  };
  return def;
}

OpDef make_gather_elements_op() {
  OpDef def = index_op("gather_elements",
                       "out[i][j][k] = data[i][indices[i][j][k]][k] along the axis (same rank)", 2,
                       {attr_int("axis", 0)});
  def.infer_type = [](const std::vector<Type>& args, const Attrs& attrs) -> Type {
    const TensorType& data = tensor_arg(args, 0, "gather_elements");
    const TensorType& indices = tensor_arg(args, 1, "gather_elements");
    require_index_dtype(indices, "gather_elements");
    int64_t axis = normalize_axis(attrs.get_int("axis"), data.rank(), "gather_elements");
    require_rank(indices, data.rank(), "gather_elements", "indices");
    for (int64_t d = 0; d < data.rank(); ++d) {
      const Dim& index_dim = indices.shape[d];
      const Dim& data_dim = data.shape[d];
      if (d != axis && index_dim.is_static() && data_dim.is_static() &&
          index_dim.value() > data_dim.value()) {
        type_error("gather_elements", "indices " + indices.to_string() + " exceed data " +
                                          data.to_string() + " in dim " + std::to_string(d));
      }
    }
    TensorType result = indices;
    result.dtype = data.dtype;
    return result;
  };
  def.evaluate = [](const std::vector<Tensor>& args, const Attrs& attrs, const TensorType& result) {
    const Tensor& data = args[0];
    const Tensor& indices = args[1];
    auto axis =
        static_cast<size_t>(normalize_axis(attrs.get_int("axis"), data.ndim(), "gather_elements"));
    std::vector<int64_t> strides = row_major_strides(data.shape());
    Tensor output = make_result(result);
    for (int64_t j = 0; j < indices.numel(); ++j) {
      std::vector<int64_t> position = unravel_index(j, indices.shape());
      position[axis] =
          wrap_index(indices.element_as_int64(j), data.shape()[axis], "gather_elements", "index");
      copy_element(data, ravel_index(position, strides), output, j);
    }
    return output;
  };
  return def;
}

int64_t product(const std::vector<int64_t>& dims, size_t begin, size_t end) {
  int64_t result = 1;
  for (size_t d = begin; d < end; ++d) result *= dims[d];
  return result;
}

OpDef make_gather_nd_op() {
  OpDef def = index_op(
      "gather_nd", "take slices of data at index tuples (the last dim of indices), ONNX GatherND",
      2, {attr_int("batch_dims", 0)});
  def.infer_type = [](const std::vector<Type>& args, const Attrs& attrs) -> Type {
    const TensorType& data = tensor_arg(args, 0, "gather_nd");
    const TensorType& indices = tensor_arg(args, 1, "gather_nd");
    require_index_dtype(indices, "gather_nd");
    int64_t batch_dims = attrs.get_int("batch_dims");
    if (indices.rank() < 1) type_error("gather_nd", "indices must have rank >= 1");
    const Dim& tuple_dim = indices.shape.back();
    if (!tuple_dim.is_static()) {
      type_error("gather_nd", "the last dim of indices " + indices.to_string() +
                                  " must be static (it sets the result rank)");
    }
    if (batch_dims < 0 || batch_dims >= std::min(data.rank(), indices.rank())) {
      type_error("gather_nd", "batch_dims " + std::to_string(batch_dims) +
                                  " must be in [0, min(rank of data, rank of indices))");
    }
    if (batch_dims + tuple_dim.value() > data.rank()) {
      type_error("gather_nd", "index tuples of length " + tuple_dim.to_string() + " after " +
                                  std::to_string(batch_dims) + " batch dims exceed the rank of " +
                                  data.to_string());
    }
    for (int64_t d = 0; d < batch_dims; ++d) {
      if (!dims_compatible(data.shape[d], indices.shape[d])) {
        type_error("gather_nd", "batch dim " + std::to_string(d) + " differs between data " +
                                    data.to_string() + " and indices " + indices.to_string());
      }
    }
    // indices[:-1] + data[batch_dims + tuple length:]
    TensorType result = data;
    result.shape.assign(indices.shape.begin(), indices.shape.end() - 1);
    result.shape.insert(result.shape.end(), data.shape.begin() + batch_dims + tuple_dim.value(),
                        data.shape.end());
    return result;
  };
  def.evaluate = [](const std::vector<Tensor>& args, const Attrs& attrs, const TensorType& result) {
    const Tensor& data = args[0];
    const Tensor& indices = args[1];
    const std::vector<int64_t>& data_shape = data.shape();
    const std::vector<int64_t>& index_shape = indices.shape();
    auto batch_dims = static_cast<size_t>(attrs.get_int("batch_dims"));
    auto tuple_length = static_cast<size_t>(index_shape.back());
    int64_t batches = product(data_shape, 0, batch_dims);
    int64_t tuples_per_batch = product(index_shape, batch_dims, index_shape.size() - 1);
    int64_t batch_block = product(data_shape, batch_dims, data_shape.size());
    int64_t slice_size = product(data_shape, batch_dims + tuple_length, data_shape.size());
    std::vector<int64_t> strides = row_major_strides(data_shape);
    Tensor output = make_result(result);
    for (int64_t b = 0; b < batches; ++b) {
      for (int64_t t = 0; t < tuples_per_batch; ++t) {
        int64_t tuple = b * tuples_per_batch + t;
        int64_t offset = b * batch_block;
        for (size_t k = 0; k < tuple_length; ++k) {
          size_t d = batch_dims + k;
          int64_t raw = indices.element_as_int64(tuple * static_cast<int64_t>(tuple_length) +
                                                 static_cast<int64_t>(k));
          offset += wrap_index(raw, data_shape[d], "gather_nd", "index") * strides[d];
        }
        for (int64_t s = 0; s < slice_size; ++s) {
          copy_element(data, offset + s, output, tuple * slice_size + s);
        }
      }
    }
    return output;
  };
  return def;
}

// ---------------------------------------------------------------------------------------------
// scatter_elements

// Applies one update to output element `at`: replace it, or combine it in the dtype's arithmetic.
template <typename T>
void scatter_combine(Tensor& output, int64_t at, const Tensor& updates, int64_t from,
                     const std::string& reduction) {
  T old_value = load_element<T>(output, at);
  T update = load_element<T>(updates, from);
  T value;
  if (reduction == "add") {
    value = wrapping_add(old_value, update);
  } else if (reduction == "mul") {
    value = wrapping_mul(old_value, update);
  } else if (reduction == "max") {
    value = std::max(old_value, update);
  } else {
    value = std::min(old_value, update);
  }
  store_element(output, at, value);
}

OpDef make_scatter_elements_op() {
  OpDef def =
      index_op("scatter_elements",
               "copy of data with updates written (or combined) at indices along an axis", 3,
               {attr_int("axis", 0), attr_string("reduction", "none",
                                                 "\"none\", \"add\", \"mul\", "
                                                 "\"max\" or \"min\"")});
  def.pattern = OpPattern::kOpaque;
  def.infer_type = [](const std::vector<Type>& args, const Attrs& attrs) -> Type {
    const TensorType& data = tensor_arg(args, 0, "scatter_elements");
    const TensorType& indices = tensor_arg(args, 1, "scatter_elements");
    const TensorType& updates = tensor_arg(args, 2, "scatter_elements");
    require_index_dtype(indices, "scatter_elements");
    require_same_dtype(data, updates, "scatter_elements");
    normalize_axis(attrs.get_int("axis"), data.rank(), "scatter_elements");
    require_rank(indices, data.rank(), "scatter_elements", "indices");
    require_rank(updates, data.rank(), "scatter_elements", "updates");
    for (int64_t d = 0; d < data.rank(); ++d) {
      if (!dims_compatible(indices.shape[d], updates.shape[d])) {
        type_error("scatter_elements", "indices " + indices.to_string() + " and updates " +
                                           updates.to_string() + " must have the same shape");
      }
    }
    const std::string& reduction = attrs.get_string("reduction");
    if (reduction != "none" && reduction != "add" && reduction != "mul" && reduction != "max" &&
        reduction != "min") {
      type_error("scatter_elements",
                 "reduction must be none, add, mul, max or min, got \"" + reduction + "\"");
    }
    return data;
  };
  def.evaluate = [](const std::vector<Tensor>& args, const Attrs& attrs, const TensorType& result) {
    const Tensor& data = args[0];
    const Tensor& indices = args[1];
    const Tensor& updates = args[2];
    auto axis =
        static_cast<size_t>(normalize_axis(attrs.get_int("axis"), data.ndim(), "scatter_elements"));
    const std::string& reduction = attrs.get_string("reduction");
    std::vector<int64_t> strides = row_major_strides(data.shape());
    Tensor output =
        Tensor::from_bytes(data.dtype(), result.static_shape(), data.data(), data.nbytes());
    for (int64_t j = 0; j < indices.numel(); ++j) {
      std::vector<int64_t> position = unravel_index(j, indices.shape());
      position[axis] =
          wrap_index(indices.element_as_int64(j), data.shape()[axis], "scatter_elements", "index");
      int64_t at = ravel_index(position, strides);
      if (reduction == "none") {
        copy_element(updates, j, output, at);
      } else {
        with_math_type(data.dtype(), [&](auto tag) {
          scatter_combine<decltype(tag)>(output, at, updates, j, reduction);
        });
      }
    }
    return output;
  };
  return def;
}

// ---------------------------------------------------------------------------------------------
// scatter_nd

OpDef make_scatter_nd_op() {
  OpDef def = index_op(
      "scatter_nd",
      "copy of data with slices of updates written (or combined) at index "
      "tuples (the last dim of indices), ONNX ScatterND",
      3, {attr_string("reduction", "none", "\"none\", \"add\", \"mul\", \"max\" or \"min\"")});
  def.pattern = OpPattern::kOpaque;
  def.infer_type = [](const std::vector<Type>& args, const Attrs& attrs) -> Type {
    const TensorType& data = tensor_arg(args, 0, "scatter_nd");
    const TensorType& indices = tensor_arg(args, 1, "scatter_nd");
    const TensorType& updates = tensor_arg(args, 2, "scatter_nd");
    require_index_dtype(indices, "scatter_nd");
    require_same_dtype(data, updates, "scatter_nd");
    if (data.rank() < 1) type_error("scatter_nd", "data must have rank >= 1");
    if (indices.rank() < 1) type_error("scatter_nd", "indices must have rank >= 1");
    const Dim& tuple_dim = indices.shape.back();
    if (!tuple_dim.is_static()) {
      type_error("scatter_nd",
                 "the last dim of indices " + indices.to_string() + " must be static");
    }
    if (tuple_dim.value() < 1 || tuple_dim.value() > data.rank()) {
      type_error("scatter_nd", "index tuples of length " + tuple_dim.to_string() +
                                   " must be in [1, rank of " + data.to_string() + "]");
    }
    // updates: indices[:-1] + data[tuple length:]
    ir::Shape expected(indices.shape.begin(), indices.shape.end() - 1);
    expected.insert(expected.end(), data.shape.begin() + tuple_dim.value(), data.shape.end());
    bool same = updates.rank() == static_cast<int64_t>(expected.size());
    for (size_t d = 0; same && d < expected.size(); ++d) {
      same = dims_compatible(updates.shape[d], expected[d]);
    }
    if (!same) {
      type_error("scatter_nd", "updates " + updates.to_string() + " must have shape " +
                                   ir::shape_to_string(expected) + " (indices " +
                                   indices.to_string() + ", data " + data.to_string() + ")");
    }
    const std::string& reduction = attrs.get_string("reduction");
    if (reduction != "none" && reduction != "add" && reduction != "mul" && reduction != "max" &&
        reduction != "min") {
      type_error("scatter_nd",
                 "reduction must be none, add, mul, max or min, got \"" + reduction + "\"");
    }
    return data;
  };
  def.evaluate = [](const std::vector<Tensor>& args, const Attrs& attrs, const TensorType& result) {
    const Tensor& data = args[0];
    const Tensor& indices = args[1];
    const Tensor& updates = args[2];
    const std::vector<int64_t>& data_shape = data.shape();
    const std::vector<int64_t>& index_shape = indices.shape();
    auto tuple_length = static_cast<size_t>(index_shape.back());
    int64_t tuples = product(index_shape, 0, index_shape.size() - 1);
    int64_t slice_size = product(data_shape, tuple_length, data_shape.size());
    std::vector<int64_t> strides = row_major_strides(data_shape);
    const std::string& reduction = attrs.get_string("reduction");
    Tensor output =
        Tensor::from_bytes(data.dtype(), result.static_shape(), data.data(), data.nbytes());
    for (int64_t t = 0; t < tuples; ++t) {
      int64_t offset = 0;
      for (size_t k = 0; k < tuple_length; ++k) {
        int64_t raw = indices.element_as_int64(t * static_cast<int64_t>(tuple_length) +
                                               static_cast<int64_t>(k));
        offset += wrap_index(raw, data_shape[k], "scatter_nd", "index") * strides[k];
      }
      for (int64_t s = 0; s < slice_size; ++s) {
        if (reduction == "none") {
          copy_element(updates, t * slice_size + s, output, offset + s);
        } else {
          with_math_type(data.dtype(), [&](auto tag) {
            scatter_combine<decltype(tag)>(output, offset + s, updates, t * slice_size + s,
                                           reduction);
          });
        }
      }
    }
    return output;
  };
  return def;
}

// ---------------------------------------------------------------------------------------------
// one_hot, non_zero

OpDef make_one_hot_op() {
  OpDef def =
      index_op("one_hot", "on_value where the new axis equals the index, off_value elsewhere", 1,
               {attr_int("depth", std::nullopt), attr_int("axis", -1), attr_float("on_value", 1.0),
                attr_float("off_value", 0.0), attr_string("dtype", "float32")});
  def.infer_type = [](const std::vector<Type>& args, const Attrs& attrs) -> Type {
    const TensorType& indices = tensor_arg(args, 0, "one_hot");
    if (indices.dtype == DType::kBool) {
      type_error("one_hot", "indices must be numeric, got " + indices.to_string());
    }
    int64_t depth = attrs.get_int("depth");
    if (depth < 1) type_error("one_hot", "depth must be >= 1, got " + std::to_string(depth));
    std::optional<DType> dtype = dtype_from_name(attrs.get_string("dtype"));
    if (!dtype) type_error("one_hot", "unknown dtype \"" + attrs.get_string("dtype") + "\"");
    int64_t axis = normalize_axis(attrs.get_int("axis"), indices.rank() + 1, "one_hot");
    TensorType result = indices;
    result.dtype = *dtype;
    result.shape.insert(result.shape.begin() + axis, Dim(depth));
    return result;
  };
  def.evaluate = [](const std::vector<Tensor>& args, const Attrs& attrs, const TensorType& result) {
    const Tensor& indices = args[0];
    Tensor output = make_result(result);
    AxisView view(output.shape(), normalize_axis(attrs.get_int("axis"), output.ndim(), "one_hot"));
    double on_value = attrs.get_float("on_value");
    double off_value = attrs.get_float("off_value");
    for (int64_t o = 0; o < view.outer; ++o) {
      for (int64_t i = 0; i < view.inner; ++i) {
        // Indices in [-depth, depth) select a position; others give an all-off row (ONNX).
        int64_t index = indices.element_as_int64(o * view.inner + i);
        if (index < 0) index += view.dim;
        for (int64_t a = 0; a < view.dim; ++a) {
          output.set_element_from_double(view.flat(o, a, i), a == index ? on_value : off_value);
        }
      }
    }
    return output;
  };
  return def;
}

OpDef make_non_zero_op() {
  OpDef def = index_op("non_zero", "int64[rank, count] indices of the non-zero elements", 1, {});
  def.pattern = OpPattern::kOpaque;
  def.infer_type = [](const std::vector<Type>& args, const Attrs&) -> Type {
    const TensorType& data = tensor_arg(args, 0, "non_zero");
    TensorType result;
    result.dtype = DType::kInt64;
    result.shape = {data.rank(), Dim::unknown()};
    return result;
  };
  // The count depends on the values, so the result shape comes from the data, not the type.
  def.evaluate = [](const std::vector<Tensor>& args, const Attrs&, const TensorType&) {
    const Tensor& data = args[0];
    std::vector<int64_t> found;
    for (int64_t i = 0; i < data.numel(); ++i) {
      bool non_zero = dtype_is_float(data.dtype()) ? data.element_as_double(i) != 0.0
                                                   : data.element_as_int64(i) != 0;
      if (non_zero) found.push_back(i);
    }
    auto count = static_cast<int64_t>(found.size());
    Tensor output(DType::kInt64, {data.ndim(), count});
    for (int64_t n = 0; n < count; ++n) {
      std::vector<int64_t> position = unravel_index(found[static_cast<size_t>(n)], data.shape());
      for (int64_t d = 0; d < data.ndim(); ++d) {
        output.set_element_from_int64(d * count + n, position[static_cast<size_t>(d)]);
      }
    }
    return output;
  };
  return def;
}

}  // namespace

void register_transform_index_ops(ir::OpRegistry& registry) {
  registry.add(make_strided_slice_op());
  registry.add(make_gather_op());
  registry.add(make_gather_elements_op());
  registry.add(make_gather_nd_op());
  registry.add(make_scatter_elements_op());
  registry.add(make_scatter_nd_op());
  registry.add(make_one_hot_op());
  registry.add(make_non_zero_op());
}

}  // namespace kiln::op
