// The transform family, part 3: operators that create tensors — shape_of, size_of, full, range.
// shape_of and size_of fold whenever their input's type is static, whatever its values.
#include <cmath>

#include "kiln/error.h"
#include "op/eval_util.h"
#include "op/op_util.h"

namespace kiln::op {
namespace {

using ir::Attrs;
using ir::OpDef;
using ir::OpPattern;

OpDef create_op(std::string name, std::string summary, int args, OpPattern pattern) {
  OpDef def;
  def.name = std::move(name);
  def.family = "transform";
  def.summary = std::move(summary);
  def.min_args = def.max_args = args;
  def.pattern = pattern;
  return def;
}

// shape_of and size_of read no elements, so they fuse with nothing: opaque, as in TVM.
OpDef make_shape_of_op() {
  OpDef def = create_op("shape_of", "the shape as int64[rank]", 1, OpPattern::kOpaque);
  def.infer_type = [](const std::vector<Type>& args, const Attrs&) -> Type {
    const TensorType& data = tensor_arg(args, 0, "shape_of");
    return ir::tensor_type(DType::kInt64, {data.rank()});
  };
  // Only the argument's shape is read: any tensor of the input's (static) type will do.
  def.evaluate = [](const std::vector<Tensor>& args, const Attrs&, const TensorType&) {
    return Tensor::from_int64s(args[0].shape());
  };
  return def;
}

OpDef make_size_of_op() {
  OpDef def = create_op("size_of", "the element count as an int64 scalar", 1, OpPattern::kOpaque);
  def.infer_type = [](const std::vector<Type>& args, const Attrs&) -> Type {
    tensor_arg(args, 0, "size_of");
    return ir::tensor_type(DType::kInt64, {});
  };
  def.evaluate = [](const std::vector<Tensor>& args, const Attrs&, const TensorType&) {
    return Tensor::from_int64s({args[0].numel()}, /*scalar=*/true);
  };
  return def;
}

OpDef make_full_op() {
  OpDef def = create_op("full", "a tensor of the given shape and dtype filled with one value", 0,
                        OpPattern::kInjective);
  def.attrs = {attr_ints("shape", std::nullopt), attr_float("fill_value", 0.0),
               attr_string("dtype", "float32")};
  def.infer_type = [](const std::vector<Type>&, const Attrs& attrs) -> Type {
    const std::vector<int64_t>& shape = attrs.get_ints("shape");
    for (int64_t dim : shape) {
      if (dim < 0) {
        type_error("full", "shape " + ir::attr_value_to_string(shape) + " has a negative dim");
      }
    }
    std::optional<DType> dtype = dtype_from_name(attrs.get_string("dtype"));
    if (!dtype) type_error("full", "unknown dtype \"" + attrs.get_string("dtype") + "\"");
    return ir::tensor_type(*dtype, shape);
  };
  def.evaluate = [](const std::vector<Tensor>&, const Attrs& attrs, const TensorType& result) {
    Tensor output = make_result(result);
    double value = attrs.get_float("fill_value");
    for (int64_t i = 0; i < output.numel(); ++i) output.set_element_from_double(i, value);
    return output;
  };
  return def;
}

// range: start, start + delta, ... while before limit. The length is max(ceil((limit - start) /
// delta), 0), computed exactly in integers for integer dtypes.
template <typename T>
Tensor evaluate_range(const Tensor& start_tensor, const Tensor& limit_tensor,
                      const Tensor& delta_tensor) {
  T start = load_element<T>(start_tensor, 0);
  T limit = load_element<T>(limit_tensor, 0);
  T delta = load_element<T>(delta_tensor, 0);
  if (delta == T{0}) type_error("range", "delta must not be 0");
  int64_t length = 0;
  if constexpr (std::is_floating_point_v<T>) {
    double steps = std::ceil((limit - start) / delta);
    if (!std::isfinite(steps)) type_error("range", "the length is not finite");
    length = steps > 0 ? static_cast<int64_t>(steps) : 0;
  } else {
    // The distance in uint64 is exact even where limit - start overflows T.
    auto distance = [](T from, T to) {
      return static_cast<uint64_t>(to) - static_cast<uint64_t>(from);
    };
    if (delta > T{0} && limit > start) {
      length =
          static_cast<int64_t>((distance(start, limit) - 1) / static_cast<uint64_t>(delta) + 1);
    } else if (delta < T{0} && start > limit) {
      uint64_t step = uint64_t{0} - static_cast<uint64_t>(delta);
      length = static_cast<int64_t>((distance(limit, start) - 1) / step + 1);
    }
  }
  Tensor output(start_tensor.dtype(), {length});
  T value = start;
  for (int64_t i = 0; i < length; ++i) {
    store_element(output, i, value);
    value = wrapping_add(value, delta);
  }
  return output;
}

OpDef make_range_op() {
  OpDef def = create_op("range", "start, start + delta, ... up to limit (exclusive); 1-D", 3,
                        OpPattern::kOpaque);
  def.infer_type = [](const std::vector<Type>& args, const Attrs&) -> Type {
    const char* names[] = {"start", "limit", "delta"};
    const TensorType& start = tensor_arg(args, 0, "range");
    for (size_t i = 0; i < 3; ++i) {
      const TensorType& arg = tensor_arg(args, i, "range");
      require_rank(arg, 0, "range", names[i]);
      require_same_dtype(start, arg, "range");
    }
    if (start.dtype == DType::kBool) type_error("range", "start must be numeric, got bool");
    TensorType result;
    result.dtype = start.dtype;
    result.shape = {Dim::unknown()};  // known only from the values
    return result;
  };
  // The result shape comes from the values (the type says "?").
  def.evaluate = [](const std::vector<Tensor>& args, const Attrs&, const TensorType&) {
    return with_math_type(args[0].dtype(), [&](auto tag) {
      return evaluate_range<decltype(tag)>(args[0], args[1], args[2]);
    });
  };
  return def;
}

}  // namespace

void register_transform_create_ops(ir::OpRegistry& registry) {
  registry.add(make_shape_of_op());
  registry.add(make_size_of_op());
  registry.add(make_full_op());
  registry.add(make_range_op());
}

}  // namespace kiln::op
