// The tensor-expression interpreter: semantics of the scalar operations, reductions, stage
// ordering and its error checks.
#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <map>

#include "kiln/error.h"
#include "te/interpreter.h"
#include "te/tensor.h"

namespace kiln::te {
namespace {

using tir::DataType;
using tir::PrimExpr;

DataType f32() { return DataType{DType::kFloat32, 1}; }
DataType i32() { return DataType{DType::kInt32, 1}; }

kiln::Tensor values(DType dtype, std::vector<int64_t> shape, const std::vector<double>& data) {
  kiln::Tensor t(dtype, std::move(shape));
  for (int64_t i = 0; i < t.numel(); ++i)
    t.set_element_from_double(i, data[static_cast<size_t>(i)]);
  return t;
}

TEST(InterpreterTest, MatmulWithReduction) {
  te::Tensor a = placeholder({2, 3}, f32(), "a");
  te::Tensor b = placeholder({3, 2}, f32(), "b");
  tir::IterVar k = reduce_axis(3, "k");
  te::Tensor c = compute(
      {2, 2}, [&](const Indices& i) { return sum(a(i[0], k.var) * b(k.var, i[1]), {k}); }, "c");
  kiln::Tensor av = values(DType::kFloat32, {2, 3}, {1, 2, 3, 4, 5, 6});
  kiln::Tensor bv = values(DType::kFloat32, {3, 2}, {7, 8, 9, 10, 11, 12});
  std::vector<kiln::Tensor> out = evaluate({c}, {{a.get(), av}, {b.get(), bv}});
  ASSERT_EQ(out.size(), 1u);
  EXPECT_EQ(out[0].shape(), (std::vector<int64_t>{2, 2}));
  EXPECT_EQ(out[0].element_as_double(0), 58);
  EXPECT_EQ(out[0].element_as_double(1), 64);
  EXPECT_EQ(out[0].element_as_double(2), 139);
  EXPECT_EQ(out[0].element_as_double(3), 154);
}

TEST(InterpreterTest, StagesAndMultipleOutputs) {
  te::Tensor x = placeholder({4}, f32(), "x");
  te::Tensor doubled = compute(
      {4}, [&](const Indices& i) { return x(i[0]) * 2.0; }, "doubled");
  tir::IterVar r = reduce_axis(4, "r");
  te::Tensor peak = compute(
      {1}, [&](const Indices&) { return max_reduce(doubled(r.var), {r}); }, "peak");
  te::Tensor shifted = compute(
      {4}, [&](const Indices& i) { return doubled(i[0]) - peak(0); }, "shifted");
  kiln::Tensor xv = values(DType::kFloat32, {4}, {1, -3, 5, 2});
  std::vector<kiln::Tensor> out = evaluate({shifted, peak}, {{x.get(), xv}});
  ASSERT_EQ(out.size(), 2u);
  EXPECT_EQ(out[1].element_as_double(0), 10);
  EXPECT_EQ(out[0].element_as_double(0), -8);
  EXPECT_EQ(out[0].element_as_double(2), 0);
}

TEST(InterpreterTest, Float32RoundsEveryOperation) {
  te::Tensor x = placeholder({1}, f32(), "x");
  // (x + 1e-8) - x is 0 in float32 arithmetic for x = 1 (it would be 1e-8 in double).
  te::Tensor y = compute(
      {1}, [&](const Indices& i) { return (x(i[0]) + 1e-8) - x(i[0]); }, "y");
  std::vector<kiln::Tensor> out = evaluate({y}, {{x.get(), values(DType::kFloat32, {1}, {1.0})}});
  EXPECT_EQ(out[0].element_as_double(0), 0.0);
}

TEST(InterpreterTest, IntegerSemantics) {
  te::Tensor a = placeholder({4}, i32(), "a");
  te::Tensor b = placeholder({4}, i32(), "b");
  auto eval = [&](const std::function<PrimExpr(PrimExpr, PrimExpr)>& fn) {
    te::Tensor c = compute(
        {4}, [&](const Indices& i) { return fn(a(i[0]), b(i[0])); }, "c");
    kiln::Tensor av = values(DType::kInt32, {4}, {7, -7, 7, -7});
    kiln::Tensor bv = values(DType::kInt32, {4}, {2, 2, -2, -2});
    std::vector<int64_t> result;
    kiln::Tensor out = evaluate({c}, {{a.get(), av}, {b.get(), bv}})[0];
    for (int64_t i = 0; i < 4; ++i) result.push_back(out.element_as_int64(i));
    return result;
  };
  using V = std::vector<int64_t>;
  EXPECT_EQ(eval([](PrimExpr x, PrimExpr y) { return x / y; }), (V{3, -3, -3, 3}));
  EXPECT_EQ(eval([](PrimExpr x, PrimExpr y) { return x % y; }), (V{1, -1, 1, -1}));
  EXPECT_EQ(eval([](PrimExpr x, PrimExpr y) { return tir::floordiv(x, y); }), (V{3, -4, -4, 3}));
  EXPECT_EQ(eval([](PrimExpr x, PrimExpr y) { return tir::floormod(x, y); }), (V{1, 1, -1, -1}));
  EXPECT_EQ(eval([](PrimExpr x, PrimExpr y) { return tir::min(x, y); }), (V{2, -7, -2, -7}));
  // int32 wraps.
  EXPECT_EQ(eval([](PrimExpr x, PrimExpr) { return x * 1000000000; }),
            (V{static_cast<int32_t>(7000000000LL), static_cast<int32_t>(-7000000000LL),
               static_cast<int32_t>(7000000000LL), static_cast<int32_t>(-7000000000LL)}));
}

TEST(InterpreterTest, DivisionByZeroIsAnError) {
  te::Tensor a = placeholder({1}, i32(), "a");
  te::Tensor c = compute(
      {1}, [&](const Indices& i) { return a(i[0]) / 0; }, "c");
  EXPECT_THROW(evaluate({c}, {{a.get(), values(DType::kInt32, {1}, {3})}}), Error);
}

TEST(InterpreterTest, CastsTruncateAndTestNonZero) {
  te::Tensor x = placeholder({4}, f32(), "x");
  te::Tensor to_int = compute(
      {4}, [&](const Indices& i) { return tir::cast(i32(), x(i[0])); }, "to_int");
  te::Tensor to_bool = compute(
      {4},
      [&](const Indices& i) {
        return tir::cast(DataType{DType::kBool, 1}, x(i[0]));
      },
      "to_bool");
  kiln::Tensor xv = values(DType::kFloat32, {4}, {2.7, -2.7, 0.0, NAN});
  std::vector<kiln::Tensor> out = evaluate({to_int, to_bool}, {{x.get(), xv}});
  EXPECT_EQ(out[0].element_as_int64(0), 2);
  EXPECT_EQ(out[0].element_as_int64(1), -2);
  EXPECT_EQ(out[0].element_as_int64(3), 0);
  EXPECT_EQ(out[1].element_as_int64(0), 1);
  EXPECT_EQ(out[1].element_as_int64(2), 0);
  EXPECT_EQ(out[1].element_as_int64(3), 1);
}

TEST(InterpreterTest, MinMaxPropagateNaN) {
  te::Tensor x = placeholder({2}, f32(), "x");
  te::Tensor y = compute(
      {2}, [&](const Indices& i) { return tir::max(x(i[0]), 0.0); }, "y");
  kiln::Tensor out = evaluate({y}, {{x.get(), values(DType::kFloat32, {2}, {NAN, -1})}})[0];
  EXPECT_TRUE(std::isnan(out.element_as_double(0)));
  EXPECT_EQ(out.element_as_double(1), 0.0);
}

TEST(InterpreterTest, ReductionIdentities) {
  te::Tensor x = placeholder({2, 3}, DataType{DType::kInt8, 1}, "x");
  tir::IterVar r = reduce_axis(3, "r");
  te::Tensor mx = compute(
      {2}, [&](const Indices& i) { return max_reduce(x(i[0], r.var), {r}); }, "mx");
  tir::IterVar s = reduce_axis(3, "s");
  te::Tensor pr = compute(
      {2}, [&](const Indices& i) { return prod(x(i[0], s.var), {s}); }, "pr");
  kiln::Tensor xv = values(DType::kInt8, {2, 3}, {-128, -100, -120, 2, 3, 4});
  std::vector<kiln::Tensor> out = evaluate({mx, pr}, {{x.get(), xv}});
  EXPECT_EQ(out[0].element_as_int64(0), -100);
  EXPECT_EQ(out[0].element_as_int64(1), 4);
  EXPECT_EQ(out[1].element_as_int64(1), 24);
}

TEST(InterpreterTest, SelectEvaluatesBothSidesSoOutOfBoundsReadsAreCaught) {
  te::Tensor x = placeholder({4}, f32(), "x");
  // Unsafe padding: the untaken side still reads x[-1] and x[4].
  te::Tensor padded = compute(
      {6},
      [&](const Indices& i) {
        PrimExpr j = PrimExpr(i[0]) - 1;
        return tir::select(tir::logical_and(j >= 0, j < 4), x(j), 0.0);
      },
      "padded");
  EXPECT_THROW(evaluate({padded}, {{x.get(), values(DType::kFloat32, {4}, {1, 2, 3, 4})}}),
               InternalError);
}

TEST(InterpreterTest, MissingOrMisshapenInputsAreInternalErrors) {
  te::Tensor x = placeholder({4}, f32(), "x");
  te::Tensor y = compute(
      {4}, [&](const Indices& i) { return x(i[0]) + 1.0; }, "y");
  EXPECT_THROW(evaluate({y}, {}), InternalError);
  EXPECT_THROW(evaluate({y}, {{x.get(), values(DType::kFloat32, {3}, {1, 2, 3})}}), InternalError);
}

TEST(InterpreterTest, IntrinsicsAndFloat16) {
  te::Tensor x = placeholder({3}, DataType{DType::kFloat16, 1}, "x");
  te::Tensor y = compute(
      {3}, [&](const Indices& i) { return tir::intrinsic("exp", {x(i[0])}); }, "y");
  kiln::Tensor out = evaluate({y}, {{x.get(), values(DType::kFloat16, {3}, {0.0, 1.0, -1.0})}})[0];
  EXPECT_EQ(out.dtype(), DType::kFloat16);
  EXPECT_EQ(out.element_as_double(0), 1.0);
  EXPECT_NEAR(out.element_as_double(1), std::exp(1.0), 2e-3);
  EXPECT_NEAR(out.element_as_double(2), std::exp(-1.0), 1e-3);
}

}  // namespace
}  // namespace kiln::te
