// Pass: flatten multi-dimensional buffer accesses to one row-major offset.
//
// Expects: loop IR from te lowering (no TensorRead or Reduce left); every access to a buffer of
//   rank r has r indices, or exactly one when it is already flat.
// Guarantees: every BufferLoad and BufferStore has exactly one index,
//   sum_k index_k * stride_k with row-major strides of the buffer's shape (0 for a rank-0
//   buffer). Buffers keep their shape, for information only. Indices are not simplified: run
//   simplify afterwards.
// Runs: after the first simplify, before vectorize (which needs one index per access).
#pragma once

#include "tir/stmt.h"

namespace kiln::tir {

Stmt flatten(const Stmt& stmt);
PrimFunc flatten(PrimFunc func);

}  // namespace kiln::tir
