// The loop-IR pass pipeline: what the driver runs on each kernel after te lowering and before
// codegen. The order is the contract:
//
//   simplify -> remove_no_op -> flatten -> simplify -> vectorize -> unroll -> simplify
//   -> remove_no_op
//
// Expects: a PrimFunc from te lowering (multi-dimensional accesses, loops of any kind).
// Guarantees: every access has one index; only serial and parallel loops remain (vectorized
//   loops became vector code or serial loops, unrolled loops copies or serial loops); indices
//   simplified.
#pragma once

#include <functional>
#include <string_view>

#include "tir/stmt.h"

namespace kiln::tir {

struct TirOptions {
  bool vectorize = true;  // false: vectorized loops run as serial loops
  bool unroll = true;     // false: unrolled loops run as serial loops
  int max_vector_lanes = 64;
  int max_unroll_extent = 64;
  // Called after each step with its name ("simplify", "flatten", ...), e.g. for KILN_DUMP.
  std::function<void(std::string_view step, const PrimFunc& func)> after_step;
};

PrimFunc lower_tir(PrimFunc func, const TirOptions& options = {});

}  // namespace kiln::tir
