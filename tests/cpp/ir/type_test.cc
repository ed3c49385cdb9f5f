#include <gtest/gtest.h>

#include "ir/type.h"
#include "kiln/error.h"

namespace kiln::ir {
namespace {

TEST(TypeTest, TensorTypePrintsDtypeAndShape) {
  TensorType type = tensor_type(DType::kFloat32, {1, 3, 224, 224});
  EXPECT_EQ(type.to_string(), "float32[1, 3, 224, 224]");
  EXPECT_TRUE(type.is_static());
  EXPECT_EQ(type.numel(), 1 * 3 * 224 * 224);
}

TEST(TypeTest, SymbolicDimsAreNotStatic) {
  TensorType type;
  type.dtype = DType::kInt64;
  type.shape = {Dim::symbol("batch"), 128};
  EXPECT_EQ(type.to_string(), "int64[batch, 128]");
  EXPECT_FALSE(type.is_static());
  EXPECT_EQ(type.numel(), -1);
  EXPECT_THROW(type.static_shape(), InternalError);
}

TEST(TypeTest, TupleTypesCompareByFields) {
  Type a = Type::tuple({tensor_type(DType::kFloat32, {2}), tensor_type(DType::kInt64, {2})});
  Type b = Type::tuple({tensor_type(DType::kFloat32, {2}), tensor_type(DType::kInt64, {2})});
  Type c = Type::tuple({tensor_type(DType::kFloat32, {2})});
  EXPECT_EQ(a, b);
  EXPECT_NE(a, c);
  EXPECT_EQ(a.to_string(), "(float32[2], int64[2])");
  EXPECT_THROW(a.as_tensor(), InternalError);
}

}  // namespace
}  // namespace kiln::ir
