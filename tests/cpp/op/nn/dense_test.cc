#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ir/expr.h"
#include "ir/op.h"
#include "kiln/error.h"
#include "kiln/tensor.h"

#include "../op_test_util.h"

namespace kiln::ir {
namespace {

using namespace op_test;

TEST(DenseTest, TwoDimensional) {
  Call fc = call("dense", {f32("x", {1, 512}), f32("w", {1000, 512})});
  EXPECT_EQ(fc->type(), f32_type({1, 1000}));
  EXPECT_EQ(macs_of(fc), int64_t{1000} * 512);
  EXPECT_EQ(op("dense").pattern, OpPattern::kOutEWiseFusable);
}

TEST(DenseTest, ThreeDimensionalInput) {
  Call fc = call("dense", {f32("x", {2, 16, 768}), f32("w", {3072, 768})});
  EXPECT_EQ(fc->type(), f32_type({2, 16, 3072}));
  EXPECT_EQ(macs_of(fc), int64_t{2} * 16 * 3072 * 768);
}

TEST(DenseTest, SymbolicBatch) {
  Call fc =
      call("dense", {input("x", DType::kFloat32, {Dim::symbol("N"), 512}), f32("w", {10, 512})});
  EXPECT_EQ(fc->type().as_tensor().shape, (Shape{Dim::symbol("N"), 10}));
  EXPECT_EQ(macs_of(fc), 0);
}

TEST(DenseTest, Errors) {
  expect_error(
      [] {
        call("dense", {f32("x", {1, 512}), f32("w", {1000, 256})});
      },
      "dense: data float32[1, 512] has 512 features but weight float32[1000, 256] "
      "expects 256");
  expect_error(
      [] {
        call("dense", {f32("x", {1, 512}), f32("w", {1000, 512, 1})});
      },
      "dense: weight must have rank 2");
  expect_error(
      [] {
        call("dense", {f32("x", {1, 512}), input("w", DType::kFloat16, {10, 512})});
      },
      "dense: data float32[1, 512] and weight float16[10, 512] have different dtypes");
}

TEST(MatmulTest, Matrices) {
  Call mm = call("matmul", {f32("a", {3, 4}), f32("b", {4, 5})});
  EXPECT_EQ(mm->type(), f32_type({3, 5}));
  EXPECT_EQ(macs_of(mm), 3 * 5 * 4);
}

TEST(MatmulTest, OneDimensionalPromotion) {
  EXPECT_EQ(call("matmul", {f32("a", {4}), f32("b", {4, 5})})->type(), f32_type({5}));
  EXPECT_EQ(call("matmul", {f32("a", {3, 4}), f32("b", {4})})->type(), f32_type({3}));
  EXPECT_EQ(call("matmul", {f32("a", {4}), f32("b", {4})})->type(), f32_type({}));
  EXPECT_EQ(call("matmul", {f32("a", {4}), f32("b", {2, 4, 5})})->type(), f32_type({2, 5}));
  EXPECT_EQ(call("matmul", {f32("a", {2, 3, 4}), f32("b", {4})})->type(), f32_type({2, 3}));
}

TEST(MatmulTest, BatchBroadcasting) {
  Call mm = call("matmul", {f32("a", {2, 1, 3, 4}), f32("b", {5, 4, 6})});
  EXPECT_EQ(mm->type(), f32_type({2, 5, 3, 6}));
  EXPECT_EQ(macs_of(mm), int64_t{2} * 5 * 3 * 6 * 4);
  Call symbolic = call("matmul", {input("a", DType::kFloat32, {Dim::symbol("B"), 12, 64, 64}),
                                  input("b", DType::kFloat32, {Dim::symbol("B"), 12, 64, 64})});
  EXPECT_EQ(symbolic->type().as_tensor().shape, (Shape{Dim::symbol("B"), 12, 64, 64}));
  EXPECT_EQ(macs_of(symbolic), 0);
}

TEST(MatmulTest, Errors) {
  expect_error(
      [] {
        call("matmul", {f32("a", {3, 4}), f32("b", {5, 6})});
      },
      "matmul: inner dimensions differ: a float32[3, 4] has 4 columns but b "
      "float32[5, 6] has 5 rows");
  expect_error(
      [] {
        call("matmul", {f32("a", {2, 3, 4}), f32("b", {3, 4, 5})});
      },
      "matmul: shapes [2] and [3] cannot be broadcast together");
  expect_error(
      [] {
        call("matmul", {f32("a", {}), f32("b", {3})});
      },
      "matmul: operands must have rank >= 1");
  expect_error(
      [] {
        call("matmul", {f32("a", {3, 4}), input("b", DType::kInt32, {4, 5})});
      },
      "matmul: arguments have different dtypes");
  expect_error(
      [] {
        call("matmul", {input("a", DType::kBool, {3, 4}), input("b", DType::kBool, {4, 5})});
      },
      "matmul: a must be numeric");
}

TEST(MatmulTest, EvaluatesFloat32Matrices) {
  // [[0 1 2] [3 4 5]] x [[0 1] [2 3] [4 5]] = [[10 13] [28 40]].
  Tensor out = eval("matmul", {iota({2, 3}), iota({3, 2})});
  EXPECT_EQ(out.shape(), (Ints{2, 2}));
  EXPECT_EQ(floats_of(out), (std::vector<float>{10, 13, 28, 40}));
}

TEST(MatmulTest, EvaluatesVectors) {
  // [0 1 2] x [[0 1] [2 3] [4 5]] = [10 13]; [0 1 2] . [0 1 2] = 5.
  Tensor row = eval("matmul", {iota({3}), iota({3, 2})});
  EXPECT_EQ(row.shape(), (Ints{2}));
  EXPECT_EQ(floats_of(row), (std::vector<float>{10, 13}));
  Tensor dot = eval("matmul", {iota({3}), iota({3})});
  EXPECT_EQ(dot.shape(), (Ints{}));
  EXPECT_EQ(floats_of(dot), (std::vector<float>{5}));
}

TEST(MatmulTest, EvaluatesBroadcastBatches) {
  // a[2, 1, 1, 2] x b[3, 2, 1]: every a row meets every b column.
  Tensor a = iota({2, 1, 1, 2});  // rows [0 1], [2 3]
  Tensor b = iota({3, 2, 1});     // columns [0 1], [2 3], [4 5]
  Tensor out = eval("matmul", {a, b});
  EXPECT_EQ(out.shape(), (Ints{2, 3, 1, 1}));
  EXPECT_EQ(floats_of(out), (std::vector<float>{1, 3, 5, 3, 13, 23}));
}

TEST(MatmulTest, EvaluatesInt64) {
  Tensor a = Tensor::from_int64s({1, -2, 3, 4}).reshaped({2, 2});
  Tensor b = Tensor::from_int64s({5, 6, 7, 8}).reshaped({2, 2});
  Tensor out = eval("matmul", {a, b});
  EXPECT_EQ(out.dtype(), DType::kInt64);
  EXPECT_EQ(out.to_int64s(), (Ints{-9, -10, 43, 50}));
}

}  // namespace
}  // namespace kiln::ir
