#include "tir/remove_no_op.h"

#include <gtest/gtest.h>

#include "tir/functor.h"
#include "tir/printer.h"

namespace kiln::tir {
namespace {

const DataType kF32{DType::kFloat32, 1};

TEST(TirRemoveNoOp, RemovesEmptyWorkAndTrivialLoops) {
  Buffer a = make_buffer("a", kF32, {8});
  Var iv = make_var("i"), jv = make_var("j");
  PrimExpr i(iv), j(jv);
  Stmt body = make_seq({
      make_for(iv, 0, 0, ForKind::kSerial, make_store(a, 1.0f, {i})),
      make_for(jv, 3, 1, ForKind::kParallel, make_store(a, 2.0f, {j})),
      make_if(j < 2, make_no_op(), make_store(a, 3.0f, {j})),
      make_let(make_var("t"), i, make_no_op()),
      std::make_shared<const EvaluateNode>(int_imm(0)),
  });
  EXPECT_EQ(to_text(remove_no_op(body)),
            "a[3] = 2f\n"
            "if (!(j < 2)) {\n"
            "  a[j] = 3f\n"
            "}\n");
  EXPECT_TRUE(is_no_op(remove_no_op(make_for(iv, 0, 4, ForKind::kSerial, make_no_op()))));
}

}  // namespace
}  // namespace kiln::tir
