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

std::vector<Expr> batch_norm_args(const Ints& data_shape, int64_t channels) {
  return {f32("data", data_shape), f32("gamma", {channels}), f32("beta", {channels}),
          f32("mean", {channels}), f32("var", {channels})};
}

TEST(NormTest, BatchNormKeepsDataType) {
  Call bn = call("batch_norm", batch_norm_args({1, 64, 56, 56}, 64));
  EXPECT_EQ(bn->type(), f32_type({1, 64, 56, 56}));
  EXPECT_DOUBLE_EQ(bn->attrs.get_float("epsilon"), 1e-5);
  EXPECT_EQ(op("batch_norm").pattern, OpPattern::kOpaque);
  Call last_axis =
      call("batch_norm", batch_norm_args({4, 10, 32}, 32), Attrs{{"axis", int64_t{-1}}});
  EXPECT_EQ(last_axis->type(), f32_type({4, 10, 32}));
}

TEST(NormTest, BatchNormErrors) {
  std::vector<Expr> args = batch_norm_args({1, 64, 56, 56}, 64);
  args[3] = f32("mean", {32});
  expect_error([&] { call("batch_norm", args); },
               "batch_norm: mean must have shape [64] (one value per channel of data "
               "float32[1, 64, 56, 56]), got float32[32]");
  args = batch_norm_args({1, 64, 56, 56}, 64);
  args[4] = input("var", DType::kFloat16, {64});
  expect_error([&] { call("batch_norm", args); }, "batch_norm: var has dtype float16");
  expect_error(
      [] {
        call("batch_norm", batch_norm_args({1, 64}, 64), Attrs{{"axis", int64_t{2}}});
      },
      "batch_norm: axis 2 is out of range");
  expect_error(
      [] {
        call("batch_norm", {f32("data", {1, 64})});
      },
      "batch_norm: takes 5 arguments, got 1");
}

TEST(NormTest, LayerNormOverTrailingAxes) {
  Call ln = call("layer_norm", {f32("x", {2, 128, 768}), f32("gamma", {768}), f32("beta", {768})});
  EXPECT_EQ(ln->type(), f32_type({2, 128, 768}));
  EXPECT_EQ(ln->attrs.get_int("axis"), -1);
  // axis 1 normalises [128, 768]; gamma may cover them or broadcast to them.
  Call two_axes = call("layer_norm", {f32("x", {2, 128, 768}), f32("gamma", {128, 768})},
                       Attrs{{"axis", int64_t{1}}});
  EXPECT_EQ(two_axes->type(), f32_type({2, 128, 768}));
  Call broadcast = call("layer_norm", {f32("x", {2, 128, 768}), f32("gamma", {1, 768})},
                        Attrs{{"axis", int64_t{-2}}});
  EXPECT_EQ(broadcast->type(), f32_type({2, 128, 768}));
  Var symbolic = input("x", DType::kFloat32, {Dim::symbol("B"), Dim::symbol("S"), 768});
  EXPECT_EQ(call("layer_norm", {symbolic, f32("gamma", {768})})->type(), symbolic->type());
}

TEST(NormTest, LayerNormErrors) {
  expect_error(
      [] {
        call("layer_norm", {f32("x", {2, 128, 768}), f32("gamma", {512})});
      },
      "layer_norm: gamma float32[512] does not broadcast to the normalised dims [768]");
  expect_error(
      [] {
        call("layer_norm", {f32("x", {2, 128, 768}), f32("gamma", {128, 768})});
      },
      "layer_norm: gamma float32[128, 768] does not broadcast");
  expect_error(
      [] {
        call("layer_norm", {f32("x", {2, 8}), f32("gamma", {8}), f32("beta", {4})});
      },
      "layer_norm: beta float32[4] does not broadcast");
  expect_error(
      [] {
        call("layer_norm", {f32("x", {2, 8}), f32("gamma", {8})}, Attrs{{"axis", int64_t{2}}});
      },
      "layer_norm: axis 2 is out of range for rank 2");
  expect_error(
      [] {
        call("layer_norm", {input("x", DType::kInt32, {2, 8}), f32("gamma", {8})});
      },
      "layer_norm: data must be a floating-point tensor");
}

TEST(NormTest, InstanceAndGroupNorm) {
  Call in =
      call("instance_norm", {f32("x", {2, 16, 10, 10}), f32("gamma", {16}), f32("beta", {16})});
  EXPECT_EQ(in->type(), f32_type({2, 16, 10, 10}));
  Call gn = call("group_norm", {f32("x", {2, 64, 8, 8}), f32("gamma", {64}), f32("beta", {64})},
                 Attrs{{"num_groups", int64_t{32}}});
  EXPECT_EQ(gn->type(), f32_type({2, 64, 8, 8}));
}

TEST(NormTest, InstanceAndGroupNormErrors) {
  expect_error(
      [] {
        call("instance_norm", {f32("x", {2, 16, 10, 10}), f32("gamma", {8}), f32("beta", {16})});
      },
      "instance_norm: gamma must have shape [16]");
  expect_error(
      [] {
        call("instance_norm", {f32("x", {2, 16}), f32("g", {16}), f32("b", {16})});
      },
      "instance_norm: data must have rank >= 3");
  expect_error(
      [] {
        call("group_norm", {f32("x", {2, 60, 8, 8}), f32("gamma", {60}), f32("beta", {60})},
             Attrs{{"num_groups", int64_t{32}}});
      },
      "group_norm: data has 60 channels, not divisible by num_groups 32");
  expect_error(
      [] {
        call("group_norm", {f32("x", {2, 64, 8, 8}), f32("gamma", {64}), f32("beta", {64})});
      },
      "group_norm: required attribute 'num_groups' is missing");
}

TEST(NormTest, LrnAndLpNormalize) {
  Call lrn = call("lrn", {f32("x", {1, 96, 55, 55})}, Attrs{{"size", int64_t{5}}});
  EXPECT_EQ(lrn->type(), f32_type({1, 96, 55, 55}));
  EXPECT_DOUBLE_EQ(lrn->attrs.get_float("beta"), 0.75);
  Call lp = call("lp_normalize", {f32("x", {4, 10})}, Attrs{{"p", int64_t{1}}});
  EXPECT_EQ(lp->type(), f32_type({4, 10}));
  expect_error(
      [] {
        call("lrn", {f32("x", {1, 96, 55, 55})}, Attrs{{"size", int64_t{0}}});
      },
      "lrn: size must be positive");
  expect_error(
      [] {
        call("lp_normalize", {f32("x", {4, 10})}, Attrs{{"p", int64_t{3}}});
      },
      "lp_normalize: p must be 1 or 2, got 3");
  expect_error(
      [] {
        call("lp_normalize", {f32("x", {4, 10})}, Attrs{{"axis", int64_t{-3}}});
      },
      "lp_normalize: axis -3 is out of range");
}

}  // namespace
}  // namespace kiln::ir
