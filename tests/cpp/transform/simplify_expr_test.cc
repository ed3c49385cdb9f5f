#include "transform/simplify_expr.h"

#include "transform_test_util.h"

namespace kiln::transform {
namespace {

using test::f32_var;
using Ints = std::vector<int64_t>;

TEST(TransformSimplifyExpr, RemovesIdentityDataMovement) {
  ir::Var x = f32_var("x", {2, 3});
  ir::Expr y = ir::call("reshape", {x}, {{"newshape", Ints{2, 3}}});
  y = ir::call("transpose", {y}, {{"axes", Ints{0, 1}}});
  y = ir::call("cast", {y}, {{"dtype", std::string("float32")}});
  y = ir::call("expand", {y}, {{"shape", Ints{1, 3}}});
  y = ir::call("pad", {y}, {{"pads", Ints{0, 0, 0, 0}}});
  y = ir::call("squeeze", {y});  // no size-1 dims
  ir::Module module = test::make_module({x}, ir::call("relu", {y}));
  ir::Module simplified = simplify_expr(module);
  EXPECT_EQ(test::text(simplified),
            "def @main(%x: float32[2, 3]) -> float32[2, 3] {\n"
            "  %0 = relu(%x) : float32[2, 3]\n"
            "  return %0\n"
            "}\n"
            "outputs: y\n");
}

TEST(TransformSimplifyExpr, PadThatShiftsTheDataStays) {
  ir::Var x = f32_var("x", {4});
  ir::Module module = test::make_module({x}, ir::call("pad", {x}, {{"pads", Ints{1, -1}}}));
  EXPECT_EQ(test::text(simplify_expr(module)), test::text(module));
}

TEST(TransformSimplifyExpr, CollapsesReshapeChains) {
  ir::Var x = f32_var("x", {2, 3, 4});
  ir::Expr y = ir::call("reshape", {x}, {{"newshape", Ints{6, 4}}});
  y = ir::call("unsqueeze", {y}, {{"axes", Ints{0}}});
  y = ir::call("reshape", {y}, {{"newshape", Ints{4, -1}}});
  ir::Expr back = ir::call("reshape", {ir::call("reshape", {x}, {{"newshape", Ints{24}}})},
                           {{"newshape", Ints{2, 3, 4}}});
  ir::Module module =
      test::make_module({x}, ir::TupleNode::make({y, ir::call("relu", {back})}), {"a", "b"});
  ir::Module simplified = simplify_expr(module);
  EXPECT_EQ(test::text(simplified),
            "def @main(%x: float32[2, 3, 4]) -> (float32[4, 6], float32[2, 3, 4]) {\n"
            "  %0 = reshape(%x, allowzero=0, newshape=[4, 6]) : float32[4, 6]\n"
            "  %1 = relu(%x) : float32[2, 3, 4]\n"
            "  %2 = (%0, %1) : (float32[4, 6], float32[2, 3, 4])\n"
            "  return %2\n"
            "}\n"
            "outputs: a, b\n");
  test::expect_same_values(module, simplified);
}

TEST(TransformSimplifyExpr, AdjacentTransposesComposeOrCancel) {
  ir::Var x = f32_var("x", {2, 3, 4, 5});
  ir::Expr to_nhwc = ir::call("transpose", {x}, {{"axes", Ints{0, 2, 3, 1}}});
  ir::Expr to_nchw = ir::call("transpose", {to_nhwc}, {{"axes", Ints{0, 3, 1, 2}}});
  ir::Expr swapped = ir::call("transpose", {to_nhwc}, {{"axes", Ints{1, 0, 2, 3}}});
  ir::Expr reversed_twice = ir::call("transpose", {ir::call("transpose", {x})});
  ir::Module module = test::make_module({x},
                                        ir::TupleNode::make({ir::call("relu", {to_nchw}), swapped,
                                                             ir::call("exp", {reversed_twice})}),
                                        {"a", "b", "c"});
  ir::Module simplified = simplify_expr(module);
  EXPECT_EQ(
      test::text(simplified),
      "def @main(%x: float32[2, 3, 4, 5]) -> (float32[2, 3, 4, 5], float32[4, 2, 5, 3], float32[2, "
      "3, 4, 5]) {\n"
      "  %0 = relu(%x) : float32[2, 3, 4, 5]\n"
      "  %1 = transpose(%x, axes=[2, 0, 3, 1]) : float32[4, 2, 5, 3]\n"
      "  %2 = exp(%x) : float32[2, 3, 4, 5]\n"
      "  %3 = (%0, %1, %2) : (float32[2, 3, 4, 5], float32[4, 2, 5, 3], float32[2, 3, 4, 5])\n"
      "  return %3\n"
      "}\n"
      "outputs: a, b, c\n");
  test::expect_same_values(module, simplified);
}

TEST(TransformSimplifyExpr, SymbolicReshapeChainKeepsItsType) {
  ir::TensorType type{DType::kFloat32, {ir::Dim::symbol("n"), 4}};
  ir::Var x = ir::VarNode::make("x", type);
  ir::Expr y = ir::call("reshape", {x}, {{"newshape", Ints{-1, 2, 2}}});
  y = ir::call("reshape", {y}, {{"newshape", Ints{-1, 4}}});
  ir::Module module = test::make_module({x}, ir::call("relu", {y}));
  ir::Module simplified = simplify_expr(module);
  EXPECT_TRUE(ir::verify(simplified).empty());
  EXPECT_EQ(simplified.main()->body->type(), module.main()->body->type());
  EXPECT_LE(test::count_calls(simplified, "reshape"), 1);
}

}  // namespace
}  // namespace kiln::transform
