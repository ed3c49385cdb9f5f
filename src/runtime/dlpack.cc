#include "runtime/dlpack.h"

#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "kiln/error.h"

namespace kiln::runtime {

namespace {

// kDLBool appeared in DLPack 0.8; Debian's header may be older.
constexpr uint8_t kDLBoolCode = 6;
constexpr int kMaxRank = 64;

struct ExportContext {
  DLManagedTensor managed{};
  Tensor tensor;  // shares, and so keeps alive, the exported storage
  std::vector<int64_t> shape;
  std::vector<int64_t> strides;
};

void delete_export(DLManagedTensor* self) { delete static_cast<ExportContext*>(self->manager_ctx); }

// Calls the producer's deleter when the import is done with `managed`, unless ownership moved on.
class ManagedGuard {
 public:
  explicit ManagedGuard(DLManagedTensor* managed) : managed_(managed) {}
  ~ManagedGuard() {
    if (managed_ != nullptr && managed_->deleter != nullptr) managed_->deleter(managed_);
  }
  ManagedGuard(const ManagedGuard&) = delete;
  ManagedGuard& operator=(const ManagedGuard&) = delete;
  DLManagedTensor* release() {
    DLManagedTensor* managed = managed_;
    managed_ = nullptr;
    return managed;
  }

 private:
  DLManagedTensor* managed_;
};

std::string describe(DLDataType dtype) {
  return "(code " + std::to_string(dtype.code) + ", " + std::to_string(dtype.bits) + " bits, " +
         std::to_string(dtype.lanes) + " lanes)";
}

// Copies a strided array into a compact one, one innermost row at a time.
void copy_strided(const std::byte* source, const std::vector<int64_t>& shape,
                  const std::vector<int64_t>& strides, size_t element_size, std::byte* target) {
  size_t rank = shape.size();
  if (rank == 0) {
    std::memcpy(target, source, element_size);
    return;
  }
  std::vector<int64_t> index(rank, 0);
  int64_t inner = shape[rank - 1];
  int64_t inner_stride = strides[rank - 1] * static_cast<int64_t>(element_size);
  for (;;) {
    const std::byte* row = source;
    for (size_t d = 0; d + 1 < rank; ++d) {
      row += index[d] * strides[d] * static_cast<int64_t>(element_size);
    }
    if (inner_stride == static_cast<int64_t>(element_size)) {
      std::memcpy(target, row, static_cast<size_t>(inner) * element_size);
      target += static_cast<size_t>(inner) * element_size;
    } else {
      for (int64_t i = 0; i < inner; ++i, target += element_size) {
        std::memcpy(target, row + i * inner_stride, element_size);
      }
    }
    // Next row: odometer over the outer dimensions.
    size_t d = rank - 1;
    for (;;) {
      if (d == 0) return;
      --d;
      if (++index[d] < shape[d]) break;
      index[d] = 0;
    }
  }
}

}  // namespace

DLDataType to_dlpack_dtype(DType dtype) {
  auto bits = static_cast<uint8_t>(dtype_size(dtype) * 8);
  switch (dtype) {
    case DType::kFloat32:
    case DType::kFloat16:
    case DType::kFloat64:
      return {kDLFloat, bits, 1};
    case DType::kBFloat16:
      return {kDLBfloat, bits, 1};
    case DType::kInt8:
    case DType::kInt16:
    case DType::kInt32:
    case DType::kInt64:
      return {kDLInt, bits, 1};
    case DType::kUInt8:
    case DType::kUInt16:
    case DType::kUInt32:
    case DType::kUInt64:
      return {kDLUInt, bits, 1};
    case DType::kBool:
      return {kDLBoolCode, 8, 1};
    default:
      break;
  }
  // The narrow types have no DLPack code every consumer knows: they cross as their bytes.
  if (dtype_is_narrow(dtype)) return {kDLUInt, 8, 1};
  KILN_CHECK(false) << "unknown dtype";
  return {};
}

std::optional<DType> from_dlpack_dtype(DLDataType dtype) {
  if (dtype.lanes != 1) return std::nullopt;
  for (DType candidate : {DType::kFloat32, DType::kFloat16, DType::kBFloat16, DType::kFloat64,
                          DType::kInt8, DType::kInt16, DType::kInt32, DType::kInt64, DType::kUInt8,
                          DType::kUInt16, DType::kUInt32, DType::kUInt64, DType::kBool}) {
    DLDataType known = to_dlpack_dtype(candidate);
    if (known.code == dtype.code && known.bits == dtype.bits) return candidate;
  }
  return std::nullopt;
}

DLManagedTensor* to_dlpack(const Tensor& tensor) {
  KILN_CHECK(tensor.defined()) << "exporting an empty tensor";
  auto context = std::make_unique<ExportContext>();
  context->tensor = tensor;
  context->shape = tensor.shape();
  context->strides.resize(context->shape.size());
  int64_t stride = 1;
  for (size_t d = context->shape.size(); d-- > 0;) {
    context->strides[d] = stride;
    stride *= context->shape[d];
  }
  DLTensor& out = context->managed.dl_tensor;
  // DLPack has no const data: consumers get a writable view of an immutable Kiln tensor, as
  // numpy does for the exported arrays of other frameworks.
  out.data = const_cast<void*>(tensor.data());
  out.device = {kDLCPU, 0};
  out.ndim = static_cast<int>(context->shape.size());
  out.dtype = to_dlpack_dtype(tensor.dtype());
  out.shape = context->shape.data();
  out.strides = context->strides.data();
  out.byte_offset = 0;
  context->managed.manager_ctx = context.get();
  context->managed.deleter = delete_export;
  return &context.release()->managed;
}

Tensor from_dlpack(DLManagedTensor* managed) {
  KILN_CHECK(managed != nullptr);
  ManagedGuard guard(managed);
  const DLTensor& source = managed->dl_tensor;
  if (source.device.device_type != kDLCPU) {
    throw Error("cannot use a DLPack tensor on device type " +
                std::to_string(static_cast<int>(source.device.device_type)) +
                ": Kiln's runtime reads CPU tensors only (copy it to the CPU first)");
  }
  auto dtype = from_dlpack_dtype(source.dtype);
  if (!dtype) {
    throw Error("DLPack data type " + describe(source.dtype) + " has no Kiln equivalent");
  }
  if (source.ndim < 0 || source.ndim > kMaxRank || (source.ndim > 0 && source.shape == nullptr)) {
    throw Error("DLPack tensor has an invalid rank " + std::to_string(source.ndim));
  }
  std::vector<int64_t> shape(source.shape, source.shape + source.ndim);
  int64_t numel = 1;
  for (int64_t dim : shape) {
    if (dim < 0) throw Error("DLPack tensor has a negative dimension " + std::to_string(dim));
    if (dim != 0 && numel > (int64_t{1} << 40) / dim) {
      throw Error("DLPack tensor is too large (more than 2^40 elements)");
    }
    numel *= dim;
  }
  if (numel == 0) return Tensor(*dtype, shape);

  // Row-major compact, ignoring the strides of size-1 dimensions (they are arbitrary).
  std::vector<int64_t> strides(shape.size());
  bool compact = true;
  int64_t expected = 1;
  for (size_t d = shape.size(); d-- > 0;) {
    strides[d] = source.strides != nullptr ? source.strides[d] : expected;
    if (shape[d] != 1 && strides[d] != expected) compact = false;
    expected *= shape[d];
  }
  auto* base = static_cast<std::byte*>(source.data) + source.byte_offset;
  KILN_CHECK(base != nullptr) << "DLPack tensor without data";
  bool aligned = reinterpret_cast<uintptr_t>(base) % Tensor::kAlignment == 0;
  if (compact && aligned) {
    DLManagedTensor* owned = guard.release();
    // shared_ptr calls the deleter itself should it fail to allocate its control block.
    std::shared_ptr<std::byte[]> storage(base, [owned](std::byte*) {
      if (owned->deleter != nullptr) owned->deleter(owned);
    });
    return Tensor::from_storage(*dtype, std::move(shape), std::move(storage));
  }
  Tensor copy(*dtype, shape);
  copy_strided(base, shape, strides, dtype_size(*dtype), copy.mutable_data_as<std::byte>());
  return copy;
}

}  // namespace kiln::runtime
