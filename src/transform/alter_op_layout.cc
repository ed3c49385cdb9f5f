#include "transform/alter_op_layout.h"

#include <map>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "ir/functor.h"
#include "ir/op.h"
#include "kiln/error.h"
#include "op/layout.h"
#include "transform/fold_constant.h"
#include "transform/pass_util.h"

namespace kiln::transform {

int64_t channel_block(int64_t channels, int lanes) {
  for (int64_t block = lanes; block >= 4; block /= 2) {
    if (channels % block == 0) return block;
  }
  return channels < lanes ? channels : 0;
}

namespace {

using op::Layout;

// A value in a blocked layout, and the layout the rest of the graph knows it in.
struct Blocked {
  ir::Expr expr;
  std::string layout;        // "NCHW16c", "NC16c", "NHWC"
  std::string plain_layout;  // "NCHW", "NC"
};

std::string blocked_name(const std::string& plain, int64_t block) {
  return plain + std::to_string(block) + "c";
}

// A transformed constant keeps the constant's name (the weight it is).
ir::Expr transform(const ir::Expr& value, const std::string& src, const std::string& dst) {
  const auto* constant = ir::as<ir::ConstantNode>(value);
  return fold_if_constant(
      ir::call("layout_transform", {value}, {{"src_layout", src}, {"dst_layout", dst}}),
      constant != nullptr ? constant->name : "");
}

bool is_float32_static(const ir::Expr& expr) {
  const ir::Type& type = expr->type();
  // float32 only: the blocked schedules accumulate in the data type, and half types must sum in
  // float32 (their computes widen; see lower_util.h).
  return type.is_tensor() && type.as_tensor().is_static() &&
         type.as_tensor().dtype == DType::kFloat32;
}

class LayoutAlterer final : public ir::ExprMutator {
 public:
  // lanes > 0: NCHW<x>c blocks for that vector width; lanes == 0: NHWC.
  explicit LayoutAlterer(int lanes) : lanes_(lanes) {}

 protected:
  // Returns the node in its original layout; records in blocked_ the blocked form when there is
  // one. A plain form that nobody uses (every consumer takes the blocked one) is unreachable in
  // the result and disappears.
  ir::Expr rewrite(const ir::Expr& node, const std::vector<ir::Expr>& new_children) override {
    if (const auto* call = ir::as<ir::CallNode>(node)) {
      if (lanes_ > 0 && call->op.name == "dense") {
        if (std::optional<ir::Expr> packed = pack_dense(*call, new_children)) return *packed;
      }
      if (std::optional<Blocked> blocked = block_call(*call)) {
        ir::Expr plain = blocked->layout == blocked->plain_layout
                             ? blocked->expr
                             : transform(blocked->expr, blocked->layout, blocked->plain_layout);
        blocked_[node.get()] = std::move(*blocked);
        return plain;
      }
    }
    return rebuild(node, new_children);
  }

 private:
  const Blocked* find_blocked(const ir::Expr& original) const {
    auto it = blocked_.find(original.get());
    return it == blocked_.end() ? nullptr : &it->second;
  }

  // The rewritten NCHW value `original` in `layout` (a transform when it is plain or in another
  // layout). One transform per (value, layout), however many convolutions read it.
  ir::Expr as_layout(const ir::Expr& original, const std::string& layout) {
    const Blocked* blocked = find_blocked(original);
    if (blocked != nullptr && blocked->layout == layout) return blocked->expr;
    ir::Expr& cached = transformed_inputs_[{original.get(), layout}];
    if (!cached) cached = transform(memo_.at(original.get()), "NCHW", layout);
    return cached;
  }

  // dense(x, W[N, K]) with a constant float32 W becomes matmul(x, Wt[K, N]), Wt transposed here,
  // at compile time: the kernel's vectors run along N, which must be contiguous in the right
  // operand; with W as given, dense would transpose it into a scratch buffer on every run (a
  // strided copy of the whole weight).
  std::optional<ir::Expr> pack_dense(const ir::CallNode& call,
                                     const std::vector<ir::Expr>& new_children) const {
    const auto* weight = ir::as<ir::ConstantNode>(new_children[1]);
    if (weight == nullptr || weight->value.dtype() != DType::kFloat32 ||
        weight->value.ndim() != 2 || !is_float32_static(new_children[0])) {
      return std::nullopt;
    }
    ir::Expr transposed = fold_if_constant(
        ir::call("transpose", {new_children[1]}, {{"axes", std::vector<int64_t>{1, 0}}}),
        weight->name);
    if (ir::as<ir::ConstantNode>(transposed) == nullptr) return std::nullopt;  // too big to fold
    return ir::call("matmul", {new_children[0], transposed}, {}, call.source_name);
  }

  std::optional<Blocked> block_call(const ir::CallNode& call) {
    const std::string& op = call.op.name;
    if (op == "conv2d") return block_conv(call);
    if (op == "bias_add") return block_bias_add(call);
    if (call.op.pattern == ir::OpPattern::kElemwise && call.args.size() == 1) {
      return follow_unary(call);
    }
    if ((call.op.pattern == ir::OpPattern::kBroadcast ||
         call.op.pattern == ir::OpPattern::kElemwise) &&
        call.args.size() == 2) {
      return follow_binary(call);
    }
    if (op == "max_pool2d" || op == "avg_pool2d") return follow_pool(call);
    if (call.op.pattern == ir::OpPattern::kReduction && op.rfind("reduce_", 0) == 0) {
      return follow_spatial_reduction(call);
    }
    return std::nullopt;
  }

  std::optional<Blocked> block_conv(const ir::CallNode& conv) {
    const ir::Expr& data = conv.args[0];
    const ir::Expr& weight = conv.args[1];
    const ir::Type& result = conv.type();
    if (!is_float32_static(data) || !result.is_tensor() || !result.as_tensor().is_static() ||
        ir::as<ir::ConstantNode>(weight) == nullptr) {
      return std::nullopt;
    }
    const std::vector<int64_t> in = data->type().as_tensor().static_shape();
    const std::vector<int64_t> w = weight->type().as_tensor().static_shape();
    const int64_t groups = conv.attrs.get_int("groups");
    const bool depthwise = groups > 1 && groups == in[1] && w[0] == in[1] && w[1] == 1;
    if (groups != 1 && !depthwise) return std::nullopt;
    if (lanes_ == 0) {  // NHWC: one block of all the channels
      std::string weight_layout =
          depthwise ? "OIHW1i" + std::to_string(w[0]) + "o"
                    : "OIHW" + std::to_string(in[1]) + "i" + std::to_string(w[0]) + "o";
      ir::Expr packed_weight = transform(weight_memo(weight), "OIHW", weight_layout);
      ir::Expr nhwc_conv = ir::call("conv2d_nchwc", {as_layout(data, "NHWC"), packed_weight},
                                    conv.attrs, conv.source_name);
      return Blocked{nhwc_conv, "NHWC", "NCHW"};
    }
    int64_t out_block = channel_block(w[0], lanes_);
    int64_t in_block = depthwise ? out_block : channel_block(in[1], lanes_);
    if (out_block == 0 || in_block == 0) return std::nullopt;

    std::string weight_layout =
        depthwise ? "OIHW1i" + std::to_string(out_block) + "o"
                  : "OIHW" + std::to_string(in_block) + "i" + std::to_string(out_block) + "o";
    ir::Expr packed_weight = transform(weight_memo(weight), "OIHW", weight_layout);
    ir::Attrs attrs = conv.attrs;
    // A plain image of fewer than 4 channels is read in NCHW as it is (the kernel reads its data
    // as broadcast scalars): blocking it would be a transform with vectors of 1-3 lanes.
    ir::Expr conv_data;
    if (!depthwise && in_block == in[1] && in[1] < 4 && find_blocked(data) == nullptr) {
      attrs.set("data_layout", std::string("NCHW"));
      conv_data = memo_.at(data.get());
    } else {
      conv_data = as_layout(data, blocked_name("NCHW", in_block));
    }
    ir::Expr blocked_conv =
        ir::call("conv2d_nchwc", {conv_data, packed_weight}, std::move(attrs), conv.source_name);
    return Blocked{blocked_conv, blocked_name("NCHW", out_block), "NCHW"};
  }

  const ir::Expr& weight_memo(const ir::Expr& original) const { return memo_.at(original.get()); }

  // A constant that broadcasts against NCHW data per channel ([C], viewed as [C, 1, 1] by
  // bias_add; [C, 1, 1]; [1, C, 1, 1]) or as a scalar, in `layout`; nullopt otherwise.
  std::optional<ir::Expr> blocked_constant(const ir::Expr& original, int64_t channels,
                                           const std::string& layout, bool is_bias) const {
    const auto* constant = ir::as<ir::ConstantNode>(original);
    if (constant == nullptr) return std::nullopt;
    std::vector<int64_t> shape = constant->value.shape();
    int64_t numel = constant->value.numel();
    if (numel == 1) {
      return fold_if_constant(
          ir::call("reshape", {original}, {{"newshape", std::vector<int64_t>{}}}), constant->name);
    }
    bool per_channel =
        numel == channels && (is_bias ? shape.size() == 1
                                      : (shape.size() == 3 && shape[0] == channels) ||
                                            (shape.size() == 4 && shape[1] == channels));
    if (!per_channel) return std::nullopt;
    ir::Expr as_nchw = fold_if_constant(
        ir::call("reshape", {original}, {{"newshape", std::vector<int64_t>{1, channels, 1, 1}}}),
        constant->name);
    return transform(as_nchw, "NCHW", layout);
  }

  std::optional<Blocked> block_bias_add(const ir::CallNode& call) {
    const Blocked* data = find_blocked(call.args[0]);
    if (data == nullptr || data->plain_layout != "NCHW") return std::nullopt;
    int64_t axis = call.attrs.get_int("axis");
    if (axis != 1 && axis != -3) return std::nullopt;
    int64_t channels = call.args[0]->type().as_tensor().static_shape()[1];
    std::optional<ir::Expr> bias = blocked_constant(call.args[1], channels, data->layout, true);
    if (!bias) return std::nullopt;
    return Blocked{ir::call("add", {data->expr, *bias}, {}, call.source_name), data->layout,
                   data->plain_layout};
  }

  std::optional<Blocked> follow_unary(const ir::CallNode& call) {
    const Blocked* data = find_blocked(call.args[0]);
    if (data == nullptr) return std::nullopt;
    ir::Expr result = ir::CallNode::make(call.op, {data->expr}, call.attrs, call.source_name);
    return Blocked{result, data->layout, data->plain_layout};
  }

  std::optional<Blocked> follow_binary(const ir::CallNode& call) {
    const Blocked* lhs = find_blocked(call.args[0]);
    const Blocked* rhs = find_blocked(call.args[1]);
    const Blocked* lead = lhs != nullptr ? lhs : rhs;
    if (lead == nullptr || lead->plain_layout != "NCHW") return std::nullopt;
    const ir::TensorType& out = call.type().as_tensor();
    if (!out.is_static() || out.rank() != 4) return std::nullopt;
    for (const ir::Expr& arg : call.args) {
      if (!arg->type().is_tensor() || !arg->type().as_tensor().is_static()) return std::nullopt;
    }
    const std::vector<int64_t> out_shape = out.static_shape();
    std::vector<ir::Expr> args;
    for (const ir::Expr& arg : call.args) {
      const Blocked* blocked = find_blocked(arg);
      if (blocked != nullptr) {
        // The same layout, and no broadcast of the blocked operand itself.
        if (blocked->layout != lead->layout ||
            arg->type().as_tensor().static_shape() != out_shape) {
          return std::nullopt;
        }
        args.push_back(blocked->expr);
        continue;
      }
      std::optional<ir::Expr> constant =
          blocked_constant(arg, out_shape[1], lead->layout, /*is_bias=*/false);
      if (constant) {
        args.push_back(*constant);
        continue;
      }
      // A plain operand of the full shape (a residual from outside the blocked region) joins the
      // blocked layout: one transform of it, shared by its blocked users, keeps the epilogue in
      // the convolution's kernel, where transforming the result back would split it.
      if (arg->type().as_tensor().static_shape() != out_shape) return std::nullopt;
      args.push_back(as_layout(arg, lead->layout));
    }
    ir::Expr result = ir::CallNode::make(call.op, std::move(args), call.attrs, call.source_name);
    return Blocked{result, lead->layout, lead->plain_layout};
  }

  // Windowed pooling computes in the blocked layout as well (its layout attribute); NHWC pooling
  // is not there yet, so an NHWC value goes back to NCHW for it.
  std::optional<Blocked> follow_pool(const ir::CallNode& call) {
    const Blocked* data = find_blocked(call.args[0]);
    if (data == nullptr || data->plain_layout != "NCHW" || data->layout == "NHWC") {
      return std::nullopt;
    }
    ir::Attrs attrs = call.attrs;
    attrs.set("layout", data->layout);
    ir::Expr result = ir::CallNode::make(call.op, {data->expr}, attrs, call.source_name);
    return Blocked{result, data->layout, data->plain_layout};
  }

  // reduce_*(x, axes=[2, 3]) keeps the channel blocks: [N, C/x, 1, 1, x] with keepdims, else
  // [N, C/x, x] (layout NC<x>c). In NHWC it reduces axes 1 and 2: [N, 1, 1, C], or [N, C].
  std::optional<Blocked> follow_spatial_reduction(const ir::CallNode& call) {
    const Blocked* data = find_blocked(call.args[0]);
    if (data == nullptr || data->plain_layout != "NCHW") return std::nullopt;
    std::vector<int64_t> axes = call.attrs.get_ints("axes");
    for (int64_t& axis : axes) axis = axis < 0 ? axis + 4 : axis;
    if (!(axes == std::vector<int64_t>{2, 3} || axes == std::vector<int64_t>{3, 2})) {
      return std::nullopt;
    }
    // Positive axes where H and W are: negative ones would count from the block axis.
    Layout layout = Layout::parse(data->layout);
    ir::Attrs attrs = call.attrs;
    attrs.set("axes",
              std::vector<int64_t>{layout.primal_position('H'), layout.primal_position('W')});
    ir::Expr result = ir::CallNode::make(call.op, {data->expr}, attrs, call.source_name);
    if (call.attrs.get_int("keepdims") != 0) {
      return Blocked{result, data->layout, data->plain_layout};
    }
    int64_t block = layout.block_size('C');
    return Blocked{result, block > 1 ? blocked_name("NC", block) : "NC", "NC"};
  }

  int lanes_;
  std::unordered_map<const ir::ExprNode*, Blocked> blocked_;
  std::map<std::pair<const ir::ExprNode*, std::string>, ir::Expr> transformed_inputs_;
};

}  // namespace

ir::Module alter_op_layout(const ir::Module& module, int lanes) {
  KILN_CHECK(lanes > 0) << "alter_op_layout: lanes must be positive";
  LayoutAlterer alterer(lanes);
  return mutate_main(module, alterer);
}

ir::Module convert_to_nhwc(const ir::Module& module) {
  LayoutAlterer alterer(0);
  return mutate_main(module, alterer);
}

}  // namespace kiln::transform
