#include "tir/functor.h"

#include <gtest/gtest.h>

#include "tir/printer.h"

namespace kiln::tir {
namespace {

const DataType kF32{DType::kFloat32, 1};

TEST(TirFunctor, MutatorKeepsUnchangedNodes) {
  Buffer a = make_buffer("a", kF32, {8});
  Var iv = make_var("i");
  PrimExpr i(iv);
  Stmt body = make_for(iv, 0, 8, ForKind::kSerial,
                       make_seq({make_store(a, buffer_load(a, {i}) * 2.0f, {i}),
                                 make_if(i < 4, make_store(a, 0.0f, {i}))}));
  IRMutator identity;
  EXPECT_EQ(identity.mutate(body), body);
  PrimExpr expr = select(i < 3, floordiv(i, 2), min(i, 7));
  EXPECT_TRUE(identity.mutate(expr).same_as(expr));
}

TEST(TirFunctor, SubstituteReplacesOnlyMappedVariables) {
  Buffer a = make_buffer("a", kF32, {64});
  Var iv = make_var("i"), jv = make_var("j");
  PrimExpr i(iv), j(jv);
  Stmt body =
      make_for(jv, 0, 8, ForKind::kSerial, make_store(a, buffer_load(a, {i * 8 + j}), {i * 8 + j}));
  Stmt replaced = substitute(body, VarMap{{iv.get(), int_imm(3)}});
  EXPECT_EQ(to_text(replaced), "for (j, 0, 8) {\n  a[3 * 8 + j] = a[3 * 8 + j]\n}\n");
  EXPECT_EQ(substitute(body, VarMap{}), body);
}

TEST(TirFunctor, VariableUseAndCollection) {
  Var xv = make_var("x"), yv = make_var("y"), zv = make_var("z");
  PrimExpr x(xv), y(yv);
  PrimExpr expr = x * y + floormod(x, 3);
  EXPECT_TRUE(uses_var(expr, xv.get()));
  EXPECT_FALSE(uses_var(expr, zv.get()));
  std::vector<Var> vars = collect_vars(expr);
  ASSERT_EQ(vars.size(), 2u);
  EXPECT_EQ(vars[0], xv);
  EXPECT_EQ(vars[1], yv);
  Buffer a = make_buffer("a", kF32, {8});
  EXPECT_TRUE(uses_var(make_store(a, 1.0f, {x}), xv.get()));
}

TEST(TirFunctor, StructuralEquality) {
  Var xv = make_var("x"), other = make_var("x");
  PrimExpr x(xv);
  EXPECT_TRUE(structural_equal(x * 2 + 1, x * 2 + 1));
  EXPECT_FALSE(structural_equal(x * 2 + 1, x * 2 + 2));
  EXPECT_FALSE(structural_equal(x + 1, PrimExpr(other) + 1));  // variables by identity
  EXPECT_FALSE(structural_equal(floordiv(x, 2), x / 2));
  EXPECT_FALSE(structural_equal(float_imm(0.0), float_imm(-0.0)));
  EXPECT_TRUE(structural_equal(ramp(x, 1, 4), ramp(x, 1, 4)));
  EXPECT_FALSE(structural_equal(ramp(x, 1, 4), ramp(x, 1, 8)));
}

}  // namespace
}  // namespace kiln::tir
