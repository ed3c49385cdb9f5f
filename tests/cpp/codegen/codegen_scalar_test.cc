// Scalar code generation, JIT-run against C++ references: arithmetic over several dtypes, floor
// division, comparisons, selects, casts, math intrinsics, control flow.
#include <cmath>
#include <cstring>
#include <functional>
#include <limits>

#include "codegen_test_util.h"
#include "kiln/tensor.h"

namespace kiln::codegen {
namespace {

using namespace kiln::tir;  // NOLINT: the IR reads better unqualified in tests
using testing::AlignedVector;
using testing::jit;

constexpr DataType kF32{DType::kFloat32, 1};
constexpr DataType kF64{DType::kFloat64, 1};
constexpr DataType kI32{DType::kInt32, 1};
constexpr DataType kI64{DType::kInt64, 1};
constexpr DataType kU8{DType::kUInt8, 1};

using BinaryBuilder = std::function<PrimExpr(PrimExpr, PrimExpr)>;

// c[i] = f(a[i], b[i]) for i in [0, n)
PrimFunc binary_kernel(const std::string& name, DataType in, DataType out, int64_t n,
                       const BinaryBuilder& f) {
  Buffer a = make_buffer("a", in, {n});
  Buffer b = make_buffer("b", in, {n});
  Buffer c = make_buffer("c", out, {n});
  Var i_var = make_var("i");
  PrimExpr i(i_var);
  Stmt body = make_for(i_var, 0, n, ForKind::kSerial,
                       make_store(c, f(buffer_load(a, {i}), buffer_load(b, {i})), {i}));
  return PrimFunc{name, {a, b, c}, body};
}

// b[i] = f(a[i])
PrimFunc unary_kernel(const std::string& name, DataType in, DataType out, int64_t n,
                      const std::function<PrimExpr(PrimExpr)>& f) {
  Buffer a = make_buffer("a", in, {n});
  Buffer b = make_buffer("b", out, {n});
  Var i_var = make_var("i");
  PrimExpr i(i_var);
  Stmt body = make_for(i_var, 0, n, ForKind::kSerial, make_store(b, f(buffer_load(a, {i})), {i}));
  return PrimFunc{name, {a, b}, body};
}

template <typename T>
std::vector<T> run_binary(DataType dtype, const BinaryBuilder& f, const std::vector<T>& a_values,
                          const std::vector<T>& b_values) {
  size_t n = a_values.size();
  auto kernel = jit(binary_kernel("binary", dtype, dtype, static_cast<int64_t>(n), f));
  AlignedVector<T> a(n), b(n), c(n);
  for (size_t i = 0; i < n; ++i) {
    a[i] = a_values[i];
    b[i] = b_values[i];
  }
  EXPECT_EQ(kernel(a.data(), b.data(), c.data()), 0);
  return std::vector<T>(c.data(), c.data() + n);
}

template <typename T>
void check_integer_ops(DataType dtype, const std::vector<T>& a, const std::vector<T>& b) {
  struct Case {
    const char* name;
    BinaryBuilder build;
    std::function<T(T, T)> reference;
  };
  auto floor_div = [](T x, T y) -> T {
    T q = static_cast<T>(x / y);
    return (x % y != 0 && ((x < 0) != (y < 0))) ? static_cast<T>(q - 1) : q;
  };
  auto floor_mod = [](T x, T y) -> T {
    T r = static_cast<T>(x % y);
    return (r != 0 && ((r < 0) != (y < 0))) ? static_cast<T>(r + y) : r;
  };
  std::vector<Case> cases = {
      {"add", [](PrimExpr x, PrimExpr y) { return x + y; }, [](T x, T y) { return T(x + y); }},
      {"sub", [](PrimExpr x, PrimExpr y) { return x - y; }, [](T x, T y) { return T(x - y); }},
      {"mul", [](PrimExpr x, PrimExpr y) { return x * y; }, [](T x, T y) { return T(x * y); }},
      {"div", [](PrimExpr x, PrimExpr y) { return x / y; }, [](T x, T y) { return T(x / y); }},
      {"mod", [](PrimExpr x, PrimExpr y) { return x % y; }, [](T x, T y) { return T(x % y); }},
      {"floordiv", [](PrimExpr x, PrimExpr y) { return floordiv(x, y); }, floor_div},
      {"floormod", [](PrimExpr x, PrimExpr y) { return floormod(x, y); }, floor_mod},
      {"min", [](PrimExpr x, PrimExpr y) { return min(x, y); },
       [](T x, T y) { return std::min(x, y); }},
      {"max", [](PrimExpr x, PrimExpr y) { return max(x, y); },
       [](T x, T y) { return std::max(x, y); }},
  };
  for (const Case& c : cases) {
    std::vector<T> result = run_binary<T>(dtype, c.build, a, b);
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(result[i], c.reference(a[i], b[i]))
          << c.name << "(" << +a[i] << ", " << +b[i] << ") for " << dtype.to_string();
    }
  }
}

TEST(CodegenTest, IntegerArithmeticInt32) {
  check_integer_ops<int32_t>(kI32, {7, -7, 7, -7, 0, 100, -2147483647, 5, 9},
                             {2, 2, -2, -2, 3, 7, 2, 5, -4});
}

TEST(CodegenTest, IntegerArithmeticInt64) {
  check_integer_ops<int64_t>(kI64, {7, -7, 7, -7, 0, int64_t{1} << 40, -(int64_t{1} << 40) - 3},
                             {2, 2, -2, -2, 3, 3, 1 << 20});
}

TEST(CodegenTest, IntegerArithmeticUInt8WrapsAndDividesUnsigned) {
  check_integer_ops<uint8_t>(kU8, {200, 7, 255, 0, 13, 250}, {100, 2, 3, 9, 255, 10});
}

TEST(CodegenTest, FloatArithmetic) {
  std::vector<float> a = {7.5f, -7.5f, 1.0f, -0.0f, 3.0f, 1e30f, -2.5f};
  std::vector<float> b = {2.0f, 2.0f, 3.0f, 1.0f, -2.0f, 1e-30f, 0.5f};
  auto check = [&](const char* name, const BinaryBuilder& f,
                   const std::function<float(float, float)>& ref) {
    std::vector<float> result = run_binary<float>(kF32, f, a, b);
    for (size_t i = 0; i < a.size(); ++i) {
      EXPECT_EQ(result[i], ref(a[i], b[i])) << name << "(" << a[i] << ", " << b[i] << ")";
    }
  };
  check(
      "add", [](PrimExpr x, PrimExpr y) { return x + y; }, [](float x, float y) { return x + y; });
  check(
      "sub", [](PrimExpr x, PrimExpr y) { return x - y; }, [](float x, float y) { return x - y; });
  check(
      "mul", [](PrimExpr x, PrimExpr y) { return x * y; }, [](float x, float y) { return x * y; });
  check(
      "div", [](PrimExpr x, PrimExpr y) { return x / y; }, [](float x, float y) { return x / y; });
  check(
      "mod", [](PrimExpr x, PrimExpr y) { return x % y; },
      [](float x, float y) { return std::fmod(x, y); });
  check(
      "floordiv", [](PrimExpr x, PrimExpr y) { return floordiv(x, y); },
      [](float x, float y) { return std::floor(x / y); });
  check(
      "floormod", [](PrimExpr x, PrimExpr y) { return floormod(x, y); },
      [](float x, float y) { return x - std::floor(x / y) * y; });
  check(
      "min", [](PrimExpr x, PrimExpr y) { return min(x, y); },
      [](float x, float y) { return x < y ? x : y; });
  check(
      "max", [](PrimExpr x, PrimExpr y) { return max(x, y); },
      [](float x, float y) { return x > y ? x : y; });
}

TEST(CodegenTest, MinMaxNanFollowsTheSelectDefinition) {
  float nan = std::numeric_limits<float>::quiet_NaN();
  std::vector<float> a = {nan, 1.0f, nan};
  std::vector<float> b = {1.0f, nan, nan};
  std::vector<float> lo = run_binary<float>(
      kF32, [](PrimExpr x, PrimExpr y) { return min(x, y); }, a, b);
  std::vector<float> hi = run_binary<float>(
      kF32, [](PrimExpr x, PrimExpr y) { return max(x, y); }, a, b);
  // min(a, b) = a < b ? a : b: a NaN in b propagates, a NaN in a gives b.
  EXPECT_EQ(lo[0], 1.0f);
  EXPECT_TRUE(std::isnan(lo[1]));
  EXPECT_TRUE(std::isnan(lo[2]));
  EXPECT_EQ(hi[0], 1.0f);
  EXPECT_TRUE(std::isnan(hi[1]));
}

TEST(CodegenTest, FloorDivModByPowersOfTwoAndVariablesWithNegatives) {
  const int64_t n = 41;
  for (int64_t divisor : {8, 3, -4}) {
    Buffer out_div = make_buffer("q", kI64, {n});
    Buffer out_mod = make_buffer("r", kI64, {n});
    Var i_var = make_var("i");
    PrimExpr i(i_var);
    PrimExpr x = PrimExpr(i) - 20;
    Stmt body = make_for(i_var, 0, n, ForKind::kSerial,
                         make_seq({make_store(out_div, floordiv(x, PrimExpr(divisor)), {i}),
                                   make_store(out_mod, floormod(x, PrimExpr(divisor)), {i})}));
    auto kernel = jit(PrimFunc{"floor_ops", {out_div, out_mod}, body});
    AlignedVector<int64_t> q(n), r(n);
    ASSERT_EQ(kernel(q.data(), r.data()), 0);
    for (int64_t k = 0; k < n; ++k) {
      int64_t value = k - 20;
      int64_t expected_q = static_cast<int64_t>(std::floor(static_cast<double>(value) / divisor));
      EXPECT_EQ(q[k], expected_q) << value << " // " << divisor;
      EXPECT_EQ(r[k], value - expected_q * divisor) << value << " % " << divisor;
    }
  }
}

TEST(CodegenTest, ComparisonsWriteBoolsAndSelectPicks) {
  std::vector<float> a = {1.0f, 2.0f, 3.0f, std::nanf("")};
  std::vector<float> b = {2.0f, 2.0f, 2.0f, 1.0f};
  const int64_t n = 4;
  struct Case {
    CompareOp op;
    std::function<bool(float, float)> reference;
  };
  std::vector<Case> cases = {
      {CompareOp::kEQ, [](float x, float y) { return x == y; }},
      {CompareOp::kNE, [](float x, float y) { return x != y; }},
      {CompareOp::kLT, [](float x, float y) { return x < y; }},
      {CompareOp::kLE, [](float x, float y) { return x <= y; }},
      {CompareOp::kGT, [](float x, float y) { return x > y; }},
      {CompareOp::kGE, [](float x, float y) { return x >= y; }},
  };
  for (const Case& c : cases) {
    auto kernel = jit(binary_kernel("cmp", kF32, bool_type(), n, [&](PrimExpr x, PrimExpr y) {
      return PrimExpr(std::make_shared<const CompareNode>(c.op, x, y));
    }));
    AlignedVector<float> av(n), bv(n);
    AlignedVector<uint8_t> out(n, 7);
    for (int64_t i = 0; i < n; ++i) {
      av[i] = a[i];
      bv[i] = b[i];
    }
    ASSERT_EQ(kernel(av.data(), bv.data(), out.data()), 0);
    for (int64_t i = 0; i < n; ++i) {
      EXPECT_EQ(out[i], c.reference(a[i], b[i]) ? 1 : 0) << int(c.op) << " at " << i;
    }
  }
  std::vector<float> picked =
      run_binary<float>(kF32,
                        [](PrimExpr x, PrimExpr y) {
                          return select(logical_and(x > 1.5f, logical_not(y < 0.0f)), x, y * 10.0f);
                        },
                        {1.0f, 2.0f, 3.0f}, {5.0f, 6.0f, -1.0f});
  EXPECT_EQ(picked, (std::vector<float>{50.0f, 2.0f, -10.0f}));
}

TEST(CodegenTest, CastsBetweenDtypes) {
  const int64_t n = 6;
  std::vector<float> values = {-3.7f, -0.5f, 0.0f, 2.5f, 200.9f, 1e-3f};
  auto run = [&](DataType to) {
    auto kernel = jit(unary_kernel("cast", kF32, to, n, [&](PrimExpr x) { return cast(to, x); }));
    AlignedVector<float> in(n);
    for (int64_t i = 0; i < n; ++i) in[i] = values[i];
    AlignedVector<uint64_t> out(n, 0);
    EXPECT_EQ(kernel(in.data(), out.data()), 0);
    return std::vector<uint8_t>(reinterpret_cast<uint8_t*>(out.data()),
                                reinterpret_cast<uint8_t*>(out.data()) + n * dtype_size(to.dtype));
  };
  auto as = [](const std::vector<uint8_t>& bytes, auto sample) {
    using T = decltype(sample);
    std::vector<T> result(bytes.size() / sizeof(T));
    std::memcpy(result.data(), bytes.data(), bytes.size());
    return result;
  };
  EXPECT_EQ(as(run(kI32), int32_t{}), (std::vector<int32_t>{-3, 0, 0, 2, 200, 0}));
  EXPECT_EQ(as(run(kI64), int64_t{}), (std::vector<int64_t>{-3, 0, 0, 2, 200, 0}));
  EXPECT_EQ(as(run({DType::kBool, 1}), uint8_t{}), (std::vector<uint8_t>{1, 1, 0, 1, 1, 1}));
  std::vector<double> doubles = as(run(kF64), double{});
  for (int64_t i = 0; i < n; ++i) EXPECT_EQ(doubles[i], static_cast<double>(values[i]));
  std::vector<uint16_t> halves = as(run({DType::kFloat16, 1}), uint16_t{});
  std::vector<uint16_t> bfloats = as(run({DType::kBFloat16, 1}), uint16_t{});
  for (int64_t i = 0; i < n; ++i) {
    EXPECT_EQ(halves[i], float_to_half(values[i])) << values[i];
    EXPECT_EQ(bfloats[i], float_to_bfloat16(values[i])) << values[i];
  }

  // Integer to integer: sign- or zero-extension by the source, wrapping truncation.
  auto int_kernel = jit(unary_kernel("int_cast", {DType::kInt8, 1}, kI32, 4, [](PrimExpr x) {
    return cast(kI32, x) + cast(kI32, cast(kU8, x)) * 1000;
  }));
  AlignedVector<int8_t> small(4);
  small[0] = -1;
  small[1] = 5;
  small[2] = -128;
  small[3] = 127;
  AlignedVector<int32_t> wide(4);
  ASSERT_EQ(int_kernel(small.data(), wide.data()), 0);
  EXPECT_EQ(wide[0], -1 + 255 * 1000);
  EXPECT_EQ(wide[1], 5 + 5 * 1000);
  EXPECT_EQ(wide[2], -128 + 128 * 1000);
  EXPECT_EQ(wide[3], 127 + 127 * 1000);

  auto from_bool = jit(unary_kernel("bool_cast", kI64, kF32, 3, [](PrimExpr x) {
    return cast(kF32, cast(bool_type(), x)) + cast(kF32, cast({DType::kInt8, 1}, x));
  }));
  AlignedVector<int64_t> ints(3);
  ints[0] = 0;
  ints[1] = 300;
  ints[2] = -2;
  AlignedVector<float> floats(3);
  ASSERT_EQ(from_bool(ints.data(), floats.data()), 0);
  EXPECT_EQ(floats[0], 0.0f);
  EXPECT_EQ(floats[1], 1.0f + 44.0f);  // 300 wraps to 44 in int8
  EXPECT_EQ(floats[2], 1.0f - 2.0f);
}

struct IntrinsicCase {
  const char* name;
  std::function<double(double)> reference;
  double max_ulps;  // 0: exact
};

float ulp_distance(float a, float b) {
  if (a == b || (std::isnan(a) && std::isnan(b))) return 0;
  return std::fabs(a - b) / std::fabs(std::nextafter(b, INFINITY) - b);
}

TEST(CodegenTest, MathIntrinsicsMatchTheCLibrary) {
  std::vector<IntrinsicCase> cases = {
      {"sqrt", [](double x) { return std::sqrt(x); }, 0},
      {"fabs", [](double x) { return std::fabs(x); }, 0},
      {"floor", [](double x) { return std::floor(x); }, 0},
      {"ceil", [](double x) { return std::ceil(x); }, 0},
      {"round", [](double x) { return std::nearbyint(x); }, 0},
      {"trunc", [](double x) { return std::trunc(x); }, 0},
      {"exp", [](double x) { return std::exp(x); }, 1},
      {"log", [](double x) { return std::log(x); }, 1},
      {"tanh", [](double x) { return std::tanh(x); }, 2},
      {"erf", [](double x) { return std::erf(x); }, 2},
      {"sin", [](double x) { return std::sin(x); }, 1},
      {"cos", [](double x) { return std::cos(x); }, 1},
      {"tan", [](double x) { return std::tan(x); }, 2},
      {"asin", [](double x) { return std::asin(x); }, 2},
      {"acos", [](double x) { return std::acos(x); }, 2},
      {"atan", [](double x) { return std::atan(x); }, 2},
      {"sinh", [](double x) { return std::sinh(x); }, 2},
      {"cosh", [](double x) { return std::cosh(x); }, 2},
      {"asinh", [](double x) { return std::asinh(x); }, 2},
      {"acosh", [](double x) { return std::acosh(x); }, 2},
      {"atanh", [](double x) { return std::atanh(x); }, 2},
      {"log1p", [](double x) { return std::log1p(x); }, 2},
      {"expm1", [](double x) { return std::expm1(x); }, 2},
      {"sigmoid", [](double x) { return 1.0 / (1.0 + std::exp(-x)); }, 3},
  };
  std::vector<float> inputs = {-2.5f, -1.5f, -0.5f, -0.3f, 0.0f, 0.3f,
                               0.5f,  0.7f,  1.5f,  2.5f,  3.7f};
  const int64_t n = static_cast<int64_t>(inputs.size());
  for (const IntrinsicCase& c : cases) {
    auto kernel = jit(unary_kernel(std::string("k_") + c.name, kF32, kF32, n,
                                   [&](PrimExpr x) { return intrinsic(c.name, {x}); }));
    AlignedVector<float> in(n), out(n);
    for (int64_t i = 0; i < n; ++i) in[i] = inputs[i];
    ASSERT_EQ(kernel(in.data(), out.data()), 0);
    for (int64_t i = 0; i < n; ++i) {
      float expected = static_cast<float>(c.reference(inputs[i]));
      EXPECT_LE(ulp_distance(out[i], expected), c.max_ulps)
          << c.name << "(" << inputs[i] << ") = " << out[i] << ", expected " << expected;
    }
  }
}

TEST(CodegenTest, BinaryIntrinsicsAndPredicates) {
  std::vector<float> a = {2.0f, -3.0f, 5.5f, 0.5f};
  std::vector<float> b = {3.0f, 2.0f, -2.0f, -1.0f};
  auto pow_result = run_binary<float>(
      kF32,
      [](PrimExpr x, PrimExpr y) {
        return intrinsic("pow", {x, y});
      },
      a, b);
  auto sign_result = run_binary<float>(
      kF32,
      [](PrimExpr x, PrimExpr y) {
        return intrinsic("copysign", {x, y});
      },
      a, b);
  auto fmod_result = run_binary<float>(
      kF32,
      [](PrimExpr x, PrimExpr y) {
        return intrinsic("fmod", {x, y});
      },
      a, b);
  for (size_t i = 0; i < a.size(); ++i) {
    EXPECT_LE(ulp_distance(pow_result[i], std::pow(a[i], b[i])), 1);
    EXPECT_EQ(sign_result[i], std::copysign(a[i], b[i]));
    EXPECT_EQ(fmod_result[i], std::fmod(a[i], b[i]));
  }
  float inf = std::numeric_limits<float>::infinity();
  std::vector<float> specials = {1.0f, std::nanf(""), inf, -inf};
  auto kernel = jit(unary_kernel("predicates", kF32, {DType::kInt32, 1}, 4, [](PrimExpr x) {
    return cast(kI32, intrinsic("isnan", {x})) + cast(kI32, intrinsic("isinf", {x})) * 2;
  }));
  AlignedVector<float> in(4);
  AlignedVector<int32_t> out(4);
  for (int i = 0; i < 4; ++i) in[i] = specials[i];
  ASSERT_EQ(kernel(in.data(), out.data()), 0);
  EXPECT_EQ(std::vector<int32_t>(out.data(), out.data() + 4), (std::vector<int32_t>{0, 1, 2, 2}));
}

TEST(CodegenTest, Float64Intrinsics) {
  auto kernel = jit(unary_kernel("f64", kF64, kF64, 3, [](PrimExpr x) {
    return intrinsic("tanh", {x}) + intrinsic("sqrt", {x * x});
  }));
  AlignedVector<double> in(3), out(3);
  in[0] = -1.25;
  in[1] = 0.0;
  in[2] = 2.0;
  ASSERT_EQ(kernel(in.data(), out.data()), 0);
  for (int i = 0; i < 3; ++i) EXPECT_DOUBLE_EQ(out[i], std::tanh(in[i]) + std::fabs(in[i]));
}

TEST(CodegenTest, IfThenElseLetAndMultiDimensionalIndices) {
  // out[i, j] = let s = i + j in (s % 2 == 0 ? s : -s), with 2-D (unflattened) indices.
  Buffer out = make_buffer("out", kI32, {3, 5});
  Var i_var = make_var("i");
  PrimExpr i(i_var);
  Var j_var = make_var("j");
  PrimExpr j(j_var);
  Var s_var = make_var("s", kI32);
  PrimExpr s(s_var);
  Stmt store = make_let(s_var, cast(kI32, PrimExpr(i) + PrimExpr(j)),
                        make_if(PrimExpr(s) % 2 == 0, make_store(out, PrimExpr(s), {i, j}),
                                make_store(out, -PrimExpr(s), {i, j})));
  Stmt body =
      make_for(i_var, 0, 3, ForKind::kSerial, make_for(j_var, 0, 5, ForKind::kSerial, store));
  auto kernel = jit(PrimFunc{"branches", {out}, body});
  AlignedVector<int32_t> data(15);
  ASSERT_EQ(kernel(data.data()), 0);
  for (int r = 0; r < 3; ++r) {
    for (int c = 0; c < 5; ++c) EXPECT_EQ(data[r * 5 + c], (r + c) % 2 == 0 ? r + c : -(r + c));
  }
}

TEST(CodegenTest, UnrolledAndVectorizedLoopKindsRunCorrectly) {
  // kUnrolled and a leftover kVectorized loop (plus a reduction inside a kVectorized loop, which
  // must stay in order: a sum with values that rounding makes order-sensitive).
  const int64_t n = 37;
  Buffer a = make_buffer("a", kF32, {n});
  Buffer out = make_buffer("out", kF32, {n});
  Buffer sum = make_buffer("sum", kF32, {1});
  Var i_var = make_var("i");
  PrimExpr i(i_var);
  Var j_var = make_var("j");
  PrimExpr j(j_var);
  Var k_var = make_var("k");
  PrimExpr k(k_var);
  Stmt body = make_seq({
      make_for(i_var, 0, 4, ForKind::kUnrolled, make_store(out, buffer_load(a, {i}) * 2.0f, {i})),
      make_for(j_var, 4, n - 4, ForKind::kVectorized,
               make_store(out, buffer_load(a, {j}) + 1.0f, {j})),
      make_store(sum, 0.0f, {0}),
      make_for(k_var, 0, n, ForKind::kVectorized,
               make_store(sum, buffer_load(sum, {0}) + buffer_load(a, {k}), {0})),
  });
  auto kernel = jit(PrimFunc{"kinds", {a, out, sum}, body});
  AlignedVector<float> in(n), result(n), total(1);
  for (int64_t x = 0; x < n; ++x)
    in[x] = (x % 3 == 0 ? 1e8f : 1.0f) + static_cast<float>(x) * 0.37f;
  ASSERT_EQ(kernel(in.data(), result.data(), total.data()), 0);
  float expected_sum = 0.0f;
  for (int64_t x = 0; x < n; ++x) {
    EXPECT_EQ(result[x], x < 4 ? in[x] * 2.0f : in[x] + 1.0f) << x;
    expected_sum += in[x];
  }
  EXPECT_EQ(total[0], expected_sum);
}

TEST(CodegenTest, NoFloatingPointContraction) {
  // a * b + c with a = b = 1 + 2^-12, c = -(1 + 2^-11): 0 with two roundings, 2^-24 with an fma.
  auto kernel = jit(binary_kernel(
      "muladd", kF32, kF32, 1, [](PrimExpr x, PrimExpr y) { return x * y + (-(x + (y - 1.0f))); }));
  AlignedVector<float> a(1, 1.0f + std::ldexp(1.0f, -12)), b(1, 1.0f + std::ldexp(1.0f, -12)), c(1);
  ASSERT_EQ(kernel(a.data(), b.data(), c.data()), 0);
  EXPECT_EQ(c[0], 0.0f);
}

}  // namespace
}  // namespace kiln::codegen
