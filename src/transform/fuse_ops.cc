#include "transform/fuse_ops.h"

#include <algorithm>
#include <optional>
#include <unordered_set>

#include "ir/functor.h"
#include "ir/printer.h"
#include "kiln/error.h"

namespace kiln::transform {

namespace {

using ir::OpPattern;

bool is_anchor_pattern(OpPattern pattern) {
  return pattern == OpPattern::kOutEWiseFusable || pattern == OpPattern::kReduction;
}

bool is_elemwise_or_broadcast(OpPattern pattern) {
  return pattern == OpPattern::kElemwise || pattern == OpPattern::kBroadcast;
}

// kElemwise, kBroadcast and kInjective: the patterns whose calls can be inlined into a consumer.
bool is_injective_or_less(OpPattern pattern) {
  return is_elemwise_or_broadcast(pattern) || pattern == OpPattern::kInjective;
}

// Whether a group of pattern `group` (with an anchor or not) accepts a following call of pattern
// `next` (the rules of the header comment).
bool accepts(OpPattern group, OpPattern next) {
  if (is_anchor_pattern(group)) return is_elemwise_or_broadcast(next);
  if (is_injective_or_less(group)) {
    return is_injective_or_less(next) || next == OpPattern::kReduction;
  }
  return false;  // opaque
}

// -1 for a tuple or a symbolic shape.
int64_t element_count(const ir::Type& type) {
  return type.is_tensor() ? type.as_tensor().numel() : -1;
}

class Partitioner {
 public:
  Partitioner(const ir::Module& module, const FuseOptions& options) : options_(options) {
    nodes_ = ir::post_order(module.main()->body);
    for (size_t i = 0; i < nodes_.size(); ++i) {
      position_[nodes_[i].get()] = i;
      // A consumer that reads a value twice (add(x, x)) is one consumer.
      std::vector<ir::Expr> inputs = ir::children(nodes_[i]);
      std::unordered_set<const ir::ExprNode*> distinct;
      for (const ir::Expr& input : inputs) {
        if (distinct.insert(input.get()).second) ++consumers_[input.get()];
      }
    }
    for (const ir::Expr& output : module.outputs()) model_outputs_.insert(output.get());
  }

  FusionPlan run() {
    for (const ir::Expr& node : nodes_) {
      if (const auto* call = ir::as<ir::CallNode>(node)) {
        place(std::static_pointer_cast<const ir::CallNode>(node), *call);
      }
    }
    return finish();
  }

 private:
  // A group while it grows: the calls so far; the last one is the only value that a later call
  // may fuse through (every other has its single consumer inside the group).
  struct Growing {
    std::vector<ir::Call> calls;
    ir::Call anchor;
    OpPattern pattern = OpPattern::kOpaque;
    bool closed = false;  // opaque or tuple-producing: nothing joins it
  };

  void place(const ir::Call& call, const ir::CallNode& node) {
    OpPattern pattern = node.op.pattern;
    bool stands_alone = !options_.fuse || pattern == OpPattern::kOpaque || node.type().is_tuple();
    if (!stands_alone) {
      for (const ir::Expr& arg : node.args) {
        std::optional<size_t> target = joinable_group(node, arg);
        if (!target) continue;
        Growing& group = groups_[*target];
        group.calls.push_back(call);
        if (pattern == OpPattern::kReduction) {
          group.anchor = call;
          group.pattern = OpPattern::kReduction;
        } else if (!group.anchor) {
          group.pattern = std::max(group.pattern, pattern);  // kElemwise < kBroadcast < kInjective
        }
        group_of_[call.get()] = *target;
        return;
      }
    }
    Growing group;
    group.calls.push_back(call);
    group.pattern = pattern;
    group.closed = stands_alone;
    if (is_anchor_pattern(pattern)) group.anchor = call;
    group_of_[call.get()] = groups_.size();
    groups_.push_back(std::move(group));
  }

  // The group that `node` may join through its argument `arg`, if any.
  std::optional<size_t> joinable_group(const ir::CallNode& node, const ir::Expr& arg) const {
    auto owner = group_of_.find(arg.get());
    if (owner == group_of_.end()) return std::nullopt;  // an input, a constant, a tuple item
    const Growing& group = groups_[owner->second];
    if (group.closed || group.calls.back().get() != arg.get()) return std::nullopt;
    if (!accepts(group.pattern, node.op.pattern)) return std::nullopt;
    // The joined value becomes internal: nothing else may read it.
    if (consumers_.at(arg.get()) != 1 || model_outputs_.count(arg.get())) return std::nullopt;
    int64_t joined = element_count(arg->type());
    if (node.op.pattern != OpPattern::kReduction &&
        (joined < 0 || element_count(node.type()) > joined)) {
      return std::nullopt;
    }
    // Another argument computed by the group, or from it through other groups, would make the
    // group read itself (a second consumer of an internal value, or a cycle).
    for (const ir::Expr& other : node.args) {
      if (other.get() != arg.get() && depends_on(other, owner->second)) return std::nullopt;
    }
    return owner->second;
  }

  // Whether `value` is computed from a call of group `group` (then fusing its consumer into the
  // group would make the groups depend on each other: a cycle). Walks back from `value` only over
  // nodes that come after the group's first call.
  bool depends_on(const ir::Expr& value, size_t group) const {
    size_t first = position_.at(groups_[group].calls.front().get());
    std::vector<const ir::ExprNode*> stack = {value.get()};
    std::unordered_set<const ir::ExprNode*> seen;
    while (!stack.empty()) {
      const ir::ExprNode* node = stack.back();
      stack.pop_back();
      if (position_.at(node) < first || !seen.insert(node).second) continue;
      auto owner = group_of_.find(node);
      if (owner != group_of_.end() && owner->second == group) return true;
      for (const ir::Expr& input : ir::children(nodes_[position_.at(node)])) {
        stack.push_back(input.get());
      }
    }
    return false;
  }

  FusionPlan finish() {
    // A group's calls are a chain whose last call is its only output, so ordering groups by their
    // last call is topological; the check below keeps that true if the rules change.
    std::vector<size_t> order(groups_.size());
    for (size_t i = 0; i < order.size(); ++i) order[i] = i;
    auto last = [&](size_t g) { return position_.at(groups_[g].calls.back().get()); };
    std::sort(order.begin(), order.end(), [&](size_t a, size_t b) { return last(a) < last(b); });

    FusionPlan plan;
    std::vector<size_t> new_index(groups_.size());
    for (size_t i = 0; i < order.size(); ++i) new_index[order[i]] = i;
    for (size_t g : order) {
      Growing& growing = groups_[g];
      FusedGroup group;
      group.calls = std::move(growing.calls);
      group.anchor = growing.anchor;
      group.pattern = growing.pattern;
      size_t index = plan.groups.size();
      for (const ir::Call& call : group.calls) plan.group_of[call.get()] = index;
      std::unordered_set<const ir::ExprNode*> seen;
      for (const ir::Call& call : group.calls) {
        for (const ir::Expr& arg : call->args) {
          auto owner = group_of_.find(arg.get());
          if (owner != group_of_.end() && owner->second == g) continue;
          KILN_CHECK(owner == group_of_.end() || new_index[owner->second] < index)
              << "fuse_ops: group " << index << " reads a later group";
          if (seen.insert(arg.get()).second) group.inputs.push_back(arg);
        }
      }
      for (const ir::Call& call : group.calls) {
        bool internal = consumers_.count(call.get()) && consumers_.at(call.get()) == 1 &&
                        !model_outputs_.count(call.get()) && call != group.calls.back();
        if (!internal) group.outputs.push_back(call);
      }
      plan.groups.push_back(std::move(group));
    }
    return plan;
  }

  FuseOptions options_;
  std::vector<ir::Expr> nodes_;  // post order
  std::unordered_map<const ir::ExprNode*, size_t> position_;
  std::unordered_map<const ir::ExprNode*, int64_t> consumers_;
  std::unordered_set<const ir::ExprNode*> model_outputs_;
  std::vector<Growing> groups_;
  std::unordered_map<const ir::ExprNode*, size_t> group_of_;
};

}  // namespace

std::string FusedGroup::name() const {
  std::string text;
  for (const ir::Call& call : calls) text += (text.empty() ? "" : " + ") + call->op.name;
  return text;
}

FusionPlan fuse_ops(const ir::Module& module, const FuseOptions& options) {
  return Partitioner(module, options).run();
}

std::string print_fused(const ir::Module& module, const FusionPlan& plan) {
  // Values group by group; inputs, constants and tuple items just before their first reader.
  std::vector<ir::Expr> order;
  std::unordered_set<const ir::ExprNode*> listed;
  auto list_with_inputs = [&](const ir::Expr& root) {
    // Explicit stack (graphs can be deep); calls of other groups are listed already.
    std::vector<std::pair<ir::Expr, bool>> stack = {{root, false}};
    while (!stack.empty()) {
      auto [node, expanded] = stack.back();
      stack.pop_back();
      if (listed.count(node.get())) continue;
      if (expanded) {
        listed.insert(node.get());
        order.push_back(node);
        continue;
      }
      KILN_CHECK(node == root || !ir::as<ir::CallNode>(node))
          << "print_fused: a call is read before its group";
      stack.push_back({node, true});
      std::vector<ir::Expr> inputs = ir::children(node);
      for (size_t i = inputs.size(); i-- > 0;) stack.push_back({inputs[i], false});
    }
  };
  std::unordered_map<const ir::ExprNode*, std::string> headers;
  for (size_t g = 0; g < plan.groups.size(); ++g) {
    const FusedGroup& group = plan.groups[g];
    headers[group.calls.front().get()] = "kernel " + std::to_string(g) + ": " + group.name();
    for (const ir::Call& call : group.calls) list_with_inputs(call);
  }
  list_with_inputs(module.main()->body);

  ir::PrintOptions options;
  options.order = std::move(order);
  options.comment_before = [&headers](const ir::ExprNode* node) {
    auto header = headers.find(node);
    return header == headers.end() ? std::string() : header->second;
  };
  return ir::print_module(module, options);
}

}  // namespace kiln::transform
