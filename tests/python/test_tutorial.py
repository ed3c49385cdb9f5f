"""The TVMC Python tutorial ("Getting Started with TVMC Python", Chinese edition) runs with only
its import line changed.

The script below is the tutorial's code, in its order: step 0 (import, the one changed line),
step 1 (load, summary, load with shape_dict), step 2 (compile), step 3 (run, print), "save the
model" and "save the package" (compile to package_path, reopen with TVMCPackage, run). Step 1.5
(tune) is left out: tuning is not supported yet. The tutorial's `desired_model_path` is a name the
reader fills in; it is the only line added.

my_model.onnx is a small model whose inputs are the tutorial's own shape_dict names and shapes
(input1, input2: [1, 2, 3, 4]), so that every line runs verbatim. The outputs are checked against
onnxruntime on the inputs Kiln filled in.
"""

import os
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper

from conftest import REPO, ort_session

TUTORIAL_SCRIPT = '''
from kiln import tvmc

model = tvmc.load('my_model.onnx') # 第 1 步：加载
model.summary()
model = tvmc.load('my_model.onnx', shape_dict={'input1' : [1, 2, 3, 4], 'input2' : [1, 2, 3, 4]}) #第一步: 加载 + shape_dict

package = tvmc.compile(model, target="llvm") # 第 2 步：编译

result = tvmc.run(package, device="cpu") # 第 3 步：运行
print(result)

desired_model_path = "my_model.kiln"
model = tvmc.load('my_model.onnx') # 第 1 步：加载
model.save(desired_model_path)

tvmc.compile(model, target="llvm", package_path="whatever") # 第 2 步：编译

new_package = tvmc.TVMCPackage(package_path="whatever")
result = tvmc.run(new_package, device="cpu") # 第 3 步：运行
'''


def tutorial_model():
    """output = relu(conv3x3(input1 + input2)) * input2-mean: two inputs of shape [1, 2, 3, 4]."""
    rng = np.random.default_rng(7)
    weight = rng.standard_normal((2, 2, 3, 3)).astype(np.float32)
    bias = rng.standard_normal(2).astype(np.float32)
    nodes = [
        helper.make_node("Add", ["input1", "input2"], ["sum"]),
        helper.make_node("Conv", ["sum", "w", "b"], ["conv"], pads=[1, 1, 1, 1]),
        helper.make_node("Relu", ["conv"], ["relu"]),
        helper.make_node("ReduceMean", ["input2"], ["mean"], keepdims=1),
        helper.make_node("Mul", ["relu", "mean"], ["output"]),
    ]
    graph = helper.make_graph(
        nodes, "tutorial",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, [1, 2, 3, 4])
         for n in ("input1", "input2")],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 2, 3, 4])],
        [onnx.numpy_helper.from_array(weight, "w"), onnx.numpy_helper.from_array(bias, "b")])
    return helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])


def test_tutorial_script_runs_unchanged(kiln, tmp_path):
    onnx.save(tutorial_model(), str(tmp_path / "my_model.onnx"))
    script = tmp_path / "tvmcpythonintro.py"
    script.write_text(TUTORIAL_SCRIPT, encoding="utf-8")
    env = dict(os.environ)
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(kiln.__file__)))
    env["PYTHONPATH"] = os.pathsep.join([package_parent, env.get("PYTHONPATH", "")])
    proc = subprocess.run([sys.executable, str(script)], cwd=tmp_path, capture_output=True,
                          text=True, timeout=600, env=env)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    # Step 1: the summary printed the graph with both inputs.
    assert "input1" in out and "input2" in out and "conv2d" in out, out
    # Step 3: print(result) shows the (absent) timing and the output names, never "[]" as a table.
    assert "Output Names:" in out and "['output_0']" in out, out
    assert "benchmark=True" in out  # says how to get times instead of an empty table
    # Save the model and the package: both files exist and load again.
    assert (tmp_path / "my_model.kiln").is_file()
    assert (tmp_path / "whatever").is_file()


def test_tutorial_outputs_match_onnxruntime(kiln, tmp_path, monkeypatch):
    """The same steps in-process, with the outputs checked (the script cannot assert)."""
    from kiln import tvmc

    onnx.save(tutorial_model(), str(tmp_path / "my_model.onnx"))
    monkeypatch.chdir(tmp_path)
    model = tvmc.load('my_model.onnx', shape_dict={'input1': [1, 2, 3, 4],
                                                   'input2': [1, 2, 3, 4]})
    package = tvmc.compile(model, target="llvm")
    result = tvmc.run(package, device="cpu")
    session = ort_session(str(tmp_path / "my_model.onnx"))
    expected = session.run(None, dict(result.inputs))[0]
    np.testing.assert_allclose(result.outputs["output_0"], expected, rtol=1e-5, atol=1e-5)
    assert result.get_output("output") is result.outputs["output_0"]

    # Saved model, saved package, reopened package: the same outputs for the same inputs. As in
    # the tutorial, the model saved is loaded afresh (a compiled one is a bundle, not a .kiln file).
    model = tvmc.load('my_model.onnx', shape_dict={'input1': [1, 2, 3, 4],
                                                   'input2': [1, 2, 3, 4]})
    model.save("my_model.kiln")
    reloaded = tvmc.load("my_model.kiln")
    tvmc.compile(reloaded, target="llvm", package_path="whatever")
    new_package = tvmc.TVMCPackage(package_path="whatever")
    again = tvmc.run(new_package, device="cpu", inputs=dict(result.inputs))
    np.testing.assert_allclose(again.outputs["output_0"], expected, rtol=1e-5, atol=1e-5)
