// Helpers for the operator lowering tests: build an operator's compute for given argument types,
// evaluate it with the tensor-expression interpreter, compare with a reference, and check that
// the default schedule applies (and lowers) for a few targets.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "ir/attrs.h"
#include "ir/expr.h"
#include "ir/type.h"
#include "kiln/tensor.h"
#include "op/op_impl.h"
#include "te/tensor.h"

namespace kiln::op::lower_test {

using Ints = std::vector<int64_t>;

struct Lowered {
  std::string op_name;
  ir::Attrs attrs;  // with the operator's defaults filled in
  ir::Type type;    // the call's result type
  std::vector<te::Tensor> inputs;
  std::vector<te::Tensor> outputs;
};

ir::TensorType f32(const Ints& shape);
ir::TensorType typed(DType dtype, const Ints& shape);

// The operator's compute for arguments of `args` types (kiln::Error from the type relation).
Lowered lower(const std::string& op_name, const std::vector<ir::TensorType>& args,
              const ir::Attrs& attrs = {});

// Deterministic pseudo-random values: floats uniform in [low, high], integers in
// [low, high] rounded, bool 0/1.
Tensor random_tensor(DType dtype, const Ints& shape, uint32_t seed, double low = -2.0,
                     double high = 2.0);
// Random arguments matching `lowered.inputs`.
std::vector<Tensor> random_args(const Lowered& lowered, uint32_t seed = 1, double low = -2.0,
                                double high = 2.0);

// The compute evaluated by the interpreter, one tensor per output.
std::vector<Tensor> run_compute(const Lowered& lowered, const std::vector<Tensor>& args);
// The operator's reference evaluator (ir::OpDef::evaluate).
Tensor run_reference(const Lowered& lowered, const std::vector<Tensor>& args);

// Elementwise |actual - expected| <= atol + rtol * |expected| (NaNs must match), same dtype and
// shape; reports the first few mismatches.
void expect_close(const Tensor& actual, const Tensor& expected, double rtol = 1e-5,
                  double atol = 1e-6);

// Interpreter vs reference evaluator on random arguments.
void expect_matches_reference(const Lowered& lowered, double rtol = 1e-5, double atol = 1e-6,
                              double low = -2.0, double high = 2.0, uint32_t seed = 1);

// The registered schedule (or the default one) applies for a few target contexts (AVX-512 and
// many cores, AVX2 with one core, 128-bit with two), lowers to loop IR and passes the loop-IR
// pipeline. With `execute`, the lowered kernel also runs (test executor, where it supports every
// node) on random arguments and must match the interpreter.
void expect_schedules(const Lowered& lowered, bool execute = true);

}  // namespace kiln::op::lower_test
