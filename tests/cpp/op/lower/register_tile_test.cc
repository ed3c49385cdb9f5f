// The register-tiled default schedules of conv2d, dense and matmul (op/nn/register_tile.h), at
// sizes around their block sizes (vector lanes 4/8/16, channel blocks up to 24, width blocks that
// divide the output width): the compute matches a direct C++ reference, and each schedule lowers
// and runs (test executor) to the interpreter's values for AVX-512, AVX2 and 128-bit targets.
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "lower_test_util.h"
#include "op/nn/register_tile.h"
#include "op/op_impl.h"
#include "te/schedule.h"

namespace kiln::op::lower_test {
namespace {

struct Conv {
  Ints data, weight;
  Ints strides = {1, 1}, padding = {0, 0, 0, 0}, dilation = {1, 1};
  int64_t groups = 1;
};

double at(const Tensor& t, const Ints& index) {
  int64_t flat = 0;
  for (size_t d = 0; d < index.size(); ++d) flat = flat * t.shape()[d] + index[d];
  return t.element_as_double(flat);
}

Tensor conv_reference(const Tensor& data, const Tensor& weight, const Conv& c, const Ints& shape) {
  Tensor out(DType::kFloat32, shape);
  int64_t in_per_group = c.weight[1], out_per_group = shape[1] / c.groups;
  int64_t flat = 0;
  for (int64_t n = 0; n < shape[0]; ++n) {
    for (int64_t o = 0; o < shape[1]; ++o) {
      for (int64_t y = 0; y < shape[2]; ++y) {
        for (int64_t x = 0; x < shape[3]; ++x) {
          double sum = 0;
          for (int64_t ic = 0; ic < in_per_group; ++ic) {
            for (int64_t ky = 0; ky < c.weight[2]; ++ky) {
              for (int64_t kx = 0; kx < c.weight[3]; ++kx) {
                int64_t iy = y * c.strides[0] - c.padding[0] + ky * c.dilation[0];
                int64_t ix = x * c.strides[1] - c.padding[1] + kx * c.dilation[1];
                if (iy < 0 || iy >= c.data[2] || ix < 0 || ix >= c.data[3]) continue;
                int64_t channel = o / out_per_group * in_per_group + ic;
                sum += at(data, {n, channel, iy, ix}) * at(weight, {o, ic, ky, kx});
              }
            }
          }
          out.set_element_from_double(flat++, sum);
        }
      }
    }
  }
  return out;
}

Lowered lower_conv(const Conv& c) {
  ir::Attrs attrs{{"strides", c.strides},
                  {"padding", c.padding},
                  {"dilation", c.dilation},
                  {"groups", c.groups}};
  return lower("conv2d", {f32(c.data), f32(c.weight)}, attrs);
}

// The steps of the registered default schedule for an AVX-512 target with two cores.
std::string schedule_steps(const Lowered& lowered) {
  ScheduleContext context;
  context.vector_bits = 512;
  context.num_cores = 2;
  te::Schedule schedule(lowered.outputs);
  const OpImpl* impl = find_impl(lowered.op_name);
  EXPECT_TRUE(impl && impl->schedule);
  impl->schedule(schedule, lowered.outputs, context);
  return schedule.to_string();
}

TEST(RegisterTileTest, BlockRules) {
  EXPECT_EQ(vector_block(56, 16, 4), 14);
  EXPECT_EQ(vector_block(112, 16, 4), 16);
  EXPECT_EQ(vector_block(7, 16, 4), 7);
  EXPECT_EQ(vector_block(17, 16, 4), 17);
  EXPECT_EQ(vector_block(128, 16, 2, true), 32);
  EXPECT_EQ(vector_block(5, 1, 4), 1);
  EXPECT_EQ(divisor_at_most(64, 24), 16);
  EXPECT_EQ(divisor_at_most(96, 24), 24);
  EXPECT_EQ(divisor_at_most(17, 24), 17);
  EXPECT_EQ(divisor_at_most(33, 24), 11);
  EXPECT_EQ(divisor_at_most(7, 0), 1);
}

TEST(RegisterTileTest, Conv2dAroundBlockSizes) {
  std::vector<Conv> cases = {
      {{1, 3, 9, 9}, {7, 3, 3, 3}, {1, 1}, {1, 1, 1, 1}},                  // 7 channels
      {{1, 4, 16, 16}, {8, 4, 3, 3}, {1, 1}, {1, 1, 1, 1}},                // one vector wide
      {{1, 5, 17, 17}, {9, 5, 3, 3}, {1, 1}, {1, 1, 1, 1}},                // 17 wide (prime)
      {{1, 6, 15, 15}, {16, 6, 1, 1}},                                     // 1x1
      {{1, 5, 14, 14}, {17, 5, 1, 1}},                                     // 1x1, 17 channels
      {{1, 3, 9, 33}, {33, 3, 3, 3}, {1, 1}, {1, 1, 1, 1}},                // 33 wide, 33 ch
      {{1, 64, 7, 7}, {48, 64, 1, 1}},                                     // channel block 24
      {{1, 1024, 2, 7}, {16, 1024, 1, 1}},                                 // 4 KiB weight rows
      {{1, 4, 16, 16}, {8, 4, 1, 1}, {2, 2}},                              // 1x1 stride 2
      {{1, 4, 17, 17}, {9, 4, 3, 3}, {2, 2}, {1, 1, 1, 1}},                // 3x3 stride 2
      {{1, 3, 23, 23}, {8, 3, 7, 7}, {2, 2}, {3, 3, 3, 3}},                // stem-like
      {{1, 3, 15, 16}, {7, 3, 3, 3}, {2, 3}, {0, 2, 1, 0}},                // strides 2, 3
      {{1, 4, 16, 17}, {8, 4, 3, 3}, {2, 2}, {2, 2, 2, 2}, {2, 2}},        // dilated stride 2
      {{1, 3, 12, 13}, {5, 3, 3, 2}, {1, 2}, {1, 0, 1, 1}, {1, 3}},        // dilation 3, stride 2
      {{2, 8, 9, 9}, {8, 2, 3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 4},       // grouped, batch 2
      {{1, 9, 16, 16}, {18, 3, 3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, 3},    // grouped stride 2
      {{1, 16, 15, 15}, {16, 1, 3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 16},  // depthwise
      {{1, 8, 17, 17}, {8, 1, 3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, 8},     // depthwise stride 2
      {{1, 4, 8, 8}, {8, 1, 3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 4},       // multiplier 2
  };
  for (const Conv& c : cases) {
    Lowered lowered = lower_conv(c);
    SCOPED_TRACE(lowered.type.to_string() + " from " + f32(c.data).to_string() + " weight " +
                 f32(c.weight).to_string());
    std::vector<Tensor> args = random_args(lowered, 5);
    Tensor expected = conv_reference(args[0], args[1], c, lowered.type.as_tensor().static_shape());
    // float32 sums of up to 1024 products against a double reference.
    expect_close(run_compute(lowered, args)[0], expected, 1e-5, 1e-4);
    expect_schedules(lowered);
    EXPECT_NE(schedule_steps(lowered).find("compute_at"), std::string::npos);
  }
}

TEST(RegisterTileTest, DenseAroundBlockSizes) {
  for (const auto& [data_shape, units] : std::vector<std::pair<Ints, int64_t>>{{{1, 17}, 9},
                                                                               {{15, 16}, 16},
                                                                               {{16, 8}, 17},
                                                                               {{17, 9}, 33},
                                                                               {{2, 33, 7}, 32},
                                                                               {{48, 5}, 64}}) {
    int64_t k = data_shape.back();
    Lowered lowered = lower("dense", {f32(data_shape), f32({units, k})});
    SCOPED_TRACE(lowered.type.to_string());
    std::vector<Tensor> args = random_args(lowered, 6);
    Tensor expected(DType::kFloat32, lowered.type.as_tensor().static_shape());
    int64_t rows = args[0].numel() / k;
    for (int64_t r = 0; r < rows; ++r) {
      for (int64_t u = 0; u < units; ++u) {
        double sum = 0;
        for (int64_t j = 0; j < k; ++j) {
          sum += args[0].element_as_double(r * k + j) * args[1].element_as_double(u * k + j);
        }
        expected.set_element_from_double(r * units + u, sum);
      }
    }
    expect_close(run_compute(lowered, args)[0], expected, 1e-5, 1e-5);
    expect_schedules(lowered);
    // Enough rows: the weight is packed and the product register-tiled.
    bool tiled = schedule_steps(lowered).find("compute_at") != std::string::npos;
    EXPECT_EQ(tiled, rows >= 16);
  }
}

TEST(RegisterTileTest, MatmulAroundBlockSizes) {
  for (const auto& [a, b] : std::vector<std::pair<Ints, Ints>>{{{9, 17}, {17, 33}},
                                                               {{16, 8}, {8, 16}},
                                                               {{2, 17, 5}, {5, 31}},
                                                               {{2, 1, 24, 7}, {3, 7, 48}},
                                                               {{7}, {7, 16}},
                                                               {{3, 5, 8}, {8}}}) {
    Lowered lowered = lower("matmul", {f32(a), f32(b)});
    SCOPED_TRACE(lowered.type.to_string());
    expect_matches_reference(lowered, 1e-5, 1e-5);
    expect_schedules(lowered);
  }
}

}  // namespace
}  // namespace kiln::op::lower_test
