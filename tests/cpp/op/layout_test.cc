#include "op/layout.h"

#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "ir/expr.h"
#include "ir/op.h"
#include "kiln/error.h"
#include "kiln/tensor.h"
#include "op/eval_util.h"

namespace kiln::op {
namespace {

TEST(LayoutTest, ParsesPrimalAndBlockAxes) {
  Layout layout = Layout::parse("OIHW16i8o");
  ASSERT_EQ(layout.rank(), 6u);
  EXPECT_EQ(layout.primal_position('O'), 0);
  EXPECT_EQ(layout.primal_position('W'), 3);
  EXPECT_EQ(layout.block_position('I'), 4);
  EXPECT_EQ(layout.block_size('I'), 16);
  EXPECT_EQ(layout.block_size('O'), 8);
  EXPECT_EQ(layout.block_size('H'), 1);
  EXPECT_TRUE(layout.same_primal_axes(Layout::parse("OIHW")));
  EXPECT_FALSE(layout.same_primal_axes(Layout::parse("NCHW")));
}

TEST(LayoutTest, MalformedLayoutsAreErrorsNamingThem) {
  for (const char* text :
       {"NCHW16", "NCHWc", "NCHW0c", "NCHW16x", "NCCHW", "NCHW-4c", "NCHW8c8c"}) {
    try {
      Layout::parse(text);
      ADD_FAILURE() << text << " parsed";
    } catch (const Error& e) {
      EXPECT_NE(std::string(e.what()).find(text), std::string::npos) << e.what();
    }
  }
}

TEST(LayoutTest, TransformedShapes) {
  EXPECT_EQ(
      transformed_shape({1, 64, 56, 56}, Layout::parse("NCHW"), Layout::parse("NCHW16c"), "t"),
      (std::vector<int64_t>{1, 4, 56, 56, 16}));
  EXPECT_EQ(
      transformed_shape({1, 4, 56, 56, 16}, Layout::parse("NCHW16c"), Layout::parse("NCHW8c"), "t"),
      (std::vector<int64_t>{1, 8, 56, 56, 8}));
  EXPECT_EQ(transformed_shape({1, 3, 5, 7}, Layout::parse("NCHW"), Layout::parse("NHWC"), "t"),
            (std::vector<int64_t>{1, 5, 7, 3}));
  EXPECT_EQ(
      transformed_shape({64, 32, 3, 3}, Layout::parse("OIHW"), Layout::parse("OIHW8i16o"), "t"),
      (std::vector<int64_t>{4, 4, 3, 3, 8, 16}));
  EXPECT_THROW(
      transformed_shape({1, 24, 5, 5}, Layout::parse("NCHW"), Layout::parse("NCHW16c"), "t"),
      Error);  // 24 channels are not blocks of 16
  EXPECT_THROW(transformed_shape({1, 24, 5}, Layout::parse("NCHW"), Layout::parse("NCHW8c"), "t"),
               Error);  // rank
  EXPECT_THROW(transformed_shape({1, 24, 5, 5}, Layout::parse("NCHW"), Layout::parse("OIHW"), "t"),
               Error);  // other axes
}

Tensor iota(std::vector<int64_t> shape) {
  Tensor tensor(DType::kFloat32, std::move(shape));
  for (int64_t i = 0; i < tensor.numel(); ++i) tensor.mutable_data_as<float>()[i] = float(i);
  return tensor;
}

Tensor evaluate(const std::string& src, const std::string& dst, const Tensor& value) {
  ir::Expr call = ir::call("layout_transform", {ir::ConstantNode::make(value)},
                           {{"src_layout", src}, {"dst_layout", dst}});
  const auto* node = ir::as<ir::CallNode>(call);
  return node->op.evaluate({value}, node->attrs, node->type().as_tensor());
}

TEST(LayoutTransformTest, BlocksChannelsInnermost) {
  // [1, 4, 1, 2] NCHW -> NCHW2c [1, 2, 1, 2, 2]: element (c, w) = c * 2 + w goes to
  // [c / 2, w, c % 2].
  Tensor blocked = evaluate("NCHW", "NCHW2c", iota({1, 4, 1, 2}));
  ASSERT_EQ(blocked.shape(), (std::vector<int64_t>{1, 2, 1, 2, 2}));
  std::vector<float> expected = {0, 2, 1, 3, 4, 6, 5, 7};
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(blocked.data_as<float>()[i], expected[i]) << i;
  }
}

TEST(LayoutTransformTest, RoundTripsThroughOtherBlockings) {
  Tensor original = iota({2, 48, 3, 5});
  Tensor by16 = evaluate("NCHW", "NCHW16c", original);
  Tensor by8 = evaluate("NCHW16c", "NCHW8c", by16);
  Tensor back = evaluate("NCHW8c", "NCHW", by8);
  ASSERT_EQ(back.shape(), original.shape());
  for (int64_t i = 0; i < original.numel(); ++i) {
    ASSERT_EQ(back.data_as<float>()[i], original.data_as<float>()[i]) << i;
  }
}

TEST(LayoutTransformTest, PacksConvolutionWeights) {
  // OIHW [4, 2, 1, 1] -> OIHW2i2o [2, 1, 1, 1, 2, 2]: w[o, i] at [o / 2, i / 2, 0, 0, i % 2, o %
  // 2].
  Tensor packed = evaluate("OIHW", "OIHW2i2o", iota({4, 2, 1, 1}));
  ASSERT_EQ(packed.shape(), (std::vector<int64_t>{2, 1, 1, 1, 2, 2}));
  // Block o = 0..1: [i=0: w[0,0]=0, w[1,0]=2; i=1: w[0,1]=1, w[1,1]=3], then o = 2..3.
  std::vector<float> expected = {0, 2, 1, 3, 4, 6, 5, 7};
  for (size_t i = 0; i < expected.size(); ++i) {
    EXPECT_EQ(packed.data_as<float>()[i], expected[i]) << i;
  }
}

TEST(LayoutTransformTest, TypeErrorsNameTheOperator) {
  ir::Expr x = ir::ConstantNode::make(iota({1, 12, 2, 2}));
  try {
    ir::call("layout_transform", {x}, {{"src_layout", "NCHW"}, {"dst_layout", "NCHW8c"}});
    FAIL() << "12 channels in blocks of 8 accepted";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("layout_transform"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("not divisible"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace kiln::op
