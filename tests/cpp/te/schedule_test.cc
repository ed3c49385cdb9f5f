#include "te/schedule.h"

#include <gtest/gtest.h>

#include "kiln/error.h"

namespace kiln::te {
namespace {

using Names = std::vector<std::string>;
const DataType kF32{DType::kFloat32, 1};

struct Matmul {
  Tensor a, b, c;
  Matmul(int64_t m, int64_t n, int64_t k) {
    a = placeholder({m, k}, kF32, "A");
    b = placeholder({k, n}, kF32, "B");
    IterVar r = reduce_axis(k, "k");
    c = compute({m, n}, [&](const Indices& i) { return sum(a(i[0], r.var) * b(r.var, i[1]), {r}); },
                "C", "matmul", {"i", "j"});
  }
};

// The message of the kiln::Error that `fn` throws ("" when it does not throw).
template <typename Fn>
std::string error_of(Fn fn) {
  try {
    fn();
  } catch (const Error& e) {
    return e.what();
  }
  return "";
}

TEST(Schedule, StartsWithAxesThenReduceAxes) {
  Matmul mm(8, 8, 8);
  Schedule s({mm.c});
  EXPECT_EQ(s.stages(), Names{"C"});
  EXPECT_EQ(s.loops("C"), (Names{"i", "j", "k"}));
  EXPECT_EQ(s.stage_name(mm.c), "C");
  EXPECT_THROW(s.stage_name(mm.a), Error);  // placeholders are not stages
}

TEST(Schedule, SplitTileReorderFuse) {
  Matmul mm(64, 64, 32);
  Schedule s({mm.c});
  auto [ko, ki] = s.split("C", "k", 4);
  EXPECT_EQ(ko, "k.outer");
  EXPECT_EQ(ki, "k.inner");
  EXPECT_EQ(s.loops("C"), (Names{"i", "j", "k.outer", "k.inner"}));
  Names tiles = s.tile("C", "i", "j", 8, 16);
  EXPECT_EQ(tiles, (Names{"i.outer", "j.outer", "i.inner", "j.inner"}));
  EXPECT_EQ(s.loops("C"),
            (Names{"i.outer", "j.outer", "i.inner", "j.inner", "k.outer", "k.inner"}));
  s.reorder("C", {"k.outer", "i.inner"});  // a subset keeps the other loops in place
  EXPECT_EQ(s.loops("C"),
            (Names{"i.outer", "j.outer", "k.outer", "j.inner", "i.inner", "k.inner"}));
  std::string fused = s.fuse("C", {"i.outer", "j.outer"});
  EXPECT_EQ(fused, "i.outer.j.outer.fused");
  EXPECT_EQ(s.loops("C"), (Names{fused, "k.outer", "j.inner", "i.inner", "k.inner"}));
  s.parallel("C", fused);
  s.unroll("C", "k.inner");
  EXPECT_EQ(s.steps().size(), 6u);
}

TEST(Schedule, ErrorsNameStageLoopAndProblem) {
  Matmul mm(16, 16, 16);
  Tensor relu = compute(
      {16, 16}, [&](const Indices& i) { return tir::max(mm.c(i[0], i[1]), 0.0f); }, "relu");
  Schedule s({relu});
  EXPECT_NE(error_of([&] { s.split("D", "i", 4); }).find("no stage 'D' (stages: C, relu)"),
            std::string::npos);
  EXPECT_NE(error_of([&] { s.split("C", "x", 4); }).find("no loop 'x' (loops: i, j, k)"),
            std::string::npos);
  EXPECT_NE(error_of([&] { s.split("C", "i", 0); }).find("factor 0"), std::string::npos);
  EXPECT_NE(error_of([&] { s.split("C", "i", -3); }).find("must be positive"), std::string::npos);
  EXPECT_NE(error_of([&] { s.reorder("C", {"i", "i"}); }).find("appears twice"), std::string::npos);
  EXPECT_NE(error_of([&] { s.reorder("C", {"i", "q"}); }).find("no loop 'q'"), std::string::npos);
  EXPECT_NE(error_of([&] { s.fuse("C", {"i", "k"}); }).find("not adjacent"), std::string::npos);
  EXPECT_NE(error_of([&] { s.fuse("C", {"j", "i"}); }).find("not adjacent"), std::string::npos);
  EXPECT_NE(error_of([&] { s.fuse("C", {"j", "k"}); }).find("reduce loop"), std::string::npos);
  EXPECT_NE(error_of([&] { s.vectorize("C", "j"); }).find("not the innermost"), std::string::npos);
  EXPECT_NE(error_of([&] { s.vectorize("C", "k"); }).find("reduce loop"), std::string::npos);
  EXPECT_NE(error_of([&] { s.parallel("C", "k"); }).find("race"), std::string::npos);
  EXPECT_NE(error_of([&] { s.compute_inline("relu"); }).find("output"), std::string::npos);
  EXPECT_NE(error_of([&] { s.compute_inline("C"); }).find("reduction"), std::string::npos);
  EXPECT_NE(error_of([&] { s.compute_at("relu", "C", "i"); }).find("output"), std::string::npos);
  EXPECT_NE(error_of([&] { s.compute_at("C", "relu", "q"); }).find("no loop 'q'"),
            std::string::npos);
  EXPECT_NE(error_of([&] { s.compute_at("C", "C", "i"); }).find("itself"), std::string::npos);
  // Nothing of the above changed the schedule.
  EXPECT_TRUE(s.steps().empty());
  EXPECT_EQ(s.loops("C"), (Names{"i", "j", "k"}));
  // Every message says which primitive and stage.
  EXPECT_EQ(error_of([&] { s.split("C", "i", 0); }).rfind("schedule: split of stage 'C': ", 0), 0u);
}

TEST(Schedule, AnnotationsAndAttachmentsProtectTheirLoops) {
  Tensor a = placeholder({32}, kF32, "a");
  Tensor b = compute(
      {32}, [&](const Indices& i) { return a(i[0]) * 2.0f; }, "b");
  Tensor c = compute(
      {32}, [&](const Indices& i) { return b(i[0]) + 1.0f; }, "c");
  Schedule s({c});
  auto [outer, inner] = s.split("c", "i0", 8);
  s.compute_at("b", "c", outer);
  EXPECT_NE(error_of([&] { s.split("c", outer, 2); }).find("computed inside it"),
            std::string::npos);
  EXPECT_NE(error_of([&] { s.compute_inline("b"); }).find("computed at 'c'"), std::string::npos);
  s.vectorize("c", inner);
  EXPECT_NE(error_of([&] { s.split("c", inner, 4); }).find("already annotated"), std::string::npos);
  EXPECT_NE(error_of([&] { s.parallel("c", inner); }).find("already vectorized"),
            std::string::npos);
  EXPECT_NE(error_of([&] {
              s.reorder("c", {inner, outer});
            }).find("no longer be innermost"),
            std::string::npos);
  EXPECT_NE(error_of([&] { s.compute_at("b", "c", inner); }).find("vectorized"), std::string::npos);
  EXPECT_NE(error_of([&] { s.cache_write("c"); }).find("before any other primitive"),
            std::string::npos);
}

TEST(Schedule, ComputeAtNeedsTheOnlyConsumer) {
  Tensor a = placeholder({16}, kF32, "a");
  Tensor b = compute(
      {16}, [&](const Indices& i) { return a(i[0]) * 2.0f; }, "b");
  Tensor c = compute(
      {16}, [&](const Indices& i) { return b(i[0]) + 1.0f; }, "c");
  Tensor d = compute(
      {16}, [&](const Indices& i) { return b(i[0]) + c(i[0]); }, "d");
  Schedule s({d});
  EXPECT_NE(error_of([&] { s.compute_at("b", "d", "i0"); }).find("consumers: c, d"),
            std::string::npos);
  // Once c is inlined into d, d is b's only consumer.
  s.compute_inline("c");
  s.compute_at("b", "d", "i0");
  EXPECT_NE(error_of([&] { s.compute_at("a", "d", "i0"); }).find("no stage 'a'"),
            std::string::npos);
}

TEST(Schedule, CacheWriteMakesALocalStage) {
  Matmul mm(16, 16, 16);
  Schedule s({mm.c});
  std::string local = s.cache_write("C");
  EXPECT_EQ(local, "C.local");
  EXPECT_EQ(s.stages(), (Names{"C.local", "C"}));
  EXPECT_EQ(s.loops("C"), (Names{"i", "j"}));             // the copy out
  EXPECT_EQ(s.loops("C.local"), (Names{"i", "j", "k"}));  // the computation
  EXPECT_NE(error_of([&] { s.cache_write("C"); }).find("already"), std::string::npos);
  EXPECT_NE(error_of([&] { s.compute_inline("C.local"); }).find("reduction"), std::string::npos);
}

TEST(Schedule, CopiesAreIndependent) {
  Matmul mm(16, 16, 16);
  Schedule s({mm.c});
  s.split("C", "i", 4);
  Schedule copy = s;
  copy.split("C", "j", 4);
  EXPECT_EQ(s.loops("C"), (Names{"i.outer", "i.inner", "j", "k"}));
  EXPECT_EQ(copy.loops("C"), (Names{"i.outer", "i.inner", "j.outer", "j.inner", "k"}));
}

TEST(Schedule, DuplicateTensorNamesGetSuffixes) {
  Tensor a = placeholder({4}, kF32, "a");
  Tensor t1 = compute(
      {4}, [&](const Indices& i) { return a(i[0]) + 1.0f; }, "t");
  Tensor t2 = compute(
      {4}, [&](const Indices& i) { return t1(i[0]) * 2.0f; }, "t");
  Schedule s({t2});
  EXPECT_EQ(s.stages(), (Names{"t", "t_1"}));
  EXPECT_EQ(s.stage_name(t2), "t_1");
}

Schedule scheduled_matmul(const Matmul& mm) {
  Schedule s({mm.c});
  std::string local = s.cache_write("C");
  Names tiles = s.tile("C", "i", "j", 4, 8);
  std::string fused = s.fuse("C", {tiles[0], tiles[1]});
  s.parallel("C", fused);
  s.vectorize("C", tiles[3]);
  s.compute_at(local, "C", fused);
  auto [ko, ki] = s.split(local, "k", 3);
  s.reorder(local, {ko, "i", ki, "j"});
  s.unroll(local, ki);
  s.vectorize(local, "j");
  return s;
}

TEST(Schedule, PrintsOneStepPerLine) {
  Matmul mm(16, 16, 16);
  Schedule s = scheduled_matmul(mm);
  EXPECT_EQ(s.to_string(),
            "cache_write(C) -> C.local\n"
            "tile(C, i, j, 4, 8) -> i.outer, j.outer, i.inner, j.inner\n"
            "fuse(C, i.outer, j.outer) -> i.outer.j.outer.fused\n"
            "parallel(C, i.outer.j.outer.fused)\n"
            "vectorize(C, j.inner)\n"
            "compute_at(C.local, C, i.outer.j.outer.fused)\n"
            "split(C.local, k, 3) -> k.outer, k.inner\n"
            "reorder(C.local, k.outer, i, k.inner, j)\n"
            "unroll(C.local, k.inner)\n"
            "vectorize(C.local, j)\n");
}

TEST(Schedule, JsonRoundTripReplaysTheSameSchedule) {
  Matmul mm(16, 16, 16);
  Schedule s = scheduled_matmul(mm);
  std::string json = s.to_json();
  Schedule replayed = Schedule::from_json({mm.c}, json);
  EXPECT_EQ(replayed.steps(), s.steps());
  EXPECT_EQ(replayed.to_json(), json);
  EXPECT_EQ(replayed.to_string(), s.to_string());
  for (const std::string& stage : s.stages()) EXPECT_EQ(replayed.loops(stage), s.loops(stage));

  // Replaying by hand through apply gives the same state too.
  Schedule manual({mm.c});
  for (const Step& step : s.steps()) manual.apply(step);
  EXPECT_EQ(manual.loops("C.local"), s.loops("C.local"));
  EXPECT_EQ(manual.steps(), s.steps());
}

TEST(Schedule, JsonFormatAndErrors) {
  Matmul mm(16, 16, 16);
  Schedule s({mm.c});
  s.split("C", "i", 4);
  EXPECT_EQ(s.to_json(), R"([{"factors":[4],"kind":"split","loops":["i"],"stage":"C"}])");
  EXPECT_THROW(Schedule::from_json({mm.c}, "not json"), Error);
  EXPECT_THROW(Schedule::from_json({mm.c}, R"({"kind":"split"})"), Error);
  EXPECT_THROW(Schedule::from_json({mm.c}, R"([{"kind":"twist","stage":"C"}])"), Error);
  std::string message = error_of([&] {
    Schedule::from_json({mm.c}, R"([{"kind":"split","stage":"C","loops":["z"],"factors":[2]}])");
  });
  EXPECT_NE(message.find("step 1 (split(C, z, 2) -> z.outer, z.inner) does not apply"),
            std::string::npos)
      << message;
}

}  // namespace
}  // namespace kiln::te
