// Elementwise operators: compute (through the interpreter) vs the operator's reference evaluator,
// and the default schedule applies.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "lower_test_util.h"

namespace kiln::op::lower_test {
namespace {

struct UnaryCase {
  std::string name;
  double low = -3.0, high = 3.0;
  ir::Attrs attrs = {};
};

TEST(LowerElemwiseTest, FloatUnaryOpsMatchReference) {
  std::vector<UnaryCase> cases = {
      {"abs"},
      {"neg"},
      {"exp"},
      {"log", 0.1, 5.0},
      {"sqrt", 0.0, 5.0},
      {"rsqrt", 0.1, 5.0},
      {"reciprocal", 0.5, 5.0},
      {"erf"},
      {"tanh"},
      {"sigmoid", -8.0, 8.0},
      {"relu"},
      {"floor"},
      {"ceil"},
      {"round", -4.0, 4.0},
      {"sign"},
      {"sin"},
      {"cos"},
      {"tan", -1.2, 1.2},
      {"asin", -0.9, 0.9},
      {"acos", -0.9, 0.9},
      {"atan"},
      {"sinh"},
      {"cosh"},
      {"asinh"},
      {"acosh", 1.1, 5.0},
      {"atanh", -0.9, 0.9},
      {"softplus", -30.0, 30.0},
      {"softsign"},
      {"gelu"},
      {"gelu", -3.0, 3.0, ir::Attrs{{"approximate", std::string("tanh")}}},
      {"hard_swish", -5.0, 5.0},
      {"leaky_relu", -3.0, 3.0, ir::Attrs{{"alpha", 0.2}}},
      {"elu", -3.0, 3.0, ir::Attrs{{"alpha", 0.7}}},
      {"celu", -3.0, 3.0, ir::Attrs{{"alpha", 1.5}}},
      {"selu"},
      {"hard_sigmoid", -5.0, 5.0},
      {"thresholded_relu", -3.0, 3.0, ir::Attrs{{"alpha", 0.5}}},
      {"clip", -3.0, 3.0, ir::Attrs{{"min", 0.0}, {"max", 6.0}}},
      {"clip", -3.0, 3.0, ir::Attrs{{"min", -1.0}}},
      {"clip", -3.0, 3.0, ir::Attrs{{"max", 1.5}}},
      {"clip"},
      {"isnan"},
      {"isinf"},
  };
  for (const Ints& shape : {Ints{3, 17}, Ints{2, 2, 8}, Ints{15}, Ints{}}) {
    for (const UnaryCase& c : cases) {
      SCOPED_TRACE(c.name + " on " + f32(shape).to_string());
      Lowered lowered = lower(c.name, {f32(shape)}, c.attrs);
      expect_matches_reference(lowered, 2e-6, 1e-6, c.low, c.high);
      expect_schedules(lowered);
    }
  }
}

TEST(LowerElemwiseTest, IntegerUnaryOpsMatchReference) {
  for (DType dtype : {DType::kInt32, DType::kInt8, DType::kUInt8, DType::kInt64}) {
    std::vector<UnaryCase> cases = {
        {"abs", -100, 100},
        {"relu", -100, 100},
        {"sign", -100, 100},
        {"clip", -100, 100, ir::Attrs{{"min", -3.5}, {"max", 7.2}}},
        {"clip", -100, 100, ir::Attrs{{"min", -1000.0}, {"max", 1e30}}},
        {"bitwise_not", -100, 100},
    };
    if (dtype_is_signed(dtype)) cases.push_back({"neg", -100, 100});
    for (const UnaryCase& c : cases) {
      SCOPED_TRACE(c.name + " on " + std::string(dtype_name(dtype)));
      Lowered lowered = lower(c.name, {typed(dtype, {4, 9})}, c.attrs);
      expect_matches_reference(lowered, 0, 0, c.low, c.high);
      expect_schedules(lowered);
    }
  }
}

TEST(LowerElemwiseTest, BinaryOpsBroadcastLikeReference) {
  std::vector<std::pair<Ints, Ints>> shapes = {
      {{3, 17}, {3, 17}}, {{2, 1, 17}, {3, 1}}, {{8}, {4, 8}}, {{}, {3, 4}}, {{5, 1}, {1, 9}}};
  std::vector<std::string> float_ops = {"add",     "subtract", "multiply", "divide",
                                        "maximum", "minimum",  "prelu"};
  for (const auto& [a, b] : shapes) {
    for (const std::string& name : float_ops) {
      // prelu's slope must broadcast to data's shape.
      if (name == "prelu" && (a.size() < b.size() || a == Ints{2, 1, 17} || a == Ints{5, 1})) {
        continue;
      }
      SCOPED_TRACE(name + " " + f32(a).to_string() + " " + f32(b).to_string());
      Lowered lowered = lower(name, {f32(a), f32(b)});
      expect_matches_reference(lowered);
      expect_schedules(lowered);
    }
    SCOPED_TRACE("power");
    Lowered power = lower("power", {f32(a), f32(b)});
    expect_matches_reference(power, 2e-6, 1e-6, 0.2, 3.0);
  }
}

TEST(LowerElemwiseTest, ModBothConventions) {
  for (DType dtype : {DType::kFloat32, DType::kInt32}) {
    for (int64_t fmod : {0, 1}) {
      SCOPED_TRACE(std::string(dtype_name(dtype)) + " fmod=" + std::to_string(fmod));
      Lowered lowered =
          lower("mod", {typed(dtype, {4, 9}), typed(dtype, {9})}, ir::Attrs{{"fmod", fmod}});
      std::vector<Tensor> args = {random_tensor(dtype, {4, 9}, 3, -20, 20),
                                  random_tensor(dtype, {9}, 4, 1, 6)};
      // Negative divisors too, never zero.
      for (int64_t i = 0; i < 9; i += 2) {
        args[1].set_element_from_double(i, -args[1].element_as_double(i));
      }
      expect_close(run_compute(lowered, args)[0], run_reference(lowered, args), 1e-6, 1e-6);
    }
  }
}

TEST(LowerElemwiseTest, IntegerArithmeticWrapsAndTruncates) {
  for (const char* name :
       {"add", "subtract", "multiply", "divide", "maximum", "minimum", "power"}) {
    SCOPED_TRACE(name);
    Lowered lowered = lower(name, {typed(DType::kInt32, {3, 8}), typed(DType::kInt32, {8})});
    std::vector<Tensor> args = {random_tensor(DType::kInt32, {3, 8}, 5, -50, 50),
                                random_tensor(DType::kInt32, {8}, 6, 1, 5)};
    if (std::string(name) != "power") args[1].set_element_from_int64(3, -3);
    expect_close(run_compute(lowered, args)[0], run_reference(lowered, args), 0, 0);
  }
  // int8 wraps like the reference.
  Lowered add = lower("add", {typed(DType::kInt8, {16}), typed(DType::kInt8, {16})});
  expect_matches_reference(add, 0, 0, -128, 127);
}

TEST(LowerElemwiseTest, ComparisonsAndLogic) {
  for (const char* name :
       {"equal", "not_equal", "less", "less_equal", "greater", "greater_equal"}) {
    for (DType dtype : {DType::kFloat32, DType::kInt32, DType::kUInt8}) {
      SCOPED_TRACE(std::string(name) + " " + std::string(dtype_name(dtype)));
      Lowered lowered = lower(name, {typed(dtype, {4, 9}), typed(dtype, {9})});
      // Few distinct values, so that equality happens.
      std::vector<Tensor> args = {random_tensor(dtype, {4, 9}, 7, 0, 3),
                                  random_tensor(dtype, {9}, 8, 0, 3)};
      if (dtype == DType::kFloat32) {
        for (Tensor& arg : args) {
          for (int64_t i = 0; i < arg.numel(); ++i) {
            arg.set_element_from_double(i, std::round(arg.element_as_double(i)));
          }
        }
      }
      expect_close(run_compute(lowered, args)[0], run_reference(lowered, args), 0, 0);
      expect_schedules(lowered);
    }
  }
  for (const char* name : {"logical_and", "logical_or", "logical_xor"}) {
    SCOPED_TRACE(name);
    Lowered lowered = lower(name, {typed(DType::kBool, {4, 9}), typed(DType::kBool, {4, 1})});
    expect_matches_reference(lowered, 0, 0);
    expect_schedules(lowered);
  }
  Lowered logical_not = lower("logical_not", {typed(DType::kBool, {17})});
  expect_matches_reference(logical_not, 0, 0);
}

TEST(LowerElemwiseTest, WhereBroadcastsAllThree) {
  Lowered lowered = lower("where", {typed(DType::kBool, {3, 1, 8}), f32({5, 1}), f32({8})});
  expect_matches_reference(lowered, 0, 0);
  expect_schedules(lowered);
}

TEST(LowerElemwiseTest, CastBetweenDtypes) {
  struct Case {
    DType from, to;
  };
  for (Case c : {Case{DType::kFloat32, DType::kInt32}, Case{DType::kInt32, DType::kFloat32},
                 Case{DType::kFloat32, DType::kBool}, Case{DType::kBool, DType::kFloat32},
                 Case{DType::kInt64, DType::kInt8}, Case{DType::kFloat32, DType::kFloat16},
                 Case{DType::kFloat32, DType::kFloat64}, Case{DType::kUInt8, DType::kInt64}}) {
    SCOPED_TRACE(std::string(dtype_name(c.from)) + " -> " + std::string(dtype_name(c.to)));
    Lowered lowered = lower("cast", {typed(c.from, {3, 11})},
                            ir::Attrs{{"dtype", std::string(dtype_name(c.to))}});
    expect_matches_reference(lowered, 0, 0, -300, 300);
    expect_schedules(lowered);
  }
}

TEST(LowerElemwiseTest, BiasAddAlongAxis) {
  for (int64_t axis : {1, -1, 0}) {
    SCOPED_TRACE(axis);
    Ints shape = {2, 7, 3, 9};
    int64_t channels = shape[static_cast<size_t>(axis < 0 ? axis + 4 : axis)];
    Lowered lowered = lower("bias_add", {f32(shape), f32({channels})}, ir::Attrs{{"axis", axis}});
    expect_matches_reference(lowered);
    expect_schedules(lowered);
  }
}

TEST(LowerElemwiseTest, Float16ComputesRoundLikeTheReference) {
  Lowered lowered = lower("add", {typed(DType::kFloat16, {17}), typed(DType::kFloat16, {17})});
  expect_matches_reference(lowered, 0, 0);
}

}  // namespace
}  // namespace kiln::op::lower_test
