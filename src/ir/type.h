// Types of graph IR values: a TensorType (dtype + shape whose dimensions are static numbers or
// named symbols) or a tuple of types (operators with several results: split, lstm, topk).
#pragma once

#include <cstdint>
#include <string>
#include <variant>
#include <vector>

#include "kiln/tensor.h"

namespace kiln::ir {

// One dimension: a static size (>= 0) or a symbol ("batch", or "?" when nothing is known).
class Dim {
 public:
  Dim() = default;
  Dim(int64_t value) : value_(value) {}  // NOLINT: implicit so that shapes read naturally
  static Dim symbol(std::string name) {
    Dim dim;
    dim.value_ = -1;
    dim.symbol_ = std::move(name);
    return dim;
  }
  static Dim unknown() { return symbol("?"); }

  bool is_static() const { return value_ >= 0; }
  // The static size; only valid when is_static().
  int64_t value() const;
  const std::string& symbol_name() const { return symbol_; }
  std::string to_string() const { return is_static() ? std::to_string(value_) : symbol_; }

  bool operator==(const Dim& other) const {
    return value_ == other.value_ && symbol_ == other.symbol_;
  }
  bool operator!=(const Dim& other) const { return !(*this == other); }

 private:
  int64_t value_ = 0;
  std::string symbol_;
};

using Shape = std::vector<Dim>;

struct TensorType {
  DType dtype = DType::kFloat32;
  Shape shape;

  int64_t rank() const { return static_cast<int64_t>(shape.size()); }
  bool is_static() const;
  // Static dims as numbers; only valid when is_static().
  std::vector<int64_t> static_shape() const;
  // Product of dims when static, -1 otherwise.
  int64_t numel() const;
  std::string to_string() const;  // "float32[1, 3, 224, 224]"
  bool operator==(const TensorType& other) const {
    return dtype == other.dtype && shape == other.shape;
  }
  bool operator!=(const TensorType& other) const { return !(*this == other); }
};

TensorType tensor_type(DType dtype, const std::vector<int64_t>& shape);

class Type {
 public:
  Type() = default;
  Type(TensorType tensor) : value_(std::move(tensor)) {}  // NOLINT
  static Type tuple(std::vector<Type> fields) {
    Type type;
    type.value_ = std::move(fields);
    return type;
  }

  bool is_tensor() const { return std::holds_alternative<TensorType>(value_); }
  bool is_tuple() const { return !is_tensor(); }
  // The tensor type; raises an internal error for a tuple.
  const TensorType& as_tensor() const;
  const std::vector<Type>& fields() const;
  std::string to_string() const;
  bool operator==(const Type& other) const { return value_ == other.value_; }
  bool operator!=(const Type& other) const { return !(*this == other); }

 private:
  std::variant<TensorType, std::vector<Type>> value_;
};

std::string shape_to_string(const Shape& shape);

}  // namespace kiln::ir
