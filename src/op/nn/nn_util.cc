#include "op/nn/nn_util.h"

#include "kiln/error.h"

namespace kiln::op::nn {

ir::OpDef make_op(std::string name, std::string summary, int min_args, int max_args,
                  std::vector<ir::AttrDef> attrs, ir::OpPattern pattern,
                  ir::TypeRelation infer_type) {
  ir::OpDef def;
  def.name = std::move(name);
  def.family = "nn";
  def.summary = std::move(summary);
  def.min_args = min_args;
  def.max_args = max_args;
  def.attrs = std::move(attrs);
  def.pattern = pattern;
  def.infer_type = std::move(infer_type);
  return def;
}

std::string ints_to_string(const std::vector<int64_t>& values) {
  std::string text = "[";
  for (size_t i = 0; i < values.size(); ++i) {
    if (i > 0) text += ", ";
    text += std::to_string(values[i]);
  }
  return text + "]";
}

const std::vector<int64_t>& ints_attr(const ir::Attrs& attrs, const std::string& name,
                                      size_t length, std::string_view op_name) {
  const std::vector<int64_t>& values = attrs.get_ints(name);
  if (values.size() != length) {
    type_error(op_name, name + " must have " + std::to_string(length) + " values, got " +
                            ints_to_string(values));
  }
  return values;
}

void require_positive(const std::vector<int64_t>& values, std::string_view name,
                      std::string_view op_name) {
  for (int64_t value : values) {
    if (value <= 0) {
      type_error(op_name, std::string(name) + " must be positive, got " + ints_to_string(values));
    }
  }
}

void require_non_negative(const std::vector<int64_t>& values, std::string_view name,
                          std::string_view op_name) {
  for (int64_t value : values) {
    if (value < 0) {
      type_error(op_name,
                 std::string(name) + " must not be negative, got " + ints_to_string(values));
    }
  }
}

void require_positive(int64_t value, std::string_view name, std::string_view op_name) {
  if (value <= 0) {
    type_error(op_name, std::string(name) + " must be positive, got " + std::to_string(value));
  }
}

void require_flag(int64_t value, std::string_view name, std::string_view op_name) {
  if (value != 0 && value != 1) {
    type_error(op_name, std::string(name) + " must be 0 or 1, got " + std::to_string(value));
  }
}

void require_non_negative(double value, std::string_view name, std::string_view op_name) {
  if (!(value >= 0)) {  // also rejects NaN
    type_error(op_name, std::string(name) + " must not be negative, got " + std::to_string(value));
  }
}

const std::string& string_choice(const ir::Attrs& attrs, const std::string& name,
                                 std::initializer_list<std::string_view> choices,
                                 std::string_view op_name) {
  const std::string& value = attrs.get_string(name);
  std::string listed;
  for (std::string_view choice : choices) {
    if (value == choice) return value;
    listed += (listed.empty() ? "\"" : ", \"") + std::string(choice) + "\"";
  }
  type_error(op_name, name + " must be one of " + listed + ", got \"" + value + "\"");
}

Dim window_output_dim(const Dim& input, const Window& window, bool ceil_mode,
                      std::string_view axis_name, std::string_view op_name) {
  if (!input.is_static()) return Dim::unknown();
  int64_t padded = input.value() + window.pad_before + window.pad_after;
  if (padded < window.extent()) {
    type_error(op_name, "window of " + std::to_string(window.kernel) + " (dilation " +
                            std::to_string(window.dilation) + ") is larger than the padded input " +
                            std::string(axis_name) + " " + std::to_string(padded) + " (input " +
                            std::to_string(input.value()) + " + padding " +
                            std::to_string(window.pad_before) + " + " +
                            std::to_string(window.pad_after) + ")");
  }
  int64_t span = padded - window.extent();
  if (!ceil_mode) return span / window.stride + 1;
  int64_t count = (span + window.stride - 1) / window.stride + 1;
  // ONNX: a last window that starts in the right padding reads no input; it is dropped.
  if ((count - 1) * window.stride >= input.value() + window.pad_before) --count;
  return count;
}

void require_shape(const TensorType& type, const Shape& expected, std::string_view what,
                   std::string_view layout, std::string_view op_name) {
  bool ok = type.rank() == static_cast<int64_t>(expected.size());
  for (size_t i = 0; ok && i < expected.size(); ++i) {
    ok = dims_compatible(type.shape[i], expected[i]);
  }
  if (!ok) {
    type_error(op_name, std::string(what) + " must have shape " + ir::shape_to_string(expected) +
                            " " + std::string(layout) + ", got " + type.to_string());
  }
}

void require_channel_vector(const TensorType& param, const Dim& channels, const TensorType& data,
                            std::string_view what, std::string_view op_name) {
  if (param.rank() != 1 || !dims_compatible(param.shape[0], channels)) {
    type_error(op_name, std::string(what) + " must have shape [" + channels.to_string() +
                            "] (one value per channel of data " + data.to_string() + "), got " +
                            param.to_string());
  }
  if (param.dtype != data.dtype) {
    type_error(op_name, std::string(what) + " has dtype " + std::string(dtype_name(param.dtype)) +
                            " but data is " + data.to_string());
  }
}

bool all_static(const std::vector<Type>& args, const Type& result) {
  auto is_static = [](const Type& type, auto& self) -> bool {
    if (type.is_tensor()) return type.as_tensor().is_static();
    for (const Type& field : type.fields()) {
      if (!self(field, self)) return false;
    }
    return true;
  };
  for (const Type& arg : args) {
    if (!is_static(arg, is_static)) return false;
  }
  return is_static(result, is_static);
}

std::vector<double> to_doubles(const Tensor& tensor) {
  std::vector<double> values(static_cast<size_t>(tensor.numel()));
  if (tensor.dtype() == DType::kFloat32) {
    const float* data = tensor.data_as<float>();
    for (size_t i = 0; i < values.size(); ++i) values[i] = data[i];
  } else {
    for (size_t i = 0; i < values.size(); ++i) {
      values[i] = tensor.element_as_double(static_cast<int64_t>(i));
    }
  }
  return values;
}

std::vector<ir::AttrDef> conv2d_window_attrs() {
  return {attr_ints("strides", std::vector<int64_t>{1, 1}, "stride along height, width"),
          attr_ints("padding", std::vector<int64_t>{0, 0, 0, 0}, "top, left, bottom, right"),
          attr_ints("dilation", std::vector<int64_t>{1, 1}, "dilation along height, width"),
          attr_int("groups", 1, "number of channel groups")};
}

void require_divisible_by_groups(const ir::Dim& dim, int64_t groups, std::string_view what,
                                 const ir::TensorType& weight, std::string_view op_name) {
  if (dim.is_static() && dim.value() % groups != 0) {
    type_error(op_name, std::string(what) + " " + dim.to_string() + " is not divisible by groups " +
                            std::to_string(groups) + " (weight " + weight.to_string() + ")");
  }
}

}  // namespace kiln::op::nn
