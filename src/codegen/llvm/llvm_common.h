// Private to src/codegen: LLVM set-up shared by target parsing, code generation, emission and the
// JIT. This header includes LLVM; only src/codegen/target.cc and src/codegen/llvm/*.cc include it.
#pragma once

#include <llvm/ExecutionEngine/Orc/ThreadSafeModule.h>
#include <llvm/IR/Module.h>
#include <llvm/MC/MCSubtargetInfo.h>
#include <llvm/Support/Error.h>
#include <llvm/Target/TargetMachine.h>

#include <memory>
#include <string>
#include <vector>

#include "codegen/target.h"
#include "kiln/runtime_api.h"

namespace kiln::codegen {

// Registers every target LLVM was built with (once per process).
void initialize_llvm_targets();

// The message of an llvm::Error (consumes it).
std::string llvm_error_message(llvm::Error error);

// Subtarget information for a triple and CPU (no features), for validating -mcpu and -mattr;
// kiln::Error when LLVM has no backend for the triple.
std::unique_ptr<llvm::MCSubtargetInfo> create_subtarget_info(const std::string& triple,
                                                             const std::string& cpu,
                                                             const std::string& features);

// The TargetMachine for `target` (PIC, floating-point contraction off: see "Floating-point
// policy" in docs/architecture.md). kiln::Error when LLVM lacks the target.
std::unique_ptr<llvm::TargetMachine> create_target_machine(const Target& target);

// Runs the new pass manager's default pipeline at target.opt_level with the machine's TTI.
void optimize_module(llvm::Module& module, llvm::TargetMachine& machine, int opt_level);

// In-process compilation of one module (ORC LLJIT); host targets only.
class JitSession {
 public:
  virtual ~JitSession() = default;
  // Address of a function defined by the module; kiln::Error when it does not exist.
  virtual void* lookup(const std::string& name) = 0;
};
std::unique_ptr<JitSession> create_jit_session(const Target& target,
                                               llvm::orc::ThreadSafeModule module);

// Runs `argv` (argv[0] is a path) and returns its exit status; its stdout and stderr go to
// `output`. kiln::Error when it cannot be started.
int run_process(const std::vector<std::string>& argv, std::string* output);

// The path of a host system library (`soname` "libm.so.6") for an architecture ("x86_64"), or ""
// when not found.
std::string find_host_library(const std::string& arch, const std::string& soname);

}  // namespace kiln::codegen
