"""result.outputs: positional keys (output_0, output_1, ...) and the model's own output names; a
model's own name wins when it looks like a positional key (docs/tvmc.md, TVMCResult)."""

import numpy as np
import onnx
import onnxruntime as ort
import pytest
from onnx import TensorProto, helper


def _swapped_names_model(path):
    """Two outputs named "output_1" (first: x + 1) and "output_0" (second: x * 3)."""
    one = helper.make_tensor("one", TensorProto.FLOAT, [], [1.0])
    three = helper.make_tensor("three", TensorProto.FLOAT, [], [3.0])
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", "one"], ["output_1"]),
         helper.make_node("Mul", ["x", "three"], ["output_0"])], "swapped",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("output_1", TensorProto.FLOAT, [4]),
         helper.make_tensor_value_info("output_0", TensorProto.FLOAT, [4])], [one, three])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, path)
    return model


@pytest.fixture(scope="module")
def swapped(kiln, tmp_path_factory):
    folder = tmp_path_factory.mktemp("swapped")
    model = _swapped_names_model(str(folder / "m.onnx"))
    x = np.arange(4, dtype=np.float32)
    package = kiln.compile(kiln.load(str(folder / "m.onnx")), target="llvm",
                           package_path=str(folder / "m.tar"))
    session = ort.InferenceSession(model.SerializeToString(), providers=["CPUExecutionProvider"])
    expected = dict(zip([o.name for o in session.get_outputs()], session.run(None, {"x": x})))
    return kiln.run(package, inputs={"x": x}), expected


def test_model_output_name_wins_over_positional_key(swapped):
    result, expected = swapped
    np.testing.assert_array_equal(result.outputs["output_1"], expected["output_1"])
    np.testing.assert_array_equal(result.outputs["output_0"], expected["output_0"])
    np.testing.assert_array_equal(result.get_output("output_1"), expected["output_1"])
    np.testing.assert_array_equal(result.outputs.get("output_0"), expected["output_0"])


def test_iteration_stays_positional(swapped):
    result, expected = swapped
    assert list(result.outputs.keys()) == ["output_0", "output_1"]
    first, second = result.outputs.values()
    np.testing.assert_array_equal(first, expected["output_1"])  # the model's first output
    np.testing.assert_array_equal(second, expected["output_0"])
    assert result.outputs.names == ["output_1", "output_0"]


def test_unknown_output_is_a_key_error_naming_the_outputs(swapped):
    result, _ = swapped
    with pytest.raises(KeyError, match="output_2.*output_0"):
        result.outputs["output_2"]
    assert "output_2" not in result.outputs
    assert result.outputs.get("output_2", "absent") == "absent"
