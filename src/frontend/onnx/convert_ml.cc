// Converters for the ai.onnx.ml domain operators with numeric tensors: Binarizer,
// ArrayFeatureExtractor, Scaler, Imputer, Normalizer, LinearRegressor, TreeEnsemble (ai.onnx.ml
// opset 5) and TreeEnsembleRegressor (1-3). Operators on strings, maps or sequences (LabelEncoder
// on strings, DictVectorizer, ...) cannot be fed through Kiln's tensor I/O.
#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "frontend/onnx/converter.h"

namespace kiln::frontend::onnx_import {

namespace {

using Outputs = std::vector<ir::Expr>;

// A tree walk is unrolled one IR step per level; deeper ensembles are refused.
constexpr int64_t kMaxTreeDepth = 256;

std::string dtype_text(DType dtype) { return std::string(dtype_name(dtype)); }

// Binarizer: 1 where x > threshold, else 0, in x's dtype.
Outputs convert_binarizer(const NodeContext& ctx) {
  const ir::TensorType& type = ctx.input_type(0);
  if (type.dtype == DType::kBool) ctx.fail("input must be numeric, got " + type.to_string());
  ir::Expr above =
      ctx.call("greater", {ctx.input(0), ctx.scalar(ctx.attr_float("threshold", 0.0), type.dtype)});
  return {ctx.call("cast", {above}, {{"dtype", dtype_text(type.dtype)}})};
}

// ArrayFeatureExtractor: the last axis' elements at the (flattened) indices; 1-D data gives one
// row [1, k] (onnxruntime's and the reference's shape).
Outputs convert_array_feature_extractor(const NodeContext& ctx) {
  const ir::TensorType& data = ctx.input_type(0);
  const ir::TensorType& indices = ctx.input_type(1);
  if (data.rank() < 1) ctx.fail("input 0 must have rank >= 1, got " + data.to_string());
  if (indices.dtype != DType::kInt64) {
    ctx.fail("input 1 (indices) must be int64, got " + indices.to_string());
  }
  ir::Expr flat = ctx.input(1);
  if (indices.rank() != 1) {
    flat = ctx.call("reshape", {flat}, {{"newshape", std::vector<int64_t>{-1}}});
  }
  ir::Expr picked = ctx.call("gather", {ctx.input(0), flat}, {{"axis", data.rank() - 1}});
  if (data.rank() == 1) {
    picked = ctx.call("unsqueeze", {picked}, {{"axes", std::vector<int64_t>{0}}});
  }
  return {picked};
}

template <typename T>
ir::Expr vector_constant(const NodeContext& ctx, const std::vector<T>& values, DType dtype,
                         std::vector<int64_t> shape) {
  Tensor tensor(dtype, std::move(shape));
  for (size_t i = 0; i < values.size(); ++i) {
    tensor.set_element_from_double(static_cast<int64_t>(i), static_cast<double>(values[i]));
  }
  return ctx.constant(std::move(tensor));
}

// --- Scaler, Imputer, LinearRegressor ---------------------------------------------------------

// Numeric input as float32 (the ml operators' output type for integer inputs too).
ir::Expr as_float32(const NodeContext& ctx) {
  const ir::TensorType& type = ctx.input_type(0);
  if (type.dtype == DType::kBool) ctx.fail("input must be numeric, got " + type.to_string());
  if (type.dtype == DType::kFloat32) return ctx.input(0);
  return ctx.call("cast", {ctx.input(0)}, {{"dtype", dtype_text(DType::kFloat32)}});
}

// One value per feature (the last dim), or a single value for all: a constant of `dtype`.
ir::Expr per_feature(const NodeContext& ctx, const std::vector<double>& values, const char* name,
                     int64_t features, DType dtype) {
  if (values.size() != 1 && static_cast<int64_t>(values.size()) != features) {
    ctx.fail("attribute '" + std::string(name) + "' holds " + std::to_string(values.size()) +
             " values, expected 1 or one per feature (" + std::to_string(features) + ")");
  }
  Tensor tensor(dtype, {static_cast<int64_t>(values.size())});
  for (size_t i = 0; i < values.size(); ++i) {
    tensor.set_element_from_double(static_cast<int64_t>(i), values[i]);
  }
  return ctx.constant(std::move(tensor));
}

int64_t feature_count(const NodeContext& ctx) {
  const ir::TensorType& type = ctx.input_type(0);
  if (type.rank() < 1 || !type.shape.back().is_static()) {
    ctx.fail("input needs a static last (feature) dim, got " + type.to_string() +
             ctx.shape_dict_hint());
  }
  return type.shape.back().value();
}

// Scaler: (x - offset) * scale per feature, in float32.
Outputs convert_scaler(const NodeContext& ctx) {
  int64_t features = feature_count(ctx);
  ir::Expr x = as_float32(ctx);
  std::vector<double> offset = ctx.attr_floats("offset", {0.0});
  std::vector<double> scale = ctx.attr_floats("scale", {1.0});
  ir::Expr shifted =
      ctx.call("subtract", {x, per_feature(ctx, offset, "offset", features, DType::kFloat32)});
  return {
      ctx.call("multiply", {shifted, per_feature(ctx, scale, "scale", features, DType::kFloat32)})};
}

// Imputer: elements equal to the replaced value (NaN: NaN elements) take the feature's imputed
// value; floats or int64 by the attributes given.
Outputs convert_imputer(const NodeContext& ctx) {
  const ir::TensorType& type = ctx.input_type(0);
  if (type.rank() != 2) ctx.fail("input must be a matrix [N, features], got " + type.to_string());
  int64_t features = feature_count(ctx);
  std::vector<double> imputed = ctx.attr_floats("imputed_value_floats", {});
  double replaced = ctx.attr_float("replaced_value_float", 0.0);
  if (imputed.empty()) {
    for (int64_t value : ctx.attr_ints("imputed_value_int64s", {})) imputed.push_back(value);
    replaced = static_cast<double>(ctx.attr_int("replaced_value_int64", 0));
    if (imputed.empty()) ctx.fail("needs imputed_value_floats or imputed_value_int64s");
    if (type.dtype != DType::kInt64) {
      ctx.fail("imputed_value_int64s needs an int64 input, got " + type.to_string());
    }
  } else if (!dtype_is_float(type.dtype)) {
    ctx.fail("imputed_value_floats needs a float input, got " + type.to_string());
  }
  ir::Expr x = ctx.input(0);
  ir::Expr missing = std::isnan(replaced)
                         ? ctx.call("isnan", {x})
                         : ctx.call("equal", {x, ctx.scalar(replaced, type.dtype)});
  return {ctx.call(
      "where", {missing, per_feature(ctx, imputed, "imputed values", features, type.dtype), x})};
}

// Normalizer: each row divided by its max (signed, as the spec and onnxruntime say), L1 or L2
// norm over the last axis, in float32; a row whose norm is 0 stays as it is (onnxruntime).
Outputs convert_normalizer(const NodeContext& ctx) {
  const ir::TensorType& type = ctx.input_type(0);
  if (type.rank() != 1 && type.rank() != 2) {
    ctx.fail("input must be [features] or [N, features], got " + type.to_string());
  }
  std::string norm = ctx.attr_string("norm", "MAX");
  const char* reduce = norm == "MAX"  ? "reduce_max"
                       : norm == "L1" ? "reduce_l1"
                       : norm == "L2" ? "reduce_l2"
                                      : nullptr;
  if (reduce == nullptr) ctx.fail("attribute 'norm' must be MAX, L1 or L2, got \"" + norm + "\"");
  ir::Expr x = as_float32(ctx);
  ir::Expr divisor =
      ctx.call(reduce, {x}, {{"axes", std::vector<int64_t>{-1}}, {"keepdims", int64_t{1}}});
  ir::Expr is_zero = ctx.call("equal", {divisor, ctx.scalar(0, DType::kFloat32)});
  ir::Expr safe = ctx.call("where", {is_zero, ctx.scalar(1, DType::kFloat32), divisor});
  return {ctx.call("divide", {x, safe})};
}

// LinearRegressor: x . coefficients^T + intercepts, [N, targets] float32; the coefficients are
// dense's [targets, features] weight.
Outputs convert_linear_regressor(const NodeContext& ctx) {
  int64_t features = feature_count(ctx);
  if (ctx.input_type(0).rank() != 2) {
    ctx.fail("input must be a matrix [N, features], got " + ctx.input_type(0).to_string());
  }
  std::string transform = ctx.attr_string("post_transform", "NONE");
  if (transform != "NONE") ctx.fail("post_transform " + transform + " is not supported yet");
  int64_t targets = ctx.attr_int("targets", 1);
  std::vector<double> coefficients = ctx.attr_floats("coefficients", {});
  if (targets <= 0 || static_cast<int64_t>(coefficients.size()) != targets * features) {
    ctx.fail("attribute 'coefficients' holds " + std::to_string(coefficients.size()) +
             " values, expected targets (" + std::to_string(targets) + ") x features (" +
             std::to_string(features) + ")");
  }
  ir::Expr weight = vector_constant(ctx, coefficients, DType::kFloat32, {targets, features});
  ir::Expr y = ctx.call("dense", {as_float32(ctx), weight});
  std::vector<double> intercepts = ctx.attr_floats("intercepts", {});
  if (intercepts.empty()) return {y};
  if (static_cast<int64_t>(intercepts.size()) != targets) {
    ctx.fail("attribute 'intercepts' holds " + std::to_string(intercepts.size()) +
             " values, expected one per target (" + std::to_string(targets) + ")");
  }
  return {ctx.call("add", {y, vector_constant(ctx, intercepts, DType::kFloat32, {targets})})};
}

// --- TreeEnsemble, TreeEnsembleRegressor -------------------------------------------------------
//
// An ensemble becomes a state machine over "positions" (interior nodes and leaves; a leaf steps to
// itself). Every (sample, tree) pair holds a position, [N, trees], starting at the tree's root;
// one step reads each position's feature, threshold and comparison mode from constant tables
// (gather), compares, and moves to the true or false child. After as many steps as the deepest
// tree, every position is a leaf, whose weights per target ([positions, targets] tables) are
// summed, averaged, min-ed or max-ed over the trees.

enum TreeMode : int64_t { kLeq = 0, kLt, kGte, kGt, kEq, kNeq, kMember };
enum class Aggregate { kAverage, kSum, kMin, kMax };

struct TreeTables {
  // One entry per position.
  std::vector<bool> is_leaf;
  std::vector<int64_t> feature, mode, next_true, next_false;
  std::vector<double> split;
  std::vector<bool> missing_true;
  std::vector<std::vector<double>> members;  // set-membership values per position
  // [positions, targets], row-major: a leaf's weight per target and whether it has one.
  std::vector<double> weights;
  std::vector<bool> has_weight;
  std::vector<int64_t> roots;  // the starting position of each tree
  int64_t depth = 0;           // steps until every walk is at a leaf
  size_t size() const { return is_leaf.size(); }
};

std::vector<double> tensor_doubles(const Tensor& value) {
  std::vector<double> values;
  for (int64_t i = 0; i < value.numel(); ++i) values.push_back(value.element_as_double(i));
  return values;
}

std::vector<int64_t> tensor_ints(const Tensor& value) {
  std::vector<int64_t> values;
  for (int64_t i = 0; i < value.numel(); ++i) values.push_back(value.element_as_int64(i));
  return values;
}

void require_count(const NodeContext& ctx, const char* name, size_t got, size_t want) {
  if (got != want) {
    ctx.fail("attribute '" + std::string(name) + "' holds " + std::to_string(got) +
             " values, expected " + std::to_string(want) + " (one per node or leaf)");
  }
}

// A float attribute list given as floats or as a tensor (name + "_as_tensor").
std::vector<double> floats_or_tensor(const NodeContext& ctx, const std::string& name) {
  if (ctx.has_attr(name + "_as_tensor"))
    return tensor_doubles(ctx.attr_tensor(name + "_as_tensor"));
  return ctx.attr_floats(name, {});
}

// Steps from `position` until a leaf on the longest path, memoised in `depths` (-1: not seen,
// -2: on the current path, else the depth); a cycle is an error. Iterative, so that a hostile
// file cannot overflow the stack.
int64_t walk_depth(const NodeContext& ctx, const TreeTables& t, int64_t position,
                   std::vector<int64_t>& depths) {
  auto leaf = [&](int64_t at) { return t.is_leaf[static_cast<size_t>(at)]; };
  auto children = [&](int64_t at) {
    auto slot = static_cast<size_t>(at);
    return std::vector<int64_t>{t.next_true[slot], t.next_false[slot]};
  };
  std::vector<int64_t> stack = {position};
  while (!stack.empty()) {
    int64_t at = stack.back();
    if (leaf(at) || depths[static_cast<size_t>(at)] >= 0) {  // a leaf, or done
      stack.pop_back();
      continue;
    }
    int64_t& depth = depths[static_cast<size_t>(at)];
    if (depth == -1) {  // first visit: its children go first
      depth = -2;
      for (int64_t child : children(at)) {
        if (leaf(child)) continue;
        int64_t seen = depths[static_cast<size_t>(child)];
        if (seen == -2) ctx.fail("the trees have a cycle through node " + std::to_string(child));
        if (seen == -1) stack.push_back(child);
      }
      continue;
    }
    int64_t deepest = 0;  // children done
    for (int64_t child : children(at)) {
      if (!leaf(child)) deepest = std::max(deepest, depths[static_cast<size_t>(child)]);
    }
    depth = deepest + 1;
    if (depth > kMaxTreeDepth) {
      ctx.fail("trees deeper than " + std::to_string(kMaxTreeDepth) + " are not supported yet");
    }
    stack.pop_back();
  }
  return leaf(position) ? 0 : depths[static_cast<size_t>(position)];
}

// Depth of the ensemble from its roots (cycles are errors).
void compute_depth(const NodeContext& ctx, TreeTables& t) {
  if (t.roots.empty()) ctx.fail("the ensemble has no trees");
  std::vector<int64_t> depths(t.size(), -1);
  for (int64_t root : t.roots) t.depth = std::max(t.depth, walk_depth(ctx, t, root, depths));
}

void resize_tables(TreeTables& t, size_t positions, int64_t n_targets) {
  t.is_leaf.assign(positions, false);
  t.feature.assign(positions, 0);
  t.mode.assign(positions, kLeq);
  t.split.assign(positions, 0.0);
  t.missing_true.assign(positions, false);
  t.members.assign(positions, {});
  t.next_true.assign(positions, 0);
  t.next_false.assign(positions, 0);
  t.weights.assign(positions * static_cast<size_t>(n_targets), 0.0);
  t.has_weight.assign(positions * static_cast<size_t>(n_targets), false);
}

// Adds a leaf's weight for a target; several weights for one (leaf, target) combine like the
// aggregation does across trees.
void add_leaf_weight(const NodeContext& ctx, TreeTables& t, size_t position, int64_t target,
                     int64_t n_targets, double weight, Aggregate aggregate) {
  if (target < 0 || target >= n_targets) {
    ctx.fail("leaf target " + std::to_string(target) + " is outside [0, " +
             std::to_string(n_targets) + ")");
  }
  size_t slot = position * static_cast<size_t>(n_targets) + static_cast<size_t>(target);
  double& held = t.weights[slot];
  if (!t.has_weight[slot]) {
    held = weight;
  } else if (aggregate == Aggregate::kMin) {
    held = std::min(held, weight);
  } else if (aggregate == Aggregate::kMax) {
    held = std::max(held, weight);
  } else {
    held += weight;
  }
  t.has_weight[slot] = true;
}

// TreeEnsemble (ai.onnx.ml 5): positions are the nodes_* entries, then the leaf_* entries.
TreeTables read_tree_ensemble(const NodeContext& ctx, int64_t n_targets, Aggregate aggregate) {
  TreeTables t;
  std::vector<double> splits = tensor_doubles(ctx.attr_tensor("nodes_splits"));
  size_t n = splits.size();
  std::vector<int64_t> features = ctx.attr_ints("nodes_featureids");
  std::vector<int64_t> modes = tensor_ints(ctx.attr_tensor("nodes_modes"));
  std::vector<int64_t> true_ids = ctx.attr_ints("nodes_truenodeids");
  std::vector<int64_t> false_ids = ctx.attr_ints("nodes_falsenodeids");
  std::vector<int64_t> true_leafs = ctx.attr_ints("nodes_trueleafs");
  std::vector<int64_t> false_leafs = ctx.attr_ints("nodes_falseleafs");
  std::vector<int64_t> missing = ctx.attr_ints("nodes_missing_value_tracks_true", {});
  require_count(ctx, "nodes_featureids", features.size(), n);
  require_count(ctx, "nodes_modes", modes.size(), n);
  require_count(ctx, "nodes_truenodeids", true_ids.size(), n);
  require_count(ctx, "nodes_falsenodeids", false_ids.size(), n);
  require_count(ctx, "nodes_trueleafs", true_leafs.size(), n);
  require_count(ctx, "nodes_falseleafs", false_leafs.size(), n);
  if (!missing.empty()) require_count(ctx, "nodes_missing_value_tracks_true", missing.size(), n);
  std::vector<int64_t> leaf_targets = ctx.attr_ints("leaf_targetids");
  std::vector<double> leaf_weights = tensor_doubles(ctx.attr_tensor("leaf_weights"));
  require_count(ctx, "leaf_weights", leaf_weights.size(), leaf_targets.size());
  auto nodes = static_cast<int64_t>(n);
  auto leaves = static_cast<int64_t>(leaf_targets.size());
  resize_tables(t, n + leaf_targets.size(), n_targets);

  // Positions of the children; leaves step to themselves.
  auto child = [&](int64_t id, int64_t is_leaf, size_t node) {
    int64_t count = is_leaf ? leaves : nodes;
    if (id < 0 || id >= count) {
      ctx.fail("node " + std::to_string(node) + " points to " + (is_leaf ? "leaf " : "node ") +
               std::to_string(id) + ", outside [0, " + std::to_string(count) + ")");
    }
    return is_leaf ? nodes + id : id;
  };
  for (size_t i = 0; i < n; ++i) {
    if (modes[i] < kLeq || modes[i] > kMember) {
      ctx.fail("node " + std::to_string(i) + " has mode " + std::to_string(modes[i]) +
               ", not one of 0 (BRANCH_LEQ) to 6 (BRANCH_MEMBER)");
    }
    t.feature[i] = features[i];
    t.mode[i] = modes[i];
    t.split[i] = splits[i];
    t.missing_true[i] = !missing.empty() && missing[i] != 0;
    t.next_true[i] = child(true_ids[i], true_leafs[i], i);
    t.next_false[i] = child(false_ids[i], false_leafs[i], i);
  }
  for (size_t l = 0; l < leaf_targets.size(); ++l) {
    size_t position = n + l;
    t.is_leaf[position] = true;
    t.next_true[position] = t.next_false[position] = static_cast<int64_t>(position);
    add_leaf_weight(ctx, t, position, leaf_targets[l], n_targets, leaf_weights[l], aggregate);
  }

  // Set members: NaN-delimited lists, one per BRANCH_MEMBER node in node order.
  if (ctx.has_attr("membership_values")) {
    std::vector<double> values = tensor_doubles(ctx.attr_tensor("membership_values"));
    size_t at = 0;
    for (size_t i = 0; i < n; ++i) {
      if (t.mode[i] != kMember) continue;
      while (at < values.size() && !std::isnan(values[at])) t.members[i].push_back(values[at++]);
      if (at == values.size()) {
        ctx.fail("membership_values has fewer NaN-terminated sets than BRANCH_MEMBER nodes");
      }
      ++at;  // the NaN
    }
  } else if (std::find(modes.begin(), modes.end(), kMember) != modes.end()) {
    ctx.fail("BRANCH_MEMBER nodes need the attribute 'membership_values'");
  }

  // Roots; a root whose both branches name the same leaf is a one-leaf tree.
  for (int64_t root : ctx.attr_ints("tree_roots")) {
    if (root < 0 || root >= nodes) {
      ctx.fail("tree root " + std::to_string(root) + " is outside [0, " + std::to_string(nodes) +
               ")");
    }
    auto r = static_cast<size_t>(root);
    bool single_leaf = true_leafs[r] && false_leafs[r] && true_ids[r] == false_ids[r];
    t.roots.push_back(single_leaf ? t.next_true[r] : root);
  }
  compute_depth(ctx, t);
  return t;
}

// TreeEnsembleRegressor (ai.onnx.ml 1-3): every nodes_* entry is a position, LEAF entries are the
// leaves; children are node ids within the tree; each tree's root is its first entry; the
// target_* entries give the leaves' weights.
TreeTables read_tree_regressor(const NodeContext& ctx, int64_t n_targets, Aggregate aggregate) {
  TreeTables t;
  std::vector<int64_t> tree_ids = ctx.attr_ints("nodes_treeids");
  std::vector<int64_t> node_ids = ctx.attr_ints("nodes_nodeids");
  size_t n = tree_ids.size();
  std::vector<int64_t> features = ctx.attr_ints("nodes_featureids");
  std::vector<std::string> modes = ctx.attr_strings("nodes_modes", {});
  std::vector<double> values = floats_or_tensor(ctx, "nodes_values");
  std::vector<int64_t> true_ids = ctx.attr_ints("nodes_truenodeids");
  std::vector<int64_t> false_ids = ctx.attr_ints("nodes_falsenodeids");
  std::vector<int64_t> missing = ctx.attr_ints("nodes_missing_value_tracks_true", {});
  require_count(ctx, "nodes_nodeids", node_ids.size(), n);
  require_count(ctx, "nodes_featureids", features.size(), n);
  require_count(ctx, "nodes_modes", modes.size(), n);
  require_count(ctx, "nodes_values", values.size(), n);
  require_count(ctx, "nodes_truenodeids", true_ids.size(), n);
  require_count(ctx, "nodes_falsenodeids", false_ids.size(), n);
  if (!missing.empty()) require_count(ctx, "nodes_missing_value_tracks_true", missing.size(), n);
  resize_tables(t, n, n_targets);

  std::map<std::pair<int64_t, int64_t>, int64_t> index;  // (tree, node id) -> position
  std::map<int64_t, int64_t> roots;                      // tree -> its first entry
  for (size_t i = 0; i < n; ++i) {
    auto position = static_cast<int64_t>(i);
    if (!index.emplace(std::make_pair(tree_ids[i], node_ids[i]), position).second) {
      ctx.fail("tree " + std::to_string(tree_ids[i]) + " lists node " +
               std::to_string(node_ids[i]) + " twice");
    }
    roots.emplace(tree_ids[i], position);
  }
  const std::vector<std::string> names = {"BRANCH_LEQ", "BRANCH_LT", "BRANCH_GTE",
                                          "BRANCH_GT",  "BRANCH_EQ", "BRANCH_NEQ"};
  auto child = [&](size_t i, int64_t id) {
    auto found = index.find({tree_ids[i], id});
    if (found == index.end()) {
      ctx.fail("node " + std::to_string(node_ids[i]) + " of tree " + std::to_string(tree_ids[i]) +
               " points to node " + std::to_string(id) + ", which the tree does not have");
    }
    return found->second;
  };
  for (size_t i = 0; i < n; ++i) {
    t.missing_true[i] = !missing.empty() && missing[i] != 0;
    if (modes[i] == "LEAF") {
      t.is_leaf[i] = true;
      t.next_true[i] = t.next_false[i] = static_cast<int64_t>(i);
      continue;
    }
    auto mode = std::find(names.begin(), names.end(), modes[i]);
    if (mode == names.end()) {
      ctx.fail("node mode \"" + modes[i] +
               "\" is not supported yet (BRANCH_LEQ, BRANCH_LT, "
               "BRANCH_GTE, BRANCH_GT, BRANCH_EQ, BRANCH_NEQ and LEAF are)");
    }
    t.mode[i] = mode - names.begin();
    t.feature[i] = features[i];
    t.split[i] = values[i];
    t.next_true[i] = child(i, true_ids[i]);
    t.next_false[i] = child(i, false_ids[i]);
  }

  std::vector<int64_t> target_trees = ctx.attr_ints("target_treeids", {});
  std::vector<int64_t> target_nodes = ctx.attr_ints("target_nodeids", {});
  std::vector<int64_t> target_ids = ctx.attr_ints("target_ids", {});
  std::vector<double> target_weights = floats_or_tensor(ctx, "target_weights");
  size_t targets = target_trees.size();
  require_count(ctx, "target_nodeids", target_nodes.size(), targets);
  require_count(ctx, "target_ids", target_ids.size(), targets);
  require_count(ctx, "target_weights", target_weights.size(), targets);
  for (size_t k = 0; k < targets; ++k) {
    auto found = index.find({target_trees[k], target_nodes[k]});
    if (found == index.end() || !t.is_leaf[static_cast<size_t>(found->second)]) {
      ctx.fail("target " + std::to_string(k) + " names node " + std::to_string(target_nodes[k]) +
               " of tree " + std::to_string(target_trees[k]) + ", which is not a leaf");
    }
    add_leaf_weight(ctx, t, static_cast<size_t>(found->second), target_ids[k], n_targets,
                    target_weights[k], aggregate);
  }
  for (const auto& [tree, root] : roots) t.roots.push_back(root);  // by tree id
  compute_depth(ctx, t);
  return t;
}

ir::Expr int_table(const NodeContext& ctx, const std::vector<int64_t>& values) {
  return ctx.constant(Tensor::from_int64s(values));
}

// The comparison of x with the node's split for the given mode (kMember: with its set).
ir::Expr compare(const NodeContext& ctx, int64_t mode, const ir::Expr& x, const ir::Expr& split,
                 const ir::Expr& members) {
  switch (mode) {
    case kLeq:
      return ctx.call("less_equal", {x, split});
    case kLt:
      return ctx.call("less", {x, split});
    case kGte:
      return ctx.call("greater_equal", {x, split});
    case kGt:
      return ctx.call("greater", {x, split});
    case kEq:
      return ctx.call("equal", {x, split});
    case kNeq:
      return ctx.call("not_equal", {x, split});
    default: {
      // x in set: any(x == member) over the padded set axis (padding is NaN, equal to nothing).
      ir::Expr hits = ctx.call(
          "equal", {ctx.call("unsqueeze", {x}, {{"axes", std::vector<int64_t>{2}}}), members});
      ir::Expr as_bytes = ctx.call("cast", {hits}, {{"dtype", dtype_text(DType::kUInt8)}});
      ir::Expr any = ctx.call("reduce_max", {as_bytes},
                              {{"axes", std::vector<int64_t>{2}}, {"keepdims", int64_t{0}}});
      return ctx.call("cast", {any}, {{"dtype", dtype_text(DType::kBool)}});
    }
  }
}

// How a NaN feature branches. TreeEnsemble: the comparison's own result, or true where the node's
// missing flag is set. TreeEnsembleRegressor: the missing flag alone.
enum class NanRule { kCompareOrFlag, kFlagOnly };

// The walk: the leaf position of every (sample, tree), [N, trees].
ir::Expr walk_trees(const NodeContext& ctx, const ir::Expr& x, const TreeTables& t,
                    NanRule nan_rule) {
  const ir::TensorType& type = x->type().as_tensor();
  int64_t batch = type.shape[0].value(), features = type.shape[1].value();
  DType dtype = type.dtype;
  std::vector<int64_t> used_modes;  // the comparisons that occur: the step computes only those
  for (size_t i = 0; i < t.size(); ++i) {
    if (t.is_leaf[i]) continue;
    if (t.feature[i] < 0 || t.feature[i] >= features) {
      ctx.fail("node " + std::to_string(i) + " reads feature " + std::to_string(t.feature[i]) +
               " of " + std::to_string(features));
    }
    if (std::find(used_modes.begin(), used_modes.end(), t.mode[i]) == used_modes.end()) {
      used_modes.push_back(t.mode[i]);
    }
  }
  std::sort(used_modes.begin(), used_modes.end());
  bool any_missing =
      std::find(t.missing_true.begin(), t.missing_true.end(), true) != t.missing_true.end();
  auto positions = static_cast<int64_t>(t.size());

  ir::Expr feature_table = int_table(ctx, t.feature);
  ir::Expr split_table = vector_constant(ctx, t.split, dtype, {positions});
  ir::Expr mode_table = int_table(ctx, t.mode);
  ir::Expr true_table = int_table(ctx, t.next_true);
  ir::Expr false_table = int_table(ctx, t.next_false);
  std::vector<int64_t> flags(t.missing_true.begin(), t.missing_true.end());
  ir::Expr missing_table =
      ctx.call("cast", {int_table(ctx, flags)}, {{"dtype", dtype_text(DType::kBool)}});
  ir::Expr members_table;  // [positions, widest set], NaN-padded
  if (std::find(used_modes.begin(), used_modes.end(), kMember) != used_modes.end()) {
    size_t width = 1;
    for (const auto& set : t.members) width = std::max(width, set.size());
    std::vector<double> padded;
    for (const auto& set : t.members) {
      for (size_t j = 0; j < width; ++j) padded.push_back(j < set.size() ? set[j] : std::nan(""));
    }
    members_table = vector_constant(ctx, padded, dtype, {positions, static_cast<int64_t>(width)});
  }

  auto trees = static_cast<int64_t>(t.roots.size());
  ir::Expr position = ctx.call("expand", {int_table(ctx, t.roots)},
                               {{"shape", std::vector<int64_t>{batch, trees}}});
  auto at = [&](const ir::Expr& table) {
    return ctx.call("gather", {table, position}, {{"axis", int64_t{0}}});
  };
  for (int64_t step = 0; step < t.depth && !used_modes.empty(); ++step) {
    ir::Expr value = ctx.call("gather_elements", {x, at(feature_table)}, {{"axis", int64_t{1}}});
    ir::Expr split = at(split_table);
    ir::Expr members = members_table ? at(members_table) : nullptr;
    ir::Expr goes_true = compare(ctx, used_modes[0], value, split, members);
    if (used_modes.size() > 1) {
      ir::Expr mode = at(mode_table);
      for (size_t m = 1; m < used_modes.size(); ++m) {
        ir::Expr is_mode =
            ctx.call("equal", {mode, ctx.scalar(double(used_modes[m]), DType::kInt64)});
        goes_true = ctx.call(
            "where", {is_mode, compare(ctx, used_modes[m], value, split, members), goes_true});
      }
    }
    if (nan_rule == NanRule::kFlagOnly) {
      goes_true = ctx.call("where", {ctx.call("isnan", {value}), at(missing_table), goes_true});
    } else if (any_missing) {
      ir::Expr missing = ctx.call("logical_and", {ctx.call("isnan", {value}), at(missing_table)});
      goes_true = ctx.call("logical_or", {goes_true, missing});
    }
    position = ctx.call("where", {goes_true, at(true_table), at(false_table)});
  }
  return position;
}

// Leaves' weights per target, aggregated over the trees: [N, targets]. A target no tree gives a
// weight keeps the start value for MIN / MAX: the dtype's largest / lowest finite value, as the
// reference evaluator does.
ir::Expr aggregate_leaves(const NodeContext& ctx, const ir::Expr& position, const TreeTables& t,
                          int64_t n_targets, Aggregate aggregate, DType dtype) {
  auto positions = static_cast<int64_t>(t.size());
  auto trees = static_cast<int64_t>(t.roots.size());
  auto per_leaf = [&](const ir::Expr& table) {  // [N, trees, targets]
    return ctx.call("gather", {table, position}, {{"axis", int64_t{0}}});
  };
  ir::Expr weights = per_leaf(vector_constant(ctx, t.weights, dtype, {positions, n_targets}));
  ir::Attrs over_trees = {{"axes", std::vector<int64_t>{1}}, {"keepdims", int64_t{0}}};
  if (aggregate == Aggregate::kSum || aggregate == Aggregate::kAverage) {
    ir::Expr total = ctx.call("reduce_sum", {weights}, over_trees);  // absent weights are 0
    if (aggregate == Aggregate::kSum) return total;
    return ctx.call("divide", {total, ctx.scalar(double(trees), dtype)});
  }
  std::vector<int64_t> flags(t.has_weight.begin(), t.has_weight.end());
  ir::Expr has_weight = per_leaf(
      ctx.call("cast", {ctx.constant(Tensor::from_int64s(flags).reshaped({positions, n_targets}))},
               {{"dtype", dtype_text(DType::kBool)}}));
  double largest = dtype == DType::kFloat64   ? std::numeric_limits<double>::max()
                   : dtype == DType::kFloat32 ? double(std::numeric_limits<float>::max())
                                              : 65504.0;
  bool is_min = aggregate == Aggregate::kMin;
  ir::Expr fill = ctx.scalar(is_min ? largest : -largest, dtype);
  ir::Expr candidates = ctx.call("where", {has_weight, weights, fill});
  return ctx.call(is_min ? "reduce_min" : "reduce_max", {candidates}, over_trees);
}

// post_transform NONE, SOFTMAX or LOGISTIC (by number, as TreeEnsemble gives it).
ir::Expr post_transform(const NodeContext& ctx, ir::Expr scores, int64_t transform) {
  if (transform == 1) return ctx.call("softmax", {scores}, {{"axis", int64_t{-1}}});
  if (transform == 2) return ctx.call("sigmoid", {scores});
  return scores;
}

// The input as a static float matrix [N, features].
const ir::TensorType& tree_input(const NodeContext& ctx) {
  const ir::TensorType& type = ctx.input_type(0);
  if (!dtype_is_float(type.dtype) || type.rank() != 2) {
    ctx.fail("input must be a float matrix [N, features], got " + type.to_string());
  }
  if (!type.shape[0].is_static() || !type.shape[1].is_static()) {
    ctx.fail("input needs a static shape, got " + type.to_string() + ctx.shape_dict_hint());
  }
  return type;
}

int64_t read_n_targets(const NodeContext& ctx) {
  int64_t n_targets = ctx.attr_int("n_targets");
  if (n_targets <= 0) ctx.fail("attribute 'n_targets' must be positive");
  return n_targets;
}

void check_post_transform(const NodeContext& ctx, int64_t transform, const std::string& name) {
  if (transform < 0 || transform > 2) {
    ctx.fail("post_transform " + name + " is not supported yet (NONE, SOFTMAX and LOGISTIC are)");
  }
}

Outputs convert_tree_ensemble(const NodeContext& ctx) {
  const ir::TensorType& type = tree_input(ctx);
  int64_t n_targets = read_n_targets(ctx);
  int64_t aggregate = ctx.attr_int("aggregate_function", 1);
  if (aggregate < 0 || aggregate > 3) {
    ctx.fail("aggregate_function " + std::to_string(aggregate) +
             " is not one of 0 (AVERAGE), 1 (SUM), 2 (MIN), 3 (MAX)");
  }
  int64_t transform = ctx.attr_int("post_transform", 0);
  check_post_transform(ctx, transform, std::to_string(transform));
  auto how = static_cast<Aggregate>(aggregate);
  TreeTables t = read_tree_ensemble(ctx, n_targets, how);
  ir::Expr leaves = walk_trees(ctx, ctx.input(0), t, NanRule::kCompareOrFlag);
  ir::Expr scores = aggregate_leaves(ctx, leaves, t, n_targets, how, type.dtype);
  return {post_transform(ctx, scores, transform)};
}

// TreeEnsembleRegressor: the aggregated scores plus base_values, float32 [N, targets].
Outputs convert_tree_regressor(const NodeContext& ctx) {
  const ir::TensorType& type = tree_input(ctx);
  int64_t n_targets = read_n_targets(ctx);
  const std::vector<std::string> aggregates = {"AVERAGE", "SUM", "MIN", "MAX"};
  std::string aggregate_name = ctx.attr_string("aggregate_function", "SUM");
  auto aggregate = std::find(aggregates.begin(), aggregates.end(), aggregate_name);
  if (aggregate == aggregates.end()) {
    ctx.fail("aggregate_function \"" + aggregate_name + "\" is not one of AVERAGE, SUM, MIN, MAX");
  }
  const std::vector<std::string> transforms = {"NONE", "SOFTMAX", "LOGISTIC"};
  std::string transform_name = ctx.attr_string("post_transform", "NONE");
  auto transform = std::find(transforms.begin(), transforms.end(), transform_name);
  check_post_transform(ctx, transform == transforms.end() ? -1 : transform - transforms.begin(),
                       transform_name);
  auto how = static_cast<Aggregate>(aggregate - aggregates.begin());
  TreeTables t = read_tree_regressor(ctx, n_targets, how);
  ir::Expr leaves = walk_trees(ctx, ctx.input(0), t, NanRule::kFlagOnly);
  ir::Expr scores = aggregate_leaves(ctx, leaves, t, n_targets, how, type.dtype);
  std::vector<double> base = floats_or_tensor(ctx, "base_values");
  if (!base.empty()) {
    require_count(ctx, "base_values", base.size(), static_cast<size_t>(n_targets));
    scores = ctx.call("add", {scores, vector_constant(ctx, base, type.dtype, {n_targets})});
  }
  scores = post_transform(ctx, scores, transform - transforms.begin());
  if (type.dtype != DType::kFloat32) {
    scores = ctx.call("cast", {scores}, {{"dtype", dtype_text(DType::kFloat32)}});
  }
  return {scores};
}

}  // namespace

void add_ml_converters(ConverterTable& table) {
  const std::string domain = "ai.onnx.ml";
  table[converter_key(domain, "Binarizer")] = convert_binarizer;
  table[converter_key(domain, "ArrayFeatureExtractor")] = convert_array_feature_extractor;
  table[converter_key(domain, "TreeEnsemble")] = convert_tree_ensemble;
  table[converter_key(domain, "TreeEnsembleRegressor")] = convert_tree_regressor;
  table[converter_key(domain, "Scaler")] = convert_scaler;
  table[converter_key(domain, "Imputer")] = convert_imputer;
  table[converter_key(domain, "Normalizer")] = convert_normalizer;
  table[converter_key(domain, "LinearRegressor")] = convert_linear_regressor;
}

}  // namespace kiln::frontend::onnx_import
