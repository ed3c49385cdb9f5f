#include "te/schedule.h"

#include <algorithm>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <unordered_set>
#include <utility>

#include "kiln/error.h"
#include "te/schedule_state.h"
#include "tir/functor.h"

namespace kiln::te {

// ---- state lookups ------------------------------------------------------------------------------

bool StageState::has_loop(const std::string& loop) const {
  return std::find(loops.begin(), loops.end(), loop) != loops.end();
}

const StageState* Schedule::State::find(const std::string& name) const {
  for (const StageState& stage : stages) {
    if (stage.name == name) return &stage;
  }
  return nullptr;
}

StageState* Schedule::State::find(const std::string& name) {
  return const_cast<StageState*>(std::as_const(*this).find(name));
}

const StageState* Schedule::State::find(const TensorNode* tensor) const {
  for (const StageState& stage : stages) {
    if (stage.tensor.get() == tensor) return &stage;
  }
  return nullptr;
}

namespace {

std::string join(const std::vector<std::string>& names, const std::string& separator = ", ") {
  std::string text;
  for (size_t k = 0; k < names.size(); ++k) text += (k ? separator : "") + names[k];
  return text;
}

}  // namespace

const StageState& Schedule::State::get(const std::string& name) const {
  if (const StageState* stage = find(name)) return *stage;
  std::vector<std::string> names;
  for (const StageState& stage : stages) names.push_back(stage.name);
  throw Error("schedule: no stage '" + name + "' (stages: " + join(names) + ")");
}

StageState& Schedule::State::get(const std::string& name) {
  return const_cast<StageState&>(std::as_const(*this).get(name));
}

std::string_view step_kind_name(StepKind kind) {
  switch (kind) {
    case StepKind::kSplit:
      return "split";
    case StepKind::kTile:
      return "tile";
    case StepKind::kReorder:
      return "reorder";
    case StepKind::kFuse:
      return "fuse";
    case StepKind::kVectorize:
      return "vectorize";
    case StepKind::kUnroll:
      return "unroll";
    case StepKind::kParallel:
      return "parallel";
    case StepKind::kComputeAt:
      return "compute_at";
    case StepKind::kComputeInline:
      return "compute_inline";
    case StepKind::kCacheWrite:
      return "cache_write";
  }
  return "?";
}

bool Step::operator==(const Step& other) const {
  return kind == other.kind && stage == other.stage && loops == other.loops &&
         factors == other.factors && target == other.target;
}

namespace {

using State = Schedule::State;

// ---- names of the loops a step creates (deterministic, so printing needs no state) ------------

std::string split_outer(const std::string& loop) { return loop + ".outer"; }
std::string split_inner(const std::string& loop) { return loop + ".inner"; }
std::string fused_name(const std::vector<std::string>& loops) {
  return loops.size() == 1 ? loops[0] : join(loops, ".") + ".fused";
}
std::string local_name(const std::string& stage) { return stage + ".local"; }

// Names must be unique within their scope; the first owner keeps the plain name.
std::string unique_name(const std::string& base, const std::set<std::string>& taken) {
  if (!taken.count(base)) return base;
  for (int k = 1;; ++k) {
    std::string name = base + "_" + std::to_string(k);
    if (!taken.count(name)) return name;
  }
}

StageState make_stage(const Tensor& tensor, const std::string& name, bool is_output,
                      std::vector<IterVar> axes, std::vector<IterVar> reduce_axes, PrimExpr body) {
  StageState stage;
  stage.name = name;
  stage.tensor = tensor;
  stage.axes = std::move(axes);
  stage.reduce_axes = std::move(reduce_axes);
  stage.body = std::move(body);
  stage.is_output = is_output;
  std::set<std::string> taken;
  auto add_root = [&](const IterVar& iv, bool is_reduce) {
    std::string loop = unique_name(iv.var->name, taken);
    taken.insert(loop);
    stage.root_loops.push_back(loop);
    stage.loops.push_back(loop);
    stage.iters[loop] = IterInfo{iv.extent, is_reduce};
  };
  for (const IterVar& iv : stage.axes) add_root(iv, false);
  for (const IterVar& iv : stage.reduce_axes) add_root(iv, true);
  return stage;
}

// ---- validation helpers -------------------------------------------------------------------------

[[noreturn]] void fail(const Step& step, const std::string& problem) {
  throw Error("schedule: " + std::string(step_kind_name(step.kind)) + " of stage '" + step.stage +
              "': " + problem);
}

std::string in_quotes(const std::string& name) { return "'" + name + "'"; }

// The stage a step works on, with loops of its own (not inlined).
StageState& stage_with_loops(State& state, const Step& step) {
  StageState& stage = state.get(step.stage);
  if (stage.attach == AttachKind::kInline) fail(step, "the stage is inlined and has no loops");
  return stage;
}

void check_loop(const StageState& stage, const Step& step, const std::string& loop) {
  if (!stage.has_loop(loop)) {
    fail(step, "no loop " + in_quotes(loop) + " (loops: " + join(stage.loops) + ")");
  }
}

// Stages computed inside `loop` of `stage`.
std::vector<std::string> attached_at(const State& state, const std::string& stage,
                                     const std::string& loop) {
  std::vector<std::string> names;
  for (const StageState& other : state.stages) {
    if (other.attach == AttachKind::kAt && other.attach_stage == stage &&
        other.attach_loop == loop) {
      names.push_back(other.name);
    }
  }
  return names;
}

// A loop that another stage is computed in, or that carries an annotation, keeps its identity:
// splitting or fusing it would silently drop the attachment or annotation.
void check_restructurable(const State& state, const StageState& stage, const Step& step,
                          const std::string& loop) {
  std::vector<std::string> attached = attached_at(state, stage.name, loop);
  if (!attached.empty()) {
    fail(step, "loop " + in_quotes(loop) + " has stage(s) " + join(attached) +
                   " computed inside it (compute_at); split and fuse before compute_at");
  }
  if (stage.annotations.count(loop)) {
    fail(step,
         "loop " + in_quotes(loop) + " is already annotated; annotate after splitting/fusing");
  }
}

void check_new_name(const StageState& stage, const Step& step, const std::string& name) {
  if (stage.iters.count(name)) fail(step, "a loop named " + in_quotes(name) + " exists already");
}

// Whether `reader` (with inlined stages expanded) reads `tensor`.
bool reads_tensor(const State& state, const PrimExpr& body, const TensorNode* tensor) {
  class Finder : public tir::IRVisitor {
   public:
    Finder(const State& state, const TensorNode* tensor) : state_(state), tensor_(tensor) {}
    bool found = false;

   protected:
    void visit_tensor_read(const tir::TensorReadNode* op) override {
      if (op->tensor.get() == tensor_) found = true;
      const StageState* producer = state_.find(op->tensor.get());
      if (producer && producer->attach == AttachKind::kInline && !found) visit(producer->body);
      tir::IRVisitor::visit_tensor_read(op);
    }

   private:
    const State& state_;
    const TensorNode* tensor_;
  };
  Finder finder(state, tensor);
  finder.visit(body);
  return finder.found;
}

// Stages with loops of their own that read `stage` (directly or through inlined stages).
std::vector<std::string> consumers(const State& state, const StageState& stage) {
  std::vector<std::string> names;
  for (const StageState& other : state.stages) {
    if (&other == &stage || other.attach == AttachKind::kInline) continue;
    if (reads_tensor(state, other.body, stage.tensor.get())) names.push_back(other.name);
  }
  return names;
}

std::string annotation_name(LoopAnnotation annotation) {
  switch (annotation) {
    case LoopAnnotation::kSerial:
      return "serial";
    case LoopAnnotation::kParallel:
      return "parallel";
    case LoopAnnotation::kVectorized:
      return "vectorized";
    case LoopAnnotation::kUnrolled:
      return "unrolled";
  }
  return "?";
}

// ---- the primitives, on a copy of the state (apply commits it only when a step succeeds) --------

void do_split(State& state, const Step& step, const std::string& loop, int64_t factor) {
  StageState& stage = stage_with_loops(state, step);
  check_loop(stage, step, loop);
  if (factor <= 0) {
    fail(step,
         "factor " + std::to_string(factor) + " for loop " + in_quotes(loop) + " must be positive");
  }
  check_restructurable(state, stage, step, loop);
  std::string outer = split_outer(loop), inner = split_inner(loop);
  check_new_name(stage, step, outer);
  check_new_name(stage, step, inner);
  const IterInfo parent = stage.iters.at(loop);
  // A factor larger than the loop leaves one outer iteration, not a guarded tail.
  int64_t inner_extent = std::max<int64_t>(1, std::min(factor, parent.extent));
  int64_t outer_extent = (parent.extent + inner_extent - 1) / inner_extent;
  stage.iters[outer] = IterInfo{outer_extent, parent.is_reduce};
  stage.iters[inner] = IterInfo{inner_extent, parent.is_reduce};
  auto it = std::find(stage.loops.begin(), stage.loops.end(), loop);
  it = stage.loops.erase(it);
  stage.loops.insert(it, {outer, inner});
  stage.relations.push_back(
      IterRelation{IterRelation::Kind::kSplit, {loop}, {outer, inner}, factor});
}

void do_reorder(State& state, const Step& step, const std::vector<std::string>& order) {
  StageState& stage = stage_with_loops(state, step);
  if (order.empty()) fail(step, "no loops to reorder");
  std::set<std::string> seen;
  std::vector<size_t> positions;
  for (const std::string& loop : order) {
    check_loop(stage, step, loop);
    if (!seen.insert(loop).second) fail(step, "loop " + in_quotes(loop) + " appears twice");
    positions.push_back(std::find(stage.loops.begin(), stage.loops.end(), loop) -
                        stage.loops.begin());
  }
  // The named loops take the places the same loops held before, in the new order; the others
  // stay where they are.
  std::sort(positions.begin(), positions.end());
  for (size_t k = 0; k < order.size(); ++k) stage.loops[positions[k]] = order[k];
  for (size_t k = 0; k + 1 < stage.loops.size(); ++k) {
    auto it = stage.annotations.find(stage.loops[k]);
    if (it != stage.annotations.end() && it->second == LoopAnnotation::kVectorized) {
      fail(step, "vectorized loop " + in_quotes(stage.loops[k]) + " would no longer be innermost");
    }
  }
}

void do_fuse(State& state, const Step& step, const std::vector<std::string>& loops) {
  StageState& stage = stage_with_loops(state, step);
  if (loops.empty()) fail(step, "no loops to fuse");
  for (const std::string& loop : loops) check_loop(stage, step, loop);
  if (loops.size() == 1) return;  // fusing one loop is that loop
  size_t first = std::find(stage.loops.begin(), stage.loops.end(), loops[0]) - stage.loops.begin();
  for (size_t k = 0; k < loops.size(); ++k) {
    if (first + k >= stage.loops.size() || stage.loops[first + k] != loops[k]) {
      fail(step, "loops " + join(loops) +
                     " are not adjacent in this order (loops: " + join(stage.loops) + ")");
    }
  }
  bool is_reduce = stage.iters.at(loops[0]).is_reduce;
  int64_t extent = 1;
  for (const std::string& loop : loops) {
    check_restructurable(state, stage, step, loop);
    if (stage.iters.at(loop).is_reduce != is_reduce) {
      fail(step, "cannot fuse a reduce loop with a data-parallel loop (" + join(loops) + ")");
    }
    extent *= stage.iters.at(loop).extent;
  }
  std::string fused = fused_name(loops);
  check_new_name(stage, step, fused);
  stage.iters[fused] = IterInfo{extent, is_reduce};
  stage.loops.erase(stage.loops.begin() + first, stage.loops.begin() + first + loops.size());
  stage.loops.insert(stage.loops.begin() + first, fused);
  stage.relations.push_back(IterRelation{IterRelation::Kind::kFuse, loops, {fused}, 0});
}

void do_annotate(State& state, const Step& step, LoopAnnotation annotation) {
  StageState& stage = stage_with_loops(state, step);
  if (step.loops.size() != 1) fail(step, "expects exactly one loop");
  const std::string& loop = step.loops[0];
  check_loop(stage, step, loop);
  auto it = stage.annotations.find(loop);
  if (it != stage.annotations.end() && it->second != annotation) {
    fail(step, "loop " + in_quotes(loop) + " is already " + annotation_name(it->second));
  }
  bool is_reduce = stage.iters.at(loop).is_reduce;
  if (annotation == LoopAnnotation::kVectorized) {
    if (stage.loops.back() != loop) {
      fail(step, "loop " + in_quotes(loop) +
                     " is not the innermost loop (loops: " + join(stage.loops) + ")");
    }
    // Lanes of a vector would race on the same output element.
    if (is_reduce) fail(step, "cannot vectorize reduce loop " + in_quotes(loop));
    std::vector<std::string> attached = attached_at(state, stage.name, loop);
    if (!attached.empty()) {
      fail(step,
           "loop " + in_quotes(loop) + " has stage(s) " + join(attached) + " computed inside it");
    }
  }
  if (annotation == LoopAnnotation::kParallel && is_reduce) {
    fail(step,
         "cannot run reduce loop " + in_quotes(loop) + " in parallel (iterations would race)");
  }
  stage.annotations[loop] = annotation;
}

void do_compute_at(State& state, const Step& step) {
  StageState& stage = state.get(step.stage);
  if (step.loops.size() != 1) fail(step, "expects exactly one loop");
  const std::string& loop = step.loops[0];
  if (stage.is_output) fail(step, "an output is computed at the root of the kernel");
  if (stage.attach == AttachKind::kInline) fail(step, "the stage is inlined");
  if (step.target == stage.name) fail(step, "a stage cannot be computed inside itself");
  const StageState& target = state.get(step.target);
  if (target.attach == AttachKind::kInline)
    fail(step, "target stage '" + target.name + "' is inlined");
  if (!target.has_loop(loop)) {
    fail(step, "target stage '" + target.name + "' has no loop " + in_quotes(loop) +
                   " (loops: " + join(target.loops) + ")");
  }
  auto annotation = target.annotations.find(loop);
  if (annotation != target.annotations.end() && annotation->second == LoopAnnotation::kVectorized) {
    fail(step, "loop " + in_quotes(loop) + " of '" + target.name + "' is vectorized");
  }
  // The producer's region is inferred from the target's reads alone, so the target must be the
  // only stage that reads it.
  std::vector<std::string> readers = consumers(state, stage);
  if (readers.size() != 1 || readers[0] != target.name) {
    fail(step, "compute_at needs '" + target.name + "' to be the only consumer (consumers: " +
                   (readers.empty() ? std::string("none") : join(readers)) + ")");
  }
  stage.attach = AttachKind::kAt;
  stage.attach_stage = target.name;
  stage.attach_loop = loop;
}

void do_compute_inline(State& state, const Step& step) {
  StageState& stage = state.get(step.stage);
  if (stage.is_output) fail(step, "an output cannot be inlined (its buffer is a parameter)");
  if (stage.is_reduction()) fail(step, "a reduction cannot be inlined");
  if (stage.attach == AttachKind::kAt) {
    fail(step, "the stage is computed at '" + stage.attach_stage + "'; it cannot also be inlined");
  }
  if (!stage.cache_stage.empty()) fail(step, "the stage has a cache_write stage");
  for (const std::string& loop : stage.loops) {
    std::vector<std::string> attached = attached_at(state, stage.name, loop);
    if (!attached.empty()) {
      fail(step, "stage(s) " + join(attached) + " are computed inside loop " + in_quotes(loop));
    }
  }
  stage.attach = AttachKind::kInline;
}

void do_cache_write(State& state, const Step& step) {
  StageState& stage = state.get(step.stage);
  if (stage.attach != AttachKind::kRoot) {
    fail(step, "cache_write applies to a stage at the root (not inlined or computed elsewhere)");
  }
  if (!stage.cache_stage.empty() || !stage.cache_of.empty()) {
    fail(step, "the stage already takes part in a cache_write");
  }
  bool touched =
      !stage.relations.empty() || !stage.annotations.empty() || stage.loops != stage.root_loops;
  for (const std::string& loop : stage.loops)
    touched |= !attached_at(state, stage.name, loop).empty();
  if (touched) fail(step, "cache_write must come before any other primitive on the stage");
  std::string local = local_name(stage.name);
  if (state.find(local)) fail(step, "a stage named '" + local + "' exists already");

  // The local stage computes the original body (same axis variables: they are only ever
  // substituted stage by stage); the original stage becomes a copy out of it.
  const TensorNode& original = *stage.tensor.get();
  Tensor local_tensor(std::make_shared<const TensorNode>(local, original.dtype, original.shape,
                                                         stage.axes, stage.body, original.tag));
  StageState local_stage =
      make_stage(local_tensor, local, false, stage.axes, stage.reduce_axes, stage.body);
  local_stage.cache_of = stage.name;

  std::vector<PrimExpr> indices;
  for (const IterVar& iv : stage.axes) indices.push_back(PrimExpr(iv.var));
  StageState copy =
      make_stage(stage.tensor, stage.name, stage.is_output, stage.axes, {}, local_tensor(indices));
  copy.cache_stage = local;

  auto position = state.stages.begin() + (&stage - state.stages.data());
  *position = std::move(copy);
  state.stages.insert(position, std::move(local_stage));
}

}  // namespace

// ---- Schedule -----------------------------------------------------------------------------------

Schedule::Schedule(std::vector<Tensor> outputs)
    : outputs_(std::move(outputs)), state_(std::make_shared<State>()) {
  std::unordered_set<const TensorNode*> output_set;
  for (const Tensor& output : outputs_) {
    KILN_CHECK(output) << "schedule of a null tensor";
    output_set.insert(output.get());
  }
  std::set<std::string> taken;
  for (const Tensor& tensor : post_order(outputs_)) {
    if (tensor->is_placeholder()) continue;
    std::string name = unique_name(tensor->name, taken);
    taken.insert(name);
    state_->stages.push_back(make_stage(tensor, name, output_set.count(tensor.get()) > 0,
                                        tensor->axis, tensor->reduce_axis(), tensor->body));
  }
}

void Schedule::apply(const Step& step) {
  // Work on a copy: a failing step leaves the schedule unchanged, and copies of this Schedule
  // that share the old state keep it.
  auto next = std::make_shared<State>(*state_);
  switch (step.kind) {
    case StepKind::kSplit:
      if (step.loops.size() != 1 || step.factors.size() != 1) {
        fail(step, "expects one loop and one factor");
      }
      do_split(*next, step, step.loops[0], step.factors[0]);
      break;
    case StepKind::kTile: {
      if (step.loops.size() != 2 || step.factors.size() != 2) {
        fail(step, "expects two loops and two factors");
      }
      const std::string& x = step.loops[0];
      const std::string& y = step.loops[1];
      if (x == y) fail(step, "tile needs two different loops");
      do_split(*next, step, x, step.factors[0]);
      do_split(*next, step, y, step.factors[1]);
      do_reorder(*next, step, {split_outer(x), split_outer(y), split_inner(x), split_inner(y)});
      break;
    }
    case StepKind::kReorder:
      do_reorder(*next, step, step.loops);
      break;
    case StepKind::kFuse:
      do_fuse(*next, step, step.loops);
      break;
    case StepKind::kVectorize:
      do_annotate(*next, step, LoopAnnotation::kVectorized);
      break;
    case StepKind::kUnroll:
      do_annotate(*next, step, LoopAnnotation::kUnrolled);
      break;
    case StepKind::kParallel:
      do_annotate(*next, step, LoopAnnotation::kParallel);
      break;
    case StepKind::kComputeAt:
      do_compute_at(*next, step);
      break;
    case StepKind::kComputeInline:
      do_compute_inline(*next, step);
      break;
    case StepKind::kCacheWrite:
      do_cache_write(*next, step);
      break;
  }
  state_ = std::move(next);
  steps_.push_back(step);
}

std::pair<std::string, std::string> Schedule::split(const std::string& stage,
                                                    const std::string& loop, int64_t factor) {
  apply(Step{StepKind::kSplit, stage, {loop}, {factor}, ""});
  return {split_outer(loop), split_inner(loop)};
}

std::vector<std::string> Schedule::tile(const std::string& stage, const std::string& x,
                                        const std::string& y, int64_t x_factor, int64_t y_factor) {
  apply(Step{StepKind::kTile, stage, {x, y}, {x_factor, y_factor}, ""});
  return {split_outer(x), split_outer(y), split_inner(x), split_inner(y)};
}

void Schedule::reorder(const std::string& stage, const std::vector<std::string>& order) {
  apply(Step{StepKind::kReorder, stage, order, {}, ""});
}

std::string Schedule::fuse(const std::string& stage, const std::vector<std::string>& loops) {
  apply(Step{StepKind::kFuse, stage, loops, {}, ""});
  return fused_name(loops);
}

void Schedule::vectorize(const std::string& stage, const std::string& loop) {
  apply(Step{StepKind::kVectorize, stage, {loop}, {}, ""});
}

void Schedule::unroll(const std::string& stage, const std::string& loop) {
  apply(Step{StepKind::kUnroll, stage, {loop}, {}, ""});
}

void Schedule::parallel(const std::string& stage, const std::string& loop) {
  apply(Step{StepKind::kParallel, stage, {loop}, {}, ""});
}

void Schedule::compute_at(const std::string& stage, const std::string& target,
                          const std::string& loop) {
  apply(Step{StepKind::kComputeAt, stage, {loop}, {}, target});
}

void Schedule::compute_inline(const std::string& stage) {
  apply(Step{StepKind::kComputeInline, stage, {}, {}, ""});
}

std::string Schedule::cache_write(const std::string& stage) {
  apply(Step{StepKind::kCacheWrite, stage, {}, {}, ""});
  return local_name(stage);
}

std::vector<std::string> Schedule::loops(const std::string& stage) const {
  return state_->get(stage).loops;
}

bool Schedule::at_root(const std::string& stage) const {
  return state_->get(stage).attach == AttachKind::kRoot;
}

std::vector<std::string> Schedule::stages() const {
  std::vector<std::string> names;
  for (const StageState& stage : state_->stages) names.push_back(stage.name);
  return names;
}

std::string Schedule::stage_name(const Tensor& tensor) const {
  if (const StageState* stage = state_->find(tensor.get())) return stage->name;
  throw Error("schedule: tensor '" + (tensor ? tensor->name : std::string("null")) +
              "' is not a stage of this schedule");
}

// ---- text and JSON ------------------------------------------------------------------------------

namespace {

std::string step_to_string(const Step& step) {
  std::vector<std::string> args{step.stage};
  if (step.kind == StepKind::kComputeAt) args.push_back(step.target);
  args.insert(args.end(), step.loops.begin(), step.loops.end());
  for (int64_t factor : step.factors) args.push_back(std::to_string(factor));
  std::string text = std::string(step_kind_name(step.kind)) + "(" + join(args) + ")";
  std::vector<std::string> results;
  switch (step.kind) {
    case StepKind::kSplit:
      if (!step.loops.empty()) results = {split_outer(step.loops[0]), split_inner(step.loops[0])};
      break;
    case StepKind::kTile:
      if (step.loops.size() == 2) {
        results = {split_outer(step.loops[0]), split_outer(step.loops[1]),
                   split_inner(step.loops[0]), split_inner(step.loops[1])};
      }
      break;
    case StepKind::kFuse:
      if (!step.loops.empty()) results = {fused_name(step.loops)};
      break;
    case StepKind::kCacheWrite:
      results = {local_name(step.stage)};
      break;
    default:
      break;
  }
  if (!results.empty()) text += " -> " + join(results);
  return text;
}

StepKind step_kind_from_name(const std::string& name) {
  for (StepKind kind : {StepKind::kSplit, StepKind::kTile, StepKind::kReorder, StepKind::kFuse,
                        StepKind::kVectorize, StepKind::kUnroll, StepKind::kParallel,
                        StepKind::kComputeAt, StepKind::kComputeInline, StepKind::kCacheWrite}) {
    if (step_kind_name(kind) == name) return kind;
  }
  throw Error("schedule JSON: unknown step kind '" + name + "'");
}

}  // namespace

std::string Schedule::to_string() const {
  std::string text;
  for (const Step& step : steps_) text += step_to_string(step) + "\n";
  return text;
}

std::string Schedule::to_json() const {
  nlohmann::json steps = nlohmann::json::array();
  for (const Step& step : steps_) {
    nlohmann::json item = {{"kind", std::string(step_kind_name(step.kind))}, {"stage", step.stage}};
    if (!step.loops.empty()) item["loops"] = step.loops;
    if (!step.factors.empty()) item["factors"] = step.factors;
    if (!step.target.empty()) item["target"] = step.target;
    steps.push_back(std::move(item));
  }
  return steps.dump();
}

Schedule Schedule::from_json(std::vector<Tensor> outputs, const std::string& json) {
  std::vector<Step> steps;
  try {
    nlohmann::json parsed = nlohmann::json::parse(json);
    if (!parsed.is_array()) throw Error("schedule JSON: expected an array of steps");
    for (const nlohmann::json& item : parsed) {
      if (!item.is_object()) throw Error("schedule JSON: a step is not an object");
      Step step;
      step.kind = step_kind_from_name(item.at("kind").get<std::string>());
      step.stage = item.at("stage").get<std::string>();
      if (item.contains("loops")) step.loops = item["loops"].get<std::vector<std::string>>();
      if (item.contains("factors")) step.factors = item["factors"].get<std::vector<int64_t>>();
      if (item.contains("target")) step.target = item["target"].get<std::string>();
      steps.push_back(std::move(step));
    }
  } catch (const nlohmann::json::exception& e) {
    throw Error(std::string("schedule JSON: ") + e.what());
  }
  Schedule schedule(std::move(outputs));
  for (size_t k = 0; k < steps.size(); ++k) {
    try {
      schedule.apply(steps[k]);
    } catch (const Error& e) {
      throw Error("schedule JSON: step " + std::to_string(k + 1) + " (" + step_to_string(steps[k]) +
                  ") does not apply: " + e.what());
    }
  }
  return schedule;
}

}  // namespace kiln::te
