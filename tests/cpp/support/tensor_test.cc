#include "kiln/tensor.h"

#include <gtest/gtest.h>

#include <cmath>
#include <cstdint>

#include "kiln/error.h"

namespace kiln {
namespace {

TEST(TensorTest, StorageIsAlignedAndZeroed) {
  Tensor tensor(DType::kFloat32, {3, 5});
  EXPECT_EQ(reinterpret_cast<uintptr_t>(tensor.data()) % Tensor::kAlignment, 0u);
  EXPECT_EQ(tensor.numel(), 15);
  EXPECT_EQ(tensor.nbytes(), 60u);
  for (int64_t i = 0; i < tensor.numel(); ++i) EXPECT_EQ(tensor.element_as_double(i), 0.0);
}

TEST(TensorTest, HalfConversionRoundsToNearestEvenAndKeepsSpecials) {
  EXPECT_EQ(float_to_half(1.0f), 0x3c00);
  EXPECT_EQ(float_to_half(-2.0f), 0xc000);
  EXPECT_EQ(float_to_half(65504.0f), 0x7bff);
  EXPECT_EQ(float_to_half(1e6f), 0x7c00);                    // overflow -> inf
  EXPECT_EQ(float_to_half(5.960464477539063e-08f), 0x0001);  // smallest subnormal
  EXPECT_EQ(float_to_half(1.0f + 1.0f / 2048), 0x3c00);      // tie -> even
  EXPECT_EQ(float_to_half(1.0f + 3.0f / 2048), 0x3c02);      // tie -> even (up)
  EXPECT_TRUE(std::isnan(half_to_float(float_to_half(NAN))));
  for (uint32_t bits = 0; bits < 0x7c00; bits += 7) {
    EXPECT_EQ(float_to_half(half_to_float(static_cast<uint16_t>(bits))), bits);
  }
}

TEST(TensorTest, BFloat16RoundTrips) {
  EXPECT_EQ(bfloat16_to_float(float_to_bfloat16(1.5f)), 1.5f);
  EXPECT_EQ(float_to_bfloat16(1.0f + 1.0f / 256), float_to_bfloat16(1.0f));  // tie -> even
  EXPECT_TRUE(std::isnan(bfloat16_to_float(float_to_bfloat16(NAN))));
}

TEST(TensorTest, ElementConversions) {
  Tensor ints = Tensor::from_int64s({-3, 7, 1LL << 40});
  EXPECT_EQ(ints.to_int64s(), (std::vector<int64_t>{-3, 7, 1LL << 40}));
  Tensor bools(DType::kBool, {2});
  bools.set_element_from_double(0, 0.25);
  EXPECT_EQ(bools.element_as_int64(0), 1);
  EXPECT_EQ(bools.element_as_int64(1), 0);
  Tensor small(DType::kInt8, {1});
  small.set_element_from_int64(0, 300);
  EXPECT_EQ(small.element_as_int64(0), static_cast<int8_t>(300));
}

TEST(TensorTest, ReshapedSharesStorageAndIdenticalComparesBytes) {
  Tensor a = Tensor::from_float32s({1, 2, 3, 4}, {2, 2});
  Tensor b = a.reshaped({4});
  EXPECT_EQ(a.data(), b.data());
  EXPECT_FALSE(a.identical(b));  // shapes differ
  EXPECT_TRUE(b.identical(Tensor::from_float32s({1, 2, 3, 4}, {4})));
  EXPECT_THROW(a.reshaped({3}), InternalError);
}

TEST(TensorTest, AbsurdShapesAreUserErrors) {
  EXPECT_THROW(Tensor(DType::kFloat32, {-1}), Error);
  EXPECT_THROW(Tensor(DType::kFloat32, {1LL << 30, 1LL << 30}), Error);
}

}  // namespace
}  // namespace kiln
