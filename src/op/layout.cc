// Layout strings (layout.h) and the layout_transform operator.
#include "op/layout.h"

#include <cctype>
#include <string>
#include <vector>

#include "ir/op.h"
#include "kiln/error.h"
#include "op/eval_util.h"
#include "op/op_util.h"

namespace kiln::op {

Layout Layout::parse(std::string_view text) {
  Layout layout;
  layout.name_ = std::string(text);
  auto bad = [&](const std::string& why) -> Error {
    return Error("layout \"" + std::string(text) + "\": " + why);
  };
  size_t i = 0;
  while (i < text.size()) {
    char c = text[i];
    if (std::isupper(static_cast<unsigned char>(c))) {
      layout.axes_.push_back({c, 0});
      ++i;
      continue;
    }
    if (!std::isdigit(static_cast<unsigned char>(c))) {
      throw bad(std::string("unexpected character '") + c +
                "' (axes are upper-case letters, blocks <factor><lower-case letter>)");
    }
    int64_t factor = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      factor = factor * 10 + (text[i] - '0');
      if (factor > (int64_t{1} << 30)) throw bad("block factor too large");
      ++i;
    }
    if (i == text.size() || !std::islower(static_cast<unsigned char>(text[i]))) {
      throw bad("a block factor must be followed by a lower-case axis letter");
    }
    if (factor < 1) throw bad("block factors must be positive");
    layout.axes_.push_back(
        {static_cast<char>(std::toupper(static_cast<unsigned char>(text[i]))), factor});
    ++i;
  }
  for (size_t a = 0; a < layout.axes_.size(); ++a) {
    for (size_t b = 0; b < a; ++b) {
      if (layout.axes_[a].primal == layout.axes_[b].primal &&
          (layout.axes_[a].block == 0) == (layout.axes_[b].block == 0)) {
        throw bad(std::string("axis '") + layout.axes_[a].primal + "' appears twice");
      }
    }
  }
  for (const Axis& axis : layout.axes_) {
    if (axis.block != 0 && layout.primal_position(axis.primal) < 0) {
      throw bad(std::string("block axis of '") + axis.primal + "' without the axis itself");
    }
  }
  return layout;
}

int64_t Layout::primal_position(char primal) const {
  for (size_t i = 0; i < axes_.size(); ++i) {
    if (axes_[i].primal == primal && axes_[i].block == 0) return static_cast<int64_t>(i);
  }
  return -1;
}

int64_t Layout::block_position(char primal) const {
  for (size_t i = 0; i < axes_.size(); ++i) {
    if (axes_[i].primal == primal && axes_[i].block != 0) return static_cast<int64_t>(i);
  }
  return -1;
}

int64_t Layout::block_size(char primal) const {
  int64_t position = block_position(primal);
  return position < 0 ? 1 : axes_[static_cast<size_t>(position)].block;
}

bool Layout::same_primal_axes(const Layout& other) const {
  size_t count = 0;
  for (const Axis& axis : axes_) {
    if (axis.block != 0) continue;
    ++count;
    if (other.primal_position(axis.primal) < 0) return false;
  }
  size_t other_count = 0;
  for (const Axis& axis : other.axes_) other_count += axis.block == 0 ? 1 : 0;
  return count == other_count;
}

std::vector<int64_t> transformed_shape(const std::vector<int64_t>& shape, const Layout& src,
                                       const Layout& dst, std::string_view op_name) {
  if (shape.size() != src.rank()) {
    type_error(op_name, "layout \"" + src.name() + "\" has " + std::to_string(src.rank()) +
                            " axes but the tensor has rank " + std::to_string(shape.size()));
  }
  if (!src.same_primal_axes(dst)) {
    type_error(op_name, "layouts \"" + src.name() + "\" and \"" + dst.name() +
                            "\" do not have the same axes");
  }
  std::vector<int64_t> result;
  for (const Layout::Axis& axis : dst.axes()) {
    int64_t extent =
        shape[static_cast<size_t>(src.primal_position(axis.primal))] * src.block_size(axis.primal);
    int64_t block = dst.block_size(axis.primal);
    if (extent % block != 0) {
      type_error(op_name, std::string("axis '") + axis.primal + "' of size " +
                              std::to_string(extent) + " is not divisible by the block size " +
                              std::to_string(block) + " of layout \"" + dst.name() + "\"");
    }
    result.push_back(axis.block == 0 ? extent / block : block);
  }
  return result;
}

namespace {

constexpr std::string_view kOp = "layout_transform";

Type infer_layout_transform(const std::vector<Type>& args, const ir::Attrs& attrs) {
  const TensorType& data = tensor_arg(args, 0, kOp);
  Layout src = Layout::parse(attrs.get_string("src_layout"));
  Layout dst = Layout::parse(attrs.get_string("dst_layout"));
  if (!data.is_static()) {
    type_error(kOp, "needs a static shape, got " + data.to_string());
  }
  Shape shape;
  for (int64_t dim : transformed_shape(data.static_shape(), src, dst, kOp)) shape.emplace_back(dim);
  return TensorType{data.dtype, shape};
}

Tensor eval_layout_transform(const std::vector<Tensor>& args, const ir::Attrs& attrs,
                             const TensorType& result) {
  Layout src = Layout::parse(attrs.get_string("src_layout"));
  Layout dst = Layout::parse(attrs.get_string("dst_layout"));
  std::vector<int64_t> strides = row_major_strides(args[0].shape());
  auto div = [](int64_t a, int64_t b) { return a / b; };  // indices are non-negative
  auto mod = [](int64_t a, int64_t b) { return a % b; };
  return copy_from_input(args[0], result, [&](const std::vector<int64_t>& out) {
    std::vector<int64_t> in = source_index(src, dst, out, div, mod);
    int64_t flat = 0;
    for (size_t d = 0; d < in.size(); ++d) flat += in[d] * strides[d];
    return flat;
  });
}

}  // namespace

void register_layout_ops(ir::OpRegistry& registry) {
  ir::OpDef def;
  def.name = std::string(kOp);
  def.family = "transform";
  def.summary = "moves a tensor between two layouts (NCHW <-> NCHW16c, OIHW -> OIHW16i16o, ...)";
  def.min_args = 1;
  def.max_args = 1;
  def.attrs = {attr_string("src_layout", std::nullopt, "the layout of the input"),
               attr_string("dst_layout", std::nullopt, "the layout of the result")};
  def.pattern = ir::OpPattern::kInjective;
  def.infer_type = infer_layout_transform;
  def.evaluate = eval_layout_transform;
  registry.add(std::move(def));
}

}  // namespace kiln::op
