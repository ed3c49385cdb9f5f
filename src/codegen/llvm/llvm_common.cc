// Target machines and the optimisation pipeline.
#include "codegen/llvm/llvm_common.h"

#include <llvm/Analysis/TargetLibraryInfo.h>
#include <llvm/IR/Verifier.h>
#include <llvm/MC/TargetRegistry.h>
#include <llvm/Passes/PassBuilder.h>
#include <llvm/Support/TargetSelect.h>
#include <llvm/Support/raw_ostream.h>
#include <llvm/TargetParser/Triple.h>

#include <mutex>

#include "kiln/error.h"

namespace kiln::codegen {

void initialize_llvm_targets() {
  static std::once_flag once;
  std::call_once(once, [] {
    llvm::InitializeAllTargetInfos();
    llvm::InitializeAllTargets();
    llvm::InitializeAllTargetMCs();
    llvm::InitializeAllAsmPrinters();
    llvm::InitializeAllAsmParsers();
  });
}

std::string llvm_error_message(llvm::Error error) { return llvm::toString(std::move(error)); }

namespace {

const llvm::Target& lookup_target(const std::string& triple) {
  initialize_llvm_targets();
  std::string message;
  const llvm::Target* target = llvm::TargetRegistry::lookupTarget(triple, message);
  if (target == nullptr) {
    throw Error("LLVM has no code generator for target triple '" + triple + "': " + message);
  }
  return *target;
}

llvm::CodeGenOptLevel codegen_opt_level(int opt_level) {
  switch (opt_level) {
    case 0:
      return llvm::CodeGenOptLevel::None;
    case 1:
      return llvm::CodeGenOptLevel::Less;
    case 2:
      return llvm::CodeGenOptLevel::Default;
    default:
      return llvm::CodeGenOptLevel::Aggressive;
  }
}

}  // namespace

std::unique_ptr<llvm::MCSubtargetInfo> create_subtarget_info(const std::string& triple,
                                                             const std::string& cpu,
                                                             const std::string& features) {
  const llvm::Target& target = lookup_target(triple);
  std::unique_ptr<llvm::MCSubtargetInfo> info(target.createMCSubtargetInfo(triple, cpu, features));
  KILN_CHECK(info) << "no subtarget info for " << triple;
  return info;
}

std::unique_ptr<llvm::TargetMachine> create_target_machine(const Target& target) {
  std::string triple = target.effective_triple();
  const llvm::Target& llvm_target = lookup_target(triple);
  llvm::TargetOptions options;
  // IEEE semantics: no contraction of a*b+c into fma (see "Floating-point policy").
  options.AllowFPOpFusion = llvm::FPOpFusion::Strict;
  options.UnsafeFPMath = false;
  options.NoInfsFPMath = false;
  options.NoNaNsFPMath = false;
  std::unique_ptr<llvm::TargetMachine> machine(llvm_target.createTargetMachine(
      triple, target.effective_cpu(), target.effective_features(), options, llvm::Reloc::PIC_,
      std::nullopt, codegen_opt_level(target.opt_level)));
  if (!machine) throw Error("LLVM cannot create a target machine for '" + target.str() + "'");
  return machine;
}

void optimize_module(llvm::Module& module, llvm::TargetMachine& machine, int opt_level) {
  std::string errors;
  llvm::raw_string_ostream error_stream(errors);
  KILN_CHECK(!llvm::verifyModule(module, &error_stream))
      << "generated LLVM IR is invalid: " << error_stream.str();
  if (opt_level == 0) return;

  llvm::LoopAnalysisManager loop_analyses;
  llvm::FunctionAnalysisManager function_analyses;
  llvm::CGSCCAnalysisManager cgscc_analyses;
  llvm::ModuleAnalysisManager module_analyses;
  llvm::PipelineTuningOptions tuning;
  tuning.LoopVectorization = true;
  tuning.SLPVectorization = true;
  tuning.LoopUnrolling = true;
  // With a TargetMachine the builder registers its TargetIRAnalysis (TTI: vector widths, costs).
  llvm::PassBuilder builder(&machine, tuning);
  llvm::TargetLibraryInfoImpl library_info{llvm::Triple(module.getTargetTriple())};
  function_analyses.registerPass([&] { return llvm::TargetLibraryAnalysis(library_info); });
  builder.registerModuleAnalyses(module_analyses);
  builder.registerCGSCCAnalyses(cgscc_analyses);
  builder.registerFunctionAnalyses(function_analyses);
  builder.registerLoopAnalyses(loop_analyses);
  builder.crossRegisterProxies(loop_analyses, function_analyses, cgscc_analyses, module_analyses);

  llvm::OptimizationLevel level = opt_level == 1   ? llvm::OptimizationLevel::O1
                                  : opt_level == 2 ? llvm::OptimizationLevel::O2
                                                   : llvm::OptimizationLevel::O3;
  llvm::ModulePassManager passes = builder.buildPerModuleDefaultPipeline(level);
  passes.run(module, module_analyses);
}

}  // namespace kiln::codegen
