#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "ir/expr.h"
#include "ir/op.h"
#include "kiln/error.h"
#include "kiln/tensor.h"

#include "../op_test_util.h"

namespace kiln::ir {
namespace {

using namespace op_test;

Constant weight(const Ints& shape, DType dtype = DType::kFloat32) {
  return ConstantNode::make(Tensor(dtype, shape), "weight");
}

TEST(ConvTest, Conv2dResNetStem) {
  Call conv = call("conv2d", {f32("data", {1, 3, 224, 224}), weight({64, 3, 7, 7})},
                   Attrs{{"strides", Ints{2, 2}}, {"padding", Ints{3, 3, 3, 3}}});
  EXPECT_EQ(conv->type(), Type(f32_type({1, 64, 112, 112})));
  EXPECT_EQ(macs_of(conv), int64_t{1} * 64 * 112 * 112 * 3 * 7 * 7);
}

TEST(ConvTest, Conv2dDefaultsAreUnitStrideNoPadding) {
  Call conv = call("conv2d", {f32("data", {2, 3, 32, 32}), weight({8, 3, 3, 3})});
  EXPECT_EQ(conv->type(), Type(f32_type({2, 8, 30, 30})));
  EXPECT_EQ(conv->attrs.get_ints("strides"), (Ints{1, 1}));
  EXPECT_EQ(conv->attrs.get_ints("padding"), (Ints{0, 0, 0, 0}));
  EXPECT_EQ(conv->attrs.get_int("groups"), 1);
  EXPECT_EQ(op("conv2d").pattern, OpPattern::kOutEWiseFusable);
  EXPECT_EQ(op("conv2d").family, "nn");
}

TEST(ConvTest, Conv2dDepthwise) {
  Call conv = call("conv2d", {f32("data", {1, 32, 112, 112}), weight({32, 1, 3, 3})},
                   Attrs{{"padding", Ints{1, 1, 1, 1}}, {"groups", int64_t{32}}});
  EXPECT_EQ(conv->type(), Type(f32_type({1, 32, 112, 112})));
  EXPECT_EQ(macs_of(conv), int64_t{32} * 112 * 112 * 1 * 3 * 3);
}

TEST(ConvTest, Conv2dGrouped) {
  Call conv = call("conv2d", {f32("data", {1, 64, 56, 56}), weight({128, 16, 3, 3})},
                   Attrs{{"padding", Ints{1, 1, 1, 1}}, {"groups", int64_t{4}}});
  EXPECT_EQ(conv->type(), Type(f32_type({1, 128, 56, 56})));
  EXPECT_EQ(macs_of(conv), int64_t{128} * 56 * 56 * 16 * 9);
}

TEST(ConvTest, Conv2dDilation) {
  Call conv = call("conv2d", {f32("data", {1, 8, 32, 32}), weight({8, 8, 3, 3})},
                   Attrs{{"dilation", Ints{2, 2}}});
  EXPECT_EQ(conv->type(), Type(f32_type({1, 8, 28, 28})));
}

TEST(ConvTest, Conv2dAsymmetricPaddingAndStride) {
  // height: (10 + 0 + 2 - 3) / 1 + 1 = 10; width: (10 + 1 + 3 - 3) / 2 + 1 = 6.
  Call conv = call("conv2d", {f32("data", {1, 1, 10, 10}), weight({1, 1, 3, 3})},
                   Attrs{{"padding", Ints{0, 1, 2, 3}}, {"strides", Ints{1, 2}}});
  EXPECT_EQ(conv->type(), Type(f32_type({1, 1, 10, 6})));
}

TEST(ConvTest, Conv2dSymbolicBatchStaysSymbolic) {
  Var data = input("data", DType::kFloat32, {Dim::symbol("N"), 3, 224, 224});
  Call conv = call("conv2d", {data, weight({64, 3, 7, 7})},
                   Attrs{{"strides", Ints{2, 2}}, {"padding", Ints{3, 3, 3, 3}}});
  EXPECT_EQ(conv->type().as_tensor().shape, (Shape{Dim::symbol("N"), 64, 112, 112}));
  EXPECT_EQ(macs_of(conv), 0);
}

TEST(ConvTest, Conv2dSymbolicSpatialGivesUnknown) {
  Var data = input("data", DType::kFloat32, {1, 3, Dim::symbol("H"), 224});
  Call conv = call("conv2d", {data, weight({64, 3, 7, 7})},
                   Attrs{{"strides", Ints{2, 2}}, {"padding", Ints{3, 3, 3, 3}}});
  EXPECT_EQ(conv->type().as_tensor().shape, (Shape{1, 64, Dim::unknown(), 112}));
}

TEST(ConvTest, Conv2dChannelMismatchNamesTheNumbers) {
  expect_error(
      [] {
        call("conv2d", {f32("data", {1, 4, 224, 224}), weight({64, 3, 7, 7})});
      },
      "conv2d: data has 4 input channels but weight expects 3 (weight float32[64, 3, 7, "
      "7], groups 1)");
}

TEST(ConvTest, Conv2dGroupErrors) {
  // C_in 8 == 2 * 4 but 30 output channels do not split into 4 groups.
  expect_error(
      [] {
        call("conv2d", {f32("data", {1, 8, 8, 8}), weight({30, 2, 3, 3})},
             Attrs{{"groups", int64_t{4}}});
      },
      "conv2d: output channel count 30 is not divisible by groups 4");
  expect_error(
      [] {
        call("conv2d", {f32("data", {1, 8, 8, 8}), weight({32, 1, 3, 3})},
             Attrs{{"groups", int64_t{4}}});
      },
      "conv2d: data has 8 input channels but weight expects 4");
  expect_error(
      [] {
        call("conv2d", {f32("data", {1, 8, 8, 8}), weight({32, 8, 3, 3})},
             Attrs{{"groups", int64_t{0}}});
      },
      "conv2d: groups must be positive");
}

TEST(ConvTest, Conv2dAttributeErrors) {
  auto conv_with = [](Attrs attrs) {
    call("conv2d", {f32("data", {1, 3, 32, 32}), weight({8, 3, 3, 3})}, std::move(attrs));
  };
  expect_error(
      [&] {
        conv_with({{"strides", Ints{1, 1, 1}}});
      },
      "conv2d: strides must have 2 values, got [1, 1, 1]");
  expect_error([&] { conv_with({{"padding", Ints{1, 1}}}); }, "conv2d: padding must have 4 values");
  expect_error([&] { conv_with({{"strides", Ints{0, 1}}}); }, "conv2d: strides must be positive");
  expect_error(
      [&] {
        conv_with({{"padding", Ints{0, -1, 0, 0}}});
      },
      "conv2d: padding must not be negative");
  expect_error([&] { conv_with({{"dilation", Ints{1, 0}}}); }, "conv2d: dilation must be positive");
  expect_error([&] { conv_with({{"strides", int64_t{2}}}); }, "conv2d: attribute 'strides'");
}

TEST(ConvTest, Conv2dOperandErrors) {
  expect_error(
      [] {
        call("conv2d", {f32("data", {3, 224, 224}), weight({64, 3, 7, 7})});
      },
      "conv2d: data must have rank 4");
  expect_error(
      [] {
        call("conv2d", {f32("data", {1, 3, 224, 224}), weight({64, 3, 7})});
      },
      "conv2d: weight must have rank 4");
  expect_error(
      [] {
        call("conv2d", {f32("data", {1, 3, 224, 224}), weight({64, 3, 7, 7}, DType::kFloat16)});
      },
      "conv2d: data float32[1, 3, 224, 224] and weight float16[64, 3, 7, 7] have different");
  expect_error(
      [] {
        call("conv2d", {f32("data", {1, 3, 4, 4}), weight({8, 3, 5, 5})});
      },
      "conv2d: window of 5 (dilation 1) is larger than the padded input height 4");
  expect_error(
      [] {
        call("conv2d", {f32("data", {1, 3, 4, 4}), weight({8, 3, 0, 3})});
      },
      "conv2d: weight float32[8, 3, 0, 3] has an empty kernel");
  // Padding makes the same window fit.
  Call padded = call("conv2d", {f32("data", {1, 3, 4, 4}), weight({8, 3, 5, 5})},
                     Attrs{{"padding", Ints{1, 1, 1, 1}}});
  EXPECT_EQ(padded->type(), Type(f32_type({1, 8, 2, 2})));
}

TEST(ConvTest, Conv2dTransposeUpsamples) {
  // (14 - 1) * 2 - 2 + 4 = 28.
  Call deconv = call("conv2d_transpose", {f32("data", {1, 64, 14, 14}), weight({64, 32, 4, 4})},
                     Attrs{{"strides", Ints{2, 2}}, {"padding", Ints{1, 1, 1, 1}}});
  EXPECT_EQ(deconv->type(), Type(f32_type({1, 32, 28, 28})));
  EXPECT_EQ(macs_of(deconv), int64_t{64} * 14 * 14 * 32 * 4 * 4);
}

TEST(ConvTest, Conv2dTransposeGroupsAndOutputPadding) {
  // (14 - 1) * 2 - 2 + 3 + 1 = 28; out channels 16 * 2 groups.
  Call deconv = call("conv2d_transpose", {f32("data", {1, 64, 14, 14}), weight({64, 16, 3, 3})},
                     Attrs{{"strides", Ints{2, 2}},
                           {"padding", Ints{1, 1, 1, 1}},
                           {"output_padding", Ints{1, 1}},
                           {"groups", int64_t{2}}});
  EXPECT_EQ(deconv->type(), Type(f32_type({1, 32, 28, 28})));
}

TEST(ConvTest, Conv2dTransposeErrors) {
  expect_error(
      [] {
        call("conv2d_transpose", {f32("data", {1, 32, 14, 14}), weight({64, 32, 4, 4})});
      },
      "conv2d_transpose: data has 32 input channels but weight expects 64");
  expect_error(
      [] {
        call("conv2d_transpose", {f32("data", {1, 64, 14, 14}), weight({64, 32, 4, 4})},
             Attrs{{"output_padding", Ints{1, 0}}});
      },
      "conv2d_transpose: output_padding [1, 0] must be smaller than the stride");
  expect_error(
      [] {
        call("conv2d_transpose", {f32("data", {1, 63, 14, 14}), weight({63, 32, 4, 4})},
             Attrs{{"groups", int64_t{2}}});
      },
      "conv2d_transpose: input channel count 63 is not divisible by groups 2");
  expect_error(
      [] {
        call("conv2d_transpose", {f32("data", {1, 8, 1, 1}), weight({8, 8, 1, 1})},
             Attrs{{"padding", Ints{1, 1, 1, 1}}});
      },
      "conv2d_transpose: output height would be -1");
}

TEST(ConvBiasAddTest, TypeIsDataType) {
  Call biased = call("bias_add", {f32("data", {1, 64, 56, 56}), weight({64})});
  EXPECT_EQ(biased->type(), Type(f32_type({1, 64, 56, 56})));
  Call last_axis =
      call("bias_add", {f32("data", {8, 10}), weight({10})}, Attrs{{"axis", int64_t{-1}}});
  EXPECT_EQ(last_axis->type(), Type(f32_type({8, 10})));
  Var symbolic = input("data", DType::kFloat32, {Dim::symbol("N"), 64, 7, 7});
  EXPECT_EQ(call("bias_add", {symbolic, weight({64})})->type(), symbolic->type());
}

TEST(ConvBiasAddTest, Errors) {
  expect_error(
      [] {
        call("bias_add", {f32("data", {1, 64, 56, 56}), weight({32})});
      },
      "bias_add: bias must have shape [64]");
  expect_error(
      [] {
        call("bias_add", {f32("data", {1, 64, 56, 56}), weight({1, 64})});
      },
      "bias_add: bias must have shape [64]");
  expect_error(
      [] {
        call("bias_add", {f32("data", {1, 64}), weight({64})}, Attrs{{"axis", int64_t{2}}});
      },
      "bias_add: axis 2 is out of range for rank 2");
  expect_error(
      [] {
        call("bias_add", {f32("data", {1, 64}), weight({64}, DType::kInt32)});
      },
      "bias_add: bias has dtype int32");
}

TEST(ConvBiasAddTest, EvaluatesFloat32AlongChannelAxis) {
  Tensor data = Tensor::from_float32s({1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12}, {1, 3, 2, 2});
  Tensor bias = Tensor::from_float32s({100, 200, 300}, {3});
  Call biased = call("bias_add", {ConstantNode::make(data), ConstantNode::make(bias)});
  Tensor out = op("bias_add").evaluate({data, bias}, biased->attrs, biased->type().as_tensor());
  ASSERT_EQ(out.shape(), (Ints{1, 3, 2, 2}));
  std::vector<float> expected = {101, 102, 103, 104, 205, 206, 207, 208, 309, 310, 311, 312};
  for (int64_t i = 0; i < 12; ++i) EXPECT_EQ(out.data_as<float>()[i], expected[i]) << i;
}

TEST(ConvBiasAddTest, EvaluatesInt32LastAxis) {
  std::vector<int32_t> values = {1, 2, 3, -4, -5, -6};
  std::vector<int32_t> bias_values = {10, 20, 30};
  Tensor data = Tensor::from_bytes(DType::kInt32, {2, 3}, values.data(), 6 * sizeof(int32_t));
  Tensor bias = Tensor::from_bytes(DType::kInt32, {3}, bias_values.data(), 3 * sizeof(int32_t));
  Call biased = call("bias_add", {ConstantNode::make(data), ConstantNode::make(bias)},
                     Attrs{{"axis", int64_t{-1}}});
  Tensor out = op("bias_add").evaluate({data, bias}, biased->attrs, biased->type().as_tensor());
  EXPECT_EQ(out.dtype(), DType::kInt32);
  EXPECT_EQ(out.to_int64s(), (Ints{11, 22, 33, 6, 15, 24}));
}

}  // namespace
}  // namespace kiln::ir
