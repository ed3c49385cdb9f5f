#include "transform/fold_constant.h"

#include "transform_test_util.h"

namespace kiln::transform {
namespace {

using test::f32_constant;
using test::f32_var;
using test::make_module;
using test::text;

TEST(TransformFoldConstant, FoldsConstantSubgraphsAndKeepsTheRest) {
  ir::Var x = f32_var("x", {2});
  ir::Constant a = f32_constant("a", {2}, {1, 2});
  ir::Constant b = f32_constant("b", {2}, {3, 4});
  ir::Expr sum = ir::call("add", {a, b}, {}, "sum");   // 4, 6
  ir::Expr scaled = ir::call("multiply", {sum, sum});  // 16, 36
  ir::Expr body = ir::call("add", {x, scaled});
  ir::Module module = make_module({x}, body);
  ir::Module folded = fold_constant(module);
  EXPECT_EQ(text(folded),
            "def @main(%x: float32[2]) -> float32[2] {\n"
            "  %0 = add(%x, $const_0) : float32[2]\n"
            "  return %0\n"
            "}\n"
            "constants (1, 2 values):\n"
            "  $const_0: float32[2] = [16, 36]\n"
            "outputs: y\n");
  test::expect_same_values(module, folded);
}

TEST(TransformFoldConstant, TupleGetItemOfATupleIsTheField) {
  ir::Var x = f32_var("x", {2});
  ir::Var y = f32_var("y", {2});
  ir::Expr tuple = ir::TupleNode::make({x, ir::call("relu", {y})});
  ir::Expr body = ir::call("add", {ir::TupleGetItemNode::make(tuple, 1), x});
  ir::Module folded = fold_constant(make_module({x, y}, body));
  EXPECT_EQ(text(folded),
            "def @main(%x: float32[2], %y: float32[2]) -> float32[2] {\n"
            "  %0 = relu(%y) : float32[2]\n"
            "  %1 = add(%0, %x) : float32[2]\n"
            "  return %1\n"
            "}\n"
            "outputs: y\n");
}

TEST(TransformFoldConstant, RespectsTheGrowthLimit) {
  // expand of a 1-element constant to 8192 elements would add a big weight: it stays a call.
  ir::Var x = f32_var("x", {8192});
  ir::Constant one = f32_constant("one", {1}, {1});
  ir::Expr wide = ir::call("expand", {one}, {{"shape", std::vector<int64_t>{8192}}});
  ir::Expr small = ir::call("expand", {one}, {{"shape", std::vector<int64_t>{16}}});
  ir::Expr body = ir::TupleNode::make({ir::call("add", {x, wide}), small});
  ir::Module folded = fold_constant(make_module({x}, body, {"a", "b"}));
  EXPECT_EQ(test::count_calls(folded, "expand"), 1);
  EXPECT_EQ(folded.constants().size(), 2u);  // `one` and the folded 16-element expand
}

TEST(TransformFoldConstant, LeavesCallsWithoutEvaluatorAndInputsAlone) {
  ir::Var x = f32_var("x", {1, 2, 4, 4});
  ir::Constant w = test::random_constant("w", {3, 2, 1, 1}, 1);
  ir::Constant c = test::random_constant("c", {1, 2, 4, 4}, 2);
  // conv2d has no reference evaluator: even on constants it stays a call.
  ir::Expr body = ir::call("add", {ir::call("conv2d", {c, w}), ir::call("conv2d", {x, w})});
  ir::Module module = make_module({x}, body);
  ir::Module folded = fold_constant(module);
  EXPECT_EQ(text(folded), text(module));
}

TEST(TransformFoldConstant, IntegerDivisionByZeroIsNotFolded) {
  ir::Var x = ir::VarNode::make("x", ir::tensor_type(DType::kInt32, {2}));
  Tensor numerator(DType::kInt32, {2});
  Tensor zero(DType::kInt32, {2});
  for (int64_t i = 0; i < 2; ++i) {
    numerator.set_element_from_int64(i, 4);
    zero.set_element_from_int64(i, 0);
  }
  ir::Expr quotient = ir::call(
      "divide", {ir::ConstantNode::make(numerator, "n"), ir::ConstantNode::make(zero, "z")});
  ir::Module folded = fold_constant(make_module({x}, ir::call("add", {x, quotient})));
  EXPECT_EQ(test::count_calls(folded, "divide"), 1);
}

}  // namespace
}  // namespace kiln::transform
