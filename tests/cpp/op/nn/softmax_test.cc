#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ir/expr.h"
#include "ir/op.h"
#include "kiln/error.h"

namespace kiln::ir {
namespace {

using Ints = std::vector<int64_t>;

Var input(const std::string& name, DType dtype, Shape shape) {
  return VarNode::make(name, TensorType{dtype, std::move(shape)});
}
Var f32(const std::string& name, const Ints& shape) {
  return VarNode::make(name, tensor_type(DType::kFloat32, shape));
}
Type f32_type(const Ints& shape) { return tensor_type(DType::kFloat32, shape); }

template <typename F>
void expect_error(F&& make, const std::string& fragment) {
  try {
    make();
    ADD_FAILURE() << "expected kiln::Error containing: " << fragment;
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find(fragment), std::string::npos) << error.what();
  }
}

TEST(SoftmaxTest, KeepsDataType) {
  for (const char* name : {"softmax", "log_softmax", "hardmax"}) {
    Call node = call(name, {f32("x", {2, 10})});
    EXPECT_EQ(node->type(), f32_type({2, 10})) << name;
    EXPECT_EQ(node->attrs.get_int("axis"), -1) << name;
    EXPECT_EQ(node->op.pattern, OpPattern::kOpaque) << name;
    EXPECT_EQ(node->op.family, "nn") << name;
  }
  Var symbolic = input("x", DType::kFloat16, {Dim::symbol("B"), 12, Dim::symbol("S"), 64});
  EXPECT_EQ(call("softmax", {symbolic}, Attrs{{"axis", int64_t{1}}})->type(), symbolic->type());
}

TEST(SoftmaxTest, Errors) {
  expect_error(
      [] {
        call("softmax", {f32("x", {2, 10})}, Attrs{{"axis", int64_t{2}}});
      },
      "softmax: axis 2 is out of range for rank 2");
  expect_error([] { call("log_softmax", {f32("x", {})}); },
               "log_softmax: data must have rank >= 1");
  expect_error([] { call("hardmax", {input("x", DType::kInt64, {4})}); },
               "hardmax: data must be a floating-point tensor");
}

}  // namespace
}  // namespace kiln::ir
