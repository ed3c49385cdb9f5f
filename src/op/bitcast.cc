// bitcast: the bits of a tensor read as another element type of the same size (ONNX BitCast).
// Same shape; little-endian bytes as stored. Types whose values do not own their bit patterns are
// refused: bool as a target (only 0 and 1 are bools), and the half / narrow floats, which Kiln
// computes widened to float32.
#include <cstring>
#include <string>
#include <vector>

#include "ir/op.h"
#include "op/eval_util.h"
#include "op/op_util.h"

namespace kiln::op {
namespace {

constexpr std::string_view kOp = "bitcast";

bool reinterpretable(DType dtype) {
  return dtype == DType::kFloat32 || dtype == DType::kFloat64 || dtype == DType::kBool ||
         ((dtype_is_integer(dtype)) && dtype_size(dtype) >= 1 && dtype != DType::kInt4 &&
          dtype != DType::kUInt4 && dtype != DType::kInt2 && dtype != DType::kUInt2);
}

DType target_dtype(const ir::Attrs& attrs) {
  const std::string& name = attrs.get_string("dtype");
  std::optional<DType> dtype = dtype_from_name(name);
  if (!dtype) type_error(kOp, "unknown dtype \"" + name + "\"");
  return *dtype;
}

Type infer_bitcast(const std::vector<Type>& args, const ir::Attrs& attrs) {
  const TensorType& data = tensor_arg(args, 0, kOp);
  DType to = target_dtype(attrs);
  if (to == DType::kBool || !reinterpretable(to) || !reinterpretable(data.dtype)) {
    type_error(kOp, "from " + std::string(dtype_name(data.dtype)) + " to " +
                        std::string(dtype_name(to)) +
                        " is not supported yet (float32, float64, bool as a source, and the "
                        "8-64-bit integers are)");
  }
  if (dtype_size(data.dtype) != dtype_size(to)) {
    type_error(kOp, std::string(dtype_name(data.dtype)) + " and " + std::string(dtype_name(to)) +
                        " have different sizes; BitCast needs the same bit width");
  }
  TensorType result = data;
  result.dtype = to;
  return result;
}

Tensor eval_bitcast(const std::vector<Tensor>& args, const ir::Attrs& /*attrs*/,
                    const TensorType& result) {
  Tensor out = make_result(result);
  std::memcpy(out.mutable_data(), args[0].data(), args[0].nbytes());
  return out;
}

}  // namespace

void register_bitcast_ops(ir::OpRegistry& registry) {
  ir::OpDef def;
  def.name = std::string(kOp);
  def.family = "elemwise";
  def.summary = "the bits of each element read as another type of the same size";
  def.min_args = 1;
  def.max_args = 1;
  def.attrs = {attr_string("dtype", std::nullopt, "the element type to read the bits as")};
  def.pattern = ir::OpPattern::kElemwise;
  def.infer_type = infer_bitcast;
  def.evaluate = eval_bitcast;
  registry.add(std::move(def));
}

}  // namespace kiln::op
