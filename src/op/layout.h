// Data layouts named by strings, and the index arithmetic that moves a tensor between two of them
// (the layout_transform operator, its evaluator and lowering, and the alter_op_layout pass).
//
// A layout lists the tensor's axes outermost first. An upper-case letter is a primal axis (N, C,
// H, W for data; O, I, H, W for weights); "<factor><lower-case letter>" is an inner block of the
// primal axis of that letter, holding `factor` consecutive elements of it, and the primal axis
// then counts the blocks. "NCHW16c" is NCHW data whose channels are cut into blocks of 16, the
// block innermost: shape [N, C/16, H, W, 16]. "OIHW16i16o" is an OIHW weight with both channel
// axes blocked: [O/16, I/16, H, W, 16, 16]. Two layouts of one tensor have the same primal axes;
// "NCHW" -> "NHWC" is a transpose.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace kiln::op {

class Layout {
 public:
  struct Axis {
    char primal;        // the primal axis this one belongs to (upper case)
    int64_t block = 0;  // 0: the primal axis itself; else the block size of the inner axis
  };

  // kiln::Error naming the text when it is malformed (a lower-case axis without a factor or
  // without its primal axis, a repeated axis, an unknown character).
  static Layout parse(std::string_view text);

  const std::vector<Axis>& axes() const { return axes_; }
  size_t rank() const { return axes_.size(); }
  const std::string& name() const { return name_; }
  // Position of the primal axis `primal` / of its block axis; -1 when absent.
  int64_t primal_position(char primal) const;
  int64_t block_position(char primal) const;
  // The block size of `primal`'s inner axis, 1 when it is not blocked.
  int64_t block_size(char primal) const;
  // Same primal axes (in any order).
  bool same_primal_axes(const Layout& other) const;

 private:
  std::vector<Axis> axes_;
  std::string name_;
};

// The shape of a tensor of shape `shape` in layout `src` once it is in layout `dst`. A kiln::Error
// (prefixed with `op_name`) when the layouts do not fit the shape or each other, or when a block
// size does not divide its axis.
std::vector<int64_t> transformed_shape(const std::vector<int64_t>& shape, const Layout& src,
                                       const Layout& dst, std::string_view op_name);

// For an index into the tensor in layout `dst`, the index of the same element in layout `src`.
// `Int` is int64_t (evaluation) or tir::PrimExpr (lowering); `div` and `mod` are floor division and
// modulo by a positive constant.
template <typename Int, typename Div, typename Mod>
std::vector<Int> source_index(const Layout& src, const Layout& dst, const std::vector<Int>& index,
                              Div div, Mod mod) {
  std::vector<Int> src_index;
  src_index.reserve(src.rank());
  for (const Layout::Axis& axis : src.axes()) {
    // The primal coordinate from the destination's primal and block axes.
    Int primal = index[static_cast<size_t>(dst.primal_position(axis.primal))];
    int64_t dst_block = dst.block_size(axis.primal);
    if (dst_block > 1) {
      primal =
          primal * Int(dst_block) + index[static_cast<size_t>(dst.block_position(axis.primal))];
    }
    int64_t src_block = src.block_size(axis.primal);
    if (src_block == 1) {
      src_index.push_back(primal);
    } else if (axis.block == 0) {
      src_index.push_back(div(primal, src_block));
    } else {
      src_index.push_back(mod(primal, src_block));
    }
  }
  return src_index;
}

}  // namespace kiln::op
