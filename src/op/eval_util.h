// Helpers shared by the reference evaluators of operators (the `evaluate` functions that fold
// constant subgraphs). They favour obvious correctness over speed: element-wise loops over flat
// indices, every dtype handled through Tensor's element accessors.
#pragma once

#include <cstdint>
#include <string_view>
#include <type_traits>
#include <vector>

#include "ir/type.h"
#include "kiln/tensor.h"

namespace kiln::op {

// A zero-filled tensor of a statically shaped result type.
Tensor make_result(const ir::TensorType& type);

// How integer-like dtypes are computed on: signed integers as int64, unsigned integers and bool
// as uint64 (so that uint64 values above 2^63 compare and divide correctly), floats as double.
enum class MathKind : uint8_t { kFloat, kSigned, kUnsigned };
MathKind math_kind(DType dtype);

// Calls fn(T{}) with T the arithmetic of `dtype`: double, int64_t or uint64_t.
template <typename F>
decltype(auto) with_math_type(DType dtype, F&& fn) {
  switch (math_kind(dtype)) {
    case MathKind::kFloat:
      return fn(double{});
    case MathKind::kSigned:
      return fn(int64_t{});
    case MathKind::kUnsigned:
      break;
  }
  return fn(uint64_t{});
}

// Element i read in the arithmetic T (double, int64_t or uint64_t).
template <typename T>
T load_element(const Tensor& tensor, int64_t i) {
  if constexpr (std::is_floating_point_v<T>) {
    return tensor.element_as_double(i);
  } else {
    return static_cast<T>(tensor.element_as_int64(i));
  }
}

// Stores a value of arithmetic T into element i, converting to the tensor's dtype.
template <typename T>
void store_element(Tensor& tensor, int64_t i, T value) {
  if constexpr (std::is_floating_point_v<T>) {
    tensor.set_element_from_double(i, value);
  } else {
    tensor.set_element_from_int64(i, static_cast<int64_t>(value));
  }
}

// a + b, a - b, a * b in the arithmetic T. Integers wrap: signed overflow is undefined in C++,
// so they compute in uint64.
template <typename T>
T wrapping_add(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    return a + b;
  } else {
    return static_cast<T>(static_cast<uint64_t>(a) + static_cast<uint64_t>(b));
  }
}
template <typename T>
T wrapping_sub(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    return a - b;
  } else {
    return static_cast<T>(static_cast<uint64_t>(a) - static_cast<uint64_t>(b));
  }
}
template <typename T>
T wrapping_mul(T a, T b) {
  if constexpr (std::is_floating_point_v<T>) {
    return a * b;
  } else {
    return static_cast<T>(static_cast<uint64_t>(a) * static_cast<uint64_t>(b));
  }
}

// Multi-index <-> flat index conversions for row-major shapes.
std::vector<int64_t> unravel_index(int64_t flat, const std::vector<int64_t>& shape);
int64_t ravel_index(const std::vector<int64_t>& index, const std::vector<int64_t>& strides);

// Maps flat indices of an output shape to flat indices of an input that numpy-broadcasts to it
// (the input is right-aligned; its size-1 and missing dims repeat).
class BroadcastIndex {
 public:
  BroadcastIndex(const std::vector<int64_t>& input_shape, const std::vector<int64_t>& output_shape);
  int64_t operator()(int64_t output_flat) const;

 private:
  std::vector<int64_t> output_shape_;
  std::vector<int64_t> input_strides_;  // per output dim; 0 where the input repeats
};

// A tensor viewed as [outer, dim, inner] around one axis: the shape of most single-axis loops.
struct AxisView {
  int64_t outer = 1;
  int64_t dim = 1;
  int64_t inner = 1;
  AxisView(const std::vector<int64_t>& shape, int64_t axis);
  int64_t flat(int64_t o, int64_t a, int64_t i) const { return (o * dim + a) * inner + i; }
};

// Copies one element's bytes (exact for every dtype); both tensors must have the same dtype.
void copy_element(const Tensor& src, int64_t src_index, Tensor& dst, int64_t dst_index);

// A result whose element at each output multi-index is copied from the input element at flat
// index source(multi_index): the evaluator of an injective operator (transpose, slice, tile...).
template <typename F>
Tensor copy_from_input(const Tensor& input, const ir::TensorType& result, F source) {
  Tensor output = make_result(result);
  const std::vector<int64_t>& shape = output.shape();
  std::vector<int64_t> index(shape.size(), 0);
  for (int64_t i = 0; i < output.numel(); ++i) {
    copy_element(input, source(index), output, i);
    for (size_t d = shape.size(); d-- > 0;) {  // advance the row-major multi-index
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
  return output;
}

// Three-way comparison of elements i and j of one tensor, in the tensor's own arithmetic
// (unsigned for unsigned dtypes). NaN compares greater than every number and equal to NaN, so
// that sorting is a strict weak order.
int compare_elements(const Tensor& tensor, int64_t i, int64_t j);

// Wraps a possibly negative index into [0, size); kiln::Error naming the operator when the index
// is outside [-size, size).
int64_t wrap_index(int64_t index, int64_t size, std::string_view op_name, std::string_view what);

// --- Tuple-valued operators. ir::Evaluator returns a single tensor, so split and topk have no
// `evaluate` in their OpDef; these give their reference results for when it can return tuples.

// split: the parts of `data` along `axis` (already normalized) with the given sizes.
std::vector<Tensor> split_reference(const Tensor& data, int64_t axis,
                                    const std::vector<int64_t>& sections);
// topk: {values, int64 indices} of the k largest (or smallest) elements along `axis` (already
// normalized). Ties keep the lower index first, as ONNX requires; results are always sorted.
std::vector<Tensor> topk_reference(const Tensor& data, int64_t k, int64_t axis, bool largest);

}  // namespace kiln::op
