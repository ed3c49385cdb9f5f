// Element types and a dense host tensor: the values of weights and constants, model inputs and
// outputs. A Tensor shares its storage on copy (like a numpy view of a whole array); code that
// builds a tensor fills it through mutable_data() before handing it on, and treats it as
// immutable afterwards.
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace kiln {

enum class DType : uint8_t {
  kFloat32,
  kFloat16,
  kBFloat16,
  kFloat64,
  kInt8,
  kInt16,
  kInt32,
  kInt64,
  kUInt8,
  kUInt16,
  kUInt32,
  kUInt64,
  kBool,
  // Narrow types, one element per byte (ml_dtypes' numpy convention; 4- and 2-bit integers are
  // unpacked, the value in the low bits). Storage and data movement only: arithmetic on them is
  // rejected, they are cast to float32 / an integer type first.
  kFloat8E4M3FN,
  kFloat8E4M3FNUZ,
  kFloat8E5M2,
  kFloat8E5M2FNUZ,
  kFloat8E8M0,
  kFloat4E2M1,
  kInt4,
  kUInt4,
  kInt2,
  kUInt2,
};

// "float32", "int64", ...
std::string_view dtype_name(DType dtype);
// Inverse of dtype_name; nullopt for an unknown name.
std::optional<DType> dtype_from_name(std::string_view name);
// Size of one element in bytes.
size_t dtype_size(DType dtype);
bool dtype_is_float(DType dtype);
bool dtype_is_integer(DType dtype);  // signed or unsigned integers, not bool
bool dtype_is_signed(DType dtype);
// The 8- and 4-bit float types and the 4- and 2-bit integers (storage-only types).
bool dtype_is_narrow(DType dtype);
// Bits of a 4-/2-bit integer type (4 or 2), else 0.
int dtype_subbyte_bits(DType dtype);

class Tensor {
 public:
  // Storage is aligned to this many bytes so that vector code can load it directly.
  static constexpr size_t kAlignment = 64;

  Tensor() = default;
  // A zero-filled tensor.
  Tensor(DType dtype, std::vector<int64_t> shape);

  // Copies `nbytes` bytes into a new tensor; nbytes must equal the tensor's size.
  static Tensor from_bytes(DType dtype, std::vector<int64_t> shape, const void* bytes,
                           size_t nbytes);
  // A tensor of shape [values.size()] (or scalar when `scalar`), int64.
  static Tensor from_int64s(const std::vector<int64_t>& values, bool scalar = false);
  static Tensor from_float32s(const std::vector<float>& values, std::vector<int64_t> shape);
  // A tensor over memory owned elsewhere, without copying (DLPack import): `storage` holds at
  // least nbytes() bytes at a kAlignment-aligned address, and its deleter runs when the last
  // Tensor sharing it is gone.
  static Tensor from_storage(DType dtype, std::vector<int64_t> shape,
                             std::shared_ptr<std::byte[]> storage);

  DType dtype() const { return dtype_; }
  const std::vector<int64_t>& shape() const { return shape_; }
  int64_t ndim() const { return static_cast<int64_t>(shape_.size()); }
  int64_t numel() const;
  size_t nbytes() const { return static_cast<size_t>(numel()) * dtype_size(dtype_); }
  bool defined() const { return storage_ != nullptr; }

  const void* data() const { return storage_.get(); }
  void* mutable_data() { return storage_.get(); }
  template <typename T>
  const T* data_as() const {
    return static_cast<const T*>(data());
  }
  template <typename T>
  T* mutable_data_as() {
    return static_cast<T*>(mutable_data());
  }

  // Element i converted to double / int64, whatever the dtype (float16/bfloat16 decoded).
  double element_as_double(int64_t i) const;
  int64_t element_as_int64(int64_t i) const;
  // Store a value into element i, converting to the tensor's dtype (float values are rounded to
  // nearest for float16/bfloat16, integers wrap as C++ casts do, bool is value != 0).
  void set_element_from_double(int64_t i, double value);
  void set_element_from_int64(int64_t i, int64_t value);
  // All elements as int64 (for shape-like tensors).
  std::vector<int64_t> to_int64s() const;

  // A tensor with the same bytes and a new shape of equal element count.
  Tensor reshaped(std::vector<int64_t> new_shape) const;
  // Byte-wise equality of dtype, shape and contents.
  bool identical(const Tensor& other) const;

 private:
  DType dtype_ = DType::kFloat32;
  std::vector<int64_t> shape_;
  std::shared_ptr<std::byte[]> storage_;
};

// IEEE half and bfloat16 conversions (round to nearest even).
float half_to_float(uint16_t bits);
uint16_t float_to_half(float value);
float bfloat16_to_float(uint16_t bits);
uint16_t float_to_bfloat16(float value);

// The narrow float types (float8e4m3fn ... float4e2m1): `bits` decoded exactly, and a float
// rounded to nearest even without saturation, as ml_dtypes' astype does: a value beyond the
// largest finite one becomes inf where the type has one (float8e5m2), NaN where it has only NaN,
// the largest finite value for float4e2m1 (which has neither).
float narrow_float_to_float(DType dtype, uint8_t bits);
uint8_t float_to_narrow_float(DType dtype, float value);
// The largest finite value of a narrow float type.
float narrow_float_max(DType dtype);
// ONNX's float -> float8e8m0 conversion (onnx.numpy_helper.to_float8e8m0): the exponent of the
// magnitude, rounded per `mode`; with `saturate` a rounding beyond the largest value stays there.
enum class E8M0Rounding : uint8_t { kUp, kDown, kNearest };
uint8_t float_to_e8m0(float value, bool saturate, E8M0Rounding mode);
// A 4-/2-bit integer value (wrapped to the type's width, like a two's complement truncation) and
// back: the stored byte holds the value's low bits.
uint8_t int_to_subbyte(DType dtype, int64_t value);
int64_t subbyte_to_int(DType dtype, uint8_t bits);

}  // namespace kiln
