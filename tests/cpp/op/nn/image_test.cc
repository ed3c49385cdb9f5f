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

TEST(ResizeTest, OutputTakesSize) {
  Call up = call("resize2d", {f32("x", {1, 3, 32, 32})}, Attrs{{"size", Ints{64, 48}}});
  EXPECT_EQ(up->type(), f32_type({1, 3, 64, 48}));
  EXPECT_EQ(up->attrs.get_string("method"), "nearest");
  EXPECT_EQ(up->attrs.get_string("coordinate_transformation_mode"), "half_pixel");
  EXPECT_EQ(up->attrs.get_string("nearest_mode"), "round_prefer_floor");
  EXPECT_DOUBLE_EQ(up->attrs.get_float("cubic_coeff_a"), -0.75);
  Call linear =
      call("resize2d", {input("x", DType::kFloat32, {Dim::symbol("N"), 3, Dim::symbol("H"), 32})},
           Attrs{{"size", Ints{16, 16}},
                 {"method", std::string("linear")},
                 {"coordinate_transformation_mode", std::string("align_corners")}});
  EXPECT_EQ(linear->type().as_tensor().shape, (Shape{Dim::symbol("N"), 3, 16, 16}));
  Call cubic = call("resize2d", {input("x", DType::kUInt8, {1, 3, 8, 8})},
                    Attrs{{"size", Ints{16, 16}}, {"method", std::string("cubic")}});
  EXPECT_EQ(cubic->type(), Type(tensor_type(DType::kUInt8, {1, 3, 16, 16})));
}

TEST(ResizeTest, Errors) {
  expect_error(
      [] {
        call("resize2d", {f32("x", {1, 3, 32, 32})});
      },
      "resize2d: required attribute 'size' is missing");
  expect_error(
      [] {
        call("resize2d", {f32("x", {1, 3, 32, 32})}, Attrs{{"size", Ints{64}}});
      },
      "resize2d: size must have 2 values, got [64]");
  expect_error(
      [] {
        call("resize2d", {f32("x", {1, 3, 32, 32})}, Attrs{{"size", Ints{0, 4}}});
      },
      "resize2d: size must be positive");
  expect_error(
      [] {
        call("resize2d", {f32("x", {3, 32, 32})}, Attrs{{"size", Ints{4, 4}}});
      },
      "resize2d: data must have rank 4");
  expect_error(
      [] {
        call("resize2d", {f32("x", {1, 3, 32, 32})},
             Attrs{{"size", Ints{4, 4}}, {"method", std::string("bilinear")}});
      },
      "resize2d: method must be one of \"nearest\", \"linear\", \"cubic\", got \"bilinear\"");
  expect_error(
      [] {
        call("resize2d", {f32("x", {1, 3, 32, 32})},
             Attrs{{"size", Ints{4, 4}},
                   {"coordinate_transformation_mode", std::string("tf_crop_and_resize")}});
      },
      "resize2d: tf_crop_and_resize needs roi = [start_h, start_w, end_h, end_w], got 0 values");
  expect_error(
      [] {
        call("resize2d", {f32("x", {1, 3, 32, 32})},
             Attrs{{"size", Ints{4, 4}}, {"nearest_mode", std::string("round")}});
      },
      "resize2d: nearest_mode must be one of");
}

}  // namespace
}  // namespace kiln::ir
