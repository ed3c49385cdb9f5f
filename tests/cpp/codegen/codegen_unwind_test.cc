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
// elements after each is filled with a[0]; a second, sibling workspace after them. With
// `separate`, each workspace's scope fills it before opening the next (so each is its own
// allocation); otherwise the allocations nest directly and share one block.
PrimFunc nested_workspaces(int depth, bool separate) {
  const int64_t n = 20000;
  Buffer a = make_buffer("a", kF32, {1});
  Buffer out = make_buffer("out", kF32, {1});
  std::vector<Buffer> spaces;
  for (int k = 0; k < depth; ++k) {
    spaces.push_back(make_buffer("w" + std::to_string(k), kF32, {n}));
  }
  auto fill = [&](const Buffer& space) {
    Var i = make_var("i");
    return make_for(i, 0, n, ForKind::kSerial,
                    make_store(space, buffer_load(a, {PrimExpr(0)}), {PrimExpr(i)}));
  };
  PrimExpr total = float_imm(0);
  for (const Buffer& space : spaces) total = total + buffer_load(space, {PrimExpr(0)});
  std::vector<Stmt> innermost;
  if (!separate) {
    for (const Buffer& space : spaces) innermost.push_back(fill(space));
  }
  innermost.push_back(make_store(out, total, {PrimExpr(0)}));
  Stmt body = make_seq(innermost);
  for (int k = depth - 1; k >= 0; --k) {
    const Buffer& space = spaces[static_cast<size_t>(k)];
    body = make_allocate(space, separate ? make_seq({fill(space), body}) : body);
  }
  Buffer sibling = make_buffer("sibling", kF32, {n});
  Var j = make_var("j");
  Stmt second = make_allocate(sibling, make_for(j, 0, n, ForKind::kSerial,
                                                make_store(sibling, float_imm(1), {PrimExpr(j)})));
  return PrimFunc{"nested", {a, out}, make_seq({body, second})};
}

const KilnRuntimeApi* budgeted_api() {
  static const KilnRuntimeApi api = {KILN_RUNTIME_API_VERSION, testing::serial_launch,
                                     budgeted_alloc,           testing::test_free_workspace,
                                     testing::test_set_error,  testing::test_index_out_of_range};
  return &api;
}

TEST(CodegenUnwindTest, EveryFailingAllocationFreesTheOuterOnes) {
  const int depth = 5;
  auto kernel = jit(nested_workspaces(depth, true), budgeted_api());
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

TEST(CodegenUnwindTest, DirectlyNestedWorkspacesShareOneAllocation) {
  auto kernel = jit(nested_workspaces(5, false), budgeted_api());
  AlignedVector<float> a(1, 3.0f), out(1);
  allocation_budget = 2;  // the shared block and the sibling
  ASSERT_EQ(kernel(a.data(), out.data()), 0);
  EXPECT_EQ(out[0], 15.0f);
  allocation_budget = 1;
  int before = testing::live_workspaces();
  EXPECT_EQ(kernel(a.data(), out.data()), -1);
  EXPECT_EQ(testing::live_workspaces(), before);
}

}  // namespace
}  // namespace kiln::codegen
