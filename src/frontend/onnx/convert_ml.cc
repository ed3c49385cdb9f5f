// Converters for the ai.onnx.ml domain operators with numeric tensors: Binarizer,
// ArrayFeatureExtractor and TreeEnsemble (ai.onnx.ml opset 5). Operators on strings, maps or
// sequences (LabelEncoder on strings, DictVectorizer, ...) cannot be fed through Kiln's tensor I/O.
#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
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

// --- TreeEnsemble ---------------------------------------------------------------------------
//
// The ensemble becomes a state machine over "positions": 0..nodes-1 are interior nodes,
// nodes..nodes+leaves-1 are leaves, which step to themselves. Every (sample, tree) pair holds a
// position, [N, trees], starting at the tree's root; one step reads each position's feature,
// threshold and comparison mode from constant tables (gather), compares, and moves to the true or
// false child. After as many steps as the deepest tree, every position is a leaf; its weight is
// added (or min/max-ed) into its target column.

enum TreeMode : int64_t { kLeq = 0, kLt, kGte, kGt, kEq, kNeq, kMember };

struct TreeTables {
  int64_t nodes = 0, leaves = 0;
  // One entry per position (nodes + leaves).
  std::vector<int64_t> feature, mode, next_true, next_false;
  std::vector<double> split;
  std::vector<bool> missing_true;
  std::vector<std::vector<double>> members;  // set-membership values per position
  std::vector<int64_t> roots;                // the starting position of each tree
  int64_t depth = 0;                         // steps until every walk is at a leaf
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

// Steps from `position` until a leaf on the longest path, memoised in `depths` (-1: not seen,
// -2: on the current path, else the depth); a cycle is an error. Iterative, so that a hostile
// file cannot overflow the stack.
int64_t walk_depth(const NodeContext& ctx, const TreeTables& tables, int64_t position,
                   std::vector<int64_t>& depths) {
  auto children = [&](int64_t at) {
    auto slot = static_cast<size_t>(at);
    return std::vector<int64_t>{tables.next_true[slot], tables.next_false[slot]};
  };
  std::vector<int64_t> stack = {position};
  while (!stack.empty()) {
    int64_t at = stack.back();
    if (at >= tables.nodes || depths[static_cast<size_t>(at)] >= 0) {  // a leaf, or done
      stack.pop_back();
      continue;
    }
    int64_t& depth = depths[static_cast<size_t>(at)];
    if (depth == -1) {  // first visit: its children go first
      depth = -2;
      for (int64_t child : children(at)) {
        if (child >= tables.nodes) continue;
        int64_t seen = depths[static_cast<size_t>(child)];
        if (seen == -2) ctx.fail("the trees have a cycle through node " + std::to_string(child));
        if (seen == -1) stack.push_back(child);
      }
      continue;
    }
    int64_t deepest = 0;  // children done
    for (int64_t child : children(at)) {
      if (child < tables.nodes) deepest = std::max(deepest, depths[static_cast<size_t>(child)]);
    }
    depth = deepest + 1;
    if (depth > kMaxTreeDepth) {
      ctx.fail("trees deeper than " + std::to_string(kMaxTreeDepth) + " are not supported yet");
    }
    stack.pop_back();
  }
  return position >= tables.nodes ? 0 : depths[static_cast<size_t>(position)];
}

TreeTables read_tree_tables(const NodeContext& ctx) {
  TreeTables t;
  std::vector<double> splits = tensor_doubles(ctx.attr_tensor("nodes_splits"));
  auto n = static_cast<size_t>(splits.size());
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
  t.nodes = static_cast<int64_t>(n);
  t.leaves = static_cast<int64_t>(leaf_targets.size());
  auto total = static_cast<size_t>(t.nodes + t.leaves);

  // Positions of the children; leaves step to themselves.
  auto child = [&](int64_t id, int64_t is_leaf, size_t node) {
    int64_t count = is_leaf ? t.leaves : t.nodes;
    if (id < 0 || id >= count) {
      ctx.fail("node " + std::to_string(node) + " points to " + (is_leaf ? "leaf " : "node ") +
               std::to_string(id) + ", outside [0, " + std::to_string(count) + ")");
    }
    return is_leaf ? t.nodes + id : id;
  };
  t.feature.assign(total, 0);
  t.mode.assign(total, kLeq);
  t.split.assign(total, 0.0);
  t.missing_true.assign(total, false);
  t.members.assign(total, {});
  t.next_true.resize(total);
  t.next_false.resize(total);
  for (size_t i = 0; i < n; ++i) {
    if (modes[i] < kLeq || modes[i] > kMember) {
      ctx.fail("node " + std::to_string(i) + " has mode " + std::to_string(modes[i]) +
               ", not one of 0 (BRANCH_LEQ) to 6 (BRANCH_MEMBER)");
    }
    if (features[i] < 0) {
      ctx.fail("node " + std::to_string(i) + " has the negative feature id " +
               std::to_string(features[i]));
    }
    t.feature[i] = features[i];
    t.mode[i] = modes[i];
    t.split[i] = splits[i];
    t.missing_true[i] = !missing.empty() && missing[i] != 0;
    t.next_true[i] = child(true_ids[i], true_leafs[i], i);
    t.next_false[i] = child(false_ids[i], false_leafs[i], i);
  }
  for (size_t i = n; i < total; ++i) t.next_true[i] = t.next_false[i] = static_cast<int64_t>(i);

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
  } else if (std::find(t.mode.begin(), t.mode.end(), kMember) != t.mode.end()) {
    ctx.fail("BRANCH_MEMBER nodes need the attribute 'membership_values'");
  }

  // Roots; a root whose both branches are the same leaf is a one-leaf tree.
  std::vector<int64_t> depths(n, -1);
  for (int64_t root : ctx.attr_ints("tree_roots")) {
    if (root < 0 || root >= t.nodes) {
      ctx.fail("tree root " + std::to_string(root) + " is outside [0, " + std::to_string(t.nodes) +
               ")");
    }
    auto r = static_cast<size_t>(root);
    bool single_leaf = true_leafs[r] && false_leafs[r] && true_ids[r] == false_ids[r];
    int64_t start = single_leaf ? t.next_true[r] : root;
    t.roots.push_back(start);
    t.depth = std::max(t.depth, walk_depth(ctx, t, start, depths));
  }
  if (t.roots.empty()) ctx.fail("attribute 'tree_roots' is empty");
  return t;
}

// A constant vector of the table's values in `dtype`.
template <typename T>
ir::Expr table_constant(const NodeContext& ctx, const std::vector<T>& values, DType dtype) {
  Tensor tensor(dtype, {static_cast<int64_t>(values.size())});
  for (size_t i = 0; i < values.size(); ++i) {
    tensor.set_element_from_double(static_cast<int64_t>(i), static_cast<double>(values[i]));
  }
  return ctx.constant(std::move(tensor));
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

Outputs convert_tree_ensemble(const NodeContext& ctx) {
  const ir::TensorType& type = ctx.input_type(0);
  if (!dtype_is_float(type.dtype) || type.rank() != 2) {
    ctx.fail("input must be a float matrix [N, features], got " + type.to_string());
  }
  if (!type.shape[0].is_static() || !type.shape[1].is_static()) {
    ctx.fail("input needs a static shape, got " + type.to_string() + ctx.shape_dict_hint());
  }
  int64_t batch = type.shape[0].value(), features = type.shape[1].value();
  DType dtype = type.dtype;
  int64_t n_targets = ctx.attr_int("n_targets");
  int64_t aggregate = ctx.attr_int("aggregate_function", 1);
  int64_t post_transform = ctx.attr_int("post_transform", 0);
  if (n_targets <= 0) ctx.fail("attribute 'n_targets' must be positive");
  if (aggregate < 0 || aggregate > 3) {
    ctx.fail("aggregate_function " + std::to_string(aggregate) +
             " is not one of 0 (AVERAGE), 1 (SUM), 2 (MIN), 3 (MAX)");
  }
  if (post_transform != 0 && post_transform != 1 && post_transform != 2) {
    ctx.fail("post_transform " + std::to_string(post_transform) +
             " is not supported yet (0 NONE, 1 SOFTMAX and 2 LOGISTIC are)");
  }
  TreeTables t = read_tree_tables(ctx);
  for (int64_t i = 0; i < t.nodes; ++i) {
    if (t.feature[static_cast<size_t>(i)] >= features) {
      ctx.fail("node " + std::to_string(i) + " reads feature " +
               std::to_string(t.feature[static_cast<size_t>(i)]) + " of " +
               std::to_string(features));
    }
  }
  std::vector<int64_t> leaf_targets = ctx.attr_ints("leaf_targetids");
  std::vector<double> leaf_weights = tensor_doubles(ctx.attr_tensor("leaf_weights"));
  require_count(ctx, "leaf_weights", leaf_weights.size(), leaf_targets.size());
  for (int64_t target : leaf_targets) {
    if (target < 0 || target >= n_targets) {
      ctx.fail("leaf target " + std::to_string(target) + " is outside [0, " +
               std::to_string(n_targets) + ")");
    }
  }
  auto trees = static_cast<int64_t>(t.roots.size());

  // Which comparisons occur, so the step computes only those.
  std::vector<int64_t> used_modes;
  for (int64_t i = 0; i < t.nodes; ++i) {
    int64_t mode = t.mode[static_cast<size_t>(i)];
    if (std::find(used_modes.begin(), used_modes.end(), mode) == used_modes.end()) {
      used_modes.push_back(mode);
    }
  }
  std::sort(used_modes.begin(), used_modes.end());
  bool any_missing =
      std::find(t.missing_true.begin(), t.missing_true.end(), true) != t.missing_true.end();

  ir::Expr feature_table = int_table(ctx, t.feature);
  ir::Expr split_table = table_constant(ctx, t.split, dtype);
  ir::Expr mode_table = int_table(ctx, t.mode);
  ir::Expr true_table = int_table(ctx, t.next_true);
  ir::Expr false_table = int_table(ctx, t.next_false);
  ir::Expr missing_table;
  if (any_missing) {
    std::vector<int64_t> flags(t.missing_true.begin(), t.missing_true.end());
    missing_table =
        ctx.call("cast", {int_table(ctx, flags)}, {{"dtype", dtype_text(DType::kBool)}});
  }
  ir::Expr members_table;  // [positions, widest set], NaN-padded
  if (std::find(used_modes.begin(), used_modes.end(), kMember) != used_modes.end()) {
    size_t width = 1;
    for (const auto& set : t.members) width = std::max(width, set.size());
    auto positions = static_cast<int64_t>(t.members.size());
    Tensor table(dtype, {positions, static_cast<int64_t>(width)});
    for (size_t p = 0; p < t.members.size(); ++p) {
      for (size_t j = 0; j < width; ++j) {
        double value = j < t.members[p].size() ? t.members[p][j] : std::nan("");
        table.set_element_from_double(static_cast<int64_t>(p * width + j), value);
      }
    }
    members_table = ctx.constant(std::move(table));
  }

  ir::Expr position = ctx.call("expand", {int_table(ctx, t.roots)},
                               {{"shape", std::vector<int64_t>{batch, trees}}});
  ir::Expr x = ctx.input(0);
  auto at = [&](const ir::Expr& table) {
    return ctx.call("gather", {table, position}, {{"axis", int64_t{0}}});
  };
  for (int64_t step = 0; step < t.depth; ++step) {
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
    if (any_missing) {
      ir::Expr missing = ctx.call("logical_and", {ctx.call("isnan", {value}), at(missing_table)});
      goes_true = ctx.call("logical_or", {goes_true, missing});
    }
    position = ctx.call("where", {goes_true, at(true_table), at(false_table)});
  }

  // Leaves: weight and target per (sample, tree), aggregated per target column.
  ir::Expr leaf = ctx.call("subtract", {position, ctx.scalar(double(t.nodes), DType::kInt64)});
  ir::Expr weight =
      ctx.call("gather", {table_constant(ctx, leaf_weights, dtype), leaf}, {{"axis", int64_t{0}}});
  ir::Expr target =
      ctx.call("gather", {int_table(ctx, leaf_targets), leaf}, {{"axis", int64_t{0}}});
  std::vector<int64_t> columns(static_cast<size_t>(n_targets));
  for (int64_t c = 0; c < n_targets; ++c) columns[static_cast<size_t>(c)] = c;
  Tensor column_ids = Tensor::from_int64s(columns).reshaped({1, 1, n_targets});
  ir::Expr hits =
      ctx.call("equal", {ctx.call("unsqueeze", {target}, {{"axes", std::vector<int64_t>{2}}}),
                         ctx.constant(std::move(column_ids))});  // [N, trees, targets]
  ir::Expr spread = ctx.call("unsqueeze", {weight}, {{"axes", std::vector<int64_t>{2}}});
  ir::Attrs over_trees = {{"axes", std::vector<int64_t>{1}}, {"keepdims", int64_t{0}}};
  ir::Expr result;
  if (aggregate <= 1) {  // AVERAGE, SUM
    ir::Expr contributions = ctx.call("where", {hits, spread, ctx.scalar(0, dtype)});
    result = ctx.call("reduce_sum", {contributions}, over_trees);
    if (aggregate == 0) {
      result = ctx.call("divide", {result, ctx.scalar(double(trees), dtype)});
    }
  } else {
    // Targets no tree reaches keep the start value: the dtype's largest (MIN) or lowest (MAX)
    // finite value, as in the reference.
    double largest = dtype == DType::kFloat64   ? std::numeric_limits<double>::max()
                     : dtype == DType::kFloat32 ? double(std::numeric_limits<float>::max())
                                                : 65504.0;
    bool is_min = aggregate == 2;
    ir::Expr fill = ctx.scalar(is_min ? largest : -largest, dtype);
    ir::Expr contributions = ctx.call("where", {hits, spread, fill});
    result = ctx.call(is_min ? "reduce_min" : "reduce_max", {contributions}, over_trees);
  }
  if (post_transform == 1) result = ctx.call("softmax", {result}, {{"axis", int64_t{-1}}});
  if (post_transform == 2) result = ctx.call("sigmoid", {result});
  return {result};
}

}  // namespace

void add_ml_converters(ConverterTable& table) {
  const std::string domain = "ai.onnx.ml";
  table[converter_key(domain, "Binarizer")] = convert_binarizer;
  table[converter_key(domain, "ArrayFeatureExtractor")] = convert_array_feature_extractor;
  table[converter_key(domain, "TreeEnsemble")] = convert_tree_ensemble;
}

}  // namespace kiln::frontend::onnx_import
