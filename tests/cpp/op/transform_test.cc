#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <string>
#include <vector>

#include "ir/expr.h"
#include "ir/op.h"
#include "kiln/error.h"
#include "kiln/tensor.h"
#include "op/eval_util.h"

#include "op_test_util.h"

namespace kiln::ir {
namespace {

using namespace op_test;

constexpr int64_t kInt64Max = std::numeric_limits<int64_t>::max();
constexpr int64_t kInt64Min = std::numeric_limits<int64_t>::min();

const Dim kBatch = Dim::symbol("batch");

// --- registry ------------------------------------------------------------------------------------

TEST(TransformRegistryTest, EveryOperatorIsRegistered) {
  for (const char* name :
       {"reshape",          "transpose",      "concat",  "split",   "strided_slice",   "squeeze",
        "unsqueeze",        "expand",         "tile",    "gather",  "gather_elements", "gather_nd",
        "scatter_elements", "shape_of",       "size_of", "full",    "range",           "pad",
        "depth_to_space",   "space_to_depth", "one_hot", "non_zero"}) {
    const OpDef& def = op(name);
    EXPECT_EQ(def.family, "transform") << name;
    EXPECT_FALSE(def.summary.empty()) << name;
    bool tuple_valued = std::string(name) == "split";
    EXPECT_EQ(static_cast<bool>(def.evaluate), !tuple_valued) << name;
  }
  EXPECT_EQ(op("reshape").pattern, OpPattern::kInjective);
  EXPECT_EQ(op("range").pattern, OpPattern::kOpaque);
  EXPECT_EQ(op("non_zero").pattern, OpPattern::kOpaque);
  EXPECT_EQ(op("scatter_elements").pattern, OpPattern::kOpaque);
}

// --- reshape -------------------------------------------------------------------------------------

Attrs newshape(Ints shape, int64_t allowzero = 0) {
  return {{"newshape", std::move(shape)}, {"allowzero", allowzero}};
}

TEST(TransformTypeTest, ReshapeCopiesZerosAndInfersMinusOne) {
  Var x = var(DType::kFloat32, {2, 3, 4});
  EXPECT_EQ(type_of("reshape", {x}, newshape({0, -1})), "float32[2, 12]");
  EXPECT_EQ(type_of("reshape", {x}, newshape({-1})), "float32[24]");
  EXPECT_EQ(type_of("reshape", {x}, newshape({4, 0, 2})), "float32[4, 3, 2]");
  EXPECT_EQ(type_of("reshape", {var(DType::kFloat32, {0, 3})}, newshape({3, 0}, 1)),
            "float32[3, 0]");
}

TEST(TransformTypeTest, ReshapeWithSymbolicDims) {
  Var x = var(DType::kFloat32, {kBatch, 3, 4});
  EXPECT_EQ(type_of("reshape", {x}, newshape({0, -1})), "float32[batch, 12]");
  EXPECT_EQ(type_of("reshape", {x}, newshape({0, 12})), "float32[batch, 12]");
  EXPECT_EQ(type_of("reshape", {x}, newshape({-1, 4})), "float32[?, 4]");
  EXPECT_EQ(type_of("reshape", {var(DType::kInt64, {kBatch, 12})}, newshape({0, 3, -1})),
            "int64[batch, 3, 4]");
}

TEST(TransformTypeTest, ReshapeErrors) {
  Var x = var(DType::kFloat32, {2, 3});
  expect_error(
      [&] {
        call("reshape", {x}, newshape({4, -1}));
      },
      "reshape", "reshape: cannot reshape float32[2, 3] (6 elements) to [4, -1]");
  expect_error([&] { call("reshape", {x}, newshape({5})); }, "reshape", "(6 elements) to [5]");
  expect_error([&] { call("reshape", {x}, newshape({-1, -1})); }, "reshape", "more than one -1");
  expect_error([&] { call("reshape", {x}, newshape({1, 1, 0})); }, "reshape", "position 2");
  expect_error([&] { call("reshape", {x}, newshape({-2, 3})); }, "reshape", "-2");
}

TEST(TransformEvalTest, ReshapeKeepsElementOrder) {
  Tensor x = iota(DType::kInt32, {2, 3});
  Tensor y = eval("reshape", {x}, newshape({3, -1}));
  EXPECT_EQ(y.shape(), (Ints{3, 2}));
  EXPECT_EQ(y.dtype(), DType::kInt32);
  EXPECT_EQ(ints(y), (Ints{0, 1, 2, 3, 4, 5}));
  EXPECT_EQ(eval("reshape", {x}, newshape({0, 1, -1})).shape(), (Ints{2, 1, 3}));
}

// --- transpose, squeeze, unsqueeze ---------------------------------------------------------------

TEST(TransformTypeTest, Transpose) {
  Var x = var(DType::kFloat32, {kBatch, 3, 4});
  EXPECT_EQ(type_of("transpose", {x}), "float32[4, 3, batch]");
  EXPECT_EQ(type_of("transpose", {x}, {{"axes", Ints{0, 2, 1}}}), "float32[batch, 4, 3]");
  EXPECT_EQ(type_of("transpose", {x}, {{"axes", Ints{-1, 0, 1}}}), "float32[4, batch, 3]");
  expect_error(
      [&] {
        call("transpose", {x}, {{"axes", Ints{0, 1}}});
      },
      "transpose", "do not match the rank");
  expect_error([&] { call("transpose", {x}, {{"axes", Ints{0, 1, 1}}}); }, "transpose", "repeat");
}

TEST(TransformEvalTest, Transpose) {
  Tensor x = iota(DType::kFloat32, {2, 3});
  Tensor y = eval("transpose", {x});
  EXPECT_EQ(y.shape(), (Ints{3, 2}));
  EXPECT_EQ(ints(y), (Ints{0, 3, 1, 4, 2, 5}));
  // [2, 3, 4] -> axes (1, 2, 0) -> [3, 4, 2]: out[i][j][k] = x[k][i][j] = 12k + 4i + j.
  Tensor z = eval("transpose", {iota(DType::kInt64, {2, 3, 4})}, {{"axes", Ints{1, 2, 0}}});
  EXPECT_EQ(z.shape(), (Ints{3, 4, 2}));
  std::vector<int64_t> values = ints(z);
  for (int64_t i = 0; i < 3; ++i) {
    for (int64_t j = 0; j < 4; ++j) {
      for (int64_t k = 0; k < 2; ++k) EXPECT_EQ(values[(i * 4 + j) * 2 + k], 12 * k + 4 * i + j);
    }
  }
}

TEST(TransformTypeTest, SqueezeAndUnsqueeze) {
  EXPECT_EQ(type_of("squeeze", {var(DType::kFloat32, {1, 3, 1})}), "float32[3]");
  EXPECT_EQ(type_of("squeeze", {var(DType::kFloat32, {1, 3, 1})}, {{"axes", Ints{-1}}}),
            "float32[1, 3]");
  EXPECT_EQ(type_of("squeeze", {var(DType::kFloat32, {kBatch, 1})}), "float32[batch]");
  EXPECT_EQ(type_of("squeeze", {var(DType::kFloat32, {kBatch, 3})}, {{"axes", Ints{0}}}),
            "float32[3]");
  expect_error(
      [] {
        call("squeeze", {var(DType::kFloat32, {1, 3})}, {{"axes", Ints{1}}});
      },
      "squeeze", "size 3");
  EXPECT_EQ(type_of("unsqueeze", {var(DType::kFloat32, {kBatch, 4})}, {{"axes", Ints{0, -1}}}),
            "float32[1, batch, 4, 1]");
  EXPECT_EQ(type_of("unsqueeze", {var(DType::kFloat32, {3})}, {{"axes", Ints{1}}}),
            "float32[3, 1]");
  EXPECT_EQ(type_of("unsqueeze", {var(DType::kFloat32, {})}, {{"axes", Ints{0}}}), "float32[1]");
  expect_error(
      [] {
        call("unsqueeze", {var(DType::kFloat32, {3})}, {{"axes", Ints{0, -3}}});
      },
      "unsqueeze", "repeated");
  expect_error(
      [] {
        call("unsqueeze", {var(DType::kFloat32, {3})}, {{"axes", Ints{2}}});
      },
      "unsqueeze", "out of range");
}

TEST(TransformEvalTest, SqueezeAndUnsqueeze) {
  Tensor x = iota(DType::kFloat16, {1, 3, 1});
  Tensor squeezed = eval("squeeze", {x});
  EXPECT_EQ(squeezed.shape(), (Ints{3}));
  EXPECT_EQ(ints(squeezed), (Ints{0, 1, 2}));
  Tensor unsqueezed = eval("unsqueeze", {squeezed}, {{"axes", Ints{0, 2}}});
  EXPECT_EQ(unsqueezed.shape(), (Ints{1, 3, 1}));
}

// --- expand, tile --------------------------------------------------------------------------------

TEST(TransformTypeTest, ExpandBroadcastsBothWays) {
  EXPECT_EQ(type_of("expand", {var(DType::kFloat32, {3, 1})}, {{"shape", Ints{2, 1, 4}}}),
            "float32[2, 3, 4]");
  EXPECT_EQ(type_of("expand", {var(DType::kFloat32, {kBatch, 1})}, {{"shape", Ints{1, 5}}}),
            "float32[batch, 5]");
  expect_error(
      [] {
        call("expand", {var(DType::kFloat32, {3})}, {{"shape", Ints{4}}});
      },
      "expand", "cannot be broadcast");
  expect_error(
      [] {
        call("expand", {var(DType::kFloat32, {3})}, {{"shape", Ints{-1}}});
      },
      "expand", "negative");
}

TEST(TransformEvalTest, Expand) {
  Tensor x = int64s({3, 1}, {1, 2, 3});
  Tensor y = eval("expand", {x}, {{"shape", Ints{2, 1, 2}}});
  EXPECT_EQ(y.shape(), (Ints{2, 3, 2}));
  EXPECT_EQ(ints(y), (Ints{1, 1, 2, 2, 3, 3, 1, 1, 2, 2, 3, 3}));
}

TEST(TransformTypeTest, Tile) {
  EXPECT_EQ(type_of("tile", {var(DType::kFloat32, {2, 3})}, {{"repeats", Ints{2, 1}}}),
            "float32[4, 3]");
  EXPECT_EQ(type_of("tile", {var(DType::kFloat32, {kBatch, kBatch, kBatch})},
                    {{"repeats", Ints{1, 2, 0}}}),
            "float32[batch, ?, 0]");
  expect_error(
      [] {
        call("tile", {var(DType::kFloat32, {2, 3})}, {{"repeats", Ints{2}}});
      },
      "tile", "one entry per dim");
}

TEST(TransformEvalTest, Tile) {
  Tensor x = int64s({2, 2}, {1, 2, 3, 4});
  Tensor y = eval("tile", {x}, {{"repeats", Ints{2, 2}}});
  EXPECT_EQ(y.shape(), (Ints{4, 4}));
  EXPECT_EQ(ints(y), (Ints{1, 2, 1, 2, 3, 4, 3, 4, 1, 2, 1, 2, 3, 4, 3, 4}));
}

// --- concat, split -------------------------------------------------------------------------------

TEST(TransformTypeTest, Concat) {
  Var a = var(DType::kFloat32, {kBatch, 3});
  Var b = var(DType::kFloat32, {kBatch, 5});
  EXPECT_EQ(type_of("concat", {a, b}, {{"axis", int64_t{1}}}), "float32[batch, 8]");
  EXPECT_EQ(type_of("concat", {a, a}, {{"axis", int64_t{0}}}), "float32[?, 3]");
  EXPECT_EQ(type_of("concat", {var(DType::kFloat32, {kBatch, 2}), var(DType::kFloat32, {4, 2})},
                    {{"axis", int64_t{-1}}}),
            "float32[4, 4]");
  EXPECT_EQ(type_of("concat", {a}, {{"axis", int64_t{0}}}), "float32[batch, 3]");
  expect_error(
      [&] {
        call("concat", {a, b}, {{"axis", int64_t{0}}});
      },
      "concat", "dim 1 of argument 1");
  expect_error(
      [&] {
        call("concat", {a, var(DType::kInt32, {kBatch, 3})}, {{"axis", int64_t{0}}});
      },
      "concat", "different dtypes");
  expect_error(
      [&] {
        call("concat", {a, var(DType::kFloat32, {3})}, {{"axis", int64_t{0}}});
      },
      "concat", "rank");
  expect_error([&] { call("concat", {}, {{"axis", int64_t{0}}}); }, "concat", "at least 1");
}

TEST(TransformEvalTest, Concat) {
  Tensor a = int64s({2, 1}, {1, 2});
  Tensor b = int64s({2, 2}, {3, 4, 5, 6});
  Tensor y = eval("concat", {a, b}, {{"axis", int64_t{-1}}});
  EXPECT_EQ(y.shape(), (Ints{2, 3}));
  EXPECT_EQ(ints(y), (Ints{1, 3, 4, 2, 5, 6}));
  Tensor z = eval("concat", {b, b}, {{"axis", int64_t{0}}});
  EXPECT_EQ(ints(z), (Ints{3, 4, 5, 6, 3, 4, 5, 6}));
}

TEST(TransformTypeTest, Split) {
  Var x = var(DType::kFloat32, {kBatch, 10});
  EXPECT_EQ(type_of("split", {x}, {{"axis", int64_t{-1}}, {"sections", Ints{3, 7}}}),
            "(float32[batch, 3], float32[batch, 7])");
  EXPECT_EQ(type_of("split", {x}, {{"sections", Ints{1, 1}}}), "(float32[1, 10], float32[1, 10])");
  expect_error(
      [&] {
        call("split", {x}, {{"axis", int64_t{1}}, {"sections", Ints{3, 3}}});
      },
      "split", "sum to 6");
}

TEST(TransformEvalTest, SplitReference) {
  Tensor x = iota(DType::kInt32, {2, 5});
  std::vector<Tensor> parts = op::split_reference(x, 1, {2, 3});
  ASSERT_EQ(parts.size(), 2u);
  EXPECT_EQ(parts[0].shape(), (Ints{2, 2}));
  EXPECT_EQ(ints(parts[0]), (Ints{0, 1, 5, 6}));
  EXPECT_EQ(ints(parts[1]), (Ints{2, 3, 4, 7, 8, 9}));
}

// --- strided_slice -------------------------------------------------------------------------------

Attrs slice(Ints begin, Ints end, Ints axes, Ints strides) {
  return {{"begin", std::move(begin)},
          {"end", std::move(end)},
          {"axes", std::move(axes)},
          {"strides", std::move(strides)}};
}

TEST(TransformTypeTest, StridedSliceStaticDims) {
  Var x = var(DType::kFloat32, {10, 8});
  EXPECT_EQ(type_of("strided_slice", {x}, slice({2}, {-2}, {0}, {1})), "float32[6, 8]");
  EXPECT_EQ(type_of("strided_slice", {x}, slice({0}, {100}, {1}, {3})), "float32[10, 3]");
  EXPECT_EQ(type_of("strided_slice", {x}, slice({-1}, {kInt64Min}, {0}, {-1})), "float32[10, 8]");
  EXPECT_EQ(type_of("strided_slice", {x}, slice({5}, {2}, {0}, {1})), "float32[0, 8]");
  EXPECT_EQ(type_of("strided_slice", {x}, slice({100, -100}, {-100, 100}, {0, 1}, {-2, 1})),
            "float32[5, 8]");
  EXPECT_EQ(type_of("strided_slice", {x}, slice({1}, {kInt64Max}, {}, {})), "float32[9, 8]");
}

TEST(TransformTypeTest, StridedSliceSymbolicDims) {
  Var x = var(DType::kFloat32, {kBatch, 8});
  EXPECT_EQ(type_of("strided_slice", {x}, slice({0}, {kInt64Max}, {0}, {1})), "float32[batch, 8]");
  EXPECT_EQ(type_of("strided_slice", {x}, slice({-1}, {kInt64Min}, {0}, {-1})),
            "float32[batch, 8]");
  EXPECT_EQ(type_of("strided_slice", {x}, slice({1}, {kInt64Max}, {0}, {1})), "float32[?, 8]");
  EXPECT_EQ(type_of("strided_slice", {x}, slice({0}, {2}, {1}, {1})), "float32[batch, 2]");
}

TEST(TransformTypeTest, StridedSliceErrors) {
  Var x = var(DType::kFloat32, {10, 8});
  expect_error([&] { call("strided_slice", {x}, slice({0}, {1}, {0}, {0})); }, "strided_slice",
               "must not be 0");
  expect_error(
      [&] {
        call("strided_slice", {x}, slice({0}, {1, 2}, {0}, {1}));
      },
      "strided_slice", "same length");
  expect_error(
      [&] {
        call("strided_slice", {x}, slice({0, 0}, {1, 2}, {0, -2}, {1, 1}));
      },
      "strided_slice", "repeat");
  expect_error([&] { call("strided_slice", {x}, slice({0}, {1}, {2}, {1})); }, "strided_slice",
               "out of range");
}

TEST(TransformEvalTest, StridedSliceNegativeStepsAndClamping) {
  Tensor x = iota(DType::kInt64, {10});
  EXPECT_EQ(ints(eval("strided_slice", {x}, slice({-1}, {kInt64Min}, {0}, {-1}))),
            (Ints{9, 8, 7, 6, 5, 4, 3, 2, 1, 0}));
  EXPECT_EQ(ints(eval("strided_slice", {x}, slice({8}, {1}, {0}, {-3}))), (Ints{8, 5, 2}));
  EXPECT_EQ(ints(eval("strided_slice", {x}, slice({100}, {-100}, {0}, {-4}))), (Ints{9, 5, 1}));
  EXPECT_EQ(ints(eval("strided_slice", {x}, slice({-3}, {100}, {0}, {1}))), (Ints{7, 8, 9}));
  EXPECT_EQ(ints(eval("strided_slice", {x}, slice({-100}, {3}, {0}, {2}))), (Ints{0, 2}));
  EXPECT_EQ(eval("strided_slice", {x}, slice({5}, {5}, {0}, {1})).numel(), 0);
  Tensor m = iota(DType::kFloat32, {3, 4});
  Tensor corner = eval("strided_slice", {m}, slice({-1, 1}, {0, kInt64Max}, {0, 1}, {-1, 2}));
  EXPECT_EQ(corner.shape(), (Ints{2, 2}));
  EXPECT_EQ(ints(corner), (Ints{9, 11, 5, 7}));
}

// --- gather family -------------------------------------------------------------------------------

TEST(TransformTypeTest, Gather) {
  Var data = var(DType::kFloat32, {5, kBatch, 3});
  EXPECT_EQ(type_of("gather", {data, var(DType::kInt64, {2, 4})}), "float32[2, 4, batch, 3]");
  EXPECT_EQ(type_of("gather", {data, var(DType::kInt32, {})}, {{"axis", int64_t{-1}}}),
            "float32[5, batch]");
  expect_error(
      [&] {
        call("gather", {data, var(DType::kFloat32, {2})});
      },
      "gather", "int32 or int64");
  expect_error(
      [&] {
        call("gather", {data, var(DType::kInt64, {2})}, {{"axis", int64_t{3}}});
      },
      "gather", "out of range");
}

TEST(TransformEvalTest, GatherWithNegativeIndices) {
  Tensor data = iota(DType::kFloat32, {3, 4});
  Tensor rows = eval("gather", {data, int64s({2}, {-1, 0})});
  EXPECT_EQ(rows.shape(), (Ints{2, 4}));
  EXPECT_EQ(ints(rows), (Ints{8, 9, 10, 11, 0, 1, 2, 3}));
  Tensor indices = tensor(DType::kInt32, {2, 2}, {0, -1, 1, 2});
  Tensor columns = eval("gather", {data, indices}, {{"axis", int64_t{1}}});
  EXPECT_EQ(columns.shape(), (Ints{3, 2, 2}));
  EXPECT_EQ(ints(columns), (Ints{0, 3, 1, 2, 4, 7, 5, 6, 8, 11, 9, 10}));
  Tensor scalar = eval("gather", {data, int64s({}, {-2})});
  EXPECT_EQ(scalar.shape(), (Ints{4}));
  EXPECT_EQ(ints(scalar), (Ints{4, 5, 6, 7}));
  expect_error([&] { eval("gather", {data, int64s({1}, {3})}); }, "gather", "index 3");
  expect_error([&] { eval("gather", {data, int64s({1}, {-4})}); }, "gather", "index -4");
}

TEST(TransformTypeTest, GatherElements) {
  EXPECT_EQ(type_of("gather_elements", {var(DType::kFloat32, {3, 3}), var(DType::kInt64, {2, 3})}),
            "float32[2, 3]");
  expect_error(
      [] {
        call("gather_elements", {var(DType::kFloat32, {3, 3}), var(DType::kInt64, {3})});
      },
      "gather_elements", "rank 2");
  expect_error(
      [] {
        call("gather_elements", {var(DType::kFloat32, {3, 3}), var(DType::kInt64, {2, 4})});
      },
      "gather_elements", "exceed");
}

TEST(TransformEvalTest, GatherElements) {
  Tensor data = int64s({2, 2}, {1, 2, 3, 4});
  Tensor indices = int64s({2, 2}, {0, 0, 1, 0});
  EXPECT_EQ(ints(eval("gather_elements", {data, indices}, {{"axis", int64_t{1}}})),
            (Ints{1, 1, 4, 3}));
  Tensor rows = int64s({1, 2}, {-1, 0});
  EXPECT_EQ(ints(eval("gather_elements", {data, rows})), (Ints{3, 2}));
  expect_error(
      [&] {
        eval("gather_elements", {data, int64s({1, 2}, {2, 0})});
      },
      "gather_elements", "index 2");
}

TEST(TransformTypeTest, GatherND) {
  EXPECT_EQ(type_of("gather_nd", {var(DType::kFloat32, {2, 2}), var(DType::kInt64, {2, 2})}),
            "float32[2]");
  EXPECT_EQ(type_of("gather_nd", {var(DType::kFloat32, {2, 2}), var(DType::kInt64, {2, 1})}),
            "float32[2, 2]");
  EXPECT_EQ(
      type_of("gather_nd", {var(DType::kFloat32, {kBatch, 2, 2}), var(DType::kInt64, {kBatch, 1})},
              {{"batch_dims", int64_t{1}}}),
      "float32[batch, 2]");
  expect_error(
      [] {
        call("gather_nd", {var(DType::kFloat32, {2, 2}), var(DType::kInt64, {2, 3})});
      },
      "gather_nd", "exceed the rank");
  expect_error(
      [] {
        call("gather_nd", {var(DType::kFloat32, {2, 2}), var(DType::kInt64, {2, kBatch})});
      },
      "gather_nd", "must be static");
}

TEST(TransformEvalTest, GatherND) {
  Tensor data = int64s({2, 2}, {0, 1, 2, 3});
  EXPECT_EQ(ints(eval("gather_nd", {data, int64s({2, 2}, {0, 0, 1, 1})})), (Ints{0, 3}));
  EXPECT_EQ(ints(eval("gather_nd", {data, int64s({2, 1}, {1, 0})})), (Ints{2, 3, 0, 1}));
  EXPECT_EQ(ints(eval("gather_nd", {data, int64s({1, 2}, {-1, -2})})), (Ints{2}));
  Tensor batched = iota(DType::kInt64, {2, 2, 2});
  Tensor y = eval("gather_nd", {batched, int64s({2, 1}, {1, 0})}, {{"batch_dims", int64_t{1}}});
  EXPECT_EQ(y.shape(), (Ints{2, 2}));
  EXPECT_EQ(ints(y), (Ints{2, 3, 4, 5}));
  expect_error([&] { eval("gather_nd", {data, int64s({1, 2}, {0, 2})}); }, "gather_nd", "index 2");
}

TEST(TransformTypeTest, ScatterElements) {
  Var data = var(DType::kFloat32, {3, 3});
  EXPECT_EQ(
      type_of("scatter_elements", {data, var(DType::kInt64, {2, 3}), var(DType::kFloat32, {2, 3})}),
      "float32[3, 3]");
  expect_error(
      [&] {
        call("scatter_elements", {data, var(DType::kInt64, {2, 3}), var(DType::kFloat32, {2, 2})});
      },
      "scatter_elements", "same shape");
  expect_error(
      [&] {
        call("scatter_elements", {data, var(DType::kInt64, {2, 3}), var(DType::kFloat32, {2, 3})},
             {{"reduction", std::string("sub")}});
      },
      "scatter_elements", "reduction");
}

TEST(TransformEvalTest, ScatterElements) {
  Tensor data(DType::kFloat32, {3, 3});
  Tensor indices = int64s({2, 3}, {1, 0, 2, 0, 2, 1});
  Tensor updates = tensor(DType::kFloat32, {2, 3}, {1.0, 1.5, 1.25, 2.0, 2.5, 2.25});
  Tensor y = eval("scatter_elements", {data, indices, updates});
  EXPECT_EQ(doubles(y), (std::vector<double>{2.0, 1.5, 0, 1.0, 0, 2.25, 0, 2.5, 1.25}));
  Tensor row = tensor(DType::kFloat32, {1, 5}, {1, 2, 3, 4, 5});
  Tensor twice = int64s({1, 2}, {1, -4});
  Tensor adds = tensor(DType::kFloat32, {1, 2}, {1.5, 2.5});
  EXPECT_EQ(doubles(eval("scatter_elements", {row, twice, adds},
                         {{"axis", int64_t{1}}, {"reduction", std::string("add")}})),
            (std::vector<double>{1, 6, 3, 4, 5}));
  EXPECT_EQ(doubles(eval("scatter_elements", {row, twice, adds},
                         {{"axis", int64_t{1}}, {"reduction", std::string("mul")}})),
            (std::vector<double>{1, 7.5, 3, 4, 5}));
  Tensor int_row = int64s({1, 3}, {5, 5, 5});
  EXPECT_EQ(ints(eval("scatter_elements", {int_row, int64s({1, 2}, {0, 2}), int64s({1, 2}, {9, 1})},
                      {{"axis", int64_t{1}}, {"reduction", std::string("max")}})),
            (Ints{9, 5, 5}));
  EXPECT_EQ(ints(eval("scatter_elements", {int_row, int64s({1, 2}, {0, 2}), int64s({1, 2}, {9, 1})},
                      {{"axis", int64_t{1}}, {"reduction", std::string("min")}})),
            (Ints{5, 5, 1}));
}

// --- shape_of, size_of, full, range --------------------------------------------------------------

TEST(TransformTypeTest, ShapeOfSizeOfFull) {
  Var x = var(DType::kFloat16, {kBatch, 3, 4});
  EXPECT_EQ(type_of("shape_of", {x}), "int64[3]");
  EXPECT_EQ(type_of("size_of", {x}), "int64[]");
  EXPECT_EQ(type_of("full", {}, {{"shape", Ints{2, 3}}}), "float32[2, 3]");
  EXPECT_EQ(type_of("full", {}, {{"shape", Ints{}}, {"dtype", std::string("int32")}}), "int32[]");
  expect_error([] { call("full", {}, {{"shape", Ints{-1}}}); }, "full", "negative");
  expect_error(
      [] {
        call("full", {}, {{"shape", Ints{1}}, {"dtype", std::string("f32")}});
      },
      "full", "unknown dtype");
}

TEST(TransformEvalTest, ShapeOfSizeOfFull) {
  Tensor x(DType::kFloat32, {2, 3, 4});
  Tensor shape = eval("shape_of", {x});
  EXPECT_EQ(shape.dtype(), DType::kInt64);
  EXPECT_EQ(ints(shape), (Ints{2, 3, 4}));
  Tensor size = eval("size_of", {x});
  EXPECT_EQ(size.shape(), (Ints{}));
  EXPECT_EQ(ints(size), (Ints{24}));
  Tensor sevens = eval(
      "full", {}, {{"shape", Ints{2, 2}}, {"fill_value", 7.9}, {"dtype", std::string("int32")}});
  EXPECT_EQ(sevens.dtype(), DType::kInt32);
  EXPECT_EQ(ints(sevens), (Ints{7, 7, 7, 7}));
  Tensor halves = eval(
      "full", {}, {{"shape", Ints{3}}, {"fill_value", 0.5}, {"dtype", std::string("float16")}});
  EXPECT_EQ(doubles(halves), (std::vector<double>{0.5, 0.5, 0.5}));
}

TEST(TransformTypeTest, Range) {
  Var start = var(DType::kInt64, {});
  EXPECT_EQ(type_of("range", {start, start, start}), "int64[?]");
  expect_error(
      [&] {
        call("range", {start, start, var(DType::kInt32, {})});
      },
      "range", "different dtypes");
  expect_error(
      [&] {
        call("range", {start, var(DType::kInt64, {1}), start});
      },
      "range", "limit must have rank 0");
}

TEST(TransformEvalTest, Range) {
  auto scalar = [](int64_t value) { return int64s({}, {value}); };
  EXPECT_EQ(ints(eval("range", {scalar(0), scalar(10), scalar(3)})), (Ints{0, 3, 6, 9}));
  EXPECT_EQ(ints(eval("range", {scalar(10), scalar(0), scalar(-3)})), (Ints{10, 7, 4, 1}));
  EXPECT_EQ(eval("range", {scalar(5), scalar(0), scalar(1)}).shape(), (Ints{0}));
  int64_t big = (int64_t{1} << 53) + 1;
  EXPECT_EQ(ints(eval("range", {scalar(big), scalar(big + 2), scalar(1)})), (Ints{big, big + 1}));
  auto real = [](double value) { return tensor(DType::kFloat32, {}, {value}); };
  EXPECT_EQ(doubles(eval("range", {real(0), real(1), real(0.25)})),
            (std::vector<double>{0, 0.25, 0.5, 0.75}));
  EXPECT_EQ(doubles(eval("range", {real(1), real(-0.5), real(-0.5)})),
            (std::vector<double>{1, 0.5, 0}));
  expect_error([&] { eval("range", {scalar(0), scalar(1), scalar(0)}); }, "range", "delta");
}

// --- pad -----------------------------------------------------------------------------------------

TEST(TransformTypeTest, Pad) {
  EXPECT_EQ(type_of("pad", {var(DType::kFloat32, {2, 3})}, {{"pads", Ints{1, 0, 1, 2}}}),
            "float32[4, 5]");
  EXPECT_EQ(type_of("pad", {var(DType::kFloat32, {kBatch, 3})}, {{"pads", Ints{0, -1, 0, 0}}}),
            "float32[batch, 2]");
  EXPECT_EQ(type_of("pad", {var(DType::kFloat32, {kBatch, 3})}, {{"pads", Ints{1, 0, 0, 0}}}),
            "float32[?, 3]");
  expect_error(
      [] {
        call("pad", {var(DType::kFloat32, {2, 3})}, {{"pads", Ints{1, 1}}});
      },
      "pad", "2 entries per dim");
  expect_error(
      [] {
        call("pad", {var(DType::kFloat32, {2})}, {{"pads", Ints{-2, -1}}});
      },
      "pad", "below zero");
  expect_error(
      [] {
        call("pad", {var(DType::kFloat32, {2})},
             {{"pads", Ints{1, 1}}, {"mode", std::string("wrap")}});
      },
      "pad", "mode");
}

TEST(TransformEvalTest, PadModes) {
  Tensor x = int64s({3}, {1, 2, 3});
  EXPECT_EQ(ints(eval("pad", {x}, {{"pads", Ints{2, 1}}, {"value", 9.0}})),
            (Ints{9, 9, 1, 2, 3, 9}));
  EXPECT_EQ(ints(eval("pad", {x}, {{"pads", Ints{2, 1}}, {"mode", std::string("edge")}})),
            (Ints{1, 1, 1, 2, 3, 3}));
  EXPECT_EQ(ints(eval("pad", {x}, {{"pads", Ints{2, 2}}, {"mode", std::string("reflect")}})),
            (Ints{3, 2, 1, 2, 3, 2, 1}));
  EXPECT_EQ(ints(eval("pad", {x}, {{"pads", Ints{-1, 1}}})), (Ints{2, 3, 0}));
  Tensor m = int64s({2, 2}, {1, 2, 3, 4});
  Tensor padded = eval("pad", {m}, {{"pads", Ints{1, 0, 0, 1}}});
  EXPECT_EQ(padded.shape(), (Ints{3, 3}));
  EXPECT_EQ(ints(padded), (Ints{0, 0, 0, 1, 2, 0, 3, 4, 0}));
}

// --- depth_to_space, space_to_depth --------------------------------------------------------------

TEST(TransformTypeTest, DepthToSpaceAndSpaceToDepth) {
  Var x = var(DType::kFloat32, {kBatch, 8, 2, 3});
  EXPECT_EQ(type_of("depth_to_space", {x}, {{"block_size", int64_t{2}}}),
            "float32[batch, 2, 4, 6]");
  EXPECT_EQ(
      type_of("space_to_depth", {var(DType::kFloat32, {1, 2, 4, 6})}, {{"block_size", int64_t{2}}}),
      "float32[1, 8, 2, 3]");
  expect_error(
      [&] {
        call("depth_to_space", {x}, {{"block_size", int64_t{3}}});
      },
      "depth_to_space", "not divisible by 9");
  expect_error(
      [] {
        call("space_to_depth", {var(DType::kFloat32, {1, 1, 3, 4})}, {{"block_size", int64_t{2}}});
      },
      "space_to_depth", "height 3");
  expect_error(
      [] {
        call("depth_to_space", {var(DType::kFloat32, {8, 2, 2})}, {{"block_size", int64_t{2}}});
      },
      "depth_to_space", "rank 4");
}

TEST(TransformEvalTest, DepthToSpaceModes) {
  Tensor x = iota(DType::kFloat32, {1, 8, 1, 1});
  Tensor dcr = eval("depth_to_space", {x}, {{"block_size", int64_t{2}}});
  EXPECT_EQ(dcr.shape(), (Ints{1, 2, 2, 2}));
  EXPECT_EQ(ints(dcr), (Ints{0, 2, 4, 6, 1, 3, 5, 7}));
  Tensor crd =
      eval("depth_to_space", {x}, {{"block_size", int64_t{2}}, {"mode", std::string("CRD")}});
  EXPECT_EQ(ints(crd), (Ints{0, 1, 2, 3, 4, 5, 6, 7}));
}

TEST(TransformEvalTest, SpaceToDepthInvertsDepthToSpaceDCR) {
  Tensor x = iota(DType::kInt32, {2, 8, 2, 3});
  Tensor spread = eval("depth_to_space", {x}, {{"block_size", int64_t{2}}});
  Tensor back = eval("space_to_depth", {spread}, {{"block_size", int64_t{2}}});
  EXPECT_EQ(back.shape(), x.shape());
  EXPECT_TRUE(back.identical(x));
  // One hand-checked element: out[0][c][h][w] of space_to_depth on a 1x1x2x2 input.
  Tensor square = iota(DType::kInt32, {1, 1, 2, 2});
  EXPECT_EQ(ints(eval("space_to_depth", {square}, {{"block_size", int64_t{2}}})),
            (Ints{0, 1, 2, 3}));
}

// --- one_hot, non_zero ---------------------------------------------------------------------------

TEST(TransformTypeTest, OneHot) {
  Var indices = var(DType::kInt64, {kBatch, 2});
  EXPECT_EQ(type_of("one_hot", {indices}, {{"depth", int64_t{5}}}), "float32[batch, 2, 5]");
  EXPECT_EQ(type_of("one_hot", {indices},
                    {{"depth", int64_t{5}}, {"axis", int64_t{0}}, {"dtype", std::string("int64")}}),
            "int64[5, batch, 2]");
  expect_error([&] { call("one_hot", {indices}, {{"depth", int64_t{0}}}); }, "one_hot", "depth");
  expect_error(
      [&] {
        call("one_hot", {indices}, {{"depth", int64_t{2}}, {"axis", int64_t{3}}});
      },
      "one_hot", "out of range");
}

TEST(TransformEvalTest, OneHot) {
  Tensor indices = int64s({4}, {0, 2, -1, 5});
  Tensor y = eval("one_hot", {indices}, {{"depth", int64_t{3}}});
  EXPECT_EQ(y.shape(), (Ints{4, 3}));
  EXPECT_EQ(ints(y), (Ints{1, 0, 0, 0, 0, 1, 0, 0, 1, 0, 0, 0}));
  Tensor columns = eval("one_hot", {int64s({2}, {1, 0})},
                        {{"depth", int64_t{2}},
                         {"axis", int64_t{0}},
                         {"on_value", 5.0},
                         {"off_value", -1.0},
                         {"dtype", std::string("int32")}});
  EXPECT_EQ(columns.dtype(), DType::kInt32);
  EXPECT_EQ(ints(columns), (Ints{-1, 5, 5, -1}));
}

TEST(TransformEvalTest, NonZero) {
  EXPECT_EQ(type_of("non_zero", {var(DType::kFloat32, {2, 2})}), "int64[2, ?]");
  Tensor y = eval("non_zero", {tensor(DType::kFloat32, {2, 2}, {1, 0, 0, 3})});
  EXPECT_EQ(y.shape(), (Ints{2, 2}));
  EXPECT_EQ(ints(y), (Ints{0, 1, 0, 1}));
  EXPECT_EQ(eval("non_zero", {tensor(DType::kBool, {3}, {0, 0, 0})}).shape(), (Ints{1, 0}));
}

}  // namespace
}  // namespace kiln::ir
