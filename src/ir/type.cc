#include "ir/type.h"

#include "kiln/error.h"
#include "kiln/limits.h"

namespace kiln::ir {

int64_t Dim::value() const {
  KILN_CHECK(is_static()) << "dimension " << symbol_ << " is symbolic";
  return value_;
}

bool TensorType::is_static() const {
  for (const Dim& dim : shape) {
    if (!dim.is_static()) return false;
  }
  return true;
}

std::vector<int64_t> TensorType::static_shape() const {
  std::vector<int64_t> dims;
  dims.reserve(shape.size());
  for (const Dim& dim : shape) dims.push_back(dim.value());
  return dims;
}

int64_t TensorType::numel() const {
  int64_t count = 1;
  for (const Dim& dim : shape) {
    if (!dim.is_static()) return -1;
    // Shapes come from files too: a product beyond what any tensor may hold is a user error,
    // never an int64 overflow.
    if (__builtin_mul_overflow(count, dim.value(), &count) || count > kMaxTensorElements) {
      throw Error("a tensor of type " + to_string() + " would hold more than 2^40 elements");
    }
  }
  return count;
}

std::string shape_to_string(const Shape& shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i) {
    if (i > 0) text += ", ";
    text += shape[i].to_string();
  }
  return text + "]";
}

std::string TensorType::to_string() const {
  return std::string(dtype_name(dtype)) + shape_to_string(shape);
}

TensorType tensor_type(DType dtype, const std::vector<int64_t>& shape) {
  TensorType type;
  type.dtype = dtype;
  for (int64_t dim : shape) type.shape.emplace_back(dim);
  return type;
}

const TensorType& Type::as_tensor() const {
  KILN_CHECK(is_tensor()) << "expected a tensor type, got " << to_string();
  return std::get<TensorType>(value_);
}

const std::vector<Type>& Type::fields() const {
  KILN_CHECK(is_tuple()) << "expected a tuple type, got " << to_string();
  return std::get<std::vector<Type>>(value_);
}

std::string Type::to_string() const {
  if (is_tensor()) return as_tensor().to_string();
  std::string text = "(";
  const auto& items = fields();
  for (size_t i = 0; i < items.size(); ++i) {
    if (i > 0) text += ", ";
    text += items[i].to_string();
  }
  return text + ")";
}

}  // namespace kiln::ir
