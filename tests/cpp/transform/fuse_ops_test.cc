// Golden tests of the fusion partition: which calls share a kernel, and the marked text IR.
#include "transform/fuse_ops.h"

#include <gtest/gtest.h>

#include <string>
#include <unordered_set>
#include <vector>

#include "ir/functor.h"
#include "ir/op.h"

namespace kiln::transform {
namespace {

using Ints = std::vector<int64_t>;

ir::Var input(const std::string& name, const Ints& shape) {
  return ir::VarNode::make(name, ir::tensor_type(DType::kFloat32, shape));
}

ir::Constant weight(const std::string& name, const Ints& shape) {
  int64_t count = 1;
  for (int64_t dim : shape) count *= dim;
  return ir::ConstantNode::make(Tensor::from_float32s(std::vector<float>(count, 0.5f), shape),
                                name);
}

ir::Module module_of(std::vector<ir::Var> inputs, const ir::Expr& body,
                     std::vector<std::string> names = {"y"}) {
  return ir::Module(ir::FunctionNode::make(std::move(inputs), body), std::move(names));
}

// conv2d + bias_add (+ relu): a convolution layer of the test nets.
ir::Expr conv_bias(const ir::Expr& data, int64_t channels, int64_t out_channels,
                   const std::string& name) {
  ir::Expr conv = ir::call("conv2d", {data, weight(name + ".w", {out_channels, channels, 3, 3})},
                           {{"padding", Ints{1, 1, 1, 1}}}, name);
  return ir::call("bias_add", {conv, weight(name + ".b", {out_channels})});
}

// One line per group: "conv2d + bias_add + relu | anchor conv2d | in 3 | out 1".
std::vector<std::string> summary(const FusionPlan& plan) {
  std::vector<std::string> lines;
  for (const FusedGroup& group : plan.groups) {
    lines.push_back(
        group.name() + " | " + (group.anchor ? "anchor " + group.anchor->op.name : "no anchor") +
        " | " + std::string(ir::op_pattern_name(group.pattern)) + " | in " +
        std::to_string(group.inputs.size()) + " | out " + std::to_string(group.outputs.size()));
  }
  return lines;
}

// The guarantees of the header: every call in one group, groups in topological order, every
// value but a group's outputs read exactly once and only inside its group.
void expect_valid(const ir::Module& module, const FusionPlan& plan) {
  std::unordered_map<const ir::ExprNode*, int> consumers;
  std::vector<ir::Expr> nodes = ir::post_order(module.main()->body);
  size_t calls = 0;
  for (const ir::Expr& node : nodes) {
    if (ir::as<ir::CallNode>(node)) ++calls;
    std::unordered_set<const ir::ExprNode*> distinct;
    for (const ir::Expr& input : ir::children(node)) {
      if (distinct.insert(input.get()).second) ++consumers[input.get()];
    }
  }
  size_t planned = 0;
  for (size_t g = 0; g < plan.groups.size(); ++g) {
    const FusedGroup& group = plan.groups[g];
    ASSERT_FALSE(group.calls.empty());
    planned += group.calls.size();
    std::unordered_set<const ir::ExprNode*> members;
    for (const ir::Call& call : group.calls) {
      EXPECT_EQ(plan.group_of.at(call.get()), g);
      for (const ir::Expr& arg : call->args) {
        auto owner = plan.group_of.find(arg.get());
        if (members.count(arg.get())) continue;
        // An input: computed by an earlier group, or not a call at all.
        EXPECT_TRUE(owner == plan.group_of.end() || owner->second < g) << group.name();
      }
      members.insert(call.get());
    }
    for (const ir::Call& call : group.calls) {
      bool is_output =
          std::find(group.outputs.begin(), group.outputs.end(), call) != group.outputs.end();
      if (!is_output) {
        EXPECT_EQ(consumers[call.get()], 1) << group.name();
      }
    }
  }
  EXPECT_EQ(planned, calls);
}

FusionPlan plan_of(const ir::Module& module) {
  FusionPlan plan = fuse_ops(module);
  expect_valid(module, plan);
  return plan;
}

TEST(FuseOpsTest, ConvBiasReluIsOneGroup) {
  ir::Var x = input("x", {1, 3, 8, 8});
  ir::Expr y = ir::call("relu", {conv_bias(x, 3, 4, "conv1")});
  FusionPlan plan = plan_of(module_of({x}, y));
  EXPECT_EQ(summary(plan),
            (std::vector<std::string>{
                "conv2d + bias_add + relu | anchor conv2d | out_elemwise_fusable | in "
                "3 | out 1"}));
  EXPECT_EQ(plan.groups[0].outputs[0].get(), y.get());
}

TEST(FuseOpsTest, ResidualBlockFusesTheAddIntoTheSecondConvolution) {
  ir::Var x = input("x", {1, 4, 8, 8});
  ir::Expr first = ir::call("relu", {conv_bias(x, 4, 4, "conv1")});
  ir::Expr second = conv_bias(first, 4, 4, "conv2");
  ir::Expr y = ir::call("relu", {ir::call("add", {second, x})});
  FusionPlan plan = plan_of(module_of({x}, y));
  EXPECT_EQ(
      summary(plan),
      (std::vector<std::string>{
          "conv2d + bias_add + relu | anchor conv2d | out_elemwise_fusable | in 3 | out 1",
          "conv2d + bias_add + add + relu | anchor conv2d | out_elemwise_fusable | in 4 | out 1"}));
  // The residual (x) is an input of the second kernel.
  const std::vector<ir::Expr>& inputs = plan.groups[1].inputs;
  EXPECT_NE(std::find(inputs.begin(), inputs.end(), ir::Expr(x)), inputs.end());
}

TEST(FuseOpsTest, AValueWithTwoReadersEndsTheChain) {
  ir::Var x = input("x", {1, 3, 8, 8});
  ir::Expr biased = conv_bias(x, 3, 4, "conv1");
  ir::Expr y = ir::call("add", {ir::call("relu", {biased}), ir::call("sigmoid", {biased})});
  FusionPlan plan = plan_of(module_of({x}, y));
  EXPECT_EQ(summary(plan),
            (std::vector<std::string>{
                "conv2d + bias_add | anchor conv2d | out_elemwise_fusable | in 3 | out 1",
                "sigmoid | no anchor | elemwise | in 1 | out 1",
                "relu + add | no anchor | broadcast | in 2 | out 1"}));
}

TEST(FuseOpsTest, AModelOutputIsNotFusedThrough) {
  ir::Var x = input("x", {1, 3, 8, 8});
  ir::Expr activated = ir::call("relu", {conv_bias(x, 3, 4, "conv1")});
  ir::Expr doubled = ir::call("add", {activated, activated});
  FusionPlan plan = plan_of(module_of({x}, ir::TupleNode::make({activated, doubled}), {"a", "b"}));
  EXPECT_EQ(summary(plan),
            (std::vector<std::string>{
                "conv2d + bias_add + relu | anchor conv2d | out_elemwise_fusable | in 3 | out 1",
                "add | no anchor | broadcast | in 1 | out 1"}));
}

TEST(FuseOpsTest, ElementwiseChainsFuse) {
  ir::Var a = input("a", {3, 9});
  ir::Var b = input("b", {9});
  ir::Expr s = ir::call("add", {a, b});
  ir::Expr y = ir::call("tanh", {ir::call("multiply", {ir::call("sigmoid", {s}), a})});
  FusionPlan plan = plan_of(module_of({a, b}, y));
  EXPECT_EQ(summary(plan),
            (std::vector<std::string>{
                "add + sigmoid + multiply + tanh | no anchor | broadcast | in 2 | out 1"}));
}

TEST(FuseOpsTest, InjectiveInputsAndElementwiseEpilogueFuseAroundAReduction) {
  ir::Var x = input("x", {4, 6});
  ir::Expr moved = ir::call("transpose", {x}, {{"axes", Ints{1, 0}}});
  ir::Expr summed = ir::call("reduce_sum", {moved}, {{"axes", Ints{1}}, {"keepdims", int64_t{0}}});
  ir::Expr y = ir::call("sqrt", {summed});
  FusionPlan plan = plan_of(module_of({x}, y));
  EXPECT_EQ(summary(plan), (std::vector<std::string>{
                               "transpose + reduce_sum + sqrt | anchor reduce_sum | reduction | "
                               "in 1 | out 1"}));
}

TEST(FuseOpsTest, OpaqueAndTupleProducingCallsStandAlone) {
  ir::Var x = input("x", {2, 8});
  ir::Expr shifted = ir::call("add", {x, weight("shift", {8})});
  ir::Expr soft = ir::call("softmax", {shifted}, {{"axis", int64_t{1}}});
  ir::Expr parts = ir::call("split", {ir::call("relu", {soft})},
                            {{"axis", int64_t{1}}, {"sections", Ints{4, 4}}});
  ir::Expr y = ir::call("add", {ir::call("exp", {ir::TupleGetItemNode::make(parts, 0)}),
                                ir::TupleGetItemNode::make(parts, 1)});
  FusionPlan plan = plan_of(module_of({x}, y));
  EXPECT_EQ(summary(plan),
            (std::vector<std::string>{"add | no anchor | broadcast | in 2 | out 1",
                                      "softmax | no anchor | opaque | in 1 | out 1",
                                      "relu | no anchor | elemwise | in 1 | out 1",
                                      "split | no anchor | injective | in 1 | out 1",
                                      "exp + add | no anchor | broadcast | in 2 | out 1"}));
}

TEST(FuseOpsTest, ABroadcastOfTheGroupValueIsNotFused) {
  // Squeeze-and-excitation: the per-channel gate must not be recomputed per pixel.
  ir::Var x = input("x", {1, 4, 6, 6});
  ir::Expr mean = ir::call("reduce_mean", {x}, {{"axes", Ints{2, 3}}, {"keepdims", int64_t{1}}});
  ir::Expr gate = ir::call("sigmoid", {mean});
  ir::Expr y = ir::call("multiply", {x, gate});
  FusionPlan plan = plan_of(module_of({x}, y));
  EXPECT_EQ(summary(plan),
            (std::vector<std::string>{
                "reduce_mean + sigmoid | anchor reduce_mean | reduction | in 1 | out 1",
                "multiply | no anchor | broadcast | in 2 | out 1"}));
}

TEST(FuseOpsTest, AnAnchorDoesNotJoinAnotherAnchor) {
  ir::Var x = input("x", {1, 3, 8, 8});
  ir::Expr activated = ir::call("relu", {conv_bias(x, 3, 4, "conv1")});
  ir::Expr pooled =
      ir::call("max_pool2d", {activated}, {{"pool_size", Ints{2, 2}}, {"strides", Ints{2, 2}}});
  ir::Expr flat = ir::call("reshape", {pooled}, {{"newshape", Ints{1, 64}}});
  ir::Expr y = ir::call("relu", {ir::call("dense", {flat, weight("fc.w", {10, 64})})});
  FusionPlan plan = plan_of(module_of({x}, y));
  EXPECT_EQ(summary(plan),
            (std::vector<std::string>{
                "conv2d + bias_add + relu | anchor conv2d | out_elemwise_fusable | in 3 | out 1",
                "max_pool2d | anchor max_pool2d | out_elemwise_fusable | in 1 | out 1",
                "reshape | no anchor | injective | in 1 | out 1",
                "dense + relu | anchor dense | out_elemwise_fusable | in 2 | out 1"}));
}

TEST(FuseOpsTest, WithoutFusionEveryCallIsAGroup) {
  ir::Var x = input("x", {1, 3, 8, 8});
  ir::Module module = module_of({x}, ir::call("relu", {conv_bias(x, 3, 4, "conv1")}));
  FuseOptions options;
  options.fuse = false;
  FusionPlan plan = fuse_ops(module, options);
  expect_valid(module, plan);
  EXPECT_EQ(summary(plan), (std::vector<std::string>{
                               "conv2d | anchor conv2d | out_elemwise_fusable | in 2 | out 1",
                               "bias_add | no anchor | broadcast | in 2 | out 1",
                               "relu | no anchor | elemwise | in 1 | out 1"}));
}

TEST(FuseOpsTest, GroupsAreInTopologicalOrderAcrossBranches) {
  // Two branches whose post order interleaves; the second branch's add reads the first's value.
  ir::Var x = input("x", {1, 4, 8, 8});
  ir::Expr left = ir::call("relu", {conv_bias(x, 4, 4, "left")});
  ir::Expr right = conv_bias(x, 4, 4, "right");
  ir::Expr joined = ir::call("add", {right, left});
  ir::Expr y = ir::call("add", {joined, ir::call("exp", {left})});
  FusionPlan plan = plan_of(module_of({x}, y));
  // The right branch's kernel runs last: it reads both the left branch and exp.
  EXPECT_EQ(summary(plan),
            (std::vector<std::string>{
                "conv2d + bias_add + relu | anchor conv2d | out_elemwise_fusable | in 3 | out 1",
                "exp | no anchor | elemwise | in 1 | out 1",
                "conv2d + bias_add + add + add | anchor conv2d | out_elemwise_fusable | in 5 | "
                "out 1"}));
}

TEST(FuseOpsTest, PrintFusedMarksEachKernel) {
  ir::Var x = input("x", {1, 4, 8, 8});
  ir::Expr first = ir::call("relu", {conv_bias(x, 4, 4, "conv1")}, {}, "relu1");
  ir::Expr second = conv_bias(first, 4, 4, "conv2");
  ir::Expr y = ir::call("relu", {ir::call("add", {second, x})});
  ir::Module module = module_of({x}, y);
  EXPECT_EQ(print_fused(module, plan_of(module)),
            "def @main(%x: float32[1, 4, 8, 8]) -> float32[1, 4, 8, 8] {\n"
            "  # kernel 0: conv2d + bias_add + relu\n"
            "  %0 = conv2d(%x, $conv1.w, dilation=[1, 1], groups=1, padding=[1, 1, 1, 1], "
            "strides=[1, 1]) : float32[1, 4, 8, 8]  # conv1\n"
            "  %1 = bias_add(%0, $conv1.b, axis=1) : float32[1, 4, 8, 8]\n"
            "  %2 = relu(%1) : float32[1, 4, 8, 8]  # relu1\n"
            "  # kernel 1: conv2d + bias_add + add + relu\n"
            "  %3 = conv2d(%2, $conv2.w, dilation=[1, 1], groups=1, padding=[1, 1, 1, 1], "
            "strides=[1, 1]) : float32[1, 4, 8, 8]  # conv2\n"
            "  %4 = bias_add(%3, $conv2.b, axis=1) : float32[1, 4, 8, 8]\n"
            "  %5 = add(%4, %x) : float32[1, 4, 8, 8]\n"
            "  %6 = relu(%5) : float32[1, 4, 8, 8]\n"
            "  return %6\n"
            "}\n"
            "constants (4, 296 values):\n"
            "  $conv1.w: float32[4, 4, 3, 3]\n"
            "  $conv1.b: float32[4] = [0.5, 0.5, 0.5, 0.5]\n"
            "  $conv2.w: float32[4, 4, 3, 3]\n"
            "  $conv2.b: float32[4] = [0.5, 0.5, 0.5, 0.5]\n"
            "outputs: y\n");
}

}  // namespace
}  // namespace kiln::transform
