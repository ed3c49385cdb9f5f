#include "transform/infer_types.h"

#include "transform_test_util.h"

namespace kiln::transform {
namespace {

TEST(TransformInferTypes, KeepsAWellTypedModuleAsItIs) {
  ir::Var x = test::f32_var("x", {1, 4});
  ir::Expr body =
      ir::call("relu", {ir::call("add", {x, test::f32_constant("b", {4}, {1, 2, 3, 4})})});
  ir::Module module = test::make_module({x}, body);
  ir::Module inferred = infer_types(module);
  EXPECT_EQ(inferred.main()->body.get(), module.main()->body.get());  // nothing was remade
  EXPECT_EQ(test::text(inferred), test::text(module));
}

TEST(TransformInferTypes, ReinfersAfterAnInputChanges) {
  // A graph rebuilt on a new input shape through the mutator: every type follows.
  ir::Var x = test::f32_var("x", {1, 4});
  ir::Expr body =
      ir::call("reduce_sum", {ir::call("relu", {x})}, {{"axes", std::vector<int64_t>{1}}});
  ir::Module module = test::make_module({x}, body);
  ir::Var wider = test::f32_var("x", {3, 4});
  struct Replace : ir::ExprMutator {
    ir::Var from, to;
    ir::Expr rewrite(const ir::Expr& node, const std::vector<ir::Expr>& children) override {
      if (node == from) return to;
      return rebuild(node, children);
    }
  } replace;
  replace.from = x;
  replace.to = wider;
  ir::Module rebuilt = test::make_module({wider}, replace.mutate(body));
  ir::Module inferred = infer_types(rebuilt);
  EXPECT_EQ(test::text(inferred),
            "def @main(%x: float32[3, 4]) -> float32[3, 1] {\n"
            "  %0 = relu(%x) : float32[3, 4]\n"
            "  %1 = reduce_sum(%0, axes=[1], keepdims=1) : float32[3, 1]\n"
            "  return %1\n"
            "}\n"
            "outputs: y\n");
}

}  // namespace
}  // namespace kiln::transform
