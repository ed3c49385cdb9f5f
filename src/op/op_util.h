// Helpers shared by operator type relations and evaluators.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "ir/op.h"
#include "ir/type.h"

namespace kiln::op {

using ir::Dim;
using ir::Shape;
using ir::TensorType;
using ir::Type;

// Raises kiln::Error("<op>: <message>").
[[noreturn]] void type_error(std::string_view op_name, const std::string& message);

// Argument i as a tensor type; an error naming the operator when it is a tuple.
const TensorType& tensor_arg(const std::vector<Type>& args, size_t i, std::string_view op_name);

// Numpy-style broadcasting of two shapes. A symbolic dim broadcasts with 1 and with itself; a
// symbolic dim against a static dim > 1 takes the static one (the model must agree at run time).
Shape broadcast_shapes(const Shape& a, const Shape& b, std::string_view op_name);

// Maps a possibly negative axis into [0, rank); an error naming the operator when out of range.
int64_t normalize_axis(int64_t axis, int64_t rank, std::string_view op_name);

// Requires a rank; "conv2d: data must have rank 4, got rank 3 (float32[1, 3, 224])".
void require_rank(const TensorType& type, int64_t rank, std::string_view op_name,
                  std::string_view what);
void require_float(const TensorType& type, std::string_view op_name, std::string_view what);
void require_same_dtype(const TensorType& a, const TensorType& b, std::string_view op_name);

// Dims equal, or at least one of them symbolic (cannot be proven different).
bool dims_compatible(const Dim& a, const Dim& b);

// Builders for OpDef attribute declarations.
ir::AttrDef attr_int(std::string name, std::optional<int64_t> default_value, std::string doc = "");
ir::AttrDef attr_float(std::string name, std::optional<double> default_value, std::string doc = "");
ir::AttrDef attr_string(std::string name, std::optional<std::string> default_value,
                        std::string doc = "");
ir::AttrDef attr_ints(std::string name, std::optional<std::vector<int64_t>> default_value,
                      std::string doc = "");
ir::AttrDef attr_floats(std::string name, std::optional<std::vector<double>> default_value,
                        std::string doc = "");

// Row-major strides of a static shape.
std::vector<int64_t> row_major_strides(const std::vector<int64_t>& shape);

}  // namespace kiln::op
