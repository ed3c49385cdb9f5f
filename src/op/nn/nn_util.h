// Helpers shared by the nn operator families (src/op/nn/*.cc): attribute validation, the
// sliding-window output size of convolution and pooling, shape checks with messages that name
// the expected layout, and small utilities for MAC counters and reference evaluators.
#pragma once

#include <cstdint>
#include <initializer_list>
#include <string>
#include <string_view>
#include <vector>

#include "ir/attrs.h"
#include "ir/op.h"
#include "ir/type.h"
#include "kiln/tensor.h"
#include "op/op_util.h"

namespace kiln::op::nn {

// An OpDef of the "nn" family; callers set evaluate / macs where the operator has them.
ir::OpDef make_op(std::string name, std::string summary, int min_args, int max_args,
                  std::vector<ir::AttrDef> attrs, ir::OpPattern pattern,
                  ir::TypeRelation infer_type);

// "[1, 2, 3]".
std::string ints_to_string(const std::vector<int64_t>& values);

// The ints attribute `name`, which must have exactly `length` entries.
const std::vector<int64_t>& ints_attr(const ir::Attrs& attrs, const std::string& name,
                                      size_t length, std::string_view op_name);
// Each entry > 0 (strides, dilation, kernel sizes) / >= 0 (padding).
void require_positive(const std::vector<int64_t>& values, std::string_view name,
                      std::string_view op_name);
void require_non_negative(const std::vector<int64_t>& values, std::string_view name,
                          std::string_view op_name);
void require_positive(int64_t value, std::string_view name, std::string_view op_name);
// A 0/1 switch such as ceil_mode.
void require_flag(int64_t value, std::string_view name, std::string_view op_name);
// A float attribute such as epsilon that must not be negative.
void require_non_negative(double value, std::string_view name, std::string_view op_name);
// The string attribute `name`, which must be one of `choices`.
const std::string& string_choice(const ir::Attrs& attrs, const std::string& name,
                                 std::initializer_list<std::string_view> choices,
                                 std::string_view op_name);

// One spatial axis of a sliding window (convolution or pooling).
struct Window {
  int64_t kernel = 1;
  int64_t stride = 1;
  int64_t dilation = 1;
  int64_t pad_before = 0;
  int64_t pad_after = 0;
  int64_t extent() const { return dilation * (kernel - 1) + 1; }
};

// Output size of a window sliding over `input` along one axis (named by `axis_name` in errors,
// e.g. "height"). A symbolic input gives Dim::unknown(). ceil_mode follows ONNX: round up, but
// drop a last window that would start in the right padding. An error when the dilated window is
// larger than the padded input.
Dim window_output_dim(const Dim& input, const Window& window, bool ceil_mode,
                      std::string_view axis_name, std::string_view op_name);

// Requires `type` to have `expected`'s rank and dims compatible with it (symbolic dims on either
// side are accepted). `layout` explains the expected shape in the message, e.g.
// "[dirs, 4*hidden_size, input_size]".
void require_shape(const TensorType& type, const Shape& expected, std::string_view what,
                   std::string_view layout, std::string_view op_name);

// Requires a rank-1 per-channel parameter (bias, gamma, ...) whose length is compatible with
// `channels`, and the dtype of `data`.
void require_channel_vector(const TensorType& param, const Dim& channels, const TensorType& data,
                            std::string_view what, std::string_view op_name);

// True when every argument and every (tuple field of the) result is a static tensor type: MAC
// counters only count static shapes.
bool all_static(const std::vector<Type>& args, const Type& result);

// Tensor contents as doubles / int64s, for reference evaluators that compute in one wide type
// whatever the element type.
std::vector<double> to_doubles(const Tensor& tensor);

// The attributes of a 2-D convolution's window: strides, padding (top, left, bottom, right),
// dilation and groups, with their defaults (conv2d, conv2d_transpose, conv2d_nchwc,
// deform_conv2d).
std::vector<ir::AttrDef> conv2d_window_attrs();

// Requires `dim` (when static) to be divisible by `groups`; the message names `what` and the
// weight.
void require_divisible_by_groups(const ir::Dim& dim, int64_t groups, std::string_view what,
                                 const ir::TensorType& weight, std::string_view op_name);

}  // namespace kiln::op::nn
