// Type relations of the sampling operators (src/op/nn/sample.cc) and the 3-D convolutions
// (src/op/nn/conv3d.cc); their computes are checked against references in
// tests/python/test_image_ops.py.
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

TEST(SampleTest, GridSampleShapes) {
  EXPECT_EQ(call("grid_sample", {f32("x", {2, 3, 8, 9}), f32("grid", {2, 5, 7, 2})})->type(),
            f32_type({2, 3, 5, 7}));
  EXPECT_EQ(call("grid_sample", {f32("x", {1, 2, 4, 5, 6}), f32("grid", {1, 3, 2, 7, 3})},
                 Attrs{{"mode", std::string("nearest")}})
                ->type(),
            f32_type({1, 2, 3, 2, 7}));
  expect_error(
      [] {
        call("grid_sample", {f32("x", {1, 2, 4, 4}), f32("grid", {1, 3, 3, 3})});
      },
      "grid_sample: grid must have shape [N, out spatial..., 2]");
  expect_error(
      [] {
        call("grid_sample", {f32("x", {1, 2, 4, 4}), f32("grid", {1, 3, 3, 2})},
             Attrs{{"padding_mode", std::string("wrap")}});
      },
      "grid_sample: padding_mode must be one of");
}

TEST(SampleTest, RoiAlignShape) {
  Call roi =
      call("roi_align",
           {f32("x", {2, 16, 32, 32}), f32("rois", {7, 4}), input("batch", DType::kInt64, {7})},
           Attrs{{"output_height", int64_t{5}},
                 {"output_width", int64_t{3}},
                 {"sampling_ratio", int64_t{2}}});
  EXPECT_EQ(roi->type(), f32_type({7, 16, 5, 3}));
  expect_error(
      [] {
        call("roi_align",
             {f32("x", {2, 16, 32, 32}), f32("rois", {7, 5}), input("batch", DType::kInt64, {7})},
             Attrs{{"sampling_ratio", int64_t{2}}});
      },
      "roi_align: rois must have shape [num_rois, 4]");
  expect_error(
      [] {
        call("roi_align",
             {f32("x", {2, 16, 32, 32}), f32("rois", {7, 4}), input("batch", DType::kInt64, {7})},
             Attrs{{"sampling_ratio", int64_t{0}}});
      },
      "roi_align: sampling_ratio must be positive");
}

TEST(SampleTest, Col2ImShape) {
  // 5x5 image, 2x2 blocks, stride 1: 4 * 4 = 16 blocks of 4 values per channel.
  Call image = call("col2im", {f32("x", {2, 3 * 4, 16})},
                    Attrs{{"image_shape", Ints{5, 5}},
                          {"block_shape", Ints{2, 2}},
                          {"dilations", Ints{1, 1}},
                          {"pads", Ints{0, 0, 0, 0}},
                          {"strides", Ints{1, 1}}});
  EXPECT_EQ(image->type(), f32_type({2, 3, 5, 5}));
  expect_error(
      [] {
        call("col2im", {f32("x", {2, 12, 15})},
             Attrs{{"image_shape", Ints{5, 5}},
                   {"block_shape", Ints{2, 2}},
                   {"dilations", Ints{1, 1}},
                   {"pads", Ints{0, 0, 0, 0}},
                   {"strides", Ints{1, 1}}});
      },
      "col2im: data float32[2, 12, 15] must hold 16 blocks");
}

TEST(SampleTest, DeformConvShape) {
  Call conv =
      call("deform_conv2d",
           {f32("x", {1, 4, 9, 9}), f32("w", {6, 2, 3, 3}), f32("offset", {1, 36, 4, 4}),
            f32("mask", {1, 18, 4, 4})},
           Attrs{{"strides", Ints{2, 2}}, {"groups", int64_t{2}}, {"offset_groups", int64_t{2}}});
  EXPECT_EQ(conv->type(), f32_type({1, 6, 4, 4}));
  expect_error(
      [] {
        call("deform_conv2d", {f32("x", {1, 4, 9, 9}), f32("w", {6, 4, 3, 3}),
                               f32("offset", {1, 17, 7, 7}), f32("mask", {1, 9, 7, 7})});
      },
      "deform_conv2d: offset must have shape [1, 18, 7, 7]");
}

TEST(SampleTest, Conv3dShapes) {
  Call conv = call(
      "conv3d", {f32("x", {1, 4, 8, 9, 10}), f32("w", {6, 2, 3, 3, 3})},
      Attrs{
          {"groups", int64_t{2}}, {"strides", Ints{2, 1, 1}}, {"padding", Ints{1, 1, 1, 1, 1, 1}}});
  EXPECT_EQ(conv->type(), f32_type({1, 6, 4, 9, 10}));
  Call transpose = call("conv3d_transpose", {f32("x", {1, 2, 3, 4, 5}), f32("w", {2, 3, 3, 3, 3})},
                        Attrs{{"strides", Ints{2, 2, 2}}, {"output_padding", Ints{1, 0, 1}}});
  EXPECT_EQ(transpose->type(), f32_type({1, 3, 8, 9, 12}));
  expect_error(
      [] {
        call("conv3d", {f32("x", {1, 4, 8, 9, 10}), f32("w", {6, 3, 3, 3, 3})});
      },
      "conv3d: data has 4 input channels but weight expects 3");
}

}  // namespace
}  // namespace kiln::ir
