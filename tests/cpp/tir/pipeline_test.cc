#include "tir/pipeline.h"

#include <gtest/gtest.h>

#include "tir/printer.h"

namespace kiln::tir {
namespace {

const DataType kF32{DType::kFloat32, 1};

// What te lowering hands over for out[i, j] = relu(sum_r a[i, j + r] * w[r]) with j split by 8
// (inner vectorized) and r unrolled: multi-dimensional accesses, a reduction into out.
PrimFunc conv1d() {
  Buffer a = make_buffer("a", kF32, {4, 18});
  Buffer w = make_buffer("w", kF32, {3});
  Buffer out = make_buffer("out", kF32, {4, 16});
  Var iv = make_var("i"), jo = make_var("j.outer"), ji = make_var("j.inner"), rv = make_var("r");
  PrimExpr i(iv), j = PrimExpr(jo) * 8 + PrimExpr(ji), r(rv);
  Stmt init = make_for(ji, 0, 8, ForKind::kVectorized, make_store(out, 0.0f, {i, j}));
  Stmt update = make_for(
      rv, 0, 3, ForKind::kUnrolled,
      make_for(ji, 0, 8, ForKind::kVectorized,
               make_store(
                   out, buffer_load(out, {i, j}) + buffer_load(a, {i, j + r}) * buffer_load(w, {r}),
                   {i, j})));
  Stmt relu = make_for(ji, 0, 8, ForKind::kVectorized,
                       make_store(out, max(buffer_load(out, {i, j}), 0.0f), {i, j}));
  Stmt body = make_for(iv, 0, 4, ForKind::kParallel,
                       make_for(jo, 0, 2, ForKind::kSerial, make_seq({init, update, relu})));
  return PrimFunc{"conv1d", {a, w, out}, body};
}

TEST(TirPipeline, LowersToFlatVectorCode) {
  EXPECT_EQ(
      to_text(lower_tir(conv1d())),
      "func conv1d(a: float32[4, 18], w: float32[3], out: float32[4, 16]) {\n"
      "  parallel for (i, 0, 4) {\n"
      "    for (j.outer, 0, 2) {\n"
      "      out[ramp(i * 16 + j.outer * 8, 1, 8)] = broadcast(0f, 8)\n"
      "      out[ramp(i * 16 + j.outer * 8, 1, 8)] = out[ramp(i * 16 + j.outer * 8, 1, 8)] + "
      "a[ramp(i * 18 + j.outer * 8, 1, 8)] * broadcast(w[0], 8)\n"
      "      out[ramp(i * 16 + j.outer * 8, 1, 8)] = out[ramp(i * 16 + j.outer * 8, 1, 8)] + "
      "a[ramp(i * 18 + j.outer * 8 + 1, 1, 8)] * broadcast(w[1], 8)\n"
      "      out[ramp(i * 16 + j.outer * 8, 1, 8)] = out[ramp(i * 16 + j.outer * 8, 1, 8)] + "
      "a[ramp(i * 18 + j.outer * 8 + 2, 1, 8)] * broadcast(w[2], 8)\n"
      "      out[ramp(i * 16 + j.outer * 8, 1, 8)] = max(out[ramp(i * 16 + j.outer * 8, 1, 8)], "
      "broadcast(0f, 8))\n"
      "    }\n"
      "  }\n"
      "}\n");
}

TEST(TirPipeline, OptionsTurnVectorizeAndUnrollOffAndReportSteps) {
  std::vector<std::string> steps;
  TirOptions options;
  options.vectorize = false;
  options.unroll = false;
  options.after_step = [&](std::string_view step, const PrimFunc&) { steps.emplace_back(step); };
  std::string text = to_text(lower_tir(conv1d(), options));
  EXPECT_EQ(text.find("vectorized"), std::string::npos);
  EXPECT_EQ(text.find("unrolled"), std::string::npos);
  EXPECT_EQ(text.find("ramp"), std::string::npos);
  EXPECT_NE(text.find("for (r, 0, 3)"), std::string::npos);
  EXPECT_EQ(steps, (std::vector<std::string>{"simplify", "remove_no_op", "flatten", "simplify",
                                             "vectorize", "unroll", "simplify", "remove_no_op"}));
}

}  // namespace
}  // namespace kiln::tir
