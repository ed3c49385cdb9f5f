#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ir/expr.h"
#include "ir/op.h"
#include "kiln/error.h"

#include "../op_test_util.h"

namespace kiln::ir {
namespace {

using namespace op_test;

TEST(PoolTest, MaxPoolResNetStem) {
  Call pool = call(
      "max_pool2d", {f32("data", {1, 64, 112, 112})},
      Attrs{{"pool_size", Ints{3, 3}}, {"strides", Ints{2, 2}}, {"padding", Ints{1, 1, 1, 1}}});
  EXPECT_EQ(pool->type(), f32_type({1, 64, 56, 56}));
  EXPECT_EQ(op("max_pool2d").pattern, OpPattern::kOutEWiseFusable);
}

TEST(PoolTest, MaxPoolKeepsIntegerDtype) {
  Call pool = call("max_pool2d", {input("data", DType::kUInt8, {1, 3, 8, 8})},
                   Attrs{{"pool_size", Ints{2, 2}}, {"strides", Ints{2, 2}}});
  EXPECT_EQ(pool->type(), Type(tensor_type(DType::kUInt8, {1, 3, 4, 4})));
}

TEST(PoolTest, CeilModeRoundsUp) {
  Attrs attrs{{"pool_size", Ints{3, 3}}, {"strides", Ints{2, 2}}};
  // floor((6 - 3) / 2) + 1 = 2; ceil gives 3 (the last window starts at 4, inside the input).
  EXPECT_EQ(call("max_pool2d", {f32("data", {1, 1, 6, 6})}, attrs)->type(), f32_type({1, 1, 2, 2}));
  attrs.set("ceil_mode", int64_t{1});
  EXPECT_EQ(call("max_pool2d", {f32("data", {1, 1, 6, 6})}, attrs)->type(), f32_type({1, 1, 3, 3}));
}

TEST(PoolTest, CeilModeDropsWindowStartingInRightPadding) {
  // Padded size 7, ceil((7 - 2) / 2) + 1 = 4, but the 4th window would start at 6 >= 5 + 1:
  // ONNX (and PyTorch) drop it.
  Call pool = call("max_pool2d", {f32("data", {1, 1, 5, 5})},
                   Attrs{{"pool_size", Ints{2, 2}},
                         {"strides", Ints{2, 2}},
                         {"padding", Ints{1, 1, 1, 1}},
                         {"ceil_mode", int64_t{1}}});
  EXPECT_EQ(pool->type(), f32_type({1, 1, 3, 3}));
}

TEST(PoolTest, DilatedAndAsymmetricWindows) {
  // Dilation 2 makes a 3-window span 5: 10 - 5 + 1 = 6. Width: (10 + 1 - 2) / 3 + 1 = 4.
  Call pool = call("max_pool2d", {f32("data", {1, 1, 10, 10})},
                   Attrs{{"pool_size", Ints{3, 2}},
                         {"strides", Ints{1, 3}},
                         {"dilation", Ints{2, 1}},
                         {"padding", Ints{0, 1, 0, 0}}});
  EXPECT_EQ(pool->type(), f32_type({1, 1, 6, 4}));
}

TEST(PoolTest, SymbolicDims) {
  Call pool = call("max_pool2d",
                   {input("data", DType::kFloat32, {Dim::symbol("N"), 8, Dim::symbol("H"), 8})},
                   Attrs{{"pool_size", Ints{2, 2}}, {"strides", Ints{2, 2}}});
  EXPECT_EQ(pool->type().as_tensor().shape, (Shape{Dim::symbol("N"), 8, Dim::unknown(), 4}));
}

TEST(PoolTest, AvgPoolAndLpPool) {
  Attrs attrs{
      {"pool_size", Ints{2, 2}}, {"strides", Ints{2, 2}}, {"count_include_pad", int64_t{1}}};
  Call avg = call("avg_pool2d", {f32("data", {1, 16, 32, 32})}, attrs);
  EXPECT_EQ(avg->type(), f32_type({1, 16, 16, 16}));
  EXPECT_EQ(avg->attrs.get_int("ceil_mode"), 0);
  Call lp = call("lp_pool2d", {f32("data", {1, 16, 32, 32})},
                 Attrs{{"pool_size", Ints{3, 3}}, {"p", int64_t{3}}});
  EXPECT_EQ(lp->type(), f32_type({1, 16, 30, 30}));
  EXPECT_EQ(call("lp_pool2d", {f32("data", {1, 1, 4, 4})}, Attrs{{"pool_size", Ints{2, 2}}})
                ->attrs.get_int("p"),
            2);
}

TEST(PoolTest, GlobalPools) {
  EXPECT_EQ(call("global_avg_pool2d", {f32("data", {1, 2048, 7, 7})})->type(),
            f32_type({1, 2048, 1, 1}));
  Var symbolic = input("data", DType::kFloat32, {Dim::symbol("N"), 512, Dim::symbol("H"), 7});
  EXPECT_EQ(call("global_max_pool2d", {symbolic})->type().as_tensor().shape,
            (Shape{Dim::symbol("N"), 512, 1, 1}));
  expect_error(
      [] {
        call("global_avg_pool2d", {f32("data", {1, 2048})});
      },
      "global_avg_pool2d: data must have rank 4");
}

TEST(PoolTest, Errors) {
  expect_error(
      [] {
        call("max_pool2d", {f32("data", {1, 1, 8, 8})});
      },
      "max_pool2d: required attribute 'pool_size' is missing");
  expect_error(
      [] {
        call("max_pool2d", {f32("data", {1, 1, 8, 8})}, Attrs{{"pool_size", Ints{2}}});
      },
      "max_pool2d: pool_size must have 2 values, got [2]");
  expect_error(
      [] {
        call("max_pool2d", {f32("data", {1, 1, 8, 8})}, Attrs{{"pool_size", Ints{0, 2}}});
      },
      "max_pool2d: pool_size must be positive");
  expect_error(
      [] {
        call("max_pool2d", {f32("data", {1, 8, 8})}, Attrs{{"pool_size", Ints{2, 2}}});
      },
      "max_pool2d: data must have rank 4");
  expect_error(
      [] {
        call("max_pool2d", {f32("data", {1, 1, 8, 8})},
             Attrs{{"pool_size", Ints{2, 2}}, {"ceil_mode", int64_t{2}}});
      },
      "max_pool2d: ceil_mode must be 0 or 1");
  expect_error(
      [] {
        call("avg_pool2d", {f32("data", {1, 1, 3, 8})}, Attrs{{"pool_size", Ints{4, 4}}});
      },
      "avg_pool2d: window of 4 (dilation 1) is larger than the padded input height 3");
  expect_error(
      [] {
        call("avg_pool2d", {input("data", DType::kInt32, {1, 1, 8, 8})},
             Attrs{{"pool_size", Ints{2, 2}}});
      },
      "avg_pool2d: data must be a floating-point tensor");
  expect_error(
      [] {
        call("lp_pool2d", {f32("data", {1, 1, 8, 8})},
             Attrs{{"pool_size", Ints{2, 2}}, {"p", int64_t{0}}});
      },
      "lp_pool2d: p must be positive");
}

TEST(PoolTest, ThreeDimensionalPools) {
  Attrs attrs{{"pool_size", Ints{2, 3, 2}},
              {"strides", Ints{2, 1, 2}},
              {"padding", Ints{0, 1, 0, 1, 1, 1}},
              {"ceil_mode", int64_t{1}}};
  // depth: ceil((9 - 2) / 2) + 1 = 5; height: 8 + 2 - 3 + 1 = 8; width: ceil((17 + 1 - 2) / 2) + 1
  // = 9.
  for (const char* name : {"max_pool3d", "avg_pool3d", "lp_pool3d"}) {
    SCOPED_TRACE(name);
    EXPECT_EQ(call(name, {f32("data", {2, 3, 9, 8, 17})}, attrs)->type(),
              f32_type({2, 3, 5, 8, 9}));
  }
  expect_error(
      [] {
        call("max_pool3d", {f32("data", {1, 1, 8, 8})}, Attrs{{"pool_size", Ints{2, 2, 2}}});
      },
      "max_pool3d: data must have rank 5");
  expect_error(
      [] {
        call("avg_pool3d", {f32("data", {1, 1, 4, 8, 8})}, Attrs{{"pool_size", Ints{2, 2}}});
      },
      "avg_pool3d: pool_size must have 3 values, got [2, 2]");
  expect_error(
      [] {
        call("max_pool3d", {f32("data", {1, 1, 2, 8, 8})}, Attrs{{"pool_size", Ints{3, 2, 2}}});
      },
      "max_pool3d: window of 3 (dilation 1) is larger than the padded input depth 2");
}

TEST(PoolTest, MaxPoolIndicesAreInt64) {
  Call indices = call("max_pool2d_indices", {input("data", DType::kUInt8, {1, 3, 8, 8})},
                      Attrs{{"pool_size", Ints{2, 2}}, {"strides", Ints{2, 2}}});
  EXPECT_EQ(indices->type(), Type(tensor_type(DType::kInt64, {1, 3, 4, 4})));
  EXPECT_EQ(call("max_pool3d_indices", {f32("data", {1, 1, 4, 4, 4})},
                 Attrs{{"pool_size", Ints{2, 2, 2}}, {"storage_order", int64_t{1}}})
                ->type(),
            Type(tensor_type(DType::kInt64, {1, 1, 3, 3, 3})));
  expect_error(
      [] {
        call("max_pool2d_indices", {f32("data", {1, 1, 8, 8})},
             Attrs{{"pool_size", Ints{2, 2}}, {"storage_order", int64_t{2}}});
      },
      "max_pool2d_indices: storage_order must be 0 or 1");
}

TEST(PoolTest, MaxUnpoolShape) {
  // (3 - 1) * 2 - 1 - 1 + 3 = 5 and (4 - 1) * 2 + 2 = 8.
  Call unpool = call(
      "max_unpool", {f32("values", {1, 2, 3, 4}), input("indices", DType::kInt64, {1, 2, 3, 4})},
      Attrs{{"pool_size", Ints{3, 2}}, {"strides", Ints{2, 2}}, {"padding", Ints{1, 0, 1, 0}}});
  EXPECT_EQ(unpool->type(), f32_type({1, 2, 5, 8}));
  expect_error(
      [] {
        call(
            "max_unpool",
            {f32("values", {1, 2, 3, 4}), input("indices", DType::kInt32, {1, 2, 3, 4})},
            Attrs{
                {"pool_size", Ints{2, 2}}, {"strides", Ints{2, 2}}, {"padding", Ints{0, 0, 0, 0}}});
      },
      "max_unpool: indices must be int64 of the values' shape");
}

}  // namespace
}  // namespace kiln::ir
