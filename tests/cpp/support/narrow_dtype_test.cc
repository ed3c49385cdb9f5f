// The narrow element types' scalar conversions (src/support/tensor.cc) against ml_dtypes: every
// byte pattern decoded, and rounding probes (midpoints, their neighbours, overflow, NaN, inf)
// encoded, from tables that gen_narrow_float_tables.py writes. float8e8m0's encoding follows
// ONNX's reference (onnx.numpy_helper.to_float8e8m0), checked here on hand-derived cases.
#include <gtest/gtest.h>

#include <cmath>
#include <cstring>
#include <utility>
#include <vector>

#include "kiln/tensor.h"
#include "support/subbyte_cast.h"

namespace kiln {
namespace {

struct NarrowTable {
  DType dtype;
  std::vector<uint32_t> decoded;                     // float32 bits of bytes 0..255
  std::vector<std::pair<uint32_t, uint8_t>> probes;  // float32 bits -> encoded byte
};

const std::vector<NarrowTable>& tables() {
  static const std::vector<NarrowTable> kTables = {
#include "narrow_float_tables.inc"
  };
  return kTables;
}

float from_bits(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof(value));
  return value;
}

TEST(NarrowDType, NamesSizesAndKinds) {
  for (DType dtype : {DType::kFloat8E4M3FN, DType::kFloat8E4M3FNUZ, DType::kFloat8E5M2,
                      DType::kFloat8E5M2FNUZ, DType::kFloat8E8M0, DType::kFloat4E2M1}) {
    EXPECT_EQ(dtype_size(dtype), 1u);
    EXPECT_TRUE(dtype_is_float(dtype));
    EXPECT_TRUE(dtype_is_narrow(dtype));
    EXPECT_EQ(dtype_from_name(dtype_name(dtype)), dtype);
  }
  for (DType dtype : {DType::kInt4, DType::kUInt4, DType::kInt2, DType::kUInt2}) {
    EXPECT_EQ(dtype_size(dtype), 1u);
    EXPECT_TRUE(dtype_is_integer(dtype));
    EXPECT_EQ(dtype_from_name(dtype_name(dtype)), dtype);
  }
  EXPECT_FALSE(dtype_is_narrow(DType::kBool));
  EXPECT_TRUE(dtype_is_signed(DType::kInt4));
  EXPECT_FALSE(dtype_is_signed(DType::kUInt2));
  EXPECT_EQ(narrow_float_max(DType::kFloat8E4M3FN), 448.0f);
  EXPECT_EQ(narrow_float_max(DType::kFloat8E4M3FNUZ), 240.0f);
  EXPECT_EQ(narrow_float_max(DType::kFloat8E5M2), 57344.0f);
  EXPECT_EQ(narrow_float_max(DType::kFloat4E2M1), 6.0f);
}

TEST(NarrowDType, EveryBitPatternDecodesLikeMlDtypes) {
  ASSERT_EQ(tables().size(), 6u);
  for (const NarrowTable& table : tables()) {
    ASSERT_EQ(table.decoded.size(), 256u);
    for (int bits = 0; bits < 256; ++bits) {
      float expected = from_bits(table.decoded[bits]);
      float actual = narrow_float_to_float(table.dtype, static_cast<uint8_t>(bits));
      if (std::isnan(expected)) {
        EXPECT_TRUE(std::isnan(actual)) << dtype_name(table.dtype) << " byte " << bits;
      } else {
        EXPECT_EQ(actual, expected) << dtype_name(table.dtype) << " byte " << bits;
      }
    }
  }
}

TEST(NarrowDType, RoundingProbesEncodeLikeMlDtypes) {
  for (const NarrowTable& table : tables()) {
    if (table.dtype == DType::kFloat8E8M0) continue;
    EXPECT_GT(table.probes.size(), 20u) << dtype_name(table.dtype);
    for (auto [bits, expected] : table.probes) {
      EXPECT_EQ(float_to_narrow_float(table.dtype, from_bits(bits)), expected)
          << dtype_name(table.dtype) << " of " << from_bits(bits) << " (0x" << std::hex << bits
          << ")";
    }
  }
}

TEST(NarrowDType, EveryFiniteValueRoundTrips) {
  for (const NarrowTable& table : tables()) {
    if (table.dtype == DType::kFloat8E8M0) continue;
    for (int bits = 0; bits < (table.dtype == DType::kFloat4E2M1 ? 16 : 256); ++bits) {
      float value = narrow_float_to_float(table.dtype, static_cast<uint8_t>(bits));
      if (std::isnan(value)) continue;
      EXPECT_EQ(narrow_float_to_float(table.dtype, float_to_narrow_float(table.dtype, value)),
                value)
          << dtype_name(table.dtype) << " byte " << bits;
    }
  }
}

TEST(NarrowDType, E8M0FollowsOnnxRoundingModes) {
  using R = E8M0Rounding;
  EXPECT_EQ(float_to_e8m0(1.0f, true, R::kUp), 127);
  EXPECT_EQ(float_to_e8m0(1.5f, true, R::kUp), 128);
  EXPECT_EQ(float_to_e8m0(1.5f, true, R::kDown), 127);
  EXPECT_EQ(float_to_e8m0(1.5f, true, R::kNearest), 128);   // guard bit set, exponent > 0
  EXPECT_EQ(float_to_e8m0(1.25f, true, R::kNearest), 127);  // guard bit clear
  EXPECT_EQ(float_to_e8m0(-4.0f, true, R::kUp), 129);       // the sign is ignored
  EXPECT_EQ(float_to_e8m0(0.0f, true, R::kUp), 0);
  EXPECT_EQ(float_to_e8m0(std::nanf(""), true, R::kUp), 0xff);
  EXPECT_EQ(float_to_e8m0(INFINITY, true, R::kUp), 0xff);
  float big = std::ldexp(1.5f, 127);
  EXPECT_EQ(float_to_e8m0(big, true, R::kUp), 0xfe);   // saturates at the largest value
  EXPECT_EQ(float_to_e8m0(big, false, R::kUp), 0xff);  // else overflows to NaN
  EXPECT_EQ(float_to_narrow_float(DType::kFloat8E8M0, 3.0f), 129);  // the default: up
}

TEST(NarrowDType, SubByteIntegersWrapAndSignExtend) {
  EXPECT_EQ(int_to_subbyte(DType::kInt4, -3), 0x0d);  // ml_dtypes keeps the low nibble
  EXPECT_EQ(subbyte_to_int(DType::kInt4, 0x0d), -3);
  EXPECT_EQ(subbyte_to_int(DType::kInt4, int_to_subbyte(DType::kInt4, 9)), -7);
  EXPECT_EQ(subbyte_to_int(DType::kUInt4, int_to_subbyte(DType::kUInt4, 300)), 12);
  EXPECT_EQ(subbyte_to_int(DType::kInt2, int_to_subbyte(DType::kInt2, 3)), -1);
  EXPECT_EQ(subbyte_to_int(DType::kUInt2, int_to_subbyte(DType::kUInt2, -1)), 3);
  Tensor tensor(DType::kInt4, {3});
  tensor.set_element_from_int64(0, 7);
  tensor.set_element_from_int64(1, 8);
  tensor.set_element_from_double(2, -9.5);  // rounds to -10 (ties to even), which wraps to 6
  EXPECT_EQ(tensor.to_int64s(), (std::vector<int64_t>{7, -8, 6}));
  EXPECT_EQ(tensor.data_as<uint8_t>()[1], 0x08);
}

// Expected values follow the ONNX rule for casts to 4-/2-bit integers (onnx docs/technical/int4.md
// and int2.md): round to the nearest integer, ties to even, then keep the low bits.
TEST(NarrowDType, FloatsRoundToNearestEvenThenWrapToSubByteIntegers) {
  auto cast = [](DType dtype, double value) {
    return subbyte_to_int(dtype, float_to_subbyte(dtype, value));
  };
  EXPECT_EQ(cast(DType::kInt4, 2.5), 2);
  EXPECT_EQ(cast(DType::kInt4, 3.5), 4);
  EXPECT_EQ(cast(DType::kInt4, -2.5), -2);
  EXPECT_EQ(cast(DType::kInt4, 2.7), 3);
  EXPECT_EQ(cast(DType::kInt4, -2.7), -3);
  EXPECT_EQ(cast(DType::kInt4, 7.5), -8);  // 8 wraps
  EXPECT_EQ(cast(DType::kInt4, -9.0), 7);
  EXPECT_EQ(cast(DType::kUInt4, -1.0), 15);
  EXPECT_EQ(cast(DType::kUInt4, 17.2), 1);
  EXPECT_EQ(cast(DType::kInt2, 2.0), -2);
  EXPECT_EQ(cast(DType::kUInt2, 5.5), 2);  // 6 wraps
  EXPECT_EQ(cast(DType::kInt4, 1e10), 0);  // 1e10 = 2^10 * 5^10
  EXPECT_EQ(cast(DType::kInt4, 1e30), 0);  // beyond int64: a multiple of 16
  EXPECT_EQ(cast(DType::kUInt4, -1e30), 0);
  // Undefined by ONNX; Kiln's choice is 0 (as onnxruntime gives).
  EXPECT_EQ(cast(DType::kInt4, std::nan("")), 0);
  EXPECT_EQ(cast(DType::kInt4, INFINITY), 0);
  EXPECT_EQ(cast(DType::kUInt2, -INFINITY), 0);
}

TEST(NarrowDType, TensorElementsConvertThroughTheTypes) {
  Tensor tensor(DType::kFloat8E5M2, {2});
  tensor.set_element_from_double(0, 1.75);
  tensor.set_element_from_double(1, 1e9);  // no saturation: inf
  EXPECT_EQ(tensor.element_as_double(0), 1.75);
  EXPECT_TRUE(std::isinf(tensor.element_as_double(1)));
}

}  // namespace
}  // namespace kiln
