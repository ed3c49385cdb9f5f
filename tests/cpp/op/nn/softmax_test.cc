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
