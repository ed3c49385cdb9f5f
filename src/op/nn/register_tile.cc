#include "op/nn/register_tile.h"

#include <algorithm>
#include <string>

namespace kiln::op {

int accumulator_registers(const ScheduleContext& context) {
  int registers = context.vector_bits >= 512 ? 32 : 16;
  return registers * 3 / 4;
}

int64_t vector_block(int64_t extent, int lanes, int max_vectors, bool prefer_larger) {
  int64_t best = 1;
  double best_fill = 0;
  int64_t limit = std::min<int64_t>(extent, static_cast<int64_t>(lanes) * max_vectors);
  for (int64_t block = 1; block <= limit; ++block) {
    if (extent % block != 0) continue;
    int64_t vectors = (block + lanes - 1) / lanes;
    double fill = static_cast<double>(block) / static_cast<double>(vectors * lanes);
    if (fill > best_fill + 1e-9 || (prefer_larger && fill > best_fill - 1e-9)) {
      best = block;
      best_fill = fill;
    }
  }
  return best;
}

int64_t divisor_at_most(int64_t extent, int64_t limit) {
  for (int64_t block = std::min(extent, limit); block > 1; --block) {
    if (extent % block == 0) return block;
  }
  return 1;
}

bool register_tile(te::Schedule& schedule, const te::Tensor& output, const te::Tensor& accumulate,
                   const std::vector<int64_t>& blocks, const ScheduleContext& context,
                   const std::vector<std::string>& unroll_reduce, bool columns_outermost) {
  const bool separate = accumulate && accumulate.get() != output.get();
  const te::Tensor& reduction = separate ? accumulate : output;
  const size_t rank = output->shape.size();
  const size_t reduce_count = reduction->reduce_axis().size();
  // Checks first, so that a kernel of an unexpected form keeps an untouched schedule.
  if (rank == 0 || blocks.size() != rank || reduce_count == 0) return false;
  if (separate && (accumulate->shape != output->shape || !output->reduce_axis().empty())) {
    return false;
  }
  for (size_t k = 0; k < rank; ++k) {
    if (blocks[k] < 1 || output->shape[k] % blocks[k] != 0) return false;
  }
  const std::string out_name = schedule.stage_name(output);
  if (schedule.loops(out_name).size() != rank + (separate ? 0 : reduce_count)) return false;
  std::string acc_name;
  if (separate) {
    acc_name = schedule.stage_name(accumulate);
    if (schedule.loops(acc_name).size() != rank + reduce_count) return false;
  } else {
    acc_name = schedule.cache_write(out_name);
  }
  const std::vector<std::string> out_loops = schedule.loops(out_name);
  const std::vector<std::string> acc_loops = schedule.loops(acc_name);
  const int lanes = context.lanes(output->dtype.dtype);
  const bool vector = lanes > 1 && blocks.back() > 1;

  // The output stage: one fused (parallel) loop over the tiles, then the tile's copy-out (or
  // epilogue), unrolled but for the innermost axis, which is a vector.
  std::vector<std::string> outer, inner;
  for (size_t k = 0; k < rank; ++k) {
    if (blocks[k] == 1) {
      outer.push_back(out_loops[k]);
      continue;
    }
    auto [tile_outer, tile_inner] = schedule.split(out_name, out_loops[k], blocks[k]);
    outer.push_back(tile_outer);
    inner.push_back(tile_inner);
  }
  if (columns_outermost && outer.size() > 1)
    std::rotate(outer.rbegin(), outer.rbegin() + 1, outer.rend());
  std::vector<std::string> order = outer;
  order.insert(order.end(), inner.begin(), inner.end());
  schedule.reorder(out_name, order);
  std::string tiles = outer.size() > 1 ? schedule.fuse(out_name, outer) : outer[0];
  for (size_t k = 0; k < inner.size(); ++k) {
    if (k + 1 == inner.size() && vector) {
      schedule.vectorize(out_name, inner[k]);
    } else {
      schedule.unroll(out_name, inner[k]);
    }
  }
  if (context.num_cores > 1) schedule.parallel(out_name, tiles);
  schedule.compute_at(acc_name, out_name, tiles);

  // The accumulating stage, over one tile: the axes outside the tile (extent 1 here), the reduce
  // loops, then the tile's axes, unrolled, the innermost one a vector.
  std::vector<std::string> acc_order, acc_tile;
  for (size_t k = 0; k < rank; ++k) {
    (blocks[k] == 1 ? acc_order : acc_tile).push_back(acc_loops[k]);
  }
  acc_order.insert(acc_order.end(), acc_loops.begin() + static_cast<long>(rank), acc_loops.end());
  acc_order.insert(acc_order.end(), acc_tile.begin(), acc_tile.end());
  schedule.reorder(acc_name, acc_order);
  for (size_t k = 0; k < acc_tile.size(); ++k) {
    if (k + 1 == acc_tile.size() && vector) {
      schedule.vectorize(acc_name, acc_tile[k]);
    } else {
      schedule.unroll(acc_name, acc_tile[k]);
    }
  }
  for (const std::string& loop : unroll_reduce) schedule.unroll(acc_name, loop);
  return true;
}

}  // namespace kiln::op
