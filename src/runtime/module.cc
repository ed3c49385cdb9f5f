// The C API table handed to compiled modules, and loading compiled shared libraries.
#include <dlfcn.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <memory>
#include <string>

#include "kiln/error.h"
#include "runtime/graph_executor.h"
#include "runtime/thread_pool.h"

namespace kiln::runtime {

namespace {

thread_local std::string t_last_error;

// The table's entries are called from compiled code: no exception may escape them.
int32_t api_parallel_launch(int64_t max_tasks, KilnParallelTask task, void* closure) noexcept {
  try {
    return parallel_launch(max_tasks, task, closure);
  } catch (const std::exception& error) {
    set_last_error(error.what());
  } catch (...) {
    set_last_error("unknown exception in a parallel task");
  }
  return -1;
}

void* api_alloc_workspace(uint64_t nbytes) noexcept { return alloc_workspace(nbytes); }

void api_free_workspace(void* ptr) noexcept { free_workspace(ptr); }

const KilnRuntimeApi kRuntimeApi = {
    KILN_RUNTIME_API_VERSION,
    api_parallel_launch,
    api_alloc_workspace,
    api_free_workspace,
};

std::string dlerror_text() {
  const char* text = dlerror();
  return text != nullptr ? text : "unknown error";
}

class SharedLibraryModule : public KernelModule {
 public:
  explicit SharedLibraryModule(void* handle) : handle_(handle) {}
  ~SharedLibraryModule() override { dlclose(handle_); }
  SharedLibraryModule(const SharedLibraryModule&) = delete;
  SharedLibraryModule& operator=(const SharedLibraryModule&) = delete;

  KilnKernel find(const std::string& name) const override {
    return reinterpret_cast<KilnKernel>(dlsym(handle_, name.c_str()));
  }

 private:
  void* handle_;
};

// dlopen()s `open_path` and initialises it; messages name the library as `display_name`.
std::shared_ptr<KernelModule> open_module(const std::string& open_path,
                                          const std::string& display_name) {
  // RTLD_LOCAL: two models' kernels may share names; each module keeps its own.
  void* handle = dlopen(open_path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (handle == nullptr) {
    throw Error("cannot load the compiled module '" + display_name + "': " + dlerror_text());
  }
  auto module = std::make_shared<SharedLibraryModule>(handle);  // dlclose()s on any error below
  auto init = reinterpret_cast<KilnModuleInit>(dlsym(handle, "kiln_module_init"));
  if (init == nullptr) {
    throw Error("'" + display_name +
                "' is not a Kiln compiled module: it does not export kiln_module_init");
  }
  int32_t code = init(runtime_api());
  if (code != 0) {
    throw Error("'" + display_name + "' failed to initialise (kiln_module_init returned " +
                std::to_string(code) + "); it may have been compiled for another Kiln version " +
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
      // The fd stays open while the module is loaded: glibc's dlopen returns an already loaded
      // library whose name matches, so a second module loaded while this one lives must not get
      // the same /proc/self/fd/N name (a reused fd number would hand it this module's kernels).
      return std::shared_ptr<KernelModule>(module.get(), [module, fd](KernelModule*) mutable {
        module.reset();  // dlclose() first
        ::close(fd);
      });
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
