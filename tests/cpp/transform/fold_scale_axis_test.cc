#include "transform/fold_scale_axis.h"

#include <limits>

#include "transform/fold_constant.h"
#include "transform/simplify_inference.h"
#include "transform_test_util.h"

namespace kiln::transform {
namespace {

using test::f32_constant;
using test::f32_var;
using test::random_constant;

ir::Expr conv(const ir::Expr& x, const ir::Expr& w) {
  return ir::call("conv2d", {x, w}, {{"padding", std::vector<int64_t>{1, 1, 1, 1}}}, "conv");
}

TEST(TransformFoldScaleAxis, ScaleAfterConvGoesIntoTheWeights) {
  ir::Var x = f32_var("x", {1, 2, 4, 4});
  ir::Constant w = f32_constant("w", {2, 2, 1, 1}, {1, 2, 3, 4});
  ir::Constant s = f32_constant("s", {2, 1, 1}, {10, -1});
  ir::Module module = test::make_module({x}, ir::call("multiply", {conv(x, w), s}));
  ir::Module folded = fold_scale_axis(module);
  EXPECT_EQ(test::text(folded),
            "def @main(%x: float32[1, 2, 4, 4]) -> float32[1, 2, 6, 6] {\n"
            "  %0 = conv2d(%x, $w, dilation=[1, 1], groups=1, padding=[1, 1, 1, 1], strides=[1, "
            "1]) : float32[1, 2, 6, 6]\n"
            "  return %0\n"
            "}\n"
            "constants (1, 4 values):\n"
            "  $w: float32[2, 2, 1, 1] = [10, 20, -3, -4]\n"
            "outputs: y\n");
  test::expect_same_values(module, folded);
}

TEST(TransformFoldScaleAxis, BatchNormAfterConvAndBiasFoldsCompletely) {
  // conv -> bias_add -> batch_norm -> relu, as the ONNX importer produces it.
  ir::Var x = f32_var("x", {1, 3, 5, 5});
  ir::Expr y = ir::call(
      "bias_add", {conv(x, random_constant("w", {4, 3, 3, 3}, 1)), random_constant("b", {4}, 2)});
  y = ir::call("batch_norm",
               {y, random_constant("gamma", {4}, 3), random_constant("beta", {4}, 4),
                random_constant("mean", {4}, 5), random_constant("var", {4}, 6, 0.5, 2.0)},
               {}, "bn");
  ir::Module module = test::make_module({x}, ir::call("relu", {y}));
  ir::Module folded = fold_constant(fold_scale_axis(simplify_inference(module)));
  EXPECT_EQ(test::text(folded),
            "def @main(%x: float32[1, 3, 5, 5]) -> float32[1, 4, 5, 5] {\n"
            "  %0 = conv2d(%x, $w, dilation=[1, 1], groups=1, padding=[1, 1, 1, 1], strides=[1, "
            "1]) : float32[1, 4, 5, 5]\n"
            "  %1 = bias_add(%0, $b, axis=1) : float32[1, 4, 5, 5]\n"
            "  %2 = relu(%1) : float32[1, 4, 5, 5]\n"
            "  return %2\n"
            "}\n"
            "constants (2, 112 values):\n"
            "  $w: float32[4, 3, 3, 3]\n"
            "  $b: float32[4] = [0.640318274, -0.503582537, -0.434178203, 0.084552981]\n"
            "outputs: y\n");
  test::expect_same_values(module, folded, 1e-4, 1e-5);
}

TEST(TransformFoldScaleAxis, DenseScaleAndShiftAlongTheLastAxis) {
  ir::Var x = f32_var("x", {2, 3});
  ir::Constant w = random_constant("w", {4, 3}, 1);
  ir::Expr y = ir::call("dense", {x, w});
  y = ir::call("multiply", {random_constant("s", {1, 4}, 2), y});
  y = ir::call("add", {y, random_constant("t", {4}, 3)});
  ir::Module module = test::make_module({x}, y);
  ir::Module folded = fold_scale_axis(module);
  EXPECT_EQ(test::text(folded),
            "def @main(%x: float32[2, 3]) -> float32[2, 4] {\n"
            "  %0 = dense(%x, $w) : float32[2, 4]\n"
            "  %1 = bias_add(%0, $t, axis=1) : float32[2, 4]\n"
            "  return %1\n"
            "}\n"
            "constants (2, 16 values):\n"
            "  $w: float32[4, 3]\n"
            "  $t: float32[4] = [-0.858550251, 0.679898083, -0.757342815, 0.138622656]\n"
            "outputs: y\n");
  test::expect_same_values(module, folded);
}

TEST(TransformFoldScaleAxis, ScalarScaleFolds) {
  ir::Var x = f32_var("x", {1, 2, 3, 3});
  ir::Expr y = ir::call("multiply", {conv(x, random_constant("w", {2, 2, 3, 3}, 1)),
                                     f32_constant("half", {}, {0.5f})});
  ir::Module module = test::make_module({x}, y);
  ir::Module folded = fold_scale_axis(module);
  EXPECT_EQ(test::count_calls(folded, "multiply"), 0);
  test::expect_same_values(module, folded);
}

TEST(TransformFoldScaleAxis, LeavesWhatItCannotFold) {
  ir::Var x = f32_var("x", {1, 2, 3, 3});
  // A scale along the width, a non-constant scale, and a conv with a second user.
  ir::Expr along_width = ir::call(
      "multiply", {conv(x, random_constant("w", {2, 2, 3, 3}, 1)), random_constant("sw", {3}, 2)});
  ir::Expr by_input = ir::call("multiply", {conv(x, random_constant("w1", {2, 2, 3, 3}, 5)), x});
  ir::Expr shared_conv = conv(x, random_constant("w2", {2, 2, 3, 3}, 3));
  ir::Expr scaled_shared = ir::call("multiply", {shared_conv, random_constant("s", {2, 1, 1}, 4)});
  ir::Expr body =
      ir::TupleNode::make({along_width, by_input, scaled_shared, ir::call("relu", {shared_conv})});
  ir::Module module = test::make_module({x}, body, {"a", "b", "c", "d"});
  ir::Module folded = fold_scale_axis(module);
  EXPECT_EQ(test::text(folded), test::text(module));
}

TEST(TransformFoldScaleAxis, AddAfterSharedConvBecomesBiasAdd) {
  // The add only replaces itself, so the conv may have other users.
  ir::Var x = f32_var("x", {1, 2, 3, 3});
  ir::Expr c = conv(x, random_constant("w", {2, 2, 3, 3}, 1));
  ir::Expr shifted = ir::call("add", {c, random_constant("t", {1, 2, 1, 1}, 2)});
  ir::Module module =
      test::make_module({x}, ir::TupleNode::make({shifted, ir::call("relu", {c})}), {"a", "b"});
  ir::Module folded = fold_scale_axis(module);
  EXPECT_EQ(test::count_calls(folded, "add"), 0);
  EXPECT_EQ(test::count_calls(folded, "bias_add"), 1);
  test::expect_same_values(module, folded);
}

TEST(TransformFoldScaleAxis, InfiniteScaleIsNotFolded) {
  ir::Var x = f32_var("x", {1, 2, 3, 3});
  ir::Constant s = f32_constant("s", {2, 1, 1}, {1, std::numeric_limits<float>::infinity()});
  ir::Expr y = ir::call("multiply", {conv(x, random_constant("w", {2, 2, 3, 3}, 1)), s});
  ir::Module module = test::make_module({x}, y);
  EXPECT_EQ(test::text(fold_scale_axis(module)), test::text(module));
}

}  // namespace
}  // namespace kiln::transform
