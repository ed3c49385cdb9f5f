// Helpers for code generation tests: runtime tables and a one-call JIT.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "codegen/llvm/llvm_module.h"
#include "codegen/target.h"
#include "kiln/runtime_api.h"
#include "tir/stmt.h"

namespace kiln::codegen::testing {

// Runs the tasks one after another (deterministic, single-threaded).
inline int32_t serial_launch(int64_t max_tasks, KilnParallelTask task, void* closure) {
  int64_t n = max_tasks > 0 && max_tasks < 3 ? max_tasks : 3;
  for (int64_t i = 0; i < n; ++i) {
    if (int32_t result = task(i, n, closure)) return result;
  }
  return 0;
}

// Runs the tasks on fresh threads (real concurrency).
inline int32_t threaded_launch(int64_t max_tasks, KilnParallelTask task, void* closure) {
  int64_t n = max_tasks > 0 && max_tasks < 4 ? max_tasks : 4;
  std::vector<std::thread> threads;
  std::vector<int32_t> results(static_cast<size_t>(n));
  for (int64_t i = 0; i < n; ++i) {
    threads.emplace_back([&, i] { results[static_cast<size_t>(i)] = task(i, n, closure); });
  }
  for (std::thread& thread : threads) thread.join();
  for (int32_t result : results) {
    if (result != 0) return result;
  }
  return 0;
}

inline std::atomic<int>& live_workspaces() {
  static std::atomic<int> count{0};
  return count;
}

inline void* test_alloc_workspace(uint64_t nbytes) {
  ++live_workspaces();
  return std::aligned_alloc(64, (nbytes + 63) / 64 * 64);
}

inline void test_free_workspace(void* ptr) {
  --live_workspaces();
  std::free(ptr);
}

inline void* failing_alloc_workspace(uint64_t) { return nullptr; }

// The last message a kernel left through set_error (cleared by reading it).
inline std::string& kernel_error() {
  static std::string message;
  return message;
}

inline void test_set_error(const char* message) { kernel_error() = message; }

// The runtime's message for an index out of range (src/runtime/module.cc).
inline void test_index_out_of_range(const char* op, int64_t axis, int64_t index, int64_t size) {
  kernel_error() = std::string(op) + ": index " + std::to_string(index) +
                   " is out of range for axis " + std::to_string(axis) + " of size " +
                   std::to_string(size);
}

inline const KilnRuntimeApi* serial_api() {
  static const KilnRuntimeApi api = {KILN_RUNTIME_API_VERSION, serial_launch,
                                     test_alloc_workspace,     test_free_workspace,
                                     test_set_error,           test_index_out_of_range};
  return &api;
}

inline const KilnRuntimeApi* threaded_api() {
  static const KilnRuntimeApi api = {KILN_RUNTIME_API_VERSION, threaded_launch,
                                     test_alloc_workspace,     test_free_workspace,
                                     test_set_error,           test_index_out_of_range};
  return &api;
}

// A compiled kernel that keeps its module alive.
struct JitKernel {
  std::unique_ptr<LLVMModule> module;
  KilnKernel fn = nullptr;

  template <typename... Buffers>
  int32_t operator()(Buffers*... buffers) const {
    void* args[] = {static_cast<void*>(buffers)...};
    return fn(args);
  }
};

inline JitKernel jit(const tir::PrimFunc& func, const KilnRuntimeApi* api = serial_api(),
                     const std::string& target = "llvm") {
  JitKernel kernel;
  kernel.module = LLVMModule::build({func}, parse_target(target));
  kernel.fn = kernel.module->jit_lookup(func.name, api);
  return kernel;
}

// 64-byte aligned storage, as the runtime hands kernels.
template <typename T>
class AlignedVector {
 public:
  explicit AlignedVector(size_t size, T value = T())
      : size_(size),
        data_(static_cast<T*>(std::aligned_alloc(64, (size * sizeof(T) + 63) / 64 * 64 + 64))) {
    for (size_t i = 0; i < size; ++i) data_.get()[i] = value;
  }
  T* data() { return data_.get(); }
  T& operator[](size_t i) { return data_.get()[i]; }
  size_t size() const { return size_; }

 private:
  struct Free {
    void operator()(T* ptr) const { std::free(ptr); }
  };
  size_t size_;
  std::unique_ptr<T, Free> data_;
};

}  // namespace kiln::codegen::testing
