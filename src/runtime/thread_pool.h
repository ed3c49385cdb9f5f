// The runtime's one persistent thread pool, behind KilnRuntimeApi::parallel_launch.
//
// Workers are created on the first parallel launch (num_threads() - 1 of them: the launching
// thread runs task 0). Between launches a worker spins briefly, so that back-to-back kernels
// start without a wake-up, then sleeps. A launch from inside a task, or while another thread's
// launch holds the pool, runs serially on the calling thread: no deadlock, no oversubscription.
#pragma once

#include <cstdint>
#include <string>

#include "kiln/runtime_api.h"

namespace kiln::runtime {

// Runs task(i, n, closure) for i in [0, n), n = min(num_threads(), max_tasks) (max_tasks <= 0
// means num_threads()). Returns the result of the lowest-numbered task that returned non-zero,
// or 0. A C++ exception thrown by a task is rethrown here once every task has finished.
int32_t parallel_launch(int64_t max_tasks, KilnParallelTask task, void* closure);

// True on a thread that is running a task of a parallel launch.
bool in_parallel_task();

// Scratch memory, 64-byte aligned; nullptr when out of memory. nbytes == 0 gives a valid pointer.
void* alloc_workspace(uint64_t nbytes);
void free_workspace(void* ptr);

// The message of the last exception that the C API table caught on this thread (it cannot cross
// into compiled code), cleared by reading it; empty when none.
void set_last_error(std::string message);
std::string take_last_error();

// KILN_NUM_THREADS parsed: the thread count, or 0 when unset. kiln::Error naming the variable
// when it is set to anything but a positive integer (at most kMaxThreads).
int threads_from_environment(const char* value);
constexpr int kMaxThreads = 1024;

}  // namespace kiln::runtime
