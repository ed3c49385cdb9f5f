// The one list of operator families. A family registers its operators in its own file.
#include "ir/op.h"

namespace kiln::op {
void register_elemwise_ops(ir::OpRegistry& registry);      // op/elemwise.cc
void register_reduce_ops(ir::OpRegistry& registry);        // op/reduce.cc
void register_transform_ops(ir::OpRegistry& registry);     // op/transform.cc
void register_conv_ops(ir::OpRegistry& registry);          // op/nn/conv.cc
void register_pool_ops(ir::OpRegistry& registry);          // op/nn/pool.cc
void register_norm_ops(ir::OpRegistry& registry);          // op/nn/norm.cc
void register_dense_ops(ir::OpRegistry& registry);         // op/nn/dense.cc
void register_softmax_ops(ir::OpRegistry& registry);       // op/nn/softmax.cc
void register_rnn_ops(ir::OpRegistry& registry);           // op/nn/rnn.cc
void register_image_ops(ir::OpRegistry& registry);         // op/nn/image.cc
void register_einsum_ops(ir::OpRegistry& registry);        // op/einsum.cc
void register_bitcast_ops(ir::OpRegistry& registry);       // op/bitcast.cc
void register_layout_ops(ir::OpRegistry& registry);        // op/layout.cc
void register_conv_blocked_ops(ir::OpRegistry& registry);  // op/nn/conv_blocked.cc
void register_sample_ops(ir::OpRegistry& registry);        // op/nn/sample.cc
void register_conv3d_ops(ir::OpRegistry& registry);        // op/nn/conv3d.cc
}  // namespace kiln::op

namespace kiln::ir {

void register_all_ops(OpRegistry& registry) {
  op::register_elemwise_ops(registry);
  op::register_reduce_ops(registry);
  op::register_transform_ops(registry);
  op::register_conv_ops(registry);
  op::register_pool_ops(registry);
  op::register_norm_ops(registry);
  op::register_dense_ops(registry);
  op::register_softmax_ops(registry);
  op::register_rnn_ops(registry);
  op::register_image_ops(registry);
  op::register_sample_ops(registry);
  op::register_conv3d_ops(registry);
  op::register_einsum_ops(registry);
  op::register_bitcast_ops(registry);
  op::register_layout_ops(registry);
  op::register_conv_blocked_ops(registry);
}

}  // namespace kiln::ir
