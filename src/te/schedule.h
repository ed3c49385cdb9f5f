// A Schedule says how to loop over the computes of a kernel. It is data: a list of steps, each a
// primitive applied to a stage (a compute tensor, named by its name) and its loops (named).
// Steps print, save to JSON and replay; the tuner searches over exactly this data.
//
// Loops of a stage start as its axes then its reduce axes, named after their variables ("n",
// "c", "rc", ...). split("h", 4) makes "h.outer" and "h.inner"; fuse("a", "b") makes "a.b.fused";
// tile(x, y, fx, fy) = split x, split y, reorder to x.outer, y.outer, x.inner, y.inner.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "te/tensor.h"

namespace kiln::te {

enum class StepKind : uint8_t {
  kSplit,          // loops = {loop}, factors = {inner extent}
  kTile,           // loops = {x, y}, factors = {x inner extent, y inner extent}
  kReorder,        // loops = new order of (some of) the stage's loops
  kFuse,           // loops = consecutive loops to fuse into one
  kVectorize,      // loops = {innermost loop}
  kUnroll,         // loops = {loop} with a static extent
  kParallel,       // loops = {loop}
  kComputeAt,      // compute `stage` inside loop loops[0] of stage `target`
  kComputeInline,  // substitute `stage`'s body into its consumers (no loops of its own)
  kCacheWrite,     // compute `stage` into a local buffer, then copy out (name: stage + ".local")
};
std::string_view step_kind_name(StepKind kind);

struct Step {
  StepKind kind;
  std::string stage;
  std::vector<std::string> loops;
  std::vector<int64_t> factors;
  std::string target;  // compute_at only

  bool operator==(const Step& other) const;
};

class Schedule {
 public:
  // A schedule over everything `outputs` depends on; with no steps, each stage is one loop nest
  // over its axes (then reduce axes), in order, producers first.
  explicit Schedule(std::vector<Tensor> outputs);

  // Primitives: each checks its arguments against the current loops of the stage (kiln::Error
  // naming the stage, loop and problem) and appends a step. They return the new loop names.
  std::pair<std::string, std::string> split(const std::string& stage, const std::string& loop,
                                            int64_t factor);
  std::vector<std::string> tile(const std::string& stage, const std::string& x,
                                const std::string& y, int64_t x_factor, int64_t y_factor);
  void reorder(const std::string& stage, const std::vector<std::string>& order);
  std::string fuse(const std::string& stage, const std::vector<std::string>& loops);
  void vectorize(const std::string& stage, const std::string& loop);
  void unroll(const std::string& stage, const std::string& loop);
  void parallel(const std::string& stage, const std::string& loop);
  void compute_at(const std::string& stage, const std::string& target, const std::string& loop);
  void compute_inline(const std::string& stage);
  std::string cache_write(const std::string& stage);  // returns the local stage's name

  // Applies a step (what replay and the primitives above use).
  void apply(const Step& step);

  const std::vector<Tensor>& outputs() const { return outputs_; }
  const std::vector<Step>& steps() const { return steps_; }
  // Current loop names of a stage, outermost first (kiln::Error for an unknown stage).
  std::vector<std::string> loops(const std::string& stage) const;
  // Stage names, producers first. A stage is named after its tensor; when two tensors share a
  // name, the later one (in post order) gets a suffix "_1", "_2", ... — stage_name tells which.
  std::vector<std::string> stages() const;
  std::string stage_name(const Tensor& tensor) const;  // kiln::Error when not a stage
  // Whether the stage has a loop nest of its own at the kernel's root (not inlined, not computed
  // inside another stage): what generic schedules may still split, fuse and annotate.
  bool at_root(const std::string& stage) const;

  std::string to_string() const;  // one step per line: split(conv, h, 4) -> h.outer, h.inner
  std::string to_json() const;    // [{"kind": "split", "stage": ..., "loops": [...], ...}, ...]
  // Replays saved steps on a fresh schedule of `outputs`; kiln::Error when a step does not apply.
  static Schedule from_json(std::vector<Tensor> outputs, const std::string& json);

  // Implementation state (stage loop structures, te/schedule_state.h): shared between copies
  // until one of them applies a step (copy on write), so copying a Schedule is cheap and safe.
  struct State;
  const State& state() const { return *state_; }

 private:
  std::vector<Tensor> outputs_;
  std::vector<Step> steps_;
  std::shared_ptr<State> state_;
};

}  // namespace kiln::te
