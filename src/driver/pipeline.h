// The graph optimisation pipeline: the passes of src/transform/ in the order they run, chosen by
// opt_level and switched off by name. See pipeline.cc for the list.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "ir/module.h"

namespace kiln {

struct PassOptions {
  // 0: no pass; 1: infer_types, simplify_inference, fold_constant; 2: + fold_scale_axis,
  // eliminate_common_subexpr, simplify_expr; 3: all of them (fusion, which compile() runs after
  // optimize(), also counts from 1).
  int opt_level = 3;
  // Passes not to run, by name (see known_pass_names(); TVM's names such as "FoldConstant" are
  // accepted too). An unknown name is a kiln::Error listing the known ones.
  std::vector<std::string> disabled_passes;
  // "" (keep the importer's NCHW), "NCHW" or "NHWC" (convolutions on NHWC data; see
  // transform/convert_layout.h).
  // A requested layout is applied at every opt_level: it is a request, not an optimisation.
  std::string desired_layout;
  // Float32 lanes of the target's vector registers when it is a CPU whose convolutions compute
  // in the channel-blocked layout NCHW[x]c (the alter_op_layout pass, opt_level 3); 0: never.
  int blocked_layout_lanes = 0;
  // Run the verifier after every pass (a failure is an internal error naming the pass). On in
  // debug builds; tests turn it on.
#ifdef NDEBUG
  bool verify_each_pass = false;
#else
  bool verify_each_pass = true;
#endif
  // Where to write the IR after every step (NN_<pass>.ir, 00_input.ir first); empty: the
  // KILN_DUMP environment variable, if set.
  std::string dump_dir;
};

// The optimised module. kiln::Error for a bad opt_level, an unknown disabled pass or layout.
ir::Module optimize(const ir::Module& module, const PassOptions& options);

// The pass names disabled_passes accepts, in pipeline order ("fuse_ops" last).
std::vector<std::string> known_pass_names();

// Whether pass `name` (a known name) runs under `options`: its opt_level is reached and it is not
// disabled. compile() asks this for "fuse_ops". kiln::Error for unknown names, here or in
// options.disabled_passes.
bool pass_enabled(std::string_view name, const PassOptions& options);

}  // namespace kiln
