#include "op/op_util.h"

#include "kiln/error.h"

namespace kiln::op {

void type_error(std::string_view op_name, const std::string& message) {
  throw Error(std::string(op_name) + ": " + message);
}

const TensorType& tensor_arg(const std::vector<Type>& args, size_t i, std::string_view op_name) {
  KILN_CHECK(i < args.size()) << op_name << ": argument " << i << " missing";
  if (!args[i].is_tensor()) {
    type_error(op_name, "argument " + std::to_string(i) + " must be a tensor, got a tuple " +
                            args[i].to_string());
  }
  return args[i].as_tensor();
}

bool dims_compatible(const Dim& a, const Dim& b) {
  return !a.is_static() || !b.is_static() || a.value() == b.value();
}

Shape broadcast_shapes(const Shape& a, const Shape& b, std::string_view op_name) {
  size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    // Align from the right.
    const Dim* da = i < rank - a.size() ? nullptr : &a[i - (rank - a.size())];
    const Dim* db = i < rank - b.size() ? nullptr : &b[i - (rank - b.size())];
    if (da == nullptr) {
      out[i] = *db;
    } else if (db == nullptr) {
      out[i] = *da;
    } else if (*da == *db) {
      out[i] = *da;
    } else if (da->is_static() && da->value() == 1) {
      out[i] = *db;
    } else if (db->is_static() && db->value() == 1) {
      out[i] = *da;
    } else if (!da->is_static() && !db->is_static()) {
      out[i] = Dim::unknown();
    } else if (!da->is_static()) {
      out[i] = *db;
    } else if (!db->is_static()) {
      out[i] = *da;
    } else {
      type_error(op_name, "shapes " + ir::shape_to_string(a) + " and " + ir::shape_to_string(b) +
                              " cannot be broadcast together");
    }
  }
  return out;
}

int64_t normalize_axis(int64_t axis, int64_t rank, std::string_view op_name) {
  int64_t normalized = axis < 0 ? axis + rank : axis;
  if (normalized < 0 || normalized >= rank) {
    type_error(op_name, "axis " + std::to_string(axis) + " is out of range for rank " +
                            std::to_string(rank));
  }
  return normalized;
}

void require_rank(const TensorType& type, int64_t rank, std::string_view op_name,
                  std::string_view what) {
  if (type.rank() != rank) {
    type_error(op_name, std::string(what) + " must have rank " + std::to_string(rank) +
                            ", got rank " + std::to_string(type.rank()) + " (" + type.to_string() +
                            ")");
  }
}

void require_float(const TensorType& type, std::string_view op_name, std::string_view what) {
  if (!dtype_is_float(type.dtype)) {
    type_error(op_name,
               std::string(what) + " must be a floating-point tensor, got " + type.to_string());
  }
}

void require_same_dtype(const TensorType& a, const TensorType& b, std::string_view op_name) {
  if (a.dtype != b.dtype) {
    type_error(op_name,
               "arguments have different dtypes: " + a.to_string() + " and " + b.to_string());
  }
}

ir::AttrDef attr_int(std::string name, std::optional<int64_t> default_value, std::string doc) {
  return {std::move(name), ir::AttrKind::kInt,
          default_value ? std::optional<ir::AttrValue>(*default_value) : std::nullopt,
          std::move(doc)};
}
ir::AttrDef attr_float(std::string name, std::optional<double> default_value, std::string doc) {
  return {std::move(name), ir::AttrKind::kFloat,
          default_value ? std::optional<ir::AttrValue>(*default_value) : std::nullopt,
          std::move(doc)};
}
ir::AttrDef attr_string(std::string name, std::optional<std::string> default_value,
                        std::string doc) {
  return {std::move(name), ir::AttrKind::kString,
          default_value ? std::optional<ir::AttrValue>(*default_value) : std::nullopt,
          std::move(doc)};
}
ir::AttrDef attr_ints(std::string name, std::optional<std::vector<int64_t>> default_value,
                      std::string doc) {
  return {std::move(name), ir::AttrKind::kInts,
          default_value ? std::optional<ir::AttrValue>(*default_value) : std::nullopt,
          std::move(doc)};
}
ir::AttrDef attr_floats(std::string name, std::optional<std::vector<double>> default_value,
                        std::string doc) {
  return {std::move(name), ir::AttrKind::kFloats,
          default_value ? std::optional<ir::AttrValue>(*default_value) : std::nullopt,
          std::move(doc)};
}

std::vector<int64_t> row_major_strides(const std::vector<int64_t>& shape) {
  std::vector<int64_t> strides(shape.size(), 1);
  for (size_t i = shape.size(); i-- > 1;) strides[i - 1] = strides[i] * shape[i];
  return strides;
}

}  // namespace kiln::op
