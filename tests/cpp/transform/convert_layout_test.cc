#include "transform/convert_layout.h"

#include "transform_test_util.h"

namespace kiln::transform {
namespace {

ir::Module small_cnn() {
  ir::Var x = test::f32_var("x", {1, 2, 4, 4});
  ir::Expr y = ir::call("conv2d", {x, test::random_constant("w", {3, 2, 1, 1}, 1)});
  y = ir::call("max_pool2d", {y}, {{"pool_size", std::vector<int64_t>{2, 2}}});
  return test::make_module({x}, y);
}

TEST(TransformConvertLayout, NchwIsTheImportersLayout) {
  ir::Module module = small_cnn();
  EXPECT_EQ(convert_layout(module, "NCHW").main(), module.main());
  EXPECT_EQ(convert_layout(module, "").main(), module.main());
}

TEST(TransformConvertLayout, NhwcConvolutionsWithHwioWeights) {
  ir::Module module = small_cnn();
  ir::Module nhwc = convert_layout(module, "NHWC");
  EXPECT_EQ(test::text(nhwc),
            "def @main(%x: float32[1, 2, 4, 4]) -> float32[1, 3, 3, 3] {\n"
            "  %0 = layout_transform(%x, dst_layout=\"NHWC\", src_layout=\"NCHW\") : "
            "float32[1, 4, 4, 2]\n"
            "  %1 = conv2d_nchwc(%0, $w, data_layout=\"\", dilation=[1, 1], groups=1, padding=[0, "
            "0, 0, 0], "
            "strides=[1, 1]) : float32[1, 4, 4, 3]\n"
            "  %2 = layout_transform(%1, dst_layout=\"NCHW\", src_layout=\"NHWC\") : "
            "float32[1, 3, 4, 4]\n"
            "  %3 = max_pool2d(%2, ceil_mode=0, dilation=[1, 1], layout=\"NCHW\", padding=[0, 0, "
            "0, 0], pool_size=[2, 2], strides=[1, 1]) : float32[1, 3, 3, 3]\n"
            "  return %3\n"
            "}\n"
            "constants (1, 6 values):\n"
            "  $w: float32[1, 1, 1, 1, 2, 3] = [0.994369626, -0.743751109, -0.527822018, "
            "0.865114748, 0.998081028, -0.206838548]\n"
            "outputs: y\n");
  test::expect_same_values(module, nhwc);
}

TEST(TransformConvertLayout, NhwcDepthwiseBiasAndReduction) {
  ir::Var x = test::f32_var("x", {1, 4, 5, 5});
  ir::Expr y = ir::call("conv2d", {x, test::random_constant("w", {4, 1, 3, 3}, 2)},
                        {{"groups", int64_t{4}}, {"padding", std::vector<int64_t>{1, 1, 1, 1}}});
  y = ir::call("bias_add", {y, test::random_constant("b", {4}, 3)});
  y = ir::call("relu", {y});
  y = ir::call("reduce_mean", {y}, {{"axes", std::vector<int64_t>{2, 3}}, {"keepdims", 0}});
  ir::Module module = test::make_module({x}, y);
  ir::Module nhwc = convert_layout(module, "NHWC");
  EXPECT_EQ(test::count_calls(nhwc, "conv2d_nchwc"), 1);
  // In, and nothing out: the mean over H and W is [N, C] in both layouts.
  EXPECT_EQ(test::count_calls(nhwc, "layout_transform"), 1);
  test::expect_same_values(module, nhwc);
}

TEST(TransformConvertLayout, UnknownLayoutsAreRejectedClearly) {
  try {
    convert_layout(small_cnn(), "NCWH");
    FAIL() << "NCWH was accepted";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("choose \"NCHW\" or \"NHWC\""), std::string::npos)
        << error.what();
  }
}

}  // namespace
}  // namespace kiln::transform
