// Compilation targets: "llvm", "llvm -mcpu=znver4", "llvm -mattr=+avx2,+fma",
// "llvm -mtriple=aarch64-linux-gnu" (cross: emit only), "llvm -num-cores=4 -opt-level=2".
#pragma once

#include <string>
#include <vector>

namespace kiln::codegen {

struct Target {
  std::string kind = "llvm";
  std::string mtriple;  // empty: the host
  std::string mcpu;     // empty: the host CPU when mtriple is the host, else "generic"
  std::string mattr;    // "+avx2,+fma"
  int num_cores = 0;    // 0: the machine's cores
  int opt_level = 3;

  // The canonical text: "llvm -mcpu=znver4 -mattr=+avx2".
  std::string str() const;
  // Whether code for this target runs on this machine (JIT and local runs allowed).
  bool is_host() const;
  // The triple, CPU and features actually used (host values filled in).
  std::string effective_triple() const;
  std::string effective_cpu() const;
  std::string effective_features() const;
  // Widest SIMD register in bits for this CPU and features (512, 256 or 128).
  int vector_bits() const;
};

// Parses a target string; kiln::Error naming the bad part ("unknown target option '-mcpus'
// in 'llvm -mcpus=x'; options of llvm: -mcpu, -mattr, -mtriple, -num-cores, -opt-level").
Target parse_target(const std::string& text);

// Options of the llvm target kind, for the CLI's --target-llvm-<option> flags.
struct TargetOption {
  std::string name;  // "mcpu"
  std::string help;
};
const std::vector<TargetOption>& llvm_target_options();

}  // namespace kiln::codegen
