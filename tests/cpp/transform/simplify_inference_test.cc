#include "transform/simplify_inference.h"

#include "transform_test_util.h"

namespace kiln::transform {
namespace {

using test::f32_constant;
using test::f32_var;

// batch_norm of x with per-channel parameters chosen so that scale and shift are exact:
// scale = gamma / sqrt(var + eps) = [2, 0.5], shift = beta - mean * scale = [1, -2].
ir::Module batch_norm_module(const test::Ints& shape, int64_t axis) {
  ir::Var x = f32_var("x", shape);
  ir::Expr bn = ir::call("batch_norm",
                         {x, f32_constant("gamma", {2}, {4, 1}), f32_constant("beta", {2}, {3, -1}),
                          f32_constant("mean", {2}, {1, 2}), f32_constant("var", {2}, {3, 3})},
                         {{"axis", axis}, {"epsilon", 1.0}}, "bn");
  return test::make_module({x}, bn);
}

TEST(TransformSimplifyInference, BatchNormBecomesScaleAndShiftAlongTheChannelAxis) {
  ir::Module module = batch_norm_module({1, 2, 3, 3}, 1);
  ir::Module simplified = simplify_inference(module);
  EXPECT_EQ(test::text(simplified),
            "def @main(%x: float32[1, 2, 3, 3]) -> float32[1, 2, 3, 3] {\n"
            "  %0 = multiply(%x, $bn.scale) : float32[1, 2, 3, 3]\n"
            "  %1 = add(%0, $bn.shift) : float32[1, 2, 3, 3]\n"
            "  return %1\n"
            "}\n"
            "constants (2, 4 values):\n"
            "  $bn.scale: float32[2, 1, 1] = [2, 0.5]\n"
            "  $bn.shift: float32[2, 1, 1] = [1, -2]\n"
            "outputs: y\n");
  test::expect_same_values(module, simplified);
}

TEST(TransformSimplifyInference, LastAxisNeedsNoReshape) {
  ir::Module module = batch_norm_module({3, 2}, -1);
  ir::Module simplified = simplify_inference(module);
  EXPECT_EQ(test::text(simplified),
            "def @main(%x: float32[3, 2]) -> float32[3, 2] {\n"
            "  %0 = multiply(%x, $bn.scale) : float32[3, 2]\n"
            "  %1 = add(%0, $bn.shift) : float32[3, 2]\n"
            "  return %1\n"
            "}\n"
            "constants (2, 4 values):\n"
            "  $bn.scale: float32[2] = [2, 0.5]\n"
            "  $bn.shift: float32[2] = [1, -2]\n"
            "outputs: y\n");
  test::expect_same_values(module, simplified);
}

TEST(TransformSimplifyInference, NonConstantParametersStayAsArithmetic) {
  ir::Var x = f32_var("x", {2, 3, 4});
  ir::Var gamma = f32_var("gamma", {3});
  ir::Constant c = test::random_constant("c", {3}, 3, 0.5, 1.5);
  ir::Expr bn = ir::call("batch_norm", {x, gamma, c, c, c}, {{"epsilon", 1e-3}});
  ir::Module module = test::make_module({x, gamma}, bn);
  ir::Module simplified = simplify_inference(module);
  EXPECT_EQ(test::count_calls(simplified, "batch_norm"), 0);
  test::expect_same_values(module, simplified);
}

TEST(TransformSimplifyInference, LayerNormStays) {
  ir::Var x = f32_var("x", {2, 4});
  ir::Module module =
      test::make_module({x}, ir::call("layer_norm", {x, test::random_constant("g", {4}, 1)}));
  EXPECT_EQ(test::text(simplify_inference(module)), test::text(module));
}

}  // namespace
}  // namespace kiln::transform
