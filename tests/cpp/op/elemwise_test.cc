#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <numbers>
#include <string>
#include <vector>

#include "ir/expr.h"
#include "ir/op.h"
#include "kiln/error.h"
#include "kiln/tensor.h"

#include "op_test_util.h"

namespace kiln::ir {
namespace {

using namespace op_test;

// --- registry -----------------------------------------------------------------------------------

TEST(ElemwiseRegistryTest, EveryOperatorIsRegisteredWithFamilyAndSummary) {
  const char* names[] = {
      "abs",         "neg",         "exp",         "log",        "sqrt",         "rsqrt",
      "reciprocal",  "erf",         "tanh",        "sigmoid",    "relu",         "floor",
      "ceil",        "round",       "sign",        "sin",        "cos",          "tan",
      "asin",        "acos",        "atan",        "sinh",       "cosh",         "asinh",
      "acosh",       "atanh",       "softplus",    "softsign",   "gelu",         "hard_swish",
      "leaky_relu",  "elu",         "celu",        "selu",       "hard_sigmoid", "thresholded_relu",
      "clip",        "logical_not", "bitwise_not", "isnan",      "isinf",        "add",
      "subtract",    "multiply",    "divide",      "power",      "maximum",      "minimum",
      "mod",         "prelu",       "bitwise_and", "bitwise_or", "bitwise_xor",  "bit_shift",
      "equal",       "not_equal",   "less",        "less_equal", "greater",      "greater_equal",
      "logical_and", "logical_or",  "logical_xor", "where",      "cast"};
  for (const char* name : names) {
    const OpDef& def = op(name);
    EXPECT_EQ(def.family, "elemwise") << name;
    EXPECT_FALSE(def.summary.empty()) << name;
    EXPECT_TRUE(static_cast<bool>(def.evaluate)) << name;
  }
  EXPECT_EQ(op("exp").pattern, OpPattern::kElemwise);
  EXPECT_EQ(op("add").pattern, OpPattern::kBroadcast);
  EXPECT_EQ(std::get<double>(*op("selu").find_attr("alpha")->default_value),
            1.67326319217681884765625);
  EXPECT_EQ(std::get<double>(*op("clip").find_attr("min")->default_value), -kInf);
}

// --- unary type relations ------------------------------------------------------------------------

TEST(ElemwiseTypeTest, UnaryKeepsTypeIncludingSymbolicDims) {
  Var x = var(DType::kFloat32, {Dim::symbol("batch"), 3});
  EXPECT_EQ(type_of("exp", {x}), "float32[batch, 3]");
  EXPECT_EQ(type_of("gelu", {x}, {{"approximate", std::string("tanh")}}), "float32[batch, 3]");
  EXPECT_EQ(type_of("relu", {var(DType::kInt8, {4})}), "int8[4]");
  EXPECT_EQ(type_of("abs", {var(DType::kUInt16, {})}), "uint16[]");
}

TEST(ElemwiseTypeTest, PredicatesReturnBool) {
  Var x = var(DType::kFloat16, {Dim::symbol("n"), 2});
  EXPECT_EQ(type_of("isnan", {x}), "bool[n, 2]");
  EXPECT_EQ(type_of("isinf", {x}), "bool[n, 2]");
  EXPECT_EQ(type_of("logical_not", {var(DType::kBool, {3})}), "bool[3]");
}

TEST(ElemwiseTypeTest, UnaryRejectsWrongDtypes) {
  expect_error([] { call("exp", {var(DType::kInt32, {2})}); }, "exp", "int32[2]");
  expect_error([] { call("neg", {var(DType::kUInt8, {2})}); }, "neg", "signed");
  expect_error([] { call("abs", {var(DType::kBool, {2})}); }, "abs", "numeric");
  expect_error([] { call("logical_not", {var(DType::kFloat32, {2})}); }, "logical_not", "bool");
  expect_error([] { call("bitwise_not", {var(DType::kFloat32, {2})}); }, "bitwise_not", "integer");
  expect_error([] { call("isnan", {var(DType::kInt64, {2})}); }, "isnan", "floating-point");
}

TEST(ElemwiseTypeTest, UnaryRejectsInvalidAttributes) {
  Var x = var(DType::kFloat32, {2});
  expect_error(
      [&] {
        call("gelu", {x}, {{"approximate", std::string("fast")}});
      },
      "gelu", "\"fast\"");
  expect_error([&] { call("celu", {x}, {{"alpha", 0.0}}); }, "celu", "alpha");
}

// --- binary type relations -----------------------------------------------------------------------

TEST(ElemwiseTypeTest, BinaryBroadcastsNumpyStyle) {
  EXPECT_EQ(type_of("add", {var(DType::kFloat32, {2, 1, 3}), var(DType::kFloat32, {4, 1})}),
            "float32[2, 4, 3]");
  EXPECT_EQ(type_of("multiply", {var(DType::kInt64, {}), var(DType::kInt64, {5})}), "int64[5]");
  EXPECT_EQ(type_of("subtract", {var(DType::kFloat32, {Dim::symbol("batch"), 1}),
                                 var(DType::kFloat32, {1, 5})}),
            "float32[batch, 5]");
  EXPECT_EQ(type_of("divide", {var(DType::kFloat32, {Dim::symbol("batch")}),
                               var(DType::kFloat32, {Dim::symbol("seq")})}),
            "float32[?]");
  EXPECT_EQ(type_of("power", {var(DType::kFloat32, {Dim::symbol("batch")}),
                              var(DType::kFloat32, {Dim::symbol("batch")})}),
            "float32[batch]");
}

TEST(ElemwiseTypeTest, BinaryRejectsMismatchedShapesAndDtypes) {
  expect_error(
      [] {
        call("add", {var(DType::kFloat32, {2, 3}), var(DType::kFloat32, {4, 3})});
      },
      "add", "[2, 3] and [4, 3]");
  expect_error(
      [] {
        call("add", {var(DType::kFloat32, {2}), var(DType::kInt32, {2})});
      },
      "add", "different dtypes");
  expect_error(
      [] {
        call("add", {var(DType::kBool, {2}), var(DType::kBool, {2})});
      },
      "add", "numeric");
  expect_error(
      [] {
        call("bitwise_and", {var(DType::kFloat32, {2}), var(DType::kFloat32, {2})});
      },
      "bitwise_and", "integer");
  expect_error(
      [] {
        call("bit_shift", {var(DType::kInt32, {2}), var(DType::kInt32, {2})});
      },
      "bit_shift", "unsigned");
  expect_error([] { call("add", {var(DType::kFloat32, {2})}); }, "add", "takes 2 arguments");
  expect_error(
      [] {
        call("mod", {var(DType::kInt32, {2}), var(DType::kInt32, {2})}, {{"fmod", int64_t{2}}});
      },
      "mod", "fmod");
}

TEST(ElemwiseTypeTest, ComparisonAndLogicReturnBool) {
  EXPECT_EQ(type_of("less", {var(DType::kInt32, {3, 1}), var(DType::kInt32, {4})}), "bool[3, 4]");
  EXPECT_EQ(type_of("equal", {var(DType::kBool, {2}), var(DType::kBool, {2})}), "bool[2]");
  EXPECT_EQ(type_of("logical_xor", {var(DType::kBool, {Dim::symbol("n")}), var(DType::kBool, {})}),
            "bool[n]");
  expect_error(
      [] {
        call("logical_and", {var(DType::kInt32, {2}), var(DType::kInt32, {2})});
      },
      "logical_and", "bool");
}

TEST(ElemwiseTypeTest, PreluSlopeBroadcastsToData) {
  Var data = var(DType::kFloat32, {Dim::symbol("n"), 3, 4, 4});
  EXPECT_EQ(type_of("prelu", {data, var(DType::kFloat32, {3, 1, 1})}), "float32[n, 3, 4, 4]");
  expect_error(
      [] {
        call("prelu", {var(DType::kFloat32, {3}), var(DType::kFloat32, {2, 3})});
      },
      "prelu", "does not broadcast");
}

TEST(ElemwiseTypeTest, WhereBroadcastsAllThree) {
  EXPECT_EQ(type_of("where",
                    {var(DType::kBool, {3, 1}), var(DType::kInt64, {4}), var(DType::kInt64, {})}),
            "int64[3, 4]");
  expect_error(
      [] {
        call("where",
             {var(DType::kFloat32, {2}), var(DType::kFloat32, {2}), var(DType::kFloat32, {2})});
      },
      "where", "condition must be a bool tensor");
  expect_error(
      [] {
        call("where",
             {var(DType::kBool, {2}), var(DType::kFloat32, {2}), var(DType::kFloat16, {2})});
      },
      "where", "different dtypes");
}

TEST(ElemwiseTypeTest, CastChangesDtypeOnly) {
  Var x = var(DType::kFloat32, {Dim::symbol("batch"), 2});
  EXPECT_EQ(type_of("cast", {x}, {{"dtype", std::string("float16")}}), "float16[batch, 2]");
  expect_error([&] { call("cast", {x}, {{"dtype", std::string("float33")}}); }, "cast", "float33");
  expect_error([&] { call("cast", {x}); }, "cast", "dtype");
}

// --- unary evaluation ----------------------------------------------------------------------------

TEST(ElemwiseEvalTest, UnaryFloatMath) {
  Tensor x = tensor(DType::kFloat32, {4}, {-2.0, -0.5, 0.0, 1.5});
  expect_near(doubles(eval("abs", {x})), {2.0, 0.5, 0.0, 1.5});
  expect_near(doubles(eval("neg", {x})), {2.0, 0.5, 0.0, -1.5});
  expect_near(doubles(eval("relu", {x})), {0.0, 0.0, 0.0, 1.5});
  expect_near(doubles(eval("sign", {x})), {-1.0, -1.0, 0.0, 1.0});
  expect_near(doubles(eval("floor", {x})), {-2.0, -1.0, 0.0, 1.0});
  expect_near(doubles(eval("ceil", {x})), {-2.0, -0.0, 0.0, 2.0});
  expect_near(doubles(eval("exp", {x})), {std::exp(-2.0), std::exp(-0.5), 1.0, std::exp(1.5)});
  expect_near(doubles(eval("sigmoid", {x})),
              {1 / (1 + std::exp(2.0)), 1 / (1 + std::exp(0.5)), 0.5, 1 / (1 + std::exp(-1.5))});
  expect_near(doubles(eval("tanh", {x})), {std::tanh(-2.0), std::tanh(-0.5), 0.0, std::tanh(1.5)});
  expect_near(doubles(eval("erf", {x})), {std::erf(-2.0), std::erf(-0.5), 0.0, std::erf(1.5)});
  expect_near(doubles(eval("softsign", {x})), {-2.0 / 3, -0.5 / 1.5, 0.0, 1.5 / 2.5});
  expect_near(doubles(eval("softplus", {x})),
              {std::log1p(std::exp(-2.0)), std::log1p(std::exp(-0.5)), std::log(2.0),
               std::log1p(std::exp(1.5))});
  Tensor positive = tensor(DType::kFloat64, {3}, {0.25, 1.0, 4.0});
  expect_near(doubles(eval("sqrt", {positive})), {0.5, 1.0, 2.0});
  expect_near(doubles(eval("rsqrt", {positive})), {2.0, 1.0, 0.5});
  expect_near(doubles(eval("reciprocal", {positive})), {4.0, 1.0, 0.25});
  expect_near(doubles(eval("log", {positive})), {std::log(0.25), 0.0, std::log(4.0)});
}

TEST(ElemwiseEvalTest, TrigonometricFunctions) {
  Tensor x = tensor(DType::kFloat64, {2}, {0.0, 0.5});
  expect_near(doubles(eval("sin", {x})), {0.0, std::sin(0.5)});
  expect_near(doubles(eval("cos", {x})), {1.0, std::cos(0.5)});
  expect_near(doubles(eval("tan", {x})), {0.0, std::tan(0.5)});
  expect_near(doubles(eval("asin", {x})), {0.0, std::asin(0.5)});
  expect_near(doubles(eval("acos", {x})), {std::acos(0.0), std::acos(0.5)});
  expect_near(doubles(eval("atan", {x})), {0.0, std::atan(0.5)});
  expect_near(doubles(eval("sinh", {x})), {0.0, std::sinh(0.5)});
  expect_near(doubles(eval("cosh", {x})), {1.0, std::cosh(0.5)});
  expect_near(doubles(eval("asinh", {x})), {0.0, std::asinh(0.5)});
  expect_near(doubles(eval("atanh", {x})), {0.0, std::atanh(0.5)});
  expect_near(doubles(eval("acosh", {tensor(DType::kFloat64, {1}, {2.0})})), {std::acosh(2.0)});
}

TEST(ElemwiseEvalTest, RoundIsHalfToEven) {
  Tensor x = tensor(DType::kFloat32, {6}, {0.5, 1.5, 2.5, -0.5, -1.5, 2.6});
  expect_near(doubles(eval("round", {x})), {0.0, 2.0, 2.0, -0.0, -2.0, 3.0});
}

TEST(ElemwiseEvalTest, ActivationsWithAttributes) {
  Tensor x = tensor(DType::kFloat32, {3}, {-1.0, 0.0, 2.0});
  expect_near(doubles(eval("leaky_relu", {x})), {-0.01, 0.0, 2.0});
  expect_near(doubles(eval("leaky_relu", {x}, {{"alpha", 0.5}})), {-0.5, 0.0, 2.0});
  expect_near(doubles(eval("elu", {x})), {std::exp(-1.0) - 1.0, 0.0, 2.0});
  expect_near(doubles(eval("celu", {x}, {{"alpha", 2.0}})),
              {2.0 * (std::exp(-0.5) - 1.0), 0.0, 2.0});
  double alpha = 1.67326319217681884765625, gamma = 1.05070102214813232421875;
  expect_near(doubles(eval("selu", {x})), {gamma * alpha * (std::exp(-1.0) - 1.0), 0.0, gamma * 2});
  expect_near(doubles(eval("hard_sigmoid", {x})), {0.3, 0.5, 0.9});
  expect_near(doubles(eval("thresholded_relu", {x})), {0.0, 0.0, 2.0});
  expect_near(doubles(eval("hard_swish", {tensor(DType::kFloat32, {3}, {-4.0, 1.0, 4.0})})),
              {0.0, 1.0 * (1.0 / 6 + 0.5), 4.0});
  expect_near(doubles(eval("gelu", {x})), {-0.5 * (1 + std::erf(-1 / std::sqrt(2.0))), 0.0,
                                           1.0 * (1 + std::erf(std::sqrt(2.0)))});
  double inner = std::sqrt(2.0 / std::numbers::pi) * (2.0 + 0.044715 * 8.0);
  EXPECT_NEAR(doubles(eval("gelu", {x}, {{"approximate", std::string("tanh")}}))[2],
              1.0 + std::tanh(inner), 1e-6);
  expect_near(doubles(eval("clip", {x}, {{"min", -0.5}, {"max", 1.0}})), {-0.5, 0.0, 1.0});
  expect_near(doubles(eval("clip", {x})), {-1.0, 0.0, 2.0});
}

TEST(ElemwiseEvalTest, UnaryIntegersComputeExactly) {
  Tensor x = int64s({4}, {std::numeric_limits<int64_t>::min(), -3, 0, (int64_t{1} << 53) + 1});
  EXPECT_EQ(ints(eval("neg", {x})), (std::vector<int64_t>{std::numeric_limits<int64_t>::min(), 3, 0,
                                                          -((int64_t{1} << 53) + 1)}));
  EXPECT_EQ(ints(eval("abs", {x}))[3], (int64_t{1} << 53) + 1);
  EXPECT_EQ(ints(eval("sign", {x})), (std::vector<int64_t>{-1, -1, 0, 1}));
  EXPECT_EQ(ints(eval("relu", {x})), (std::vector<int64_t>{0, 0, 0, (int64_t{1} << 53) + 1}));
  Tensor small = tensor(DType::kInt32, {4}, {-5, -1, 1, 5});
  Tensor clipped = eval("clip", {small}, {{"min", -1.5}, {"max", 2.5}});
  EXPECT_EQ(clipped.dtype(), DType::kInt32);
  EXPECT_EQ(ints(clipped), (std::vector<int64_t>{-1, -1, 1, 2}));
  Tensor unsigned_values = tensor(DType::kUInt8, {2}, {0, 200});
  EXPECT_EQ(ints(eval("abs", {unsigned_values})), (std::vector<int64_t>{0, 200}));
  EXPECT_EQ(ints(eval("clip", {unsigned_values}, {{"max", 100.0}})),
            (std::vector<int64_t>{0, 100}));
}

TEST(ElemwiseEvalTest, Float16ResultsAreRoundedToHalf) {
  Tensor x = tensor(DType::kFloat16, {3}, {-1.0, 0.1, 1.0});
  Tensor y = eval("exp", {x});
  EXPECT_EQ(y.dtype(), DType::kFloat16);
  double half_of_e = half_to_float(float_to_half(static_cast<float>(std::exp(1.0))));
  EXPECT_EQ(y.element_as_double(2), half_of_e);
  expect_near(doubles(eval("relu", {x})), {0.0, 0.0999755859375, 1.0}, 0.0);
}

TEST(ElemwiseEvalTest, PredicatesAndBitwiseNot) {
  Tensor x = tensor(DType::kFloat32, {4}, {kNaN, kInf, -kInf, 1.0});
  EXPECT_EQ(ints(eval("isnan", {x})), (std::vector<int64_t>{1, 0, 0, 0}));
  EXPECT_EQ(ints(eval("isinf", {x})), (std::vector<int64_t>{0, 1, 1, 0}));
  EXPECT_EQ(ints(eval("isinf", {x}, {{"detect_negative", int64_t{0}}})),
            (std::vector<int64_t>{0, 1, 0, 0}));
  EXPECT_EQ(eval("isnan", {x}).dtype(), DType::kBool);
  EXPECT_EQ(ints(eval("logical_not", {tensor(DType::kBool, {2}, {1, 0})})),
            (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(ints(eval("bitwise_not", {tensor(DType::kInt8, {2}, {5, -1})})),
            (std::vector<int64_t>{-6, 0}));
  EXPECT_EQ(ints(eval("bitwise_not", {tensor(DType::kUInt8, {2}, {5, 0})})),
            (std::vector<int64_t>{250, 255}));
}

// --- binary evaluation ---------------------------------------------------------------------------

TEST(ElemwiseEvalTest, ArithmeticBroadcasts) {
  Tensor a = tensor(DType::kFloat32, {2, 1}, {1.0, 2.0});
  Tensor b = tensor(DType::kFloat32, {3}, {10.0, 20.0, 30.0});
  Tensor sum = eval("add", {a, b});
  EXPECT_EQ(sum.shape(), (std::vector<int64_t>{2, 3}));
  expect_near(doubles(sum), {11, 21, 31, 12, 22, 32});
  expect_near(doubles(eval("subtract", {a, b})), {-9, -19, -29, -8, -18, -28});
  expect_near(doubles(eval("multiply", {a, b})), {10, 20, 30, 20, 40, 60});
  expect_near(doubles(eval("divide", {b, a})), {10, 20, 30, 5, 10, 15});
  expect_near(doubles(eval("power", {a, b})), {1, 1, 1, 1024, 1048576, 1073741824});
}

TEST(ElemwiseEvalTest, Int64ArithmeticIsExact) {
  int64_t big = (int64_t{1} << 53) + 1;  // not representable in double
  Tensor a = int64s({2}, {big, std::numeric_limits<int64_t>::max()});
  Tensor one = int64s({}, {1});
  EXPECT_EQ(ints(eval("add", {a, one})),
            (std::vector<int64_t>{big + 1, std::numeric_limits<int64_t>::min()}));
  EXPECT_EQ(ints(eval("multiply", {a, int64s({}, {3})}))[0], 3 * big);
  EXPECT_EQ(ints(eval("subtract", {a, one}))[0], big - 1);
  EXPECT_EQ(ints(eval("maximum", {a, int64s({}, {big + 2})})),
            (std::vector<int64_t>{big + 2, std::numeric_limits<int64_t>::max()}));
}

TEST(ElemwiseEvalTest, IntegerDivisionTruncatesTowardZero) {
  Tensor a = int64s({4}, {7, -7, 7, -7});
  Tensor b = int64s({4}, {2, 2, -2, -2});
  EXPECT_EQ(ints(eval("divide", {a, b})), (std::vector<int64_t>{3, -3, -3, 3}));
  Tensor a32 = tensor(DType::kInt32, {2}, {7, -7});
  Tensor b32 = tensor(DType::kInt32, {2}, {2, 2});
  Tensor quotient = eval("divide", {a32, b32});
  EXPECT_EQ(quotient.dtype(), DType::kInt32);
  EXPECT_EQ(ints(quotient), (std::vector<int64_t>{3, -3}));
  expect_error([&] { eval("divide", {a, int64s({}, {0})}); }, "divide", "division by zero");
  EXPECT_EQ(
      ints(eval("divide", {int64s({}, {std::numeric_limits<int64_t>::min()}), int64s({}, {-1})})),
      (std::vector<int64_t>{std::numeric_limits<int64_t>::min()}));
}

TEST(ElemwiseEvalTest, ModSignFollowsDivisorOrDividend) {
  Tensor a = int64s({4}, {7, -7, 7, -7});
  Tensor b = int64s({4}, {3, 3, -3, -3});
  EXPECT_EQ(ints(eval("mod", {a, b})), (std::vector<int64_t>{1, 2, -2, -1}));
  EXPECT_EQ(ints(eval("mod", {a, b}, {{"fmod", int64_t{1}}})),
            (std::vector<int64_t>{1, -1, 1, -1}));
  Tensor x = tensor(DType::kFloat32, {2}, {-7.5, 7.5});
  Tensor two = tensor(DType::kFloat32, {}, {2.0});
  expect_near(doubles(eval("mod", {x, two})), {0.5, 1.5});
  expect_near(doubles(eval("mod", {x, two}, {{"fmod", int64_t{1}}})), {-1.5, 1.5});
  expect_error([&] { eval("mod", {a, int64s({}, {0})}); }, "mod", "division by zero");
}

TEST(ElemwiseEvalTest, IntegerPower) {
  Tensor base = int64s({5}, {2, 3, -2, 2, -1});
  Tensor exponent = int64s({5}, {10, 0, 3, -1, -3});
  EXPECT_EQ(ints(eval("power", {base, exponent})), (std::vector<int64_t>{1024, 1, -8, 0, -1}));
  EXPECT_EQ(ints(eval("power", {int64s({}, {3}), int64s({}, {39})}))[0], 4052555153018976267);
}

TEST(ElemwiseEvalTest, UnsignedArithmeticWrapsAndComparesUnsigned) {
  Tensor a = tensor(DType::kUInt8, {2}, {250, 3});
  Tensor b = tensor(DType::kUInt8, {2}, {10, 5});
  EXPECT_EQ(ints(eval("add", {a, b})), (std::vector<int64_t>{4, 8}));
  EXPECT_EQ(ints(eval("subtract", {a, b})), (std::vector<int64_t>{240, 254}));
  // uint64 values above 2^63 must divide and compare as unsigned.
  Tensor big(DType::kUInt64, {1});
  big.mutable_data_as<uint64_t>()[0] = (uint64_t{1} << 63) + 2;
  Tensor two(DType::kUInt64, {1});
  two.mutable_data_as<uint64_t>()[0] = 2;
  EXPECT_EQ(eval("divide", {big, two}).data_as<uint64_t>()[0], (uint64_t{1} << 62) + 1);
  EXPECT_EQ(ints(eval("greater", {big, two})), (std::vector<int64_t>{1}));
  EXPECT_EQ(eval("maximum", {big, two}).data_as<uint64_t>()[0], (uint64_t{1} << 63) + 2);
}

TEST(ElemwiseEvalTest, MaximumAndMinimumPropagateNaN) {
  Tensor a = tensor(DType::kFloat32, {3}, {1.0, kNaN, -2.0});
  Tensor b = tensor(DType::kFloat32, {3}, {2.0, 0.0, -3.0});
  expect_near(doubles(eval("maximum", {a, b})), {2.0, kNaN, -2.0});
  expect_near(doubles(eval("minimum", {a, b})), {1.0, kNaN, -3.0});
}

TEST(ElemwiseEvalTest, BitwiseOperators) {
  Tensor a = tensor(DType::kInt32, {2}, {12, -1});
  Tensor b = tensor(DType::kInt32, {2}, {10, 6});
  EXPECT_EQ(ints(eval("bitwise_and", {a, b})), (std::vector<int64_t>{8, 6}));
  EXPECT_EQ(ints(eval("bitwise_or", {a, b})), (std::vector<int64_t>{14, -1}));
  EXPECT_EQ(ints(eval("bitwise_xor", {a, b})), (std::vector<int64_t>{6, -7}));
  Tensor value = tensor(DType::kUInt8, {3}, {200, 16, 1});
  Tensor amount = tensor(DType::kUInt8, {3}, {1, 2, 9});
  EXPECT_EQ(ints(eval("bit_shift", {value, amount})), (std::vector<int64_t>{144, 64, 0}));
  EXPECT_EQ(ints(eval("bit_shift", {value, amount}, {{"direction", std::string("right")}})),
            (std::vector<int64_t>{100, 4, 0}));
  expect_error(
      [&] {
        call("bit_shift", {ConstantNode::make(value), ConstantNode::make(amount)},
             {{"direction", std::string("up")}});
      },
      "bit_shift", "direction");
}

TEST(ElemwiseEvalTest, PreluUsesBroadcastSlope) {
  Tensor x = tensor(DType::kFloat32, {2, 3}, {-1, 2, -3, 4, -5, 6});
  Tensor slope = tensor(DType::kFloat32, {3}, {0.1, 0.2, 0.3});
  Tensor y = eval("prelu", {x, slope});
  EXPECT_EQ(y.shape(), (std::vector<int64_t>{2, 3}));
  expect_near(doubles(y), {-0.1, 2, -0.9, 4, -1.0, 6});
  EXPECT_EQ(ints(eval("prelu", {int64s({2}, {-4, 4}), int64s({}, {3})})),
            (std::vector<int64_t>{-12, 4}));
}

TEST(ElemwiseEvalTest, ComparisonsReturnBool) {
  Tensor a = int64s({2, 1}, {1, 5});
  Tensor b = int64s({3}, {1, 3, 7});
  Tensor less = eval("less", {a, b});
  EXPECT_EQ(less.dtype(), DType::kBool);
  EXPECT_EQ(less.shape(), (std::vector<int64_t>{2, 3}));
  EXPECT_EQ(ints(less), (std::vector<int64_t>{0, 1, 1, 0, 0, 1}));
  EXPECT_EQ(ints(eval("less_equal", {a, b})), (std::vector<int64_t>{1, 1, 1, 0, 0, 1}));
  EXPECT_EQ(ints(eval("greater", {a, b})), (std::vector<int64_t>{0, 0, 0, 1, 1, 0}));
  EXPECT_EQ(ints(eval("greater_equal", {a, b})), (std::vector<int64_t>{1, 0, 0, 1, 1, 0}));
  EXPECT_EQ(ints(eval("equal", {a, b})), (std::vector<int64_t>{1, 0, 0, 0, 0, 0}));
  EXPECT_EQ(ints(eval("not_equal", {a, b})), (std::vector<int64_t>{0, 1, 1, 1, 1, 1}));
  Tensor nan = tensor(DType::kFloat32, {2}, {kNaN, 1.0});
  EXPECT_EQ(ints(eval("equal", {nan, nan})), (std::vector<int64_t>{0, 1}));
  EXPECT_EQ(ints(eval("not_equal", {nan, nan})), (std::vector<int64_t>{1, 0}));
}

TEST(ElemwiseEvalTest, LogicOperators) {
  Tensor a = tensor(DType::kBool, {2, 1}, {1, 0});
  Tensor b = tensor(DType::kBool, {2}, {1, 0});
  EXPECT_EQ(ints(eval("logical_and", {a, b})), (std::vector<int64_t>{1, 0, 0, 0}));
  EXPECT_EQ(ints(eval("logical_or", {a, b})), (std::vector<int64_t>{1, 1, 1, 0}));
  EXPECT_EQ(ints(eval("logical_xor", {a, b})), (std::vector<int64_t>{0, 1, 1, 0}));
}

TEST(ElemwiseEvalTest, WhereSelectsWithBroadcasting) {
  Tensor condition = tensor(DType::kBool, {3}, {1, 0, 1});
  Tensor x = tensor(DType::kFloat16, {2, 3}, {1, 2, 3, 4, 5, 6});
  Tensor y = tensor(DType::kFloat16, {}, {-1});
  Tensor result = eval("where", {condition, x, y});
  EXPECT_EQ(result.dtype(), DType::kFloat16);
  expect_near(doubles(result), {1, -1, 3, 4, -1, 6});
}

// --- cast ----------------------------------------------------------------------------------------

Tensor cast_to(const Tensor& x, const std::string& dtype) {
  return eval("cast", {x}, {{"dtype", dtype}});
}

TEST(ElemwiseEvalTest, CastFloatToIntegerTruncatesAndIntegersWrap) {
  Tensor x = tensor(DType::kFloat32, {4}, {1.7, -1.7, 2.5, -0.2});
  Tensor y = cast_to(x, "int32");
  EXPECT_EQ(y.dtype(), DType::kInt32);
  EXPECT_EQ(ints(y), (std::vector<int64_t>{1, -1, 2, 0}));
  EXPECT_EQ(ints(cast_to(int64s({3}, {300, -129, 5}), "int8")), (std::vector<int64_t>{44, 127, 5}));
  int64_t big = (int64_t{1} << 53) + 1;
  EXPECT_EQ(ints(cast_to(int64s({1}, {big}), "uint64")), (std::vector<int64_t>{big}));
}

TEST(ElemwiseEvalTest, CastToAndFromFloat16) {
  Tensor x = tensor(DType::kFloat32, {4}, {0.1, 65504.0, 1e5, -2.0});
  Tensor half = cast_to(x, "float16");
  EXPECT_EQ(half.dtype(), DType::kFloat16);
  expect_near(doubles(half), {0.0999755859375, 65504.0, kInf, -2.0}, 0.0);
  Tensor back = cast_to(half, "float32");
  EXPECT_EQ(back.dtype(), DType::kFloat32);
  expect_near(doubles(back), {0.0999755859375, 65504.0, kInf, -2.0}, 0.0);
  EXPECT_EQ(ints(cast_to(half, "int64")), (std::vector<int64_t>{0, 65504, 0, -2}));
  expect_near(doubles(cast_to(int64s({2}, {2049, -3}), "float16")), {2048.0, -3.0}, 0.0);
}

TEST(ElemwiseEvalTest, CastToAndFromBool) {
  Tensor x = tensor(DType::kFloat32, {4}, {0.0, 0.5, kNaN, -2.0});
  Tensor flags = cast_to(x, "bool");
  EXPECT_EQ(flags.dtype(), DType::kBool);
  EXPECT_EQ(ints(flags), (std::vector<int64_t>{0, 1, 1, 1}));
  expect_near(doubles(cast_to(flags, "float16")), {0.0, 1.0, 1.0, 1.0}, 0.0);
  EXPECT_EQ(ints(cast_to(int64s({3}, {0, 7, -1}), "bool")), (std::vector<int64_t>{0, 1, 1}));
  EXPECT_EQ(ints(cast_to(flags, "int32")), (std::vector<int64_t>{0, 1, 1, 1}));
}

}  // namespace
}  // namespace kiln::ir
