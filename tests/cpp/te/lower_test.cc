#include "te/lower.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <random>

#include "kiln/error.h"
#include "tir/printer.h"
#include "tir_exec.h"

namespace kiln::te {
namespace {

using Data = std::vector<double>;
const DataType kF32{DType::kFloat32, 1};
const DataType kI32{DType::kInt32, 1};

Data random_data(size_t n, unsigned seed, bool integers = false) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<double> real(-1.0, 1.0);
  std::uniform_int_distribution<int> whole(-50, 50);
  Data data(n);
  for (double& x : data) x = integers ? whole(rng) : static_cast<float>(real(rng));
  return data;
}

// Runs `func` with `inputs` and fresh outputs of the given sizes; returns the outputs.
std::vector<Data> execute(const tir::PrimFunc& func, std::vector<Data> inputs,
                          const std::vector<size_t>& output_sizes) {
  std::vector<Data> outputs;
  for (size_t n : output_sizes) outputs.emplace_back(n, std::nan(""));
  std::vector<Data*> args;
  for (Data& d : inputs) args.push_back(&d);
  for (Data& d : outputs) args.push_back(&d);
  test::TirExec().run(func, args);
  return outputs;
}

void expect_near(const Data& actual, const Data& expected, double tolerance = 1e-5) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t k = 0; k < actual.size(); ++k) {
    ASSERT_NEAR(actual[k], expected[k], tolerance) << "at element " << k;
  }
}

// ---- matmul ---------------------------------------------------------------------------------

struct Matmul {
  int64_t m, n, k;
  Tensor a, b, c;
  Matmul(int64_t m, int64_t n, int64_t k) : m(m), n(n), k(k) {
    a = placeholder({m, k}, kF32, "A");
    b = placeholder({k, n}, kF32, "B");
    IterVar r = reduce_axis(k, "k");
    c = compute({m, n}, [&](const Indices& i) { return sum(a(i[0], r.var) * b(r.var, i[1]), {r}); },
                "C", "matmul", {"i", "j"});
  }
  void check(const Schedule& s) const {
    tir::PrimFunc func = lower(s, {a, b, c}, "matmul");
    Data da = random_data(m * k, 1), db = random_data(k * n, 2);
    Data expected(m * n, 0.0);
    for (int64_t i = 0; i < m; ++i) {
      for (int64_t j = 0; j < n; ++j) {
        double acc = 0;
        for (int64_t r = 0; r < k; ++r) acc += da[i * k + r] * db[r * n + j];
        expected[i * n + j] = acc;
      }
    }
    expect_near(execute(func, {da, db}, {size_t(m * n)})[0], expected, 1e-4);
  }
};

TEST(Lower, MatmulGoldenText) {
  Matmul mm(4, 6, 5);
  Schedule s({mm.c});
  s.split("C", "j", 4);
  EXPECT_EQ(tir::to_text(lower(s, {mm.a, mm.b, mm.c}, "matmul")),
            "func matmul(A: float32[4, 5], B: float32[5, 6], C: float32[4, 6]) {\n"
            "  for (i, 0, 4) {\n"
            "    for (j.outer, 0, 2) {\n"
            "      for (j.inner, 0, 4) {\n"
            "        if (j.outer * 4 + j.inner < 6) {\n"
            "          C[i, j.outer * 4 + j.inner] = 0f\n"
            "          for (k, 0, 5) {\n"
            "            C[i, j.outer * 4 + j.inner] = C[i, j.outer * 4 + j.inner] + A[i, k] * "
            "B[k, j.outer * 4 + j.inner]\n"
            "          }\n"
            "        }\n"
            "      }\n"
            "    }\n"
            "  }\n"
            "}\n");
  mm.check(s);
}

TEST(Lower, MatmulUnscheduled) {
  Matmul mm(5, 7, 3);
  mm.check(Schedule({mm.c}));
}

TEST(Lower, MatmulTiledWithTailsAndReduceOutsideDataLoops) {
  for (auto [m, n, k] : {std::tuple{10, 13, 7}, std::tuple{8, 16, 6}, std::tuple{3, 2, 1}}) {
    Matmul mm(m, n, k);
    Schedule s({mm.c});
    std::vector<std::string> t = s.tile("C", "i", "j", 4, 8);
    auto [ko, ki] = s.split("C", "k", 3);
    // The reduce loop k.outer sits outside the data-parallel inner tile: the init is a separate
    // nest over i.inner, j.inner, guarded like the update.
    s.reorder("C", {t[0], t[1], ko, t[2], ki, t[3]});
    s.vectorize("C", t[3]);
    s.parallel("C", t[0]);
    SCOPED_TRACE(tir::to_text(lower(s, {mm.a, mm.b, mm.c}, "matmul")));
    mm.check(s);
  }
}

TEST(Lower, MatmulCacheWriteComputeAt) {
  for (auto [m, n, k] : {std::tuple{16, 16, 16}, std::tuple{10, 13, 7}}) {
    Matmul mm(m, n, k);
    Schedule s({mm.c});
    std::string local = s.cache_write("C");
    std::vector<std::string> t = s.tile("C", "i", "j", 4, 8);
    std::string fused = s.fuse("C", {t[0], t[1]});
    s.parallel("C", fused);
    s.vectorize("C", t[3]);
    s.compute_at(local, "C", fused);
    auto [ko, ki] = s.split(local, "k", 3);
    s.reorder(local, {ko, "i", ki, "j"});
    s.unroll(local, ki);
    s.vectorize(local, "j");
    tir::PrimFunc func = lower(s, {mm.a, mm.b, mm.c}, "matmul");
    std::string text = tir::to_text(func);
    SCOPED_TRACE(text);
    // The local tile is allocated inside the parallel loop, sized to one tile.
    EXPECT_NE(text.find("C.local: float32[4, 8]"), std::string::npos);
    mm.check(s);
  }
}

TEST(Lower, CacheWriteAtRoot) {
  Matmul mm(6, 5, 4);
  Schedule s({mm.c});
  s.cache_write("C");
  mm.check(s);
}

// ---- elementwise ----------------------------------------------------------------------------

TEST(Lower, SplitsThatDoNotDivideAreGuarded) {
  for (auto [n, factor] : {std::pair{7, 3}, std::pair{16, 5}, std::pair{16, 4}, std::pair{5, 9}}) {
    Tensor a = placeholder({n}, kF32, "a");
    Tensor b = compute(
        {n}, [&](const Indices& i) { return a(i[0]) * 2.0f + 1.0f; }, "b");
    Schedule s({b});
    auto [outer, inner] = s.split("b", "i0", factor);
    s.split("b", inner, 2);  // nested split of the tail loop
    tir::PrimFunc func = lower(s, {a, b}, "f");
    SCOPED_TRACE(tir::to_text(func));
    Data da = random_data(n, 3), expected(n);
    for (int k = 0; k < n; ++k) expected[k] = da[k] * 2 + 1;
    test::TirExec exec;
    Data out(n, std::nan(""));
    exec.run(func, {&da, &out});
    expect_near(out, expected);
    EXPECT_EQ(exec.stores(), n);  // every element once: the guards drop exactly the tail
  }
}

TEST(Lower, SplitGoldenText) {
  Tensor a = placeholder({7}, kF32, "a");
  Tensor b = compute(
      {7}, [&](const Indices& i) { return a(i[0]) + 1.0f; }, "b");
  Schedule s({b});
  s.split("b", "i0", 3);
  EXPECT_EQ(tir::to_text(lower(s, {a, b}, "f")),
            "func f(a: float32[7], b: float32[7]) {\n"
            "  for (i0.outer, 0, 3) {\n"
            "    for (i0.inner, 0, 3) {\n"
            "      if (i0.outer * 3 + i0.inner < 7) {\n"
            "        b[i0.outer * 3 + i0.inner] = a[i0.outer * 3 + i0.inner] + 1f\n"
            "      }\n"
            "    }\n"
            "  }\n"
            "}\n");
}

TEST(Lower, GuardSitsInsideTheInnermostLoopItUses) {
  Tensor a = placeholder({7, 4}, kF32, "a");
  Tensor b = compute(
      {7, 4}, [&](const Indices& i) { return a(i[0], i[1]); }, "b");
  Schedule s({b});
  auto [outer, inner] = s.split("b", "i0", 3);
  s.reorder("b", {outer, inner, "i1"});
  std::string text = tir::to_text(lower(s, {a, b}, "f"));
  // The guard on i0 is outside the i1 loop.
  EXPECT_LT(text.find("if (i0.outer * 3 + i0.inner < 7)"), text.find("for (i1, 0, 4)")) << text;
}

TEST(Lower, FuseParallelVectorize) {
  Tensor a = placeholder({3, 5, 6}, kF32, "a");
  Tensor b = compute(
      {3, 5, 6}, [&](const Indices& i) { return a(i[0], i[1], i[2]) * 3.0f; }, "b");
  Schedule s({b});
  std::string fused = s.fuse("b", {"i0", "i1"});
  s.parallel("b", fused);
  auto [outer, inner] = s.split("b", "i2", 4);
  s.vectorize("b", inner);
  tir::PrimFunc func = lower(s, {a, b}, "f");
  std::string text = tir::to_text(func);
  EXPECT_NE(text.find("parallel for (i0.i1.fused, 0, 15)"), std::string::npos) << text;
  EXPECT_NE(text.find("vectorized for (i2.inner, 0, 4)"), std::string::npos) << text;
  Data da = random_data(90, 4), expected(90);
  for (int k = 0; k < 90; ++k) expected[k] = da[k] * 3;
  expect_near(execute(func, {da}, {90})[0], expected);
}

TEST(Lower, FuseOfThreeLoopsAndSplitOfFused) {
  Tensor a = placeholder({2, 3, 5}, kF32, "a");
  Tensor b = compute(
      {2, 3, 5}, [&](const Indices& i) { return a(i[0], i[1], i[2]) - 1.0f; }, "b");
  Schedule s({b});
  std::string fused = s.fuse("b", {"i0", "i1", "i2"});
  s.split("b", fused, 4);  // 30 is not a multiple of 4
  tir::PrimFunc func = lower(s, {a, b}, "f");
  Data da = random_data(30, 5), expected(30);
  for (int k = 0; k < 30; ++k) expected[k] = da[k] - 1;
  expect_near(execute(func, {da}, {30})[0], expected);
}

TEST(Lower, InlinedChainBecomesOneNest) {
  Tensor a = placeholder({4, 9}, kF32, "a");
  Tensor b = compute(
      {4, 9}, [&](const Indices& i) { return a(i[0], i[1]) * 2.0f; }, "b");
  Tensor c = compute(
      {4, 9}, [&](const Indices& i) { return b(i[0], i[1]) + 1.0f; }, "c");
  // d reads c transposed-ish (index arithmetic must be substituted, not just variables).
  Tensor d = compute(
      {9, 4}, [&](const Indices& i) { return c(i[1], i[0]) * c(i[1], i[0]); }, "d");
  Schedule s({d});
  s.compute_inline("b");
  s.compute_inline("c");
  tir::PrimFunc func = lower(s, {a, d}, "chain");
  EXPECT_EQ(tir::to_text(func),
            "func chain(a: float32[4, 9], d: float32[9, 4]) {\n"
            "  for (i0, 0, 9) {\n"
            "    for (i1, 0, 4) {\n"
            "      d[i0, i1] = (a[i1, i0] * 2f + 1f) * (a[i1, i0] * 2f + 1f)\n"
            "    }\n"
            "  }\n"
            "}\n");
  Data da = random_data(36, 6), expected(36);
  for (int i = 0; i < 9; ++i) {
    for (int j = 0; j < 4; ++j) {
      double v = static_cast<float>(da[j * 9 + i] * 2 + 1);
      expected[i * 4 + j] = v * v;
    }
  }
  expect_near(execute(func, {da}, {36})[0], expected);
}

TEST(Lower, IntermediatesAreAllocated) {
  Tensor a = placeholder({6}, kF32, "a");
  Tensor b = compute(
      {6}, [&](const Indices& i) { return a(i[0]) + 1.0f; }, "b");
  Tensor c = compute(
      {6}, [&](const Indices& i) { return b(i[0]) * b(5 - PrimExpr(i[0])); }, "c");
  Schedule s({c});
  tir::PrimFunc func = lower(s, {a, c}, "f");
  std::string text = tir::to_text(func);
  EXPECT_NE(text.find("b: float32[6]"), std::string::npos) << text;
  Data da = random_data(6, 7), expected(6);
  for (int k = 0; k < 6; ++k) expected[k] = (da[k] + 1) * (da[5 - k] + 1);
  expect_near(execute(func, {da}, {6})[0], expected);
}

// ---- compute_at -----------------------------------------------------------------------------

TEST(Lower, ComputeAtComputesOnlyTheRegionNeeded) {
  // A 3-point stencil over a producer: each tile of c needs tile + 2 elements of b.
  const int n = 16;
  Tensor a = placeholder({n + 2}, kF32, "a");
  Tensor b = compute(
      {n + 2}, [&](const Indices& i) { return a(i[0]) * 2.0f; }, "b");
  Tensor c = compute(
      {n},
      [&](const Indices& i) { return b(i[0]) + b(PrimExpr(i[0]) + 1) + b(PrimExpr(i[0]) + 2); },
      "c");
  Schedule s({c});
  auto [outer, inner] = s.split("c", "i0", 5);  // tiles 5, 5, 5, 1: the last one is a tail
  s.compute_at("b", "c", outer);
  tir::PrimFunc func = lower(s, {a, c}, "stencil");
  std::string text = tir::to_text(func);
  SCOPED_TRACE(text);
  EXPECT_NE(text.find("b: float32[7]"), std::string::npos);
  Data da = random_data(n + 2, 8), expected(n);
  for (int k = 0; k < n; ++k) expected[k] = da[k] * 2 + da[k + 1] * 2 + da[k + 2] * 2;
  test::TirExec exec;
  Data out(n, std::nan(""));
  exec.run(func, {&da, &out});
  expect_near(out, expected);
  // 4 tiles of at most 7 producer elements (the last tile's region is cut at the tensor's end),
  // plus the 16 outputs.
  EXPECT_EQ(exec.stores(), 7 * 3 + 3 + n);
}

TEST(Lower, ComputeAtInnerLoopOf2D) {
  Tensor a = placeholder({9, 11}, kF32, "a");
  Tensor b = compute(
      {9, 11}, [&](const Indices& i) { return a(i[0], i[1]) + 3.0f; }, "b");
  Tensor c = compute(
      {9, 10}, [&](const Indices& i) { return b(i[0], i[1]) * b(i[0], PrimExpr(i[1]) + 1); }, "c");
  Schedule s({c});
  std::vector<std::string> t = s.tile("c", "i0", "i1", 4, 3);
  s.compute_at("b", "c", t[1]);
  tir::PrimFunc func = lower(s, {a, c}, "f");
  SCOPED_TRACE(tir::to_text(func));
  EXPECT_NE(tir::to_text(func).find("b: float32[4, 4]"), std::string::npos);
  Data da = random_data(99, 9), expected(90);
  for (int i = 0; i < 9; ++i) {
    for (int j = 0; j < 10; ++j)
      expected[i * 10 + j] = (da[i * 11 + j] + 3) * (da[i * 11 + j + 1] + 3);
  }
  expect_near(execute(func, {da}, {90})[0], expected);
}

TEST(Lower, ComputeAtWithNonAffineReadTakesTheWholeAxis) {
  Tensor a = placeholder({4}, kF32, "a");
  Tensor b = compute(
      {4}, [&](const Indices& i) { return a(i[0]) - 0.5f; }, "b");
  Tensor c = compute(
      {8}, [&](const Indices& i) { return b(tir::floordiv(PrimExpr(i[0]), 2)); }, "c");
  Schedule s({c});
  auto [outer, inner] = s.split("c", "i0", 3);
  s.compute_at("b", "c", outer);
  tir::PrimFunc func = lower(s, {a, c}, "upsample");
  EXPECT_NE(tir::to_text(func).find("b: float32[4]"), std::string::npos);
  Data da = random_data(4, 10), expected(8);
  for (int k = 0; k < 8; ++k) expected[k] = da[k / 2] - 0.5;
  expect_near(execute(func, {da}, {8})[0], expected);
}

// conv2d (NCHW, OIHW, padding 1, stride 2) with a padding stage computed inside the output rows.
TEST(Lower, Conv2dWithPaddingStage) {
  const int64_t c_in = 3, h = 9, w = 8, c_out = 4, kh = 3, kw = 3, stride = 2, pad = 1;
  const int64_t oh = (h + 2 * pad - kh) / stride + 1, ow = (w + 2 * pad - kw) / stride + 1;
  Tensor data = placeholder({1, c_in, h, w}, kF32, "data");
  Tensor weight = placeholder({c_out, c_in, kh, kw}, kF32, "weight");
  Tensor padded = compute(
      {1, c_in, h + 2 * pad, w + 2 * pad},
      [&](const Indices& i) {
        PrimExpr y = PrimExpr(i[2]) - pad, x = PrimExpr(i[3]) - pad;
        PrimExpr inside =
            tir::logical_and(tir::logical_and(y >= 0, y < h), tir::logical_and(x >= 0, x < w));
        // Clamped indices keep the read in bounds even on the side of the select not taken.
        PrimExpr value =
            data(i[0], i[1], tir::min(tir::max(y, 0), h - 1), tir::min(tir::max(x, 0), w - 1));
        return tir::select(inside, value, 0.0f);
      },
      "pad");
  IterVar rc = reduce_axis(c_in, "rc"), ry = reduce_axis(kh, "ry"), rx = reduce_axis(kw, "rx");
  Tensor conv =
      compute({1, c_out, oh, ow},
              [&](const Indices& i) {
                return sum(padded(i[0], rc.var, PrimExpr(i[2]) * stride + PrimExpr(ry.var),
                                  PrimExpr(i[3]) * stride + PrimExpr(rx.var)) *
                               weight(i[1], rc.var, ry.var, rx.var),
                           {rc, ry, rx});
              },
              "conv", "conv2d", {"n", "oc", "y", "x"});

  Data dd = random_data(c_in * h * w, 11), dw = random_data(c_out * c_in * kh * kw, 12);
  Data expected(c_out * oh * ow, 0.0);
  for (int64_t o = 0; o < c_out; ++o) {
    for (int64_t y = 0; y < oh; ++y) {
      for (int64_t x = 0; x < ow; ++x) {
        double acc = 0;
        for (int64_t c = 0; c < c_in; ++c) {
          for (int64_t dy = 0; dy < kh; ++dy) {
            for (int64_t dx = 0; dx < kw; ++dx) {
              int64_t iy = y * stride + dy - pad, ix = x * stride + dx - pad;
              if (iy < 0 || iy >= h || ix < 0 || ix >= w) continue;
              acc += dd[(c * h + iy) * w + ix] * dw[((o * c_in + c) * kh + dy) * kw + dx];
            }
          }
        }
        expected[(o * oh + y) * ow + x] = acc;
      }
    }
  }

  {
    Schedule s({conv});
    s.compute_inline("pad");
    expect_near(execute(lower(s, {data, weight, conv}, "conv"), {dd, dw}, {expected.size()})[0],
                expected, 1e-4);
  }
  {
    Schedule s({conv});
    std::string local = s.cache_write("conv");
    auto [yo, yi] = s.split("conv", "y", 2);
    auto [xo, xi] = s.split("conv", "x", 3);
    s.reorder("conv", {"n", yo, xo, "oc", yi, xi});
    s.compute_at(local, "conv", "oc");
    s.compute_at("pad", local, "y");
    auto [rco, rci] = s.split(local, "rc", 2);
    s.reorder(local, {"n", "oc", rco, "y", "x", rci, "ry", "rx"});
    tir::PrimFunc func = lower(s, {data, weight, conv}, "conv");
    SCOPED_TRACE(tir::to_text(func));
    expect_near(execute(func, {dd, dw}, {expected.size()})[0], expected, 1e-4);
  }
}

// ---- reductions and dtypes ------------------------------------------------------------------

struct ReduceCase {
  const char* name;
  PrimExpr (*reduce)(PrimExpr, std::vector<IterVar>);
  double (*combine)(double, double);
  double identity;
};

TEST(Lower, ReductionsOfEveryKindAndDtype) {
  const ReduceCase cases[] = {
      {"sum", sum, [](double a, double b) { return a + b; }, 0},
      {"prod", prod, [](double a, double b) { return a * b; }, 1},
      {"max", max_reduce, [](double a, double b) { return std::max(a, b); },
       -std::numeric_limits<double>::infinity()},
      {"min", min_reduce, [](double a, double b) { return std::min(a, b); },
       std::numeric_limits<double>::infinity()},
  };
  for (DataType dtype : {kF32, kI32, DataType{DType::kInt64, 1}}) {
    for (const ReduceCase& rc : cases) {
      SCOPED_TRACE(std::string(rc.name) + " " + dtype.to_string());
      const int64_t rows = 5, cols = 7;
      Tensor a = placeholder({rows, cols}, dtype, "a");
      IterVar k = reduce_axis(cols, "k");
      // Values of one sign for max/min so that a wrong identity (0) would show.
      Tensor r = compute(
          {rows},
          [&](const Indices& i) {
            PrimExpr v = a(i[0], k.var);
            if (std::string(rc.name) == "max") v = v - tir::make_const(dtype, 100);
            if (std::string(rc.name) == "min") v = v + tir::make_const(dtype, 100);
            return rc.reduce(v, {k});
          },
          "r");
      Schedule s({r});
      auto [ko, ki] = s.split("r", "k", 3);  // 7 by 3: guarded reduce tail
      s.reorder("r", {ko, "i0", ki});        // reduce loop outside the data loop
      tir::PrimFunc func = lower(s, {a, r}, rc.name);
      bool integers = !dtype.is_float();
      Data da = random_data(rows * cols, 13, integers);
      if (std::string(rc.name) == "prod") {
        for (double& x : da)
          x = integers ? (x > 0 ? 1 : -1) * (1 + std::fmod(std::fabs(x), 3)) : x + 1.5;
      }
      Data expected(rows);
      for (int64_t i = 0; i < rows; ++i) {
        double acc = rc.identity;
        for (int64_t j = 0; j < cols; ++j) {
          double v = da[i * cols + j];
          if (std::string(rc.name) == "max") v -= 100;
          if (std::string(rc.name) == "min") v += 100;
          acc = rc.combine(acc, v);
        }
        expected[i] = acc;
      }
      expect_near(execute(func, {da}, {size_t(rows)})[0], expected, integers ? 0 : 1e-3);
    }
  }
}

TEST(Lower, IntegerIdentitiesUseTheDtypeLimits) {
  Tensor a = placeholder({4, 3}, {DType::kInt8, 1}, "a");
  IterVar k = reduce_axis(3, "k");
  Tensor r = compute(
      {4}, [&](const Indices& i) { return max_reduce(a(i[0], k.var), {k}); }, "r");
  std::string text = tir::to_text(lower(Schedule({r}), {a, r}, "f"));
  EXPECT_NE(text.find("r[i0] = -128i8"), std::string::npos) << text;
  Tensor f = compute(
      {4}, [&](const Indices& i) { return min_reduce(tir::cast(kF32, a(i[0], k.var)), {k}); }, "f");
  text = tir::to_text(lower(Schedule({f}), {a, f}, "g"));
  EXPECT_NE(text.find("f[i0] = float32(inf)"), std::string::npos) << text;
}

TEST(Lower, SumOverSeveralReduceAxesFused) {
  Tensor a = placeholder({3, 4, 5}, kF32, "a");
  IterVar k1 = reduce_axis(4, "k1"), k2 = reduce_axis(5, "k2");
  Tensor r = compute(
      {3},
      [&](const Indices& i) {
        return sum(a(i[0], k1.var, k2.var), {k1, k2});
      },
      "r");
  Schedule s({r});
  std::string fused = s.fuse("r", {"k1", "k2"});
  s.split("r", fused, 6);
  s.unroll("r", fused + ".inner");
  Data da = random_data(60, 14), expected(3, 0.0);
  for (int i = 0; i < 3; ++i) {
    for (int j = 0; j < 20; ++j) expected[i] += da[i * 20 + j];
  }
  expect_near(execute(lower(s, {a, r}, "f"), {da}, {3})[0], expected, 1e-5);
}

TEST(Lower, ArgumentErrors) {
  Matmul mm(4, 4, 4);
  Schedule s({mm.c});
  EXPECT_THROW(lower(s, {mm.a, mm.c}, "f"), Error);              // B is read but not passed
  EXPECT_THROW(lower(s, {mm.a, mm.b}, "f"), Error);              // the output is not a parameter
  EXPECT_THROW(lower(s, {mm.a, mm.a, mm.b, mm.c}, "f"), Error);  // twice
  Tensor other = compute(
      {2}, [&](const Indices& i) { return mm.a(i[0], 0); }, "other");
  EXPECT_THROW(lower(s, {mm.a, mm.b, mm.c, other}, "f"), Error);  // not computed here
  Schedule identity({mm.a});
  EXPECT_THROW(lower(identity, {mm.a}, "f"), Error);  // nothing would write the output
}

}  // namespace
}  // namespace kiln::te
