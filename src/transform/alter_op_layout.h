// alter_op_layout: moves convolutions, and the elementwise work around them, into the CPU's
// channel-blocked layout NCHW[x]c, where a vector runs along a block of channels.
//
// In NCHW a convolution's vector runs along the image width: 7 of 16 lanes do work on a 7x7
// image, and a 1x1 convolution reads each weight as a scalar. In NCHW[x]c data [N, C/x, H, W, x]
// and OIHW[x]i[y]o weights, the vector runs along a block of output channels at every size, and
// each weight vector is one load (src/op/nn/conv_blocked_lower.cc).
//
// Expects:    a typed module with static shapes; after fold_scale_axis and simplify_expr (so the
//             biases are bias_adds and the weights constants), before fusion.
// Guarantees: every float32 conv2d with constant weights, groups 1 or depthwise (groups = channels)
//             and channel counts with a block (channel_block below) becomes conv2d_nchwc; its
//             weight becomes the OIHW[x]i[y]o constant (transformed here, at compile time).
//             A value already blocked keeps its layout through the operators that do not care
//             about it: unary elementwise operators; binary broadcasts whose other operand is
//             blocked alike, a constant per channel or scalar (the constant is transformed
//             here), or a plain value of the result's shape (transformed once for all its
//             blocked users); bias_add along the channels (it becomes an add of the blocked bias);
//             and max / average pooling; reductions over H and W. Every other use of a blocked
//             value, and the function's outputs, read it back in its original layout through one
//             layout_transform per value. Every float32 dense with a constant weight [N, K]
//             becomes a matmul with the weight transposed to [K, N] here (the kernel's vectors run
//             along N). Inputs, outputs, their names and types are unchanged.
// Run after:  fold_constant (it folds the weight transforms again: harmless).
#pragma once

#include <cstdint>

#include "ir/module.h"

namespace kiln::transform {

// `lanes`: float32 lanes of the target's vector registers (16 for AVX-512, 8 for AVX2).
ir::Module alter_op_layout(const ir::Module& module, int lanes);

// The same rewrite towards NHWC instead (desired_layout "NHWC", see convert_layout.h): every
// convertible conv2d computes on NHWC data with HWIO weights (conv2d_nchwc with a single channel
// block: data [N, H, W, C], weight [1, 1, KH, KW, C, O]); the same operators follow the NHWC
// value, except pooling, which reads NCHW.
ir::Module convert_to_nhwc(const ir::Module& module);

// The block for `channels`: `lanes` when it divides them, else the largest power of two below
// `lanes` that does (at least 4), else the channel count itself when it is below `lanes` (a
// 3-channel image), else 0: no block, the convolution stays NCHW.
int64_t channel_block(int64_t channels, int lanes);

}  // namespace kiln::transform
