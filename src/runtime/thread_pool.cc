#include "runtime/thread_pool.h"

#include <pthread.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "kiln/error.h"
#include "runtime/graph_executor.h"

namespace kiln::runtime {

namespace {

// How long an idle worker (or a launcher waiting for its workers) polls before it sleeps. Kernels
// of one inference follow each other within microseconds; this keeps them from paying a futex
// wake-up each, while an idle process stops burning CPU almost at once.
constexpr auto kSpinTime = std::chrono::microseconds(100);

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
  __builtin_ia32_pause();
#elif defined(__aarch64__)
  asm volatile("yield");
#endif
}

// Waits until `value` differs from `old` and returns the new value: spin, then futex wait.
template <typename T>
T wait_for_change(const std::atomic<T>& value, T old) {
  auto deadline = std::chrono::steady_clock::now() + kSpinTime;
  for (int i = 0;; ++i) {
    T now = value.load(std::memory_order_acquire);
    if (now != old) return now;
    if ((i & 63) == 63) {
      if (std::chrono::steady_clock::now() > deadline) break;
      // Offer the core to runnable threads: on a busy machine, or with more threads than cores,
      // the thread we wait for may be waiting for this core (measured: 5-30x faster launches
      // on 2 loaded cores; free when nothing else is runnable).
      std::this_thread::yield();
    }
    cpu_relax();
  }
  for (;;) {
    value.wait(old, std::memory_order_acquire);
    T now = value.load(std::memory_order_acquire);
    if (now != old) return now;
  }
}

thread_local bool t_in_parallel_task = false;
// The calling session's thread count (ThreadCountScope), 0: the process-wide num_threads().
thread_local int t_session_threads = 0;

// Marks the current thread as running a task, so that a nested launch runs serially.
class TaskScope {
 public:
  TaskScope() : saved_(t_in_parallel_task) { t_in_parallel_task = true; }
  ~TaskScope() { t_in_parallel_task = saved_; }
  TaskScope(const TaskScope&) = delete;
  TaskScope& operator=(const TaskScope&) = delete;

 private:
  bool saved_;
};

int32_t run_serially(KilnParallelTask task, void* closure) {
  TaskScope scope;
  return task(0, 1, closure);
}

// Per-worker wake-up counter on its own cache line: the launcher bumps it to hand the worker the
// current job, so workers that the job does not need are not woken at all.
struct alignas(64) Worker {
  std::atomic<uint32_t> ticket{0};
  std::thread thread;
};

class ThreadPool {
 public:
  explicit ThreadPool(int threads)
      : threads_(threads),
        workers_(std::make_unique<Worker[]>(static_cast<size_t>(threads))),
        results_(static_cast<size_t>(threads)),
        errors_(static_cast<size_t>(threads)) {
    // Worker 0 is the launching thread; workers_[0] stays unused.
    int started = 1;
    try {
      for (; started < threads_; ++started) {
        workers_[started].thread = std::thread([this, i = started] { worker_main(i); });
        std::string name = "kiln-worker-" + std::to_string(started);
        pthread_setname_np(workers_[started].thread.native_handle(), name.substr(0, 15).c_str());
      }
    } catch (...) {
      stop_workers(started);  // the system refused a thread: stop those that did start
      throw;
    }
  }

  ~ThreadPool() { stop_workers(threads_); }

  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return threads_; }

  // One launch at a time: the caller holds the pool's launch mutex.
  int32_t launch(int64_t num_tasks, KilnParallelTask task, void* closure) {
    KILN_CHECK(num_tasks >= 1 && num_tasks <= threads_);
    task_ = task;
    closure_ = closure;
    num_tasks_ = num_tasks;
    remaining_.store(static_cast<int32_t>(num_tasks - 1), std::memory_order_relaxed);
    // The release increment publishes the job fields above to the worker.
    for (int64_t i = 1; i < num_tasks; ++i) {
      workers_[i].ticket.fetch_add(1, std::memory_order_release);
      workers_[i].ticket.notify_one();
    }
    run_task(0);
    for (int32_t left = remaining_.load(std::memory_order_acquire); left != 0;
         left = remaining_.load(std::memory_order_acquire)) {
      wait_for_change(remaining_, left);
    }

    std::exception_ptr error;
    int32_t result = 0;
    for (int64_t i = 0; i < num_tasks; ++i) {
      if (errors_[i] && !error) error = errors_[i];
      errors_[i] = nullptr;
      if (results_[i] != 0 && result == 0) result = results_[i];
    }
    if (error) std::rethrow_exception(error);
    return result;
  }

 private:
  void run_task(int64_t index) {
    TaskScope scope;
    try {
      results_[index] = task_(index, num_tasks_, closure_);
    } catch (...) {
      // Kernels are C code and never throw; a C++ task (tests, host code) might.
      results_[index] = -1;
      errors_[index] = std::current_exception();
    }
  }

  void stop_workers(int started) {
    stop_.store(true, std::memory_order_release);
    for (int i = 1; i < started; ++i) {
      workers_[i].ticket.fetch_add(1, std::memory_order_release);
      workers_[i].ticket.notify_one();
    }
    for (int i = 1; i < started; ++i) workers_[i].thread.join();
  }

  void worker_main(int index) {
    uint32_t seen = 0;
    for (;;) {
      seen = wait_for_change(workers_[index].ticket, seen);
      if (stop_.load(std::memory_order_acquire)) return;
      run_task(index);
      if (remaining_.fetch_sub(1, std::memory_order_acq_rel) == 1) remaining_.notify_one();
    }
  }

  const int threads_;
  std::unique_ptr<Worker[]> workers_;
  // The current job, written by the launcher before it bumps the workers' tickets.
  KilnParallelTask task_ = nullptr;
  void* closure_ = nullptr;
  int64_t num_tasks_ = 0;
  alignas(64) std::atomic<int32_t> remaining_{0};  // worker tasks of this job still running
  std::vector<int32_t> results_;                   // per task, reused by every launch
  std::vector<std::exception_ptr> errors_;
  std::atomic<bool> stop_{false};
};

// The process-wide pool. Deliberately never destroyed: kernels may still run on other threads
// while static destructors run at exit, and blocked workers do not delay exit.
struct PoolState {
  std::mutex mutex;  // serializes launches and resizing
  std::unique_ptr<ThreadPool> pool;
};

std::atomic<PoolState*> g_state{nullptr};
std::atomic<int> g_threads{0};  // 0: not decided yet

void reset_after_fork() {
  // The child has only the forking thread: the workers (and whoever held the mutex) are gone.
  // Leak the old state, whose threads and mutex cannot be touched, and start afresh on demand.
  PoolState* old = g_state.load();
  if (old != nullptr) (void)old->pool.release();
  g_state.store(new PoolState);
}

PoolState& state() {
  static PoolState* initial = [] {
    auto* created = new PoolState;
    g_state.store(created);
    pthread_atfork(nullptr, nullptr, reset_after_fork);
    return created;
  }();
  (void)initial;
  return *g_state.load();
}

int default_threads() {
  if (const char* value = std::getenv("KILN_NUM_THREADS")) {
    try {
      int threads = threads_from_environment(value);
      if (threads > 0) return threads;
    } catch (const Error& error) {
      // The pool is first used from inside compiled code, where an exception cannot travel.
      std::fprintf(stderr, "kiln: warning: %s; using the machine's %u cores\n", error.what(),
                   std::max(1u, std::thread::hardware_concurrency()));
    }
  }
  unsigned cores = std::thread::hardware_concurrency();
  return static_cast<int>(std::clamp(cores, 1u, static_cast<unsigned>(kMaxThreads)));
}

}  // namespace

int threads_from_environment(const char* value) {
  if (value == nullptr || *value == '\0') return 0;
  std::string text(value);
  bool digits = std::all_of(text.begin(), text.end(), [](char c) { return c >= '0' && c <= '9'; });
  long parsed = digits && text.size() <= 9 ? std::strtol(text.c_str(), nullptr, 10) : -1;
  if (parsed < 1 || parsed > kMaxThreads) {
    throw Error("KILN_NUM_THREADS='" + text + "' is not a thread count (a whole number from 1 to " +
                std::to_string(kMaxThreads) + ")");
  }
  return static_cast<int>(parsed);
}

int num_threads() {
  int threads = g_threads.load(std::memory_order_acquire);
  if (threads != 0) return threads;
  int expected = 0;
  g_threads.compare_exchange_strong(expected, default_threads());
  return g_threads.load(std::memory_order_acquire);
}

void set_num_threads(int threads) {
  if (threads < 1 || threads > kMaxThreads) {
    throw Error("the number of threads must be between 1 and " + std::to_string(kMaxThreads) +
                ", got " + std::to_string(threads));
  }
  if (t_in_parallel_task) throw Error("set_num_threads cannot be called from a parallel task");
  PoolState& pool_state = state();
  std::lock_guard lock(pool_state.mutex);
  g_threads.store(threads, std::memory_order_release);
  // Workers of the old size stop now; the next launch starts the new ones.
  if (pool_state.pool && pool_state.pool->threads() != threads) pool_state.pool.reset();
}

bool in_parallel_task() { return t_in_parallel_task; }

ThreadCountScope::ThreadCountScope(int threads) : saved_(t_session_threads) {
  KILN_CHECK(threads >= 0 && threads <= kMaxThreads);
  t_session_threads = threads;
}

ThreadCountScope::~ThreadCountScope() { t_session_threads = saved_; }

int32_t parallel_launch(int64_t max_tasks, KilnParallelTask task, void* closure) {
  KILN_CHECK(task != nullptr);
  if (t_in_parallel_task) return run_serially(task, closure);
  int threads = t_session_threads > 0 ? t_session_threads : num_threads();
  if (threads <= 1 || max_tasks == 1) return run_serially(task, closure);

  PoolState& pool_state = state();
  // Another thread of the process is using the pool: running this launch serially keeps the
  // machine from being oversubscribed, and needs no waiting.
  std::unique_lock lock(pool_state.mutex, std::try_to_lock);
  if (!lock.owns_lock()) return run_serially(task, closure);
  // The global count may have changed before we locked; a session's own count is fixed.
  if (t_session_threads == 0) threads = g_threads.load(std::memory_order_acquire);
  // A pool serves any launch of at most its size (the tasks beyond the launch stay asleep); it
  // is rebuilt for a larger launch, and for a new global count (set_num_threads).
  if (!pool_state.pool || pool_state.pool->threads() < threads) {
    pool_state.pool.reset();
    pool_state.pool = std::make_unique<ThreadPool>(threads);
  }
  int64_t num_tasks = max_tasks > 0 ? std::min<int64_t>(threads, max_tasks) : threads;
  return pool_state.pool->launch(num_tasks, task, closure);
}

void* alloc_workspace(uint64_t nbytes) {
  uint64_t rounded = (std::max<uint64_t>(nbytes, 1) + 63) / 64 * 64;
  if (rounded < nbytes) return nullptr;  // overflow
  return std::aligned_alloc(64, static_cast<size_t>(rounded));
}

void free_workspace(void* ptr) { std::free(ptr); }

}  // namespace kiln::runtime
