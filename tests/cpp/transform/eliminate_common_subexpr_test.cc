#include "transform/eliminate_common_subexpr.h"

#include "transform_test_util.h"

namespace kiln::transform {
namespace {

using test::f32_constant;
using test::f32_var;

TEST(TransformEliminateCommonSubexpr, MergesEqualCallsAndSmallEqualConstants) {
  ir::Var x = f32_var("x", {2, 3});
  // Two copies of the same constant, and the same computation written twice on top of them.
  ir::Expr a = ir::call("add", {x, f32_constant("c0", {3}, {1, 2, 3})});
  ir::Expr b = ir::call("add", {x, f32_constant("c1", {3}, {1, 2, 3})});
  ir::Expr ta =
      ir::call("transpose", {ir::call("relu", {a})}, {{"axes", std::vector<int64_t>{1, 0}}});
  ir::Expr tb =
      ir::call("transpose", {ir::call("relu", {b})}, {{"axes", std::vector<int64_t>{1, 0}}});
  // Same op and input, other attributes: stays separate.
  ir::Expr other = ir::call("transpose", {ir::call("relu", {b})});
  ir::Module module = test::make_module({x}, ir::TupleNode::make({ta, tb, other}), {"a", "b", "c"});
  ir::Module merged = eliminate_common_subexpr(module);
  EXPECT_EQ(test::text(merged),
            "def @main(%x: float32[2, 3]) -> (float32[3, 2], float32[3, 2], float32[3, 2]) {\n"
            "  %0 = add(%x, $c0) : float32[2, 3]\n"
            "  %1 = relu(%0) : float32[2, 3]\n"
            "  %2 = transpose(%1, axes=[1, 0]) : float32[3, 2]\n"
            "  %3 = transpose(%1, axes=[]) : float32[3, 2]\n"
            "  %4 = (%2, %2, %3) : (float32[3, 2], float32[3, 2], float32[3, 2])\n"
            "  return %4\n"
            "}\n"
            "constants (1, 3 values):\n"
            "  $c0: float32[3] = [1, 2, 3]\n"
            "outputs: a, b, c\n");
  test::expect_same_values(module, merged);
}

TEST(TransformEliminateCommonSubexpr, MergesTupleAccessesButNotInputs) {
  ir::Var x = f32_var("x", {4});
  ir::Var y = f32_var("y", {4});
  ir::Expr split_a = ir::call("split", {x}, {{"sections", std::vector<int64_t>{2, 2}}});
  ir::Expr split_b = ir::call("split", {x}, {{"sections", std::vector<int64_t>{2, 2}}});
  ir::Expr first = ir::TupleGetItemNode::make(split_a, 0);
  ir::Expr again = ir::TupleGetItemNode::make(split_b, 0);
  ir::Expr body = ir::TupleNode::make(
      {ir::call("add", {first, again}), ir::call("add", {x, y}), ir::call("add", {y, x})});
  ir::Module module = test::make_module({x, y}, body, {"a", "b", "c"});
  ir::Module merged = eliminate_common_subexpr(module);
  EXPECT_EQ(test::count_calls(merged, "split"), 1);
  EXPECT_EQ(test::count_calls(merged, "add"), 3);  // add(x, y) and add(y, x) are not merged
  test::expect_same_values(module, merged);
}

TEST(TransformEliminateCommonSubexpr, LargeConstantsAreNotCompared) {
  ir::Var x = f32_var("x", {32768});
  ir::Expr body = ir::call("add", {test::random_constant("big0", {32768}, 1),
                                   test::random_constant("big1", {32768}, 1)});
  ir::Module merged = eliminate_common_subexpr(test::make_module({x}, ir::call("add", {x, body})));
  EXPECT_EQ(merged.constants().size(), 2u);
}

}  // namespace
}  // namespace kiln::transform
