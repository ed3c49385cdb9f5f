// Float -> 4-/2-bit integer conversion, shared by everything that casts at compile time (tensor
// elements, the te interpreter, the loop-IR simplifier); generated code must agree with it.
#pragma once

#include <cstdint>

#include "kiln/tensor.h"

namespace kiln {

// A float cast to a 4-/2-bit integer as the ONNX specification says (docs/technical/int4.md,
// int2.md): rounded to the nearest integer, ties to even, then truncated to the type's low bits
// (the stored byte, as int_to_subbyte gives it). NaN and infinities, which the specification
// leaves undefined, become 0.
uint8_t float_to_subbyte(DType dtype, double value);

}  // namespace kiln
