// The integer intrinsics (bitwise_and / or / xor, shift_left / shift_right) through the whole
// lowering path: the operators' computes, their default (vectorized) schedules, the tir pipeline
// and LLVM, JIT-run against the operators' reference evaluators. Shift amounts reach past the bit
// width, where LLVM's own shifts would be poison.
#include <cstring>
#include <string>
#include <vector>

#include "codegen_test_util.h"
#include "ir/expr.h"
#include "ir/op.h"
#include "op/op_impl.h"
#include "te/lower.h"
#include "tir/pipeline.h"

namespace kiln::codegen {
namespace {

// Runs op(a, b) compiled for the host with `vector_bits` wide vectors; returns the output.
Tensor run_compiled(const std::string& op_name, const Tensor& a, const Tensor& b,
                    const ir::Attrs& attrs, int vector_bits) {
  std::vector<ir::Expr> vars = {ir::VarNode::make("a", ir::tensor_type(a.dtype(), a.shape())),
                                ir::VarNode::make("b", ir::tensor_type(b.dtype(), b.shape()))};
  ir::Call call = ir::call(op_name, vars, attrs);
  std::vector<te::Tensor> inputs = {te::placeholder(a.shape(), tir::DataType{a.dtype(), 1}, "a"),
                                    te::placeholder(b.shape(), tir::DataType{b.dtype(), 1}, "b")};
  const op::OpImpl* impl = op::find_impl(op_name);
  EXPECT_NE(impl, nullptr);
  std::vector<te::Tensor> outputs = impl->compute(inputs, call->attrs, call->type());
  te::Schedule schedule(outputs);
  op::ScheduleContext context;
  context.vector_bits = vector_bits;
  op::default_schedule(schedule, outputs, context);
  std::vector<te::Tensor> params = {inputs[0], inputs[1], outputs[0]};
  tir::PrimFunc func = te::lower(schedule, params, "bitwise");
  tir::lower_tir(func);
  auto kernel = testing::jit(func);
  Tensor out(outputs[0]->dtype.dtype, outputs[0]->shape);
  testing::AlignedVector<uint8_t> x(static_cast<size_t>(a.nbytes())),
      y(static_cast<size_t>(b.nbytes())), z(static_cast<size_t>(out.nbytes()));
  std::memcpy(x.data(), a.data(), a.nbytes());
  std::memcpy(y.data(), b.data(), b.nbytes());
  EXPECT_EQ(kernel(x.data(), y.data(), z.data()), 0);
  std::memcpy(out.mutable_data(), z.data(), out.nbytes());
  return out;
}

Tensor pattern(DType dtype, int64_t n, int64_t multiplier, int64_t offset, int64_t modulus) {
  Tensor t(dtype, {n});
  for (int64_t i = 0; i < n; ++i) t.set_element_from_int64(i, (i * multiplier + offset) % modulus);
  return t;
}

void expect_same(const Tensor& actual, const Tensor& expected, const std::string& what) {
  ASSERT_EQ(actual.numel(), expected.numel());
  for (int64_t i = 0; i < actual.numel(); ++i) {
    ASSERT_EQ(actual.element_as_int64(i), expected.element_as_int64(i)) << what << " element " << i;
  }
}

TEST(CodegenBitwiseTest, AndOrXorMatchReference) {
  for (DType dtype : {DType::kInt32, DType::kUInt8, DType::kInt64, DType::kInt16}) {
    Tensor a = pattern(dtype, 37, 7919, -500, 1000), b = pattern(dtype, 37, 104729, -300, 777);
    for (const char* name : {"bitwise_and", "bitwise_or", "bitwise_xor"}) {
      Tensor expected = ir::op(name).evaluate({a, b}, ir::Attrs{}, ir::tensor_type(dtype, {37}));
      for (int bits : {512, 128}) {
        expect_same(run_compiled(name, a, b, ir::Attrs{}, bits), expected,
                    std::string(name) + " " + std::string(dtype_name(dtype)));
      }
    }
  }
}

TEST(CodegenBitwiseTest, ShiftsPastTheWidthGiveZero) {
  for (DType dtype : {DType::kUInt8, DType::kUInt32, DType::kUInt64, DType::kUInt16}) {
    Tensor a = pattern(dtype, 70, 7919, 1, 251), amounts = pattern(dtype, 70, 1, 0, 70);
    for (const char* direction : {"left", "right"}) {
      ir::Attrs attrs{{"direction", std::string(direction)}};
      // The reference evaluator validates the attributes through the call's defaults.
      std::vector<ir::Expr> vars = {ir::VarNode::make("a", ir::tensor_type(dtype, {70})),
                                    ir::VarNode::make("b", ir::tensor_type(dtype, {70}))};
      ir::Call call = ir::call("bit_shift", vars, attrs);
      Tensor expected =
          ir::op("bit_shift").evaluate({a, amounts}, call->attrs, call->type().as_tensor());
      for (int bits : {512, 256}) {
        expect_same(run_compiled("bit_shift", a, amounts, attrs, bits), expected,
                    std::string(direction) + " " + std::string(dtype_name(dtype)));
      }
    }
  }
}

}  // namespace
}  // namespace kiln::codegen
