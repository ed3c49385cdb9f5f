// Loading compiled modules (a tiny C library built here with the system compiler) and the
// runtime library's own dependencies.
#include <elf.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "kiln/error.h"
#include "runtime/graph_executor.h"
#include "runtime_test_util.h"

namespace kiln::runtime {
namespace {

using testing::read_file;
using testing::TempDir;
using testing::write_file;

// A module as the compiler produces one: kiln_module_init keeps the API table; the kernel
// doubles 1000 floats on the runtime's thread pool, with a workspace to prove the table works.
constexpr const char* kModuleSource = R"(
#include <stdint.h>
#include "kiln/runtime_api.h"

static const KilnRuntimeApi* api;

int32_t kiln_module_init(const KilnRuntimeApi* table) {
  if (table->version != KILN_RUNTIME_API_VERSION) return 1;
  api = table;
  return 0;
}

struct closure { const float* in; float* out; };

static int32_t double_task(int64_t index, int64_t num_tasks, void* data) {
  struct closure* c = (struct closure*)data;
  int64_t begin = 1000 * index / num_tasks, end = 1000 * (index + 1) / num_tasks;
  for (int64_t i = begin; i < end; ++i) c->out[i] = 2 * c->in[i];
  return 0;
}

int32_t double_1000(void** args) {
  float* scratch = (float*)api->alloc_workspace(4096);
  if (scratch == 0 || ((uintptr_t)scratch & 63) != 0) return 2;
  api->free_workspace(scratch);
  struct closure c = {(const float*)args[0], (float*)args[1]};
  return api->parallel_launch(0, double_task, &c);
}

static const KilnKernelParam double_params[] = {{"float32", 1000, 0},
                                                {"float32", 1000, KILN_PARAM_WRITTEN}};
static const KilnKernelInfo kernels[] = {{"double_1000", double_1000, 2, double_params}};
const KilnKernelTable kiln_module_kernels = {KILN_RUNTIME_API_VERSION, 1, kernels,
                                             kiln_module_init};
)";

constexpr const char* kFailingInitSource = R"(
#include "kiln/runtime_api.h"
static int32_t init(const KilnRuntimeApi* table) { (void)table; return 5; }
const KilnKernelTable kiln_module_kernels = {KILN_RUNTIME_API_VERSION, 0, 0, init};
)";

// A module of the previous runtime API: kernels found by symbol, no table.
constexpr const char* kOlderModuleSource = R"(
#include <stdint.h>
int32_t kiln_module_init(const void* table) { (void)table; return 0; }
int32_t double_1000(void** args) { (void)args; return 0; }
)";

// A table from another version, and one that lists no function.
constexpr const char* kOtherVersionSource = R"(
#include "kiln/runtime_api.h"
static int32_t init(const KilnRuntimeApi* table) { (void)table; return 0; }
const KilnKernelTable kiln_module_kernels = {KILN_RUNTIME_API_VERSION + 7, 0, 0, init};
)";
constexpr const char* kIncompleteTableSource = R"(
#include "kiln/runtime_api.h"
static int32_t init(const KilnRuntimeApi* table) { (void)table; return 0; }
static const KilnKernelInfo kernels[] = {{"k", 0, 0, 0}};
const KilnKernelTable kiln_module_kernels = {KILN_RUNTIME_API_VERSION, 1, kernels, init};
)";

constexpr const char* kNotAModuleSource = "int answer(void) { return 42; }\n";

bool have_c_compiler() { return std::system("command -v cc > /dev/null 2>&1") == 0; }

// Builds `source` into a shared library in `dir`; returns its path ("" on failure).
std::string build_library(const TempDir& dir, const std::string& name, const std::string& source) {
  std::string c_file = dir.file(name + ".c");
  std::string library = dir.file(name + ".so");
  write_file(c_file, source);
  std::string command = "cc -shared -fPIC -O1 -I'" + std::string(KILN_SOURCE_DIR) +
                        "/include' -o '" + library + "' '" + c_file + "' 2>&1";
  if (std::system(command.c_str()) != 0) return "";
  return library;
}

TEST(RuntimeModuleTest, LoadsACompiledLibraryAndRunsItsKernel) {
  if (!have_c_compiler()) GTEST_SKIP() << "no C compiler (cc) on this machine";
  TempDir dir;
  std::string library = build_library(dir, "mod", kModuleSource);
  ASSERT_FALSE(library.empty());
  int saved = num_threads();
  set_num_threads(3);

  for (bool from_bytes : {false, true}) {
    SCOPED_TRACE(from_bytes ? "from bytes" : "from a file");
    std::shared_ptr<KernelModule> module =
        from_bytes ? load_shared_library_bytes(read_file(library), "m.tar:mod.so")
                   : load_shared_library(library);
    EXPECT_EQ(module->find("no_such_kernel"), nullptr);
    // Only the table's kernels: not the module's other symbols, nor libc's.
    EXPECT_EQ(module->find("kiln_module_init"), nullptr);
    EXPECT_EQ(module->find("exit"), nullptr);
    EXPECT_EQ(module->find("abort"), nullptr);
    const KilnKernelInfo* info = module->find("double_1000");
    ASSERT_NE(info, nullptr);
    ASSERT_EQ(info->num_params, 2u);
    EXPECT_STREQ(info->params[1].dtype, "float32");
    EXPECT_EQ(info->params[1].num_elements, 1000u);
    EXPECT_EQ(info->params[1].flags, KILN_PARAM_WRITTEN);
    KilnKernel kernel = info->function;
    std::vector<float> in(1000), out(1000);
    for (int i = 0; i < 1000; ++i) in[static_cast<size_t>(i)] = static_cast<float>(i);
    void* args[] = {in.data(), out.data()};
    ASSERT_EQ(kernel(args), 0);
    for (int i = 0; i < 1000; ++i) ASSERT_EQ(out[static_cast<size_t>(i)], 2.0f * i);

    // And through the graph executor.
    nlohmann::json graph = {
        {"format", "kiln-graph"},
        {"version", 1},
        {"storages", {{{"nbytes", 4000}}, {{"nbytes", 4000}}}},
        {"tensors",
         {{{"name", "x"},
           {"dtype", "float32"},
           {"shape", {1000}},
           {"storage", 0},
           {"kind", "input"}},
          {{"name", "y"},
           {"dtype", "float32"},
           {"shape", {1000}},
           {"storage", 1},
           {"kind", "output"}}}},
        {"inputs", {0}},
        {"outputs", {1}},
        {"params", nlohmann::json::array()},
        {"nodes", {{{"kernel", "double_1000"}, {"args", {0, 1}}, {"name", "double"}}}}};
    GraphExecutor executor(graph.dump(), module, {});
    executor.set_input("x", Tensor::from_float32s(in, {1000}));
    executor.run();
    Tensor y = executor.get_output(0);
    EXPECT_EQ(y.data_as<float>()[999], 1998.0f);
  }
  set_num_threads(saved);
}

TEST(RuntimeModuleTest, LoadErrorsNameTheFile) {
  TempDir dir;
  EXPECT_KILN_ERROR(load_shared_library(dir.file("missing.so")),
                    "cannot load the compiled module '" + dir.file("missing.so") + "': ");
  write_file(dir.file("garbage.so"), "this is not an ELF file");
  EXPECT_KILN_ERROR(load_shared_library(dir.file("garbage.so")), "garbage.so");
  EXPECT_KILN_ERROR(load_shared_library_bytes("not ELF either", "m.tar:mod.so"),
                    "cannot load the compiled module 'm.tar:mod.so'");

  if (!have_c_compiler()) GTEST_SKIP() << "no C compiler (cc) on this machine";
  std::string plain = build_library(dir, "plain", kNotAModuleSource);
  ASSERT_FALSE(plain.empty());
  EXPECT_KILN_ERROR(load_shared_library(plain),
                    "'" + plain +
                        "' is not a Kiln compiled module: it does not export the kernel table "
                        "kiln_module_kernels");
  std::string failing = build_library(dir, "failing", kFailingInitSource);
  ASSERT_FALSE(failing.empty());
  EXPECT_KILN_ERROR(load_shared_library(failing), "its init returned 5");
  std::string older = build_library(dir, "older", kOlderModuleSource);
  ASSERT_FALSE(older.empty());
  EXPECT_KILN_ERROR(load_shared_library(older),
                    "was compiled by another Kiln version: it does not export the kernel table "
                    "kiln_module_kernels (runtime API version " +
                        std::to_string(KILN_RUNTIME_API_VERSION) +
                        "); compile the model again with this Kiln");
  std::string other = build_library(dir, "other", kOtherVersionSource);
  ASSERT_FALSE(other.empty());
  EXPECT_KILN_ERROR(load_shared_library(other),
                    "was compiled by another Kiln version (its kernel table has version " +
                        std::to_string(KILN_RUNTIME_API_VERSION + 7));
  std::string incomplete = build_library(dir, "incomplete", kIncompleteTableSource);
  ASSERT_FALSE(incomplete.empty());
  EXPECT_KILN_ERROR(load_shared_library(incomplete), "kernel 0 of its table is incomplete");
}

// The DT_NEEDED entries of an ELF shared library, read from its dynamic section.
std::vector<std::string> needed_libraries(const std::string& path) {
  std::string image = read_file(path);
  std::vector<std::string> needed;
  if (image.size() < sizeof(Elf64_Ehdr) || std::memcmp(image.data(), ELFMAG, SELFMAG) != 0 ||
      image[EI_CLASS] != ELFCLASS64) {
    ADD_FAILURE() << path << " is not a 64-bit ELF file";
    return needed;
  }
  Elf64_Ehdr header;
  std::memcpy(&header, image.data(), sizeof(header));
  auto section = [&](size_t index) {
    Elf64_Shdr result;
    std::memcpy(&result, image.data() + header.e_shoff + index * header.e_shentsize,
                sizeof(result));
    return result;
  };
  for (size_t i = 0; i < header.e_shnum; ++i) {
    Elf64_Shdr dynamic = section(i);
    if (dynamic.sh_type != SHT_DYNAMIC) continue;
    Elf64_Shdr strings = section(dynamic.sh_link);
    for (size_t offset = 0; offset + sizeof(Elf64_Dyn) <= dynamic.sh_size;
         offset += sizeof(Elf64_Dyn)) {
      Elf64_Dyn entry;
      std::memcpy(&entry, image.data() + dynamic.sh_offset + offset, sizeof(entry));
      if (entry.d_tag == DT_NULL) break;
      if (entry.d_tag == DT_NEEDED)
        needed.emplace_back(image.data() + strings.sh_offset + entry.d_un.d_val);
    }
  }
  return needed;
}

TEST(RuntimeLibraryTest, DependsOnNeitherLLVMNorProtobuf) {
  // The tests run as build*/bin/kiln_tests; the library is build*/lib/libkiln_runtime.so.
  std::filesystem::path exe = std::filesystem::read_symlink("/proc/self/exe");
  std::filesystem::path library = exe.parent_path().parent_path() / "lib" / "libkiln_runtime.so";
  ASSERT_TRUE(std::filesystem::exists(library)) << library;
  std::vector<std::string> needed = needed_libraries(library.string());
  std::string listing;
  for (const std::string& name : needed) listing += name + " ";
  // Sanity: the reader found the real dependencies, so an empty check cannot pass by accident.
  EXPECT_TRUE(std::any_of(needed.begin(), needed.end(), [](const std::string& n) {
    return n.find("libarchive") == 0;
  })) << listing;
  for (std::string name : needed) {
    std::transform(name.begin(), name.end(), name.begin(),
                   [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
    EXPECT_EQ(name.find("llvm"), std::string::npos) << listing;
    EXPECT_EQ(name.find("protobuf"), std::string::npos) << listing;
    EXPECT_EQ(name.find("onnx"), std::string::npos) << listing;
  }
}

}  // namespace
}  // namespace kiln::runtime
