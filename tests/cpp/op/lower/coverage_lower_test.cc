// Computes added for operator coverage: bitwise ops, cumsum, topk, gather_nd, scatter_elements,
// einsum (vs the operators' reference evaluators), resize2d, conv2d_transpose, lstm and gru (vs
// hand-written C++ references). Each runs through the te interpreter, with sizes around the
// schedules' split factors, and each default schedule must apply, lower and (where the test
// executor supports the kernel) match.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "kiln/error.h"
#include "lower_test_util.h"
#include "op/eval_util.h"

namespace kiln::op::lower_test {
namespace {

int64_t flat_index(const Ints& shape, const Ints& index) {
  int64_t flat = 0;
  for (size_t d = 0; d < index.size(); ++d) flat = flat * shape[d] + index[d];
  return flat;
}
double at(const Tensor& t, const Ints& index) {
  return t.element_as_double(flat_index(t.shape(), index));
}
void set(Tensor& t, const Ints& index, double value) {
  t.set_element_from_double(flat_index(t.shape(), index), value);
}

// ---------------------------------------------------------------------------------------------
// bitwise

TEST(LowerCoverageTest, BitwiseOpsMatchReference) {
  for (DType dtype : {DType::kInt32, DType::kUInt8, DType::kInt64, DType::kUInt16}) {
    for (const char* name : {"bitwise_and", "bitwise_or", "bitwise_xor"}) {
      SCOPED_TRACE(std::string(name) + " " + std::string(dtype_name(dtype)));
      Lowered lowered = lower(name, {typed(dtype, {3, 17}), typed(dtype, {17})});
      expect_matches_reference(lowered, 0, 0, -1000, 1000);
      expect_schedules(lowered);
    }
  }
  for (DType dtype : {DType::kUInt8, DType::kUInt32, DType::kUInt64}) {
    for (const char* direction : {"left", "right"}) {
      SCOPED_TRACE(std::string(direction) + " " + std::string(dtype_name(dtype)));
      Lowered lowered = lower("bit_shift", {typed(dtype, {4, 18}), typed(dtype, {18})},
                              ir::Attrs{{"direction", std::string(direction)}});
      // Amounts past the bit width too: every bit is shifted out.
      std::vector<Tensor> args = {random_tensor(dtype, {4, 18}, 3, 0, 250),
                                  random_tensor(dtype, {18}, 4, 0, 70)};
      expect_close(run_compute(lowered, args)[0], run_reference(lowered, args), 0, 0);
      expect_schedules(lowered);
    }
  }
}

// ---------------------------------------------------------------------------------------------
// cumsum, topk

TEST(LowerCoverageTest, CumsumAllModes) {
  for (int64_t axis : {0, 1, -1}) {
    for (int64_t exclusive : {0, 1}) {
      for (int64_t reverse : {0, 1}) {
        for (DType dtype : {DType::kFloat32, DType::kInt32}) {
          SCOPED_TRACE("axis " + std::to_string(axis) + " exclusive " + std::to_string(exclusive) +
                       " reverse " + std::to_string(reverse));
          Lowered lowered =
              lower("cumsum", {typed(dtype, {3, 17, 9})},
                    ir::Attrs{{"axis", axis}, {"exclusive", exclusive}, {"reverse", reverse}});
          expect_matches_reference(lowered, 1e-5, 1e-5, -20, 20);
          if (axis == 1) expect_schedules(lowered);
        }
      }
    }
  }
}

TEST(LowerCoverageTest, TopkSortsAndBreaksTiesByIndex) {
  struct Case {
    Ints shape;
    int64_t k, axis, largest;
  };
  for (const Case& c : {Case{{4, 17}, 5, -1, 1}, Case{{4, 17}, 17, 1, 0}, Case{{9, 3, 5}, 4, 0, 1},
                        Case{{2, 16, 3}, 1, 1, 0}, Case{{33}, 8, 0, 1}}) {
    SCOPED_TRACE("k " + std::to_string(c.k) + " axis " + std::to_string(c.axis));
    Lowered lowered = lower("topk", {f32(c.shape)},
                            ir::Attrs{{"k", c.k}, {"axis", c.axis}, {"largest", c.largest}});
    // Few distinct values: many ties.
    Tensor data = random_tensor(DType::kFloat32, c.shape, 5, 0, 4);
    for (int64_t i = 0; i < data.numel(); ++i) {
      data.set_element_from_double(i, std::round(data.element_as_double(i)));
    }
    std::vector<Tensor> actual = run_compute(lowered, {data});
    int64_t axis = c.axis < 0 ? c.axis + static_cast<int64_t>(c.shape.size()) : c.axis;
    std::vector<Tensor> expected = topk_reference(data, c.k, axis, c.largest != 0);
    ASSERT_EQ(actual.size(), 2u);
    expect_close(actual[0], expected[0], 0, 0);
    expect_close(actual[1], expected[1], 0, 0);
    expect_schedules(lowered);
  }
}

// ---------------------------------------------------------------------------------------------
// gather_nd, scatter_elements

TEST(LowerCoverageTest, GatherNdMatchesReference) {
  struct Case {
    Ints data, indices;
    int64_t batch_dims;
  };
  for (const Case& c :
       {Case{{5, 7, 9}, {4, 2}, 0}, Case{{5, 7, 9}, {3, 2, 3}, 0}, Case{{5, 7, 9}, {6, 1}, 0},
        Case{{3, 7, 9}, {3, 4, 1}, 1}, Case{{3, 7, 9}, {3, 2}, 1}}) {
    SCOPED_TRACE(f32(c.data).to_string() + " " + f32(c.indices).to_string());
    Lowered lowered = lower("gather_nd", {f32(c.data), typed(DType::kInt64, c.indices)},
                            ir::Attrs{{"batch_dims", c.batch_dims}});
    Tensor indices(DType::kInt64, c.indices);
    int64_t tuple = c.indices.back();
    for (int64_t i = 0; i < indices.numel(); ++i) {
      int64_t dim = c.data[static_cast<size_t>(c.batch_dims + i % tuple)];
      // Negative indices count from the end.
      indices.set_element_from_int64(i, (i * 7 + 3) % (2 * dim) - dim);
    }
    std::vector<Tensor> args = {random_tensor(DType::kFloat32, c.data, 2), indices};
    expect_close(run_compute(lowered, args)[0], run_reference(lowered, args), 0, 0);
    expect_schedules(lowered);
  }
}

TEST(LowerCoverageTest, ScatterElementsAllReductions) {
  struct Case {
    Ints data, indices;
    int64_t axis;
  };
  for (const char* reduction : {"none", "add", "mul", "max", "min"}) {
    for (const Case& c :
         {Case{{6, 9}, {4, 9}, 0}, Case{{6, 9}, {6, 3}, 1}, Case{{4, 5, 17}, {3, 5, 8}, -1}}) {
      for (DType dtype : {DType::kFloat32, DType::kInt32}) {
        SCOPED_TRACE(std::string(reduction) + " axis " + std::to_string(c.axis) + " " +
                     std::string(dtype_name(dtype)));
        Lowered lowered =
            lower("scatter_elements",
                  {typed(dtype, c.data), typed(DType::kInt32, c.indices), typed(dtype, c.indices)},
                  ir::Attrs{{"axis", c.axis}, {"reduction", std::string(reduction)}});
        int64_t axis = c.axis < 0 ? c.axis + static_cast<int64_t>(c.data.size()) : c.axis;
        int64_t extent = c.data[static_cast<size_t>(axis)];
        // Duplicate targets included; some negative.
        Tensor indices = random_tensor(DType::kInt32, c.indices, 9, -extent, extent - 1);
        std::vector<Tensor> args = {random_tensor(dtype, c.data, 1, -5, 5), indices,
                                    random_tensor(dtype, c.indices, 2, -5, 5)};
        expect_close(run_compute(lowered, args)[0], run_reference(lowered, args), 1e-6, 1e-6);
        if (dtype == DType::kFloat32) expect_schedules(lowered);
      }
    }
  }
}

// ---------------------------------------------------------------------------------------------
// einsum

TEST(LowerCoverageTest, EinsumCommonForms) {
  struct Case {
    std::string equation;
    std::vector<Ints> shapes;
    Ints expected_shape;
  };
  std::vector<Case> cases = {
      {"ij,jk->ik", {{5, 7}, {7, 17}}, {5, 17}},
      {"bij,bjk->bik", {{2, 5, 7}, {2, 7, 9}}, {2, 5, 9}},
      {"ij->ji", {{5, 17}}, {17, 5}},
      {"ij", {{5, 17}}, {5, 17}},
      {"ji", {{5, 17}}, {17, 5}},
      {"ij->", {{5, 17}}, {}},
      {"ij->j", {{5, 17}}, {17}},
      {"i,j->ij", {{5}, {17}}, {5, 17}},
      {"ii->", {{9, 9}}, {}},
      {"ii->i", {{9, 9}}, {9}},
      {"bhqd,bhkd->bhqk", {{1, 2, 5, 8}, {1, 2, 3, 8}}, {1, 2, 5, 3}},
      {"...ij,...jk->...ik", {{3, 5, 7}, {7, 9}}, {3, 5, 9}},
      {"...ij,...jk", {{2, 1, 4, 3}, {5, 3, 2}}, {2, 5, 4, 2}},
      {"i,i", {{17}, {17}}, {}},
      {"ij,jk,kl->il", {{2, 3}, {3, 4}, {4, 5}}, {2, 5}},
      {"b i d, b j d -> b i j", {{2, 3, 4}, {2, 5, 4}}, {2, 3, 5}},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.equation);
    std::vector<ir::TensorType> args;
    for (const Ints& shape : c.shapes) args.push_back(f32(shape));
    Lowered lowered = lower("einsum", args, ir::Attrs{{"equation", c.equation}});
    EXPECT_EQ(lowered.type.as_tensor().static_shape(), c.expected_shape);
    expect_matches_reference(lowered, 2e-5, 1e-5);
    expect_schedules(lowered);
  }
}

TEST(LowerCoverageTest, EinsumAgreesWithMatmulAndTranspose) {
  Lowered einsum = lower("einsum", {f32({3, 5, 7}), f32({3, 7, 9})},
                         ir::Attrs{{"equation", std::string("bij,bjk->bik")}});
  Lowered matmul = lower("matmul", {f32({3, 5, 7}), f32({3, 7, 9})});
  std::vector<Tensor> args = random_args(einsum, 4);
  expect_close(run_reference(einsum, args), run_reference(matmul, args), 1e-6, 1e-6);
  Lowered permute =
      lower("einsum", {f32({2, 3, 4})}, ir::Attrs{{"equation", std::string("abc->cab")}});
  Lowered transpose = lower("transpose", {f32({2, 3, 4})}, ir::Attrs{{"axes", Ints{2, 0, 1}}});
  std::vector<Tensor> one = random_args(permute, 5);
  expect_close(run_compute(permute, one)[0], run_reference(transpose, one), 0, 0);
}

TEST(LowerCoverageTest, EinsumRejectsBadEquations) {
  EXPECT_THROW(lower("einsum", {f32({2, 3})}, ir::Attrs{{"equation", std::string("ijk->i")}}),
               Error);
  EXPECT_THROW(lower("einsum", {f32({2, 3}), f32({4, 5})},
                     ir::Attrs{{"equation", std::string("ij,jk->ik")}}),
               Error);
  EXPECT_THROW(lower("einsum", {f32({2, 3})}, ir::Attrs{{"equation", std::string("ij->iz")}}),
               Error);
  EXPECT_THROW(lower("einsum", {f32({2, 3})}, ir::Attrs{{"equation", std::string("i2->i")}}),
               Error);
}

// ---------------------------------------------------------------------------------------------
// resize2d: a direct transcription of the ONNX reference (onnx/reference/ops/op_resize.py).

struct ResizeCase {
  Ints in, size;
  std::string method, mode, nearest_mode = "round_prefer_floor";
  std::vector<double> scales = {};
  double cubic_a = -0.75;
  int64_t exclude_outside = 0;
};

double original_coordinate(double x, double scale, int64_t in, int64_t out,
                           const std::string& mode) {
  if (mode == "align_corners") return out == 1 ? 0 : x * static_cast<double>(in - 1) / (out - 1);
  if (mode == "asymmetric") return x / scale;
  if (mode == "tf_half_pixel_for_nearest") return (x + 0.5) / scale;
  if (mode == "pytorch_half_pixel") return out > 1 ? (x + 0.5) / scale - 0.5 : 0;
  if (mode == "half_pixel_symmetric") {
    double adjustment = static_cast<double>(out) / (scale * static_cast<double>(in));
    double offset = static_cast<double>(in) / 2 * (1 - adjustment);
    return offset + (x + 0.5) / scale - 0.5;
  }
  return (x + 0.5) / scale - 0.5;
}

// (index, weight) pairs along one axis.
std::vector<std::pair<int64_t, double>> taps(double coordinate, int64_t in, const ResizeCase& c) {
  auto clamp = [in](int64_t i) { return std::min(std::max<int64_t>(i, 0), in - 1); };
  if (c.method == "nearest") {
    double r;
    if (c.nearest_mode == "floor") {
      r = std::floor(coordinate);
    } else if (c.nearest_mode == "ceil") {
      r = std::ceil(coordinate);
    } else if (c.nearest_mode == "round_prefer_ceil") {
      r = std::round(coordinate);  // halves away from zero: up for the positive ones
      if (coordinate < 0 && coordinate == std::floor(coordinate) + 0.5) r = std::ceil(coordinate);
    } else {
      r = coordinate == std::floor(coordinate) + 0.5 ? std::floor(coordinate)
                                                     : std::round(coordinate);
    }
    return {{clamp(static_cast<int64_t>(r)), 1.0}};
  }
  if (c.method == "linear") {
    double x = std::min(std::max(coordinate, 0.0), static_cast<double>(in - 1));
    auto low = static_cast<int64_t>(std::floor(x));
    double t = x - static_cast<double>(low);
    return {{low, 1 - t}, {clamp(low + 1), t}};
  }
  auto low = static_cast<int64_t>(std::floor(coordinate));
  double t = coordinate - static_cast<double>(low), a = c.cubic_a;
  auto kernel = [a](double d) {
    d = std::fabs(d);
    if (d <= 1) return ((a + 2) * d - (a + 3)) * d * d + 1;
    if (d < 2) return ((a * d - 5 * a) * d + 8 * a) * d - 4 * a;
    return 0.0;
  };
  std::vector<std::pair<int64_t, double>> result;
  double total = 0;
  for (int64_t k = -1; k <= 2; ++k) {
    double w = kernel(t - static_cast<double>(k));
    if (c.exclude_outside && (low + k < 0 || low + k >= in)) w = 0;
    total += w;
    result.push_back({clamp(low + k), w});
  }
  if (c.exclude_outside) {
    for (auto& tap : result) tap.second /= total;
  }
  return result;
}

Tensor resize_reference(const Tensor& data, const ResizeCase& c) {
  Ints out_shape = {c.in[0], c.in[1], c.size[0], c.size[1]};
  Tensor out(DType::kFloat32, out_shape);
  double scale[2];
  for (size_t a = 0; a < 2; ++a) {
    scale[a] = c.scales.empty() ? static_cast<double>(c.size[a]) / static_cast<double>(c.in[2 + a])
                                : c.scales[a];
  }
  for (int64_t n = 0; n < out_shape[0]; ++n) {
    for (int64_t ch = 0; ch < out_shape[1]; ++ch) {
      for (int64_t y = 0; y < out_shape[2]; ++y) {
        for (int64_t x = 0; x < out_shape[3]; ++x) {
          auto rows = taps(
              original_coordinate(static_cast<double>(y), scale[0], c.in[2], c.size[0], c.mode),
              c.in[2], c);
          auto cols = taps(
              original_coordinate(static_cast<double>(x), scale[1], c.in[3], c.size[1], c.mode),
              c.in[3], c);
          double value = 0;
          for (auto [row, wy] : rows) {
            for (auto [col, wx] : cols) value += wy * wx * at(data, {n, ch, row, col});
          }
          set(out, {n, ch, y, x}, value);
        }
      }
    }
  }
  return out;
}

TEST(LowerCoverageTest, Resize2dAllModes) {
  std::vector<ResizeCase> cases;
  for (const char* mode : {"half_pixel", "pytorch_half_pixel", "align_corners", "asymmetric",
                           "tf_half_pixel_for_nearest", "half_pixel_symmetric"}) {
    for (const char* nearest : {"round_prefer_floor", "round_prefer_ceil", "floor", "ceil"}) {
      cases.push_back({{1, 2, 4, 5}, {8, 10}, "nearest", mode, nearest});
      cases.push_back({{1, 2, 8, 9}, {4, 3}, "nearest", mode, nearest});
    }
    cases.push_back({{2, 3, 4, 5}, {7, 17}, "linear", mode});
    cases.push_back({{1, 2, 9, 8}, {4, 3}, "linear", mode});
    cases.push_back({{1, 2, 4, 5}, {9, 1}, "linear", mode});
    cases.push_back({{1, 2, 4, 5}, {7, 11}, "cubic", mode});
    cases.push_back({{1, 1, 6, 6}, {3, 4}, "cubic", mode, "round_prefer_floor", {}, -0.5, 1});
  }
  // Scales whose product with the input is not whole: the scale, not output / input, maps.
  cases.push_back({{1, 2, 5, 5}, {8, 8}, "linear", "half_pixel", "", {1.7, 1.7}});
  cases.push_back({{1, 2, 5, 5}, {8, 8}, "nearest", "asymmetric", "floor", {1.7, 1.7}});
  cases.push_back({{1, 2, 5, 5}, {3, 8}, "cubic", "half_pixel", "", {0.7, 1.7}});
  for (const ResizeCase& c : cases) {
    SCOPED_TRACE(c.method + " " + c.mode + " " + c.nearest_mode + " " +
                 f32({c.size[0], c.size[1]}).to_string());
    ir::Attrs attrs{{"size", c.size},
                    {"method", c.method},
                    {"coordinate_transformation_mode", c.mode},
                    {"cubic_coeff_a", c.cubic_a},
                    {"exclude_outside", c.exclude_outside},
                    {"scales", c.scales}};
    if (!c.nearest_mode.empty()) attrs.set("nearest_mode", c.nearest_mode);
    Lowered lowered = lower("resize2d", {f32(c.in)}, attrs);
    std::vector<Tensor> args = random_args(lowered, 3);
    expect_close(run_compute(lowered, args)[0], resize_reference(args[0], c), 1e-5, 1e-5);
    if (c.mode == "half_pixel") expect_schedules(lowered);
  }
}

TEST(LowerCoverageTest, Resize2dIntegerData) {
  Lowered nearest = lower("resize2d", {typed(DType::kInt32, {1, 1, 3, 3})},
                          ir::Attrs{{"size", Ints{6, 6}}, {"method", std::string("nearest")}});
  Tensor data = random_tensor(DType::kInt32, {1, 1, 3, 3}, 1, -100, 100);
  Tensor out = run_compute(nearest, {data})[0];
  EXPECT_EQ(out.element_as_int64(0), data.element_as_int64(0));
  EXPECT_EQ(out.element_as_int64(35), data.element_as_int64(8));
  expect_schedules(nearest);
}

// ---------------------------------------------------------------------------------------------
// conv2d_transpose: scatter each input element through the kernel (the definition).

struct TransposeCase {
  Ints data, weight;
  Ints strides = {1, 1}, padding = {0, 0, 0, 0}, dilation = {1, 1};
  int64_t groups = 1;
  Ints output_padding = {0, 0};
};

Tensor conv_transpose_reference(const Tensor& data, const Tensor& weight, const TransposeCase& c,
                                const Ints& out_shape) {
  Tensor out(DType::kFloat32, out_shape);
  for (int64_t i = 0; i < out.numel(); ++i) out.set_element_from_double(i, 0);
  int64_t in_per_group = c.data[1] / c.groups, out_per_group = c.weight[1];
  for (int64_t n = 0; n < c.data[0]; ++n) {
    for (int64_t ci = 0; ci < c.data[1]; ++ci) {
      int64_t g = ci / in_per_group;
      for (int64_t iy = 0; iy < c.data[2]; ++iy) {
        for (int64_t ix = 0; ix < c.data[3]; ++ix) {
          double x = at(data, {n, ci, iy, ix});
          for (int64_t o = 0; o < out_per_group; ++o) {
            for (int64_t ky = 0; ky < c.weight[2]; ++ky) {
              for (int64_t kx = 0; kx < c.weight[3]; ++kx) {
                int64_t y = iy * c.strides[0] - c.padding[0] + ky * c.dilation[0];
                int64_t xx = ix * c.strides[1] - c.padding[1] + kx * c.dilation[1];
                if (y < 0 || y >= out_shape[2] || xx < 0 || xx >= out_shape[3]) continue;
                Ints target = {n, g * out_per_group + o, y, xx};
                set(out, target, at(out, target) + x * at(weight, {ci, o, ky, kx}));
              }
            }
          }
        }
      }
    }
  }
  return out;
}

TEST(LowerCoverageTest, Conv2dTransposeMatchesScatterDefinition) {
  std::vector<TransposeCase> cases = {
      {{1, 3, 5, 5}, {3, 4, 3, 3}},
      {{2, 4, 5, 6}, {4, 3, 3, 3}, {2, 2}},
      {{1, 4, 5, 6}, {4, 3, 3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, 1, {1, 1}},
      {{1, 4, 4, 5}, {4, 2, 3, 2}, {3, 2}, {1, 0, 2, 1}, {1, 2}, 2, {2, 1}},
      {{1, 6, 4, 4}, {6, 1, 3, 3}, {2, 2}, {1, 1, 1, 1}, {1, 1}, 6},
      {{1, 2, 3, 3}, {2, 5, 4, 4}, {2, 2}, {1, 1, 1, 1}},
      {{1, 3, 4, 4}, {3, 17, 1, 1}},
      {{1, 2, 3, 4}, {2, 3, 2, 2}, {1, 1}, {0, 0, 0, 0}, {2, 2}},
  };
  for (const TransposeCase& c : cases) {
    SCOPED_TRACE(f32(c.data).to_string() + " " + f32(c.weight).to_string());
    Lowered lowered = lower("conv2d_transpose", {f32(c.data), f32(c.weight)},
                            ir::Attrs{{"strides", c.strides},
                                      {"padding", c.padding},
                                      {"dilation", c.dilation},
                                      {"groups", c.groups},
                                      {"output_padding", c.output_padding}});
    std::vector<Tensor> args = random_args(lowered, 6);
    Tensor expected =
        conv_transpose_reference(args[0], args[1], c, lowered.type.as_tensor().static_shape());
    expect_close(run_compute(lowered, args)[0], expected, 2e-5, 2e-5);
    expect_schedules(lowered);
  }
}

// ---------------------------------------------------------------------------------------------
// lstm / gru: the ONNX equations step by step.

double sigmoid(double x) { return 1 / (1 + std::exp(-x)); }

struct RnnCase {
  int64_t seq, batch, input, hidden;
  std::string direction;
  double clip = 0;
  int64_t flag = 0;  // input_forget (lstm) / linear_before_reset (gru)
};

// Returns Y, Y_h (and Y_c for lstm) from X, W, R, B, initial_h (, initial_c).
std::vector<Tensor> rnn_reference(bool is_lstm, const RnnCase& c, const std::vector<Tensor>& args) {
  int64_t dirs = c.direction == "bidirectional" ? 2 : 1, hidden = c.hidden;
  int64_t gates = is_lstm ? 4 : 3;
  Tensor y(DType::kFloat32, {c.seq, dirs, c.batch, hidden});
  Tensor y_h(DType::kFloat32, {dirs, c.batch, hidden});
  Tensor y_c(DType::kFloat32, {dirs, c.batch, hidden});
  auto clip = [&](double v) { return c.clip > 0 ? std::min(std::max(v, -c.clip), c.clip) : v; };
  for (int64_t d = 0; d < dirs; ++d) {
    bool reverse = c.direction == "reverse" || d == 1;
    for (int64_t b = 0; b < c.batch; ++b) {
      std::vector<double> h(static_cast<size_t>(hidden)), cell(static_cast<size_t>(hidden));
      for (int64_t j = 0; j < hidden; ++j) {
        h[static_cast<size_t>(j)] = at(args[4], {d, b, j});
        if (is_lstm) cell[static_cast<size_t>(j)] = at(args[5], {d, b, j});
      }
      for (int64_t step = 0; step < c.seq; ++step) {
        int64_t t = reverse ? c.seq - 1 - step : step;
        // x W^T + Wb and h R^T + Rb per gate row.
        std::vector<double> xw(static_cast<size_t>(gates * hidden)), hr(xw.size());
        for (int64_t r = 0; r < gates * hidden; ++r) {
          double sx = at(args[3], {d, r}), sh = at(args[3], {d, gates * hidden + r});
          for (int64_t k = 0; k < c.input; ++k)
            sx += at(args[0], {t, b, k}) * at(args[1], {d, r, k});
          for (int64_t k = 0; k < hidden; ++k)
            sh += h[static_cast<size_t>(k)] * at(args[2], {d, r, k});
          xw[static_cast<size_t>(r)] = sx;
          hr[static_cast<size_t>(r)] = sh;
        }
        std::vector<double> next(static_cast<size_t>(hidden));
        for (int64_t j = 0; j < hidden; ++j) {
          auto g = [&](int64_t gate) {
            auto r = static_cast<size_t>(gate * hidden + j);
            return clip(xw[r] + hr[r]);
          };
          auto ju = static_cast<size_t>(j);
          if (is_lstm) {
            double i = sigmoid(g(0)), o = sigmoid(g(1));
            double f = c.flag ? 1 - i : sigmoid(g(2));
            cell[ju] = f * cell[ju] + i * std::tanh(g(3));
            next[ju] = o * std::tanh(cell[ju]);
          } else {
            double z = sigmoid(g(0)), r = sigmoid(g(1));
            double candidate;
            if (c.flag) {
              auto row = static_cast<size_t>(2 * hidden + j);
              candidate = std::tanh(clip(xw[row] + r * hr[row]));
            } else {
              double sum = at(args[3], {d, gates * hidden + 2 * hidden + j});
              for (int64_t k = 0; k < hidden; ++k) {
                // r is per unit k of the previous state.
                double rk = sigmoid(clip(xw[static_cast<size_t>(hidden + k)] +
                                         hr[static_cast<size_t>(hidden + k)]));
                sum += rk * h[static_cast<size_t>(k)] * at(args[2], {d, 2 * hidden + j, k});
              }
              (void)r;
              candidate = std::tanh(clip(xw[static_cast<size_t>(2 * hidden + j)] + sum));
            }
            next[ju] = (1 - z) * candidate + z * h[ju];
          }
        }
        h = next;
        for (int64_t j = 0; j < hidden; ++j) set(y, {t, d, b, j}, h[static_cast<size_t>(j)]);
      }
      for (int64_t j = 0; j < hidden; ++j) {
        set(y_h, {d, b, j}, h[static_cast<size_t>(j)]);
        set(y_c, {d, b, j}, cell[static_cast<size_t>(j)]);
      }
    }
  }
  if (is_lstm) return {y, y_h, y_c};
  return {y, y_h};
}

void check_rnn(bool is_lstm, const RnnCase& c) {
  int64_t dirs = c.direction == "bidirectional" ? 2 : 1, gates = is_lstm ? 4 : 3;
  std::vector<ir::TensorType> types = {
      f32({c.seq, c.batch, c.input}), f32({dirs, gates * c.hidden, c.input}),
      f32({dirs, gates * c.hidden, c.hidden}), f32({dirs, 2 * gates * c.hidden}),
      f32({dirs, c.batch, c.hidden})};
  if (is_lstm) types.push_back(f32({dirs, c.batch, c.hidden}));
  ir::Attrs attrs{{"hidden_size", c.hidden}, {"direction", c.direction}, {"clip", c.clip}};
  attrs.set(is_lstm ? "input_forget" : "linear_before_reset", c.flag);
  Lowered lowered = lower(is_lstm ? "lstm" : "gru", types, attrs);
  std::vector<Tensor> args = random_args(lowered, 8, -1, 1);
  std::vector<Tensor> actual = run_compute(lowered, args);
  std::vector<Tensor> expected = rnn_reference(is_lstm, c, args);
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t k = 0; k < actual.size(); ++k) {
    SCOPED_TRACE("output " + std::to_string(k));
    expect_close(actual[k], expected[k], 1e-4, 1e-5);
  }
  expect_schedules(lowered);
}

TEST(LowerCoverageTest, LstmDirectionsClipAndInputForget) {
  for (const char* direction : {"forward", "reverse", "bidirectional"}) {
    SCOPED_TRACE(direction);
    check_rnn(true, {4, 3, 5, 6, direction});
  }
  check_rnn(true, {3, 2, 4, 17, "forward", 0.5});
  check_rnn(true, {2, 1, 3, 4, "bidirectional", 0, 1});
}

TEST(LowerCoverageTest, GruDirectionsClipAndLinearBeforeReset) {
  for (const char* direction : {"forward", "reverse", "bidirectional"}) {
    for (int64_t linear_before_reset : {0, 1}) {
      SCOPED_TRACE(std::string(direction) + " lbr " + std::to_string(linear_before_reset));
      check_rnn(false, {4, 3, 5, 6, direction, 0, linear_before_reset});
    }
  }
  check_rnn(false, {3, 2, 4, 17, "forward", 0.3, 1});
}

}  // namespace
}  // namespace kiln::op::lower_test
