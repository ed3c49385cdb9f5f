// The elementwise family: unary math, binary arithmetic with numpy broadcasting, comparisons,
// logic, where and cast. Most operators are rows of a table (name, accepted dtypes, attributes,
// element function); the type relation and the evaluator are shared by all rows of a kind.
//
// Evaluation computes floats in double and stores the result in the tensor's dtype; integers are
// computed in int64 (uint64 for unsigned dtypes and bool) and wrap like C++ conversions.
#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <numbers>
#include <optional>
#include <type_traits>

#include "kiln/error.h"
#include "op/eval_util.h"
#include "op/op_util.h"

namespace kiln::op {
namespace {

using ir::Attrs;
using ir::OpDef;
using ir::OpPattern;

// ---------------------------------------------------------------------------------------------
// Accepted dtypes

enum class Accepts : uint8_t { kAny, kNumeric, kSignedNumeric, kFloat, kInteger, kUnsigned, kBool };

bool dtype_accepted(Accepts accepts, DType dtype) {
  switch (accepts) {
    case Accepts::kAny:
      return true;
    case Accepts::kNumeric:
      return dtype != DType::kBool;
    case Accepts::kSignedNumeric:
      return dtype_is_signed(dtype);
    case Accepts::kFloat:
      return dtype_is_float(dtype);
    case Accepts::kInteger:
      return dtype_is_integer(dtype);
    case Accepts::kUnsigned:
      return dtype_is_integer(dtype) && !dtype_is_signed(dtype);
    case Accepts::kBool:
      return dtype == DType::kBool;
  }
  return false;
}

std::string accepts_description(Accepts accepts) {
  switch (accepts) {
    case Accepts::kAny:
      return "a tensor";
    case Accepts::kNumeric:
      return "a numeric tensor";
    case Accepts::kSignedNumeric:
      return "a signed numeric tensor";
    case Accepts::kFloat:
      return "a floating-point tensor";
    case Accepts::kInteger:
      return "an integer tensor";
    case Accepts::kUnsigned:
      return "an unsigned integer tensor";
    case Accepts::kBool:
      return "a bool tensor";
  }
  return "?";
}

void check_accepted(const TensorType& type, Accepts accepts, std::string_view op_name,
                    std::string_view what) {
  // float8 / float4 / 4- and 2-bit integers are storage types: ONNX defines no arithmetic on
  // them, and computing in them silently loses precision at every step.
  if (dtype_is_narrow(type.dtype)) {
    type_error(op_name, std::string(what) + " is " + type.to_string() + ": arithmetic on " +
                            std::string(dtype_name(type.dtype)) +
                            " is not supported yet; cast to float32 (or an integer type) first");
  }
  if (!dtype_accepted(accepts, type.dtype)) {
    type_error(op_name, std::string(what) + " must be " + accepts_description(accepts) + ", got " +
                            type.to_string());
  }
}

// ---------------------------------------------------------------------------------------------
// Integer helpers

// A double bound converted to the nearest integer inside it (ceil for a lower bound, floor for an
// upper one), saturated to T's range so that infinite (or NaN) bounds mean "no bound".
template <typename T>
T integer_bound(double bound, bool lower) {
  if (std::isnan(bound))
    return lower ? std::numeric_limits<T>::min() : std::numeric_limits<T>::max();
  double rounded = lower ? std::ceil(bound) : std::floor(bound);
  if (rounded <= static_cast<double>(std::numeric_limits<T>::min())) {
    return std::numeric_limits<T>::min();
  }
  if (rounded >= static_cast<double>(std::numeric_limits<T>::max())) {
    return std::numeric_limits<T>::max();
  }
  return static_cast<T>(rounded);
}

template <typename T>
T integer_power(T base, T exponent) {
  if constexpr (std::is_signed_v<T>) {
    if (exponent < 0) {
      // The truncated real result: only 1 and -1 have non-zero negative powers.
      if (base == 0) type_error("power", "integer 0 cannot be raised to a negative power");
      if (base == 1) return 1;
      if (base == -1) return (exponent % 2 == 0) ? 1 : -1;
      return 0;
    }
  }
  T result = 1;
  while (exponent > 0) {  // square-and-multiply, wrapping like C++ unsigned arithmetic
    if (exponent & 1) result = wrapping_mul(result, base);
    base = wrapping_mul(base, base);
    exponent >>= 1;
  }
  return result;
}

template <typename T>
void check_integer_divisor(T divisor, std::string_view op_name) {
  if (divisor == 0) type_error(op_name, "integer division by zero");
}

// C division truncates toward zero; the one overflowing case (INT64_MIN / -1) wraps.
template <typename T>
T integer_divide(T a, T b) {
  check_integer_divisor(b, "divide");
  if constexpr (std::is_signed_v<T>) {
    if (b == -1) return wrapping_sub(T{0}, a);
  }
  return a / b;
}

// fmod = 0: the remainder takes the sign of the divisor (Python / numpy); fmod = 1: the sign of
// the dividend (C).
template <typename T>
T integer_mod(T a, T b, bool fmod) {
  check_integer_divisor(b, "mod");
  if constexpr (std::is_signed_v<T>) {
    if (b == -1) return 0;  // avoids the INT64_MIN % -1 overflow
    T remainder = a % b;
    if (!fmod && remainder != 0 && ((remainder < 0) != (b < 0))) remainder += b;
    return remainder;
  } else {
    return a % b;
  }
}

double float_mod(double a, double b, bool fmod) {
  double remainder = std::fmod(a, b);
  if (!fmod && remainder != 0 && ((remainder < 0) != (b < 0))) remainder += b;
  return remainder;
}

// NaN-propagating maximum and minimum, as numpy's.
double float_max(double a, double b) {
  return std::isnan(a) || std::isnan(b) ? NAN : std::max(a, b);
}
double float_min(double a, double b) {
  return std::isnan(a) || std::isnan(b) ? NAN : std::min(a, b);
}

// ---------------------------------------------------------------------------------------------
// Unary operators

// An operator's element function for each arithmetic (see MathKind). A missing function means
// the operator rejects that kind of dtype in its type relation.
struct UnaryFns {
  std::function<double(double)> on_float;
  std::function<int64_t(int64_t)> on_signed;
  std::function<uint64_t(uint64_t)> on_unsigned;
};

struct UnarySpec {
  std::string name;
  std::string summary;
  Accepts accepts;
  std::vector<ir::AttrDef> attrs;
  // Builds the element functions from the attributes; raises kiln::Error for invalid attributes
  // (the type relation calls it to validate them).
  std::function<UnaryFns(const Attrs&)> make_fns;
  std::optional<DType> result_dtype = std::nullopt;  // nullopt: the input's dtype
};

// Float-only element function.
UnaryFns float_fn(std::function<double(double)> fn) { return {std::move(fn), nullptr, nullptr}; }

// One generic lambda for every arithmetic.
template <typename F>
UnaryFns any_fn(F fn) {
  return {fn, fn, fn};
}

// Spec builder for float-only operators without attributes.
UnarySpec float_unary(std::string name, std::string summary, double (*fn)(double)) {
  return {std::move(name), std::move(summary), Accepts::kFloat, {}, [fn](const Attrs&) {
            return float_fn(fn);
          }};
}

Tensor evaluate_unary(const UnaryFns& fns, const Tensor& input, const TensorType& result) {
  Tensor output = make_result(result);
  MathKind kind = math_kind(input.dtype());
  KILN_CHECK((kind == MathKind::kFloat && fns.on_float) ||
             (kind == MathKind::kSigned && fns.on_signed) ||
             (kind == MathKind::kUnsigned && fns.on_unsigned))
      << "unary evaluator has no function for " << dtype_name(input.dtype());
  for (int64_t i = 0; i < input.numel(); ++i) {
    switch (kind) {
      case MathKind::kFloat:
        output.set_element_from_double(i, fns.on_float(input.element_as_double(i)));
        break;
      case MathKind::kSigned:
        output.set_element_from_int64(i, fns.on_signed(input.element_as_int64(i)));
        break;
      case MathKind::kUnsigned: {
        uint64_t value = fns.on_unsigned(static_cast<uint64_t>(input.element_as_int64(i)));
        output.set_element_from_int64(i, static_cast<int64_t>(value));
        break;
      }
    }
  }
  return output;
}

OpDef make_unary_op(const UnarySpec& spec) {
  OpDef def;
  def.name = spec.name;
  def.family = "elemwise";
  def.summary = spec.summary;
  def.min_args = def.max_args = 1;
  def.attrs = spec.attrs;
  def.pattern = OpPattern::kElemwise;
  def.infer_type = [spec](const std::vector<Type>& args, const Attrs& attrs) -> Type {
    TensorType result = tensor_arg(args, 0, spec.name);
    check_accepted(result, spec.accepts, spec.name, "data");
    spec.make_fns(attrs);
    if (spec.result_dtype) result.dtype = *spec.result_dtype;
    return result;
  };
  def.evaluate = [spec](const std::vector<Tensor>& args, const Attrs& attrs,
                        const TensorType& result) {
    return evaluate_unary(spec.make_fns(attrs), args[0], result);
  };
  return def;
}

double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }
// log(1 + e^x) without overflow for large x.
double softplus(double x) { return x > 0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x)); }
double hard_swish(double x) { return x * std::clamp(x / 6.0 + 0.5, 0.0, 1.0); }

UnaryFns abs_fns(const Attrs&) {
  return any_fn([](auto x) {
    using T = decltype(x);
    if constexpr (std::is_floating_point_v<T>) {
      return std::fabs(x);
    } else if constexpr (std::is_signed_v<T>) {
      return x < 0 ? wrapping_sub(T{0}, x) : x;
    } else {
      return x;
    }
  });
}

UnaryFns sign_fns(const Attrs&) {
  return any_fn([](auto x) {
    using T = decltype(x);
    if constexpr (std::is_floating_point_v<T>) {
      if (std::isnan(x)) return x;
    }
    return static_cast<T>((T{0} < x) - (x < T{0}));
  });
}

UnaryFns relu_fns(const Attrs&) {
  return any_fn([](auto x) {
    using T = decltype(x);
    return x < T{0} ? T{0} : x;
  });
}

UnaryFns clip_fns(const Attrs& attrs) {
  double low = attrs.get_float("min");
  double high = attrs.get_float("max");
  // min then max, as numpy.clip: with min > max every element becomes max.
  auto clip = [low, high](auto x) {
    using T = decltype(x);
    T lo, hi;
    if constexpr (std::is_floating_point_v<T>) {
      lo = low;
      hi = high;
    } else {
      lo = integer_bound<T>(low, true);
      hi = integer_bound<T>(high, false);
    }
    if (x < lo) x = lo;
    if (x > hi) x = hi;
    return x;
  };
  return any_fn(clip);
}

UnaryFns gelu_fns(const Attrs& attrs) {
  const std::string& approximate = attrs.get_string("approximate");
  if (approximate == "none") {
    return float_fn([](double x) { return 0.5 * x * (1.0 + std::erf(x / std::sqrt(2.0))); });
  }
  if (approximate == "tanh") {
    return float_fn([](double x) {
      double inner = std::sqrt(2.0 / std::numbers::pi) * (x + 0.044715 * x * x * x);
      return 0.5 * x * (1.0 + std::tanh(inner));
    });
  }
  type_error("gelu", "approximate must be \"none\" or \"tanh\", got \"" + approximate + "\"");
}

UnaryFns celu_fns(const Attrs& attrs) {
  double alpha = attrs.get_float("alpha");
  if (alpha == 0) type_error("celu", "alpha must not be 0");
  return float_fn([alpha](double x) {
    return std::max(0.0, x) + std::min(0.0, alpha * (std::exp(x / alpha) - 1.0));
  });
}

UnaryFns isinf_fns(const Attrs& attrs) {
  bool positive = attrs.get_int("detect_positive") != 0;
  bool negative = attrs.get_int("detect_negative") != 0;
  return float_fn([positive, negative](double x) {
    return (std::isinf(x) && ((x > 0 && positive) || (x < 0 && negative))) ? 1.0 : 0.0;
  });
}

std::vector<UnarySpec> unary_specs() {
  constexpr double kInf = std::numeric_limits<double>::infinity();
  std::vector<UnarySpec> specs = {
      {"abs", "absolute value", Accepts::kNumeric, {}, abs_fns},
      {"neg",
       "negation",
       Accepts::kSignedNumeric,
       {},
       [](const Attrs&) {
         return UnaryFns{[](double x) { return -x; },
                         [](int64_t x) { return wrapping_sub(int64_t{0}, x); }, nullptr};
       }},
      float_unary("exp", "e^x", [](double x) { return std::exp(x); }),
      float_unary("log", "natural logarithm", [](double x) { return std::log(x); }),
      float_unary("sqrt", "square root", [](double x) { return std::sqrt(x); }),
      float_unary("rsqrt", "1 / sqrt(x)", [](double x) { return 1.0 / std::sqrt(x); }),
      float_unary("reciprocal", "1 / x", [](double x) { return 1.0 / x; }),
      float_unary("erf", "Gauss error function", [](double x) { return std::erf(x); }),
      float_unary("tanh", "hyperbolic tangent", [](double x) { return std::tanh(x); }),
      float_unary("sigmoid", "1 / (1 + e^-x)", sigmoid),
      {"relu", "max(x, 0)", Accepts::kNumeric, {}, relu_fns},
      float_unary("floor", "round toward -inf", [](double x) { return std::floor(x); }),
      float_unary("ceil", "round toward +inf", [](double x) { return std::ceil(x); }),
      // nearbyint uses the default rounding mode, round-half-to-even.
      float_unary("round", "round half to even", [](double x) { return std::nearbyint(x); }),
      {"sign", "-1, 0 or 1 by the sign of x", Accepts::kNumeric, {}, sign_fns},
      float_unary("sin", "sine", [](double x) { return std::sin(x); }),
      float_unary("cos", "cosine", [](double x) { return std::cos(x); }),
      float_unary("tan", "tangent", [](double x) { return std::tan(x); }),
      float_unary("asin", "arcsine", [](double x) { return std::asin(x); }),
      float_unary("acos", "arccosine", [](double x) { return std::acos(x); }),
      float_unary("atan", "arctangent", [](double x) { return std::atan(x); }),
      float_unary("sinh", "hyperbolic sine", [](double x) { return std::sinh(x); }),
      float_unary("cosh", "hyperbolic cosine", [](double x) { return std::cosh(x); }),
      float_unary("asinh", "inverse hyperbolic sine", [](double x) { return std::asinh(x); }),
      float_unary("acosh", "inverse hyperbolic cosine", [](double x) { return std::acosh(x); }),
      float_unary("atanh", "inverse hyperbolic tangent", [](double x) { return std::atanh(x); }),
      float_unary("softplus", "log(1 + e^x)", softplus),
      float_unary("softsign", "x / (1 + |x|)", [](double x) { return x / (1.0 + std::fabs(x)); }),
      {"gelu",
       "Gaussian error linear unit (exact or tanh approximation)",
       Accepts::kFloat,
       {attr_string("approximate", "none", "\"none\" (erf) or \"tanh\"")},
       gelu_fns},
      float_unary("hard_swish", "x * clip(x / 6 + 0.5, 0, 1)", hard_swish),
      {"leaky_relu",
       "x for x >= 0, alpha * x otherwise",
       Accepts::kFloat,
       {attr_float("alpha", 0.01)},
       [](const Attrs& attrs) {
         double alpha = attrs.get_float("alpha");
         return float_fn([alpha](double x) { return x < 0 ? alpha * x : x; });
       }},
      {"elu",
       "x for x >= 0, alpha * (e^x - 1) otherwise",
       Accepts::kFloat,
       {attr_float("alpha", 1.0)},
       [](const Attrs& attrs) {
         double alpha = attrs.get_float("alpha");
         return float_fn([alpha](double x) { return x < 0 ? alpha * (std::exp(x) - 1.0) : x; });
       }},
      {"celu",
       "max(0, x) + min(0, alpha * (e^(x / alpha) - 1))",
       Accepts::kFloat,
       {attr_float("alpha", 1.0)},
       celu_fns},
      {"selu",
       "gamma * x for x > 0, gamma * alpha * (e^x - 1) otherwise",
       Accepts::kFloat,
       {attr_float("alpha", 1.67326319217681884765625),
        attr_float("gamma", 1.05070102214813232421875)},
       [](const Attrs& attrs) {
         double alpha = attrs.get_float("alpha");
         double gamma = attrs.get_float("gamma");
         return float_fn([alpha, gamma](double x) {
           return x > 0 ? gamma * x : gamma * alpha * (std::exp(x) - 1.0);
         });
       }},
      {"hard_sigmoid",
       "clip(alpha * x + beta, 0, 1)",
       Accepts::kFloat,
       {attr_float("alpha", 0.2), attr_float("beta", 0.5)},
       [](const Attrs& attrs) {
         double alpha = attrs.get_float("alpha");
         double beta = attrs.get_float("beta");
         return float_fn(
             [alpha, beta](double x) { return std::clamp(alpha * x + beta, 0.0, 1.0); });
       }},
      {"thresholded_relu",
       "x for x > alpha, 0 otherwise",
       Accepts::kFloat,
       {attr_float("alpha", 1.0)},
       [](const Attrs& attrs) {
         double alpha = attrs.get_float("alpha");
         return float_fn([alpha](double x) { return x > alpha ? x : 0.0; });
       }},
      {"clip",
       "clamp to [min, max]",
       Accepts::kNumeric,
       {attr_float("min", -kInf), attr_float("max", kInf)},
       clip_fns},
      {"logical_not",
       "boolean not",
       Accepts::kBool,
       {},
       [](const Attrs&) {
         return UnaryFns{nullptr, nullptr, [](uint64_t x) -> uint64_t { return x == 0; }};
       }},
      {"bitwise_not",
       "bitwise complement",
       Accepts::kInteger,
       {},
       [](const Attrs&) {
         return UnaryFns{nullptr, [](int64_t x) { return ~x; }, [](uint64_t x) { return ~x; }};
       }},
      {"isnan",
       "true where x is NaN",
       Accepts::kFloat,
       {},
       [](const Attrs&) { return float_fn([](double x) { return std::isnan(x) ? 1.0 : 0.0; }); },
       DType::kBool},
      {"isinf",
       "true where x is +inf (detect_positive) or -inf (detect_negative)",
       Accepts::kFloat,
       {attr_int("detect_positive", 1), attr_int("detect_negative", 1)},
       isinf_fns,
       DType::kBool},
  };
  return specs;
}

// ---------------------------------------------------------------------------------------------
// Binary operators (numpy broadcasting)

struct BinaryFns {
  std::function<double(double, double)> on_float;
  std::function<int64_t(int64_t, int64_t)> on_signed;
  std::function<uint64_t(uint64_t, uint64_t)> on_unsigned;
};

struct BinarySpec {
  std::string name;
  std::string summary;
  Accepts accepts;
  std::vector<ir::AttrDef> attrs;
  std::function<BinaryFns(const Attrs&)> make_fns;
  std::optional<DType> result_dtype = std::nullopt;  // nullopt: the arguments' dtype
};

// One generic lambda for every arithmetic.
template <typename F>
BinaryFns any_binary(F fn) {
  return {fn, fn, fn};
}
// A float function and one generic lambda for both integer arithmetics.
template <typename F>
BinaryFns split_binary(std::function<double(double, double)> on_float, F on_integer) {
  return {std::move(on_float), on_integer, on_integer};
}
template <typename F>
BinaryFns integer_binary(F fn) {
  return {nullptr, fn, fn};
}

Tensor evaluate_binary(const BinaryFns& fns, const Tensor& a, const Tensor& b,
                       const TensorType& result) {
  Tensor output = make_result(result);
  BroadcastIndex a_index(a.shape(), output.shape());
  BroadcastIndex b_index(b.shape(), output.shape());
  MathKind kind = math_kind(a.dtype());
  KILN_CHECK((kind == MathKind::kFloat && fns.on_float) ||
             (kind == MathKind::kSigned && fns.on_signed) ||
             (kind == MathKind::kUnsigned && fns.on_unsigned))
      << "binary evaluator has no function for " << dtype_name(a.dtype());
  for (int64_t i = 0; i < output.numel(); ++i) {
    int64_t ia = a_index(i), ib = b_index(i);
    switch (kind) {
      case MathKind::kFloat:
        output.set_element_from_double(
            i, fns.on_float(a.element_as_double(ia), b.element_as_double(ib)));
        break;
      case MathKind::kSigned:
        output.set_element_from_int64(
            i, fns.on_signed(a.element_as_int64(ia), b.element_as_int64(ib)));
        break;
      case MathKind::kUnsigned: {
        uint64_t value = fns.on_unsigned(static_cast<uint64_t>(a.element_as_int64(ia)),
                                         static_cast<uint64_t>(b.element_as_int64(ib)));
        output.set_element_from_int64(i, static_cast<int64_t>(value));
        break;
      }
    }
  }
  return output;
}

OpDef make_binary_op(const BinarySpec& spec, OpPattern pattern = OpPattern::kBroadcast) {
  OpDef def;
  def.name = spec.name;
  def.family = "elemwise";
  def.summary = spec.summary;
  def.min_args = def.max_args = 2;
  def.attrs = spec.attrs;
  def.pattern = pattern;
  def.infer_type = [spec](const std::vector<Type>& args, const Attrs& attrs) -> Type {
    const TensorType& a = tensor_arg(args, 0, spec.name);
    const TensorType& b = tensor_arg(args, 1, spec.name);
    require_same_dtype(a, b, spec.name);
    check_accepted(a, spec.accepts, spec.name, "arguments");
    spec.make_fns(attrs);
    TensorType result;
    result.dtype = spec.result_dtype.value_or(a.dtype);
    result.shape = broadcast_shapes(a.shape, b.shape, spec.name);
    return result;
  };
  def.evaluate = [spec](const std::vector<Tensor>& args, const Attrs& attrs,
                        const TensorType& result) {
    return evaluate_binary(spec.make_fns(attrs), args[0], args[1], result);
  };
  return def;
}

BinaryFns divide_fns(const Attrs&) {
  return split_binary([](double a, double b) { return a / b; },
                      [](auto a, auto b) { return integer_divide(a, b); });
}

BinaryFns mod_fns(const Attrs& attrs) {
  int64_t fmod_attr = attrs.get_int("fmod");
  if (fmod_attr != 0 && fmod_attr != 1) {
    type_error("mod", "fmod must be 0 or 1, got " + std::to_string(fmod_attr));
  }
  bool fmod = fmod_attr == 1;
  return split_binary([fmod](double a, double b) { return float_mod(a, b, fmod); },
                      [fmod](auto a, auto b) { return integer_mod(a, b, fmod); });
}

BinaryFns bit_shift_fns(const Attrs& attrs) {
  const std::string& direction = attrs.get_string("direction");
  if (direction != "left" && direction != "right") {
    type_error("bit_shift", "direction must be \"left\" or \"right\", got \"" + direction + "\"");
  }
  bool left = direction == "left";
  // Shifting by the width or more is undefined in C++; every bit has been shifted out by then.
  // The result wraps to the dtype's width when stored.
  return {nullptr, nullptr, [left](uint64_t value, uint64_t amount) -> uint64_t {
            if (amount >= 64) return 0;
            return left ? value << amount : value >> amount;
          }};
}

// x where x >= 0, slope * x otherwise (for unsigned x, always x).
BinaryFns prelu_fns(const Attrs&) {
  return split_binary([](double x, double slope) { return x < 0 ? x * slope : x; },
                      [](auto x, auto slope) {
                        using T = decltype(x);
                        if constexpr (std::is_signed_v<T>) {
                          return x < 0 ? wrapping_mul(x, slope) : x;
                        } else {
                          return x;
                        }
                      });
}

std::vector<BinarySpec> arithmetic_specs() {
  return {
      {"add",
       "a + b",
       Accepts::kNumeric,
       {},
       [](const Attrs&) {
         return split_binary([](double a, double b) { return a + b; },
                             [](auto a, auto b) { return wrapping_add(a, b); });
       }},
      {"subtract",
       "a - b",
       Accepts::kNumeric,
       {},
       [](const Attrs&) {
         return split_binary([](double a, double b) { return a - b; },
                             [](auto a, auto b) { return wrapping_sub(a, b); });
       }},
      {"multiply",
       "a * b",
       Accepts::kNumeric,
       {},
       [](const Attrs&) {
         return split_binary([](double a, double b) { return a * b; },
                             [](auto a, auto b) { return wrapping_mul(a, b); });
       }},
      {"divide", "a / b (integers truncate toward zero)", Accepts::kNumeric, {}, divide_fns},
      {"power",
       "a ^ b",
       Accepts::kNumeric,
       {},
       [](const Attrs&) {
         return split_binary([](double a, double b) { return std::pow(a, b); },
                             [](auto a, auto b) { return integer_power(a, b); });
       }},
      {"maximum",
       "max(a, b) (NaN propagates)",
       Accepts::kNumeric,
       {},
       [](const Attrs&) {
         return split_binary(float_max, [](auto a, auto b) { return std::max(a, b); });
       }},
      {"minimum",
       "min(a, b) (NaN propagates)",
       Accepts::kNumeric,
       {},
       [](const Attrs&) {
         return split_binary(float_min, [](auto a, auto b) { return std::min(a, b); });
       }},
      {"mod",
       "remainder: sign of the divisor (fmod = 0) or of the dividend (fmod = 1)",
       Accepts::kNumeric,
       {attr_int("fmod", 0)},
       mod_fns},
      {"bitwise_and",
       "a & b",
       Accepts::kInteger,
       {},
       [](const Attrs&) { return integer_binary([](auto a, auto b) { return a & b; }); }},
      {"bitwise_or",
       "a | b",
       Accepts::kInteger,
       {},
       [](const Attrs&) { return integer_binary([](auto a, auto b) { return a | b; }); }},
      {"bitwise_xor",
       "a ^ b",
       Accepts::kInteger,
       {},
       [](const Attrs&) { return integer_binary([](auto a, auto b) { return a ^ b; }); }},
      {"bit_shift",
       "a << b or a >> b (unsigned integers)",
       Accepts::kUnsigned,
       {attr_string("direction", "left", "\"left\" or \"right\"")},
       bit_shift_fns},
  };
}

// Comparisons return 1 / 0, stored into a bool result.
template <typename Compare>
BinarySpec comparison(std::string name, std::string summary, Compare compare) {
  return {std::move(name),
          std::move(summary),
          Accepts::kAny,
          {},
          [compare](const Attrs&) {
            return any_binary([compare](auto a, auto b) { return decltype(a)(compare(a, b)); });
          },
          DType::kBool};
}

BinarySpec logic(std::string name, std::string summary, bool (*combine)(bool, bool)) {
  return {std::move(name),
          std::move(summary),
          Accepts::kBool,
          {},
          [combine](const Attrs&) {
            return BinaryFns{nullptr, nullptr, [combine](uint64_t a, uint64_t b) -> uint64_t {
                               return combine(a != 0, b != 0);
                             }};
          },
          DType::kBool};
}

std::vector<BinarySpec> predicate_specs() {
  return {
      comparison("equal", "a == b", [](auto a, auto b) { return a == b; }),
      comparison("not_equal", "a != b", [](auto a, auto b) { return a != b; }),
      comparison("less", "a < b", [](auto a, auto b) { return a < b; }),
      comparison("less_equal", "a <= b", [](auto a, auto b) { return a <= b; }),
      comparison("greater", "a > b", [](auto a, auto b) { return a > b; }),
      comparison("greater_equal", "a >= b", [](auto a, auto b) { return a >= b; }),
      logic("logical_and", "a and b", [](bool a, bool b) { return a && b; }),
      logic("logical_or", "a or b", [](bool a, bool b) { return a || b; }),
      logic("logical_xor", "a xor b", [](bool a, bool b) { return a != b; }),
  };
}

// prelu: slope broadcasts to data (one direction only), so the result has data's type.
OpDef make_prelu_op() {
  BinarySpec spec{"prelu",
                  "x for x >= 0, slope * x otherwise (slope broadcasts to x)",
                  Accepts::kNumeric,
                  {},
                  prelu_fns};
  OpDef def = make_binary_op(spec);
  def.infer_type = [](const std::vector<Type>& args, const Attrs&) -> Type {
    const TensorType& data = tensor_arg(args, 0, "prelu");
    const TensorType& slope = tensor_arg(args, 1, "prelu");
    require_same_dtype(data, slope, "prelu");
    check_accepted(data, Accepts::kNumeric, "prelu", "data");
    Shape broadcast = broadcast_shapes(data.shape, slope.shape, "prelu");
    bool widens = broadcast.size() != data.shape.size();
    for (size_t d = 0; !widens && d < broadcast.size(); ++d) {
      widens = data.shape[d].is_static() && broadcast[d] != data.shape[d];
    }
    if (widens) {
      type_error("prelu",
                 "slope " + slope.to_string() + " does not broadcast to data " + data.to_string());
    }
    return data;
  };
  return def;
}

// ---------------------------------------------------------------------------------------------
// where and cast

OpDef make_where_op() {
  OpDef def;
  def.name = "where";
  def.family = "elemwise";
  def.summary = "condition ? x : y, broadcasting all three";
  def.min_args = def.max_args = 3;
  def.pattern = OpPattern::kBroadcast;
  def.infer_type = [](const std::vector<Type>& args, const Attrs&) -> Type {
    const TensorType& condition = tensor_arg(args, 0, "where");
    const TensorType& x = tensor_arg(args, 1, "where");
    const TensorType& y = tensor_arg(args, 2, "where");
    check_accepted(condition, Accepts::kBool, "where", "condition");
    require_same_dtype(x, y, "where");
    TensorType result;
    result.dtype = x.dtype;
    result.shape =
        broadcast_shapes(broadcast_shapes(condition.shape, x.shape, "where"), y.shape, "where");
    return result;
  };
  def.evaluate = [](const std::vector<Tensor>& args, const Attrs&, const TensorType& result) {
    Tensor output = make_result(result);
    BroadcastIndex condition_index(args[0].shape(), output.shape());
    BroadcastIndex x_index(args[1].shape(), output.shape());
    BroadcastIndex y_index(args[2].shape(), output.shape());
    for (int64_t i = 0; i < output.numel(); ++i) {
      bool take_x = args[0].element_as_int64(condition_index(i)) != 0;
      if (take_x) {
        copy_element(args[1], x_index(i), output, i);
      } else {
        copy_element(args[2], y_index(i), output, i);
      }
    }
    return output;
  };
  return def;
}

DType cast_target(const Attrs& attrs) {
  const std::string& name = attrs.get_string("dtype");
  std::optional<DType> dtype = dtype_from_name(name);
  if (!dtype) type_error("cast", "unknown dtype \"" + name + "\"");
  return *dtype;
}

// ONNX Cast's float8e8m0 rounding attribute ("up", "down", "nearest").
E8M0Rounding cast_round_mode(const Attrs& attrs) {
  const std::string& mode = attrs.get_string("round_mode");
  if (mode == "up") return E8M0Rounding::kUp;
  if (mode == "down") return E8M0Rounding::kDown;
  if (mode == "nearest") return E8M0Rounding::kNearest;
  type_error("cast", "round_mode \"" + mode + "\" is not one of up, down, nearest");
}

// The four float8 types whose `saturate` clamps to the largest finite value.
bool saturates(DType dtype) {
  return dtype == DType::kFloat8E4M3FN || dtype == DType::kFloat8E4M3FNUZ ||
         dtype == DType::kFloat8E5M2 || dtype == DType::kFloat8E5M2FNUZ;
}

// Converts like ONNX Cast: floats to integers truncate toward zero, anything non-zero (NaN
// included) becomes true, integers wrap to narrower integers (4- and 2-bit ones too). To float8
// with `saturate`, values beyond the largest finite one (infinities too) become it; without, they
// become inf or NaN per type. float8e8m0 follows `round_mode`.
Tensor evaluate_cast(const Tensor& input, const TensorType& result, const Attrs& attrs) {
  Tensor output = make_result(result);
  bool via_double = dtype_is_float(input.dtype()) || dtype_is_float(result.dtype);
  bool saturate = attrs.get_int("saturate") != 0;
  E8M0Rounding mode = cast_round_mode(attrs);
  for (int64_t i = 0; i < input.numel(); ++i) {
    if (result.dtype == DType::kFloat8E8M0) {
      output.mutable_data_as<uint8_t>()[i] =
          float_to_e8m0(static_cast<float>(input.element_as_double(i)), saturate, mode);
    } else if (via_double) {
      double value = input.element_as_double(i);
      if (saturate && saturates(result.dtype) && !std::isnan(value)) {
        double limit = narrow_float_max(result.dtype);
        value = std::clamp(value, -limit, limit);
      }
      output.set_element_from_double(i, value);
    } else {
      output.set_element_from_int64(i, input.element_as_int64(i));
    }
  }
  return output;
}

OpDef make_cast_op() {
  OpDef def;
  def.name = "cast";
  def.family = "elemwise";
  def.summary = "convert elements to another dtype";
  def.attrs = {
      attr_string("dtype", std::nullopt, "target dtype name (\"float32\", \"int64\", ...)"),
      attr_int("saturate", 1, "to float8: clamp to the largest finite value (else inf/NaN)"),
      attr_string("round_mode", "up", "to float8e8m0: \"up\", \"down\" or \"nearest\"")};
  def.pattern = OpPattern::kElemwise;
  def.infer_type = [](const std::vector<Type>& args, const Attrs& attrs) -> Type {
    TensorType result = tensor_arg(args, 0, "cast");
    result.dtype = cast_target(attrs);
    cast_round_mode(attrs);
    return result;
  };
  def.evaluate = [](const std::vector<Tensor>& args, const Attrs& attrs, const TensorType& result) {
    return evaluate_cast(args[0], result, attrs);
  };
  return def;
}

}  // namespace

void register_elemwise_ops(ir::OpRegistry& registry) {
  for (const UnarySpec& spec : unary_specs()) registry.add(make_unary_op(spec));
  for (const BinarySpec& spec : arithmetic_specs()) registry.add(make_binary_op(spec));
  for (const BinarySpec& spec : predicate_specs()) registry.add(make_binary_op(spec));
  registry.add(make_prelu_op());
  registry.add(make_where_op());
  registry.add(make_cast_op());
}

}  // namespace kiln::op
