// Kiln's runtime API: run a compiled package (docs/runtime.md). Built into libkiln_runtime, which
// carries no compiler (no LLVM, no protobuf): a deployment links only that library.
//
//   kiln::Session session("resnet50.tar");            // a .tar or an unpacked package directory
//   session.set_input("data", image);                 // copied; or bind_input(): zero-copy
//   session.run();
//   kiln::TensorView scores = session.output(0);      // a view, valid until the next run()
//
// A Session loads mod.so and the weights once; run() allocates nothing. One inference at a time
// per session: a session is not safe to use from several threads at once (open one per thread;
// they share nothing but the process-wide thread pool).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "kiln/error.h"
#include "kiln/tensor.h"

namespace kiln {

// Thrown by Session::run (and the compiler driver) when request_interrupt() was called, e.g. from
// a SIGINT handler: the call stopped between two kernels (or passes). Not a kiln::Error: it is
// not the user's mistake; Python raises KeyboardInterrupt, the CLI exits with code 130.
class Interrupted : public std::runtime_error {
 public:
  Interrupted() : std::runtime_error("interrupted") {}
};

// Process-wide cancellation flag, async-signal-safe to set. Long calls (run, benchmark, compile)
// poll it between kernels/passes and throw Interrupted once it is set; whoever set it clears it
// (clear_interrupt) before the next call.
void request_interrupt() noexcept;
bool interrupt_requested() noexcept;
void clear_interrupt() noexcept;
// Throws Interrupted when interrupt_requested().
void check_interrupt();

// Name, dtype and shape of an input or output of a compiled model (shapes are static).
struct TensorSpec {
  std::string name;
  DType dtype = DType::kFloat32;
  std::vector<int64_t> shape;

  size_t nbytes() const;
  // "float32[1, 3, 224, 224]"
  std::string type_string() const;
};

// Memory that a Session owns or reads: no ownership (of the data or the shape, which lives in
// the session). Compact row-major. Making one allocates nothing.
struct TensorView {
  const void* data = nullptr;
  size_t nbytes = 0;
  DType dtype = DType::kFloat32;
  std::span<const int64_t> shape;
  template <typename T>
  const T* data_as() const {
    return static_cast<const T*>(data);
  }
};

struct SessionOptions {
  // Threads for this session's runs; 0: the process default (KILN_NUM_THREADS, else the cores,
  // or what set_num_threads chose).
  int num_threads = 0;
};

// Per-kernel timing of Session::profile.
struct KernelTiming {
  std::string kernel;
  std::string name;              // source node name(s)
  std::vector<std::string> ops;  // the fused operators (mod.json's "ops")
  double seconds = 0;            // total over the profiled runs
  int64_t calls = 0;
};

class Session {
 public:
  // Opens a package: a .tar from kiln compile, or a directory holding its members (mod.so,
  // mod.json, mod.params, metadata.json). Every checksum is verified, mod.so is loaded and the
  // weights bound. kiln::Error naming the path and the problem.
  explicit Session(const std::string& package_path, const SessionOptions& options = {});
  ~Session();
  Session(Session&&) noexcept;
  Session& operator=(Session&&) noexcept;
  Session(const Session&) = delete;
  Session& operator=(const Session&) = delete;

  const std::string& path() const;
  // The target the package was compiled for ("llvm -mcpu=...") and metadata.json as stored.
  const std::string& target() const;
  const std::string& metadata_json() const;

  const std::vector<TensorSpec>& inputs() const;
  const std::vector<TensorSpec>& outputs() const;
  // Index of the input/output named `name`; kiln::Error listing the names when there is none.
  size_t input_index(const std::string& name) const;
  size_t output_index(const std::string& name) const;

  // Copies `value` into the input's storage. kiln::Error naming the expected name, dtype and
  // shape when they differ.
  void set_input(const std::string& name, const Tensor& value);
  void set_input(size_t index, const Tensor& value);
  // Copies `nbytes` bytes at `data`, declared as `dtype` and `shape` (checked as above).
  void set_input(size_t index, DType dtype, const std::vector<int64_t>& shape, const void* data,
                 size_t nbytes);
  // Zero copy: the next runs read the input from the caller's `data` (Tensor::kAlignment-aligned,
  // compact row-major, `nbytes` bytes), which must stay valid and unchanged while any run() that
  // reads it executes, until the input is set again (set_input copies into the session's own
  // storage again, bind_input rebinds). kiln::Error for misalignment, as for set_input otherwise.
  void bind_input(size_t index, DType dtype, const std::vector<int64_t>& shape, const void* data,
                  size_t nbytes);

  // Runs every kernel. Allocates nothing. kiln::Error naming a kernel that fails; Interrupted
  // when request_interrupt() was called.
  void run();

  // Output i as a view into the session's storage: its contents are overwritten by the next run()
  // and it dangles once the session is gone.
  TensorView output(size_t index) const;
  // Output i copied into a new tensor.
  Tensor get_output(size_t index) const;

  int num_threads() const;  // the effective count (resolves 0)
  // kiln::Error unless 1 <= threads <= 1024; 0 returns to the process default.
  void set_num_threads(int threads);

  // Times every kernel over `runs` inferences (one entry per node, in launch order).
  std::vector<KernelTiming> profile(int runs);
  // Bytes of the planned storages (inputs, intermediates, outputs) and of the bound weights.
  size_t storage_bytes() const;
  size_t param_bytes() const;
  // Kernel launches per inference.
  size_t num_kernels() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// "0.1.0": the runtime's version, equal to the compiler's that built it.
std::string runtime_version();

}  // namespace kiln
