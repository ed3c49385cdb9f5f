// Vector expressions, half-precision buffers, allocations and parallel loops, JIT-run.
#include <cmath>
#include <numeric>

#include "codegen_test_util.h"
#include "kiln/tensor.h"

namespace kiln::codegen {
namespace {

using namespace kiln::tir;  // NOLINT: the IR reads better unqualified in tests
using testing::AlignedVector;
using testing::jit;

constexpr DataType kF32{DType::kFloat32, 1};
constexpr DataType kI32{DType::kInt32, 1};

TEST(CodegenTest, VectorAddSerialLoop) {
  const int64_t n = 1003;  // not a multiple of any vector width
  Buffer a = make_buffer("a", kF32, {n});
  Buffer b = make_buffer("b", kF32, {n});
  Buffer c = make_buffer("c", kF32, {n});
  Var i_var = make_var("i");
  PrimExpr i(i_var);
  Stmt body = make_for(i_var, 0, n, ForKind::kSerial,
                       make_store(c, buffer_load(a, {i}) + buffer_load(b, {i}), {i}));
  auto kernel = jit(PrimFunc{"vector_add", {a, b, c}, body});
  AlignedVector<float> x(n), y(n), z(n);
  for (int64_t k = 0; k < n; ++k) {
    x[k] = static_cast<float>(k) * 0.5f;
    y[k] = 1.0f / static_cast<float>(k + 1);
  }
  ASSERT_EQ(kernel(x.data(), y.data(), z.data()), 0);
  for (int64_t k = 0; k < n; ++k) ASSERT_EQ(z[k], x[k] + y[k]) << k;
}

TEST(CodegenTest, RampBroadcastContiguousAndStridedVectorAccess) {
  // out[8i .. 8i+8) = a[16i + 2l] (gather, stride 2) * scale[0] (broadcast load) + ramp(8i, 1, 8)
  // and back[2l + 1 + 16i] = out[...] (scatter).
  const int lanes = 8;
  const int64_t blocks = 5;
  Buffer a = make_buffer("a", kF32, {blocks * lanes * 2});
  Buffer scale = make_buffer("scale", kF32, {1});
  Buffer out = make_buffer("out", kF32, {blocks * lanes});
  Buffer back = make_buffer("back", kF32, {blocks * lanes * 2});
  Var i_var = make_var("i");
  PrimExpr i(i_var);
  PrimExpr contiguous = ramp(PrimExpr(i) * lanes, 1, lanes);
  PrimExpr strided = ramp(PrimExpr(i) * (lanes * 2), 2, lanes);
  PrimExpr value = buffer_load(a, {strided}) * buffer_load(scale, {broadcast(int_imm(0), lanes)}) +
                   cast({DType::kFloat32, lanes}, contiguous);
  Stmt body = make_for(i_var, 0, blocks, ForKind::kSerial,
                       make_seq({make_store(out, value, {contiguous}),
                                 make_store(back, buffer_load(out, {contiguous}),
                                            {strided + broadcast(int_imm(1), lanes)})}));
  auto kernel = jit(PrimFunc{"vectors", {a, scale, out, back}, body});
  AlignedVector<float> av(blocks * lanes * 2), sv(1, 3.0f), ov(blocks * lanes),
      bv(blocks * lanes * 2, -1.0f);
  for (int64_t k = 0; k < blocks * lanes * 2; ++k) av[k] = static_cast<float>(k);
  ASSERT_EQ(kernel(av.data(), sv.data(), ov.data(), bv.data()), 0);
  for (int64_t k = 0; k < blocks * lanes; ++k) {
    float expected = av[2 * k] * 3.0f + static_cast<float>(k);
    EXPECT_EQ(ov[k], expected) << k;
    EXPECT_EQ(bv[2 * k + 1], expected) << k;
    EXPECT_EQ(bv[2 * k], -1.0f) << k;
  }
}

TEST(CodegenTest, VectorIntrinsicsSelectsAndBoolVectors) {
  const int lanes = 4;
  Buffer a = make_buffer("a", kF32, {8});
  Buffer out = make_buffer("out", kF32, {8});
  Buffer flags = make_buffer("flags", bool_type(), {8});
  Var i_var = make_var("i");
  PrimExpr i(i_var);
  PrimExpr index = ramp(PrimExpr(i) * lanes, 1, lanes);
  PrimExpr x = buffer_load(a, {index});
  PrimExpr positive = x > broadcast(float_imm(0.0), lanes);
  Stmt body = make_for(i_var, 0, 2, ForKind::kSerial,
                       make_seq({make_store(flags, positive, {index}),
                                 make_store(out,
                                            select(buffer_load(flags, {index}),
                                                   intrinsic("tanh", {x}), intrinsic("exp", {x})),
                                            {index})}));
  auto kernel = jit(PrimFunc{"vector_math", {a, out, flags}, body});
  AlignedVector<float> av(8), ov(8);
  AlignedVector<uint8_t> fv(8, 9);
  for (int k = 0; k < 8; ++k) av[k] = static_cast<float>(k) - 3.5f;
  ASSERT_EQ(kernel(av.data(), ov.data(), fv.data()), 0);
  for (int k = 0; k < 8; ++k) {
    EXPECT_EQ(fv[k], av[k] > 0 ? 1 : 0);
    float expected = av[k] > 0 ? std::tanh(av[k]) : std::exp(av[k]);
    EXPECT_NEAR(ov[k], expected, 2e-7f * std::fabs(expected)) << k;
  }
}

TEST(CodegenTest, Float16AndBFloat16BuffersRoundAfterEachOperation) {
  for (DType dtype : {DType::kFloat16, DType::kBFloat16}) {
    const int64_t n = 16;
    DataType element{dtype, 1};
    Buffer a = make_buffer("a", element, {n});
    Buffer b = make_buffer("b", element, {n});
    Buffer c = make_buffer("c", element, {n});
    Var i_var = make_var("i");
    PrimExpr i(i_var);
    PrimExpr x = buffer_load(a, {i});
    PrimExpr y = buffer_load(b, {i});
    Stmt scalar = make_store(c, x * y + intrinsic("sqrt", {x}), {i});
    Stmt body = make_for(i_var, 0, n / 2, ForKind::kSerial, scalar);
    // The second half with 8-lane vectors.
    Var v_var = make_var("v");
    PrimExpr v(v_var);
    PrimExpr index = ramp(PrimExpr(v) * 8 + n / 2, 1, 8);
    PrimExpr xv = buffer_load(a, {index});
    PrimExpr yv = buffer_load(b, {index});
    Stmt vector = make_for(v_var, 0, 1, ForKind::kSerial,
                           make_store(c, xv * yv + intrinsic("sqrt", {xv}), {index}));
    auto kernel = jit(PrimFunc{"half", {a, b, c}, make_seq({body, vector})});
    bool is_half = dtype == DType::kFloat16;
    auto encode = [&](float value) {
      return is_half ? float_to_half(value) : float_to_bfloat16(value);
    };
    auto decode = [&](uint16_t bits) {
      return is_half ? half_to_float(bits) : bfloat16_to_float(bits);
    };
    AlignedVector<uint16_t> av(n), bv(n), cv(n);
    for (int64_t k = 0; k < n; ++k) {
      av[k] = encode(0.37f * static_cast<float>(k + 1));
      bv[k] = encode(1.9f - 0.21f * static_cast<float>(k));
    }
    ASSERT_EQ(kernel(av.data(), bv.data(), cv.data()), 0);
    for (int64_t k = 0; k < n; ++k) {
      float product = decode(encode(decode(av[k]) * decode(bv[k])));
      float root = decode(encode(std::sqrt(decode(av[k]))));
      EXPECT_EQ(cv[k], encode(product + root)) << dtype_name(dtype) << " at " << k;
    }
  }
}

TEST(CodegenTest, LocalAllocationOnTheStack) {
  // tmp[j] = a[j] * 2 for a block, then out[j] = tmp[n - 1 - j]: a local scratch buffer.
  const int64_t n = 16;
  Buffer a = make_buffer("a", kI32, {n});
  Buffer out = make_buffer("out", kI32, {n});
  Buffer tmp = make_buffer("tmp", kI32, {n}, BufferScope::kLocal);
  Var j_var = make_var("j");
  PrimExpr j(j_var);
  Var k_var = make_var("k");
  PrimExpr k(k_var);
  Stmt body = make_allocate(
      tmp,
      make_seq(
          {make_for(j_var, 0, n, ForKind::kSerial, make_store(tmp, buffer_load(a, {j}) * 2, {j})),
           make_for(k_var, 0, n, ForKind::kSerial,
                    make_store(out, buffer_load(tmp, {PrimExpr(n - 1) - PrimExpr(k)}), {k}))}));
  // Run it with no runtime table at all: stack allocations need none.
  auto kernel = jit(PrimFunc{"local", {a, out}, body}, nullptr);
  AlignedVector<int32_t> av(n), ov(n);
  std::iota(av.data(), av.data() + n, 1);
  ASSERT_EQ(kernel(av.data(), ov.data()), 0);
  for (int64_t x = 0; x < n; ++x) EXPECT_EQ(ov[x], 2 * (n - x));
}

PrimFunc workspace_kernel(int64_t n) {
  // A global-scope intermediate of n floats: workspace memory, freed after use.
  Buffer a = make_buffer("a", kF32, {n});
  Buffer out = make_buffer("out", kF32, {1});
  Buffer tmp = make_buffer("tmp", kF32, {n});
  Var j_var = make_var("j");
  PrimExpr j(j_var);
  Var k_var = make_var("k");
  PrimExpr k(k_var);
  Stmt body = make_allocate(
      tmp,
      make_seq({make_for(j_var, 0, n, ForKind::kSerial,
                         make_store(tmp, buffer_load(a, {j}) + 1.0f, {j})),
                make_store(out, 0.0f, {0}),
                make_for(k_var, 0, n, ForKind::kSerial,
                         make_store(out, buffer_load(out, {0}) + buffer_load(tmp, {k}), {0}))}));
  return PrimFunc{"workspace", {a, out}, body};
}

TEST(CodegenTest, LargeAllocationUsesTheWorkspaceAndFreesIt) {
  const int64_t n = 100000;
  auto kernel = jit(workspace_kernel(n));
  AlignedVector<float> av(n, 0.5f), ov(1);
  int before = testing::live_workspaces();
  ASSERT_EQ(kernel(av.data(), ov.data()), 0);
  EXPECT_EQ(testing::live_workspaces(), before);
  EXPECT_EQ(ov[0], 1.5f * n);
}

TEST(CodegenTest, WorkspaceFailureAndMissingRuntimeReturnErrors) {
  static const KilnRuntimeApi failing = {
      KILN_RUNTIME_API_VERSION,     testing::serial_launch,  testing::failing_alloc_workspace,
      testing::test_free_workspace, testing::test_set_error, testing::test_index_out_of_range};
  auto kernel = jit(workspace_kernel(100000), &failing);
  AlignedVector<float> av(100000, 0.5f), ov(1);
  EXPECT_EQ(kernel(av.data(), ov.data()), -1);
  auto no_runtime = jit(workspace_kernel(100000), nullptr);
  EXPECT_EQ(no_runtime(av.data(), ov.data()), -2);
}

PrimFunc parallel_kernel(int64_t rows, int64_t cols) {
  // out[r, c] = a[r, c] * scale + offset + (workspace-staged row sum), the row loop parallel,
  // with a captured Let variable, a nested parallel loop (runs serially) and a per-task
  // workspace.
  Buffer a = make_buffer("a", kF32, {rows * cols});
  Buffer out = make_buffer("out", kF32, {rows * cols});
  Buffer row = make_buffer("row", kF32, {20000});  // over the stack limit: workspace per task
  Var r_var = make_var("r");
  PrimExpr r(r_var);
  Var c_var = make_var("c");
  PrimExpr c(c_var);
  Var c2_var = make_var("c2");
  PrimExpr c2(c2_var);
  Var offset_var = make_var("offset", kF32);
  PrimExpr offset(offset_var);
  PrimExpr flat = PrimExpr(r) * cols + PrimExpr(c);
  Stmt body = make_allocate(
      row, make_seq({make_for(c_var, 0, cols, ForKind::kParallel,
                              make_store(row, buffer_load(a, {flat}) * 2.0f, {PrimExpr(c)})),
                     make_for(c2_var, 0, cols, ForKind::kSerial,
                              make_store(out, buffer_load(row, {PrimExpr(c2)}) + PrimExpr(offset),
                                         {PrimExpr(r) * cols + PrimExpr(c2)}))}));
  Stmt outer =
      make_let(offset_var, float_imm(0.25), make_for(r_var, 0, rows, ForKind::kParallel, body));
  return PrimFunc{"parallel", {a, out}, outer};
}

TEST(CodegenTest, ParallelLoopWithSerialAndThreadedRuntimes) {
  const int64_t rows = 37;
  const int64_t cols = 19;
  for (const KilnRuntimeApi* api : {testing::serial_api(), testing::threaded_api()}) {
    auto kernel = jit(parallel_kernel(rows, cols), api);
    AlignedVector<float> av(rows * cols), ov(rows * cols, -1.0f);
    for (int64_t k = 0; k < rows * cols; ++k) av[k] = static_cast<float>(k);
    int before = testing::live_workspaces();
    ASSERT_EQ(kernel(av.data(), ov.data()), 0);
    EXPECT_EQ(testing::live_workspaces(), before);
    for (int64_t k = 0; k < rows * cols; ++k) ASSERT_EQ(ov[k], av[k] * 2.0f + 0.25f) << k;
  }
}

TEST(CodegenTest, ParallelTaskErrorsPropagate) {
  static const KilnRuntimeApi failing = {
      KILN_RUNTIME_API_VERSION,     testing::threaded_launch, testing::failing_alloc_workspace,
      testing::test_free_workspace, testing::test_set_error,  testing::test_index_out_of_range};
  auto kernel = jit(parallel_kernel(8, 4), &failing);
  AlignedVector<float> av(32), ov(32);
  EXPECT_EQ(kernel(av.data(), ov.data()), -1);
  auto no_runtime = jit(parallel_kernel(8, 4), nullptr);
  EXPECT_EQ(no_runtime(av.data(), ov.data()), -2);
}

}  // namespace
}  // namespace kiln::codegen
