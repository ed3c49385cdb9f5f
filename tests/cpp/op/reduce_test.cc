#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <vector>

#include "ir/expr.h"
#include "ir/op.h"
#include "kiln/error.h"
#include "kiln/tensor.h"
#include "op/eval_util.h"

#include "op_test_util.h"

namespace kiln::ir {
namespace {

using namespace op_test;

Attrs axes(std::vector<int64_t> values, int64_t keepdims = 1) {
  return {{"axes", std::move(values)}, {"keepdims", keepdims}};
}

// --- registry and type relations -----------------------------------------------------------------

TEST(ReduceRegistryTest, EveryOperatorIsRegistered) {
  for (const char* name : {"reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_prod",
                           "reduce_l1", "reduce_l2", "reduce_log_sum", "reduce_log_sum_exp",
                           "reduce_sum_square", "argmax", "argmin", "cumsum", "topk"}) {
    const OpDef& def = op(name);
    EXPECT_EQ(def.family, "reduce") << name;
    EXPECT_FALSE(def.summary.empty()) << name;
  }
  EXPECT_EQ(op("reduce_sum").pattern, OpPattern::kReduction);
  EXPECT_EQ(op("cumsum").pattern, OpPattern::kOpaque);
  EXPECT_EQ(op("topk").pattern, OpPattern::kOpaque);
}

TEST(ReduceTypeTest, AxesAndKeepdims) {
  Var x = var(DType::kFloat32, {2, 3, 4});
  EXPECT_EQ(type_of("reduce_sum", {x}, axes({1})), "float32[2, 1, 4]");
  EXPECT_EQ(type_of("reduce_sum", {x}, axes({1}, 0)), "float32[2, 4]");
  EXPECT_EQ(type_of("reduce_max", {x}, axes({-1, 0}, 0)), "float32[3]");
  EXPECT_EQ(type_of("reduce_mean", {x}), "float32[1, 1, 1]");
  EXPECT_EQ(type_of("reduce_mean", {x}, axes({}, 0)), "float32[]");
  EXPECT_EQ(type_of("reduce_l2", {var(DType::kFloat32, {})}, axes({}, 0)), "float32[]");
}

TEST(ReduceTypeTest, SymbolicDimsSurviveUnlessReduced) {
  Var x = var(DType::kFloat16, {Dim::symbol("batch"), Dim::symbol("seq"), 8});
  EXPECT_EQ(type_of("reduce_sum", {x}, axes({1})), "float16[batch, 1, 8]");
  EXPECT_EQ(type_of("reduce_log_sum_exp", {x}, axes({-1}, 0)), "float16[batch, seq]");
  EXPECT_EQ(type_of("argmax", {x}, {{"axis", int64_t{1}}, {"keepdims", int64_t{0}}}),
            "int64[batch, 8]");
}

TEST(ReduceTypeTest, ReductionErrors) {
  Var x = var(DType::kFloat32, {2, 3});
  expect_error([&] { call("reduce_sum", {x}, axes({1, -1})); }, "reduce_sum", "repeated");
  expect_error([&] { call("reduce_prod", {x}, axes({2})); }, "reduce_prod", "out of range");
  expect_error([] { call("reduce_sum", {var(DType::kBool, {2})}); }, "reduce_sum", "numeric");
}

TEST(ReduceTypeTest, ArgmaxArgmin) {
  Var x = var(DType::kFloat32, {2, 3, 4});
  EXPECT_EQ(type_of("argmax", {x}), "int64[1, 3, 4]");
  EXPECT_EQ(type_of("argmin", {x}, {{"axis", int64_t{-1}}, {"keepdims", int64_t{0}}}),
            "int64[2, 3]");
  expect_error([&] { call("argmax", {x}, {{"axis", int64_t{3}}}); }, "argmax", "out of range");
  expect_error([] { call("argmin", {var(DType::kFloat32, {0, 2})}); }, "argmin", "empty");
}

TEST(ReduceTypeTest, CumsumKeepsTypeAndNeedsAxis) {
  Var x = var(DType::kInt32, {Dim::symbol("n"), 3});
  EXPECT_EQ(type_of("cumsum", {x}, {{"axis", int64_t{-1}}}), "int32[n, 3]");
  expect_error([&] { call("cumsum", {x}); }, "cumsum", "axis");
  expect_error([&] { call("cumsum", {x}, {{"axis", int64_t{2}}}); }, "cumsum", "out of range");
}

TEST(ReduceTypeTest, TopkReturnsValuesAndIndices) {
  Var x = var(DType::kFloat32, {Dim::symbol("batch"), 10});
  EXPECT_EQ(type_of("topk", {x}, {{"k", int64_t{3}}}), "(float32[batch, 3], int64[batch, 3])");
  EXPECT_EQ(type_of("topk", {x}, {{"k", int64_t{2}}, {"axis", int64_t{0}}}),
            "(float32[2, 10], int64[2, 10])");
  expect_error([&] { call("topk", {x}, {{"k", int64_t{11}}}); }, "topk", "exceeds the size 10");
  expect_error([&] { call("topk", {x}, {{"k", int64_t{-1}}}); }, "topk", "k must be >= 0");
  expect_error([&] { call("topk", {x}); }, "topk", "'k'");
}

// --- evaluation ----------------------------------------------------------------------------------

TEST(ReduceEvalTest, SumOverEachAxisAndAll) {
  Tensor x = tensor(DType::kFloat32, {2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor columns = eval("reduce_sum", {x}, axes({0}, 0));
  EXPECT_EQ(columns.shape(), (std::vector<int64_t>{3}));
  expect_near(doubles(columns), {5, 7, 9});
  Tensor rows = eval("reduce_sum", {x}, axes({-1}, 1));
  EXPECT_EQ(rows.shape(), (std::vector<int64_t>{2, 1}));
  expect_near(doubles(rows), {6, 15});
  Tensor all = eval("reduce_sum", {x}, axes({}, 0));
  EXPECT_EQ(all.shape(), (std::vector<int64_t>{}));
  expect_near(doubles(all), {21});
  Tensor all_kept = eval("reduce_sum", {x});
  EXPECT_EQ(all_kept.shape(), (std::vector<int64_t>{1, 1}));
  expect_near(doubles(all_kept), {21});
}

TEST(ReduceEvalTest, EveryReductionKind) {
  Tensor x = tensor(DType::kFloat64, {2, 2}, {1, -2, 3, 4});
  Attrs rows = axes({1}, 0);
  expect_near(doubles(eval("reduce_mean", {x}, rows)), {-0.5, 3.5});
  expect_near(doubles(eval("reduce_max", {x}, rows)), {1, 4});
  expect_near(doubles(eval("reduce_min", {x}, rows)), {-2, 3});
  expect_near(doubles(eval("reduce_prod", {x}, rows)), {-2, 12});
  expect_near(doubles(eval("reduce_l1", {x}, rows)), {3, 7});
  expect_near(doubles(eval("reduce_l2", {x}, rows)), {std::sqrt(5.0), 5});
  expect_near(doubles(eval("reduce_sum_square", {x}, rows)), {5, 25});
  expect_near(doubles(eval("reduce_log_sum", {x}, rows)), {kNaN, std::log(7.0)});
  expect_near(doubles(eval("reduce_log_sum_exp", {x}, rows)),
              {std::log(std::exp(1.0) + std::exp(-2.0)), std::log(std::exp(3.0) + std::exp(4.0))});
}

TEST(ReduceEvalTest, LogSumExpDoesNotOverflow) {
  Tensor x = tensor(DType::kFloat32, {2}, {1000, 1000});
  expect_near(doubles(eval("reduce_log_sum_exp", {x}, axes({}, 0))), {1000 + std::log(2.0)}, 1e-3);
}

TEST(ReduceEvalTest, MaxPropagatesNaN) {
  Tensor x = tensor(DType::kFloat32, {3}, {1, kNaN, 2});
  expect_near(doubles(eval("reduce_max", {x}, axes({}, 0))), {kNaN});
}

TEST(ReduceEvalTest, IntegerReductionsAreExact) {
  int64_t big = (int64_t{1} << 53) + 1;
  Tensor x = int64s({3}, {big, big, 1});
  EXPECT_EQ(ints(eval("reduce_sum", {x}, axes({}, 0))), (std::vector<int64_t>{2 * big + 1}));
  EXPECT_EQ(ints(eval("reduce_max", {x}, axes({}, 0))), (std::vector<int64_t>{big}));
  EXPECT_EQ(ints(eval("reduce_prod", {int64s({2}, {big, 3})}, axes({}, 0))),
            (std::vector<int64_t>{3 * big}));
  // Integer mean truncates toward zero.
  EXPECT_EQ(ints(eval("reduce_mean", {int64s({2, 2}, {1, 2, -1, -2})}, axes({1}, 0))),
            (std::vector<int64_t>{1, -1}));
  Tensor small = tensor(DType::kInt8, {3}, {-100, -120, -128});
  EXPECT_EQ(ints(eval("reduce_max", {small}, axes({}, 0))), (std::vector<int64_t>{-100}));
  EXPECT_EQ(ints(eval("reduce_l1", {small}, axes({}, 0))), (std::vector<int64_t>{348 - 256}));
  Tensor unsigned_values = tensor(DType::kUInt8, {2}, {200, 100});
  EXPECT_EQ(ints(eval("reduce_min", {unsigned_values}, axes({}, 0))), (std::vector<int64_t>{100}));
  EXPECT_EQ(ints(eval("reduce_sum_square", {int64s({2}, {3, -4})}, axes({}, 0))),
            (std::vector<int64_t>{25}));
}

TEST(ReduceEvalTest, EmptyReductionsGiveIdentities) {
  Tensor empty(DType::kFloat32, {0, 2});
  expect_near(doubles(eval("reduce_sum", {empty}, axes({0}, 0))), {0, 0});
  expect_near(doubles(eval("reduce_prod", {empty}, axes({0}, 0))), {1, 1});
  expect_near(doubles(eval("reduce_max", {empty}, axes({0}, 0))), {-kInf, -kInf});
  Tensor empty_int(DType::kInt32, {0});
  EXPECT_EQ(ints(eval("reduce_min", {empty_int}, axes({}, 0))),
            (std::vector<int64_t>{std::numeric_limits<int32_t>::max()}));
  EXPECT_EQ(ints(eval("reduce_mean", {empty_int}, axes({}, 0))), (std::vector<int64_t>{0}));
}

TEST(ReduceEvalTest, Float16Reduction) {
  Tensor x = tensor(DType::kFloat16, {4}, {0.1, 0.2, 0.3, 0.4});
  Tensor sum = eval("reduce_sum", {x}, axes({}, 0));
  EXPECT_EQ(sum.dtype(), DType::kFloat16);
  expect_near(doubles(sum), {1.0}, 1e-3);
}

TEST(ReduceEvalTest, ArgmaxArgminWithTies) {
  Tensor x = tensor(DType::kFloat32, {2, 4}, {1, 3, 3, 0, 5, 5, -1, -1});
  EXPECT_EQ(ints(eval("argmax", {x}, {{"axis", int64_t{1}}})), (std::vector<int64_t>{1, 0}));
  EXPECT_EQ(ints(eval("argmax", {x}, {{"axis", int64_t{1}}, {"select_last_index", int64_t{1}}})),
            (std::vector<int64_t>{2, 1}));
  EXPECT_EQ(ints(eval("argmin", {x}, {{"axis", int64_t{-1}}})), (std::vector<int64_t>{3, 2}));
  EXPECT_EQ(ints(eval("argmin", {x}, {{"axis", int64_t{-1}}, {"select_last_index", int64_t{1}}})),
            (std::vector<int64_t>{3, 3}));
  Tensor columns = eval("argmax", {x}, {{"keepdims", int64_t{0}}});
  EXPECT_EQ(columns.dtype(), DType::kInt64);
  EXPECT_EQ(columns.shape(), (std::vector<int64_t>{4}));
  EXPECT_EQ(ints(columns), (std::vector<int64_t>{1, 1, 0, 0}));
  int64_t big = (int64_t{1} << 53);
  EXPECT_EQ(ints(eval("argmax", {int64s({3}, {big, big + 1, big})})), (std::vector<int64_t>{1}));
}

TEST(ReduceEvalTest, CumsumExclusiveAndReverse) {
  Tensor x = tensor(DType::kFloat32, {4}, {1, 2, 3, 4});
  Attrs axis0 = {{"axis", int64_t{0}}};
  expect_near(doubles(eval("cumsum", {x}, axis0)), {1, 3, 6, 10});
  expect_near(doubles(eval("cumsum", {x}, {{"axis", int64_t{0}}, {"exclusive", int64_t{1}}})),
              {0, 1, 3, 6});
  expect_near(doubles(eval("cumsum", {x}, {{"axis", int64_t{0}}, {"reverse", int64_t{1}}})),
              {10, 9, 7, 4});
  expect_near(
      doubles(eval("cumsum", {x},
                   {{"axis", int64_t{0}}, {"exclusive", int64_t{1}}, {"reverse", int64_t{1}}})),
      {9, 7, 4, 0});
}

TEST(ReduceEvalTest, CumsumAlongAnAxisOfIntegers) {
  int64_t big = (int64_t{1} << 53) + 1;
  Tensor x = int64s({2, 3}, {1, 2, 3, big, 1, 1});
  Tensor down = eval("cumsum", {x}, {{"axis", int64_t{0}}});
  EXPECT_EQ(down.dtype(), DType::kInt64);
  EXPECT_EQ(ints(down), (std::vector<int64_t>{1, 2, 3, big + 1, 3, 4}));
  EXPECT_EQ(ints(eval("cumsum", {x}, {{"axis", int64_t{-1}}})),
            (std::vector<int64_t>{1, 3, 6, big, big + 1, big + 2}));
}

// topk has no OpDef evaluator (the Evaluator interface returns one tensor); its reference is
// op::topk_reference.
TEST(ReduceEvalTest, TopkReference) {
  Tensor x = tensor(DType::kFloat32, {2, 4}, {1, 4, 4, 2, 0, -1, 7, 3});
  std::vector<Tensor> largest = op::topk_reference(x, 2, 1, true);
  expect_near(doubles(largest[0]), {4, 4, 7, 3});
  EXPECT_EQ(largest[1].dtype(), DType::kInt64);
  EXPECT_EQ(ints(largest[1]), (std::vector<int64_t>{1, 2, 2, 3}));
  std::vector<Tensor> smallest = op::topk_reference(x, 3, 1, false);
  EXPECT_EQ(smallest[0].shape(), (std::vector<int64_t>{2, 3}));
  expect_near(doubles(smallest[0]), {1, 2, 4, -1, 0, 3});
  EXPECT_EQ(ints(smallest[1]), (std::vector<int64_t>{0, 3, 1, 1, 0, 3}));
  std::vector<Tensor> columns = op::topk_reference(x, 1, 0, true);
  expect_near(doubles(columns[0]), {1, 4, 7, 3});
  EXPECT_EQ(ints(columns[1]), (std::vector<int64_t>{0, 0, 1, 1}));
}

}  // namespace
}  // namespace kiln::ir
