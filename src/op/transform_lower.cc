// Computes of the transform family (src/op/transform*.cc): each output element reads one input
// element (or a constant) at an index computed from the output index. All are single-stage and
// use the generic injective schedule; split returns one stage per part.
//
// Indices read from tensors (gather, gather_elements, gather_nd, scatter_elements, scatter_nd)
// wrap once when negative and are checked at run time: an index out of range stops the kernel
// with an error naming the operator, the index and the axis, as onnxruntime refuses it (one
// compare per index read; see tir::checked_index). scatter_elements is a gather in disguise: each
// output element finds the updates aimed at it by a reduction over the scattered axis. Not lowered:
// shape_of / size_of (folded as constants), range and non_zero (data-dependent shapes; folded when
// constant).
#include <algorithm>
#include <limits>
#include <string>
#include <vector>

#include "ir/attrs.h"
#include "kiln/error.h"
#include "op/lower_util.h"
#include "op/op_util.h"
#include "tir/checked_index.h"

namespace kiln::op {
namespace {

using ir::Attrs;
using Exprs = std::vector<PrimExpr>;
using tir::IterVar;

// ---------------------------------------------------------------------------------------------
// Reshape-like: reshape, squeeze, unsqueeze (same elements in the same order).

// The input index of output index `out` when only size-1 dims differ between the shapes (the
// common squeeze / unsqueeze / flatten-of-ones case): the other dims correspond in order.
bool map_without_ones(const std::vector<int64_t>& in_shape, const std::vector<int64_t>& out_shape,
                      const Exprs& out, Exprs& in) {
  std::vector<size_t> out_dims;
  for (size_t d = 0; d < out_shape.size(); ++d) {
    if (out_shape[d] != 1) out_dims.push_back(d);
  }
  size_t next = 0;
  in.clear();
  for (int64_t dim : in_shape) {
    if (dim == 1) {
      in.push_back(PrimExpr(0));
      continue;
    }
    if (next >= out_dims.size() || out_shape[out_dims[next]] != dim) return false;
    in.push_back(out[out_dims[next++]]);
  }
  return next == out_dims.size();
}

std::vector<te::Tensor> reshape_compute(const std::string& name,
                                        const std::vector<te::Tensor>& inputs, const Attrs&,
                                        const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  std::vector<int64_t> out_shape = result_shape(result);
  return {te::compute(
      out_shape,
      [&](const Indices& i) {
        Exprs out = as_exprs(i), in;
        if (!map_without_ones(data->shape, out_shape, out, in)) {
          in = unflatten_index(flatten_index(out, out_shape), data->shape);
        }
        return data(in);
      },
      name, "injective")};
}

// ---------------------------------------------------------------------------------------------

std::vector<te::Tensor> transpose_compute(const std::vector<te::Tensor>& inputs, const Attrs& attrs,
                                          const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  auto rank = static_cast<int64_t>(data->shape.size());
  std::vector<int64_t> permutation = attrs.get_ints("axes");
  if (permutation.empty()) {
    for (int64_t d = rank - 1; d >= 0; --d) permutation.push_back(d);
  }
  for (int64_t& axis : permutation) axis = normalize_axis(axis, rank, "transpose");
  return {te::compute(
      result_shape(result),
      [&](const Indices& i) {
        Exprs in(data->shape.size());
        // Output dim d is input dim permutation[d].
        for (size_t d = 0; d < permutation.size(); ++d) {
          in[static_cast<size_t>(permutation[d])] = PrimExpr(i[d]);
        }
        return data(in);
      },
      "transpose", "injective")};
}

std::vector<te::Tensor> expand_compute(const std::vector<te::Tensor>& inputs, const Attrs&,
                                       const ir::Type& result) {
  std::vector<int64_t> out_shape = result_shape(result);
  return {te::compute(
      out_shape,
      [&](const Indices& i) { return broadcast_read(inputs[0], as_exprs(i), out_shape); }, "expand",
      "broadcast")};
}

std::vector<te::Tensor> tile_compute(const std::vector<te::Tensor>& inputs, const Attrs&,
                                     const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  return {te::compute(
      result_shape(result),
      [&](const Indices& i) {
        Exprs in;
        for (size_t d = 0; d < data->shape.size(); ++d) {
          int64_t dim = data->shape[d];
          in.push_back(dim == 1 ? PrimExpr(0) : tir::floormod(PrimExpr(i[d]), PrimExpr(dim)));
        }
        return data(in);
      },
      "tile", "injective")};
}

std::vector<te::Tensor> concat_compute(const std::vector<te::Tensor>& inputs, const Attrs& attrs,
                                       const ir::Type& result) {
  std::vector<int64_t> out_shape = result_shape(result);
  auto axis = static_cast<size_t>(
      normalize_axis(attrs.get_int("axis"), static_cast<int64_t>(out_shape.size()), "concat"));
  // Empty inputs contribute nothing and have nothing to read.
  std::vector<te::Tensor> parts;
  std::vector<int64_t> offsets;
  int64_t offset = 0;
  for (const te::Tensor& input : inputs) {
    if (input->shape[axis] == 0) continue;
    parts.push_back(input);
    offsets.push_back(offset);
    offset += input->shape[axis];
  }
  DType dtype = result_tensor(result).dtype;
  return {te::compute(
      out_shape,
      [&](const Indices& i) {
        Exprs out = as_exprs(i);
        auto read_part = [&](size_t k) {
          Exprs in = out;
          int64_t size = parts[k]->shape[axis];
          // Clamped: every part is read whichever one the select picks.
          in[axis] = parts.size() == 1 ? out[axis] : clamp_index(out[axis] - offsets[k], size);
          return parts[k](in);
        };
        if (parts.empty()) return constant(dtype, 0);  // an empty output
        PrimExpr value = read_part(parts.size() - 1);
        for (size_t k = parts.size() - 1; k-- > 0;) {
          value = tir::select(out[axis] < PrimExpr(offsets[k + 1]), read_part(k), value);
        }
        return value;
      },
      "concat", "injective")};
}

std::vector<te::Tensor> split_compute(const std::vector<te::Tensor>& inputs, const Attrs& attrs,
                                      const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  auto axis = static_cast<size_t>(
      normalize_axis(attrs.get_int("axis"), static_cast<int64_t>(data->shape.size()), "split"));
  std::vector<te::Tensor> parts;
  int64_t offset = 0;
  for (const std::vector<int64_t>& shape : tuple_shapes(result)) {
    parts.push_back(te::compute(
        shape,
        [&](const Indices& i) {
          Exprs in = as_exprs(i);
          if (offset != 0) in[axis] = in[axis] + offset;
          return data(in);
        },
        "split" + std::to_string(parts.size()), "injective"));
    offset += shape[axis];
  }
  return parts;
}

// ---------------------------------------------------------------------------------------------
// strided_slice (ONNX Slice on static dims, as the type relation in transform_index.cc).

struct AxisSlice {
  int64_t start = 0;
  int64_t step = 1;
};

AxisSlice slice_axis(int64_t dim, int64_t begin, int64_t step) {
  if (begin < 0) begin += dim;
  int64_t start =
      step > 0 ? std::clamp<int64_t>(begin, 0, dim) : std::clamp<int64_t>(begin, -1, dim - 1);
  return {start, step};
}

std::vector<te::Tensor> strided_slice_compute(const std::vector<te::Tensor>& inputs,
                                              const Attrs& attrs, const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  auto rank = static_cast<int64_t>(data->shape.size());
  const std::vector<int64_t>& begin = attrs.get_ints("begin");
  std::vector<int64_t> axes = attrs.get_ints("axes");
  std::vector<int64_t> strides = attrs.get_ints("strides");
  if (axes.empty()) {
    for (size_t k = 0; k < begin.size(); ++k) axes.push_back(static_cast<int64_t>(k));
  }
  if (strides.empty()) strides.assign(begin.size(), 1);
  std::vector<AxisSlice> slices(data->shape.size());
  for (size_t k = 0; k < axes.size(); ++k) {
    auto axis = static_cast<size_t>(normalize_axis(axes[k], rank, "strided_slice"));
    slices[axis] = slice_axis(data->shape[axis], begin[k], strides[k]);
  }
  return {te::compute(
      result_shape(result),
      [&](const Indices& i) {
        Exprs in;
        for (size_t d = 0; d < slices.size(); ++d) {
          PrimExpr index = PrimExpr(i[d]);
          if (slices[d].step != 1) index = index * slices[d].step;
          if (slices[d].start != 0) index = index + slices[d].start;
          in.push_back(index);
        }
        return data(in);
      },
      "strided_slice", "injective")};
}

// ---------------------------------------------------------------------------------------------
// pad: constant, reflect or edge (negative pads crop).

std::vector<te::Tensor> pad_compute(const std::vector<te::Tensor>& inputs, const Attrs& attrs,
                                    const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  const std::vector<int64_t>& pads = attrs.get_ints("pads");
  const std::string& mode = attrs.get_string("mode");
  size_t rank = data->shape.size();
  DType dtype = data->dtype.dtype;
  PrimExpr fill = constant(dtype, attrs.get_float("value"));
  std::vector<int64_t> out_shape = result_shape(result);
  bool empty_input = std::find(data->shape.begin(), data->shape.end(), 0) != data->shape.end();
  return {te::compute(
      out_shape,
      [&](const Indices& i) {
        Exprs in;
        std::vector<bool> checked;
        for (size_t d = 0; d < rank; ++d) {
          int64_t size = data->shape[d];
          PrimExpr index = pads[d] == 0 ? PrimExpr(i[d]) : PrimExpr(i[d]) - pads[d];
          bool grows = pads[d] > 0 || pads[d + rank] > 0;
          checked.push_back(grows && mode == "constant");
          if (!grows || mode == "constant" || size == 0) {
            in.push_back(index);
          } else if (mode == "edge") {
            in.push_back(clamp_index(index, size));
          } else if (size == 1) {  // reflect of a single element
            in.push_back(PrimExpr(0));
          } else {
            // Mirror without repeating the edge, any number of times (numpy's "reflect").
            int64_t period = 2 * (size - 1);
            PrimExpr folded = tir::floormod(index, PrimExpr(period));
            in.push_back(tir::select(folded < PrimExpr(size), folded, PrimExpr(period) - folded));
          }
        }
        // Nothing to read from an empty input: every element is the fill value.
        if (empty_input) return fill;
        return read_or(data, in, checked, fill);
      },
      "pad", "injective")};
}

// ---------------------------------------------------------------------------------------------
// depth_to_space / space_to_depth (the reference's index formulas).

std::vector<te::Tensor> depth_to_space_compute(const std::vector<te::Tensor>& inputs,
                                               const Attrs& attrs, const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  int64_t block = attrs.get_int("block_size");
  bool dcr = attrs.get_string("mode") == "DCR";
  std::vector<int64_t> out_shape = result_shape(result);
  int64_t out_channels = out_shape[1];
  return {te::compute(
      out_shape,
      [&](const Indices& axes) {
        Exprs i = as_exprs(axes);
        PrimExpr row = tir::floormod(i[2], PrimExpr(block));
        PrimExpr col = tir::floormod(i[3], PrimExpr(block));
        // DCR: the block offset is the outer part of the channel; CRD: the inner part.
        PrimExpr channel =
            dcr ? (row * block + col) * out_channels + i[1] : (i[1] * block + row) * block + col;
        return data(i[0], channel, tir::floordiv(i[2], PrimExpr(block)),
                    tir::floordiv(i[3], PrimExpr(block)));
      },
      "depth_to_space", "injective")};
}

std::vector<te::Tensor> space_to_depth_compute(const std::vector<te::Tensor>& inputs,
                                               const Attrs& attrs, const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  int64_t block = attrs.get_int("block_size");
  int64_t in_channels = data->shape[1];
  return {te::compute(
      result_shape(result),
      [&](const Indices& axes) {
        Exprs i = as_exprs(axes);
        PrimExpr offset = tir::floordiv(i[1], PrimExpr(in_channels));
        PrimExpr channel = tir::floormod(i[1], PrimExpr(in_channels));
        PrimExpr row = tir::floordiv(offset, PrimExpr(block));
        PrimExpr col = tir::floormod(offset, PrimExpr(block));
        return data(i[0], channel, i[2] * block + row, i[3] * block + col);
      },
      "space_to_depth", "injective")};
}

// ---------------------------------------------------------------------------------------------
// Indexing by tensor values.

// A data index read from an index tensor: int64, negative values counted from the end, then
// checked to be in [0, extent) (`op` and `axis` name it in the error).
PrimExpr data_index(const PrimExpr& value, int64_t extent, size_t axis, const char* op) {
  return tir::checked_index(value, extent, static_cast<int64_t>(axis), op);
}

std::vector<te::Tensor> gather_compute(const std::vector<te::Tensor>& inputs, const Attrs& attrs,
                                       const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  const te::Tensor& indices = inputs[1];
  auto axis = static_cast<size_t>(
      normalize_axis(attrs.get_int("axis"), static_cast<int64_t>(data->shape.size()), "gather"));
  size_t index_rank = indices->shape.size();
  return {te::compute(
      result_shape(result),
      [&](const Indices& axes) {
        Exprs out = as_exprs(axes);
        // out = data[:axis] + indices + data[axis + 1:]
        Exprs position(out.begin() + static_cast<long>(axis),
                       out.begin() + static_cast<long>(axis + index_rank));
        Exprs in(out.begin(), out.begin() + static_cast<long>(axis));
        in.push_back(data_index(indices(position), data->shape[axis], axis, "Gather"));
        in.insert(in.end(), out.begin() + static_cast<long>(axis + index_rank), out.end());
        return data(in);
      },
      "gather", "injective")};
}

// out[prefix, rest] = data[prefix[:batch_dims], indices[prefix, 0..L), rest] where prefix indexes
// indices without its last dim (the tuple of length L).
std::vector<te::Tensor> gather_nd_compute(const std::vector<te::Tensor>& inputs, const Attrs& attrs,
                                          const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  const te::Tensor& indices = inputs[1];
  auto batch_dims = static_cast<size_t>(attrs.get_int("batch_dims"));
  size_t prefix_rank = indices->shape.size() - 1;
  auto tuple_length = static_cast<size_t>(indices->shape.back());
  return {te::compute(
      result_shape(result),
      [&](const Indices& axes) {
        Exprs out = as_exprs(axes);
        Exprs prefix(out.begin(), out.begin() + static_cast<long>(prefix_rank));
        Exprs in(out.begin(), out.begin() + static_cast<long>(batch_dims));
        for (size_t k = 0; k < tuple_length; ++k) {
          Exprs at = prefix;
          at.push_back(PrimExpr(static_cast<int64_t>(k)));
          in.push_back(
              data_index(indices(at), data->shape[batch_dims + k], batch_dims + k, "GatherND"));
        }
        in.insert(in.end(), out.begin() + static_cast<long>(prefix_rank), out.end());
        return data(in);
      },
      "gather_nd", "injective")};
}

// Scatter with a reduction: the updates aimed at an output position, combined over reduce axis
// `over` (positions no update aims at get the reduction's identity).
PrimExpr reduce_aimed_updates(const std::string& reduction, const PrimExpr& aimed,
                              const PrimExpr& update, DType dtype, const IterVar& over) {
  if (reduction == "add") return te::sum(tir::select(aimed, update, constant(dtype, 0)), {over});
  if (reduction == "mul") return te::prod(tir::select(aimed, update, constant(dtype, 1)), {over});
  if (reduction == "max") {
    return te::max_reduce(tir::select(aimed, update, lowest_value(dtype)), {over});
  }
  return te::min_reduce(tir::select(aimed, update, highest_value(dtype)), {over});
}

// The data value combined with the reduced updates (the identity leaves untouched data as is).
PrimExpr combine_updates(const std::string& reduction, const PrimExpr& data,
                         const PrimExpr& updates) {
  if (reduction == "add") return data + updates;
  if (reduction == "mul") return data * updates;
  if (reduction == "max") return tir::max(data, updates);
  return tir::min(data, updates);
}

// scatter_elements: update j (an index of `indices`) targets the data position j with its `axis`
// coordinate replaced by indices[j]. So the updates aimed at output position p are those with
// j = p except along `axis` (when p is inside the indices' shape there) and indices[j] == p[axis]:
// one reduction over j[axis] finds them. With reduction none the last such update wins (ONNX
// leaves duplicates undefined; the reference applies updates in order); otherwise the updates
// combine with the data value.
std::vector<te::Tensor> scatter_elements_compute(const std::vector<te::Tensor>& inputs,
                                                 const Attrs& attrs, const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  const te::Tensor& indices = inputs[1];
  const te::Tensor& updates = inputs[2];
  std::vector<int64_t> shape = result_shape(result);
  auto axis = static_cast<size_t>(normalize_axis(
      attrs.get_int("axis"), static_cast<int64_t>(shape.size()), "scatter_elements"));
  const std::string& reduction = attrs.get_string("reduction");
  DType dtype = data->dtype.dtype;
  const std::vector<int64_t>& update_shape = indices->shape;
  int64_t updates_along = update_shape[axis];

  // The update index for output position `p` and candidate `r` along the axis (clamped, so that a
  // read is in bounds even where `aimed` is false), and whether it targets `p`.
  auto candidate = [&](const Exprs& p, const PrimExpr& r) {
    Exprs j;
    PrimExpr inside;
    for (size_t d = 0; d < shape.size(); ++d) {
      if (d == axis) {
        j.push_back(r);
        continue;
      }
      j.push_back(clamp_index(p[d], update_shape[d]));
      if (update_shape[d] < shape[d]) {
        PrimExpr in_range = p[d] < PrimExpr(update_shape[d]);
        inside = inside ? tir::logical_and(inside, in_range) : in_range;
      }
    }
    PrimExpr aimed = data_index(indices(j), shape[axis], axis, "ScatterElements") == p[axis];
    if (inside) aimed = tir::logical_and(inside, aimed);
    return std::make_pair(j, aimed);
  };

  if (reduction == "none") {
    te::Tensor winner = te::compute(
        shape,
        [&](const Indices& axes) {
          Exprs p = as_exprs(axes);
          IterVar r = te::reduce_axis(updates_along, "r");
          PrimExpr aimed = candidate(p, PrimExpr(r.var)).second;
          return te::max_reduce(tir::select(aimed, PrimExpr(r.var), PrimExpr(-1)), {r});
        },
        "scatter_winner", "reduce");
    return {te::compute(
        shape,
        [&](const Indices& axes) {
          Exprs p = as_exprs(axes);
          PrimExpr last = winner(p);
          Exprs j = candidate(p, clamp_index(last, updates_along)).first;
          return tir::select(last >= PrimExpr(0), updates(j), data(p));
        },
        "scatter_elements", "injective")};
  }

  te::Tensor combined = te::compute(
      shape,
      [&](const Indices& axes) {
        Exprs p = as_exprs(axes);
        IterVar r = te::reduce_axis(updates_along, "r");
        auto [j, aimed] = candidate(p, PrimExpr(r.var));
        PrimExpr u = updates(j);
        return reduce_aimed_updates(reduction, aimed, u, dtype, r);
      },
      "scatter_updates", "reduce");
  return {te::compute(
      shape,
      [&](const Indices& axes) {
        Exprs p = as_exprs(axes);
        return combine_updates(reduction, data(p), combined(p));
      },
      "scatter_elements", "injective")};
}

// scatter_nd: update tuple t (an index of indices without its last dim, flattened) targets the
// slice data[indices[t, 0..L), ...]. Output position p takes the updates of the tuples that equal
// p[0..L), read at updates[t, p[L:]]: one reduction over t finds them (the last one wins with
// reduction none, as in scatter_elements).
std::vector<te::Tensor> scatter_nd_compute(const std::vector<te::Tensor>& inputs,
                                           const Attrs& attrs, const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  const te::Tensor& indices = inputs[1];
  const te::Tensor& updates = inputs[2];
  std::vector<int64_t> shape = result_shape(result);
  const std::string& reduction = attrs.get_string("reduction");
  DType dtype = data->dtype.dtype;
  std::vector<int64_t> prefix_shape(indices->shape.begin(), indices->shape.end() - 1);
  auto tuple_length = static_cast<size_t>(indices->shape.back());
  int64_t tuples = 1;
  for (int64_t dim : prefix_shape) tuples *= dim;

  // The indices prefix of flat tuple number t.
  auto unravel = [&](const PrimExpr& t) {
    Exprs prefix(prefix_shape.size());
    int64_t stride = 1;
    for (size_t d = prefix_shape.size(); d-- > 0;) {
      prefix[d] = tir::floormod(tir::floordiv(t, PrimExpr(stride)), PrimExpr(prefix_shape[d]));
      stride *= prefix_shape[d];
    }
    return prefix;
  };
  // Whether tuple t targets output position p (tuples have length >= 1: the type relation).
  auto aimed_at = [&](const Exprs& p, const PrimExpr& t) {
    Exprs prefix = unravel(t);
    PrimExpr aimed;
    for (size_t k = 0; k < tuple_length; ++k) {
      Exprs at = prefix;
      at.push_back(PrimExpr(static_cast<int64_t>(k)));
      PrimExpr equal = data_index(indices(at), shape[k], k, "ScatterND") == p[k];
      aimed = aimed ? tir::logical_and(aimed, equal) : equal;
    }
    return aimed;
  };
  // updates[prefix of t, p[L:]].
  auto update_at = [&](const Exprs& p, const PrimExpr& t) {
    Exprs j = unravel(t);
    j.insert(j.end(), p.begin() + static_cast<long>(tuple_length), p.end());
    return updates(j);
  };

  if (reduction == "none") {
    te::Tensor winner = te::compute(
        shape,
        [&](const Indices& axes) {
          Exprs p = as_exprs(axes);
          IterVar t = te::reduce_axis(tuples, "t");
          return te::max_reduce(
              tir::select(aimed_at(p, PrimExpr(t.var)), PrimExpr(t.var), PrimExpr(-1)), {t});
        },
        "scatter_winner", "reduce");
    return {te::compute(
        shape,
        [&](const Indices& axes) {
          Exprs p = as_exprs(axes);
          PrimExpr last = winner(p);
          return tir::select(last >= PrimExpr(0), update_at(p, clamp_index(last, tuples)), data(p));
        },
        "scatter_nd", "injective")};
  }

  te::Tensor combined = te::compute(
      shape,
      [&](const Indices& axes) {
        Exprs p = as_exprs(axes);
        IterVar t = te::reduce_axis(tuples, "t");
        PrimExpr aimed = aimed_at(p, PrimExpr(t.var));
        PrimExpr u = update_at(p, PrimExpr(t.var));
        return reduce_aimed_updates(reduction, aimed, u, dtype, t);
      },
      "scatter_updates", "reduce");
  return {te::compute(
      shape,
      [&](const Indices& axes) {
        Exprs p = as_exprs(axes);
        return combine_updates(reduction, data(p), combined(p));
      },
      "scatter_nd", "injective")};
}

std::vector<te::Tensor> gather_elements_compute(const std::vector<te::Tensor>& inputs,
                                                const Attrs& attrs, const ir::Type& result) {
  const te::Tensor& data = inputs[0];
  const te::Tensor& indices = inputs[1];
  auto axis = static_cast<size_t>(normalize_axis(
      attrs.get_int("axis"), static_cast<int64_t>(data->shape.size()), "gather_elements"));
  return {te::compute(
      result_shape(result),
      [&](const Indices& axes) {
        Exprs in = as_exprs(axes);
        in[axis] = data_index(indices(as_exprs(axes)), data->shape[axis], axis, "GatherElements");
        return data(in);
      },
      "gather_elements", "injective")};
}

std::vector<te::Tensor> one_hot_compute(const std::vector<te::Tensor>& inputs, const Attrs& attrs,
                                        const ir::Type& result) {
  const te::Tensor& indices = inputs[0];
  const ir::TensorType& type = result_tensor(result);
  std::vector<int64_t> out_shape = type.static_shape();
  auto axis = static_cast<size_t>(
      normalize_axis(attrs.get_int("axis"), static_cast<int64_t>(out_shape.size()), "one_hot"));
  int64_t depth = out_shape[axis];
  PrimExpr on = constant(type.dtype, attrs.get_float("on_value"));
  PrimExpr off = constant(type.dtype, attrs.get_float("off_value"));
  return {te::compute(
      out_shape,
      [&](const Indices& axes) {
        Exprs out = as_exprs(axes);
        Exprs position = out;
        position.erase(position.begin() + static_cast<long>(axis));
        // Indices in [-depth, depth) select a position; others give an all-off row (ONNX).
        PrimExpr index = tir::cast(tir::index_type(), indices(position));
        index = tir::select(index < PrimExpr(0), index + depth, index);
        return tir::select(index == out[axis], on, off);
      },
      "one_hot", "injective")};
}

std::vector<te::Tensor> full_compute(const std::vector<te::Tensor>&, const Attrs& attrs,
                                     const ir::Type& result) {
  const ir::TensorType& type = result_tensor(result);
  PrimExpr value = constant(type.dtype, attrs.get_float("fill_value"));
  return {te::compute(
      type.static_shape(), [&](const Indices&) { return value; }, "full", "injective")};
}

OpImpl reshape_like(const std::string& name) {
  return OpImpl{
      [name](const std::vector<te::Tensor>& inputs, const Attrs& attrs, const ir::Type& result) {
        return reshape_compute(name, inputs, attrs, result);
      },
      nullptr};
}

}  // namespace

void register_transform_impls() {
  for (const char* name : {"reshape", "squeeze", "unsqueeze"}) {
    register_impl(name, reshape_like(name));
  }
  register_impl("transpose", OpImpl{transpose_compute, nullptr});
  register_impl("expand", OpImpl{expand_compute, nullptr});
  register_impl("tile", OpImpl{tile_compute, nullptr});
  register_impl("concat", OpImpl{concat_compute, nullptr});
  register_impl("split", OpImpl{split_compute, schedule_all_stages});
  register_impl("strided_slice", OpImpl{strided_slice_compute, nullptr});
  register_impl("pad", OpImpl{pad_compute, nullptr});
  register_impl("depth_to_space", OpImpl{depth_to_space_compute, nullptr});
  register_impl("space_to_depth", OpImpl{space_to_depth_compute, nullptr});
  register_impl("gather", OpImpl{gather_compute, nullptr});
  register_impl("gather_elements", OpImpl{gather_elements_compute, nullptr});
  register_impl("gather_nd", OpImpl{gather_nd_compute, nullptr});
  register_impl("scatter_elements", OpImpl{scatter_elements_compute, schedule_all_stages});
  register_impl("scatter_nd", OpImpl{scatter_nd_compute, schedule_all_stages});
  register_impl("one_hot", OpImpl{one_hot_compute, nullptr});
  register_impl("full", OpImpl{full_compute, nullptr});
}

}  // namespace kiln::op
