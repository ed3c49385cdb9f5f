#include "tir/printer.h"

#include <gtest/gtest.h>

#include <cmath>

namespace kiln::tir {
namespace {

const DataType kF32{DType::kFloat32, 1};

TEST(TirPrinter, FunctionWithLoopKinds) {
  Buffer a = make_buffer("a", kF32, {4, 16});
  Buffer out = make_buffer("out", kF32, {4, 16});
  Var iv = make_var("i"), jv = make_var("j");
  PrimExpr i(iv), j(jv);
  Stmt body = make_for(iv, 0, 4, ForKind::kParallel,
                       make_for(jv, 0, 16, ForKind::kVectorized,
                                make_store(out, buffer_load(a, {i, j}) * 2.0f + 1.0f, {i, j})));
  PrimFunc func{"add_one", {a, out}, body};
  EXPECT_EQ(to_text(func),
            "func add_one(a: float32[4, 16], out: float32[4, 16]) {\n"
            "  parallel for (i, 0, 4) {\n"
            "    vectorized for (j, 0, 16) {\n"
            "      out[i, j] = a[i, j] * 2f + 1f\n"
            "    }\n"
            "  }\n"
            "}\n");
}

TEST(TirPrinter, ParenthesesFollowPrecedence) {
  PrimExpr x(make_var("x")), y(make_var("y"));
  EXPECT_EQ(to_text((x + y) * 2), "(x + y) * 2");
  EXPECT_EQ(to_text(x + y * 2), "x + y * 2");
  EXPECT_EQ(to_text(x - (y - 1)), "x - (y - 1)");
  EXPECT_EQ(to_text((x - y) - 1), "x - y - 1");
  EXPECT_EQ(to_text(x / (y * 2)), "x / (y * 2)");
  EXPECT_EQ(to_text(x * -3), "x * -3");
  EXPECT_EQ(to_text(floordiv(x + 1, 4) + floormod(x, 4)), "floordiv(x + 1, 4) + floormod(x, 4)");
  EXPECT_EQ(to_text(logical_or(logical_and(x < 1, y >= 2), logical_not(x == y))),
            "x < 1 && y >= 2 || !(x == y)");
  EXPECT_EQ(to_text(logical_and(logical_or(x<1, y> 2), x != y)), "(x < 1 || y > 2) && x != y");
  EXPECT_EQ(to_text(select(x < y, min(x, y), max(x, 0))), "select(x < y, min(x, y), max(x, 0))");
}

TEST(TirPrinter, ImmediatesAndCasts) {
  EXPECT_EQ(to_text(int_imm(3, {DType::kInt32, 1})), "3i32");
  EXPECT_EQ(to_text(int_imm(7, {DType::kUInt8, 1})), "7u8");
  EXPECT_EQ(to_text(int_imm(1, bool_type())), "true");
  EXPECT_EQ(to_text(float_imm(0.5)), "0.5f");
  EXPECT_EQ(to_text(float_imm(0.1, {DType::kFloat64, 1})), "0.1f64");
  EXPECT_EQ(to_text(float_imm(1e-5)), "1e-05f");
  EXPECT_EQ(to_text(float_imm(-INFINITY)), "float32(-inf)");
  PrimExpr x(make_var("x"));
  EXPECT_EQ(to_text(cast({DType::kFloat32, 1}, x)), "float32(x)");
  EXPECT_EQ(to_text(intrinsic("exp", {cast({DType::kFloat32, 1}, x)})), "exp(float32(x))");
}

TEST(TirPrinter, VectorsAndStatements) {
  Buffer a = make_buffer("a", kF32, {64});
  Buffer t = make_buffer("t", kF32, {8}, BufferScope::kLocal);
  PrimExpr i(make_var("i"));
  Var v = make_var("v", kF32);
  PrimExpr index = ramp(i * 8, 1, 8);
  Stmt body = make_allocate(
      t,
      make_seq({make_store(t, buffer_load(a, {index}) + broadcast(1.0f, 8), {ramp(0, 1, 8)}),
                make_if(i < 4, make_let(v, buffer_load(a, {i}), make_store(a, PrimExpr(v), {i})),
                        make_store(a, 0.0f, {i})),
                std::make_shared<const EvaluateNode>(intrinsic("sqrt", {buffer_load(a, {i})}))}));
  EXPECT_EQ(to_text(body, 1),
            "  allocate local t: float32[8] {\n"
            "    t[ramp(0, 1, 8)] = a[ramp(i * 8, 1, 8)] + broadcast(1f, 8)\n"
            "    if (i < 4) {\n"
            "      let v: float32 = a[i] {\n"
            "        a[i] = v\n"
            "      }\n"
            "    } else {\n"
            "      a[i] = 0f\n"
            "    }\n"
            "    sqrt(a[i])\n"
            "  }\n");
}

TEST(TirPrinter, DistinctVariablesWithOneNameAreToldApart) {
  Var i1 = make_var("i"), i2 = make_var("i");
  PrimExpr e1(i1), e2(i2);
  Buffer a = make_buffer("a", kF32, {4, 4});
  Stmt body = make_for(i1, 0, 4, ForKind::kSerial,
                       make_for(i2, 0, 4, ForKind::kUnrolled, make_store(a, 0.0f, {e1, e2})));
  EXPECT_EQ(to_text(body),
            "for (i, 0, 4) {\n"
            "  unrolled for (i_1, 0, 4) {\n"
            "    a[i, i_1] = 0f\n"
            "  }\n"
            "}\n");
}

}  // namespace
}  // namespace kiln::tir
