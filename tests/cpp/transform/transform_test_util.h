// Helpers for the graph pass tests: building small modules, and a reference evaluator of a whole
// module (each call's compute run by the tensor-expression interpreter) to check that a pass keeps
// the values.
#pragma once

#include <gtest/gtest.h>

#include <cstdint>
#include <map>
#include <string>
#include <unordered_map>
#include <vector>

#include "../op/lower/lower_test_util.h"
#include "ir/expr.h"
#include "ir/functor.h"
#include "ir/module.h"
#include "ir/op.h"
#include "ir/printer.h"
#include "ir/verifier.h"
#include "kiln/error.h"
#include "op/op_impl.h"
#include "te/interpreter.h"

namespace kiln::transform::test {

using Ints = std::vector<int64_t>;

inline ir::Var f32_var(const std::string& name, const Ints& shape) {
  return ir::VarNode::make(name, ir::tensor_type(DType::kFloat32, shape));
}

// A float32 constant with deterministic pseudo-random values in [low, high].
inline ir::Constant random_constant(const std::string& name, const Ints& shape, uint32_t seed,
                                    double low = -1.0, double high = 1.0) {
  return ir::ConstantNode::make(
      op::lower_test::random_tensor(DType::kFloat32, shape, seed, low, high), name);
}

inline ir::Constant f32_constant(const std::string& name, const Ints& shape,
                                 const std::vector<float>& values) {
  return ir::ConstantNode::make(Tensor::from_float32s(values, shape), name);
}

inline ir::Module make_module(std::vector<ir::Var> inputs, const ir::Expr& body,
                              std::vector<std::string> output_names = {"y"}) {
  return ir::Module(ir::FunctionNode::make(std::move(inputs), body), std::move(output_names));
}

// The text golden tests compare: the module without source-name comments.
inline std::string text(const ir::Module& module) {
  ir::PrintOptions options;
  options.show_source_names = false;
  return ir::print_module(module, options);
}

// The outputs of `module` for `inputs` (by input name), every call evaluated by its compute.
inline std::vector<Tensor> evaluate(const ir::Module& module,
                                    const std::map<std::string, Tensor>& inputs) {
  std::unordered_map<const ir::ExprNode*, std::vector<Tensor>> values;
  for (const ir::Expr& node : ir::post_order(module.main()->body)) {
    std::vector<Tensor>& value = values[node.get()];
    if (const auto* var = ir::as<ir::VarNode>(node)) {
      value = {inputs.at(var->name)};
    } else if (const auto* constant = ir::as<ir::ConstantNode>(node)) {
      value = {constant->value};
    } else if (const auto* tuple = ir::as<ir::TupleNode>(node)) {
      for (const ir::Expr& field : tuple->fields) value.push_back(values.at(field.get()).at(0));
    } else if (const auto* get = ir::as<ir::TupleGetItemNode>(node)) {
      value = {values.at(get->tuple.get()).at(static_cast<size_t>(get->index))};
    } else if (const auto* call = ir::as<ir::CallNode>(node)) {
      const op::OpImpl* impl = op::find_impl(call->op.name);
      if (impl == nullptr) throw Error("no compute for " + call->op.name);
      std::vector<te::Tensor> placeholders;
      std::map<const te::TensorNode*, Tensor> bound;
      for (size_t i = 0; i < call->args.size(); ++i) {
        const Tensor& arg = values.at(call->args[i].get()).at(0);
        placeholders.push_back(
            te::placeholder(arg.shape(), tir::DataType{arg.dtype(), 1}, "arg" + std::to_string(i)));
        bound[placeholders.back().get()] = arg;
      }
      value = te::evaluate(impl->compute(placeholders, call->attrs, call->type()), bound);
    }
  }
  ir::Expr body = module.main()->body;
  if (ir::as<ir::TupleNode>(body) != nullptr) return values.at(body.get());
  return {values.at(body.get()).at(0)};
}

// Random inputs for every parameter of `module` (float32 in [-1, 1]).
inline std::map<std::string, Tensor> random_inputs(const ir::Module& module, uint32_t seed = 7) {
  std::map<std::string, Tensor> inputs;
  for (const ir::Var& input : module.inputs()) {
    const ir::TensorType& type = input->tensor_type();
    inputs[input->name] =
        op::lower_test::random_tensor(type.dtype, type.static_shape(), seed++, -1.0, 1.0);
  }
  return inputs;
}

// `after` is well formed and computes what `before` computes, on random inputs.
inline void expect_same_values(const ir::Module& before, const ir::Module& after,
                               double rtol = 1e-5, double atol = 1e-5) {
  EXPECT_TRUE(ir::verify(after).empty()) << ir::print_module(after);
  std::map<std::string, Tensor> inputs = random_inputs(before);
  std::vector<Tensor> expected = evaluate(before, inputs);
  std::vector<Tensor> actual = evaluate(after, inputs);
  ASSERT_EQ(actual.size(), expected.size());
  for (size_t i = 0; i < expected.size(); ++i) {
    SCOPED_TRACE("output " + std::to_string(i));
    op::lower_test::expect_close(actual[i], expected[i], rtol, atol);
  }
}

// How many calls of `op_name` the module has.
inline int count_calls(const ir::Module& module, std::string_view op_name) {
  int count = 0;
  for (const ir::Expr& node : ir::post_order(module.main()->body)) {
    const auto* call = ir::as<ir::CallNode>(node);
    if (call != nullptr && call->op.name == op_name) ++count;
  }
  return count;
}

}  // namespace kiln::transform::test
