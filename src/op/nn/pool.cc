// Pooling over NCHW (2-D) and NCDHW (3-D) data: windowed max / average / Lp pooling, the argmax
// of max pooling (MaxPool's Indices), and global pooling.
#include <string>
#include <vector>

#include "ir/op.h"
#include "op/layout.h"
#include "op/nn/nn_util.h"
#include "op/op_util.h"

namespace kiln::op {
namespace {

// The spatial rank of a pooling op: 3 for the *3d operators, else 2.
size_t spatial_rank(std::string_view op_name) {
  return op_name.find("3d") != std::string_view::npos ? 3 : 2;
}

// The output type of a windowed pooling op: [N, C, out...] from the validated window attributes.
TensorType infer_window_pool(const TensorType& data, const ir::Attrs& attrs,
                             std::string_view op_name) {
  size_t n = spatial_rank(op_name);
  // 2-D pooling also reads channel-blocked NCHW<x>c ([N, C/x, H, W, x], from the alter_op_layout
  // pass): the window moves over axes 2 and 3 in both.
  const bool blocked = n == 2 && attrs.get_string("layout") != "NCHW";
  if (blocked) {
    const std::string& layout = attrs.get_string("layout");
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
    require_rank(data, static_cast<int64_t>(n) + 2, op_name, "data");
  }
  const std::vector<int64_t>& pool_size = nn::ints_attr(attrs, "pool_size", n, op_name);
  const std::vector<int64_t>& strides = nn::ints_attr(attrs, "strides", n, op_name);
  const std::vector<int64_t>& padding = nn::ints_attr(attrs, "padding", 2 * n, op_name);
  const std::vector<int64_t>& dilation = nn::ints_attr(attrs, "dilation", n, op_name);
  int64_t ceil_mode = attrs.get_int("ceil_mode");
  nn::require_positive(pool_size, "pool_size", op_name);
  nn::require_positive(strides, "strides", op_name);
  nn::require_non_negative(padding, "padding", op_name);
  nn::require_positive(dilation, "dilation", op_name);
  nn::require_flag(ceil_mode, "ceil_mode", op_name);

  static const char* const kAxisNames2d[] = {"height", "width"};
  static const char* const kAxisNames3d[] = {"depth", "height", "width"};
  Shape out = {data.shape[0], data.shape[1]};
  for (size_t axis = 0; axis < n; ++axis) {
    nn::Window window{pool_size[axis], strides[axis], dilation[axis], padding[axis],
                      padding[axis + n]};
    out.push_back(nn::window_output_dim(data.shape[2 + axis], window, ceil_mode != 0,
                                        n == 2 ? kAxisNames2d[axis] : kAxisNames3d[axis], op_name));
  }
  if (blocked) out.push_back(data.shape[4]);
  return TensorType{data.dtype, out};
}

Type infer_max_pool(const std::vector<Type>& args, const ir::Attrs& attrs,
                    std::string_view op_name) {
  return infer_window_pool(tensor_arg(args, 0, op_name), attrs, op_name);
}

Type infer_avg_pool(const std::vector<Type>& args, const ir::Attrs& attrs,
                    std::string_view op_name) {
  const TensorType& data = tensor_arg(args, 0, op_name);
  require_float(data, op_name, "data");
  nn::require_flag(attrs.get_int("count_include_pad"), "count_include_pad", op_name);
  return infer_window_pool(data, attrs, op_name);
}

Type infer_lp_pool(const std::vector<Type>& args, const ir::Attrs& attrs,
                   std::string_view op_name) {
  const TensorType& data = tensor_arg(args, 0, op_name);
  require_float(data, op_name, "data");
  nn::require_positive(attrs.get_int("p"), "p", op_name);
  return infer_window_pool(data, attrs, op_name);
}

// The argmax of max pooling: ONNX MaxPool's Indices, int64 flat indices into the whole input
// (row-major, or with the spatial dims column-major for storage_order 1).
Type infer_max_pool_indices(const std::vector<Type>& args, const ir::Attrs& attrs,
                            std::string_view op_name) {
  nn::require_flag(attrs.get_int("storage_order"), "storage_order", op_name);
  TensorType type = infer_window_pool(tensor_arg(args, 0, op_name), attrs, op_name);
  type.dtype = DType::kInt64;
  return type;
}

// max_unpool: values and indices [N, C, in...] (MaxPool's outputs, indices row-major) -> [N, C,
// (in - 1) * stride - pads + kernel ...], the size the pooling window implies.
Type infer_max_unpool(const std::vector<Type>& args, const ir::Attrs& attrs) {
  constexpr std::string_view kOp = "max_unpool";
  const TensorType& values = tensor_arg(args, 0, kOp);
  const TensorType& indices = tensor_arg(args, 1, kOp);
  if (values.rank() != 4 && values.rank() != 5) {
    type_error(kOp, "values must have rank 4 or 5, got " + values.to_string());
  }
  if (indices.dtype != DType::kInt64 || indices.shape != values.shape) {
    type_error(kOp, "indices must be int64 of the values' shape " + values.to_string() + ", got " +
                        indices.to_string());
  }
  size_t n = static_cast<size_t>(values.rank() - 2);
  const std::vector<int64_t>& pool_size = nn::ints_attr(attrs, "pool_size", n, kOp);
  const std::vector<int64_t>& strides = nn::ints_attr(attrs, "strides", n, kOp);
  const std::vector<int64_t>& padding = nn::ints_attr(attrs, "padding", 2 * n, kOp);
  nn::require_positive(pool_size, "pool_size", kOp);
  nn::require_positive(strides, "strides", kOp);
  nn::require_non_negative(padding, "padding", kOp);
  Shape out = {values.shape[0], values.shape[1]};
  for (size_t a = 0; a < n; ++a) {
    const Dim& input = values.shape[2 + a];
    if (!input.is_static()) {
      out.push_back(Dim::unknown());
      continue;
    }
    int64_t size = (input.value() - 1) * strides[a] - padding[a] - padding[a + n] + pool_size[a];
    if (size <= 0) type_error(kOp, "the unpooled size " + std::to_string(size) + " is empty");
    out.push_back(Dim(size));
  }
  return TensorType{values.dtype, out};
}

// Binds a generic relation to one operator name.
ir::TypeRelation relation(Type (*infer)(const std::vector<Type>&, const ir::Attrs&,
                                        std::string_view),
                          std::string_view op_name) {
  return [infer, op_name](const std::vector<Type>& args, const ir::Attrs& attrs) {
    return infer(args, attrs, op_name);
  };
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

std::vector<ir::AttrDef> window_attrs(size_t n) {
  if (n == 3) {
    return {
        attr_ints("pool_size", std::nullopt, "window depth, height, width"),
        attr_ints("strides", std::vector<int64_t>(3, 1), "stride along depth, height, width"),
        attr_ints("padding", std::vector<int64_t>(6, 0), "front, top, left, back, bottom, right"),
        attr_ints("dilation", std::vector<int64_t>(3, 1), "dilation along depth, height, width"),
        attr_int("ceil_mode", 0, "round the output size up (ONNX rule)")};
  }
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
  for (size_t n : {size_t{2}, size_t{3}}) {
    // Names are static strings: the relations keep a view of them.
    std::string_view max_name = n == 2 ? "max_pool2d" : "max_pool3d";
    std::string_view avg_name = n == 2 ? "avg_pool2d" : "avg_pool3d";
    std::string_view lp_name = n == 2 ? "lp_pool2d" : "lp_pool3d";
    std::string_view indices_name = n == 2 ? "max_pool2d_indices" : "max_pool3d_indices";
    std::string layout = n == 2 ? "2-D" : "3-D";
    std::string data = n == 2 ? "NCHW" : "NCDHW";
    registry.add(nn::make_op(std::string(max_name), layout + " max pooling over " + data + " data",
                             1, 1, window_attrs(n), kFusable, relation(infer_max_pool, max_name)));

    std::vector<ir::AttrDef> avg_attrs = window_attrs(n);
    avg_attrs.push_back(attr_int("count_include_pad", 0, "divide by the full window size"));
    registry.add(nn::make_op(std::string(avg_name),
                             layout + " average pooling over " + data + " data", 1, 1,
                             std::move(avg_attrs), kFusable, relation(infer_avg_pool, avg_name)));

    std::vector<ir::AttrDef> lp_attrs = window_attrs(n);
    lp_attrs.push_back(attr_int("p", 2, "the norm's exponent"));
    registry.add(nn::make_op(std::string(lp_name),
                             layout + " Lp-norm pooling over " + data + " data", 1, 1,
                             std::move(lp_attrs), kFusable, relation(infer_lp_pool, lp_name)));

    std::vector<ir::AttrDef> indices_attrs = window_attrs(n);
    indices_attrs.push_back(
        attr_int("storage_order", 0, "0: row-major indices, 1: spatial dims column-major"));
    registry.add(nn::make_op(std::string(indices_name),
                             "flat int64 index of each " + layout +
                                 " max pooling window's maximum "
                                 "(the first one in window order)",
                             1, 1, std::move(indices_attrs), ir::OpPattern::kOpaque,
                             relation(infer_max_pool_indices, indices_name)));
  }

  registry.add(nn::make_op(
      "max_unpool",
      "MaxPool's values written back at its (row-major) indices, zeros elsewhere; the indices "
      "must come from a max pooling with this window over an input of the output's size",
      2, 2,
      {attr_ints("pool_size", std::nullopt, "the pooling window"),
       attr_ints("strides", std::nullopt, "the pooling strides"),
       attr_ints("padding", std::nullopt, "the pooling padding: begins, then ends")},
      ir::OpPattern::kOpaque, infer_max_unpool));

  registry.add(nn::make_op("global_avg_pool2d", "mean over each channel's plane: NCHW -> NC11", 1,
                           1, {}, kFusable, infer_global_avg_pool2d));
  registry.add(nn::make_op("global_max_pool2d", "maximum over each channel's plane: NCHW -> NC11",
                           1, 1, {}, kFusable, infer_global_max_pool2d));
}

}  // namespace kiln::op
