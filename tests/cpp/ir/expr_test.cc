#include <gtest/gtest.h>

#include "ir/expr.h"
#include "ir/functor.h"
#include "ir/module.h"
#include "ir/op.h"
#include "ir/verifier.h"
#include "kiln/error.h"

namespace kiln::ir {
namespace {

TEST(ExprTest, CallInfersItsTypeWhenMade) {
  Var x = VarNode::make("x", tensor_type(DType::kFloat32, {2, 3}));
  Var y = VarNode::make("y", tensor_type(DType::kFloat32, {3}));
  Call sum = call("add", {x, y});
  EXPECT_EQ(sum->type().to_string(), "float32[2, 3]");
}

TEST(ExprTest, CallChecksArityAndAttributes) {
  Var x = VarNode::make("x", tensor_type(DType::kFloat32, {2, 3}));
  EXPECT_THROW(call("add", {x}), Error);
  EXPECT_THROW(call("relu", {x}, {{"no_such_attr", int64_t{1}}}), Error);
  EXPECT_THROW(call("transpose", {x}, {{"axes", std::string("wrong kind")}}), Error);
  EXPECT_THROW(call("no_such_op", {x}), Error);
}

TEST(ExprTest, DefaultsAreFilledIn) {
  Var x = VarNode::make("x", tensor_type(DType::kFloat32, {2, 3}));
  Call clipped = call("clip", {x}, {{"max", 6.0}});
  EXPECT_TRUE(clipped->attrs.has("min"));
  EXPECT_EQ(clipped->attrs.get_float("max"), 6.0);
}

TEST(ExprTest, PostOrderVisitsSharedNodesOnceAndDeepChainsWithoutRecursion) {
  Var x = VarNode::make("x", tensor_type(DType::kFloat32, {4}));
  Expr value = x;
  for (int i = 0; i < 1000000; ++i) value = call("relu", {value});
  std::vector<Expr> order = post_order(value);
  EXPECT_EQ(order.size(), 1000001u);
  EXPECT_EQ(order.front(), x);
  order.clear();
  value.reset();  // destroys a million-node chain: must not recurse

  Expr shared = call("relu", {x});
  Expr both = call("add", {shared, shared});
  EXPECT_EQ(post_order(both).size(), 3u);
}

class ReluToSigmoid : public ExprMutator {
 protected:
  Expr rewrite(const Expr& node, const std::vector<Expr>& new_children) override {
    const auto* call_node = as<CallNode>(node);
    if (call_node && call_node->op.name == "relu") return call("sigmoid", new_children);
    return rebuild(node, new_children);
  }
};

TEST(ExprTest, MutatorKeepsUnchangedNodesAndRebuildsChangedOnes) {
  Var x = VarNode::make("x", tensor_type(DType::kFloat32, {4}));
  Expr untouched = call("exp", {x});
  Expr body = call("add", {call("relu", {x}), untouched});
  ReluToSigmoid mutator;
  Expr result = mutator.mutate(body);
  const auto* add = as<CallNode>(result);
  ASSERT_NE(add, nullptr);
  EXPECT_EQ(as<CallNode>(add->args[0])->op.name, "sigmoid");
  EXPECT_EQ(add->args[1], untouched);  // same node, not a copy

  ExprMutator identity;
  EXPECT_EQ(identity.mutate(body), body);
}

TEST(ExprTest, TupleGetItemChecksRange) {
  Var x = VarNode::make("x", tensor_type(DType::kFloat32, {4}));
  Expr tuple = TupleNode::make({x, x});
  EXPECT_EQ(TupleGetItemNode::make(tuple, 1)->type().to_string(), "float32[4]");
  EXPECT_THROW(TupleGetItemNode::make(tuple, 2), Error);
  EXPECT_THROW(TupleGetItemNode::make(x, 0), Error);
}

TEST(VerifierTest, AcceptsAWellFormedModuleAndReportsAForeignVariable) {
  Var x = VarNode::make("x", tensor_type(DType::kFloat32, {4}));
  Var stray = VarNode::make("stray", tensor_type(DType::kFloat32, {4}));
  Module good(FunctionNode::make({x}, call("relu", {x})), {"y"});
  EXPECT_TRUE(verify(good).empty());
  Module bad(FunctionNode::make({x}, call("add", {x, stray})), {"y"});
  std::vector<std::string> problems = verify(bad);
  ASSERT_EQ(problems.size(), 1u);
  EXPECT_NE(problems[0].find("stray"), std::string::npos);
  EXPECT_THROW(verify_or_throw(bad), InternalError);
}

TEST(VerifierTest, ReportsDuplicateParameterNames) {
  Var a = VarNode::make("x", tensor_type(DType::kFloat32, {4}));
  Var b = VarNode::make("x", tensor_type(DType::kFloat32, {4}));
  Module module(FunctionNode::make({a, b}, call("add", {a, b})), {"y"});
  EXPECT_EQ(verify(module).size(), 1u);
}

}  // namespace
}  // namespace kiln::ir
