// Sampling operators: values read at computed (fractional) positions of NCHW / NCDHW data.
// grid_sample (ONNX GridSample) samples at the normalized coordinates of a grid.
#include <string>
#include <vector>

#include "ir/op.h"
#include "op/nn/nn_util.h"
#include "op/op_util.h"

namespace kiln::op {
namespace {

// data [N, C, D1..Dr] (r = 2 or 3), grid [N, O1..Or, r] -> [N, C, O1..Or].
Type infer_grid_sample(const std::vector<Type>& args, const ir::Attrs& attrs) {
  constexpr std::string_view kOp = "grid_sample";
  const TensorType& data = tensor_arg(args, 0, kOp);
  const TensorType& grid = tensor_arg(args, 1, kOp);
  require_float(data, kOp, "data");
  require_float(grid, kOp, "grid");
  if (data.rank() != 4 && data.rank() != 5) {
    type_error(kOp, "data must have rank 4 (NCHW) or 5 (NCDHW), got " + data.to_string());
  }
  int64_t r = data.rank() - 2;
  if (grid.rank() != data.rank() || !dims_compatible(grid.shape[0], data.shape[0]) ||
      !dims_compatible(grid.shape.back(), Dim(r))) {
    type_error(kOp, "grid must have shape [N, out spatial..., " + std::to_string(r) +
                        "] for data " + data.to_string() + ", got " + grid.to_string());
  }
  nn::string_choice(attrs, "mode", {"linear", "nearest", "cubic"}, kOp);
  nn::string_choice(attrs, "padding_mode", {"zeros", "border", "reflection"}, kOp);
  nn::require_flag(attrs.get_int("align_corners"), "align_corners", kOp);
  Shape out = {data.shape[0], data.shape[1]};
  for (int64_t a = 1; a <= r; ++a) out.push_back(grid.shape[static_cast<size_t>(a)]);
  return TensorType{data.dtype, out};
}

}  // namespace

void register_sample_ops(ir::OpRegistry& registry) {
  registry.add(nn::make_op(
      "grid_sample",
      "samples NCHW / NCDHW data at a grid's normalized coordinates (ONNX GridSample)", 2, 2,
      {attr_string("mode", "linear", "linear, nearest or cubic interpolation"),
       attr_string("padding_mode", "zeros", "zeros, border or reflection outside the data"),
       attr_int("align_corners", 0, "-1 and 1 are the corner pixels' centres (else their edges)")},
      ir::OpPattern::kInjective, infer_grid_sample));
}

}  // namespace kiln::op
