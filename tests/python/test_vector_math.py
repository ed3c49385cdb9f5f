"""Vectorised exp / log / tanh / erf / sigmoid (glibc's libmvec on x86-64, see
docs/architecture.md "Floating point") against float64 numpy / math, at lane counts below, at and
above the 8/16-lane vectors (tails run the scalar libm path).

Tolerance: glibc documents its vector float functions within 4 ulp; we allow 8 float32 ulps of the
result (rtol 8 * 2^-23 ~ 9.5e-7) plus 1e-7 absolute for results near 0.
"""

import math

import numpy as np
import pytest
from onnx import TensorProto, helper

REFERENCE = {
    "Exp": np.exp,
    "Log": np.log,
    "Tanh": np.tanh,
    "Erf": np.vectorize(math.erf),
    "Sigmoid": lambda x: 1.0 / (1.0 + np.exp(-x)),
}
RANGE = {"Exp": (-80, 80), "Log": (1e-30, 1e30), "Tanh": (-12, 12), "Erf": (-5, 5),
         "Sigmoid": (-60, 60)}


@pytest.mark.parametrize("op", sorted(REFERENCE))
@pytest.mark.parametrize("shape", [[7], [16], [33], [4, 48]])
def test_vector_math_matches_float64(kiln, tmp_path, op, shape):
    low, high = RANGE[op]
    rng = np.random.default_rng(len(shape) * 100 + shape[-1])
    if op == "Log":
        x = np.exp(rng.uniform(np.log(low), np.log(high), shape)).astype(np.float32)
    else:
        x = rng.uniform(low, high, shape).astype(np.float32)
    graph = helper.make_graph([helper.make_node(op, ["x"], ["y"])], "m",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, shape)],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, shape)])
    path = tmp_path / "m.onnx"
    path.write_bytes(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
                     .SerializeToString())
    package = kiln.compile(kiln.load(str(path)), target="llvm", package_path=str(tmp_path / "m.tar"))
    got = kiln.run(package, inputs={"x": x}).outputs["output_0"]
    want = REFERENCE[op](x.astype(np.float64)).astype(np.float32)
    np.testing.assert_allclose(got, want, rtol=8 * 2.0**-23, atol=1e-7)
