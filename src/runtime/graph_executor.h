// The graph executor: runs a compiled model. It reads the graph (mod.json, see docs/formats.md),
// allocates every storage once (the compiler planned them by liveness), binds the parameters,
// and on each run() calls the kernels in order. Nothing is allocated per inference.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "kiln/runtime_api.h"
#include "kiln/tensor.h"

namespace kiln::runtime {

// A loaded compiled module: its kernels by name, as its exported kernel table lists them
// (include/kiln/runtime_api.h). Kernels are found only through that table, never by a symbol
// search, so a graph can call nothing but the module's kernels.
class KernelModule {
 public:
  virtual ~KernelModule() = default;
  // The kernel's table entry (entry point and parameter signature); nullptr when the module has
  // no such kernel.
  virtual const KilnKernelInfo* find(const std::string& name) const = 0;
};

// A KernelModule over `table` (which `owner` keeps alive). kiln::Error naming `display_name` when
// the table is of another runtime API version or incomplete. Does not call table->init.
std::shared_ptr<KernelModule> module_from_table(const KilnKernelTable* table,
                                                const std::string& display_name,
                                                std::shared_ptr<void> owner = nullptr);

// dlopen()s a shared library produced by the compiler and calls its kiln_module_init with the
// runtime's API table. kiln::Error naming the file when it does not load.
std::shared_ptr<KernelModule> load_shared_library(const std::string& path);
// The same from the library's bytes (a package's mod.so), leaving no file behind (an in-memory
// file, or a temporary file removed once loaded). Messages name the library `display_name`.
std::shared_ptr<KernelModule> load_shared_library_bytes(const std::string& bytes,
                                                        const std::string& display_name);

// The runtime's API table (thread pool, workspace) for compiled code.
const KilnRuntimeApi* runtime_api();

struct TensorSpec {
  std::string name;
  DType dtype;
  std::vector<int64_t> shape;
};

// One inference at a time: an executor owns its buffers, so concurrent runs need an executor
// each (they share the module and may share the parameter tensors).
class GraphExecutor {
 public:
  // `params`: parameter name -> value, as read from mod.params. kiln::Error when the graph is
  // malformed, names a kernel the module lacks, or a parameter is missing or misshapen.
  GraphExecutor(const std::string& graph_json, std::shared_ptr<KernelModule> module,
                const std::map<std::string, Tensor>& params);
  ~GraphExecutor();

  const std::vector<TensorSpec>& inputs() const;
  const std::vector<TensorSpec>& outputs() const;
  // Copies `value` into the input's storage; kiln::Error naming the expected name, shape and dtype
  // when it does not match.
  void set_input(const std::string& name, const Tensor& value);
  // Runs all kernels; kiln::Error naming the kernel when one fails.
  void run();
  // A copy of output i (0-based).
  Tensor get_output(size_t index) const;
  // Bytes allocated for storages (inputs, intermediates, outputs) and parameters.
  size_t storage_bytes() const;
  size_t param_bytes() const;

  struct KernelTiming {
    std::string kernel;
    std::string name;              // source node name(s)
    std::vector<std::string> ops;  // the fused operators (mod.json's "ops")
    double seconds;                // total over the profiled runs
    int64_t calls;
  };
  // Runs `runs` times timing each node (one entry per node, in launch order). A separate loop
  // from run(), so that ordinary inference pays nothing for profiling.
  std::vector<KernelTiming> profile(int runs);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// TVM-style timing: `repeat` measurements, each the mean of `number` runs (number raised so that a
// measurement lasts at least min_repeat_ms).
struct BenchmarkResult {
  std::vector<double> results;  // seconds per run, one per repeat
  double mean = 0, median = 0, max = 0, min = 0, std = 0;
};
BenchmarkResult time_evaluator(const std::function<void()>& fn, int number, int repeat,
                               double min_repeat_ms = 0);

// Threads used by parallel loops: KILN_NUM_THREADS when set, else the machine's cores.
int num_threads();
void set_num_threads(int threads);

}  // namespace kiln::runtime
