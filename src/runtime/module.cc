// The C API table handed to compiled modules, and loading compiled shared libraries.
#include <dlfcn.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>

#include "kiln/error.h"
#include "runtime/graph_executor.h"
#include "runtime/thread_pool.h"

namespace kiln::runtime {

namespace {

thread_local std::string t_last_error;

// A parallel launch from compiled code: each task's message (set_error on a worker thread) is
// carried back to the launching thread, where the executor reads it.
struct LaunchClosure {
  KilnParallelTask task;
  void* closure;
  std::mutex mutex;
  std::string first_message;
};

int32_t run_task_keeping_message(int64_t index, int64_t num_tasks, void* data) {
  auto* launch = static_cast<LaunchClosure*>(data);
  int32_t code = launch->task(index, num_tasks, launch->closure);
  if (code != 0) {
    std::string message = take_last_error();
    std::lock_guard<std::mutex> lock(launch->mutex);
    if (launch->first_message.empty()) launch->first_message = std::move(message);
  }
  return code;
}

// The table's entries are called from compiled code: no exception may escape them.
int32_t api_parallel_launch(int64_t max_tasks, KilnParallelTask task, void* closure) noexcept {
  try {
    LaunchClosure launch{task, closure, {}, {}};
    int32_t code = parallel_launch(max_tasks, run_task_keeping_message, &launch);
    if (code != 0 && !launch.first_message.empty()) set_last_error(launch.first_message);
    return code;
  } catch (const std::exception& error) {
    set_last_error(error.what());
  } catch (...) {
    set_last_error("unknown exception in a parallel task");
  }
  return -1;
}

void* api_alloc_workspace(uint64_t nbytes) noexcept { return alloc_workspace(nbytes); }

void api_free_workspace(void* ptr) noexcept { free_workspace(ptr); }

void api_set_error(const char* message) noexcept {
  try {
    set_last_error(message != nullptr ? message : "a kernel failed without a message");
  } catch (...) {  // out of memory for the message: the code alone is reported
  }
}

void api_index_out_of_range(const char* op, int64_t axis, int64_t index, int64_t size) noexcept {
  try {
    set_last_error(std::string(op != nullptr ? op : "an operator") + ": index " +
                   std::to_string(index) + " is out of range for axis " + std::to_string(axis) +
                   " of size " + std::to_string(size));
  } catch (...) {  // out of memory for the message: the code alone is reported
  }
}

const KilnRuntimeApi kRuntimeApi = {
    KILN_RUNTIME_API_VERSION, api_parallel_launch, api_alloc_workspace,
    api_free_workspace,       api_set_error,       api_index_out_of_range,
};

std::string dlerror_text() {
  const char* text = dlerror();
  return text != nullptr ? text : "unknown error";
}

// Kernels by name from a module's exported table; `owner` keeps the code alive.
class TableModule : public KernelModule {
 public:
  TableModule(const KilnKernelTable& table, std::shared_ptr<void> owner)
      : owner_(std::move(owner)) {
    for (uint32_t i = 0; i < table.num_kernels; ++i) {
      kernels_.emplace(table.kernels[i].name, &table.kernels[i]);
    }
  }

  const KilnKernelInfo* find(const std::string& name) const override {
    auto it = kernels_.find(name);
    return it == kernels_.end() ? nullptr : it->second;
  }

 private:
  std::shared_ptr<void> owner_;
  std::map<std::string, const KilnKernelInfo*> kernels_;
};

// dlopen()s `open_path` and initialises it; messages name the library as `display_name`.
std::shared_ptr<KernelModule> open_module(const std::string& open_path,
                                          const std::string& display_name) {
  // RTLD_LOCAL: two models' kernels may share names; each module keeps its own.
  void* handle = dlopen(open_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    throw Error("cannot load the compiled module '" + display_name + "': " + dlerror_text());
  }
  std::shared_ptr<void> owner(handle, [](void* library) { dlclose(library); });
  // The one symbol looked up: everything else is reached through the table.
  const auto* table = static_cast<const KilnKernelTable*>(dlsym(handle, KILN_KERNEL_TABLE_SYMBOL));
  if (table == nullptr) {
    bool older_kiln = dlsym(handle, "kiln_module_init") != nullptr;
    throw Error(
        "'" + display_name + "' " +
        (older_kiln ? "was compiled by another Kiln version" : "is not a Kiln compiled module") +
        ": it does not export the kernel table " + KILN_KERNEL_TABLE_SYMBOL +
        " (runtime API version " + std::to_string(KILN_RUNTIME_API_VERSION) +
        "); compile the model again with this Kiln");
  }
  std::shared_ptr<KernelModule> module = module_from_table(table, display_name, owner);
  int32_t code = table->init(runtime_api());
  if (code != 0) {
    throw Error("'" + display_name + "' failed to initialise (its init returned " +
                std::to_string(code) + "); it may have been compiled by another Kiln version " +
                "(runtime API version " + std::to_string(KILN_RUNTIME_API_VERSION) +
                "): compile it again");
  }
  return module;
}

}  // namespace

void set_last_error(std::string message) { t_last_error = std::move(message); }

std::string take_last_error() {
  std::string message = std::move(t_last_error);
  t_last_error.clear();
  return message;
}

const KilnRuntimeApi* runtime_api() { return &kRuntimeApi; }

std::shared_ptr<KernelModule> module_from_table(const KilnKernelTable* table,
                                                const std::string& display_name,
                                                std::shared_ptr<void> owner) {
  auto another_version = [&](const std::string& what) -> Error {
    return Error("'" + display_name + "' was compiled by another Kiln version (" + what +
                 "; this runtime reads runtime API version " +
                 std::to_string(KILN_RUNTIME_API_VERSION) + "): compile the model again");
  };
  KILN_CHECK(table != nullptr);
  if (table->version != KILN_RUNTIME_API_VERSION) {
    throw another_version("its kernel table has version " + std::to_string(table->version));
  }
  // The module is native code and trusted (docs/formats.md): these checks catch a compiler bug
  // or a damaged table, not malice.
  if (table->init == nullptr || (table->num_kernels > 0 && table->kernels == nullptr)) {
    throw another_version("its kernel table is incomplete");
  }
  std::set<std::string> names;
  for (uint32_t i = 0; i < table->num_kernels; ++i) {
    const KilnKernelInfo& kernel = table->kernels[i];
    if (kernel.name == nullptr || kernel.function == nullptr ||
        (kernel.num_params > 0 && kernel.params == nullptr)) {
      throw another_version("kernel " + std::to_string(i) + " of its table is incomplete");
    }
    for (uint64_t p = 0; p < kernel.num_params; ++p) {
      if (kernel.params[p].dtype == nullptr || !dtype_from_name(kernel.params[p].dtype)) {
        throw another_version("kernel '" + std::string(kernel.name) + "' has parameter " +
                              std::to_string(p) + " of an unknown dtype");
      }
    }
    if (!names.insert(kernel.name).second) {
      throw another_version("its table lists kernel '" + std::string(kernel.name) + "' twice");
    }
  }
  return std::make_shared<TableModule>(*table, std::move(owner));
}

std::shared_ptr<KernelModule> load_shared_library(const std::string& path) {
  // Without a slash dlopen() searches the library path instead of opening the file named.
  std::string open_path = path.find('/') == std::string::npos ? "./" + path : path;
  return open_module(open_path, path);
}

std::shared_ptr<KernelModule> load_shared_library_bytes(const std::string& bytes,
                                                        const std::string& display_name) {
  // An anonymous in-memory file leaves nothing behind; a temporary file (unlinked once loaded) is
  // the fallback where memfd is unavailable or cannot be mapped executable.
  auto write_all = [&](int fd) {
    size_t done = 0;
    while (done < bytes.size()) {
      ssize_t written = ::write(fd, bytes.data() + done, bytes.size() - done);
      if (written < 0 && errno == EINTR) continue;
      if (written <= 0) return false;
      done += static_cast<size_t>(written);
    }
    return true;
  };

  int fd = memfd_create("kiln-module.so", MFD_CLOEXEC);
  if (fd >= 0) {
    bool written = write_all(fd);
    std::string fd_path = "/proc/self/fd/" + std::to_string(fd);
    void* probe = written ? dlopen(fd_path.c_str(), RTLD_NOW | RTLD_LOCAL) : nullptr;
    if (probe != nullptr) {
      // The module is mapped; open_module takes its own reference, then ours is dropped.
      std::shared_ptr<KernelModule> module;
      try {
        module = open_module(fd_path, display_name);
      } catch (...) {
        dlclose(probe);
        ::close(fd);
        throw;
      }
      dlclose(probe);
      ::close(fd);
      return module;
    }
    ::close(fd);
  }

  const char* tmpdir = std::getenv("TMPDIR");
  std::string pattern = std::string(tmpdir && *tmpdir ? tmpdir : "/tmp") + "/kiln-module-XXXXXX.so";
  fd = mkstemps(pattern.data(), 3);
  if (fd < 0) {
    throw Error("cannot load the compiled module '" + display_name +
                "': cannot create a temporary file (" + std::strerror(errno) + ")");
  }
  bool written = write_all(fd);
  ::close(fd);
  if (!written) {
    ::unlink(pattern.c_str());
    throw Error("cannot load the compiled module '" + display_name + "': cannot write " + pattern);
  }
  try {
    auto module = open_module(pattern, display_name);
    ::unlink(pattern.c_str());
    return module;
  } catch (...) {
    ::unlink(pattern.c_str());
    throw;
  }
}

}  // namespace kiln::runtime
