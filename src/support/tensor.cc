#include "kiln/tensor.h"

#include <cmath>
#include <cstring>
#include <limits>
#include <new>

#include "kiln/error.h"
#include "kiln/limits.h"
#include "support/subbyte_cast.h"

namespace kiln {

namespace {

struct DTypeInfo {
  DType dtype;
  std::string_view name;
  size_t size;
};

constexpr DTypeInfo kDTypes[] = {
    {DType::kFloat32, "float32", 4},
    {DType::kFloat16, "float16", 2},
    {DType::kBFloat16, "bfloat16", 2},
    {DType::kFloat64, "float64", 8},
    {DType::kInt8, "int8", 1},
    {DType::kInt16, "int16", 2},
    {DType::kInt32, "int32", 4},
    {DType::kInt64, "int64", 8},
    {DType::kUInt8, "uint8", 1},
    {DType::kUInt16, "uint16", 2},
    {DType::kUInt32, "uint32", 4},
    {DType::kUInt64, "uint64", 8},
    {DType::kBool, "bool", 1},
    {DType::kFloat8E4M3FN, "float8e4m3fn", 1},
    {DType::kFloat8E4M3FNUZ, "float8e4m3fnuz", 1},
    {DType::kFloat8E5M2, "float8e5m2", 1},
    {DType::kFloat8E5M2FNUZ, "float8e5m2fnuz", 1},
    {DType::kFloat8E8M0, "float8e8m0", 1},
    {DType::kFloat4E2M1, "float4e2m1", 1},
    {DType::kInt4, "int4", 1},
    {DType::kUInt4, "uint4", 1},
    {DType::kInt2, "int2", 1},
    {DType::kUInt2, "uint2", 1},
};

// The layout of a narrow float type with a sign, exponent and mantissa (all but float8e8m0).
struct NarrowFloatFormat {
  int exponent_bits;
  int mantissa_bits;
  int bias;
  uint8_t max_code;  // the largest finite magnitude's bits
  enum class Special { kNanOnly, kIeee, kFnuz, kNone } special;
};

NarrowFloatFormat narrow_format(DType dtype) {
  using S = NarrowFloatFormat::Special;
  switch (dtype) {
    case DType::kFloat8E4M3FN:
      return {4, 3, 7, 0x7e, S::kNanOnly};  // S.1111.111 is NaN, no inf
    case DType::kFloat8E4M3FNUZ:
      return {4, 3, 8, 0x7f, S::kFnuz};  // 0x80 is NaN, no inf, no -0
    case DType::kFloat8E5M2:
      return {5, 2, 15, 0x7b, S::kIeee};  // IEEE-like: inf and NaNs
    case DType::kFloat8E5M2FNUZ:
      return {5, 2, 16, 0x7f, S::kFnuz};
    case DType::kFloat4E2M1:
      return {2, 1, 1, 0x7, S::kNone};  // neither inf nor NaN
    default:
      break;
  }
  KILN_CHECK(false) << "not a narrow float type: " << static_cast<int>(dtype);
  return {};
}

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
  void* raw = nullptr;
  try {
    raw = ::operator new[](rounded, std::align_val_t(Tensor::kAlignment));
  } catch (const std::bad_alloc&) {
    // Readers check sizes against the bytes present; what still fails here is a real shortage.
    throw Error("out of memory: cannot allocate " + std::to_string(nbytes) + " bytes for a tensor");
  }
  std::memset(raw, 0, rounded);
  return std::shared_ptr<std::byte[]>(static_cast<std::byte*>(raw), [](std::byte* p) {
    ::operator delete[](p, std::align_val_t(Tensor::kAlignment));
  });
}

int64_t checked_numel(const std::vector<int64_t>& shape) {
  int64_t count = 1;
  for (int64_t dim : shape) {
    if (dim < 0) throw Error("tensor dimension " + std::to_string(dim) + " is negative");
    if (dim != 0 && count > kMaxTensorElements / dim) {
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
  switch (dtype) {
    case DType::kFloat32:
    case DType::kFloat16:
    case DType::kBFloat16:
    case DType::kFloat64:
    case DType::kFloat8E4M3FN:
    case DType::kFloat8E4M3FNUZ:
    case DType::kFloat8E5M2:
    case DType::kFloat8E5M2FNUZ:
    case DType::kFloat8E8M0:
    case DType::kFloat4E2M1:
      return true;
    default:
      return false;
  }
}

bool dtype_is_narrow(DType dtype) {
  return static_cast<uint8_t>(dtype) >= static_cast<uint8_t>(DType::kFloat8E4M3FN);
}

int dtype_subbyte_bits(DType dtype) {
  if (dtype == DType::kInt4 || dtype == DType::kUInt4) return 4;
  if (dtype == DType::kInt2 || dtype == DType::kUInt2) return 2;
  return 0;
}

bool dtype_is_integer(DType dtype) { return !dtype_is_float(dtype) && dtype != DType::kBool; }

bool dtype_is_signed(DType dtype) {
  return dtype_is_float(dtype) || dtype == DType::kInt8 || dtype == DType::kInt16 ||
         dtype == DType::kInt32 || dtype == DType::kInt64 || dtype == DType::kInt4 ||
         dtype == DType::kInt2;
}

float narrow_float_to_float(DType dtype, uint8_t bits) {
  if (dtype == DType::kFloat8E8M0) {
    if (bits == 0xff) return std::numeric_limits<float>::quiet_NaN();
    return std::ldexp(1.0f, static_cast<int>(bits) - 127);
  }
  NarrowFloatFormat format = narrow_format(dtype);
  using S = NarrowFloatFormat::Special;
  int width = 1 + format.exponent_bits + format.mantissa_bits;
  bits &= static_cast<uint8_t>((1u << width) - 1);
  bool negative = (bits >> (width - 1)) & 1u;
  unsigned magnitude = bits & ((1u << (width - 1)) - 1);
  unsigned exponent = magnitude >> format.mantissa_bits;
  unsigned mantissa = magnitude & ((1u << format.mantissa_bits) - 1);
  float nan = std::numeric_limits<float>::quiet_NaN();
  switch (format.special) {
    case S::kNanOnly:
      if (magnitude == 0x7f) return negative ? -nan : nan;
      break;
    case S::kIeee:
      if (exponent == (1u << format.exponent_bits) - 1) {
        if (mantissa != 0) return negative ? -nan : nan;
        return negative ? -std::numeric_limits<float>::infinity()
                        : std::numeric_limits<float>::infinity();
      }
      break;
    case S::kFnuz:
      if (bits == 0x80) return nan;
      break;
    case S::kNone:
      break;
  }
  int min_exponent = 1 - format.bias;
  float value =
      exponent == 0
          ? std::ldexp(static_cast<float>(mantissa), min_exponent - format.mantissa_bits)
          : std::ldexp(1.0f + std::ldexp(static_cast<float>(mantissa), -format.mantissa_bits),
                       static_cast<int>(exponent) - format.bias);
  return negative ? -value : value;
}

float narrow_float_max(DType dtype) {
  if (dtype == DType::kFloat8E8M0) return narrow_float_to_float(dtype, 0xfe);
  return narrow_float_to_float(dtype, narrow_format(dtype).max_code);
}

uint8_t float_to_narrow_float(DType dtype, float value) {
  if (dtype == DType::kFloat8E8M0) return float_to_e8m0(value, true, E8M0Rounding::kUp);
  NarrowFloatFormat format = narrow_format(dtype);
  using S = NarrowFloatFormat::Special;
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  unsigned sign_shift = static_cast<unsigned>(format.exponent_bits + format.mantissa_bits);
  auto sign = static_cast<uint8_t>((bits >> 31) << sign_shift);
  uint32_t abs_bits = bits & 0x7fffffffu;
  if (abs_bits > 0x7f800000u) {  // NaN
    switch (format.special) {
      case S::kNanOnly:
        return sign | 0x7f;
      case S::kIeee:
        return sign | 0x7e;
      case S::kFnuz:
        return 0x80;
      case S::kNone:  // ml_dtypes gives a zero with the sign flipped
        return sign ^ static_cast<uint8_t>(1u << sign_shift);
    }
  }
  int min_exponent = 1 - format.bias;
  uint32_t code;
  if (abs_bits < static_cast<uint32_t>(min_exponent + 127) << 23) {
    // Below the smallest normal: multiples of the subnormal unit, rounded to nearest even (2^M
    // is the smallest normal, whose bits are the same number).
    float magnitude;
    std::memcpy(&magnitude, &abs_bits, sizeof(magnitude));
    code = static_cast<uint32_t>(
        std::nearbyint(std::ldexp(magnitude, format.mantissa_bits - min_exponent)));
  } else {
    // Round the float32 mantissa to M bits (nearest even), then rebias the exponent.
    int shift = 23 - format.mantissa_bits;
    uint32_t rounded = (abs_bits + ((1u << (shift - 1)) - 1) + ((abs_bits >> shift) & 1u)) >> shift;
    code = rounded - (static_cast<uint32_t>(127 - format.bias) << format.mantissa_bits);
    if (abs_bits >= 0x7f800000u) code = 0xffffffffu;  // inf overflows
  }
  if (code > format.max_code) {
    switch (format.special) {
      case S::kNanOnly:
        return sign | 0x7f;
      case S::kIeee:
        return sign | 0x7c;  // inf
      case S::kFnuz:
        return 0x80;
      case S::kNone:
        return sign | format.max_code;
    }
  }
  if (code == 0 && format.special == S::kFnuz) return 0;  // no negative zero
  return sign | static_cast<uint8_t>(code);
}

uint8_t float_to_e8m0(float value, bool saturate, E8M0Rounding mode) {
  uint32_t bits;
  std::memcpy(&bits, &value, sizeof(bits));
  uint32_t exponent = (bits >> 23) & 0xffu;  // the sign is ignored, as ONNX's reference does
  if (exponent == 0xff) return 0xff;
  bool round_up = false;
  switch (mode) {
    case E8M0Rounding::kUp:
      round_up = (bits & 0x7fffffu) != 0;
      break;
    case E8M0Rounding::kDown:
      break;
    case E8M0Rounding::kNearest: {
      bool guard = (bits & 0x400000u) != 0;
      bool round = (bits & 0x200000u) != 0;
      bool sticky = (bits & 0x1fffffu) != 0;
      round_up = guard && (round || sticky || exponent > 0);
      break;
    }
  }
  if (round_up && !(saturate && exponent == 0xfe)) ++exponent;
  return static_cast<uint8_t>(exponent);
}

uint8_t int_to_subbyte(DType dtype, int64_t value) {
  int width = dtype_subbyte_bits(dtype);
  KILN_CHECK(width > 0) << "not a sub-byte integer type";
  return static_cast<uint8_t>(static_cast<uint64_t>(value) & ((1u << width) - 1));
}

uint8_t float_to_subbyte(DType dtype, double value) {
  double rounded = std::nearbyint(value);  // the default rounding mode: ties to even
  // Beyond int64 every double is a multiple of 2^11, so its low bits are 0 (as for NaN / inf).
  constexpr double kInt64Limit = 9223372036854775808.0;
  if (!(std::fabs(rounded) < kInt64Limit)) return 0;
  return int_to_subbyte(dtype, static_cast<int64_t>(rounded));
}

int64_t subbyte_to_int(DType dtype, uint8_t bits) {
  int width = dtype_subbyte_bits(dtype);
  KILN_CHECK(width > 0) << "not a sub-byte integer type";
  int64_t value = bits & ((1 << width) - 1);
  if (dtype_is_signed(dtype) && value >= (int64_t{1} << (width - 1))) value -= int64_t{1} << width;
  return value;
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
    case DType::kInt4:
    case DType::kUInt4:
    case DType::kInt2:
    case DType::kUInt2:
      return static_cast<double>(subbyte_to_int(dtype_, reinterpret_cast<const uint8_t*>(base)[i]));
    default:  // narrow floats
      return narrow_float_to_float(dtype_, reinterpret_cast<const uint8_t*>(base)[i]);
  }
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
    case DType::kInt4:
    case DType::kUInt4:
    case DType::kInt2:
    case DType::kUInt2:
      return subbyte_to_int(dtype_, reinterpret_cast<const uint8_t*>(base)[i]);
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
    case DType::kFloat8E4M3FN:
    case DType::kFloat8E4M3FNUZ:
    case DType::kFloat8E5M2:
    case DType::kFloat8E5M2FNUZ:
    case DType::kFloat8E8M0:
    case DType::kFloat4E2M1:
      reinterpret_cast<uint8_t*>(base)[i] =
          float_to_narrow_float(dtype_, static_cast<float>(value));
      return;
    case DType::kInt4:
    case DType::kUInt4:
    case DType::kInt2:
    case DType::kUInt2:
      reinterpret_cast<uint8_t*>(base)[i] = float_to_subbyte(dtype_, value);
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
    case DType::kInt4:
    case DType::kUInt4:
    case DType::kInt2:
    case DType::kUInt2:
      reinterpret_cast<uint8_t*>(base)[i] = int_to_subbyte(dtype_, value);
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
