"""Convolutions in the channel-blocked layout NCHW[x]c (the alter_op_layout pass, on by default at
opt_level 3 on CPU targets), compared with onnxruntime around the block sizes: channel counts
below, at and above the 8/16-lane blocks (3, 8, 15, 16, 17, 24, 48), widths below, at and above
the register-tile widths (5, 7, 13, 14, 16, 28), depthwise, strides, dilation, asymmetric
padding, and the operators that follow a blocked value (bias, relu, clip, residual add,
per-channel constants, pooling, global pooling).

Tolerance: rtol 1e-4 / atol 1e-5 (float32, another summation order than onnxruntime).
"""

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import ort_session


def build(tmp_path, nodes, x_shape, initializers, out_name="y"):
    graph = helper.make_graph(
        nodes, "blocked", [helper.make_tensor_value_info("x", TensorProto.FLOAT, x_shape)],
        [helper.make_tensor_value_info(out_name, TensorProto.FLOAT, None)],
        initializer=[numpy_helper.from_array(v, n) for n, v in initializers.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    path = tmp_path / "m.onnx"
    path.write_bytes(model.SerializeToString())
    return str(path)


def compare(kiln, tmp_path, path, x_shape, **compile_args):
    x = np.random.RandomState(1).standard_normal(x_shape).astype(np.float32)
    expected = ort_session(path).run(None, {"x": x})[0]
    compile_args.setdefault("target", "llvm")
    package = kiln.compile(kiln.load(path), package_path=str(tmp_path / "m.tar"), **compile_args)
    got = kiln.run(package, inputs={"x": x}).outputs["output_0"]
    assert got.shape == expected.shape
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)


def weights(shape, seed):
    return (np.random.RandomState(seed).standard_normal(shape) * 0.2).astype(np.float32)


@pytest.mark.parametrize("cin,cout,width,kernel,stride,dilation", [
    (3, 16, 14, 3, 1, 1),
    (8, 8, 7, 1, 1, 1),
    (15, 17, 13, 3, 1, 1),   # 17 output channels: no block, stays NCHW
    (16, 16, 16, 3, 2, 1),
    (16, 24, 28, 1, 1, 1),   # 24: blocks of 8
    (17, 16, 5, 3, 1, 2),
    (48, 32, 14, 1, 2, 1),
    (32, 48, 7, 5, 1, 1),
])
def test_conv_bias_relu(kiln, tmp_path, cin, cout, width, kernel, stride, dilation):
    x_shape = [1, cin, width + 1, width]
    pad = dilation * (kernel // 2)
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], strides=[stride, stride],
                              dilations=[dilation, dilation], pads=[pad, pad - (pad > 0), pad, pad]),
             helper.make_node("Relu", ["c"], ["y"])]
    path = build(tmp_path, nodes, x_shape,
                 {"w": weights([cout, cin, kernel, kernel], 2), "b": weights([cout], 3)})
    compare(kiln, tmp_path, path, x_shape)


@pytest.mark.parametrize("channels,width,stride", [(16, 14, 1), (24, 7, 2), (32, 13, 1),
                                                   (48, 28, 2)])
def test_depthwise_clip(kiln, tmp_path, channels, width, stride):
    x_shape = [1, channels, width, width]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["c"], group=channels,
                              strides=[stride, stride], pads=[1, 1, 1, 1]),
             helper.make_node("Clip", ["c", "lo", "hi"], ["y"])]
    path = build(tmp_path, nodes, x_shape,
                 {"w": weights([channels, 1, 3, 3], 4), "b": weights([channels], 5),
                  "lo": np.array(0, np.float32), "hi": np.array(6, np.float32)})
    compare(kiln, tmp_path, path, x_shape)


def test_residual_block_pool_and_head(kiln, tmp_path):
    """conv -> relu -> maxpool -> conv + per-channel scale + residual add -> relu -> global pool
    -> flatten: every step but the last stays blocked."""
    x_shape = [2, 3, 20, 20]
    nodes = [
        helper.make_node("Conv", ["x", "w1", "b1"], ["c1"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"]),
        helper.make_node("MaxPool", ["r1"], ["p"], kernel_shape=[3, 3], strides=[2, 2],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Conv", ["p", "w2", "b2"], ["c2"], pads=[1, 1, 1, 1]),
        helper.make_node("Mul", ["c2", "scale"], ["s"]),
        helper.make_node("Add", ["s", "p"], ["a"]),
        helper.make_node("Relu", ["a"], ["r2"]),
        helper.make_node("AveragePool", ["r2"], ["q"], kernel_shape=[2, 2], strides=[2, 2]),
        helper.make_node("GlobalAveragePool", ["q"], ["g"]),
        helper.make_node("Flatten", ["g"], ["y"]),
    ]
    path = build(tmp_path, nodes, x_shape,
                 {"w1": weights([32, 3, 3, 3], 6), "b1": weights([32], 7),
                  "w2": weights([32, 32, 3, 3], 8), "b2": weights([32], 9),
                  "scale": weights([32, 1, 1], 10)})
    compare(kiln, tmp_path, path, x_shape)


def test_blocked_layout_can_be_disabled(kiln, tmp_path):
    x_shape = [1, 16, 9, 9]
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])]
    path = build(tmp_path, nodes, x_shape, {"w": weights([16, 16, 3, 3], 11)})
    compare(kiln, tmp_path, path, x_shape, disabled_pass=["AlterOpLayout"])
    compare(kiln, tmp_path, path, x_shape, opt_level=2)


def test_dump_shows_the_blocked_convolution(kiln, tmp_path):
    x_shape = [1, 16, 9, 9]
    nodes = [helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])]
    path = build(tmp_path, nodes, x_shape, {"w": weights([16, 16, 3, 3], 11)})
    kiln.compile(kiln.load(path), target="llvm", package_path=str(tmp_path / "m.tar"),
                 dump_code="ir")
    text = (tmp_path / "m.tar.ir").read_text() if (tmp_path / "m.tar.ir").exists() else ""
    assert "conv2d_nchwc" in text
    assert "layout_transform" in text


@pytest.mark.parametrize("cin,cout,width", [(16, 24, 7), (8, 32, 13)])
def test_avx2_blocks_of_eight(kiln, tmp_path, cin, cout, width):
    """On a 256-bit target the blocks are 8 channels wide."""
    x_shape = [1, cin, width, width]
    nodes = [helper.make_node("Conv", ["x", "w", "b"], ["y"], pads=[1, 1, 1, 1])]
    path = build(tmp_path, nodes, x_shape, {"w": weights([cout, cin, 3, 3], 12),
                                            "b": weights([cout], 13)})
    compare(kiln, tmp_path, path, x_shape, target="llvm -mcpu=haswell")
