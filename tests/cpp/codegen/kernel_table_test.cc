// The kernel table a module exports (kiln_module_kernels), and run-time index checks
// (tir::checked_index): what the runtime relies on to refuse hostile graphs and indices.
#include <dlfcn.h>
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "codegen/llvm/llvm_module.h"
#include "codegen_test_util.h"
#include "kiln/error.h"
#include "kiln/runtime_api.h"
#include "tir/checked_index.h"

namespace kiln::codegen {
namespace {

using namespace kiln::tir;  // NOLINT: the IR reads better unqualified in tests
using testing::AlignedVector;

constexpr DataType kF32{DType::kFloat32, 1};
constexpr DataType kI32{DType::kInt32, 1};

// out[i] = a[i] + b[j] for j = i % 3: three params, the last written.
PrimFunc add_kernel(const std::string& name, int64_t n) {
  Buffer a = make_buffer("a", kF32, {n});
  Buffer b = make_buffer("b", kF32, {3});
  Buffer out = make_buffer("out", kF32, {n});
  Var i_var = make_var("i");
  PrimExpr i(i_var);
  Stmt body = make_for(
      i_var, 0, n, ForKind::kSerial,
      make_store(out, buffer_load(a, {i}) + buffer_load(b, {floormod(i, PrimExpr(3))}), {i}));
  return PrimFunc{name, {a, b, out}, body};
}

// out[i] = data[indices[i]] with the run-time check (a Gather over axis 0 of `extent`).
PrimFunc gather_kernel(int64_t extent, int64_t n, ForKind kind) {
  Buffer data = make_buffer("data", kF32, {extent});
  Buffer indices = make_buffer("indices", kI32, {n});
  Buffer out = make_buffer("out", kF32, {n});
  Var i_var = make_var("i");
  PrimExpr i(i_var);
  PrimExpr index = checked_index(buffer_load(indices, {i}), extent, 0, "Gather");
  Stmt body = make_for(i_var, 0, n, kind, make_store(out, buffer_load(data, {index}), {i}));
  return PrimFunc{"gather", {data, indices, out}, body};
}

TEST(KernelTableTest, SharedLibraryExportsEveryKernelWithItsSignature) {
  auto module =
      LLVMModule::build({add_kernel("add_8", 8), add_kernel("add_5", 5)}, parse_target("llvm"));
  std::filesystem::path dir = std::filesystem::temp_directory_path() / "kiln-table-test";
  std::filesystem::create_directories(dir);
  std::string path = (dir / "mod.so").string();
  module->write_shared_library(path);
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(handle, nullptr) << dlerror();
  const auto* table = static_cast<const KilnKernelTable*>(dlsym(handle, KILN_KERNEL_TABLE_SYMBOL));
  ASSERT_NE(table, nullptr);
  EXPECT_EQ(table->version, static_cast<uint32_t>(KILN_RUNTIME_API_VERSION));
  ASSERT_EQ(table->num_kernels, 2u);
  EXPECT_EQ(reinterpret_cast<void*>(table->init), dlsym(handle, "kiln_module_init"));
  EXPECT_STREQ(table->kernels[0].name, "add_8");
  EXPECT_STREQ(table->kernels[1].name, "add_5");
  for (uint32_t k = 0; k < 2; ++k) {
    const KilnKernelInfo& kernel = table->kernels[k];
    ASSERT_EQ(kernel.num_params, 3u);
    uint64_t n = k == 0 ? 8 : 5;
    EXPECT_STREQ(kernel.params[0].dtype, "float32");
    EXPECT_EQ(kernel.params[0].num_elements, n);
    EXPECT_EQ(kernel.params[1].num_elements, 3u);
    EXPECT_EQ(kernel.params[2].num_elements, n);
    // Only the output is written: what the executor checks against inputs and parameters.
    EXPECT_EQ(kernel.params[0].flags, 0u);
    EXPECT_EQ(kernel.params[1].flags, 0u);
    EXPECT_EQ(kernel.params[2].flags, KILN_PARAM_WRITTEN);
  }
  // The entry points run.
  ASSERT_EQ(table->init(testing::serial_api()), 0);
  AlignedVector<float> a(8, 1.0f), b(3, 2.0f), out(8, 0.0f);
  void* args[] = {a.data(), b.data(), out.data()};
  ASSERT_EQ(table->kernels[0].function(args), 0);
  EXPECT_EQ(out[7], 3.0f);
  dlclose(handle);
  std::filesystem::remove_all(dir);
}

TEST(KernelTableTest, ObjectsAndTheJitCarryTheTableToo) {
  // The unlinked object (cross targets, output_format "tar") defines the table symbol.
  auto cross =
      LLVMModule::build({add_kernel("add_8", 8)}, parse_target("llvm -mtriple=aarch64-linux-gnu"));
  EXPECT_NE(cross->assembly().find(KILN_KERNEL_TABLE_SYMBOL ":"), std::string::npos);
  // The JIT resolves kernels through the table: a name outside it is an error.
  auto jit = LLVMModule::build({add_kernel("add_8", 8)}, parse_target("llvm"));
  EXPECT_NE(jit->jit_lookup("add_8", testing::serial_api()), nullptr);
  EXPECT_THROW(jit->jit_lookup("kiln_module_init", testing::serial_api()), Error);
  EXPECT_THROW(jit->jit_lookup("exit", testing::serial_api()), Error);
}

TEST(CheckedIndexTest, InRangeAndNegativeIndicesWrapOutOfRangeStops) {
  const int64_t extent = 5, n = 37;  // 37: vector body and a scalar tail
  for (ForKind kind : {ForKind::kSerial, ForKind::kVectorized, ForKind::kParallel}) {
    SCOPED_TRACE(static_cast<int>(kind));
    for (const KilnRuntimeApi* api : {testing::serial_api(), testing::threaded_api()}) {
      auto kernel = testing::jit(gather_kernel(extent, n, kind), api);
      AlignedVector<float> data(extent), out(n, 0.0f);
      for (int64_t k = 0; k < extent; ++k) data[k] = 10.0f * static_cast<float>(k);
      AlignedVector<int32_t> indices(n);
      for (int64_t k = 0; k < n; ++k) indices[k] = static_cast<int32_t>(k % 10 - 5);  // -5..4
      testing::kernel_error().clear();
      ASSERT_EQ(kernel(data.data(), indices.data(), out.data()), 0);
      for (int64_t k = 0; k < n; ++k) {
        int64_t index = k % 10 - 5;
        EXPECT_EQ(out[k], data[index < 0 ? index + extent : index]) << k;
      }
      EXPECT_EQ(testing::kernel_error(), "");
      for (int32_t bad : {5, -6, 1 << 30}) {
        indices[n - 2] = bad;
        EXPECT_EQ(kernel(data.data(), indices.data(), out.data()), KILN_INDEX_OUT_OF_RANGE);
        EXPECT_EQ(testing::kernel_error(),
                  "Gather: index " + std::to_string(bad) + " is out of range for axis 0 of size 5");
      }
      indices[n - 2] = 0;
    }
  }
}

}  // namespace
}  // namespace kiln::codegen
