"""float16 reductions accumulate in float32 (as numpy and onnxruntime do) and round once.

Each case compares Kiln's float16 result with the exact result (float64) rounded to float16: a
float32 accumulation stays within one float16 ulp of it, a float16 accumulation (rounding at
every step) does not (MatMul with K = 64 came out several ulps off before).
"""

import numpy as np
import pytest
from onnx import TensorProto, helper, numpy_helper


def run_half(kiln, tmp_path, op, feeds, constants=None, attrs=None, opset=17):
    constants = constants or {}
    node = helper.make_node(op, list(feeds) + list(constants), ["y"], **(attrs or {}))
    graph = helper.make_graph(
        [node], "half",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT16, v.shape) for n, v in feeds.items()],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT16, None)],
        initializer=[numpy_helper.from_array(v, n) for n, v in constants.items()])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    path = tmp_path / "half.onnx"
    path.write_bytes(model.SerializeToString())
    package = kiln.compile(kiln.load(str(path)), target="llvm",
                           package_path=str(tmp_path / "m.tar"))
    return kiln.run(package, inputs=feeds).outputs["output_0"]


def assert_within_one_ulp(got, exact):
    assert got.dtype == np.float16 and got.shape == exact.shape
    ulp = np.spacing(np.abs(exact).astype(np.float16)).astype(np.float64)
    error = np.abs(got.astype(np.float64) - exact)
    assert np.all(error <= ulp), f"max error {error.max()} ({(error / ulp).max():.1f} ulp)"


def half(*shape, seed=0):
    return np.random.default_rng(seed).uniform(-2, 2, shape).astype(np.float16)


@pytest.mark.parametrize("shapes", [((16, 64), (64, 6)), ((2, 3, 4, 64), (2, 3, 64, 17)),
                                    ((5, 33), (33, 8))])
def test_matmul_float16(kiln, tmp_path, shapes):
    a, b = half(*shapes[0]), half(*shapes[1], seed=1)
    got = run_half(kiln, tmp_path, "MatMul", {"a": a, "b": b})
    assert_within_one_ulp(got, a.astype(np.float64) @ b.astype(np.float64))


def test_dense_float16(kiln, tmp_path):
    a, w = half(8, 96), half(96, 16, seed=1)  # a constant right operand imports as dense
    got = run_half(kiln, tmp_path, "MatMul", {"a": a}, constants={"w": w})
    assert_within_one_ulp(got, a.astype(np.float64) @ w.astype(np.float64))


@pytest.mark.parametrize("group", [1, 8])
def test_conv_float16(kiln, tmp_path, group):
    x, w = half(2, 8, 9, 12), half(8, 8 // group, 3, 3, seed=1)
    got = run_half(kiln, tmp_path, "Conv", {"x": x}, constants={"w": w}, attrs={"group": group})
    x64, w64 = x.astype(np.float64), w.astype(np.float64)
    exact = np.zeros((2, 8, 7, 10))
    per_group = 8 // group
    for o in range(8):
        g = o // per_group
        for i in range(7):
            for j in range(10):
                patch = x64[:, g * per_group:(g + 1) * per_group, i:i + 3, j:j + 3]
                exact[:, o, i, j] = (patch * w64[o]).sum(axis=(1, 2, 3))
    assert_within_one_ulp(got, exact)


def test_softmax_float16(kiln, tmp_path):
    x = half(4, 300) * np.float16(3)
    got = run_half(kiln, tmp_path, "Softmax", {"x": x}, attrs={"axis": -1}, opset=13)
    x64 = x.astype(np.float64)
    e = np.exp(x64 - x64.max(-1, keepdims=True))
    assert_within_one_ulp(got, e / e.sum(-1, keepdims=True))
