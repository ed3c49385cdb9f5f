// Helpers shared by the operator tests (tests/cpp/op/*_test.cc and tests/cpp/op/nn/*_test.cc):
// building typed inputs and constant tensors, inferring types, running an operator's reference
// evaluator, reading tensors back and asserting on kiln::Error messages.
#pragma once

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "ir/expr.h"
#include "ir/op.h"
#include "kiln/error.h"
#include "kiln/tensor.h"

namespace kiln::ir::op_test {

using Ints = std::vector<int64_t>;

inline constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
inline constexpr double kInf = std::numeric_limits<double>::infinity();

// --- inputs and types ----------------------------------------------------------------------------

// A variable `name` of type dtype[shape].
inline Var input(const std::string& name, DType dtype, Shape shape) {
  return VarNode::make(name, TensorType{dtype, std::move(shape)});
}

// A variable "x" of type dtype[shape].
inline Var var(DType dtype, Shape shape) { return input("x", dtype, std::move(shape)); }

// A variable `name` of type float32[shape].
inline Var f32(const std::string& name, const Ints& shape) {
  return VarNode::make(name, tensor_type(DType::kFloat32, shape));
}

inline Type f32_type(const Ints& shape) { return tensor_type(DType::kFloat32, shape); }

// The inferred type of op(args...) as text, e.g. "float32[batch, 3]".
inline std::string type_of(std::string_view op_name, std::vector<Expr> args, Attrs attrs = {}) {
  return call(op_name, std::move(args), std::move(attrs))->type().to_string();
}

// The multiply-accumulate count the operator reports for `call`.
inline int64_t macs_of(const Call& call) {
  std::vector<Type> arg_types;
  for (const Expr& arg : call->args) arg_types.push_back(arg->type());
  return call->op.macs(arg_types, call->attrs, call->type());
}

// --- tensors -------------------------------------------------------------------------------------

// A dtype[shape] tensor holding `values` (converted from double), which must fill it.
inline Tensor tensor(DType dtype, std::vector<int64_t> shape, const std::vector<double>& values) {
  Tensor result(dtype, std::move(shape));
  EXPECT_EQ(result.numel(), static_cast<int64_t>(values.size()));
  for (size_t i = 0; i < values.size(); ++i) {
    result.set_element_from_double(static_cast<int64_t>(i), values[i]);
  }
  return result;
}

// An int64[shape] tensor holding `values`, which must fill it.
inline Tensor int64s(std::vector<int64_t> shape, const std::vector<int64_t>& values) {
  Tensor result(DType::kInt64, std::move(shape));
  EXPECT_EQ(result.numel(), static_cast<int64_t>(values.size()));
  for (size_t i = 0; i < values.size(); ++i) {
    result.set_element_from_int64(static_cast<int64_t>(i), values[i]);
  }
  return result;
}

// 0, 1, 2, ... in the given dtype and shape.
inline Tensor iota(DType dtype, std::vector<int64_t> shape) {
  Tensor result(dtype, std::move(shape));
  for (int64_t i = 0; i < result.numel(); ++i) result.set_element_from_int64(i, i);
  return result;
}

// 0, 1, 2, ... as float32 in `shape`.
inline Tensor iota(const Ints& shape) { return iota(DType::kFloat32, shape); }

// Builds the call on constants (so that defaults are filled and the type is inferred) and
// evaluates it through the operator's reference evaluator.
inline Tensor eval(std::string_view op_name, const std::vector<Tensor>& args, Attrs attrs = {}) {
  std::vector<Expr> exprs;
  for (const Tensor& arg : args) exprs.push_back(ConstantNode::make(arg));
  Call node = call(op_name, exprs, std::move(attrs));
  return op(op_name).evaluate(args, node->attrs, node->type().as_tensor());
}

inline std::vector<double> doubles(const Tensor& t) {
  std::vector<double> values;
  for (int64_t i = 0; i < t.numel(); ++i) values.push_back(t.element_as_double(i));
  return values;
}

inline std::vector<int64_t> ints(const Tensor& t) {
  std::vector<int64_t> values;
  for (int64_t i = 0; i < t.numel(); ++i) values.push_back(t.element_as_int64(i));
  return values;
}

// The elements of a float32 tensor.
inline std::vector<float> floats_of(const Tensor& t) {
  return {t.data_as<float>(), t.data_as<float>() + t.numel()};
}

// --- assertions ----------------------------------------------------------------------------------

// Element-wise EXPECT_NEAR; a NaN (infinity) in `expected` must be matched by a NaN (the same
// infinity) in `actual`.
inline void expect_near(const std::vector<double>& actual, const std::vector<double>& expected,
                        double tolerance = 1e-6) {
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < actual.size(); ++i) {
    if (std::isnan(expected[i])) {
      EXPECT_TRUE(std::isnan(actual[i])) << "element " << i;
    } else if (std::isinf(expected[i])) {
      EXPECT_EQ(actual[i], expected[i]) << "element " << i;
    } else {
      EXPECT_NEAR(actual[i], expected[i], tolerance) << "element " << i;
    }
  }
}

// Runs `body`, expecting a kiln::Error whose message contains `fragment`.
template <typename F>
void expect_error(F&& body, const std::string& fragment) {
  try {
    body();
    ADD_FAILURE() << "expected kiln::Error containing: " << fragment;
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find(fragment), std::string::npos) << error.what();
  }
}

// Runs `body`, expecting a kiln::Error whose message starts with "<op_name>:" and contains
// `fragment`.
template <typename F>
void expect_error(F&& body, const std::string& op_name, const std::string& fragment) {
  try {
    body();
    ADD_FAILURE() << "expected a kiln::Error from " << op_name;
  } catch (const Error& error) {
    std::string message = error.what();
    EXPECT_EQ(message.rfind(op_name + ":", 0), 0u) << message;
    EXPECT_NE(message.find(fragment), std::string::npos) << message;
  }
}

}  // namespace kiln::ir::op_test
