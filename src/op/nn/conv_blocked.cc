// conv2d_nchwc: the 2-D convolution on channel-blocked data, which the alter_op_layout pass
// (src/transform/alter_op_layout.cc) substitutes for conv2d on CPU targets. NHWC data is its
// special case of one block holding every channel (desired_layout "NHWC"):
//   data [N, H, W, C], weight [1, 1, KH, KW, C, O] (HWIO), result [N, OH, OW, O].
//
//   data   [N, C/ib, H, W, ib]                    (layout NCHW<ib>c)
//   weight [O/ob, C/ib, KH, KW, ib, ob]            (layout OIHW<ib>i<ob>o), groups = 1
//          [C/b, 1, KH, KW, 1, b]                  (depthwise: groups = C, ib = ob = b)
//   result [N, O/ob, OH, OW, ob]                   (layout NCHW<ob>c)
//
// The output-channel block is innermost in both the weight and the result, so the kernel's
// vector runs along output channels: every lane does useful work whatever the image width, and
// each weight vector is one contiguous load (see conv_blocked_lower.cc).
#include <string>
#include <vector>

#include "ir/op.h"
#include "op/nn/nn_util.h"
#include "op/op_util.h"

namespace kiln::op {
namespace {

constexpr std::string_view kOp = "conv2d_nchwc";

// The data as [N, channel blocks, H, W, block]: NCHW<x>c as it is; NHWC (rank 4) is one block of
// all the channels.
struct BlockedDims {
  int64_t batch, blocks, height, width, block;
};

BlockedDims blocked_dims(const std::vector<int64_t>& d, bool nchw) {
  if (nchw) return {d[0], 1, d[2], d[3], d[1]};
  if (d.size() == 4) return {d[0], 1, d[1], d[2], d[3]};
  return {d[0], d[1], d[2], d[3], d[4]};
}

Type infer_conv2d_nchwc(const std::vector<Type>& args, const ir::Attrs& attrs) {
  const TensorType& data = tensor_arg(args, 0, kOp);
  const TensorType& weight = tensor_arg(args, 1, kOp);
  if (data.rank() != 4 && data.rank() != 5) {
    type_error(kOp, "data must be NCHW<x>c (rank 5) or NHWC (rank 4), got " + data.to_string());
  }
  require_rank(weight, 6, kOp, "weight");
  require_same_dtype(data, weight, kOp);
  if (!data.is_static() || !weight.is_static()) {
    type_error(kOp, "needs static shapes, got data " + data.to_string() + " and weight " +
                        weight.to_string());
  }
  // data_layout "NCHW": plain NCHW data read as one block of all its channels (a 3-channel image
  // needs no transform: the kernel reads data as broadcast scalars anyway); groups must be 1.
  const bool nchw = attrs.get_string("data_layout") == "NCHW";
  if (!nchw && !attrs.get_string("data_layout").empty()) {
    type_error(kOp, "data_layout must be \"\" (by rank) or \"NCHW\", got \"" +
                        attrs.get_string("data_layout") + "\"");
  }
  if (nchw && (data.rank() != 4 || attrs.get_int("groups") != 1)) {
    type_error(kOp, "data_layout NCHW needs rank-4 data and groups 1");
  }
  const bool nhwc = data.rank() == 4 && !nchw;
  const BlockedDims d = blocked_dims(data.static_shape(), nchw);
  const std::vector<int64_t> w = weight.static_shape();
  const std::vector<int64_t>& strides = nn::ints_attr(attrs, "strides", 2, kOp);
  const std::vector<int64_t>& padding = nn::ints_attr(attrs, "padding", 4, kOp);
  const std::vector<int64_t>& dilation = nn::ints_attr(attrs, "dilation", 2, kOp);
  int64_t groups = attrs.get_int("groups");
  nn::require_positive(strides, "strides", kOp);
  nn::require_non_negative(padding, "padding", kOp);
  nn::require_positive(dilation, "dilation", kOp);
  const int64_t channels = d.blocks * d.block;
  if (groups == 1) {
    if (w[1] != d.blocks || w[4] != d.block || (nhwc && w[0] != 1)) {
      type_error(kOp, "weight " + weight.to_string() + " does not match data " + data.to_string() +
                          " (expected [" + (nhwc ? "1" : "O/ob") + ", " + std::to_string(d.blocks) +
                          ", KH, KW, " + std::to_string(d.block) + ", " + (nhwc ? "O" : "ob") +
                          "])");
    }
  } else if (groups == channels) {
    if (w[0] != d.blocks || w[1] != 1 || w[4] != 1 || w[5] != d.block) {
      type_error(kOp, "depthwise weight " + weight.to_string() + " does not match data " +
                          data.to_string() + " (expected [" + std::to_string(d.blocks) +
                          ", 1, KH, KW, 1, " + std::to_string(d.block) + "])");
    }
  } else {
    type_error(kOp, "groups must be 1 or the channel count " + std::to_string(channels) + ", got " +
                        std::to_string(groups));
  }
  std::vector<Dim> spatial;
  for (size_t axis = 0; axis < 2; ++axis) {
    nn::Window window{w[2 + axis], strides[axis], dilation[axis], padding[axis], padding[axis + 2]};
    spatial.push_back(nn::window_output_dim(axis == 0 ? d.height : d.width, window, false,
                                            axis == 0 ? "height" : "width", kOp));
  }
  Shape out = nhwc ? Shape{d.batch, spatial[0], spatial[1], w[5]}
                   : Shape{d.batch, w[0], spatial[0], spatial[1], w[5]};
  return TensorType{data.dtype, out};
}

// Each output element is a dot product over (C/groups)*KH*KW weights.
int64_t conv2d_nchwc_macs(const std::vector<Type>& args, const ir::Attrs& /*attrs*/,
                          const Type& result) {
  if (!nn::all_static(args, result)) return 0;
  std::vector<int64_t> weight = args[1].as_tensor().static_shape();
  return result.as_tensor().numel() * weight[1] * weight[4] * weight[2] * weight[3];
}

}  // namespace

void register_conv_blocked_ops(ir::OpRegistry& registry) {
  std::vector<ir::AttrDef> attrs = nn::conv2d_window_attrs();  // groups: 1, or depthwise
  attrs.push_back(attr_string(
      "data_layout", std::string(""),
      "\"\": NCHW[x]c (rank 5) or NHWC (rank 4); \"NCHW\": plain NCHW data, one block"));
  ir::OpDef def =
      nn::make_op(std::string(kOp),
                  "2-D convolution on channel-blocked data: NCHW[x]c data, "
                  "OIHW[x]i[y]o weight, NCHW[y]c result",
                  2, 2, std::move(attrs), ir::OpPattern::kOutEWiseFusable, infer_conv2d_nchwc);
  def.macs = conv2d_nchwc_macs;
  registry.add(std::move(def));
}

}  // namespace kiln::op
