// fuse_ops: partitions main's calls into groups that each become one kernel.
//
// Expects:    a well-typed module (every node is, by construction).
// Guarantees: every call of main is in exactly one group; groups are listed in a topological order
//             (a group's external inputs are graph inputs, constants or values of earlier
//             groups); within a group calls are in topological order and every value but the
//             group's outputs has exactly one reader, which is in the group (so inlining computes
//             it exactly once, and no two groups depend on each other: no cycles). The module is
//             not rewritten: kernel planning (src/driver/compile.cc) follows the plan, and
//             print_fused marks the groups in the text IR.
// Run after:  every pass that rewrites the graph (it is the pipeline's last step, "fuse_ops").
//
// Rules (by each operator's OpPattern, TVM-style). A call joins the group of one of its arguments
// when that argument is the group's last value, has no other reader and is no model output, and:
//  - the group has an out-elementwise-fusable anchor (conv2d, dense, matmul, pools) or a reduction
//    anchor, and the call is elementwise or broadcast: the anchor's epilogue (bias_add, residual
//    add, relu, clip, per-channel multiply ...);
//  - the group has no anchor (elementwise / broadcast / injective calls only) and the call is
//    elementwise, broadcast or injective (chains fuse) or a reduction (the chain becomes the
//    reduction's inlined input; the reduction becomes the anchor);
//  - the call does not compute more elements than the joined value has (a broadcast of the group's
//    value would recompute the inlined chain per output element).
// Opaque calls and calls producing tuples (split, lstm) stand alone, and nothing joins them.
#pragma once

#include <string>
#include <unordered_map>
#include <vector>

#include "ir/module.h"
#include "ir/op.h"

namespace kiln::transform {

struct FusedGroup {
  std::vector<ir::Call> calls;  // topological order
  // The out-elementwise-fusable or reduction call the others are fused around; null for
  // elementwise / injective chains and for opaque calls.
  ir::Call anchor;
  // kOutEWiseFusable or kReduction with an anchor; else the most general pattern of the calls
  // (kElemwise < kBroadcast < kInjective), or kOpaque for an opaque call.
  ir::OpPattern pattern = ir::OpPattern::kOpaque;
  // Values the group reads that it does not compute (inputs, constants, other groups' values),
  // each once, in first-use order.
  std::vector<ir::Expr> inputs;
  // The group's calls whose values are used outside the group or are model outputs.
  std::vector<ir::Call> outputs;

  // "conv2d + bias_add + relu"
  std::string name() const;
};

struct FusionPlan {
  std::vector<FusedGroup> groups;
  // Index in `groups` of each call.
  std::unordered_map<const ir::ExprNode*, size_t> group_of;
};

struct FuseOptions {
  bool fuse = true;  // false: every call is a group of its own (opt_level 0)
};

FusionPlan fuse_ops(const ir::Module& module, const FuseOptions& options = {});

// The module's text (ir::print_module) with the values listed group by group, each group headed
// by a line "# kernel 12: conv2d + bias_add + relu" (12: the group's index, which is also its
// launch's index in mod.json's nodes). What dump_code=["ir"] writes.
std::string print_fused(const ir::Module& module, const FusionPlan& plan);

}  // namespace kiln::transform
