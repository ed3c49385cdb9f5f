#include <gtest/gtest.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <thread>

#include "kiln/error.h"
#include "runtime/graph_executor.h"
#include "runtime_test_util.h"

namespace kiln::runtime {
namespace {

using std::chrono::milliseconds;

TEST(TimeEvaluatorTest, MeasuresEachRepeatAsTheMeanOfNumberCalls) {
  int calls = 0;
  BenchmarkResult result = time_evaluator(
      [&] {
        ++calls;
        std::this_thread::sleep_for(milliseconds(2));
      },
      /*number=*/2, /*repeat=*/3);
  EXPECT_EQ(calls, 1 + 2 * 3);  // one warm-up call first
  ASSERT_EQ(result.results.size(), 3u);
  for (double seconds : result.results) {
    EXPECT_GE(seconds, 0.002);
    EXPECT_LT(seconds, 1.0);
  }
  EXPECT_LE(result.min, result.median);
  EXPECT_LE(result.median, result.max);
  EXPECT_LE(result.min, result.mean);
  EXPECT_LE(result.mean, result.max);
}

TEST(TimeEvaluatorTest, StatisticsFollowNumpy) {
  // Calls of growing length, one per measurement, so that the results differ.
  int call = 0;
  BenchmarkResult result =
      time_evaluator([&] { std::this_thread::sleep_for(milliseconds(1 + (call++ % 4))); }, 1, 4);
  std::vector<double> sorted = result.results;
  std::sort(sorted.begin(), sorted.end());
  double mean = (sorted[0] + sorted[1] + sorted[2] + sorted[3]) / 4;
  double variance = 0;
  for (double value : sorted) variance += (value - mean) * (value - mean) / 4;  // population
  EXPECT_DOUBLE_EQ(result.mean, mean);
  EXPECT_DOUBLE_EQ(result.median, (sorted[1] + sorted[2]) / 2);
  EXPECT_DOUBLE_EQ(result.min, sorted[0]);
  EXPECT_DOUBLE_EQ(result.max, sorted[3]);
  EXPECT_NEAR(result.std, std::sqrt(variance), 1e-15);
  EXPECT_GT(result.std, 0.0);

  BenchmarkResult single = time_evaluator([] {}, 1, 1);
  EXPECT_EQ(single.std, 0.0);
  EXPECT_EQ(single.median, single.results[0]);
}

TEST(TimeEvaluatorTest, MinRepeatMsRaisesNumber) {
  int calls = 0;
  BenchmarkResult result = time_evaluator(
      [&] {
        ++calls;
        std::this_thread::sleep_for(milliseconds(1));
      },
      /*number=*/1, /*repeat=*/2, /*min_repeat_ms=*/20);
  ASSERT_EQ(result.results.size(), 2u);
  // Each kept measurement lasted >= 20 ms of ~1 ms calls: far more than 1 + 1 * 2 calls.
  EXPECT_GE(calls, 1 + 2 * 10);
  for (double seconds : result.results) EXPECT_GE(seconds, 0.001);
}

TEST(TimeEvaluatorTest, RejectsNonsense) {
  auto nothing = [] {};
  EXPECT_KILN_ERROR(time_evaluator(nothing, 0, 1), "number >= 1 and repeat >= 1");
  EXPECT_KILN_ERROR(time_evaluator(nothing, 1, 0), "number >= 1 and repeat >= 1");
  EXPECT_KILN_ERROR(time_evaluator(nothing, 1, 1, -5), "min_repeat_ms must be >= 0");
}

}  // namespace
}  // namespace kiln::runtime
