#include "lower_test_util.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <random>

#include "../../te/tir_exec.h"
#include "ir/op.h"
#include "kiln/error.h"
#include "te/interpreter.h"
#include "te/lower.h"
#include "te/schedule.h"
#include "tir/pipeline.h"

namespace kiln::op::lower_test {

ir::TensorType f32(const Ints& shape) { return ir::tensor_type(DType::kFloat32, shape); }
ir::TensorType typed(DType dtype, const Ints& shape) { return ir::tensor_type(dtype, shape); }

Lowered lower(const std::string& op_name, const std::vector<ir::TensorType>& args,
              const ir::Attrs& attrs) {
  std::vector<ir::Expr> vars;
  for (size_t i = 0; i < args.size(); ++i) {
    vars.push_back(ir::VarNode::make("arg" + std::to_string(i), args[i]));
  }
  ir::Call call = ir::call(op_name, vars, attrs);
  const OpImpl* impl = find_impl(op_name);
  if (impl == nullptr) throw Error("no lowering for " + op_name);
  Lowered lowered{op_name, call->attrs, call->type(), {}, {}};
  for (size_t i = 0; i < args.size(); ++i) {
    lowered.inputs.push_back(te::placeholder(
        args[i].static_shape(), tir::DataType{args[i].dtype, 1}, "arg" + std::to_string(i)));
  }
  lowered.outputs = impl->compute(lowered.inputs, lowered.attrs, lowered.type);
  return lowered;
}

Tensor random_tensor(DType dtype, const Ints& shape, uint32_t seed, double low, double high) {
  Tensor tensor(dtype, shape);
  std::mt19937 engine(seed);
  if (!dtype_is_signed(dtype)) low = std::max(low, 0.0);
  std::uniform_real_distribution<double> uniform(low, high);
  for (int64_t i = 0; i < tensor.numel(); ++i) {
    double value = uniform(engine);
    if (dtype == DType::kBool) {
      tensor.set_element_from_int64(i, value > (low + high) / 2 ? 1 : 0);
    } else if (dtype_is_float(dtype)) {
      tensor.set_element_from_double(i, value);
    } else {
      tensor.set_element_from_int64(i, static_cast<int64_t>(std::llround(value)));
    }
  }
  return tensor;
}

std::vector<Tensor> random_args(const Lowered& lowered, uint32_t seed, double low, double high) {
  std::vector<Tensor> args;
  for (size_t i = 0; i < lowered.inputs.size(); ++i) {
    const te::Tensor& input = lowered.inputs[i];
    args.push_back(random_tensor(input->dtype.dtype, input->shape,
                                 seed + static_cast<uint32_t>(i) * 7919, low, high));
  }
  return args;
}

std::vector<Tensor> run_compute(const Lowered& lowered, const std::vector<Tensor>& args) {
  std::map<const te::TensorNode*, Tensor> inputs;
  for (size_t i = 0; i < args.size(); ++i) inputs[lowered.inputs[i].get()] = args[i];
  return te::evaluate(lowered.outputs, inputs);
}

Tensor run_reference(const Lowered& lowered, const std::vector<Tensor>& args) {
  const ir::OpDef& def = ir::op(lowered.op_name);
  if (!def.evaluate) throw Error(lowered.op_name + " has no reference evaluator");
  return def.evaluate(args, lowered.attrs, lowered.type.as_tensor());
}

void expect_close(const Tensor& actual, const Tensor& expected, double rtol, double atol) {
  ASSERT_EQ(actual.dtype(), expected.dtype());
  ASSERT_EQ(actual.shape(), expected.shape());
  int mismatches = 0;
  bool is_float = dtype_is_float(expected.dtype());
  for (int64_t i = 0; i < expected.numel(); ++i) {
    if (is_float) {
      double a = actual.element_as_double(i), e = expected.element_as_double(i);
      bool ok = (std::isnan(a) && std::isnan(e)) || a == e ||
                std::fabs(a - e) <= atol + rtol * std::fabs(e);
      if (!ok && mismatches++ < 5) {
        ADD_FAILURE() << "element " << i << ": got " << a << ", expected " << e;
      }
    } else {
      int64_t a = actual.element_as_int64(i), e = expected.element_as_int64(i);
      if (a != e && mismatches++ < 5) {
        ADD_FAILURE() << "element " << i << ": got " << a << ", expected " << e;
      }
    }
  }
  EXPECT_EQ(mismatches, 0) << "of " << expected.numel() << " elements";
}

void expect_matches_reference(const Lowered& lowered, double rtol, double atol, double low,
                              double high, uint32_t seed) {
  std::vector<Tensor> args = random_args(lowered, seed, low, high);
  std::vector<Tensor> actual = run_compute(lowered, args);
  ASSERT_EQ(actual.size(), 1u);
  expect_close(actual[0], run_reference(lowered, args), rtol, atol);
}

namespace {

bool unsupported_by_executor(const std::exception& error) {
  return std::string(error.what()).find("not supported by the test executor") != std::string::npos;
}

// Runs the lowered kernel on `args` with the loop-IR test executor and compares its outputs with
// the interpreter's `expected`.
void expect_kernel_matches(const tir::PrimFunc& func, const std::vector<Tensor>& args,
                           const std::vector<Tensor>& expected) {
  std::vector<std::vector<double>> buffers;
  for (const Tensor& arg : args) {
    std::vector<double>& buffer = buffers.emplace_back(static_cast<size_t>(arg.numel()));
    for (int64_t i = 0; i < arg.numel(); ++i)
      buffer[static_cast<size_t>(i)] = arg.element_as_double(i);
  }
  for (const Tensor& out : expected) buffers.emplace_back(static_cast<size_t>(out.numel()), NAN);
  std::vector<std::vector<double>*> pointers;
  for (std::vector<double>& buffer : buffers) pointers.push_back(&buffer);
  try {
    test::TirExec().run(func, pointers);
  } catch (const std::runtime_error& error) {
    if (unsupported_by_executor(error)) return;  // e.g. an intrinsic it does not know
    ADD_FAILURE() << "executing the lowered kernel: " << error.what();
    return;
  }
  for (size_t k = 0; k < expected.size(); ++k) {
    Tensor actual(expected[k].dtype(), expected[k].shape());
    const std::vector<double>& buffer = buffers[args.size() + k];
    for (int64_t i = 0; i < actual.numel(); ++i) {
      actual.set_element_from_double(i, buffer[static_cast<size_t>(i)]);
    }
    SCOPED_TRACE("lowered kernel, output " + std::to_string(k));
    expect_close(actual, expected[k], 1e-5, 1e-6);
  }
}

}  // namespace

void expect_schedules(const Lowered& lowered, bool execute) {
  const OpImpl* impl = find_impl(lowered.op_name);
  ASSERT_NE(impl, nullptr);
  std::vector<Tensor> args = random_args(lowered, 11);
  std::vector<Tensor> expected;
  if (execute) expected = run_compute(lowered, args);
  for (ScheduleContext context :
       {ScheduleContext{512, 16, {}}, ScheduleContext{256, 1, {}}, ScheduleContext{128, 2, {}}}) {
    SCOPED_TRACE(lowered.op_name + " scheduled for " + std::to_string(context.vector_bits) +
                 " bits, " + std::to_string(context.num_cores) + " cores");
    te::Schedule schedule(lowered.outputs);
    try {
      if (impl->schedule) {
        impl->schedule(schedule, lowered.outputs, context);
      } else {
        default_schedule(schedule, lowered.outputs, context);
      }
      std::vector<te::Tensor> params = lowered.inputs;
      params.insert(params.end(), lowered.outputs.begin(), lowered.outputs.end());
      tir::PrimFunc func = te::lower(schedule, params, "kernel");
      if (execute) expect_kernel_matches(func, args, expected);
      tir::lower_tir(func);
    } catch (const std::exception& error) {
      ADD_FAILURE() << error.what() << "\nschedule:\n" << schedule.to_string();
    }
  }
}

}  // namespace kiln::op::lower_test
