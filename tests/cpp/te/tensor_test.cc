#include "te/tensor.h"

#include <gtest/gtest.h>

#include "kiln/error.h"

namespace kiln::te {
namespace {

const DataType kF32{DType::kFloat32, 1};

TEST(TeTensor, ComputeNamesAxesAndTakesBodyDtype) {
  Tensor a = placeholder({4, 5}, kF32, "a");
  EXPECT_TRUE(a->is_placeholder());
  Tensor b = compute(
      {4, 5},
      [&](const Indices& i) {
        return tir::cast({DType::kInt32, 1}, a(i[0], i[1]));
      },
      "b", "elemwise");
  EXPECT_FALSE(b->is_placeholder());
  ASSERT_EQ(b->axis.size(), 2u);
  EXPECT_EQ(b->axis[0].var->name, "i0");
  EXPECT_EQ(b->axis[1].var->name, "i1");
  EXPECT_EQ(b->axis[1].extent, 5);
  EXPECT_EQ(b->dtype.dtype, DType::kInt32);
  EXPECT_EQ(b->tag, "elemwise");
  Tensor c = compute({4, 5}, [&](const Indices& i) { return b(i[0], i[1]); }, "c", "", {"y", "x"});
  EXPECT_EQ(c->axis[0].var->name, "y");
  EXPECT_EQ(c->axis[1].var->name, "x");
  EXPECT_THROW(compute({4}, [&](const Indices& i) { return a(i[0], 0); }, "d", "", {"y", "x"}),
               Error);
}

TEST(TeTensor, ReductionAxes) {
  Tensor a = placeholder({4, 6}, kF32, "a");
  IterVar k = reduce_axis(6, "k");
  Tensor s = compute(
      {4}, [&](const Indices& i) { return sum(a(i[0], k.var), {k}); }, "s");
  ASSERT_EQ(s->reduce_axis().size(), 1u);
  EXPECT_EQ(s->reduce_axis()[0].var, k.var);
  EXPECT_TRUE(a->reduce_axis().empty());
  // A reduction inside other arithmetic has no loop to live in.
  EXPECT_THROW(compute(
                   {4}, [&](const Indices& i) { return sum(a(i[0], k.var), {k}) + 1.0f; }, "bad"),
               Error);
}

TEST(TeTensor, InputTensorsAndPostOrder) {
  Tensor a = placeholder({8}, kF32, "a");
  Tensor b = placeholder({8}, kF32, "b");
  Tensor c = compute(
      {8}, [&](const Indices& i) { return a(i[0]) * b(i[0]) + a(i[0]); }, "c");
  Tensor d = compute(
      {8}, [&](const Indices& i) { return c(i[0]) + b(i[0]); }, "d");
  Tensor e = compute(
      {8}, [&](const Indices& i) { return c(i[0]) * d(i[0]); }, "e");
  std::vector<Tensor> inputs = input_tensors(c);
  ASSERT_EQ(inputs.size(), 2u);
  EXPECT_EQ(inputs[0], a);
  EXPECT_EQ(inputs[1], b);
  EXPECT_TRUE(input_tensors(a).empty());
  std::vector<Tensor> order = post_order({e});
  std::vector<std::string> names;
  for (const Tensor& t : order) names.push_back(t->name);
  EXPECT_EQ(names, (std::vector<std::string>{"a", "b", "c", "d", "e"}));
  // Each tensor once, even from several outputs.
  EXPECT_EQ(post_order({d, e}).size(), 5u);
}

TEST(TeTensor, LongChainsDoNotRecurse) {
  Tensor t = placeholder({2}, kF32, "x");
  for (int k = 0; k < 3000; ++k) {
    Tensor prev = t;
    t = compute(
        {2}, [&](const Indices& i) { return prev(i[0]) + 1.0f; }, "t" + std::to_string(k));
  }
  EXPECT_EQ(post_order({t}).size(), 3001u);
}

TEST(TeTensor, RejectsNegativeShapes) {
  EXPECT_THROW(placeholder({-1}, kF32, "a"), Error);
  EXPECT_THROW(reduce_axis(-2, "k"), Error);
}

}  // namespace
}  // namespace kiln::te
