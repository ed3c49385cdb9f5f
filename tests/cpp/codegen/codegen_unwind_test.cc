// Error exits of kernels holding several workspaces: one shared unwind chain frees exactly the
// workspaces allocated so far, innermost first, whichever allocation fails.
#include <atomic>

#include "codegen_test_util.h"

namespace kiln::codegen {
namespace {

using namespace kiln::tir;  // NOLINT: the IR reads better unqualified in tests
using testing::AlignedVector;
using testing::jit;

constexpr DataType kF32{DType::kFloat32, 1};

// The allocator succeeds `budget` times, then fails.
std::atomic<int> allocation_budget{0};
void* budgeted_alloc(uint64_t nbytes) {
  if (allocation_budget.fetch_sub(1) <= 0) return nullptr;
  return testing::test_alloc_workspace(nbytes);
}

// `depth` nested workspaces (each over the stack limit), then out[0] = sum of their first
// elements after each is filled with a[0]; a second, sibling group after the first.
PrimFunc nested_workspaces(int depth) {
  const int64_t n = 20000;
  Buffer a = make_buffer("a", kF32, {1});
  Buffer out = make_buffer("out", kF32, {1});
  std::vector<Buffer> spaces;
  for (int k = 0; k < depth; ++k) spaces.push_back(make_buffer("w" + std::to_string(k), kF32, {n}));
  PrimExpr total = float_imm(0);
  std::vector<Stmt> fills;
  for (const Buffer& space : spaces) {
    Var i = make_var("i");
    fills.push_back(make_for(i, 0, n, ForKind::kSerial,
                             make_store(space, buffer_load(a, {PrimExpr(0)}), {PrimExpr(i)})));
    total = total + buffer_load(space, {PrimExpr(0)});
  }
  fills.push_back(make_store(out, total, {PrimExpr(0)}));
  Stmt body = make_seq(fills);
  for (int k = depth - 1; k >= 0; --k) body = make_allocate(spaces[static_cast<size_t>(k)], body);
  Buffer sibling = make_buffer("sibling", kF32, {n});
  Var j = make_var("j");
  Stmt second = make_allocate(sibling, make_for(j, 0, n, ForKind::kSerial,
                                                make_store(sibling, float_imm(1), {PrimExpr(j)})));
  return PrimFunc{"nested", {a, out}, make_seq({body, second})};
}

TEST(CodegenUnwindTest, EveryFailingAllocationFreesTheOuterOnes) {
  static const KilnRuntimeApi api = {KILN_RUNTIME_API_VERSION, testing::serial_launch,
                                     budgeted_alloc, testing::test_free_workspace};
  const int depth = 5;
  auto kernel = jit(nested_workspaces(depth), &api);
  AlignedVector<float> a(1, 2.0f), out(1);
  for (int budget = 0; budget <= depth + 1; ++budget) {
    allocation_budget = budget;
    int before = testing::live_workspaces();
    int32_t result = kernel(a.data(), out.data());
    EXPECT_EQ(testing::live_workspaces(), before) << "budget " << budget;
    if (budget <= depth) {
      EXPECT_EQ(result, -1) << "budget " << budget;
    } else {
      EXPECT_EQ(result, 0);
      EXPECT_EQ(out[0], 2.0f * depth);
    }
  }
}

}  // namespace
}  // namespace kiln::codegen
