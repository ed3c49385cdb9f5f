// nn operators: compute (through the interpreter) vs hand-written C++ references (conv2d, pools,
// dense, softmax, normalisations) or the operator's evaluator (matmul, bias_add), with sizes
// around the split factors; each default schedule applies, lowers, and the lowered kernel matches.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <vector>

#include "lower_test_util.h"

namespace kiln::op::lower_test {
namespace {

double at(const Tensor& t, const Ints& index) {
  int64_t flat = 0;
  for (size_t d = 0; d < index.size(); ++d) flat = flat * t.shape()[d] + index[d];
  return t.element_as_double(flat);
}

// ---------------------------------------------------------------------------------------------
// conv2d

struct ConvCase {
  Ints data, weight;
  Ints strides = {1, 1}, padding = {0, 0, 0, 0}, dilation = {1, 1};
  int64_t groups = 1;
};

Tensor conv2d_reference(const Tensor& data, const Tensor& weight, const ConvCase& c,
                        const Ints& out_shape) {
  Tensor out(DType::kFloat32, out_shape);
  int64_t in_per_group = weight.shape()[1], out_per_group = out_shape[1] / c.groups;
  int64_t height = data.shape()[2], width = data.shape()[3];
  int64_t flat = 0;
  for (int64_t n = 0; n < out_shape[0]; ++n) {
    for (int64_t o = 0; o < out_shape[1]; ++o) {
      for (int64_t y = 0; y < out_shape[2]; ++y) {
        for (int64_t x = 0; x < out_shape[3]; ++x) {
          double sum = 0;
          int64_t group = o / out_per_group;
          for (int64_t ic = 0; ic < in_per_group; ++ic) {
            for (int64_t ky = 0; ky < weight.shape()[2]; ++ky) {
              for (int64_t kx = 0; kx < weight.shape()[3]; ++kx) {
                int64_t iy = y * c.strides[0] - c.padding[0] + ky * c.dilation[0];
                int64_t ix = x * c.strides[1] - c.padding[1] + kx * c.dilation[1];
                if (iy < 0 || iy >= height || ix < 0 || ix >= width) continue;
                sum +=
                    at(data, {n, group * in_per_group + ic, iy, ix}) * at(weight, {o, ic, ky, kx});
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

TEST(LowerConvTest, Conv2dMatchesReference) {
  std::vector<ConvCase> cases = {
      {{1, 3, 9, 9}, {8, 3, 3, 3}},                                        // plain
      {{1, 4, 17, 15}, {7, 4, 3, 3}, {1, 1}, {1, 1, 1, 1}},                // same padding
      {{2, 3, 16, 16}, {9, 3, 7, 7}, {2, 2}, {3, 3, 3, 3}},                // stem-like
      {{1, 8, 9, 17}, {16, 8, 1, 1}},                                      // 1x1
      {{1, 5, 15, 15}, {4, 5, 3, 3}, {2, 1}, {0, 2, 1, 0}},                // asymmetric
      {{1, 4, 16, 16}, {8, 4, 3, 3}, {1, 1}, {2, 2, 2, 2}, {2, 2}},        // dilated
      {{1, 8, 9, 9}, {8, 2, 3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 4},       // grouped
      {{1, 16, 17, 17}, {16, 1, 3, 3}, {1, 1}, {1, 1, 1, 1}, {1, 1}, 16},  // depthwise
      {{1, 8, 16, 16}, {16, 1, 3, 3}, {2, 2}, {0, 0, 1, 1}, {1, 1}, 8},    // depthwise x2
      {{1, 7, 8, 8}, {7, 1, 5, 5}, {2, 2}, {2, 2, 2, 2}, {1, 1}, 7},       // depthwise 5x5
  };
  for (const ConvCase& c : cases) {
    ir::Attrs attrs{{"strides", c.strides},
                    {"padding", c.padding},
                    {"dilation", c.dilation},
                    {"groups", c.groups}};
    Lowered lowered = lower("conv2d", {f32(c.data), f32(c.weight)}, attrs);
    SCOPED_TRACE(lowered.type.to_string() + " from " + f32(c.data).to_string());
    std::vector<Tensor> args = random_args(lowered, 3);
    Tensor expected =
        conv2d_reference(args[0], args[1], c, lowered.type.as_tensor().static_shape());
    expect_close(run_compute(lowered, args)[0], expected, 1e-5, 1e-5);
    expect_schedules(lowered);
  }
}

// ---------------------------------------------------------------------------------------------
// pooling

struct PoolCase {
  Ints data, pool_size;
  Ints strides = {1, 1}, padding = {0, 0, 0, 0}, dilation = {1, 1};
  int64_t ceil_mode = 0, count_include_pad = 0;
};

// Max, or average dividing by the taps inside the input (or inside the padded input, clipped at
// its end, with count_include_pad).
Tensor pool_reference(const Tensor& data, const PoolCase& c, const Ints& out_shape, bool is_max) {
  Tensor out(DType::kFloat32, out_shape);
  int64_t height = data.shape()[2], width = data.shape()[3];
  int64_t flat = 0;
  for (int64_t n = 0; n < out_shape[0]; ++n) {
    for (int64_t ch = 0; ch < out_shape[1]; ++ch) {
      for (int64_t y = 0; y < out_shape[2]; ++y) {
        for (int64_t x = 0; x < out_shape[3]; ++x) {
          double best = -std::numeric_limits<double>::infinity(), sum = 0;
          int64_t count = 0;
          for (int64_t ky = 0; ky < c.pool_size[0]; ++ky) {
            for (int64_t kx = 0; kx < c.pool_size[1]; ++kx) {
              int64_t iy = y * c.strides[0] - c.padding[0] + ky * c.dilation[0];
              int64_t ix = x * c.strides[1] - c.padding[1] + kx * c.dilation[1];
              bool inside = iy >= 0 && iy < height && ix >= 0 && ix < width;
              bool in_padded = iy < height + c.padding[2] && ix < width + c.padding[3];
              if (inside) {
                best = std::max(best, at(data, {n, ch, iy, ix}));
                sum += at(data, {n, ch, iy, ix});
              }
              if (c.count_include_pad ? in_padded : inside) ++count;
            }
          }
          out.set_element_from_double(flat++, is_max ? best : sum / static_cast<double>(count));
        }
      }
    }
  }
  return out;
}

TEST(LowerPoolTest, MaxAndAvgPoolMatchReference) {
  std::vector<PoolCase> cases = {
      {{1, 3, 9, 9}, {2, 2}, {2, 2}},
      {{1, 4, 17, 16}, {3, 3}, {2, 2}, {1, 1, 1, 1}},             // ResNet's max pool
      {{1, 2, 15, 15}, {3, 3}, {2, 2}, {0, 0, 0, 0}, {1, 1}, 1},  // ceil_mode
      {{1, 2, 16, 17}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, 1},  // ceil_mode + padding
      {{2, 3, 8, 9}, {3, 2}, {1, 2}, {1, 0, 1, 1}, {1, 1}, 0},    // asymmetric
      {{1, 2, 11, 11}, {3, 3}, {2, 2}, {1, 1, 1, 1}, {2, 2}, 0},  // dilation
      {{1, 2, 7, 7}, {7, 7}, {1, 1}},                             // whole plane
  };
  for (PoolCase c : cases) {
    for (int64_t include : {0, 1}) {
      c.count_include_pad = include;
      ir::Attrs attrs{{"pool_size", c.pool_size},
                      {"strides", c.strides},
                      {"padding", c.padding},
                      {"dilation", c.dilation},
                      {"ceil_mode", c.ceil_mode}};
      Lowered max_pool = lower("max_pool2d", {f32(c.data)}, attrs);
      SCOPED_TRACE(max_pool.type.to_string() + " from " + f32(c.data).to_string() +
                   " include_pad=" + std::to_string(include));
      std::vector<Tensor> args = random_args(max_pool, 5);
      Ints out_shape = max_pool.type.as_tensor().static_shape();
      if (include == 0) {
        expect_close(run_compute(max_pool, args)[0], pool_reference(args[0], c, out_shape, true));
        expect_schedules(max_pool);
      }
      attrs.set("count_include_pad", include);
      Lowered avg_pool = lower("avg_pool2d", {f32(c.data)}, attrs);
      expect_close(run_compute(avg_pool, args)[0], pool_reference(args[0], c, out_shape, false),
                   1e-5, 1e-6);
      expect_schedules(avg_pool);
    }
  }
}

TEST(LowerPoolTest, LpPool) {
  for (int64_t p : {1, 2, 3}) {
    Lowered lowered = lower("lp_pool2d", {f32({1, 2, 8, 9})},
                            ir::Attrs{{"pool_size", Ints{3, 3}},
                                      {"strides", Ints{2, 2}},
                                      {"padding", Ints{1, 1, 1, 1}},
                                      {"p", p}});
    std::vector<Tensor> args = random_args(lowered, 9);
    Ints out_shape = lowered.type.as_tensor().static_shape();
    Tensor expected(DType::kFloat32, out_shape);
    int64_t flat = 0;
    for (int64_t c = 0; c < 2; ++c) {
      for (int64_t y = 0; y < out_shape[2]; ++y) {
        for (int64_t x = 0; x < out_shape[3]; ++x) {
          double sum = 0;
          for (int64_t iy = 2 * y - 1; iy < 2 * y + 2; ++iy) {
            for (int64_t ix = 2 * x - 1; ix < 2 * x + 2; ++ix) {
              if (iy >= 0 && iy < 8 && ix >= 0 && ix < 9) {
                sum += std::pow(std::fabs(at(args[0], {0, c, iy, ix})), static_cast<double>(p));
              }
            }
          }
          expected.set_element_from_double(flat++, std::pow(sum, 1.0 / static_cast<double>(p)));
        }
      }
    }
    expect_close(run_compute(lowered, args)[0], expected, 1e-5, 1e-6);
    expect_schedules(lowered);
  }
}

TEST(LowerPoolTest, GlobalPools) {
  for (const Ints& shape : {Ints{1, 16, 7, 7}, Ints{2, 9, 3, 17}}) {
    Lowered avg = lower("global_avg_pool2d", {f32(shape)});
    Lowered max = lower("global_max_pool2d", {f32(shape)});
    std::vector<Tensor> args = random_args(avg, 2);
    Tensor expected_avg(DType::kFloat32, {shape[0], shape[1], 1, 1});
    Tensor expected_max(DType::kFloat32, {shape[0], shape[1], 1, 1});
    for (int64_t nc = 0; nc < shape[0] * shape[1]; ++nc) {
      double sum = 0, best = -INFINITY;
      for (int64_t i = 0; i < shape[2] * shape[3]; ++i) {
        double x = args[0].element_as_double(nc * shape[2] * shape[3] + i);
        sum += x;
        best = std::max(best, x);
      }
      expected_avg.set_element_from_double(nc, sum / static_cast<double>(shape[2] * shape[3]));
      expected_max.set_element_from_double(nc, best);
    }
    expect_close(run_compute(avg, args)[0], expected_avg, 1e-5, 1e-6);
    expect_close(run_compute(max, args)[0], expected_max, 0, 0);
    expect_schedules(avg);
    expect_schedules(max);
  }
}

// ---------------------------------------------------------------------------------------------
// dense, matmul

TEST(LowerDenseTest, DenseMatchesReference) {
  for (const auto& [data_shape, units] : std::vector<std::pair<Ints, int64_t>>{
           {{1, 17}, 9}, {{4, 16}, 15}, {{2, 3, 8}, 16}, {{7}, 8}}) {
    int64_t k = data_shape.back();
    Lowered lowered = lower("dense", {f32(data_shape), f32({units, k})});
    SCOPED_TRACE(lowered.type.to_string());
    std::vector<Tensor> args = random_args(lowered, 4);
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
  }
}

TEST(LowerDenseTest, MatmulBatchesAndBroadcastsLikeReference) {
  for (const auto& [a, b] : std::vector<std::pair<Ints, Ints>>{{{9, 17}, {17, 8}},
                                                               {{2, 3, 16}, {16, 15}},
                                                               {{2, 1, 4, 7}, {3, 7, 9}},
                                                               {{7}, {7, 16}},
                                                               {{3, 5, 8}, {8}},
                                                               {{8}, {8}},
                                                               {{1, 4, 8}, {2, 8, 4}}}) {
    Lowered lowered = lower("matmul", {f32(a), f32(b)});
    SCOPED_TRACE(lowered.type.to_string());
    expect_matches_reference(lowered, 1e-5, 1e-5);
    expect_schedules(lowered);
  }
}

// ---------------------------------------------------------------------------------------------
// softmax

TEST(LowerSoftmaxTest, SoftmaxAndLogSoftmaxAlongEachAxis) {
  Ints shape = {2, 9, 17};
  for (int64_t axis : {-1, 1, 0}) {
    for (bool log : {false, true}) {
      Lowered lowered =
          lower(log ? "log_softmax" : "softmax", {f32(shape)}, ir::Attrs{{"axis", axis}});
      SCOPED_TRACE(lowered.op_name + " axis " + std::to_string(axis));
      // Large values: the max subtraction must keep exp finite.
      std::vector<Tensor> args = random_args(lowered, 6, -100, 100);
      auto a = static_cast<size_t>(axis < 0 ? axis + 3 : axis);
      Tensor expected(DType::kFloat32, shape);
      Ints index(3);
      for (index[0] = 0; index[0] < shape[0]; ++index[0]) {
        for (index[1] = 0; index[1] < shape[1]; ++index[1]) {
          for (index[2] = 0; index[2] < shape[2]; ++index[2]) {
            Ints j = index;
            double peak = -INFINITY, sum = 0;
            for (j[a] = 0; j[a] < shape[a]; ++j[a]) peak = std::max(peak, at(args[0], j));
            for (j[a] = 0; j[a] < shape[a]; ++j[a]) sum += std::exp(at(args[0], j) - peak);
            double x = at(args[0], index) - peak;
            int64_t flat = (index[0] * shape[1] + index[1]) * shape[2] + index[2];
            expected.set_element_from_double(flat, log ? x - std::log(sum) : std::exp(x) / sum);
          }
        }
      }
      expect_close(run_compute(lowered, args)[0], expected, 1e-5, 1e-6);
      expect_schedules(lowered);
    }
  }
}

TEST(LowerSoftmaxTest, HardmaxMarksTheFirstMaximum) {
  Lowered lowered = lower("hardmax", {f32({3, 8})});
  Tensor data = Tensor::from_float32s({1,  3,  3,  0,  0,  0,  0,  0,  //
                                       5,  1,  2,  5,  0,  0,  0,  0,  //
                                       -1, -2, -3, -4, -5, -6, -7, -0.5f},
                                      {3, 8});
  Tensor out = run_compute(lowered, {data})[0];
  std::vector<double> expected(24, 0.0);
  expected[1] = expected[8] = expected[23] = 1.0;
  for (int64_t i = 0; i < 24; ++i)
    EXPECT_EQ(out.element_as_double(i), expected[static_cast<size_t>(i)]) << i;
  expect_schedules(lowered);
}

// ---------------------------------------------------------------------------------------------
// normalisations

TEST(LowerNormTest, BatchNormInference) {
  Ints shape = {2, 9, 5, 17};
  Lowered lowered = lower("batch_norm", {f32(shape), f32({9}), f32({9}), f32({9}), f32({9})},
                          ir::Attrs{{"epsilon", 1e-3}});
  std::vector<Tensor> args = random_args(lowered, 7);
  for (int64_t c = 0; c < 9; ++c) {  // positive variances
    args[4].set_element_from_double(c, std::fabs(args[4].element_as_double(c)) + 0.1);
  }
  Tensor expected(DType::kFloat32, shape);
  for (int64_t i = 0; i < expected.numel(); ++i) {
    int64_t c = (i / (5 * 17)) % 9;
    double x = args[0].element_as_double(i);
    double normalised =
        (x - args[3].element_as_double(c)) / std::sqrt(args[4].element_as_double(c) + 1e-3);
    expected.set_element_from_double(
        i, normalised * args[1].element_as_double(c) + args[2].element_as_double(c));
  }
  expect_close(run_compute(lowered, args)[0], expected, 1e-5, 1e-5);
  expect_schedules(lowered);
}

// Mean / variance normalisation of `data` over groups of `group` consecutive elements (row-major),
// then a per-element affine given as scale(i), shift(i).
template <typename Scale, typename Shift>
Tensor normalize_reference(const Tensor& data, int64_t group, double epsilon, Scale scale,
                           Shift shift) {
  Tensor out(DType::kFloat32, data.shape());
  for (int64_t g = 0; g < data.numel() / group; ++g) {
    double mean = 0, var = 0;
    for (int64_t i = 0; i < group; ++i) mean += data.element_as_double(g * group + i);
    mean /= static_cast<double>(group);
    for (int64_t i = 0; i < group; ++i) {
      double d = data.element_as_double(g * group + i) - mean;
      var += d * d;
    }
    var /= static_cast<double>(group);
    for (int64_t i = 0; i < group; ++i) {
      int64_t flat = g * group + i;
      double normalised = (data.element_as_double(flat) - mean) / std::sqrt(var + epsilon);
      out.set_element_from_double(flat, normalised * scale(flat) + shift(flat));
    }
  }
  return out;
}

TEST(LowerNormTest, LayerNormOverTrailingAxes) {
  Ints shape = {2, 3, 17};
  for (int64_t axis : {-1, 1}) {
    for (bool with_beta : {true, false}) {
      Ints trailing(shape.begin() + (axis < 0 ? axis + 3 : axis), shape.end());
      std::vector<ir::TensorType> types = {f32(shape), f32(trailing)};
      if (with_beta) types.push_back(f32(trailing));
      Lowered lowered = lower("layer_norm", types, ir::Attrs{{"axis", axis}});
      SCOPED_TRACE("axis " + std::to_string(axis));
      std::vector<Tensor> args = random_args(lowered, 8);
      int64_t group = 1;
      for (int64_t d : trailing) group *= d;
      Tensor expected = normalize_reference(
          args[0], group, 1e-5, [&](int64_t i) { return args[1].element_as_double(i % group); },
          [&](int64_t i) { return with_beta ? args[2].element_as_double(i % group) : 0.0; });
      expect_close(run_compute(lowered, args)[0], expected, 1e-4, 1e-5);
      expect_schedules(lowered);
    }
  }
}

TEST(LowerNormTest, InstanceAndGroupNorm) {
  Ints shape = {2, 6, 3, 9};
  int64_t plane = 27;
  Lowered instance = lower("instance_norm", {f32(shape), f32({6}), f32({6})});
  std::vector<Tensor> args = random_args(instance, 9);
  Tensor expected = normalize_reference(
      args[0], plane, 1e-5, [&](int64_t i) { return args[1].element_as_double((i / plane) % 6); },
      [&](int64_t i) { return args[2].element_as_double((i / plane) % 6); });
  expect_close(run_compute(instance, args)[0], expected, 1e-4, 1e-5);
  expect_schedules(instance);

  Lowered group =
      lower("group_norm", {f32(shape), f32({6}), f32({6})}, ir::Attrs{{"num_groups", int64_t{3}}});
  expected = normalize_reference(
      args[0], 2 * plane, 1e-5,
      [&](int64_t i) { return args[1].element_as_double((i / plane) % 6); },
      [&](int64_t i) { return args[2].element_as_double((i / plane) % 6); });
  expect_close(run_compute(group, args)[0], expected, 1e-4, 1e-5);
  expect_schedules(group);
}

TEST(LowerNormTest, LocalResponseNormalisation) {
  Ints shape = {1, 7, 3, 5};
  for (int64_t size : {3, 4}) {
    Lowered lowered =
        lower("lrn", {f32(shape)},
              ir::Attrs{{"size", size}, {"alpha", 0.01}, {"beta", 0.75}, {"bias", 2.0}});
    std::vector<Tensor> args = random_args(lowered, 10);
    Tensor expected(DType::kFloat32, shape);
    for (int64_t i = 0; i < expected.numel(); ++i) {
      int64_t c = (i / 15) % 7;
      double sum = 0;
      for (int64_t k = c - (size - 1) / 2; k <= c + size / 2; ++k) {
        if (k < 0 || k >= 7) continue;
        double x = args[0].element_as_double(i + (k - c) * 15);
        sum += x * x;
      }
      expected.set_element_from_double(
          i, args[0].element_as_double(i) /
                 std::pow(2.0 + 0.01 / static_cast<double>(size) * sum, 0.75));
    }
    expect_close(run_compute(lowered, args)[0], expected, 1e-5, 1e-6);
    expect_schedules(lowered);
  }
}

TEST(LowerNormTest, LpNormalize) {
  for (int64_t p : {1, 2}) {
    Lowered lowered = lower("lp_normalize", {f32({3, 9})}, ir::Attrs{{"p", p}});
    std::vector<Tensor> args = random_args(lowered, 12);
    Tensor expected(DType::kFloat32, {3, 9});
    for (int64_t r = 0; r < 3; ++r) {
      double norm = 0;
      for (int64_t j = 0; j < 9; ++j) {
        double x = args[0].element_as_double(r * 9 + j);
        norm += p == 1 ? std::fabs(x) : x * x;
      }
      if (p == 2) norm = std::sqrt(norm);
      for (int64_t j = 0; j < 9; ++j) {
        expected.set_element_from_double(r * 9 + j, args[0].element_as_double(r * 9 + j) / norm);
      }
    }
    expect_close(run_compute(lowered, args)[0], expected, 1e-5, 1e-6);
    expect_schedules(lowered);
  }
}

// A zero vector normalises to zeros (ONNX's reference), not to 0 / 0 = NaN.
TEST(LowerNormTest, LpNormalizeOfAZeroVectorIsZero) {
  for (int64_t p : {1, 2}) {
    Lowered lowered = lower("lp_normalize", {f32({3, 9})}, ir::Attrs{{"p", p}});
    std::vector<Tensor> args = random_args(lowered, 5);
    for (int64_t j = 0; j < 9; ++j) args[0].set_element_from_double(9 + j, 0.0);  // row 1
    Tensor out = run_compute(lowered, args)[0];
    for (int64_t j = 0; j < 9; ++j) EXPECT_EQ(out.element_as_double(9 + j), 0.0);
    EXPECT_FALSE(std::isnan(out.element_as_double(0)));
  }
}

}  // namespace
}  // namespace kiln::op::lower_test
