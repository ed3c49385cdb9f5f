// The operator lowering registry and the generic default schedule (see op_impl.h).
#include "op/op_impl.h"

#include <algorithm>
#include <map>

#include "kiln/error.h"
#include "op/lower_util.h"

namespace kiln::op {

// One registration function per lowering file; each calls register_impl for its operators.
void register_elemwise_impls();        // op/elemwise_lower.cc
void register_reduce_impls();          // op/reduce_lower.cc
void register_transform_impls();       // op/transform_lower.cc
void register_conv_impls();            // op/nn/conv_lower.cc
void register_pool_impls();            // op/nn/pool_lower.cc
void register_norm_impls();            // op/nn/norm_lower.cc
void register_dense_impls();           // op/nn/dense_lower.cc
void register_softmax_impls();         // op/nn/softmax_lower.cc
void register_image_impls();           // op/nn/image_lower.cc
void register_sample_impls();          // op/nn/sample_lower.cc
void register_conv3d_impls();          // op/nn/conv3d_lower.cc
void register_conv_transpose_impls();  // op/nn/conv_transpose_lower.cc
void register_rnn_impls();             // op/nn/rnn_lower.cc
void register_einsum_impls();          // op/einsum_lower.cc
void register_bitcast_impls();         // op/bitcast_lower.cc
void register_layout_impls();          // op/layout_lower.cc
void register_conv_blocked_impls();    // op/nn/conv_blocked_lower.cc

namespace {

std::map<std::string, OpImpl, std::less<>>& impl_table() {
  static std::map<std::string, OpImpl, std::less<>> table;
  return table;
}

}  // namespace

void register_all_impls() {
  register_elemwise_impls();
  register_reduce_impls();
  register_transform_impls();
  register_conv_impls();
  register_pool_impls();
  register_norm_impls();
  register_dense_impls();
  register_softmax_impls();
  register_image_impls();
  register_sample_impls();
  register_conv3d_impls();
  register_conv_transpose_impls();
  register_rnn_impls();
  register_einsum_impls();
  register_bitcast_impls();
  register_layout_impls();
  register_conv_blocked_impls();
}

int ScheduleContext::lanes(DType dtype) const {
  int bits = static_cast<int>(dtype_size(dtype)) * 8;
  return std::max(1, vector_bits / bits);
}

void register_impl(const std::string& op_name, OpImpl impl) {
  KILN_CHECK(impl.compute) << "operator " << op_name << " registered without a compute";
  impl_table().insert_or_assign(op_name, std::move(impl));
}

const OpImpl* find_impl(std::string_view op_name) {
  // The built-in lowerings register on first use, like the operator registry; a function-local
  // static makes that thread-safe.
  static const bool loaded = (register_all_impls(), true);
  (void)loaded;
  auto it = impl_table().find(op_name);
  return it == impl_table().end() ? nullptr : &it->second;
}

void default_schedule(te::Schedule& schedule, const std::vector<te::Tensor>& outputs,
                      const ScheduleContext& context) {
  // A fused group: the anchor operator's own stages (conv2d's padding, reduce_mean's sum) need a
  // schedule too, and the anchor goes inside the epilogue's loops where it can.
  if (context.anchor) {
    schedule_all_stages(schedule, outputs, context);
    return;
  }
  for (const te::Tensor& output : outputs) {
    if (!output->is_placeholder()) schedule_stage(schedule, output, context);
  }
}

}  // namespace kiln::op
