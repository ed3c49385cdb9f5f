#include "te/lower.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "kiln/error.h"
#include "te/schedule_state.h"
#include "tir/functor.h"
#include "tir/semantics.h"

namespace kiln::te {
namespace {

using tir::BinaryNode;
using tir::BinaryOp;
using tir::Buffer;
using tir::BufferScope;
using tir::ForKind;
using tir::ReduceCombiner;
using tir::ReduceNode;
using tir::Stmt;
using tir::TensorReadNode;
using tir::VarNode;
using State = Schedule::State;

// ---- index arithmetic that folds constants, so the lowered IR reads well before simplify --------

PrimExpr index(int64_t value) { return tir::int_imm(value); }

bool is_const(const PrimExpr& expr, int64_t value) {
  const int64_t* constant = tir::as_const_int(expr);
  return constant && *constant == value;
}

PrimExpr add(const PrimExpr& a, const PrimExpr& b) {
  const int64_t* ca = tir::as_const_int(a);
  const int64_t* cb = tir::as_const_int(b);
  if (ca && cb) return index(*ca + *cb);
  if (ca && *ca == 0) return b;
  if (cb && *cb == 0) return a;
  return a + b;
}

PrimExpr sub(const PrimExpr& a, const PrimExpr& b) {
  const int64_t* ca = tir::as_const_int(a);
  const int64_t* cb = tir::as_const_int(b);
  if (ca && cb) return index(*ca - *cb);
  if (cb && *cb == 0) return a;
  return a - b;
}

PrimExpr mul(const PrimExpr& a, int64_t factor) {
  if (factor == 0) return index(0);
  if (factor == 1) return a;
  if (const int64_t* ca = tir::as_const_int(a)) return index(*ca * factor);
  return a * index(factor);
}

PrimExpr floordiv(const PrimExpr& a, int64_t divisor) {
  if (divisor == 1) return a;
  if (const int64_t* ca = tir::as_const_int(a)) {
    return index(*ca >= 0 ? *ca / divisor : -((-*ca + divisor - 1) / divisor));
  }
  return tir::floordiv(a, index(divisor));
}

PrimExpr floormod(const PrimExpr& a, int64_t divisor) {
  if (divisor == 1) return index(0);
  return tir::floormod(a, index(divisor));
}

// ---- interval arithmetic over loop variables ----------------------------------------------------

struct Bounds {
  int64_t lo = 0;
  int64_t hi = 0;
};
using RangeEnv = std::unordered_map<const VarNode*, Bounds>;

// Bounds of an integer expression given the ranges of the variables in `env`; nullopt when the
// expression has anything else (then callers stay conservative).
std::optional<Bounds> eval_bounds(const PrimExpr& expr, const RangeEnv& env) {
  if (const int64_t* constant = tir::as_const_int(expr)) return Bounds{*constant, *constant};
  if (const auto* var = expr.as<VarNode>()) {
    auto it = env.find(var);
    if (it == env.end()) return std::nullopt;
    return it->second;
  }
  const auto* op = expr.as<BinaryNode>();
  if (!op) return std::nullopt;
  std::optional<Bounds> a = eval_bounds(op->a, env);
  std::optional<Bounds> b = eval_bounds(op->b, env);
  if (!a || !b) return std::nullopt;
  const int64_t* divisor = tir::as_const_int(op->b);
  switch (op->op) {
    case BinaryOp::kAdd:
      return Bounds{a->lo + b->lo, a->hi + b->hi};
    case BinaryOp::kSub:
      return Bounds{a->lo - b->hi, a->hi - b->lo};
    case BinaryOp::kMul: {
      int64_t products[] = {a->lo * b->lo, a->lo * b->hi, a->hi * b->lo, a->hi * b->hi};
      return Bounds{*std::min_element(products, products + 4),
                    *std::max_element(products, products + 4)};
    }
    case BinaryOp::kDiv:
    case BinaryOp::kFloorDiv:
      if (!divisor || *divisor <= 0) return std::nullopt;
      if (op->op == BinaryOp::kDiv && a->lo < 0) return std::nullopt;
      return Bounds{tir::floor_div(a->lo, *divisor), tir::floor_div(a->hi, *divisor)};
    case BinaryOp::kMod:
    case BinaryOp::kFloorMod:
      if (!divisor || *divisor <= 0) return std::nullopt;
      if (op->op == BinaryOp::kMod && a->lo < 0) return std::nullopt;
      if (a->lo >= 0 && a->hi < *divisor) return a;
      return Bounds{0, *divisor - 1};
    case BinaryOp::kMin:
      return Bounds{std::min(a->lo, b->lo), std::min(a->hi, b->hi)};
    case BinaryOp::kMax:
      return Bounds{std::max(a->lo, b->lo), std::max(a->hi, b->hi)};
  }
  return std::nullopt;
}

// ---- affine forms of read indices (for bound inference) ----------------------------------------

struct Affine {
  std::map<const VarNode*, int64_t> coefficients;  // no zero entries
  int64_t constant = 0;
};

std::optional<Affine> linearize(const PrimExpr& expr) {
  if (const int64_t* constant = tir::as_const_int(expr)) return Affine{{}, *constant};
  if (const auto* var = expr.as<VarNode>()) return Affine{{{var, 1}}, 0};
  const auto* op = expr.as<BinaryNode>();
  if (!op || !op->dtype().is_int()) return std::nullopt;
  std::optional<Affine> a = linearize(op->a);
  std::optional<Affine> b = linearize(op->b);
  if (!a || !b) return std::nullopt;
  auto scaled = [](Affine form, int64_t factor) {
    for (auto& [var, coefficient] : form.coefficients) coefficient *= factor;
    form.constant *= factor;
    if (factor == 0) form.coefficients.clear();
    return form;
  };
  auto combined = [](Affine x, const Affine& y, int64_t sign) {
    for (const auto& [var, coefficient] : y.coefficients) {
      int64_t& entry = x.coefficients[var];
      entry += sign * coefficient;
      if (entry == 0) x.coefficients.erase(var);
    }
    x.constant += sign * y.constant;
    return x;
  };
  switch (op->op) {
    case BinaryOp::kAdd:
      return combined(*a, *b, 1);
    case BinaryOp::kSub:
      return combined(*a, *b, -1);
    case BinaryOp::kMul:
      if (b->coefficients.empty()) return scaled(*a, b->constant);
      if (a->coefficients.empty()) return scaled(*b, a->constant);
      return std::nullopt;
    default:
      return std::nullopt;
  }
}

// ---- reductions ---------------------------------------------------------------------------------

template <typename T>
PrimExpr int_limit(DataType dtype, bool lowest) {
  return tir::int_imm(static_cast<int64_t>(lowest ? std::numeric_limits<T>::lowest()
                                                  : std::numeric_limits<T>::max()),
                      dtype);
}

// The lowest (or highest) value of an integer dtype. uint64's maximum keeps its bit pattern (-1 in
// the int64 immediate), which is what codegen emits for a 64-bit constant.
PrimExpr integer_limit(DataType dtype, bool lowest) {
  switch (dtype.dtype) {
    case DType::kInt8:
      return int_limit<int8_t>(dtype, lowest);
    case DType::kInt16:
      return int_limit<int16_t>(dtype, lowest);
    case DType::kInt32:
      return int_limit<int32_t>(dtype, lowest);
    case DType::kInt64:
      return int_limit<int64_t>(dtype, lowest);
    case DType::kUInt8:
      return int_limit<uint8_t>(dtype, lowest);
    case DType::kUInt16:
      return int_limit<uint16_t>(dtype, lowest);
    case DType::kUInt32:
      return int_limit<uint32_t>(dtype, lowest);
    case DType::kUInt64:
      return int_limit<uint64_t>(dtype, lowest);
    case DType::kBool:
      return tir::int_imm(lowest ? 0 : 1, dtype);
    default:
      break;
  }
  KILN_CHECK(false) << "no integer limits for " << dtype.to_string();
  return PrimExpr();
}

PrimExpr reduce_identity(ReduceCombiner combiner, DataType dtype) {
  switch (combiner) {
    case ReduceCombiner::kSum:
      return tir::make_const(dtype, 0);
    case ReduceCombiner::kProd:
      return tir::make_const(dtype, 1);
    case ReduceCombiner::kMax:
      if (dtype.is_float()) return tir::float_imm(-std::numeric_limits<double>::infinity(), dtype);
      return integer_limit(dtype, true);
    case ReduceCombiner::kMin:
      if (dtype.is_float()) return tir::float_imm(std::numeric_limits<double>::infinity(), dtype);
      return integer_limit(dtype, false);
  }
  return PrimExpr();
}

PrimExpr reduce_combine(ReduceCombiner combiner, PrimExpr accumulated, PrimExpr value) {
  switch (combiner) {
    case ReduceCombiner::kSum:
      return accumulated + value;
    case ReduceCombiner::kProd:
      return accumulated * value;
    case ReduceCombiner::kMax:
      return tir::max(accumulated, value);
    case ReduceCombiner::kMin:
      return tir::min(accumulated, value);
  }
  return PrimExpr();
}

ForKind for_kind(const StageState& stage, const std::string& loop) {
  auto it = stage.annotations.find(loop);
  if (it == stage.annotations.end()) return ForKind::kSerial;
  switch (it->second) {
    case LoopAnnotation::kSerial:
      return ForKind::kSerial;
    case LoopAnnotation::kParallel:
      return ForKind::kParallel;
    case LoopAnnotation::kVectorized:
      return ForKind::kVectorized;
    case LoopAnnotation::kUnrolled:
      return ForKind::kUnrolled;
  }
  return ForKind::kSerial;
}

// ---- the lowering -------------------------------------------------------------------------------

// Where a stage's elements live: `buffer[index - offset]` (offset: the region's minimum when the
// buffer holds only the region computed inside a consumer's loop; zeros otherwise).
struct BufferBinding {
  Buffer buffer;
  std::vector<PrimExpr> offset;
};

// The part of a stage's domain to compute: per data-parallel axis, [min, min + extent).
struct Region {
  std::vector<PrimExpr> min;
  std::vector<int64_t> extent;
};

Region full_region(const StageState& stage) {
  Region region;
  for (const IterVar& axis : stage.axes) {
    region.min.push_back(index(0));
    region.extent.push_back(axis.extent);
  }
  return region;
}

// An interval whose start is an expression and whose length is static.
struct Interval {
  PrimExpr min;
  int64_t extent = 1;
};

// Inlines reads of inlined stages (recursively), leaving reads of stages that own buffers.
class Inliner : public tir::IRMutator {
 public:
  explicit Inliner(const State& state) : state_(state) {}

  PrimExpr body_of(const StageState& stage) {
    auto it = cache_.find(&stage);
    if (it != cache_.end()) return it->second;
    PrimExpr body = mutate(stage.body);
    cache_.emplace(&stage, body);
    return body;
  }

 protected:
  PrimExpr mutate_tensor_read(const TensorReadNode* op, const PrimExpr& self) override {
    PrimExpr read = tir::IRMutator::mutate_tensor_read(op, self);
    const StageState* producer = state_.find(op->tensor.get());
    if (!producer || producer->attach != AttachKind::kInline) return read;
    const auto* rewritten = read.as<TensorReadNode>();
    tir::VarMap map;
    for (size_t k = 0; k < producer->axes.size(); ++k) {
      map[producer->axes[k].var.get()] = rewritten->indices[k];
    }
    return tir::substitute(body_of(*producer), map);
  }

 private:
  const State& state_;
  std::unordered_map<const StageState*, PrimExpr> cache_;
};

// Replaces axis variables by their values and tensor reads by buffer loads.
class Translator : public tir::IRMutator {
 public:
  Translator(const tir::VarMap& values,
             const std::unordered_map<const TensorNode*, BufferBinding>& buffers)
      : values_(values), buffers_(buffers) {}

 protected:
  PrimExpr mutate_var(const VarNode* op, const PrimExpr& self) override {
    auto it = values_.find(op);
    return it == values_.end() ? self : it->second;
  }
  PrimExpr mutate_tensor_read(const TensorReadNode* op, const PrimExpr&) override {
    auto it = buffers_.find(op->tensor.get());
    if (it == buffers_.end()) {
      throw Error("lower: tensor '" + op->tensor->name +
                  "' is read but is neither an argument nor a stage of the schedule; pass it "
                  "among the arguments");
    }
    std::vector<PrimExpr> indices;
    for (size_t k = 0; k < op->indices.size(); ++k) {
      indices.push_back(sub(mutate(op->indices[k]), it->second.offset[k]));
    }
    return tir::buffer_load(it->second.buffer, std::move(indices));
  }
  PrimExpr mutate_reduce(const ReduceNode*, const PrimExpr&) override {
    KILN_CHECK(false) << "a Reduce below the top of a compute body";
    return PrimExpr();
  }

 private:
  const tir::VarMap& values_;
  const std::unordered_map<const TensorNode*, BufferBinding>& buffers_;
};

class Lowerer {
 public:
  explicit Lowerer(const State& state) : state_(state), inliner_(state) {}

  tir::PrimFunc run(const Schedule& schedule, const std::vector<Tensor>& args,
                    const std::string& name);

 private:
  // Per-stage loop structure for one region of its domain.
  struct Nest {
    const StageState* stage = nullptr;
    std::map<std::string, int64_t> extents;  // every loop of the stage
    std::vector<Var> leaf_vars;              // one per leaf loop
  };

  Nest make_nest(const StageState& stage, const Region& region);
  // Values of the stage's loops given values of some leaves; a loop whose inputs are missing has
  // none.
  std::map<std::string, PrimExpr> loop_values(const Nest& nest,
                                              std::map<std::string, PrimExpr> leaves) const;
  // Guard conditions that the known loop values allow to state.
  std::vector<PrimExpr> guards(const Nest& nest, const std::map<std::string, PrimExpr>& values,
                               const Region& region) const;
  Region infer_region(const Nest& consumer, const Region& consumer_region, size_t attach_position,
                      const StageState& producer);
  Stmt build_stage(const StageState& stage, const Region& region);
  // The stages computed inside `loop` of `stage`, producers first, each wrapped with its buffer.
  std::vector<const StageState*> attached_at(const StageState& stage,
                                             const std::string& loop) const;

  const State& state_;
  Inliner inliner_;
  std::unordered_map<const TensorNode*, BufferBinding> buffers_;
  RangeEnv env_;  // ranges of every loop variable created so far (all distinct nodes)
};

Lowerer::Nest Lowerer::make_nest(const StageState& stage, const Region& region) {
  Nest nest;
  nest.stage = &stage;
  for (size_t k = 0; k < stage.root_loops.size(); ++k) {
    nest.extents[stage.root_loops[k]] =
        k < stage.axes.size() ? region.extent[k] : stage.reduce_axes[k - stage.axes.size()].extent;
  }
  for (const IterRelation& relation : stage.relations) {
    if (relation.kind == IterRelation::Kind::kSplit) {
      int64_t parent = nest.extents.at(relation.inputs[0]);
      int64_t inner = std::max<int64_t>(1, std::min(relation.factor, parent));
      nest.extents[relation.outputs[0]] = (parent + inner - 1) / inner;
      nest.extents[relation.outputs[1]] = inner;
    } else {
      int64_t extent = 1;
      for (const std::string& input : relation.inputs) extent *= nest.extents.at(input);
      nest.extents[relation.outputs[0]] = extent;
    }
  }
  for (const std::string& loop : stage.loops) {
    Var var = tir::make_var(loop);
    env_[var.get()] = Bounds{0, nest.extents.at(loop) - 1};
    nest.leaf_vars.push_back(var);
  }
  return nest;
}

std::map<std::string, PrimExpr> Lowerer::loop_values(const Nest& nest,
                                                     std::map<std::string, PrimExpr> values) const {
  const StageState& stage = *nest.stage;
  for (auto it = stage.relations.rbegin(); it != stage.relations.rend(); ++it) {
    const IterRelation& relation = *it;
    if (relation.kind == IterRelation::Kind::kSplit) {
      auto outer = values.find(relation.outputs[0]);
      auto inner = values.find(relation.outputs[1]);
      if (outer == values.end() || inner == values.end()) continue;
      int64_t inner_extent = nest.extents.at(relation.outputs[1]);
      values[relation.inputs[0]] = add(mul(outer->second, inner_extent), inner->second);
    } else {
      auto fused = values.find(relation.outputs[0]);
      if (fused == values.end()) continue;
      PrimExpr value = fused->second;
      int64_t stride = 1;
      for (size_t k = relation.inputs.size(); k-- > 0;) {
        int64_t extent = nest.extents.at(relation.inputs[k]);
        PrimExpr quotient = floordiv(value, stride);
        // The outermost input needs no modulo: the fused loop never exceeds the product.
        values[relation.inputs[k]] = k == 0 ? quotient : floormod(quotient, extent);
        stride *= extent;
      }
    }
  }
  return values;
}

std::vector<PrimExpr> Lowerer::guards(const Nest& nest,
                                      const std::map<std::string, PrimExpr>& values,
                                      const Region& region) const {
  const StageState& stage = *nest.stage;
  std::vector<PrimExpr> conditions;
  for (const IterRelation& relation : stage.relations) {
    if (relation.kind != IterRelation::Kind::kSplit) continue;
    int64_t parent = nest.extents.at(relation.inputs[0]);
    int64_t covered = nest.extents.at(relation.outputs[0]) * nest.extents.at(relation.outputs[1]);
    auto value = values.find(relation.inputs[0]);
    if (covered != parent && value != values.end()) {
      conditions.push_back(value->second < index(parent));
    }
  }
  // A region inside a consumer's loop may reach past the tensor at a tail; those elements are
  // never read, and computing them could read the inputs out of bounds.
  for (size_t k = 0; k < stage.axes.size(); ++k) {
    auto value = values.find(stage.root_loops[k]);
    if (value == values.end()) continue;
    int64_t shape = stage.tensor->shape[k];
    std::optional<Bounds> min = eval_bounds(region.min[k], env_);
    PrimExpr absolute = add(region.min[k], value->second);
    if (!min || min->lo < 0) conditions.push_back(absolute >= index(0));
    if (!min || min->hi + region.extent[k] > shape) conditions.push_back(absolute < index(shape));
  }
  return conditions;
}

Region Lowerer::infer_region(const Nest& consumer, const Region& consumer_region,
                             size_t attach_position, const StageState& producer) {
  const StageState& stage = *consumer.stage;
  // Loops down to the attach point are fixed (one value each); the loops inside it range fully.
  std::map<std::string, Interval> intervals;
  for (size_t k = 0; k < stage.loops.size(); ++k) {
    intervals[stage.loops[k]] = k <= attach_position
                                    ? Interval{PrimExpr(consumer.leaf_vars[k]), 1}
                                    : Interval{index(0), consumer.extents.at(stage.loops[k])};
  }
  for (auto it = stage.relations.rbegin(); it != stage.relations.rend(); ++it) {
    const IterRelation& relation = *it;
    if (relation.kind == IterRelation::Kind::kSplit) {
      const Interval& outer = intervals.at(relation.outputs[0]);
      const Interval& inner = intervals.at(relation.outputs[1]);
      int64_t factor = consumer.extents.at(relation.outputs[1]);
      int64_t parent_extent = consumer.extents.at(relation.inputs[0]);
      Interval parent{add(mul(outer.min, factor), inner.min),
                      (outer.extent - 1) * factor + inner.extent};
      if (is_const(parent.min, 0)) parent.extent = std::min(parent.extent, parent_extent);
      intervals[relation.inputs[0]] = parent;
    } else {
      const Interval& fused = intervals.at(relation.outputs[0]);
      int64_t stride = 1;
      for (size_t k = relation.inputs.size(); k-- > 0;) {
        int64_t extent = consumer.extents.at(relation.inputs[k]);
        // A fixed fused loop fixes every input; a ranging one is taken as covering them all.
        // (The same expressions as loop_values, so that region offsets cancel in simplify.)
        PrimExpr quotient = floordiv(fused.min, stride);
        intervals[relation.inputs[k]] =
            fused.extent == 1 ? Interval{k == 0 ? quotient : floormod(quotient, extent), 1}
                              : Interval{index(0), extent};
        stride *= extent;
      }
    }
  }
  std::unordered_map<const VarNode*, Interval> axis_ranges;
  for (size_t k = 0; k < stage.root_loops.size(); ++k) {
    Interval interval = intervals.at(stage.root_loops[k]);
    if (k < stage.axes.size()) {
      interval.min = add(consumer_region.min[k], interval.min);
      axis_ranges[stage.axes[k].var.get()] = interval;
    } else {
      axis_ranges[stage.reduce_axes[k - stage.axes.size()].var.get()] = interval;
    }
  }

  // Every read of the producer in the consumer's body, with inlined stages expanded.
  std::vector<std::vector<PrimExpr>> reads;
  class ReadCollector : public tir::IRVisitor {
   public:
    ReadCollector(const TensorNode* tensor, std::vector<std::vector<PrimExpr>>& reads)
        : tensor_(tensor), reads_(reads) {}

   protected:
    void visit_tensor_read(const TensorReadNode* op) override {
      if (op->tensor.get() == tensor_) reads_.push_back(op->indices);
      tir::IRVisitor::visit_tensor_read(op);
    }

   private:
    const TensorNode* tensor_;
    std::vector<std::vector<PrimExpr>>& reads_;
  };
  ReadCollector collector(producer.tensor.get(), reads);
  collector.visit(inliner_.body_of(stage));

  Region region = full_region(producer);
  for (size_t dim = 0; dim < producer.axes.size(); ++dim) {
    int64_t shape = producer.tensor->shape[dim];
    std::optional<Affine> form;
    int64_t constant_lo = 0, constant_hi = 0;
    bool affine = !reads.empty();
    for (const std::vector<PrimExpr>& read : reads) {
      std::optional<Affine> this_form = linearize(read[dim]);
      if (!this_form) {
        affine = false;
        break;
      }
      if (!form) {
        form = this_form;
        constant_lo = constant_hi = this_form->constant;
      } else if (form->coefficients != this_form->coefficients) {
        affine = false;  // reads that do not differ by a constant: take the whole axis
        break;
      }
      constant_lo = std::min(constant_lo, this_form->constant);
      constant_hi = std::max(constant_hi, this_form->constant);
    }
    if (!affine) continue;
    PrimExpr min = index(constant_lo);
    int64_t extent = constant_hi - constant_lo + 1;
    for (const auto& [var, coefficient] : form->coefficients) {
      auto range = axis_ranges.find(var);
      if (range == axis_ranges.end()) {
        affine = false;
        break;
      }
      const Interval& interval = range->second;
      PrimExpr start =
          coefficient > 0 ? interval.min : add(interval.min, index(interval.extent - 1));
      min = add(min, mul(start, coefficient));
      extent += std::abs(coefficient) * (interval.extent - 1);
    }
    if (!affine || extent >= shape) continue;
    region.min[dim] = min;
    region.extent[dim] = extent;
  }
  return region;
}

std::vector<const StageState*> Lowerer::attached_at(const StageState& stage,
                                                    const std::string& loop) const {
  std::vector<const StageState*> result;
  for (const StageState& other : state_.stages) {
    if (other.attach == AttachKind::kAt && other.attach_stage == stage.name &&
        other.attach_loop == loop) {
      result.push_back(&other);
    }
  }
  return result;
}

Stmt Lowerer::build_stage(const StageState& stage, const Region& region) {
  Nest nest = make_nest(stage, region);
  const size_t depth = stage.loops.size();
  std::map<std::string, PrimExpr> leaves;
  for (size_t k = 0; k < depth; ++k) leaves[stage.loops[k]] = PrimExpr(nest.leaf_vars[k]);
  std::map<std::string, PrimExpr> values = loop_values(nest, leaves);

  // Position (index of the innermost loop it uses, -1 for none) of each guard.
  auto position_of = [](const PrimExpr& condition, const std::vector<Var>& vars,
                        size_t first) -> long {
    long position = -1;
    for (size_t k = first; k < vars.size(); ++k) {
      if (tir::uses_var(condition, vars[k].get())) position = static_cast<long>(k);
    }
    return position;
  };
  std::multimap<long, PrimExpr> placed_guards;
  for (const PrimExpr& condition : guards(nest, values, region)) {
    placed_guards.emplace(position_of(condition, nest.leaf_vars, 0), condition);
  }
  auto wrap_guards = [](const std::multimap<long, PrimExpr>& all, long position, Stmt body) {
    auto [begin, end] = all.equal_range(position);
    PrimExpr condition;
    for (auto it = begin; it != end; ++it) {
      condition = condition ? tir::logical_and(condition, it->second) : it->second;
    }
    return condition ? tir::make_if(condition, std::move(body)) : body;
  };

  // The element this stage computes: stored at the region-relative position (its buffer holds
  // the region), computed from absolute axis values.
  tir::VarMap axis_values;
  std::vector<PrimExpr> store_index;
  for (size_t k = 0; k < stage.axes.size(); ++k) {
    const PrimExpr& relative = values.at(stage.root_loops[k]);
    axis_values[stage.axes[k].var.get()] = add(region.min[k], relative);
    store_index.push_back(relative);
  }
  for (size_t k = 0; k < stage.reduce_axes.size(); ++k) {
    axis_values[stage.reduce_axes[k].var.get()] =
        values.at(stage.root_loops[stage.axes.size() + k]);
  }
  const BufferBinding& own = buffers_.at(stage.tensor.get());
  PrimExpr body = inliner_.body_of(stage);
  const auto* reduce = body.as<ReduceNode>();

  // The reduction's init sits just outside the outermost reduce loop, over the data-parallel
  // loops inside that point (fresh variables), under the guards those loops need.
  size_t first_reduce = depth;
  Stmt init;
  if (reduce) {
    for (size_t k = 0; k < depth; ++k) {
      if (stage.iters.at(stage.loops[k]).is_reduce) {
        first_reduce = k;
        break;
      }
    }
    std::map<std::string, PrimExpr> init_leaves;
    std::vector<Var> init_vars;
    std::vector<size_t> init_loops;
    for (size_t k = 0; k < depth; ++k) {
      if (k < first_reduce) {
        init_leaves[stage.loops[k]] = PrimExpr(nest.leaf_vars[k]);
        init_vars.push_back(nest.leaf_vars[k]);
      } else if (!stage.iters.at(stage.loops[k]).is_reduce) {
        Var var = tir::make_var(stage.loops[k]);
        env_[var.get()] = env_.at(nest.leaf_vars[k].get());
        init_leaves[stage.loops[k]] = PrimExpr(var);
        init_vars.push_back(var);
        init_loops.push_back(k);
      }
    }
    std::map<std::string, PrimExpr> init_values = loop_values(nest, init_leaves);
    std::multimap<long, PrimExpr> init_guards;
    for (const PrimExpr& condition : guards(nest, init_values, region)) {
      long position = position_of(condition, init_vars, first_reduce);
      // Guards on the loops outside the init already enclose it in the main nest.
      if (position >= 0) init_guards.emplace(position - static_cast<long>(first_reduce), condition);
    }
    std::vector<PrimExpr> init_index;
    for (size_t k = 0; k < stage.axes.size(); ++k) {
      init_index.push_back(init_values.at(stage.root_loops[k]));
    }
    init = tir::make_store(own.buffer, reduce_identity(reduce->combiner, stage.tensor->dtype),
                           init_index);
    for (size_t j = init_loops.size(); j-- > 0;) {
      init = wrap_guards(init_guards, static_cast<long>(j), init);
      size_t k = init_loops[j];
      init = tir::make_for(init_vars[first_reduce + j], index(0),
                           index(nest.extents.at(stage.loops[k])), for_kind(stage, stage.loops[k]),
                           init);
    }
    init = wrap_guards(init_guards, -1, init);
  }

  // Build from the innermost level out. Stages computed at a loop are built first so that their
  // buffers (and region offsets) are bound when the body below reads them.
  std::vector<std::vector<const StageState*>> producers(depth);
  std::vector<std::vector<Stmt>> producer_nests(depth);
  for (size_t k = 0; k < depth; ++k) {
    for (const StageState* producer : attached_at(stage, stage.loops[k])) {
      Region producer_region = infer_region(nest, region, k, *producer);
      BufferBinding binding;
      binding.buffer = tir::make_buffer(producer->name, producer->tensor->dtype,
                                        producer_region.extent, BufferScope::kLocal);
      binding.offset = producer_region.min;
      buffers_[producer->tensor.get()] = binding;
      producer_nests[k].push_back(build_stage(*producer, producer_region));
      producers[k].push_back(producer);
    }
  }

  Stmt stmt;
  {
    Translator translator(axis_values, buffers_);
    if (reduce) {
      PrimExpr current = tir::buffer_load(own.buffer, store_index);
      stmt = tir::make_store(
          own.buffer, reduce_combine(reduce->combiner, current, translator.mutate(reduce->source)),
          store_index);
    } else {
      stmt = tir::make_store(own.buffer, translator.mutate(body), store_index);
    }
  }
  for (size_t k = depth; k-- > 0;) {
    // Inside loop k: the producers computed there, then the rest; a guard failing at this level
    // skips both (the producers only serve the body below).
    std::vector<Stmt> parts = producer_nests[k];
    parts.push_back(stmt);
    stmt = tir::make_seq(std::move(parts));
    for (size_t p = producers[k].size(); p-- > 0;) {
      stmt = tir::make_allocate(buffers_.at(producers[k][p]->tensor.get()).buffer, stmt);
    }
    stmt = wrap_guards(placed_guards, static_cast<long>(k), stmt);
    stmt = tir::make_for(nest.leaf_vars[k], index(0), index(nest.extents.at(stage.loops[k])),
                         for_kind(stage, stage.loops[k]), stmt);
    if (init && k == first_reduce) stmt = tir::make_seq({init, stmt});
  }
  return wrap_guards(placed_guards, -1, stmt);
}

tir::PrimFunc Lowerer::run(const Schedule& schedule, const std::vector<Tensor>& args,
                           const std::string& name) {
  tir::PrimFunc func;
  func.name = name;
  std::unordered_set<const TensorNode*> arg_set;
  for (const Tensor& arg : args) {
    if (!arg) throw Error("lower " + name + ": a null tensor among the arguments");
    if (!arg_set.insert(arg.get()).second) {
      throw Error("lower " + name + ": tensor '" + arg->name +
                  "' appears twice among the arguments");
    }
    if (!arg->is_placeholder()) {
      const StageState* stage = state_.find(arg.get());
      if (!stage) {
        throw Error("lower " + name + ": argument '" + arg->name +
                    "' is not computed by this schedule");
      }
      if (stage->attach != AttachKind::kRoot) {
        throw Error("lower " + name + ": argument '" + arg->name +
                    "' is inlined or computed inside another stage; a parameter must be computed "
                    "whole");
      }
    }
    Buffer buffer = tir::make_buffer(arg->name, arg->dtype, arg->shape);
    buffers_[arg.get()] = BufferBinding{buffer, std::vector<PrimExpr>(arg->shape.size(), index(0))};
    func.params.push_back(buffer);
  }
  for (const Tensor& output : schedule.outputs()) {
    // A kernel that "outputs" its input would leave the output buffer unwritten.
    if (output->is_placeholder()) {
      throw Error("lower " + name + ": output '" + output->name +
                  "' is a placeholder, which nothing computes; copy it with a compute");
    }
    if (!arg_set.count(output.get())) {
      throw Error("lower " + name + ": output '" + output->name + "' is not among the arguments");
    }
  }

  std::vector<const StageState*> intermediates;
  std::vector<Stmt> nests;
  for (const StageState& stage : state_.stages) {
    if (stage.attach != AttachKind::kRoot) continue;
    if (!arg_set.count(stage.tensor.get())) {
      BufferScope scope = stage.cache_of.empty() ? BufferScope::kGlobal : BufferScope::kLocal;
      Buffer buffer = tir::make_buffer(stage.name, stage.tensor->dtype, stage.tensor->shape, scope);
      buffers_[stage.tensor.get()] =
          BufferBinding{buffer, std::vector<PrimExpr>(stage.axes.size(), index(0))};
      intermediates.push_back(&stage);
    }
    nests.push_back(build_stage(stage, full_region(stage)));
  }
  Stmt body = tir::make_seq(std::move(nests));
  for (size_t k = intermediates.size(); k-- > 0;) {
    body = tir::make_allocate(buffers_.at(intermediates[k]->tensor.get()).buffer, body);
  }
  func.body = body;
  return func;
}

}  // namespace

tir::PrimFunc lower(const Schedule& schedule, const std::vector<Tensor>& args,
                    const std::string& name) {
  Lowerer lowerer(schedule.state());
  return lowerer.run(schedule, args, name);
}

}  // namespace kiln::te
