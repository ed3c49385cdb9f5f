#include "tir/unroll.h"

#include <gtest/gtest.h>

#include "tir/printer.h"
#include "tir/simplify.h"

namespace kiln::tir {
namespace {

const DataType kF32{DType::kFloat32, 1};

TEST(Unroll, ReplicatesStaticLoopsWithFreshInnerVariables) {
  Buffer a = make_buffer("a", kF32, {3, 8});
  Var iv = make_var("i"), jv = make_var("j"), kv = make_var("k");
  PrimExpr i(iv), j(jv), k(kv);
  Stmt body = make_for(
      iv, 0, 2, ForKind::kSerial,
      make_for(jv, 1, 3, ForKind::kUnrolled,
               make_for(kv, 0, i + 1, ForKind::kSerial, make_store(a, 1.0f, {j - 1, i * 4 + k}))));
  EXPECT_EQ(to_text(simplify(unroll(body))),
            "for (i, 0, 2) {\n"
            "  for (k, 0, i + 1) {\n"
            "    a[0, i * 4 + k] = 1f\n"
            "  }\n"
            "  for (k_1, 0, i + 1) {\n"
            "    a[1, i * 4 + k_1] = 1f\n"
            "  }\n"
            "  for (k_2, 0, i + 1) {\n"
            "    a[2, i * 4 + k_2] = 1f\n"
            "  }\n"
            "}\n");
}

TEST(Unroll, DynamicOrLongLoopsStaySerial) {
  Buffer a = make_buffer("a", kF32, {100});
  Var iv = make_var("i"), jv = make_var("j");
  PrimExpr i(iv), j(jv);
  Stmt dynamic = make_for(jv, 0, i, ForKind::kUnrolled, make_store(a, 1.0f, {j}));
  EXPECT_EQ(to_text(unroll(dynamic)), "for (j, 0, i) {\n  a[j] = 1f\n}\n");
  Stmt long_loop = make_for(jv, 0, 65, ForKind::kUnrolled, make_store(a, 1.0f, {j}));
  EXPECT_EQ(to_text(unroll(long_loop)), "for (j, 0, 65) {\n  a[j] = 1f\n}\n");
  EXPECT_EQ(to_text(unroll(long_loop, 100)).substr(0, 24), "a[0] = 1f\na[1] = 1f\na[2]");
}

TEST(Unroll, NonConstantMinIsAdded) {
  Buffer a = make_buffer("a", kF32, {100});
  Var iv = make_var("i"), jv = make_var("j");
  PrimExpr i(iv), j(jv);
  Stmt body = make_for(jv, i * 2, 2, ForKind::kUnrolled, make_store(a, 1.0f, {j}));
  EXPECT_EQ(to_text(simplify(unroll(body))), "a[i * 2] = 1f\na[i * 2 + 1] = 1f\n");
}

}  // namespace
}  // namespace kiln::tir
