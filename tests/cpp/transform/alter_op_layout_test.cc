#include "transform/alter_op_layout.h"

#include "transform/fold_constant.h"
#include "transform_test_util.h"

namespace kiln::transform {
namespace {

using test::f32_var;
using test::random_constant;

ir::Expr conv(const ir::Expr& x, const ir::Expr& w, int64_t groups = 1) {
  return ir::call("conv2d", {x, w},
                  {{"padding", std::vector<int64_t>{1, 1, 1, 1}}, {"groups", groups}}, "conv");
}

TEST(TransformAlterOpLayout, ChannelBlockRule) {
  EXPECT_EQ(channel_block(64, 16), 16);
  EXPECT_EQ(channel_block(24, 16), 8);
  EXPECT_EQ(channel_block(20, 16), 4);
  EXPECT_EQ(channel_block(3, 16), 3);
  EXPECT_EQ(channel_block(17, 16), 0);
  EXPECT_EQ(channel_block(64, 8), 8);
}

TEST(TransformAlterOpLayout, ConvBiasReluPoolStayBlocked) {
  ir::Var x = f32_var("x", {1, 3, 8, 8});
  ir::Expr y = ir::call(
      "bias_add", {conv(x, random_constant("w", {32, 3, 3, 3}, 1)), random_constant("b", {32}, 2)});
  y = ir::call("relu", {y});
  y = ir::call(
      "max_pool2d", {y},
      {{"pool_size", std::vector<int64_t>{2, 2}}, {"strides", std::vector<int64_t>{2, 2}}});
  y = ir::call("reduce_mean", {y}, {{"axes", std::vector<int64_t>{-1, -2}}, {"keepdims", 0}});
  ir::Module module = test::make_module({x}, y);
  ir::Module altered = alter_op_layout(module, 16);
  EXPECT_EQ(
      test::text(altered),
      "def @main(%x: float32[1, 3, 8, 8]) -> float32[1, 32] {\n"
      "  %0 = conv2d_nchwc(%x, $w, data_layout=\"NCHW\", dilation=[1, 1], groups=1, "
      "padding=[1, 1, 1, 1], strides=[1, 1]) : float32[1, 2, 8, 8, 16]\n"
      "  %1 = add(%0, $b) : float32[1, 2, 8, 8, 16]\n"
      "  %2 = relu(%1) : float32[1, 2, 8, 8, 16]\n"
      "  %3 = max_pool2d(%2, ceil_mode=0, dilation=[1, 1], layout=\"NCHW16c\", padding=[0, 0, "
      "0, 0], pool_size=[2, 2], strides=[2, 2]) : float32[1, 2, 4, 4, 16]\n"
      "  %4 = reduce_mean(%3, axes=[2, 3], keepdims=0) : float32[1, 2, 16]\n"
      "  %5 = layout_transform(%4, dst_layout=\"NC\", src_layout=\"NC16c\") : float32[1, "
      "32]\n"
      "  return %5\n"
      "}\n"
      "constants (2, 896 values):\n"
      "  $w: float32[2, 1, 3, 3, 3, 16]\n"
      "  $b: float32[1, 2, 1, 1, 16]\n"
      "outputs: y\n");
  test::expect_same_values(module, altered);
}

TEST(TransformAlterOpLayout, DepthwiseAndResidualAdd) {
  ir::Var x = f32_var("x", {1, 16, 6, 6});
  ir::Expr a = conv(x, random_constant("w1", {16, 16, 3, 3}, 3));
  ir::Expr b = conv(a, random_constant("dw", {16, 1, 3, 3}, 4), 16);
  ir::Expr y = ir::call("add", {a, b});
  y = ir::call("multiply", {y, random_constant("s", {16, 1, 1}, 5)});
  ir::Module module = test::make_module({x}, y);
  ir::Module altered = alter_op_layout(module, 16);
  EXPECT_EQ(test::count_calls(altered, "conv2d_nchwc"), 2);
  EXPECT_EQ(test::count_calls(altered, "conv2d"), 0);
  // In at the input, out at the output: nothing in between.
  EXPECT_EQ(test::count_calls(altered, "layout_transform"), 2);
  test::expect_same_values(module, altered);
}

TEST(TransformAlterOpLayout, UnblockableConvolutionsStayNchw) {
  // 17 output channels have no block; groups = 2 is neither dense nor depthwise.
  ir::Var x = f32_var("x", {1, 4, 5, 5});
  ir::Expr y = conv(x, random_constant("w", {17, 4, 3, 3}, 6));
  ir::Expr z = conv(x, random_constant("g", {8, 2, 3, 3}, 7), 2);
  ir::Module module = test::make_module({x}, ir::TupleNode::make({y, z}), {"y", "z"});
  ir::Module altered = alter_op_layout(module, 16);
  EXPECT_EQ(test::count_calls(altered, "conv2d_nchwc"), 0);
  EXPECT_EQ(test::count_calls(altered, "layout_transform"), 0);
  EXPECT_EQ(test::text(altered), test::text(module));
}

TEST(TransformAlterOpLayout, OtherConsumersReadThePlainValueOnce) {
  // Two non-blocked consumers (a softmax and a transpose) of one blocked convolution share one
  // transform back to NCHW.
  ir::Var x = f32_var("x", {1, 8, 4, 4});
  ir::Expr c = conv(x, random_constant("w", {8, 8, 3, 3}, 8));
  ir::Expr s = ir::call("softmax", {c}, {{"axis", int64_t{1}}});
  ir::Expr t = ir::call("transpose", {c}, {{"axes", std::vector<int64_t>{0, 2, 3, 1}}});
  ir::Module module = test::make_module({x}, ir::TupleNode::make({s, t}), {"s", "t"});
  ir::Module altered = alter_op_layout(module, 8);
  EXPECT_EQ(test::count_calls(altered, "layout_transform"), 2);  // in, and back once
  test::expect_same_values(module, altered);
}

TEST(TransformAlterOpLayout, DenseBecomesMatmulOnTheTransposedWeight) {
  ir::Var x = f32_var("x", {3, 5});
  ir::Expr y = ir::call("dense", {x, random_constant("w", {4, 5}, 9)});
  y = ir::call("bias_add", {y, random_constant("b", {4}, 10)}, {{"axis", int64_t{-1}}});
  ir::Module module = test::make_module({x}, y);
  ir::Module altered = alter_op_layout(module, 16);
  EXPECT_EQ(test::count_calls(altered, "dense"), 0);
  EXPECT_EQ(test::count_calls(altered, "matmul"), 1);
  EXPECT_EQ(test::count_calls(altered, "transpose"), 0);  // folded: $w is [5, 4] now
  EXPECT_NE(test::text(altered).find("$w: float32[5, 4]"), std::string::npos)
      << test::text(altered);
  test::expect_same_values(module, altered);
  // A weight computed at run time stays a dense.
  ir::Var w = f32_var("w", {4, 5});
  ir::Module runtime_weight = test::make_module({x, w}, ir::call("dense", {x, w}));
  EXPECT_EQ(test::count_calls(alter_op_layout(runtime_weight, 16), "dense"), 1);
}

}  // namespace
}  // namespace kiln::transform
