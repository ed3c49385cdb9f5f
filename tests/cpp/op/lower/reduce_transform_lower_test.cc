// Reductions and transforms: compute (through the interpreter) vs the operators' reference
// evaluators, and each default schedule applies, lowers and matches when executed.
#include <gtest/gtest.h>

#include <cmath>
#include <string>
#include <vector>

#include "lower_test_util.h"
#include "op/eval_util.h"

namespace kiln::op::lower_test {
namespace {

TEST(LowerReduceTest, ReductionsMatchReference) {
  const char* names[] = {"reduce_sum",         "reduce_mean",      "reduce_max", "reduce_min",
                         "reduce_prod",        "reduce_l1",        "reduce_l2",  "reduce_log_sum",
                         "reduce_log_sum_exp", "reduce_sum_square"};
  std::vector<Ints> axes_cases = {{}, {1}, {-1}, {0, 2}, {1, 2}};
  for (const char* name : names) {
    for (const Ints& axes : axes_cases) {
      for (int64_t keepdims : {1, 0}) {
        Lowered lowered =
            lower(name, {f32({3, 9, 17})}, ir::Attrs{{"axes", axes}, {"keepdims", keepdims}});
        SCOPED_TRACE(std::string(name) + " -> " + lowered.type.to_string());
        // Positive values keep log_sum defined; prod stays finite near 1.
        expect_matches_reference(lowered, 2e-5, 1e-5, 0.5, 1.5);
        expect_schedules(lowered);
      }
    }
  }
}

TEST(LowerReduceTest, IntegerReductions) {
  for (const char* name : {"reduce_sum", "reduce_mean", "reduce_max", "reduce_min", "reduce_l1",
                           "reduce_sum_square", "reduce_l2"}) {
    Lowered lowered = lower(name, {typed(DType::kInt32, {4, 9})}, ir::Attrs{{"axes", Ints{1}}});
    SCOPED_TRACE(name);
    expect_matches_reference(lowered, 0, 0, -20, 20);
    expect_schedules(lowered);
  }
}

TEST(LowerReduceTest, ArgmaxArgmin) {
  for (const char* name : {"argmax", "argmin"}) {
    for (int64_t axis : {0, 1, -1}) {
      for (int64_t last : {0, 1}) {
        Lowered lowered = lower(
            name, {f32({4, 9, 17})},
            ir::Attrs{
                {"axis", axis}, {"select_last_index", last}, {"keepdims", axis == 1 ? 0 : 1}});
        SCOPED_TRACE(std::string(name) + " axis " + std::to_string(axis));
        // Few distinct values, so that ties happen.
        std::vector<Tensor> args = {random_tensor(DType::kFloat32, {4, 9, 17}, 3, 0, 3)};
        for (int64_t i = 0; i < args[0].numel(); ++i) {
          args[0].set_element_from_double(i, std::round(args[0].element_as_double(i)));
        }
        expect_close(run_compute(lowered, args)[0], run_reference(lowered, args), 0, 0);
        expect_schedules(lowered);
      }
    }
  }
}

struct TransformCase {
  std::string name;
  std::vector<ir::TensorType> args;
  ir::Attrs attrs;
};

TEST(LowerTransformTest, InjectiveOpsMatchReference) {
  std::vector<TransformCase> cases = {
      {"reshape", {f32({2, 3, 4})}, ir::Attrs{{"newshape", Ints{4, 6}}}},
      {"reshape", {f32({2, 3, 4})}, ir::Attrs{{"newshape", Ints{0, -1}}}},
      {"reshape", {f32({1, 16, 1, 1})}, ir::Attrs{{"newshape", Ints{1, 16}}}},
      {"reshape", {f32({6, 5})}, ir::Attrs{{"newshape", Ints{3, 2, 5}}}},
      {"squeeze", {f32({1, 9, 1, 17})}, ir::Attrs{}},
      {"squeeze", {f32({1, 9, 1, 17})}, ir::Attrs{{"axes", Ints{2}}}},
      {"unsqueeze", {f32({9, 17})}, ir::Attrs{{"axes", Ints{0, -1}}}},
      {"transpose", {f32({2, 3, 17})}, ir::Attrs{}},
      {"transpose", {f32({2, 3, 4, 9})}, ir::Attrs{{"axes", Ints{0, 2, 3, 1}}}},
      {"expand", {f32({3, 1})}, ir::Attrs{{"shape", Ints{2, 3, 17}}}},
      {"tile", {f32({2, 1, 3})}, ir::Attrs{{"repeats", Ints{2, 4, 3}}}},
      {"concat", {f32({2, 3, 4}), f32({2, 5, 4}), f32({2, 1, 4})}, ir::Attrs{{"axis", 1}}},
      {"concat", {f32({2, 9}), f32({2, 8})}, ir::Attrs{{"axis", -1}}},
      {"concat", {f32({2, 0}), f32({2, 8})}, ir::Attrs{{"axis", 1}}},
      {"strided_slice",
       {f32({9, 17})},
       ir::Attrs{{"begin", Ints{1, -3}},
                 {"end", Ints{8, 2}},
                 {"axes", Ints{0, 1}},
                 {"strides", Ints{2, -2}}}},
      {"strided_slice",
       {f32({4, 17})},
       ir::Attrs{{"begin", Ints{2}},
                 {"end", Ints{int64_t{1} << 62}},
                 {"axes", Ints{1}},
                 {"strides", Ints{}}}},
      {"pad", {f32({3, 9})}, ir::Attrs{{"pads", Ints{1, 2, 0, 3}}, {"value", 1.5}}},
      {"pad",
       {f32({3, 9})},
       ir::Attrs{{"pads", Ints{2, 3, 2, 10}}, {"mode", std::string("reflect")}}},
      {"pad", {f32({3, 9})}, ir::Attrs{{"pads", Ints{2, 1, 3, 4}}, {"mode", std::string("edge")}}},
      {"pad", {f32({5, 9})}, ir::Attrs{{"pads", Ints{-1, 2, -2, 0}}}},
      {"depth_to_space", {f32({1, 8, 2, 3})}, ir::Attrs{{"block_size", 2}}},
      {"depth_to_space",
       {f32({1, 8, 2, 3})},
       ir::Attrs{{"block_size", 2}, {"mode", std::string("CRD")}}},
      {"space_to_depth", {f32({1, 2, 4, 6})}, ir::Attrs{{"block_size", 2}}},
      {"full", {}, ir::Attrs{{"shape", Ints{3, 9}}, {"fill_value", 2.5}}},
  };
  for (const TransformCase& c : cases) {
    Lowered lowered = lower(c.name, c.args, c.attrs);
    SCOPED_TRACE(c.name + " -> " + lowered.type.to_string());
    expect_matches_reference(lowered, 0, 0);
    expect_schedules(lowered);
  }
}

TEST(LowerTransformTest, SplitReturnsOneTensorPerPart) {
  Lowered lowered =
      lower("split", {f32({3, 17})}, ir::Attrs{{"axis", 1}, {"sections", Ints{8, 1, 8}}});
  std::vector<Tensor> args = random_args(lowered, 2);
  std::vector<Tensor> parts = run_compute(lowered, args);
  std::vector<Tensor> expected = split_reference(args[0], 1, {8, 1, 8});
  ASSERT_EQ(parts.size(), 3u);
  for (size_t k = 0; k < 3; ++k) expect_close(parts[k], expected[k], 0, 0);
  expect_schedules(lowered);
}

TEST(LowerTransformTest, GatherWithNegativeIndices) {
  for (DType index_dtype : {DType::kInt64, DType::kInt32}) {
    for (int64_t axis : {0, 1}) {
      Ints data_shape = {5, 7, 3};
      Lowered lowered =
          lower("gather", {f32(data_shape), typed(index_dtype, {2, 4})}, ir::Attrs{{"axis", axis}});
      SCOPED_TRACE(lowered.type.to_string());
      int64_t extent = data_shape[static_cast<size_t>(axis)];
      std::vector<Tensor> args = {random_tensor(DType::kFloat32, data_shape, 1),
                                  random_tensor(index_dtype, {2, 4}, 2, -extent, extent - 1)};
      expect_close(run_compute(lowered, args)[0], run_reference(lowered, args), 0, 0);
      expect_schedules(lowered);
    }
  }
  // Scalar indices remove the axis.
  Lowered scalar = lower("gather", {f32({5, 7}), typed(DType::kInt64, {})}, ir::Attrs{{"axis", 1}});
  std::vector<Tensor> args = {random_tensor(DType::kFloat32, {5, 7}, 1),
                              Tensor::from_int64s({-2}, true)};
  expect_close(run_compute(scalar, args)[0], run_reference(scalar, args), 0, 0);
}

TEST(LowerTransformTest, GatherElementsAndOneHot) {
  Lowered gather =
      lower("gather_elements", {f32({4, 9}), typed(DType::kInt64, {4, 3})}, ir::Attrs{{"axis", 1}});
  std::vector<Tensor> args = {random_tensor(DType::kFloat32, {4, 9}, 1),
                              random_tensor(DType::kInt64, {4, 3}, 2, -9, 8)};
  expect_close(run_compute(gather, args)[0], run_reference(gather, args), 0, 0);
  expect_schedules(gather);

  for (int64_t axis : {-1, 0, 1}) {
    Lowered one_hot = lower("one_hot", {typed(DType::kInt64, {3, 4})},
                            ir::Attrs{{"depth", 9}, {"axis", axis}, {"on_value", 2.0}});
    std::vector<Tensor> indices = {random_tensor(DType::kInt64, {3, 4}, 5, -12, 12)};
    expect_close(run_compute(one_hot, indices)[0], run_reference(one_hot, indices), 0, 0);
    expect_schedules(one_hot);
  }
}

}  // namespace
}  // namespace kiln::op::lower_test
