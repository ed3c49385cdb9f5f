#include "runtime/thread_pool.h"

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <array>
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <mutex>
#include <set>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "kiln/error.h"
#include "runtime/graph_executor.h"
#include "runtime_test_util.h"

namespace kiln::runtime {
namespace {

// Restores the thread count a test changed, so tests do not depend on their order.
class ThreadPoolTest : public ::testing::Test {
 protected:
  void SetUp() override { saved_ = num_threads(); }
  void TearDown() override { set_num_threads(saved_); }

 private:
  int saved_ = 1;
};

struct Record {
  std::array<std::atomic<int>, 64> runs{};
  std::atomic<int64_t> num_tasks{-1};
  std::atomic<bool> consistent{true};
};

int32_t record_task(int64_t index, int64_t num_tasks, void* closure) {
  auto* record = static_cast<Record*>(closure);
  int64_t expected = -1;
  if (!record->num_tasks.compare_exchange_strong(expected, num_tasks) && expected != num_tasks) {
    record->consistent = false;
  }
  record->runs[static_cast<size_t>(index)]++;
  return 0;
}

TEST_F(ThreadPoolTest, EveryTaskRunsExactlyOnce) {
  set_num_threads(4);
  for (int launch = 0; launch < 500; ++launch) {
    Record record;
    ASSERT_EQ(parallel_launch(0, record_task, &record), 0);
    ASSERT_EQ(record.num_tasks, 4);
    ASSERT_TRUE(record.consistent);
    for (int i = 0; i < 4; ++i)
      ASSERT_EQ(record.runs[i], 1) << "launch " << launch << " task " << i;
    for (int i = 4; i < 64; ++i) ASSERT_EQ(record.runs[i], 0);
  }
}

TEST_F(ThreadPoolTest, MaxTasksBoundsTheTaskCount) {
  set_num_threads(4);
  for (auto [max_tasks, expected] : {std::pair{2, 2}, {1, 1}, {3, 3}, {100, 4}, {-1, 4}}) {
    Record record;
    EXPECT_EQ(parallel_launch(max_tasks, record_task, &record), 0);
    EXPECT_EQ(record.num_tasks, expected) << "max_tasks " << max_tasks;
  }
}

// A session's thread count (ThreadCountScope) decides its launches, larger or smaller than the
// process-wide count, and ends with the scope.
TEST_F(ThreadPoolTest, ThreadCountScopeAppliesToThisThreadsLaunches) {
  set_num_threads(2);
  for (int scoped : {3, 1, 5, 2}) {
    ThreadCountScope scope(scoped);
    for (int launch = 0; launch < 50; ++launch) {
      Record record;
      ASSERT_EQ(parallel_launch(0, record_task, &record), 0);
      ASSERT_EQ(record.num_tasks, scoped);
      for (int i = 0; i < scoped; ++i) ASSERT_EQ(record.runs[i], 1) << "task " << i;
    }
  }
  Record record;
  ASSERT_EQ(parallel_launch(0, record_task, &record), 0);
  EXPECT_EQ(record.num_tasks, 2);
  {
    ThreadCountScope scope(0);  // 0: the process-wide count
    Record inner;
    ASSERT_EQ(parallel_launch(0, record_task, &inner), 0);
    EXPECT_EQ(inner.num_tasks, 2);
  }
}

TEST_F(ThreadPoolTest, TasksRunOnDistinctThreadsAndTheCallerRunsTaskZero) {
  set_num_threads(3);
  struct Ids {
    std::mutex mutex;
    std::vector<std::pair<int64_t, std::thread::id>> ids;
  } ids;
  auto task = [](int64_t index, int64_t, void* closure) -> int32_t {
    auto* ids = static_cast<Ids*>(closure);
    std::lock_guard lock(ids->mutex);
    ids->ids.emplace_back(index, std::this_thread::get_id());
    return 0;
  };
  ASSERT_EQ(parallel_launch(0, task, &ids), 0);
  ASSERT_EQ(ids.ids.size(), 3u);
  std::set<std::thread::id> distinct;
  for (auto& [index, id] : ids.ids) {
    distinct.insert(id);
    if (index == 0) {
      EXPECT_EQ(id, std::this_thread::get_id());
    }
  }
  EXPECT_EQ(distinct.size(), 3u);
}

TEST_F(ThreadPoolTest, ReturnsTheFirstNonZeroResult) {
  set_num_threads(4);
  auto task = [](int64_t index, int64_t, void*) -> int32_t {
    return index == 2 ? 7 : index == 3 ? 9 : 0;
  };
  EXPECT_EQ(parallel_launch(0, task, nullptr), 7);
  auto ok = [](int64_t, int64_t, void*) -> int32_t { return 0; };
  EXPECT_EQ(parallel_launch(0, ok, nullptr), 0);  // nothing stale from the previous launch
}

TEST_F(ThreadPoolTest, NestedLaunchRunsSeriallyInsideTheTask) {
  set_num_threads(4);
  struct Nested {
    std::atomic<int> inner_runs{0};
    std::atomic<bool> serial{true};
  } nested;
  auto inner = [](int64_t index, int64_t num_tasks, void* closure) -> int32_t {
    auto* nested = static_cast<Nested*>(closure);
    if (index != 0 || num_tasks != 1 || !in_parallel_task()) nested->serial = false;
    nested->inner_runs++;
    return 0;
  };
  struct Outer {
    Nested* nested;
    KilnParallelTask inner;
  } outer{&nested, inner};
  auto task = [](int64_t, int64_t, void* closure) -> int32_t {
    auto* outer = static_cast<Outer*>(closure);
    // Through the C table, as compiled code does.
    return runtime_api()->parallel_launch(0, outer->inner, outer->nested);
  };
  EXPECT_EQ(parallel_launch(0, task, &outer), 0);
  EXPECT_EQ(nested.inner_runs, 4);
  EXPECT_TRUE(nested.serial);
  EXPECT_FALSE(in_parallel_task());
}

TEST_F(ThreadPoolTest, SetNumThreadsResizesThePool) {
  for (int threads : {3, 1, 5, 2}) {
    set_num_threads(threads);
    EXPECT_EQ(num_threads(), threads);
    Record record;
    EXPECT_EQ(parallel_launch(0, record_task, &record), 0);
    EXPECT_EQ(record.num_tasks, threads);
  }
  EXPECT_THROW(set_num_threads(0), Error);
  EXPECT_THROW(set_num_threads(-3), Error);
  EXPECT_THROW(set_num_threads(kMaxThreads + 1), Error);
  // Changing the pool from one of its own tasks is refused (it would wait for itself).
  auto resize = [](int64_t, int64_t, void*) -> int32_t {
    set_num_threads(2);
    return 0;
  };
  set_num_threads(2);
  EXPECT_THROW(parallel_launch(0, resize, nullptr), Error);
}

TEST_F(ThreadPoolTest, ExceptionsFromTasksReachTheLauncherAndThePoolSurvives) {
  set_num_threads(4);
  auto throwing = [](int64_t index, int64_t, void*) -> int32_t {
    if (index == 2) throw std::runtime_error("task two failed");
    return 0;
  };
  EXPECT_THROW(parallel_launch(0, throwing, nullptr), std::runtime_error);
  // Through the C table the exception becomes an error code and a message.
  EXPECT_EQ(runtime_api()->parallel_launch(0, throwing, nullptr), -1);
  EXPECT_EQ(take_last_error(), "task two failed");
  Record record;
  EXPECT_EQ(parallel_launch(0, record_task, &record), 0);
  EXPECT_EQ(record.num_tasks, 4);
}

TEST_F(ThreadPoolTest, ConcurrentLaunchersNeitherDeadlockNorLoseTasks) {
  set_num_threads(3);
  std::atomic<int64_t> total{0};
  auto task = [](int64_t, int64_t num_tasks, void* closure) -> int32_t {
    // Each launch adds 60 whatever its task count: 60 / num_tasks per task.
    static_cast<std::atomic<int64_t>*>(closure)->fetch_add(60 / num_tasks);
    return 0;
  };
  std::vector<std::thread> launchers;
  for (int t = 0; t < 3; ++t) {
    launchers.emplace_back([&] {
      for (int i = 0; i < 300; ++i) parallel_launch(0, task, &total);
    });
  }
  for (auto& launcher : launchers) launcher.join();
  EXPECT_EQ(total, 3 * 300 * 60);
}

TEST_F(ThreadPoolTest, ForkedChildStartsItsOwnPool) {
  set_num_threads(3);
  Record warm;
  ASSERT_EQ(parallel_launch(0, record_task, &warm), 0);  // the parent's workers exist
  pid_t child = fork();
  ASSERT_GE(child, 0);
  if (child == 0) {
    Record record;
    int32_t result = parallel_launch(0, record_task, &record);
    bool ok = result == 0 && record.num_tasks == 3 && record.runs[0] == 1 && record.runs[1] == 1 &&
              record.runs[2] == 1;
    _exit(ok ? 0 : 1);
  }
  int status = 0;
  ASSERT_EQ(waitpid(child, &status, 0), child);
  EXPECT_TRUE(WIFEXITED(status) && WEXITSTATUS(status) == 0);
}

TEST_F(ThreadPoolTest, WorkspaceIsAligned) {
  for (uint64_t size : {0ull, 1ull, 63ull, 64ull, 1000ull, 1ull << 20}) {
    void* pointer = runtime_api()->alloc_workspace(size);
    ASSERT_NE(pointer, nullptr);
    EXPECT_EQ(reinterpret_cast<uintptr_t>(pointer) % 64, 0u);
    runtime_api()->free_workspace(pointer);
  }
  EXPECT_EQ(runtime_api()->alloc_workspace(~0ull), nullptr);
  EXPECT_EQ(runtime_api()->version, static_cast<uint32_t>(KILN_RUNTIME_API_VERSION));
}

TEST(ThreadPoolEnvironmentTest, ParsesKilnNumThreads) {
  EXPECT_EQ(threads_from_environment(nullptr), 0);
  EXPECT_EQ(threads_from_environment(""), 0);
  EXPECT_EQ(threads_from_environment("1"), 1);
  EXPECT_EQ(threads_from_environment("12"), 12);
  for (const char* bad : {"0", "-2", "two", "4x", " 4", "3.5", "99999999999"}) {
    EXPECT_KILN_ERROR(threads_from_environment(bad), "KILN_NUM_THREADS='" + std::string(bad));
  }
}

// Runs this test binary again with `environment` prefixed, on one test; returns its output.
std::string run_child(const std::string& environment, int* exit_code) {
  std::string command = environment + " /proc/" + std::to_string(getpid()) +
                        "/exe --gtest_filter=ThreadPoolEnvironmentTest.ChildReportsThreads 2>&1";
  FILE* pipe = popen(command.c_str(), "r");
  std::string output;
  char buffer[512];
  while (size_t n = fread(buffer, 1, sizeof(buffer), pipe)) output.append(buffer, n);
  *exit_code = pclose(pipe);
  return output;
}

// The helper of the next test: only does something in the child process.
TEST(ThreadPoolEnvironmentTest, ChildReportsThreads) {
  const char* expected = std::getenv("KILN_TEST_EXPECTED_THREADS");
  if (expected == nullptr) GTEST_SKIP() << "run by HonoursKilnNumThreads";
  int wanted = std::atoi(expected);
  if (wanted == 0) wanted = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  EXPECT_EQ(num_threads(), wanted);
  Record record;
  EXPECT_EQ(parallel_launch(0, record_task, &record), 0);
  EXPECT_EQ(record.num_tasks, wanted);
}

TEST(ThreadPoolEnvironmentTest, HonoursKilnNumThreads) {
  int code = 0;
  std::string output = run_child("KILN_NUM_THREADS=3 KILN_TEST_EXPECTED_THREADS=3", &code);
  EXPECT_EQ(code, 0) << output;
  EXPECT_NE(output.find("[  PASSED  ] 1 test"), std::string::npos) << output;
  // An invalid value warns once and falls back to the machine's cores.
  output = run_child("KILN_NUM_THREADS=lots KILN_TEST_EXPECTED_THREADS=0", &code);
  EXPECT_EQ(code, 0) << output;
  EXPECT_NE(output.find("kiln: warning: KILN_NUM_THREADS='lots' is not a thread count"),
            std::string::npos)
      << output;
}

}  // namespace
}  // namespace kiln::runtime
