#include "op/eval_util.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <numeric>

#include "kiln/error.h"
#include "op/op_util.h"

namespace kiln::op {

Tensor make_result(const ir::TensorType& type) { return Tensor(type.dtype, type.static_shape()); }

MathKind math_kind(DType dtype) {
  if (dtype_is_float(dtype)) return MathKind::kFloat;
  return dtype_is_signed(dtype) ? MathKind::kSigned : MathKind::kUnsigned;
}

std::vector<int64_t> unravel_index(int64_t flat, const std::vector<int64_t>& shape) {
  std::vector<int64_t> index(shape.size());
  for (size_t d = shape.size(); d-- > 0;) {
    index[d] = flat % shape[d];
    flat /= shape[d];
  }
  return index;
}

int64_t ravel_index(const std::vector<int64_t>& index, const std::vector<int64_t>& strides) {
  int64_t flat = 0;
  for (size_t d = 0; d < index.size(); ++d) flat += index[d] * strides[d];
  return flat;
}

BroadcastIndex::BroadcastIndex(const std::vector<int64_t>& input_shape,
                               const std::vector<int64_t>& output_shape)
    : output_shape_(output_shape), input_strides_(output_shape.size(), 0) {
  KILN_CHECK(input_shape.size() <= output_shape.size()) << "broadcast to a lower rank";
  std::vector<int64_t> strides = row_major_strides(input_shape);
  size_t offset = output_shape.size() - input_shape.size();
  for (size_t d = 0; d < input_shape.size(); ++d) {
    KILN_CHECK(input_shape[d] == output_shape[d + offset] || input_shape[d] == 1)
        << "input dim " << input_shape[d] << " does not broadcast to " << output_shape[d + offset];
    input_strides_[d + offset] = input_shape[d] == 1 ? 0 : strides[d];
  }
}

int64_t BroadcastIndex::operator()(int64_t output_flat) const {
  int64_t input_flat = 0;
  for (size_t d = output_shape_.size(); d-- > 0;) {
    input_flat += (output_flat % output_shape_[d]) * input_strides_[d];
    output_flat /= output_shape_[d];
  }
  return input_flat;
}

AxisView::AxisView(const std::vector<int64_t>& shape, int64_t axis) : dim(shape[axis]) {
  for (int64_t d = 0; d < axis; ++d) outer *= shape[d];
  for (size_t d = static_cast<size_t>(axis) + 1; d < shape.size(); ++d) inner *= shape[d];
}

void copy_element(const Tensor& src, int64_t src_index, Tensor& dst, int64_t dst_index) {
  KILN_CHECK(src.dtype() == dst.dtype()) << "copy_element between different dtypes";
  size_t size = dtype_size(src.dtype());
  std::memcpy(static_cast<std::byte*>(dst.mutable_data()) + static_cast<size_t>(dst_index) * size,
              static_cast<const std::byte*>(src.data()) + static_cast<size_t>(src_index) * size,
              size);
}

namespace {
template <typename T>
int three_way(T a, T b) {
  return a < b ? -1 : (b < a ? 1 : 0);
}
}  // namespace

int compare_elements(const Tensor& tensor, int64_t i, int64_t j) {
  switch (math_kind(tensor.dtype())) {
    case MathKind::kFloat: {
      double a = tensor.element_as_double(i);
      double b = tensor.element_as_double(j);
      if (std::isnan(a) || std::isnan(b)) return std::isnan(a) - std::isnan(b);
      return three_way(a, b);
    }
    case MathKind::kSigned:
      return three_way(tensor.element_as_int64(i), tensor.element_as_int64(j));
    case MathKind::kUnsigned:
      return three_way(static_cast<uint64_t>(tensor.element_as_int64(i)),
                       static_cast<uint64_t>(tensor.element_as_int64(j)));
  }
  return 0;
}

int64_t wrap_index(int64_t index, int64_t size, std::string_view op_name, std::string_view what) {
  if (index < -size || index >= size) {
    type_error(op_name, std::string(what) + " " + std::to_string(index) +
                            " is out of range for a dimension of size " + std::to_string(size));
  }
  return index < 0 ? index + size : index;
}

std::vector<Tensor> split_reference(const Tensor& data, int64_t axis,
                                    const std::vector<int64_t>& sections) {
  AxisView view(data.shape(), axis);
  std::vector<Tensor> parts;
  int64_t begin = 0;
  for (int64_t size : sections) {
    std::vector<int64_t> part_shape = data.shape();
    part_shape[axis] = size;
    Tensor part(data.dtype(), part_shape);
    for (int64_t o = 0; o < view.outer; ++o) {
      for (int64_t a = 0; a < size; ++a) {
        for (int64_t i = 0; i < view.inner; ++i) {
          copy_element(data, view.flat(o, begin + a, i), part, (o * size + a) * view.inner + i);
        }
      }
    }
    parts.push_back(part);
    begin += size;
  }
  return parts;
}

std::vector<Tensor> topk_reference(const Tensor& data, int64_t k, int64_t axis, bool largest) {
  AxisView view(data.shape(), axis);
  KILN_CHECK(k >= 0 && k <= view.dim) << "topk: k " << k << " exceeds dim " << view.dim;
  std::vector<int64_t> result_shape = data.shape();
  result_shape[axis] = k;
  Tensor values(data.dtype(), result_shape);
  Tensor indices(DType::kInt64, result_shape);
  std::vector<int64_t> order(static_cast<size_t>(view.dim));
  for (int64_t o = 0; o < view.outer; ++o) {
    for (int64_t i = 0; i < view.inner; ++i) {
      auto flat = [&](int64_t a) { return view.flat(o, a, i); };
      std::iota(order.begin(), order.end(), 0);
      // stable_sort keeps the lower index first among equal values.
      std::stable_sort(order.begin(), order.end(), [&](int64_t a, int64_t b) {
        int cmp = compare_elements(data, flat(a), flat(b));
        return largest ? cmp > 0 : cmp < 0;
      });
      for (int64_t r = 0; r < k; ++r) {
        int64_t out = (o * k + r) * view.inner + i;
        copy_element(data, flat(order[static_cast<size_t>(r)]), values, out);
        indices.set_element_from_int64(out, order[static_cast<size_t>(r)]);
      }
    }
  }
  return {values, indices};
}

}  // namespace kiln::op
