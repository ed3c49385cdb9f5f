#include "kiln/tensor.h"

#include <cmath>
#include <cstring>
#include <new>

#include "kiln/error.h"

namespace kiln {

namespace {

struct DTypeInfo {
  DType dtype;
  std::string_view name;
  size_t size;
};

constexpr DTypeInfo kDTypes[] = {
    {DType::kFloat32, "float32", 4},   {DType::kFloat16, "float16", 2},
    {DType::kBFloat16, "bfloat16", 2}, {DType::kFloat64, "float64", 8},
    {DType::kInt8, "int8", 1},         {DType::kInt16, "int16", 2},
    {DType::kInt32, "int32", 4},       {DType::kInt64, "int64", 8},
    {DType::kUInt8, "uint8", 1},       {DType::kUInt16, "uint16", 2},
    {DType::kUInt32, "uint32", 4},     {DType::kUInt64, "uint64", 8},
    {DType::kBool, "bool", 1},
};

const DTypeInfo& info(DType dtype) {
  for (const auto& entry : kDTypes) {
    if (entry.dtype == dtype) return entry;
  }
  KILN_CHECK(false) << "unknown dtype " << static_cast<int>(dtype);
  return kDTypes[0];
}

std::shared_ptr<std::byte[]> allocate_zeroed(size_t nbytes) {
  size_t rounded = (nbytes + Tensor::kAlignment - 1) / Tensor::kAlignment * Tensor::kAlignment;
  if (rounded == 0) rounded = Tensor::kAlignment;
  void* raw = ::operator new[](rounded, std::align_val_t(Tensor::kAlignment));
  std::memset(raw, 0, rounded);
  return std::shared_ptr<std::byte[]>(static_cast<std::byte*>(raw), [](std::byte* p) {
    ::operator delete[](p, std::align_val_t(Tensor::kAlignment));
  });
}

int64_t checked_numel(const std::vector<int64_t>& shape) {
  int64_t count = 1;
  for (int64_t dim : shape) {
    if (dim < 0) throw Error("tensor dimension " + std::to_string(dim) + " is negative");
    if (dim != 0 && count > (int64_t{1} << 40) / dim) {
      throw Error("tensor is too large (more than 2^40 elements)");
    }
    count *= dim;
  }
  return count;
}

}  // namespace

std::string_view dtype_name(DType dtype) { return info(dtype).name; }

std::optional<DType> dtype_from_name(std::string_view name) {
  for (const auto& entry : kDTypes) {
    if (entry.name == name) return entry.dtype;
  }
  return std::nullopt;
}

size_t dtype_size(DType dtype) { return info(dtype).size; }

bool dtype_is_float(DType dtype) {
  return dtype == DType::kFloat32 || dtype == DType::kFloat16 || dtype == DType::kBFloat16 ||
         dtype == DType::kFloat64;
}

bool dtype_is_integer(DType dtype) { return !dtype_is_float(dtype) && dtype != DType::kBool; }

bool dtype_is_signed(DType dtype) {
  return dtype_is_float(dtype) || dtype == DType::kInt8 || dtype == DType::kInt16 ||
         dtype == DType::kInt32 || dtype == DType::kInt64;
}

float half_to_float(uint16_t bits) {
  uint32_t sign = static_cast<uint32_t>(bits & 0x8000u) << 16;
  uint32_t exponent = (bits >> 10) & 0x1fu;
  uint32_t mantissa = bits & 0x3ffu;
  uint32_t out;
  if (exponent == 0) {
    if (mantissa == 0) {
      out = sign;
    } else {  // subnormal: normalise
      int shift = 0;
      while ((mantissa & 0x400u) == 0) {
        mantissa <<= 1;
        ++shift;
      }
      mantissa &= 0x3ffu;
      out = sign | static_cast<uint32_t>(127 - 15 - shift + 1) << 23 | mantissa << 13;
    }
  } else if (exponent == 0x1f) {
    out = sign | 0x7f800000u | mantissa << 13;
  } else {
    out = sign | (exponent + 127 - 15) << 23 | mantissa << 13;
  }
  float value;
  std::memcpy(&value, &out, sizeof(value));
  return value;
}

uint16_t float_to_half(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  uint16_t sign = static_cast<uint16_t>((bits >> 16) & 0x8000u);
  uint32_t abs_bits = bits & 0x7fffffffu;
  if (abs_bits >= 0x7f800000u) {  // inf or nan
    return sign | 0x7c00u | (abs_bits > 0x7f800000u ? 0x200u : 0u);
  }
  if (abs_bits >= 0x477ff000u) return sign | 0x7c00u;  // overflow to inf after rounding
  if (abs_bits < 0x38800000u) {                        // subnormal or zero in half
    float magnitude;
    std::memcpy(&magnitude, &abs_bits, sizeof(magnitude));
    // Scale so that the half subnormal unit (2^-24) becomes 1, then round to nearest even.
    float scaled = magnitude * 16777216.0f;
    return sign | static_cast<uint16_t>(std::nearbyint(scaled));
  }
  uint32_t exponent = ((abs_bits >> 23) - 127 + 15) << 10;
  uint32_t mantissa = abs_bits & 0x7fffffu;
  uint32_t half = exponent | (mantissa >> 13);
  uint32_t remainder = mantissa & 0x1fffu;
  if (remainder > 0x1000u || (remainder == 0x1000u && (half & 1u))) ++half;
  return sign | static_cast<uint16_t>(half);
}

float bfloat16_to_float(uint16_t bits) {
  uint32_t wide = static_cast<uint32_t>(bits) << 16;
  float value;
  std::memcpy(&value, &wide, sizeof(value));
  return value;
}

uint16_t float_to_bfloat16(float value) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  if ((bits & 0x7fffffffu) > 0x7f800000u) return static_cast<uint16_t>((bits >> 16) | 0x40u);
  uint32_t rounding = 0x7fffu + ((bits >> 16) & 1u);
  return static_cast<uint16_t>((bits + rounding) >> 16);
}

Tensor::Tensor(DType dtype, std::vector<int64_t> shape) : dtype_(dtype), shape_(std::move(shape)) {
  storage_ = allocate_zeroed(static_cast<size_t>(checked_numel(shape_)) * dtype_size(dtype_));
}

Tensor Tensor::from_bytes(DType dtype, std::vector<int64_t> shape, const void* bytes,
                          size_t nbytes) {
  Tensor tensor(dtype, std::move(shape));
  KILN_CHECK(nbytes == tensor.nbytes())
      << "from_bytes got " << nbytes << " bytes for a tensor of " << tensor.nbytes();
  if (nbytes > 0) std::memcpy(tensor.mutable_data(), bytes, nbytes);
  return tensor;
}

Tensor Tensor::from_int64s(const std::vector<int64_t>& values, bool scalar) {
  KILN_CHECK(!scalar || values.size() == 1);
  std::vector<int64_t> shape;
  if (!scalar) shape.push_back(static_cast<int64_t>(values.size()));
  return from_bytes(DType::kInt64, shape, values.data(), values.size() * sizeof(int64_t));
}

Tensor Tensor::from_float32s(const std::vector<float>& values, std::vector<int64_t> shape) {
  return from_bytes(DType::kFloat32, std::move(shape), values.data(),
                    values.size() * sizeof(float));
}

Tensor Tensor::from_storage(DType dtype, std::vector<int64_t> shape,
                            std::shared_ptr<std::byte[]> storage) {
  KILN_CHECK(storage != nullptr);
  KILN_CHECK(reinterpret_cast<uintptr_t>(storage.get()) % kAlignment == 0)
      << "external storage is not " << kAlignment << "-byte aligned";
  checked_numel(shape);
  Tensor tensor;
  tensor.dtype_ = dtype;
  tensor.shape_ = std::move(shape);
  tensor.storage_ = std::move(storage);
  return tensor;
}

int64_t Tensor::numel() const {
  int64_t count = 1;
  for (int64_t dim : shape_) count *= dim;
  return count;
}

double Tensor::element_as_double(int64_t i) const {
  const std::byte* base = storage_.get();
  switch (dtype_) {
    case DType::kFloat32:
      return reinterpret_cast<const float*>(base)[i];
    case DType::kFloat64:
      return reinterpret_cast<const double*>(base)[i];
    case DType::kFloat16:
      return half_to_float(reinterpret_cast<const uint16_t*>(base)[i]);
    case DType::kBFloat16:
      return bfloat16_to_float(reinterpret_cast<const uint16_t*>(base)[i]);
    case DType::kInt8:
      return reinterpret_cast<const int8_t*>(base)[i];
    case DType::kInt16:
      return reinterpret_cast<const int16_t*>(base)[i];
    case DType::kInt32:
      return reinterpret_cast<const int32_t*>(base)[i];
    case DType::kInt64:
      return static_cast<double>(reinterpret_cast<const int64_t*>(base)[i]);
    case DType::kUInt8:
      return reinterpret_cast<const uint8_t*>(base)[i];
    case DType::kUInt16:
      return reinterpret_cast<const uint16_t*>(base)[i];
    case DType::kUInt32:
      return reinterpret_cast<const uint32_t*>(base)[i];
    case DType::kUInt64:
      return static_cast<double>(reinterpret_cast<const uint64_t*>(base)[i]);
    case DType::kBool:
      return reinterpret_cast<const uint8_t*>(base)[i] != 0 ? 1.0 : 0.0;
  }
  return 0.0;
}

int64_t Tensor::element_as_int64(int64_t i) const {
  const std::byte* base = storage_.get();
  switch (dtype_) {
    case DType::kInt8:
      return reinterpret_cast<const int8_t*>(base)[i];
    case DType::kInt16:
      return reinterpret_cast<const int16_t*>(base)[i];
    case DType::kInt32:
      return reinterpret_cast<const int32_t*>(base)[i];
    case DType::kInt64:
      return reinterpret_cast<const int64_t*>(base)[i];
    case DType::kUInt8:
      return reinterpret_cast<const uint8_t*>(base)[i];
    case DType::kUInt16:
      return reinterpret_cast<const uint16_t*>(base)[i];
    case DType::kUInt32:
      return reinterpret_cast<const uint32_t*>(base)[i];
    case DType::kUInt64:
      return static_cast<int64_t>(reinterpret_cast<const uint64_t*>(base)[i]);
    case DType::kBool:
      return reinterpret_cast<const uint8_t*>(base)[i] != 0 ? 1 : 0;
    default: {
      double value = element_as_double(i);
      if (!std::isfinite(value)) return 0;
      return static_cast<int64_t>(value);
    }
  }
}

void Tensor::set_element_from_double(int64_t i, double value) {
  std::byte* base = storage_.get();
  switch (dtype_) {
    case DType::kFloat32:
      reinterpret_cast<float*>(base)[i] = static_cast<float>(value);
      return;
    case DType::kFloat64:
      reinterpret_cast<double*>(base)[i] = value;
      return;
    case DType::kFloat16:
      reinterpret_cast<uint16_t*>(base)[i] = float_to_half(static_cast<float>(value));
      return;
    case DType::kBFloat16:
      reinterpret_cast<uint16_t*>(base)[i] = float_to_bfloat16(static_cast<float>(value));
      return;
    case DType::kBool:
      reinterpret_cast<uint8_t*>(base)[i] = value != 0.0 ? 1 : 0;
      return;
    default:
      set_element_from_int64(i, std::isfinite(value) ? static_cast<int64_t>(value) : 0);
      return;
  }
}

void Tensor::set_element_from_int64(int64_t i, int64_t value) {
  std::byte* base = storage_.get();
  switch (dtype_) {
    case DType::kInt8:
      reinterpret_cast<int8_t*>(base)[i] = static_cast<int8_t>(value);
      return;
    case DType::kInt16:
      reinterpret_cast<int16_t*>(base)[i] = static_cast<int16_t>(value);
      return;
    case DType::kInt32:
      reinterpret_cast<int32_t*>(base)[i] = static_cast<int32_t>(value);
      return;
    case DType::kInt64:
      reinterpret_cast<int64_t*>(base)[i] = value;
      return;
    case DType::kUInt8:
      reinterpret_cast<uint8_t*>(base)[i] = static_cast<uint8_t>(value);
      return;
    case DType::kUInt16:
      reinterpret_cast<uint16_t*>(base)[i] = static_cast<uint16_t>(value);
      return;
    case DType::kUInt32:
      reinterpret_cast<uint32_t*>(base)[i] = static_cast<uint32_t>(value);
      return;
    case DType::kUInt64:
      reinterpret_cast<uint64_t*>(base)[i] = static_cast<uint64_t>(value);
      return;
    case DType::kBool:
      reinterpret_cast<uint8_t*>(base)[i] = value != 0 ? 1 : 0;
      return;
    default:
      set_element_from_double(i, static_cast<double>(value));
      return;
  }
}

std::vector<int64_t> Tensor::to_int64s() const {
  std::vector<int64_t> values(static_cast<size_t>(numel()));
  for (int64_t i = 0; i < numel(); ++i) values[static_cast<size_t>(i)] = element_as_int64(i);
  return values;
}

Tensor Tensor::reshaped(std::vector<int64_t> new_shape) const {
  KILN_CHECK(checked_numel(new_shape) == numel()) << "reshape changes the element count";
  Tensor view = *this;
  view.shape_ = std::move(new_shape);
  return view;
}

bool Tensor::identical(const Tensor& other) const {
  if (dtype_ != other.dtype_ || shape_ != other.shape_) return false;
  if (storage_ == other.storage_) return true;
  return std::memcmp(data(), other.data(), nbytes()) == 0;
}

}  // namespace kiln
