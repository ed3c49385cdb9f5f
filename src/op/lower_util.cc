#include "op/lower_util.h"

#include <algorithm>
#include <limits>

#include "kiln/error.h"

namespace kiln::op {

const ir::TensorType& result_tensor(const ir::Type& result) {
  KILN_CHECK(result.is_tensor()) << "lowering expects a tensor result, got " << result.to_string();
  const ir::TensorType& type = result.as_tensor();
  KILN_CHECK(type.is_static()) << "lowering needs static shapes, got " << type.to_string();
  return type;
}

std::vector<int64_t> result_shape(const ir::Type& result) {
  return result_tensor(result).static_shape();
}

std::vector<std::vector<int64_t>> tuple_shapes(const ir::Type& result) {
  KILN_CHECK(result.is_tuple()) << "lowering expects a tuple result, got " << result.to_string();
  std::vector<std::vector<int64_t>> shapes;
  for (const ir::Type& field : result.fields()) shapes.push_back(result_shape(field));
  return shapes;
}

std::vector<PrimExpr> as_exprs(const Indices& indices) {
  return std::vector<PrimExpr>(indices.begin(), indices.end());
}

PrimExpr broadcast_read(const te::Tensor& tensor, const std::vector<PrimExpr>& index,
                        const std::vector<int64_t>& out_shape) {
  size_t rank = tensor->shape.size();
  KILN_CHECK(rank <= index.size() && index.size() == out_shape.size())
      << "cannot broadcast " << tensor->name << " of rank " << rank << " to rank " << index.size();
  size_t offset = index.size() - rank;
  std::vector<PrimExpr> source;
  for (size_t d = 0; d < rank; ++d) {
    // A size-1 dim repeats; reading index 0 also keeps the vectorizer's access pattern simple.
    source.push_back(tensor->shape[d] == 1 ? PrimExpr(0) : index[offset + d]);
  }
  return tensor(source);
}

PrimExpr clamp_index(const PrimExpr& index, int64_t extent) {
  return tir::min(tir::max(index, PrimExpr(0)), PrimExpr(extent - 1));
}

PrimExpr read_or(const te::Tensor& tensor, const std::vector<PrimExpr>& index,
                 const std::vector<bool>& checked, const PrimExpr& fill) {
  KILN_CHECK(index.size() == tensor->shape.size() && checked.size() == index.size());
  PrimExpr inside;
  std::vector<PrimExpr> clamped;
  for (size_t d = 0; d < index.size(); ++d) {
    if (!checked[d]) {
      clamped.push_back(index[d]);
      continue;
    }
    PrimExpr in_range =
        tir::logical_and(index[d] >= PrimExpr(0), index[d] < PrimExpr(tensor->shape[d]));
    inside = inside ? tir::logical_and(inside, in_range) : in_range;
    clamped.push_back(clamp_index(index[d], tensor->shape[d]));
  }
  if (!inside) return tensor(clamped);
  return tir::select(inside, tensor(clamped), fill);
}

DType accumulator_dtype(DType dtype) {
  return dtype == DType::kFloat16 || dtype == DType::kBFloat16 ? DType::kFloat32 : dtype;
}

PrimExpr widen(const PrimExpr& value) {
  return tir::cast(scalar_type(accumulator_dtype(value.dtype().dtype)), value);
}

te::Tensor round_to(const te::Tensor& widened, DType dtype, const std::string& name) {
  if (widened->dtype.dtype == dtype) return widened;
  return te::compute(
      widened->shape,
      [&](const Indices& i) { return tir::cast(scalar_type(dtype), widened(as_exprs(i))); }, name,
      "elemwise");
}

PrimExpr lowest_value(DType dtype) {
  if (dtype_is_float(dtype)) return constant(dtype, -std::numeric_limits<double>::infinity());
  if (dtype == DType::kBool || !dtype_is_signed(dtype)) return tir::int_imm(0, scalar_type(dtype));
  int64_t lowest = std::numeric_limits<int64_t>::min() >> (64 - 8 * dtype_size(dtype));
  return tir::int_imm(lowest, scalar_type(dtype));
}

PrimExpr highest_value(DType dtype) {
  if (dtype_is_float(dtype)) return constant(dtype, std::numeric_limits<double>::infinity());
  if (dtype == DType::kBool) return tir::int_imm(1, scalar_type(dtype));
  if (!dtype_is_signed(dtype)) {
    // All ones: -1 in int64 bits is the largest uint64, and wraps to the largest narrower one.
    uint64_t highest = std::numeric_limits<uint64_t>::max() >> (64 - 8 * dtype_size(dtype));
    return tir::int_imm(static_cast<int64_t>(highest), scalar_type(dtype));
  }
  int64_t highest = std::numeric_limits<int64_t>::max() >> (64 - 8 * dtype_size(dtype));
  return tir::int_imm(highest, scalar_type(dtype));
}

PrimExpr flatten_index(const std::vector<PrimExpr>& index, const std::vector<int64_t>& shape) {
  KILN_CHECK(index.size() == shape.size());
  PrimExpr flat = PrimExpr(0);
  for (size_t d = 0; d < shape.size(); ++d) {
    flat = d == 0 ? index[0] : flat * PrimExpr(shape[d]) + index[d];
  }
  return flat;
}

std::vector<PrimExpr> unflatten_index(const PrimExpr& flat, const std::vector<int64_t>& shape) {
  std::vector<PrimExpr> index(shape.size());
  PrimExpr rest = flat;
  for (size_t d = shape.size(); d-- > 0;) {
    if (d == 0) {
      index[d] = rest;
    } else {
      index[d] = tir::floormod(rest, PrimExpr(shape[d]));
      rest = tir::floordiv(rest, PrimExpr(shape[d]));
    }
  }
  return index;
}

std::vector<te::Tensor> compute_stages(const std::vector<te::Tensor>& outputs) {
  std::vector<te::Tensor> stages;
  for (const te::Tensor& tensor : te::post_order(outputs)) {
    if (!tensor->is_placeholder()) stages.push_back(tensor);
  }
  return stages;
}

void schedule_injective_stage(te::Schedule& schedule, const te::Tensor& stage,
                              const ScheduleContext& context) {
  std::string name = schedule.stage_name(stage);
  std::vector<std::string> loops = schedule.loops(name);
  size_t rank = stage->shape.size();
  if (rank == 0 || loops.size() != rank) return;  // scalar, or already scheduled
  int lanes = context.lanes(stage->dtype.dtype);
  std::vector<std::string> outer(loops.begin(), loops.end() - 1);
  if (lanes > 1 && stage->shape.back() >= lanes) {
    auto [vector_outer, vector_inner] = schedule.split(name, loops.back(), lanes);
    schedule.vectorize(name, vector_inner);
    outer.push_back(vector_outer);
  } else {
    outer.push_back(loops.back());
  }
  if (context.num_cores > 1) {
    std::string parallel = outer.size() > 1 ? schedule.fuse(name, outer) : outer[0];
    schedule.parallel(name, parallel);
  }
}

void schedule_reduction_stage(te::Schedule& schedule, const te::Tensor& stage,
                              const ScheduleContext& context) {
  std::string name = schedule.stage_name(stage);
  std::vector<std::string> loops = schedule.loops(name);
  size_t rank = stage->shape.size();
  if (rank == 0) return;
  if (loops.size() != rank + stage->reduce_axis().size()) return;  // already scheduled
  std::vector<std::string> outer(loops.begin(), loops.begin() + static_cast<long>(rank) - 1);
  std::vector<std::string> reduce(loops.begin() + static_cast<long>(rank), loops.end());
  int lanes = context.lanes(stage->dtype.dtype);
  std::string last = loops[rank - 1];
  if (lanes > 1 && stage->shape.back() >= lanes) {
    // The innermost output dim in vectors below the reduce loops: each reduce step updates a
    // vector of independent outputs (lowering puts the init outside the reduce loops).
    auto [vector_outer, vector_inner] = schedule.split(name, last, lanes);
    std::vector<std::string> order = outer;
    order.push_back(vector_outer);
    order.insert(order.end(), reduce.begin(), reduce.end());
    order.push_back(vector_inner);
    schedule.reorder(name, order);
    schedule.vectorize(name, vector_inner);
    last = vector_outer;
  }
  if (context.num_cores <= 1) return;
  if (outer.empty()) {
    schedule.parallel(name, last);
  } else {
    schedule.parallel(name, outer.size() > 1 ? schedule.fuse(name, outer) : outer[0]);
  }
}

void schedule_stage(te::Schedule& schedule, const te::Tensor& stage,
                    const ScheduleContext& context) {
  if (!schedule.at_root(schedule.stage_name(stage))) return;
  if (stage->reduce_axis().empty()) {
    schedule_injective_stage(schedule, stage, context);
  } else {
    schedule_reduction_stage(schedule, stage, context);
  }
}

std::vector<te::Tensor> schedule_fused_epilogue(te::Schedule& schedule, const te::Tensor& output,
                                                const ScheduleContext& context) {
  const te::Tensor& anchor = context.anchor;
  if (!anchor || anchor == output || anchor->is_placeholder() || output->is_placeholder()) {
    return {};
  }
  const auto& outputs = schedule.outputs();
  if (std::find(outputs.begin(), outputs.end(), anchor) != outputs.end()) return {};
  std::string anchor_name = schedule.stage_name(anchor);
  std::string output_name = schedule.stage_name(output);
  size_t rank = output->shape.size();
  if (!schedule.at_root(anchor_name) || !schedule.at_root(output_name) || rank < 2 ||
      schedule.loops(output_name).size() != rank ||
      schedule.loops(anchor_name).size() != anchor->shape.size() + anchor->reduce_axis().size()) {
    return {};
  }
  // Steps go to a copy (copy on write) that replaces the schedule only when all of them apply,
  // e.g. compute_at refuses an anchor that another stage also reads.
  te::Schedule attempt = schedule;
  try {
    if (anchor->reduce_axis().empty()) {
      attempt.compute_inline(anchor_name);
      schedule_injective_stage(attempt, output, context);
    } else {
      std::vector<std::string> loops = attempt.loops(output_name);
      std::vector<std::string> outer(loops.begin(), loops.end() - 1);
      int lanes = context.lanes(output->dtype.dtype);
      if (lanes > 1 && output->shape.back() >= lanes) {
        auto [vector_outer, vector_inner] = attempt.split(output_name, loops.back(), lanes);
        attempt.vectorize(output_name, vector_inner);
      }
      std::string row = outer.size() > 1 ? attempt.fuse(output_name, outer) : outer[0];
      // Inside one iteration of `row` the anchor's region is one row: its own loops stay serial.
      ScheduleContext serial = context;
      serial.num_cores = 1;
      schedule_reduction_stage(attempt, anchor, serial);
      attempt.compute_at(anchor_name, output_name, row);
      if (context.num_cores > 1) attempt.parallel(output_name, row);
    }
  } catch (const Error&) {
    return {};
  }
  schedule = attempt;
  return {anchor, output};
}

void schedule_all_stages(te::Schedule& schedule, const std::vector<te::Tensor>& outputs,
                         const ScheduleContext& context) {
  std::vector<te::Tensor> done;
  if (context.anchor && !outputs.empty())
    done = schedule_fused_epilogue(schedule, outputs[0], context);
  for (const te::Tensor& stage : compute_stages(outputs)) {
    if (std::find(done.begin(), done.end(), stage) == done.end()) {
      schedule_stage(schedule, stage, context);
    }
  }
}

}  // namespace kiln::op
