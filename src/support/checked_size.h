// Element and byte counts of a shape read from a file, checked before anything is allocated:
// a reader compares them with the bytes actually present, so that a few bytes of file never make
// Kiln reserve gigabytes.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "kiln/limits.h"
#include "kiln/tensor.h"

namespace kiln::support {

// Element count of `shape`; nullopt when a dimension is negative or the count exceeds
// kMaxTensorElements (include/kiln/limits.h, which also keeps byte counts from overflowing).
inline std::optional<int64_t> checked_element_count(const std::vector<int64_t>& shape) {
  int64_t count = 1;
  for (int64_t dim : shape) {
    if (dim < 0) return std::nullopt;
    if (dim != 0 && count > kMaxTensorElements / dim) return std::nullopt;
    count *= dim;
  }
  return count;
}

// Bytes of a Kiln tensor of `shape` (one element per byte for the narrow types); nullopt as for
// checked_element_count.
inline std::optional<uint64_t> checked_tensor_bytes(DType dtype,
                                                    const std::vector<int64_t>& shape) {
  std::optional<int64_t> count = checked_element_count(shape);
  if (!count) return std::nullopt;
  return static_cast<uint64_t>(*count) * dtype_size(dtype);
}

}  // namespace kiln::support
