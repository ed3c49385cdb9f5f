#include "tir/vectorize.h"

#include <gtest/gtest.h>

#include "tir/printer.h"
#include "tir/simplify.h"

namespace kiln::tir {
namespace {

const DataType kF32{DType::kFloat32, 1};

// vectorize, then simplify as lower_tir does, printed.
std::string vectorized(const Stmt& stmt) { return to_text(simplify(vectorize(stmt))); }

struct Fixture {
  Buffer a = make_buffer("a", kF32, {64});
  Buffer b = make_buffer("b", kF32, {16});
  Buffer out = make_buffer("out", kF32, {64});
  Var iv = make_var("i"), jv = make_var("j");
  PrimExpr i{iv}, j{jv};
};

TEST(Vectorize, ContiguousLoadsAndStoresBecomeRamps) {
  Fixture f;
  Stmt body = make_for(
      f.iv, 0, 4, ForKind::kSerial,
      make_for(
          f.jv, 0, 16, ForKind::kVectorized,
          make_store(f.out, buffer_load(f.a, {f.i * 16 + f.j}) + buffer_load(f.b, {f.j}) * 2.0f,
                     {f.i * 16 + f.j})));
  EXPECT_EQ(vectorized(body),
            "for (i, 0, 4) {\n"
            "  out[ramp(i * 16, 1, 16)] = a[ramp(i * 16, 1, 16)] + b[ramp(0, 1, 16)] * "
            "broadcast(2f, 16)\n"
            "}\n");
}

TEST(Vectorize, InvariantValuesAreBroadcast) {
  Fixture f;
  Var sv = make_var("s", kF32);
  Stmt body =
      make_for(f.iv, 0, 4, ForKind::kSerial,
               make_let(sv, buffer_load(f.b, {f.i}) * 0.5f,
                        make_for(f.jv, 0, 8, ForKind::kVectorized,
                                 make_store(f.out,
                                            max(buffer_load(f.a, {f.i * 8 + f.j}), PrimExpr(sv)) +
                                                intrinsic("exp", {buffer_load(f.b, {f.i})}),
                                            {f.i * 8 + f.j}))));
  EXPECT_EQ(vectorized(body),
            "for (i, 0, 4) {\n"
            "  let s: float32 = b[i] * 0.5f {\n"
            "    out[ramp(i * 8, 1, 8)] = max(a[ramp(i * 8, 1, 8)], broadcast(s, 8)) + "
            "broadcast(exp(b[i]), 8)\n"
            "  }\n"
            "}\n");
}

TEST(Vectorize, StridedAndGatherAccesses) {
  Fixture f;
  Stmt strided = make_for(f.jv, 0, 8, ForKind::kVectorized,
                          make_store(f.out, buffer_load(f.a, {f.j * 3 + 1}), {f.j * 2}));
  EXPECT_EQ(vectorized(strided), "out[ramp(0, 2, 8)] = a[ramp(1, 3, 8)]\n");
  Stmt gather = make_for(f.jv, 0, 8, ForKind::kVectorized,
                         make_store(f.out, buffer_load(f.a, {floormod(f.j * 5, 7)}), {f.j}));
  EXPECT_EQ(vectorized(gather),
            "out[ramp(0, 1, 8)] = a[floormod(ramp(0, 5, 8), broadcast(7, 8))]\n");
}

TEST(Vectorize, ComparisonsSelectAndCasts) {
  Fixture f;
  Buffer idx = make_buffer("idx", {DType::kInt32, 1}, {8});
  PrimExpr x = buffer_load(f.a, {f.j});
  Stmt body = make_for(f.jv, 0, 8, ForKind::kVectorized,
                       make_seq({make_store(f.out, select(x > 0.0f, x, cast(kF32, f.j)), {f.j}),
                                 make_store(idx, cast({DType::kInt32, 1}, f.j + 1), {f.j})}));
  EXPECT_EQ(vectorized(body),
            "out[ramp(0, 1, 8)] = select(a[ramp(0, 1, 8)] > broadcast(0f, 8), a[ramp(0, 1, 8)], "
            "float32x8(ramp(0, 1, 8)))\n"
            "idx[ramp(0, 1, 8)] = int32x8(ramp(1, 1, 8))\n");
}

TEST(Vectorize, IfIndependentOfTheLoopVariableStays) {
  Fixture f;
  Stmt body = make_for(f.jv, 0, 4, ForKind::kVectorized,
                       make_if(f.i < 2, make_store(f.out, 1.0f, {f.i * 4 + f.j}),
                               make_store(f.out, 2.0f, {f.i * 4 + f.j})));
  EXPECT_EQ(vectorized(body),
            "if (i < 2) {\n"
            "  out[ramp(i * 4, 1, 4)] = broadcast(1f, 4)\n"
            "} else {\n"
            "  out[ramp(i * 4, 1, 4)] = broadcast(2f, 4)\n"
            "}\n");
}

// Each of these must stay a (serial) loop: vectorizing would change the result or is unsupported.
TEST(Vectorize, FallsBackToSerialLoops) {
  Fixture f;
  Buffer c = make_buffer("c", kF32, {4});
  Var kv = make_var("k"), tv = make_var("t");
  PrimExpr k(kv);
  auto loop = [&](int64_t extent, Stmt body) {
    return make_for(f.jv, 0, extent, ForKind::kVectorized, std::move(body));
  };
  // A reduction over the vectorized variable.
  Stmt reduction = loop(8, make_store(c, buffer_load(c, {f.i}) + buffer_load(f.a, {f.j}), {f.i}));
  EXPECT_EQ(vectorized(reduction),
            "for (j, 0, 8) {\n"
            "  c[i] = c[i] + a[j]\n"
            "}\n");
  // A loop-carried dependence.
  Stmt carried = loop(8, make_store(f.a, buffer_load(f.a, {f.j}) + 1.0f, {f.j + 1}));
  EXPECT_EQ(vectorized(carried), "for (j, 0, 8) {\n  a[j + 1] = a[j] + 1f\n}\n");
  // Two stores to one buffer at different indices.
  Stmt two_stores =
      loop(8, make_seq({make_store(f.a, 1.0f, {f.j}), make_store(f.a, 2.0f, {f.j + 1})}));
  EXPECT_EQ(vectorized(two_stores), "for (j, 0, 8) {\n  a[j] = 1f\n  a[j + 1] = 2f\n}\n");
  // A store index that is not affine in the variable.
  Stmt scatter = loop(8, make_store(f.a, 1.0f, {floordiv(f.j, 2)}));
  EXPECT_EQ(vectorized(scatter), "for (j, 0, 8) {\n  a[floordiv(j, 2)] = 1f\n}\n");
  // A nested loop, an if and a let depending on the variable.
  Stmt nested = loop(4, make_for(kv, 0, 4, ForKind::kSerial, make_store(f.a, 1.0f, {f.j * 4 + k})));
  EXPECT_EQ(vectorized(nested),
            "for (j, 0, 4) {\n  for (k, 0, 4) {\n    a[j * 4 + k] = 1f\n  }\n}\n");
  Stmt guarded = loop(8, make_if(f.i * 8 + f.j != 60, make_store(f.a, 1.0f, {f.i * 8 + f.j})));
  EXPECT_EQ(vectorized(guarded),
            "for (j, 0, 8) {\n  if (i * 8 + j != 60) {\n    a[i * 8 + j] = 1f\n  }\n}\n");
  Stmt selected = loop(8, make_if(f.i * 8 + f.j < 60, make_store(f.a, 1.0f, {f.i * 8 + f.j}),
                                  make_store(f.a, 2.0f, {f.i * 8 + f.j})));
  EXPECT_EQ(vectorized(selected).substr(0, 31), "for (j, 0, 8) {\n  if (i * 8 + j");
  Stmt let = loop(8, make_let(tv, f.j * 2, make_store(f.a, 1.0f, {PrimExpr(tv)})));
  EXPECT_EQ(vectorized(let), "for (j, 0, 8) {\n  let t = j * 2 {\n    a[t] = 1f\n  }\n}\n");
  // Extents that are not constants or too long.
  Stmt dynamic = make_for(f.jv, 0, min(f.i, 8), ForKind::kVectorized, make_store(f.a, 1.0f, {f.j}));
  EXPECT_EQ(vectorized(dynamic), "for (j, 0, min(i, 8)) {\n  a[j] = 1f\n}\n");
  Stmt long_loop = loop(128, make_store(make_buffer("big", kF32, {128}), 1.0f, {f.j}));
  EXPECT_EQ(vectorized(long_loop), "for (j, 0, 128) {\n  big[j] = 1f\n}\n");
}

TEST(Vectorize, TailGuardsSplitIntoVectorAndSerialCode) {
  Fixture f;
  Var jo = make_var("j.outer");
  PrimExpr j = PrimExpr(jo) * 8 + f.j;
  Stmt body =
      make_for(jo, 0, 3, ForKind::kSerial,
               make_for(f.jv, 0, 8, ForKind::kVectorized,
                        make_if(j < 20, make_store(f.out, buffer_load(f.a, {j}) * 2.0f, {j}))));
  EXPECT_EQ(vectorized(body),
            "for (j.outer, 0, 3) {\n"
            "  if (j.outer * 8 + 7 < 20) {\n"
            "    out[ramp(j.outer * 8, 1, 8)] = a[ramp(j.outer * 8, 1, 8)] * broadcast(2f, 8)\n"
            "  } else {\n"
            "    for (j, 0, 8) {\n"
            "      if (j.outer * 8 + j < 20) {\n"
            "        out[j.outer * 8 + j] = a[j.outer * 8 + j] * 2f\n"
            "      }\n"
            "    }\n"
            "  }\n"
            "}\n");
}

TEST(Vectorize, TrivialExtents) {
  Fixture f;
  EXPECT_EQ(vectorized(make_for(f.jv, f.i, 1, ForKind::kVectorized, make_store(f.a, 1.0f, {f.j}))),
            "a[i] = 1f\n");
  EXPECT_EQ(vectorized(make_for(f.jv, 0, 0, ForKind::kVectorized, make_store(f.a, 1.0f, {f.j}))),
            "");
}

TEST(Vectorize, InnerVectorLoopInsideAnotherFallsBackOutside) {
  Fixture f;
  Stmt body =
      make_for(f.iv, 0, 4, ForKind::kVectorized,
               make_for(f.jv, 0, 4, ForKind::kVectorized, make_store(f.a, 1.0f, {f.i * 4 + f.j})));
  EXPECT_EQ(vectorized(body),
            "for (i, 0, 4) {\n"
            "  a[ramp(i * 4, 1, 4)] = broadcast(1f, 4)\n"
            "}\n");
}

}  // namespace
}  // namespace kiln::tir
