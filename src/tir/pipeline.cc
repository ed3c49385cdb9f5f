#include "tir/pipeline.h"

#include "tir/flatten.h"
#include "tir/remove_no_op.h"
#include "tir/simplify.h"
#include "tir/unroll.h"
#include "tir/vectorize.h"

namespace kiln::tir {

PrimFunc lower_tir(PrimFunc func, const TirOptions& options) {
  auto step = [&](std::string_view name, PrimFunc next) {
    if (options.after_step) options.after_step(name, next);
    return next;
  };
  // Lanes/extent 0 turns every vectorized/unrolled loop with a positive extent into a serial one.
  int max_lanes = options.vectorize ? options.max_vector_lanes : 0;
  int max_unroll = options.unroll ? options.max_unroll_extent : 0;
  func = step("simplify", simplify(std::move(func)));
  func = step("remove_no_op", remove_no_op(std::move(func)));
  func = step("flatten", flatten(std::move(func)));
  func = step("simplify", simplify(std::move(func)));
  func = step("vectorize", vectorize(std::move(func), max_lanes));
  func = step("unroll", unroll(std::move(func), max_unroll));
  func = step("simplify", simplify(std::move(func)));
  func = step("remove_no_op", remove_no_op(std::move(func)));
  return func;
}

}  // namespace kiln::tir
