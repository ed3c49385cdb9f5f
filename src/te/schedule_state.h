// The loop structure a Schedule's steps have built so far, per stage. Internal to src/te: the
// primitives (schedule.cc) edit it, lowering (lower.cc) reads it.
//
// A stage's loops form a small graph. Its roots are the stage's axes then its reduce axes; a split
// replaces a loop by (outer, inner) with  parent = outer * factor + inner  (a guard
// `parent < parent extent` when the factor does not divide); a fuse replaces consecutive loops by
// one with  loop_k = (fused / product of the extents after k) % extent_k. Leaf loops (`loops`) are
// the ones that become For statements, outermost first.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "te/schedule.h"
#include "te/tensor.h"

namespace kiln::te {

enum class LoopAnnotation : uint8_t { kSerial, kParallel, kVectorized, kUnrolled };

struct IterRelation {
  enum class Kind : uint8_t { kSplit, kFuse };
  Kind kind = Kind::kSplit;
  std::vector<std::string> inputs;   // split: {parent}; fuse: the fused loops, outermost first
  std::vector<std::string> outputs;  // split: {outer, inner}; fuse: {fused}
  int64_t factor = 0;                // split: the inner extent asked for
};

struct IterInfo {
  int64_t extent = 0;  // over the stage's whole domain (lowering recomputes it for a region)
  bool is_reduce = false;
};

enum class AttachKind : uint8_t { kRoot, kInline, kAt };

struct StageState {
  std::string name;
  // The tensor whose buffer the stage writes. After cache_write the original stage keeps its
  // tensor (readers and parameters refer to it) and the ".local" stage gets a new TensorNode.
  Tensor tensor;
  std::vector<IterVar> axes;
  std::vector<IterVar> reduce_axes;
  // Value of element (axes...): the tensor's body, or a read of the ".local" tensor once
  // cache_write made this stage a copy. Reads refer to stages by their TensorNode.
  PrimExpr body;
  std::vector<std::string> root_loops;                // loop names of `axes` then of `reduce_axes`
  std::vector<std::string> loops;                     // current leaf loops, outermost first
  std::map<std::string, IterInfo> iters;              // every loop ever created in this stage
  std::map<std::string, LoopAnnotation> annotations;  // leaf loops that are not serial
  std::vector<IterRelation> relations;                // in the order they were applied
  AttachKind attach = AttachKind::kRoot;
  std::string attach_stage;  // kAt: computed inside loop `attach_loop` of stage `attach_stage`
  std::string attach_loop;
  bool is_output = false;
  std::string cache_stage;  // set once cache_write made this stage a copy of `cache_stage`
  std::string cache_of;     // set on a ".local" stage: the stage it computes for

  bool is_reduction() const { return !reduce_axes.empty(); }
  bool has_loop(const std::string& loop) const;
};

struct Schedule::State {
  std::vector<StageState> stages;  // producers before consumers

  const StageState* find(const std::string& name) const;
  StageState* find(const std::string& name);
  const StageState* find(const TensorNode* tensor) const;
  // The stage or a kiln::Error that lists the stages.
  const StageState& get(const std::string& name) const;
  StageState& get(const std::string& name);
};

}  // namespace kiln::te
