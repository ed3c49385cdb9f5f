#include "tir/flatten.h"

#include <gtest/gtest.h>

#include "tir/printer.h"
#include "tir/simplify.h"

namespace kiln::tir {
namespace {

const DataType kF32{DType::kFloat32, 1};

TEST(Flatten, RowMajorOffsets) {
  Buffer a = make_buffer("a", kF32, {2, 3, 4, 5});
  Buffer s = make_buffer("s", kF32, {});
  Buffer out = make_buffer("out", kF32, {3, 4});
  Var nv = make_var("n"), hv = make_var("h"), wv = make_var("w");
  PrimExpr n(nv), h(hv), w(wv);
  Stmt body = make_for(
      nv, 0, 2, ForKind::kSerial,
      make_for(
          hv, 0, 3, ForKind::kSerial,
          make_for(wv, 0, 4, ForKind::kSerial,
                   make_store(out, buffer_load(a, {n, h, w, 2}) + buffer_load(s, {}), {h, w}))));
  PrimFunc func = flatten(PrimFunc{"f", {a, s, out}, body});
  EXPECT_EQ(to_text(func),
            "func f(a: float32[2, 3, 4, 5], s: float32[], out: float32[3, 4]) {\n"
            "  for (n, 0, 2) {\n"
            "    for (h, 0, 3) {\n"
            "      for (w, 0, 4) {\n"
            "        out[h * 4 + w] = a[n * 60 + (h * 20 + (w * 5 + 2))] + s[0]\n"
            "      }\n"
            "    }\n"
            "  }\n"
            "}\n");
  EXPECT_EQ(to_text(simplify(func)),
            "func f(a: float32[2, 3, 4, 5], s: float32[], out: float32[3, 4]) {\n"
            "  for (n, 0, 2) {\n"
            "    for (h, 0, 3) {\n"
            "      for (w, 0, 4) {\n"
            "        out[h * 4 + w] = a[n * 60 + h * 20 + w * 5 + 2] + s[0]\n"
            "      }\n"
            "    }\n"
            "  }\n"
            "}\n");
}

TEST(Flatten, FlatAccessesAreKept) {
  Buffer a = make_buffer("a", kF32, {4, 4});
  Buffer v = make_buffer("v", kF32, {16});
  Var iv = make_var("i");
  PrimExpr i(iv);
  Stmt body = make_store(v, buffer_load(a, {i}), {i});
  EXPECT_EQ(flatten(body), body);
}

}  // namespace
}  // namespace kiln::tir
