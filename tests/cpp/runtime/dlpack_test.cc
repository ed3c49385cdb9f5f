#include "runtime/dlpack.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <vector>

#include "kiln/error.h"
#include "runtime_test_util.h"

namespace kiln::runtime {
namespace {

// A producer's tensor over caller-provided memory, recording when its deleter runs.
struct Foreign {
  DLManagedTensor managed{};
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;
  bool* deleted;
};

DLManagedTensor* make_foreign(void* data, std::vector<int64_t> shape, std::vector<int64_t> strides,
                              DLDataType dtype, bool* deleted, DLDeviceType device = kDLCPU) {
  auto* foreign = new Foreign;
  foreign->shape = std::move(shape);
  foreign->strides = std::move(strides);
  foreign->deleted = deleted;
  DLTensor& t = foreign->managed.dl_tensor;
  t.data = data;
  t.device = {device, 0};
  t.ndim = static_cast<int>(foreign->shape.size());
  t.dtype = dtype;
  t.shape = foreign->shape.data();
  t.strides = foreign->strides.empty() ? nullptr : foreign->strides.data();
  t.byte_offset = 0;
  foreign->managed.manager_ctx = foreign;
  foreign->managed.deleter = [](DLManagedTensor* self) {
    auto* owner = static_cast<Foreign*>(self->manager_ctx);
    *owner->deleted = true;
    delete owner;
  };
  return &foreign->managed;
}

constexpr DLDataType kFloat32 = {kDLFloat, 32, 1};

TEST(DLPackTest, DTypesMapBothWays) {
  for (DType dtype : {DType::kFloat32, DType::kFloat16, DType::kBFloat16, DType::kFloat64,
                      DType::kInt8, DType::kInt16, DType::kInt32, DType::kInt64, DType::kUInt8,
                      DType::kUInt16, DType::kUInt32, DType::kUInt64, DType::kBool}) {
    EXPECT_EQ(from_dlpack_dtype(to_dlpack_dtype(dtype)), dtype) << dtype_name(dtype);
  }
  EXPECT_EQ(to_dlpack_dtype(DType::kBFloat16).code, kDLBfloat);
  EXPECT_FALSE(from_dlpack_dtype({kDLComplex, 64, 1}).has_value());
  EXPECT_FALSE(from_dlpack_dtype({kDLFloat, 32, 4}).has_value());
}

TEST(DLPackTest, ExportSharesStorageAndKeepsItAlive) {
  DLManagedTensor* managed = nullptr;
  const void* original = nullptr;
  {
    Tensor tensor = Tensor::from_float32s({1, 2, 3, 4, 5, 6}, {2, 3});
    original = tensor.data();
    managed = to_dlpack(tensor);
  }  // the only Tensor is gone; the export still owns the storage
  const DLTensor& t = managed->dl_tensor;
  EXPECT_EQ(t.data, original);
  EXPECT_EQ(t.device.device_type, kDLCPU);
  EXPECT_EQ(t.ndim, 2);
  EXPECT_EQ(t.shape[0], 2);
  EXPECT_EQ(t.shape[1], 3);
  EXPECT_EQ(t.strides[0], 3);
  EXPECT_EQ(t.strides[1], 1);
  EXPECT_EQ(t.dtype.code, kDLFloat);
  EXPECT_EQ(t.dtype.bits, 32);
  EXPECT_EQ(static_cast<const float*>(t.data)[5], 6.0f);
  managed->deleter(managed);
}

TEST(DLPackTest, RoundTripIsZeroCopy) {
  Tensor tensor = Tensor::from_float32s({1, -2, 3}, {3});
  Tensor back = from_dlpack(to_dlpack(tensor));
  EXPECT_EQ(back.data(), tensor.data());
  EXPECT_TRUE(back.identical(tensor));
  Tensor scalar = Tensor::from_int64s({7}, /*scalar=*/true);
  Tensor scalar_back = from_dlpack(to_dlpack(scalar));
  EXPECT_EQ(scalar_back.ndim(), 0);
  EXPECT_EQ(scalar_back.element_as_int64(0), 7);
}

TEST(DLPackTest, AlignedCompactImportBorrowsUntilTheLastTensorIsGone) {
  auto* buffer = static_cast<float*>(std::aligned_alloc(64, 64));
  for (int i = 0; i < 6; ++i) buffer[i] = static_cast<float>(i);
  bool deleted = false;
  {
    Tensor imported = from_dlpack(make_foreign(buffer, {3, 2}, {}, kFloat32, &deleted));
    EXPECT_EQ(imported.data(), buffer);
    EXPECT_EQ(imported.shape(), (std::vector<int64_t>{3, 2}));
    Tensor copy = imported;  // shares, as Tensors do
    EXPECT_FALSE(deleted);
  }
  EXPECT_TRUE(deleted);
  std::free(buffer);
}

TEST(DLPackTest, StridedOrMisalignedImportsAreCopied) {
  alignas(64) float buffer[16] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
  bool deleted = false;
  // The transpose of a 2x3 row-major array: shape [3, 2], strides [1, 3].
  Tensor transposed = from_dlpack(make_foreign(buffer, {3, 2}, {1, 3}, kFloat32, &deleted));
  EXPECT_TRUE(deleted);  // copied: the producer is released at once
  EXPECT_NE(transposed.data(), static_cast<const void*>(buffer));
  std::vector<float> values(transposed.data_as<float>(), transposed.data_as<float>() + 6);
  EXPECT_EQ(values, (std::vector<float>{0, 3, 1, 4, 2, 5}));

  deleted = false;
  Tensor misaligned = from_dlpack(make_foreign(buffer + 1, {4}, {1}, kFloat32, &deleted));
  EXPECT_TRUE(deleted);
  EXPECT_EQ(reinterpret_cast<uintptr_t>(misaligned.data()) % Tensor::kAlignment, 0u);
  EXPECT_EQ(misaligned.data_as<float>()[0], 1.0f);
  EXPECT_EQ(misaligned.data_as<float>()[3], 4.0f);

  // Every other row of a 4x2 array, and a dimension of size 1 whose stride means nothing.
  deleted = false;
  Tensor rows = from_dlpack(make_foreign(buffer, {2, 1, 2}, {4, 999, 1}, kFloat32, &deleted));
  std::vector<float> row_values(rows.data_as<float>(), rows.data_as<float>() + 4);
  EXPECT_EQ(row_values, (std::vector<float>{0, 1, 4, 5}));
}

TEST(DLPackTest, UnsupportedTensorsAreRefusedAndReleased) {
  alignas(64) float buffer[4] = {};
  bool deleted = false;
  EXPECT_KILN_ERROR(from_dlpack(make_foreign(buffer, {4}, {}, kFloat32, &deleted, kDLCUDA)),
                    "Kiln's runtime reads CPU tensors only");
  EXPECT_TRUE(deleted);
  deleted = false;
  EXPECT_KILN_ERROR(from_dlpack(make_foreign(buffer, {2}, {}, {kDLComplex, 64, 1}, &deleted)),
                    "DLPack data type (code 5, 64 bits, 1 lanes) has no Kiln equivalent");
  EXPECT_TRUE(deleted);
  deleted = false;
  Tensor empty = from_dlpack(make_foreign(nullptr, {0, 3}, {}, kFloat32, &deleted));
  EXPECT_TRUE(deleted);
  EXPECT_EQ(empty.numel(), 0);
}

}  // namespace
}  // namespace kiln::runtime
