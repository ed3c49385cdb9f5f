#!/usr/bin/env python3
"""Writes ci_subset.txt: the fixed, representative subset of node tests that CI runs.

    python3 tests/conformance/make_ci_subset.py            # rewrites ci_subset.txt

Deterministic for a given onnx release: every STRIDE-th case (by name) among those whose values
Kiln's numpy I/O can carry — a spread over all operator families, including ones Kiln rejects
today — plus the KEY_CASES below, the operators most models are made of. Regenerate only when the
onnx pin changes; then regenerate ci_expected_pass.txt (run.py --subset ci --write-expected).
"""

from __future__ import annotations

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
import cases  # noqa: E402

STRIDE = 18

KEY_CASES = """
test_basic_conv_with_padding test_basic_conv_without_padding test_conv_with_strides_padding
test_conv_with_autopad_same test_conv_with_strides_and_asymmetric_padding
test_gemm_default_matrix_bias test_gemm_default_no_bias test_gemm_transposeA test_gemm_transposeB
test_gemm_alpha test_gemm_beta
test_matmul_2d test_matmul_3d test_matmul_4d
test_softmax_axis_0 test_softmax_axis_1 test_softmax_default_axis test_softmax_large_number
test_logsoftmax_axis_1 test_hardmax_axis_1
test_maxpool_2d_default test_maxpool_2d_pads test_maxpool_2d_strides test_maxpool_1d_default
test_averagepool_2d_default test_averagepool_2d_pads test_averagepool_2d_pads_count_include_pad
test_globalaveragepool test_globalmaxpool
test_batchnorm_example test_batchnorm_epsilon test_instancenorm_example test_lrn
test_add test_add_bcast test_sub_bcast test_mul_bcast test_div_bcast test_pow test_neg
test_relu test_leakyrelu test_sigmoid test_tanh test_exp test_log test_sqrt test_erf test_abs
test_elu test_selu test_hardsigmoid test_softplus test_gelu_default_1 test_prelu_broadcast
test_equal test_greater test_less test_and2d test_where_example test_not_3d
test_reduce_mean_keepdims_example test_reduce_sum_keepdims_example
test_reduce_max_default_axes_keepdim_example test_reduce_min_default_axes_keepdims_example
test_argmax_default_axis_example test_argmin_keepdims_example
test_reshape_reordered_all_dims test_reshape_negative_dim
test_transpose_default test_transpose_all_permutations_3
test_concat_1d_axis_0 test_concat_2d_axis_1 test_concat_3d_axis_1
test_slice test_slice_neg_steps test_slice_start_out_of_bounds
test_gather_0 test_gather_1 test_gather_elements_0 test_gathernd_example_int32
test_flatten_axis1 test_squeeze test_unsqueeze_axis_0 test_expand_dim_changed test_tile
test_split_equal_parts_2d test_depthtospace_example test_spacetodepth_example
test_constant_pad test_edge_pad test_reflect_pad
test_cast_FLOAT_to_FLOAT16 test_cast_FLOAT_to_DOUBLE test_clip_example test_clip_default_inbounds
test_layer_normalization_2d_axis0 test_group_normalization_example
test_resize_upsample_scales_nearest test_resize_downsample_scales_linear test_convtranspose
test_lstm_defaults test_gru_defaults test_top_k test_cumsum_1d test_einsum_batch_matmul
test_loop11 test_if test_range_float_type_positive_delta test_constant test_identity
""".split()


def select(names, infos) -> list:
    runnable = [i.name for i in infos if not i.io_type_problem]
    picked = set(runnable[::STRIDE]) | set(KEY_CASES)
    return sorted(picked)


def main() -> int:
    root = cases.data_dir()
    names = cases.list_case_names(root)
    missing = sorted(set(KEY_CASES) - set(names))
    if missing:
        raise SystemExit(f"KEY_CASES not in the onnx test data: {missing}")
    subset = select(names, cases.describe_cases(root, names))
    path = os.path.join(HERE, "ci_subset.txt")
    with open(path, "w") as f:
        f.write("# ONNX node tests run in CI (written by make_ci_subset.py; do not edit by hand)\n")
        f.writelines(n + "\n" for n in subset)
    print(f"{len(subset)} cases -> {path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
