// 2-D pooling over NCHW data: windowed max / average / Lp pooling, and global pooling.
#include <string>
#include <vector>

#include "ir/op.h"
#include "op/layout.h"
#include "op/nn/nn_util.h"
#include "op/op_util.h"

namespace kiln::op {
namespace {

// The output type of a windowed pooling op: [N, C, OH, OW] from the validated window attributes.
TensorType infer_window_pool(const TensorType& data, const ir::Attrs& attrs,
                             std::string_view op_name) {
  // NCHW, or channel-blocked NCHW<x>c ([N, C/x, H, W, x], from the alter_op_layout pass): the
  // window moves over axes 2 and 3 in both.
  const std::string& layout = attrs.get_string("layout");
  const bool blocked = layout != "NCHW";
  if (blocked) {
    Layout parsed = Layout::parse(layout);
    if (parsed.rank() != 5 || parsed.primal_position('N') != 0 ||
        parsed.primal_position('C') != 1 || parsed.primal_position('H') != 2 ||
        parsed.primal_position('W') != 3 || parsed.block_position('C') != 4) {
      type_error(op_name, "layout must be NCHW or NCHW<x>c, got \"" + layout + "\"");
    }
    require_rank(data, 5, op_name, "data");
    if (data.shape[4] != Dim(parsed.block_size('C'))) {
      type_error(op_name, "data " + data.to_string() + " does not have layout " + layout);
    }
  } else {
    require_rank(data, 4, op_name, "data");
  }
  const std::vector<int64_t>& pool_size = nn::ints_attr(attrs, "pool_size", 2, op_name);
  const std::vector<int64_t>& strides = nn::ints_attr(attrs, "strides", 2, op_name);
  const std::vector<int64_t>& padding = nn::ints_attr(attrs, "padding", 4, op_name);
  const std::vector<int64_t>& dilation = nn::ints_attr(attrs, "dilation", 2, op_name);
  int64_t ceil_mode = attrs.get_int("ceil_mode");
  nn::require_positive(pool_size, "pool_size", op_name);
  nn::require_positive(strides, "strides", op_name);
  nn::require_non_negative(padding, "padding", op_name);
  nn::require_positive(dilation, "dilation", op_name);
  nn::require_flag(ceil_mode, "ceil_mode", op_name);

  Shape out = {data.shape[0], data.shape[1], Dim(), Dim()};
  if (blocked) out.push_back(data.shape[4]);
  for (size_t axis = 0; axis < 2; ++axis) {
    nn::Window window{pool_size[axis], strides[axis], dilation[axis], padding[axis],
                      padding[axis + 2]};
    out[2 + axis] = nn::window_output_dim(data.shape[2 + axis], window, ceil_mode != 0,
                                          axis == 0 ? "height" : "width", op_name);
  }
  return TensorType{data.dtype, out};
}

Type infer_max_pool2d(const std::vector<Type>& args, const ir::Attrs& attrs) {
  return infer_window_pool(tensor_arg(args, 0, "max_pool2d"), attrs, "max_pool2d");
}

Type infer_avg_pool2d(const std::vector<Type>& args, const ir::Attrs& attrs) {
  constexpr std::string_view kOp = "avg_pool2d";
  const TensorType& data = tensor_arg(args, 0, kOp);
  require_float(data, kOp, "data");
  nn::require_flag(attrs.get_int("count_include_pad"), "count_include_pad", kOp);
  return infer_window_pool(data, attrs, kOp);
}

Type infer_lp_pool2d(const std::vector<Type>& args, const ir::Attrs& attrs) {
  constexpr std::string_view kOp = "lp_pool2d";
  const TensorType& data = tensor_arg(args, 0, kOp);
  require_float(data, kOp, "data");
  nn::require_positive(attrs.get_int("p"), "p", kOp);
  return infer_window_pool(data, attrs, kOp);
}

// Global pooling reduces each channel's whole plane to one value.
Type infer_global_pool(const std::vector<Type>& args, std::string_view op_name) {
  const TensorType& data = tensor_arg(args, 0, op_name);
  require_rank(data, 4, op_name, "data");
  return TensorType{data.dtype, {data.shape[0], data.shape[1], 1, 1}};
}

Type infer_global_avg_pool2d(const std::vector<Type>& args, const ir::Attrs& /*attrs*/) {
  require_float(tensor_arg(args, 0, "global_avg_pool2d"), "global_avg_pool2d", "data");
  return infer_global_pool(args, "global_avg_pool2d");
}

Type infer_global_max_pool2d(const std::vector<Type>& args, const ir::Attrs& /*attrs*/) {
  return infer_global_pool(args, "global_max_pool2d");
}

std::vector<ir::AttrDef> window_attrs() {
  return {attr_ints("pool_size", std::nullopt, "window height, width"),
          attr_ints("strides", std::vector<int64_t>{1, 1}, "stride along height, width"),
          attr_ints("padding", std::vector<int64_t>{0, 0, 0, 0}, "top, left, bottom, right"),
          attr_ints("dilation", std::vector<int64_t>{1, 1}, "dilation along height, width"),
          attr_int("ceil_mode", 0, "round the output size up (ONNX rule)"),
          attr_string("layout", std::string("NCHW"), "NCHW, or NCHW<x>c (channel-blocked)")};
}

}  // namespace

void register_pool_ops(ir::OpRegistry& registry) {
  constexpr ir::OpPattern kFusable = ir::OpPattern::kOutEWiseFusable;
  registry.add(nn::make_op("max_pool2d", "2-D max pooling over NCHW data", 1, 1, window_attrs(),
                           kFusable, infer_max_pool2d));

  std::vector<ir::AttrDef> avg_attrs = window_attrs();
  avg_attrs.push_back(attr_int("count_include_pad", 0, "divide by the full window size"));
  registry.add(nn::make_op("avg_pool2d", "2-D average pooling over NCHW data", 1, 1,
                           std::move(avg_attrs), kFusable, infer_avg_pool2d));

  std::vector<ir::AttrDef> lp_attrs = window_attrs();
  lp_attrs.push_back(attr_int("p", 2, "the norm's exponent"));
  registry.add(nn::make_op("lp_pool2d", "2-D Lp-norm pooling over NCHW data", 1, 1,
                           std::move(lp_attrs), kFusable, infer_lp_pool2d));

  registry.add(nn::make_op("global_avg_pool2d", "mean over each channel's plane: NCHW -> NC11", 1,
                           1, {}, kFusable, infer_global_avg_pool2d));
  registry.add(nn::make_op("global_max_pool2d", "maximum over each channel's plane: NCHW -> NC11",
                           1, 1, {}, kFusable, infer_global_max_pool2d));
}

}  // namespace kiln::op
