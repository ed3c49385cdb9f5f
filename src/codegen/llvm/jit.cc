// In-process compilation with ORC LLJIT.
#include <llvm/ExecutionEngine/Orc/ExecutionUtils.h>
#include <llvm/ExecutionEngine/Orc/JITTargetMachineBuilder.h>
#include <llvm/ExecutionEngine/Orc/LLJIT.h>
#include <llvm/Support/DynamicLibrary.h>
#include <llvm/TargetParser/Triple.h>

#include <sstream>

#include "codegen/llvm/llvm_common.h"
#include "kiln/error.h"

namespace kiln::codegen {

namespace {

class LLJitSession final : public JitSession {
 public:
  explicit LLJitSession(std::unique_ptr<llvm::orc::LLJIT> jit) : jit_(std::move(jit)) {}

  void* lookup(const std::string& name) override {
    llvm::Expected<llvm::orc::ExecutorAddr> address = jit_->lookup(name);
    if (!address) {
      throw Error("JIT cannot find '" + name + "': " + llvm_error_message(address.takeError()));
    }
    return address->toPtr<void*>();
  }

 private:
  std::unique_ptr<llvm::orc::LLJIT> jit_;
};

}  // namespace

std::unique_ptr<JitSession> create_jit_session(const Target& target,
                                               llvm::orc::ThreadSafeModule module) {
  initialize_llvm_targets();
  llvm::orc::JITTargetMachineBuilder machine((llvm::Triple(target.effective_triple())));
  machine.setCPU(target.effective_cpu());
  std::vector<std::string> features;
  std::istringstream stream(target.effective_features());
  for (std::string feature; std::getline(stream, feature, ',');) {
    if (!feature.empty()) features.push_back(feature);
  }
  machine.addFeatures(features);
  machine.setCodeGenOptLevel(target.opt_level == 0 ? llvm::CodeGenOptLevel::None
                                                   : llvm::CodeGenOptLevel::Aggressive);
  // Same floating-point policy as ahead-of-time code: no contraction.
  machine.getOptions().AllowFPOpFusion = llvm::FPOpFusion::Strict;

  llvm::Expected<std::unique_ptr<llvm::orc::LLJIT>> jit =
      llvm::orc::LLJITBuilder().setJITTargetMachineBuilder(std::move(machine)).create();
  if (!jit) throw Error("cannot start the LLVM JIT: " + llvm_error_message(jit.takeError()));
  // libm and friends come from the process (a JIT'd module links against what is loaded);
  // libmvec (vector exp/log/tanh/erf on x86-64) is loaded into it first when the system has it.
  static const bool vector_math_loaded = [] {
    return llvm::sys::DynamicLibrary::LoadLibraryPermanently("libmvec.so.1") == false;
  }();
  (void)vector_math_loaded;
  auto process_symbols = llvm::orc::DynamicLibrarySearchGenerator::GetForCurrentProcess(
      (*jit)->getDataLayout().getGlobalPrefix());
  if (!process_symbols) {
    throw Error("JIT cannot search the process's symbols: " +
                llvm_error_message(process_symbols.takeError()));
  }
  (*jit)->getMainJITDylib().addGenerator(std::move(*process_symbols));
  if (llvm::Error error = (*jit)->addIRModule(std::move(module))) {
    throw Error("JIT rejected the module: " + llvm_error_message(std::move(error)));
  }
  return std::make_unique<LLJitSession>(std::move(*jit));
}

}  // namespace kiln::codegen
