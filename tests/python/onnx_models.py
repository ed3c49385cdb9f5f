"""Small ONNX models built with onnx.helper, shared by the test suites.

Each builder returns an onnx.ModelProto; `save(model, path)` writes it. The facts the tests check
(input names, shapes, parameter counts, MACs) are kept next to each builder.
"""

from __future__ import annotations

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

OPSET = 17
RNG_SEED = 1234


def _rng():
    return np.random.default_rng(RNG_SEED)


def _tensor(name, array):
    return numpy_helper.from_array(np.array(array, order="C"), name)  # keeps 0-d arrays 0-d


def _model(graph, opset=OPSET, domains=()):
    opsets = [helper.make_opsetid("", opset)] + [helper.make_opsetid(d, 1) for d in domains]
    model = helper.make_model(graph, opset_imports=opsets, producer_name="kiln-tests")
    model.ir_version = 8
    return model


def save(model, path, **kwargs):
    onnx.save_model(model, str(path), **kwargs)
    return str(path)


# ---------------------------------------------------------------------------------------------
# small CNN: pixels [1,3,32,32] -> probs [1,10]
# ---------------------------------------------------------------------------------------------
CNN_INPUT = "pixels"
CNN_OUTPUT = "probs"
# conv1 8x3x3x3 + 8, conv2 16x8x3x3 + 16, fc 10x16 + 10
CNN_NUM_PARAMS = 8 * 3 * 9 + 8 + 16 * 8 * 9 + 16 + 10 * 16 + 10  # 1562
# conv1 at 32x32 (pad 1), maxpool 2 -> conv2 at 16x16, fc
CNN_MACS = 8 * 32 * 32 * 27 + 16 * 16 * 16 * 72 + 16 * 10  # 516,256


def small_cnn(batch=1):
    rng = _rng()
    w1 = rng.standard_normal((8, 3, 3, 3)).astype(np.float32) * 0.2
    b1 = rng.standard_normal(8).astype(np.float32) * 0.1
    w2 = rng.standard_normal((16, 8, 3, 3)).astype(np.float32) * 0.1
    b2 = rng.standard_normal(16).astype(np.float32) * 0.1
    wf = rng.standard_normal((10, 16)).astype(np.float32) * 0.3
    bf = rng.standard_normal(10).astype(np.float32) * 0.1
    nodes = [
        helper.make_node("Conv", [CNN_INPUT, "conv1.w", "conv1.b"], ["c1"], name="conv1",
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        helper.make_node("MaxPool", ["r1"], ["p1"], name="pool1", kernel_shape=[2, 2],
                         strides=[2, 2]),
        helper.make_node("Conv", ["p1", "conv2.w", "conv2.b"], ["c2"], name="conv2",
                         kernel_shape=[3, 3], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c2"], ["r2"], name="relu2"),
        helper.make_node("GlobalAveragePool", ["r2"], ["gap"], name="gap"),
        helper.make_node("Flatten", ["gap"], ["flat"], name="flatten", axis=1),
        helper.make_node("Gemm", ["flat", "fc.w", "fc.b"], ["logits"], name="fc", transB=1),
        helper.make_node("Softmax", ["logits"], [CNN_OUTPUT], name="softmax", axis=1),
    ]
    graph = helper.make_graph(
        nodes, "small_cnn",
        [helper.make_tensor_value_info(CNN_INPUT, TensorProto.FLOAT, [batch, 3, 32, 32])],
        [helper.make_tensor_value_info(CNN_OUTPUT, TensorProto.FLOAT, [batch, 10])],
        [_tensor("conv1.w", w1), _tensor("conv1.b", b1), _tensor("conv2.w", w2),
         _tensor("conv2.b", b2), _tensor("fc.w", wf), _tensor("fc.b", bf)])
    return _model(graph)


def cnn_weights(model):
    """name -> numpy array of the model's initializers."""
    return {t.name: numpy_helper.to_array(t) for t in model.graph.initializer}


# ---------------------------------------------------------------------------------------------
# MLP: features [batch,64] -> scores [batch,10]; batch may be symbolic
# ---------------------------------------------------------------------------------------------
MLP_NUM_PARAMS = 64 * 32 + 32 + 32 * 10 + 10  # 2410
MLP_MACS = 64 * 32 + 32 * 10  # 2368 per row


def mlp(batch=1):
    rng = _rng()
    nodes = [
        helper.make_node("MatMul", ["features", "w1"], ["h"], name="dense1"),
        helper.make_node("Add", ["h", "b1"], ["hb"], name="bias1"),
        helper.make_node("Relu", ["hb"], ["a"], name="relu"),
        helper.make_node("MatMul", ["a", "w2"], ["o"], name="dense2"),
        helper.make_node("Add", ["o", "b2"], ["scores"], name="bias2"),
    ]
    graph = helper.make_graph(
        nodes, "mlp",
        [helper.make_tensor_value_info("features", TensorProto.FLOAT, [batch, 64])],
        [helper.make_tensor_value_info("scores", TensorProto.FLOAT, [batch, 10])],
        [_tensor("w1", rng.standard_normal((64, 32)).astype(np.float32)),
         _tensor("b1", rng.standard_normal(32).astype(np.float32)),
         _tensor("w2", rng.standard_normal((32, 10)).astype(np.float32)),
         _tensor("b2", rng.standard_normal(10).astype(np.float32))])
    return _model(graph)


# ---------------------------------------------------------------------------------------------
# Shape -> Gather -> Unsqueeze -> Concat -> Reshape: must fold to a static reshape
# ---------------------------------------------------------------------------------------------
def reshape_via_shape():
    """volume [2,3,8,8] -> flat [2,192], the target shape computed from Shape(volume)."""
    nodes = [
        helper.make_node("Shape", ["volume"], ["shape"], name="shape_of_volume"),
        helper.make_node("Gather", ["shape", "zero"], ["batch"], name="take_batch", axis=0),
        helper.make_node("Unsqueeze", ["batch", "axes0"], ["batch1"], name="batch_to_1d"),
        helper.make_node("Concat", ["batch1", "minus_one"], ["target"], name="target_shape",
                         axis=0),
        helper.make_node("Reshape", ["volume", "target"], ["flat0"], name="flatten_volume"),
        helper.make_node("Relu", ["flat0"], ["flat"], name="relu"),
    ]
    graph = helper.make_graph(
        nodes, "reshape_via_shape",
        [helper.make_tensor_value_info("volume", TensorProto.FLOAT, [2, 3, 8, 8])],
        [helper.make_tensor_value_info("flat", TensorProto.FLOAT, [2, 192])],
        [_tensor("zero", np.array(0, dtype=np.int64)),
         _tensor("axes0", np.array([0], dtype=np.int64)),
         _tensor("minus_one", np.array([-1], dtype=np.int64))])
    return _model(graph)


# ---------------------------------------------------------------------------------------------
# several outputs of different shapes and dtypes
# ---------------------------------------------------------------------------------------------
MULTI_OUTPUTS = [("activated", [1, 4, 6], "float32"), ("gate", [1, 4, 6], "float32"),
                 ("row_sums", [1, 4], "float32"), ("best", [1, 4], "int64")]


def multi_output():
    nodes = [
        helper.make_node("Relu", ["signal"], ["activated"], name="relu"),
        helper.make_node("Sigmoid", ["signal"], ["gate"], name="sigmoid"),
        helper.make_node("ReduceSum", ["signal", "last_axis"], ["row_sums"], name="sum",
                         keepdims=0),
        helper.make_node("ArgMax", ["signal"], ["best"], name="argmax", axis=2, keepdims=0),
    ]
    graph = helper.make_graph(
        nodes, "multi_output",
        [helper.make_tensor_value_info("signal", TensorProto.FLOAT, [1, 4, 6])],
        [helper.make_tensor_value_info("activated", TensorProto.FLOAT, [1, 4, 6]),
         helper.make_tensor_value_info("gate", TensorProto.FLOAT, [1, 4, 6]),
         helper.make_tensor_value_info("row_sums", TensorProto.FLOAT, [1, 4]),
         helper.make_tensor_value_info("best", TensorProto.INT64, [1, 4])],
        [_tensor("last_axis", np.array([2], dtype=np.int64))])
    return _model(graph)


# ---------------------------------------------------------------------------------------------
# symbolic batch: images ["batch",3,16,16] -> embedding ["batch",8]
# ---------------------------------------------------------------------------------------------
def symbolic_batch_cnn(batch="batch"):
    rng = _rng()
    nodes = [
        helper.make_node("Conv", ["images", "w"], ["c"], name="conv", kernel_shape=[3, 3],
                         pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["c"], ["r"], name="relu"),
        helper.make_node("GlobalAveragePool", ["r"], ["g"], name="gap"),
        helper.make_node("Flatten", ["g"], ["embedding"], name="flatten", axis=1),
    ]
    graph = helper.make_graph(
        nodes, "symbolic_batch",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, [batch, 3, 16, 16])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, [batch, 8])],
        [_tensor("w", rng.standard_normal((8, 3, 3, 3)).astype(np.float32))])
    return _model(graph)


def two_inputs(batch="n"):
    """left [n,8] and right [n,8] (symbolic n) -> total [n,8] = left + right * 2."""
    nodes = [helper.make_node("Mul", ["right", "two"], ["r2"], name="double"),
             helper.make_node("Add", ["left", "r2"], ["total"], name="add")]
    graph = helper.make_graph(
        nodes, "two_inputs",
        [helper.make_tensor_value_info("left", TensorProto.FLOAT, [batch, 8]),
         helper.make_tensor_value_info("right", TensorProto.FLOAT, [batch, 8])],
        [helper.make_tensor_value_info("total", TensorProto.FLOAT, [batch, 8])],
        [_tensor("two", np.array(2.0, dtype=np.float32))])
    return _model(graph)


# ---------------------------------------------------------------------------------------------
# broken models
# ---------------------------------------------------------------------------------------------
def dangling_input():
    """Node 'mix' reads 'ghost_tensor', which no node, input or initializer provides."""
    nodes = [helper.make_node("Relu", ["x"], ["r"], name="relu"),
             helper.make_node("Add", ["r", "ghost_tensor"], ["y"], name="mix")]
    graph = helper.make_graph(
        nodes, "dangling",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    return _model(graph)


def conv_wrong_rank():
    """Conv 'conv_on_sequence' gets a 3-D input [1,3,32] with a 4-D weight [8,3,3,3]."""
    w = np.ones((8, 3, 3, 3), dtype=np.float32)
    nodes = [helper.make_node("Conv", ["seq", "w"], ["y"], name="conv_on_sequence")]
    graph = helper.make_graph(
        nodes, "wrong_rank",
        [helper.make_tensor_value_info("seq", TensorProto.FLOAT, [1, 3, 32])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 8, 30])],
        [_tensor("w", w)])
    return _model(graph)


def static_reshape():
    """volume [1,3,8,8] -> Reshape 'flatten_static' to the constant [1,192] -> flat [1,192]."""
    nodes = [helper.make_node("Reshape", ["volume", "target"], ["flat"], name="flatten_static")]
    graph = helper.make_graph(
        nodes, "static_reshape",
        [helper.make_tensor_value_info("volume", TensorProto.FLOAT, [1, 3, 8, 8])],
        [helper.make_tensor_value_info("flat", TensorProto.FLOAT, [1, 192])],
        [_tensor("target", np.array([1, 192], dtype=np.int64))])
    return _model(graph)


# (op type, node name, domain) of the operators no compiler supports
UNSUPPORTED = [("FrobnicateTensor", "frob_node_1", ""), ("TwiddleBits", "twiddle_node_2", ""),
               ("SecretSauce", "sauce_node_3", "com.example.kiln")]


def unsupported_ops():
    nodes = [helper.make_node("Relu", ["x"], ["a"], name="relu_ok")]
    prev = "a"
    for i, (op, name, domain) in enumerate(UNSUPPORTED):
        out = "y" if i == len(UNSUPPORTED) - 1 else f"t{i}"
        nodes.append(helper.make_node(op, [prev], [out], name=name, domain=domain))
        prev = out
    graph = helper.make_graph(
        nodes, "unsupported",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 4])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [1, 4])])
    return _model(graph, domains=["com.example.kiln"])
