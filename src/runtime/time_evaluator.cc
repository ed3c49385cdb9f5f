#include <algorithm>
#include <chrono>
#include <cmath>
#include <string>

#include "kiln/error.h"
#include "runtime/graph_executor.h"

namespace kiln::runtime {

BenchmarkResult time_evaluator(const std::function<void()>& fn, int number, int repeat,
                               double min_repeat_ms) {
  if (number < 1 || repeat < 1) {
    throw Error("timing needs number >= 1 and repeat >= 1, got number=" + std::to_string(number) +
                ", repeat=" + std::to_string(repeat));
  }
  if (!(min_repeat_ms >= 0)) {
    throw Error("min_repeat_ms must be >= 0, got " + std::to_string(min_repeat_ms));
  }
  using Clock = std::chrono::steady_clock;
  // One untimed call first: page faults, lazy initialisation and the thread pool's start-up do
  // not belong to any measurement.
  fn();

  // As TVM does, `number` grows until one measurement lasts min_repeat_ms, and stays grown for the
  // following measurements.
  constexpr int64_t kMaxNumber = int64_t{1} << 30;
  int64_t calls = number;
  BenchmarkResult result;
  for (int r = 0; r < repeat; ++r) {
    double seconds = 0;
    for (;;) {
      auto start = Clock::now();
      for (int64_t i = 0; i < calls; ++i) fn();
      seconds = std::chrono::duration<double>(Clock::now() - start).count();
      double milliseconds = seconds * 1e3;
      if (min_repeat_ms <= 0 || milliseconds >= min_repeat_ms || calls >= kMaxNumber) break;
      double per_call_ms = milliseconds / static_cast<double>(calls);
      double wanted = per_call_ms > 0 ? min_repeat_ms / per_call_ms + 1 : 0;
      double grown = std::ceil(std::max(wanted, static_cast<double>(calls) * 1.618));
      calls = static_cast<int64_t>(std::min(grown, static_cast<double>(kMaxNumber)));
    }
    result.results.push_back(seconds / static_cast<double>(calls));
  }

  std::vector<double> sorted = result.results;
  std::sort(sorted.begin(), sorted.end());
  size_t n = sorted.size();
  result.min = sorted.front();
  result.max = sorted.back();
  result.median = n % 2 == 1 ? sorted[n / 2] : (sorted[n / 2 - 1] + sorted[n / 2]) / 2;
  double sum = 0;
  for (double value : sorted) sum += value;
  result.mean = sum / static_cast<double>(n);
  double squares = 0;
  for (double value : sorted) squares += (value - result.mean) * (value - result.mean);
  result.std = std::sqrt(squares / static_cast<double>(n));  // population std, as numpy's default
  return result;
}

}  // namespace kiln::runtime
