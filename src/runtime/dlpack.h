// DLPack exchange: hands Kiln tensors to numpy/PyTorch (and takes theirs) without copying.
#pragma once

#include <dlpack/dlpack.h>

#include <optional>

#include "kiln/tensor.h"

namespace kiln::runtime {

// DLPack's data type for a Kiln dtype (bool is DLPack >= 0.8's kDLBool, code 6, 8 bits).
DLDataType to_dlpack_dtype(DType dtype);
// The Kiln dtype of a DLPack data type; nullopt for those Kiln lacks (complex, vector lanes...).
std::optional<DType> from_dlpack_dtype(DLDataType dtype);

// Exports `tensor` without copying: the result shares the tensor's storage and keeps it alive
// until the consumer calls its deleter (exactly once). Compact row-major, on kDLCPU.
DLManagedTensor* to_dlpack(const Tensor& tensor);

// Imports a DLPack tensor and takes ownership of `managed`. Zero copy when it is on the CPU,
// compact row-major and 64-byte aligned (the deleter runs when the last Tensor sharing the data
// is gone); otherwise the values are copied into a new aligned tensor and the deleter runs before
// returning. kiln::Error for another device or a dtype Kiln lacks (the deleter still runs).
Tensor from_dlpack(DLManagedTensor* managed);

}  // namespace kiln::runtime
