#include "ir/printer.h"

#include <gtest/gtest.h>

#include "ir/op.h"

namespace kiln::ir {
namespace {

Module small_module() {
  Var x = VarNode::make("x", tensor_type(DType::kFloat32, {1, 4}));
  Constant w = ConstantNode::make(Tensor::from_float32s({1, 2, 3, 4}, {4}), "w");
  Expr sum = call("add", {x, w}, {}, "add_0");
  Expr activated = call("relu", {sum});
  return Module(FunctionNode::make({x}, activated), {"y"});
}

TEST(PrinterTest, GoldenTextForASmallGraph) {
  EXPECT_EQ(print_module(small_module()),
            "def @main(%x: float32[1, 4]) -> float32[1, 4] {\n"
            "  %0 = add(%x, $w) : float32[1, 4]  # add_0\n"
            "  %1 = relu(%0) : float32[1, 4]\n"
            "  return %1\n"
            "}\n"
            "constants (1, 4 values):\n"
            "  $w: float32[4] = [1, 2, 3, 4]\n"
            "outputs: y\n");
}

TEST(PrinterTest, TuplesAttributesAndSymbolicDims) {
  TensorType input_type;
  input_type.dtype = DType::kFloat32;
  input_type.shape = {Dim::symbol("batch"), 4};
  Var x = VarNode::make("x", input_type);
  Expr parts = call("split", {x}, {{"axis", int64_t{1}}, {"sections", std::vector<int64_t>{1, 3}}});
  Expr first = TupleGetItemNode::make(parts, 0);
  Expr second = TupleGetItemNode::make(parts, 1);
  Module module(FunctionNode::make({x}, TupleNode::make({first, second})), {"a", "b"});
  EXPECT_EQ(print_module(module),
            "def @main(%x: float32[batch, 4]) -> (float32[batch, 1], float32[batch, 3]) {\n"
            "  %0 = split(%x, axis=1, sections=[1, 3]) : (float32[batch, 1], float32[batch, 3])\n"
            "  %1 = %0.0 : float32[batch, 1]\n"
            "  %2 = %0.1 : float32[batch, 3]\n"
            "  %3 = (%1, %2) : (float32[batch, 1], float32[batch, 3])\n"
            "  return %3\n"
            "}\n"
            "outputs: a, b\n");
}

TEST(PrinterTest, DuplicateAndEmptyConstantNamesStayDistinct) {
  Var x = VarNode::make("x", tensor_type(DType::kFloat32, {2}));
  Constant a = ConstantNode::make(Tensor::from_float32s({1, 2}, {2}), "c");
  Constant b = ConstantNode::make(Tensor::from_float32s({3, 4}, {2}), "c");
  Constant unnamed = ConstantNode::make(Tensor::from_float32s({5, 6}, {2}));
  Expr body = call("add", {call("add", {call("add", {x, a}), b}), unnamed});
  std::string text = print_module(Module(FunctionNode::make({x}, body), {"y"}));
  EXPECT_NE(text.find("$c: float32[2] = [1, 2]"), std::string::npos) << text;
  EXPECT_NE(text.find("$c.1: float32[2] = [3, 4]"), std::string::npos) << text;
  EXPECT_NE(text.find("$const_2: float32[2] = [5, 6]"), std::string::npos) << text;
}

TEST(PrinterTest, OddNamesAreQuoted) {
  Var x = VarNode::make("input 0", tensor_type(DType::kFloat32, {2}));
  Module module(FunctionNode::make({x}, call("relu", {x})), {"out"});
  EXPECT_NE(print_module(module).find("%\"input 0\": float32[2]"), std::string::npos);
}

}  // namespace
}  // namespace kiln::ir
