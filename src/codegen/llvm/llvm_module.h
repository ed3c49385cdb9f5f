// LLVM code generation: loop IR kernels -> LLVM IR -> machine code, as an object file, a shared
// library (linked with lld), or in-process through ORC JIT. LLVM headers stay in src/codegen/llvm.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "codegen/target.h"
#include "kiln/runtime_api.h"
#include "tir/stmt.h"

namespace kiln::codegen {

// The path of a compiler driver: `compiler` itself when it names a path, else its location on
// PATH. kiln::MissingDependency (with the Debian package to install) when it is not there.
std::string find_compiler(const std::string& compiler);
// ld.lld: $KILN_LLD when set, else on PATH (ld.lld, ld.lld-19), in /usr/lib/llvm-19/bin, or where
// the build found it; kiln::MissingDependency when none exists.
std::string find_lld();

class LLVMModule {
 public:
  // Generates code for `kernels` (+ kiln_module_init). kiln::Error for a target LLVM lacks.
  static std::unique_ptr<LLVMModule> build(const std::vector<tir::PrimFunc>& kernels,
                                           const Target& target);
  virtual ~LLVMModule() = default;

  virtual std::string llvm_ir() const = 0;   // textual .ll
  virtual std::string assembly() const = 0;  // .s for the target
  virtual void write_object(const std::string& path) const = 0;
  // Links the object into a shared library with lld (any target LLVM and lld know).
  virtual void write_shared_library(const std::string& path) const = 0;
  // Links the object with an external compiler driver instead (cross-compilation:
  // "aarch64-linux-gnu-gcc", found on PATH unless it names a path), passing `options` after the
  // object. kiln::MissingDependency when the compiler is not installed.
  virtual void write_shared_library_with(const std::string& path, const std::string& compiler,
                                         const std::vector<std::string>& options) const = 0;
  // Host targets only: compiles in-process and returns the kernel's entry point; the module's
  // kiln_module_init is called with `api` on first use. kiln::Error for a cross target.
  virtual KilnKernel jit_lookup(const std::string& kernel_name, const KilnRuntimeApi* api) = 0;
};

}  // namespace kiln::codegen
