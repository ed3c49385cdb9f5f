// LLVMModule's outputs: IR text, assembly (host and cross), objects, shared libraries, JIT.
#include "codegen/llvm/llvm_module.h"

#include <dlfcn.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <fstream>

#include "codegen_test_util.h"
#include "kiln/error.h"
#include "kiln/tensor.h"

namespace kiln::codegen {
namespace {

using namespace kiln::tir;  // NOLINT: the IR reads better unqualified in tests
using testing::AlignedVector;

constexpr DataType kF32{DType::kFloat32, 1};

// out[i] = tanh(a[i]) + b[i] over a parallel loop: a libm call and a runtime call.
PrimFunc tanh_add(int64_t n) {
  Buffer a = make_buffer("a", kF32, {n});
  Buffer b = make_buffer("b", kF32, {n});
  Buffer out = make_buffer("out", kF32, {n});
  Var i_var = make_var("i");
  PrimExpr i(i_var);
  Stmt body = make_for(
      i_var, 0, n, ForKind::kParallel,
      make_store(out, intrinsic("tanh", {buffer_load(a, {i})}) + buffer_load(b, {i}), {i}));
  return PrimFunc{"tanh_add", {a, b, out}, body};
}

class TempDir {
 public:
  TempDir() {
    std::string pattern = (std::filesystem::temp_directory_path() / "kiln-cg-test-XXXXXX").string();
    path_ = mkdtemp(pattern.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  std::string file(const std::string& name) const { return (path_ / name).string(); }

 private:
  std::filesystem::path path_;
};

std::string read_file(const std::string& path) {
  std::ifstream file(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(file), {});
}

TEST(LlvmModuleTest, IrHasKernelsInitAndNoFastMath) {
  auto module = LLVMModule::build({tanh_add(64)}, parse_target("llvm"));
  std::string ir = module->llvm_ir();
  EXPECT_NE(ir.find("@tanh_add(ptr"), std::string::npos);
  EXPECT_NE(ir.find("@kiln_module_init(ptr"), std::string::npos);
  EXPECT_NE(ir.find("@kiln_runtime_api = internal"), std::string::npos);
  EXPECT_NE(ir.find("tanh_add_par_0"), std::string::npos);
  EXPECT_NE(ir.find("tanhf"), std::string::npos);
  EXPECT_EQ(ir.find(" fast "), std::string::npos);
  EXPECT_EQ(ir.find("reassoc"), std::string::npos);
  EXPECT_EQ(ir.find("contract"), std::string::npos);
}

TEST(LlvmModuleTest, LoopHintsAtOptLevelZero) {
  Buffer a = make_buffer("a", kF32, {16});
  Var i_var = make_var("i");
  PrimExpr i(i_var);
  Var j_var = make_var("j");
  PrimExpr j(j_var);
  Stmt body = make_seq({make_for(i_var, 0, 4, ForKind::kUnrolled, make_store(a, 1.0f, {i})),
                        make_for(j_var, 4, 12, ForKind::kVectorized, make_store(a, 2.0f, {j}))});
  auto module =
      LLVMModule::build({PrimFunc{"hints", {a}, body}}, parse_target("llvm -opt-level=0"));
  std::string ir = module->llvm_ir();
  EXPECT_NE(ir.find("llvm.loop.unroll.full"), std::string::npos) << ir;
  EXPECT_NE(ir.find("llvm.loop.vectorize.enable"), std::string::npos) << ir;
}

TEST(LlvmModuleTest, HostAssemblyUsesVectorInstructions) {
  Target target = parse_target("llvm -mtriple=x86_64-linux-gnu -mcpu=skylake-avx512");
  if (!target.is_host()) GTEST_SKIP() << "not an x86-64 host";
  const int64_t n = 1024;
  Buffer a = make_buffer("a", kF32, {n});
  Buffer b = make_buffer("b", kF32, {n});
  Var i_var = make_var("i");
  PrimExpr i(i_var);
  Stmt body =
      make_for(i_var, 0, n, ForKind::kSerial, make_store(b, buffer_load(a, {i}) * 3.0f, {i}));
  std::string assembly = LLVMModule::build({PrimFunc{"scale", {a, b}, body}}, target)->assembly();
  EXPECT_NE(assembly.find("vmulps"), std::string::npos) << assembly;
}

TEST(LlvmModuleTest, CrossAarch64EmitsWithoutRunning) {
  Target target = parse_target("llvm -mtriple=aarch64-linux-gnu");
  auto module = LLVMModule::build({tanh_add(256)}, target);
  std::string assembly = module->assembly();
  EXPECT_NE(assembly.find("tanh_add:"), std::string::npos);
  EXPECT_NE(assembly.find("ldr"), std::string::npos) << assembly;
  EXPECT_NE(assembly.find("fadd"), std::string::npos) << assembly;
  EXPECT_EQ(assembly.find("%rsp"), std::string::npos);

  TempDir dir;
  module->write_object(dir.file("mod.o"));
  std::string object = read_file(dir.file("mod.o"));
  ASSERT_GT(object.size(), 20u);
  EXPECT_EQ(object.substr(0, 4),
            "\x7f"
            "ELF");
  EXPECT_EQ(static_cast<unsigned char>(object[18]), 183);  // e_machine = EM_AARCH64

  module->write_shared_library(dir.file("mod.so"));
  std::string library = read_file(dir.file("mod.so"));
  EXPECT_EQ(library.substr(0, 4),
            "\x7f"
            "ELF");
  EXPECT_EQ(static_cast<unsigned char>(library[16]), 3);  // ET_DYN

  try {
    module->jit_lookup("tanh_add", testing::serial_api());
    FAIL() << "a cross target must not run";
  } catch (const Error& error) {
    EXPECT_NE(std::string(error.what()).find("cross targets can only be emitted"),
              std::string::npos);
  }
}

TEST(LlvmModuleTest, SharedLibraryLoadsPrivatelyAndRuns) {
  auto module = LLVMModule::build({tanh_add(100)}, parse_target("llvm"));
  TempDir dir;
  std::string path = dir.file("mod.so");
  module->write_shared_library(path);
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(handle, nullptr) << dlerror();
  auto init = reinterpret_cast<KilnModuleInit>(dlsym(handle, "kiln_module_init"));
  auto kernel = reinterpret_cast<KilnKernel>(dlsym(handle, "tanh_add"));
  ASSERT_NE(init, nullptr);
  ASSERT_NE(kernel, nullptr);
  EXPECT_EQ(dlsym(handle, "tanh_add_par_0"), nullptr);  // helpers stay private
  EXPECT_EQ(dlsym(handle, "kiln_runtime_api"), nullptr);
  KilnRuntimeApi wrong_version = *testing::threaded_api();
  wrong_version.version = 99;
  EXPECT_EQ(init(&wrong_version), -1);
  EXPECT_EQ(init(nullptr), -1);
  ASSERT_EQ(init(testing::threaded_api()), 0);
  AlignedVector<float> a(100), b(100), out(100);
  for (int k = 0; k < 100; ++k) {
    a[k] = 0.05f * static_cast<float>(k) - 2.0f;
    b[k] = static_cast<float>(k);
  }
  void* args[] = {a.data(), b.data(), out.data()};
  ASSERT_EQ(kernel(args), 0);
  for (int k = 0; k < 100; ++k) EXPECT_FLOAT_EQ(out[k], std::tanh(a[k]) + b[k]) << k;
  dlclose(handle);
}

TEST(LlvmModuleTest, Float16OnABaselineCpuLinksItsConversionHelpers) {
  // Without F16C, half <-> float conversions are calls into libgcc (__extendhfsf2).
  Target target = parse_target("llvm -mtriple=x86_64-linux-gnu -mcpu=x86-64");
  if (!target.is_host()) GTEST_SKIP() << "not an x86-64 host";
  DataType f16{DType::kFloat16, 1};
  Buffer a = make_buffer("a", f16, {8});
  Buffer b = make_buffer("b", f16, {8});
  Var i_var = make_var("i");
  PrimExpr i(i_var);
  Stmt body = make_for(i_var, 0, 8, ForKind::kSerial,
                       make_store(b, buffer_load(a, {i}) * buffer_load(a, {i}), {i}));
  auto module = LLVMModule::build({PrimFunc{"square", {a, b}, body}}, target);
  EXPECT_NE(module->assembly().find("__extendhfsf2"), std::string::npos);
  TempDir dir;
  std::string path = dir.file("half.so");
  module->write_shared_library(path);
  void* handle = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  ASSERT_NE(handle, nullptr) << dlerror();
  auto kernel = reinterpret_cast<KilnKernel>(dlsym(handle, "square"));
  ASSERT_NE(kernel, nullptr);
  AlignedVector<uint16_t> in(8), out(8);
  for (int k = 0; k < 8; ++k) in[k] = float_to_half(0.75f * static_cast<float>(k));
  void* args[] = {in.data(), out.data()};
  ASSERT_EQ(kernel(args), 0);
  for (int k = 0; k < 8; ++k) {
    float value = half_to_float(in[k]);
    EXPECT_EQ(out[k], float_to_half(value * value)) << k;
  }
  dlclose(handle);
}

TEST(LlvmModuleTest, LinkFailureIsAnErrorWithTheLinkerMessage) {
  auto module = LLVMModule::build({tanh_add(8)}, parse_target("llvm"));
  try {
    module->write_shared_library("/nonexistent-dir/sub/mod.so");
    FAIL() << "linking into a missing directory must fail";
  } catch (const Error& error) {
    std::string message = error.what();
    EXPECT_NE(message.find("linking /nonexistent-dir/sub/mod.so"), std::string::npos) << message;
    EXPECT_NE(message.find("ld.lld"), std::string::npos) << message;
  }
  EXPECT_THROW(module->write_object("/nonexistent-dir/mod.o"), Error);
}

TEST(JitTest, LookupErrorsAndSeveralKernelsPerModule) {
  Buffer a = make_buffer("a", kF32, {4});
  Var i_var = make_var("i");
  PrimExpr i(i_var);
  PrimFunc fill_one{
      "fill_one", {a}, make_for(i_var, 0, 4, ForKind::kSerial, make_store(a, 1.0f, {i}))};
  PrimFunc fill_two{
      "fill_two", {a}, make_for(i_var, 0, 4, ForKind::kSerial, make_store(a, 2.0f, {i}))};
  auto module = LLVMModule::build({fill_one, fill_two}, parse_target("llvm"));
  AlignedVector<float> data(4);
  void* args[] = {data.data()};
  ASSERT_EQ(module->jit_lookup("fill_two", testing::serial_api())(args), 0);
  EXPECT_EQ(data[3], 2.0f);
  ASSERT_EQ(module->jit_lookup("fill_one", testing::serial_api())(args), 0);
  EXPECT_EQ(data[3], 1.0f);
  EXPECT_THROW(module->jit_lookup("fill_three", testing::serial_api()), Error);
  KilnRuntimeApi wrong_version = *testing::serial_api();
  wrong_version.version = 99;
  EXPECT_THROW(module->jit_lookup("fill_one", &wrong_version), Error);
  // The assembly and object can still be produced after JIT use.
  EXPECT_FALSE(module->assembly().empty());
}

}  // namespace
}  // namespace kiln::codegen
