// LLVMModule: code generation, optimisation, and the ways out (IR text, assembly, object,
// shared library, JIT).
#include "codegen/llvm/llvm_module.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

#include <llvm/ADT/SmallVector.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/TargetParser/Triple.h>
#include <llvm/Transforms/Utils/Cloning.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <set>

#include "codegen/llvm/codegen_llvm.h"
#include "codegen/llvm/llvm_common.h"
#include "kiln/error.h"

namespace kiln::codegen {

namespace {

// The Debian package that provides a cross compiler driver ("aarch64-linux-gnu-gcc" comes with
// gcc-aarch64-linux-gnu), for the install hint.
std::string install_hint(const std::string& compiler) {
  std::string name = std::filesystem::path(compiler).filename().string();
  for (const char* driver : {"gcc", "g++"}) {
    std::string suffix = std::string("-") + driver;
    if (name.size() > suffix.size() && name.ends_with(suffix)) {
      return "apt-get install " + std::string(driver) + "-" +
             name.substr(0, name.size() - suffix.size());
    }
  }
  return "install the compiler '" + name + "' or pass its full path";
}

}  // namespace

std::string find_compiler(const std::string& compiler) {
  if (compiler.empty()) throw Error("the cross compiler name is empty");
  if (compiler.find('/') != std::string::npos) {
    if (access(compiler.c_str(), X_OK) == 0) return compiler;
    throw MissingDependency("the cross compiler '" + compiler + "' does not exist or cannot run",
                            install_hint(compiler));
  }
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  size_t start = 0;
  while (start <= dirs.size()) {
    size_t colon = dirs.find(':', start);
    std::string dir = dirs.substr(start, colon == std::string::npos ? colon : colon - start);
    std::string candidate = (dir.empty() ? "." : dir) + "/" + compiler;
    if (access(candidate.c_str(), X_OK) == 0) return candidate;
    if (colon == std::string::npos) break;
    start = colon + 1;
  }
  throw MissingDependency("the cross compiler '" + compiler + "' is not on PATH",
                          install_hint(compiler));
}

namespace {

class LLVMModuleImpl final : public LLVMModule {
 public:
  LLVMModuleImpl(const std::vector<tir::PrimFunc>& kernels, const Target& target)
      : target_(target), context_(std::make_unique<llvm::LLVMContext>()) {
    machine_ = create_target_machine(target);
    llvm::LLVMContext& context = *context_.getContext();
    module_ = std::make_unique<llvm::Module>("kiln", context);
    module_->setTargetTriple(machine_->getTargetTriple().str());
    module_->setDataLayout(machine_->createDataLayout());
    module_->setPICLevel(llvm::PICLevel::BigPIC);

    std::set<std::string> names = {"kiln_module_init", KILN_KERNEL_TABLE_SYMBOL};
    CodeGenLLVM codegen(*module_, target.effective_cpu(), target.effective_features());
    for (const tir::PrimFunc& kernel : kernels) {
      KILN_CHECK(!kernel.name.empty()) << "kernel without a name";
      KILN_CHECK(names.insert(kernel.name).second)
          << "kernel name '" << kernel.name << "' is used twice (or is reserved)";
      codegen.add_kernel(kernel);
      kernel_names_.push_back(kernel.name);
    }
    codegen.add_module_init();
    codegen.add_kernel_table();
    optimize_module(*module_, *machine_, target.opt_level);
  }

  ~LLVMModuleImpl() override {
    // The JIT holds code compiled from our context: it goes first.
    jit_.reset();
    module_.reset();
  }

  std::string llvm_ir() const override {
    std::lock_guard<std::mutex> lock(mutex_);
    std::string text;
    llvm::raw_string_ostream stream(text);
    module_->print(stream, nullptr);
    return stream.str();
  }

  std::string assembly() const override { return emit(llvm::CodeGenFileType::AssemblyFile); }

  void write_object(const std::string& path) const override {
    write_file(path, emit(llvm::CodeGenFileType::ObjectFile));
  }

  void write_shared_library(const std::string& path) const override {
    std::string object = emit(llvm::CodeGenFileType::ObjectFile);
    std::string object_path = write_temporary_object(object);
    std::vector<std::string> argv = {KILN_LLD_PATH, "-shared", "-o", path, object_path};
    // Host libraries depend on libm (math functions) and libgcc_s (float16 conversions on CPUs
    // without F16C), so that those calls resolve in any process that loads them; for cross
    // targets there is nothing to link against, and a shared library may leave those symbols to
    // the loader.
    if (target_.is_host()) {
      std::string arch = machine_->getTargetTriple().getArchName().str();
      // libmvec: the vector math functions (codegen_intrinsic.cc), x86-64 glibc only; linked
      // whether or not a kernel calls them (a few KiB, already mapped by most processes).
      for (const char* soname : {"libm.so.6", "libmvec.so.1", "libgcc_s.so.1"}) {
        std::string library = find_host_library(arch, soname);
        if (!library.empty()) argv.push_back(library);
      }
    }
    run_linker(argv, object_path, path, KILN_LLD_PATH);
  }

  void write_shared_library_with(const std::string& path, const std::string& compiler,
                                 const std::vector<std::string>& options) const override {
    std::string program = find_compiler(compiler);
    std::string object_path = write_temporary_object(emit(llvm::CodeGenFileType::ObjectFile));
    std::vector<std::string> argv = {program, "-shared", "-o", path, object_path};
    argv.insert(argv.end(), options.begin(), options.end());
    argv.push_back("-lm");  // math functions the kernels call
    // x86-64 kernels call glibc's vector math functions too (codegen_intrinsic.cc).
    if (machine_->getTargetTriple().getArch() == llvm::Triple::x86_64) argv.push_back("-lmvec");
    run_linker(argv, object_path, path, "the cross compiler " + compiler);
  }

  // Runs the link command `argv`, whose input is the temporary object `object_path` (removed
  // whatever happens); `linker` names the tool in the error.
  static void run_linker(const std::vector<std::string>& argv, const std::string& object_path,
                         const std::string& path, const std::string& linker) {
    std::string output;
    int status = 0;
    try {
      status = run_process(argv, &output);
    } catch (...) {
      std::filesystem::remove(object_path);
      throw;
    }
    std::filesystem::remove(object_path);
    if (status != 0) {
      throw Error("linking " + path + " with " + linker + " failed (exit status " +
                  std::to_string(status) + "): " + output);
    }
  }

  KilnKernel jit_lookup(const std::string& kernel_name, const KilnRuntimeApi* api) override {
    std::lock_guard<std::mutex> lock(mutex_);
    if (!target_.is_host()) {
      throw Error("cannot run code for target '" + target_.str() + "' (" +
                  target_.effective_triple() +
                  ") on this machine; cross targets can only be emitted (object, assembly, "
                  "shared library)");
    }
    if (!jit_) {
      llvm::orc::ThreadSafeModule copy(llvm::CloneModule(*module_), context_);
      jit_ = create_jit_session(target_, std::move(copy));
    }
    // Through the module's kernel table, as the runtime finds kernels in a mod.so.
    const auto* table =
        reinterpret_cast<const KilnKernelTable*>(jit_->lookup(KILN_KERNEL_TABLE_SYMBOL));
    KILN_CHECK(table != nullptr && table->version == KILN_RUNTIME_API_VERSION);
    const KilnKernelInfo* kernel = nullptr;
    for (uint32_t i = 0; i < table->num_kernels; ++i) {
      if (kernel_name == table->kernels[i].name) kernel = &table->kernels[i];
    }
    if (kernel == nullptr) {
      std::string known;
      for (const std::string& name : kernel_names_) known += (known.empty() ? "" : ", ") + name;
      throw Error("no kernel named '" + kernel_name + "' in this module; kernels: " + known);
    }
    // A kernel that needs no runtime service may run without the table; otherwise
    // (re)initialise when the caller hands us a table we have not seen.
    if (api != nullptr && api != initialized_api_) {
      if (table->init(api) != 0) {
        throw Error("kiln_module_init rejected the runtime API table (version " +
                    std::to_string(api->version) + ", expected " +
                    std::to_string(KILN_RUNTIME_API_VERSION) + ")");
      }
      initialized_api_ = api;
    }
    return kernel->function;
  }

 private:
  std::string emit(llvm::CodeGenFileType type) const {
    std::lock_guard<std::mutex> lock(mutex_);
    // Code generation passes rewrite the IR; emit from a copy so the module stays as optimised.
    std::unique_ptr<llvm::Module> copy = llvm::CloneModule(*module_);
    llvm::SmallVector<char, 0> buffer;
    llvm::raw_svector_ostream stream(buffer);
    llvm::legacy::PassManager passes;
    if (machine_->addPassesToEmitFile(passes, stream, nullptr, type)) {
      throw Error(
          "LLVM cannot emit " +
          std::string(type == llvm::CodeGenFileType::AssemblyFile ? "assembly" : "objects") +
          " for target '" + target_.str() + "'");
    }
    passes.run(*copy);
    return std::string(buffer.data(), buffer.size());
  }

  static void write_file(const std::string& path, const std::string& bytes) {
    std::ofstream file(path, std::ios::binary | std::ios::trunc);
    file.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
    file.close();
    if (!file) throw Error("cannot write " + path + ": " + std::strerror(errno));
  }

  static std::string write_temporary_object(const std::string& bytes) {
    std::string pattern = (std::filesystem::temp_directory_path() / "kiln-XXXXXX.o").string();
    int fd = mkstemps(pattern.data(), 2);
    if (fd < 0)
      throw Error("cannot create a temporary object file: " + std::string(std::strerror(errno)));
    close(fd);
    write_file(pattern, bytes);
    return pattern;
  }

  Target target_;
  llvm::orc::ThreadSafeContext context_;
  std::unique_ptr<llvm::Module> module_;
  std::unique_ptr<llvm::TargetMachine> machine_;
  std::vector<std::string> kernel_names_;
  mutable std::mutex mutex_;
  std::unique_ptr<JitSession> jit_;
  const KilnRuntimeApi* initialized_api_ = nullptr;
};

}  // namespace

std::unique_ptr<LLVMModule> LLVMModule::build(const std::vector<tir::PrimFunc>& kernels,
                                              const Target& target) {
  return std::make_unique<LLVMModuleImpl>(kernels, target);
}

}  // namespace kiln::codegen
