// libFuzzer target: the package reader (src/runtime/package.cc, params.cc) and the graph
// executor's checks of mod.json against the parameters (src/runtime/graph_executor.cc).
//
// The first byte picks the mode:
//   even: the rest is a package (.tar), read with read_package (checksums verified), then its
//         mod.params and mod.json go through the executor's construction as below;
//   odd:  the rest is "<4-byte little-endian length of mod.json><mod.json><mod.params>", which
//         skips the tar and its checksums so that mutations reach the graph checks.
// Never is a fuzzed mod.so loaded (that would run the input as code): the kernels come from a
// trusted module, the mod.so of the package named by $KILN_FUZZ_PACKAGE (make-corpus.py compiles
// one; fuzz/run.sh sets it), so that the executor checks each call against real kernel
// signatures. Without it, an empty kernel table (every kernel is then missing). Nothing is run.
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <string>

#include "fuzz_util.h"
#include "kiln/runtime_api.h"
#include "runtime/graph_executor.h"
#include "runtime/package.h"

namespace {

std::shared_ptr<kiln::runtime::KernelModule> trusted_module() {
  static const std::shared_ptr<kiln::runtime::KernelModule> module = [] {
    const char* package = std::getenv("KILN_FUZZ_PACKAGE");
    if (package != nullptr && *package != '\0') {
      kiln::runtime::PackageContents contents = kiln::runtime::read_package(package);
      return kiln::runtime::load_shared_library_bytes(contents.library,
                                                      std::string(package) + ":mod.so");
    }
    static const KilnKernelTable kEmpty = {KILN_RUNTIME_API_VERSION, 0, nullptr, nullptr};
    return kiln::runtime::module_from_table(&kEmpty, "an empty kernel table");
  }();
  return module;
}

void build_executor(const std::string& graph_json, const std::string& params_bytes) {
  std::map<std::string, kiln::Tensor> params =
      kiln::runtime::deserialize_params(params_bytes, "fuzz/mod.params");
  kiln::runtime::GraphExecutor executor(graph_json, trusted_module(), params);
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) return 0;
  bool framed = (data[0] & 1) != 0;
  const uint8_t* rest = data + 1;
  size_t rest_size = size - 1;
  if (!framed) {
    std::string path = kiln::fuzz::write_scratch("package.tar", rest, rest_size);
    kiln::fuzz::expect_clean([&] {
      kiln::runtime::PackageContents contents = kiln::runtime::read_package(path);
      build_executor(contents.graph_json, contents.params);
    });
    return 0;
  }
  if (rest_size < 4) return 0;
  uint32_t graph_size;
  std::memcpy(&graph_size, rest, 4);
  if (graph_size > rest_size - 4) return 0;
  std::string graph_json(reinterpret_cast<const char*>(rest + 4), graph_size);
  std::string params_bytes(reinterpret_cast<const char*>(rest + 4 + graph_size),
                           rest_size - 4 - graph_size);
  kiln::fuzz::expect_clean([&] { build_executor(graph_json, params_bytes); });
  return 0;
}
