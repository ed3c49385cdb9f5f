"""ONNX import through the Python API, on small models built with onnx.helper (onnx_models.py)."""

import io
import os

import numpy as np
import pytest

import onnx_models as om
from conftest import ort_output_shapes, shapes_of


@pytest.fixture
def cnn_path(tmp_path):
    return om.save(om.small_cnn(), tmp_path / "small_cnn.onnx")


# ---------------------------------------------------------------------------------------------
# small CNN
# ---------------------------------------------------------------------------------------------
def test_cnn_inputs_outputs(kiln, cnn_path):
    model = kiln.load(cnn_path)
    assert isinstance(model, kiln.Model)
    assert model.format == "onnx"
    assert model.inputs == [{"name": om.CNN_INPUT, "shape": [1, 3, 32, 32], "dtype": "float32"}]
    assert model.outputs == [{"name": om.CNN_OUTPUT, "shape": [1, 10], "dtype": "float32"}]
    assert shapes_of(model.outputs) == ort_output_shapes(cnn_path)


def test_cnn_params_and_macs(kiln, cnn_path):
    model = kiln.load(cnn_path)
    assert isinstance(model.num_params, int)
    assert model.num_params == om.CNN_NUM_PARAMS
    assert sum(int(np.asarray(a).size) for a in model.params.values()
               if np.asarray(a).dtype.kind == "f") == om.CNN_NUM_PARAMS
    assert isinstance(model.macs, int)
    assert abs(model.macs - om.CNN_MACS) <= 0.05 * om.CNN_MACS, model.macs
    # The weights come through untouched: each initializer is among the params, bit for bit.
    params = [np.asarray(a) for a in model.params.values()]
    for name, want in om.cnn_weights(om.small_cnn()).items():
        assert any(p.dtype == want.dtype and p.shape == want.shape and np.array_equal(p, want)
                   for p in params), f"initializer {name} {want.shape} not found in params"


def test_cnn_op_histogram(kiln, cnn_path):
    hist = kiln.load(cnn_path).op_histogram
    assert isinstance(hist, dict) and hist
    assert all(isinstance(k, str) and isinstance(v, int) and v > 0 for k, v in hist.items())
    conv = sum(v for k, v in hist.items() if "conv" in k.lower())
    assert conv == 2, hist
    assert sum(v for k, v in hist.items() if "softmax" in k.lower()) == 1, hist


def test_summary_prints_ir(kiln, cnn_path, capfd):
    model = kiln.load(cnn_path)
    model.summary()
    out = capfd.readouterr().out
    assert out.strip(), "summary() printed nothing"
    assert out.strip() == str(model).strip()
    low = out.lower()
    assert "conv" in low and "softmax" in low
    assert om.CNN_INPUT in out


def test_summary_to_path_and_file_object(kiln, cnn_path, tmp_path, capfd):
    model = kiln.load(cnn_path)
    target = tmp_path / "summary.txt"
    model.summary(file=str(target))
    buf = io.StringIO()
    model.summary(file=buf)
    assert capfd.readouterr().out == "", "summary(file=...) must not print to stdout"
    assert target.read_text().strip() == str(model).strip()
    assert buf.getvalue().strip() == str(model).strip()


# ---------------------------------------------------------------------------------------------
# MLP, constant folding, several outputs
# ---------------------------------------------------------------------------------------------
def test_mlp(kiln, tmp_path):
    path = om.save(om.mlp(), tmp_path / "mlp.onnx")
    model = kiln.load(path)
    assert model.inputs == [{"name": "features", "shape": [1, 64], "dtype": "float32"}]
    assert model.outputs == [{"name": "scores", "shape": [1, 10], "dtype": "float32"}]
    assert model.num_params == om.MLP_NUM_PARAMS
    assert abs(model.macs - om.MLP_MACS) <= 0.05 * om.MLP_MACS, model.macs


def test_shape_computation_folds(kiln, tmp_path):
    path = om.save(om.reshape_via_shape(), tmp_path / "reshape_via_shape.onnx")
    model = kiln.load(path)
    text = str(model)
    assert "shape_of" not in text, "Shape->Gather->Concat->Reshape was not folded:\n" + text
    assert "concat" not in text.lower(), "the shape arithmetic should be gone:\n" + text
    assert model.outputs == [{"name": "flat", "shape": [2, 192], "dtype": "float32"}]
    assert shapes_of(model.outputs) == ort_output_shapes(path)
    assert model.num_params == 0  # the int64 shape constants are not parameters


def test_multiple_outputs(kiln, tmp_path):
    path = om.save(om.multi_output(), tmp_path / "multi_output.onnx")
    model = kiln.load(path)
    assert [(o["name"], o["shape"], o["dtype"]) for o in model.outputs] == [
        (name, shape, dtype) for name, shape, dtype in om.MULTI_OUTPUTS]
    assert shapes_of(model.outputs) == ort_output_shapes(path)


# ---------------------------------------------------------------------------------------------
# symbolic dims and shape_dict
# ---------------------------------------------------------------------------------------------
def test_symbolic_batch_is_kept(kiln, tmp_path):
    model = kiln.load(om.save(om.symbolic_batch_cnn(), tmp_path / "sym.onnx"))
    (inp,) = model.inputs
    assert inp["name"] == "images"
    assert inp["shape"] == ["batch", 3, 16, 16]
    (out,) = model.outputs
    assert isinstance(out["shape"][0], str), out
    assert out["shape"][1:] == [8]


@pytest.mark.parametrize("batch", [1, 4, 7])
def test_shape_dict_sets_symbolic_batch(kiln, tmp_path, batch):
    model = kiln.load(om.save(om.symbolic_batch_cnn(), tmp_path / "sym.onnx"),
                      shape_dict={"images": [batch, 3, 16, 16]})
    assert model.inputs[0]["shape"] == [batch, 3, 16, 16]
    assert model.outputs[0]["shape"] == [batch, 8]


def test_shape_dict_overrides_static_batch(kiln, cnn_path):
    model = kiln.load(cnn_path, shape_dict={om.CNN_INPUT: [3, 3, 32, 32]})
    assert model.inputs[0]["shape"] == [3, 3, 32, 32]
    assert model.outputs[0]["shape"] == [3, 10]
    # MACs scale with the batch; the weights do not.
    assert model.num_params == om.CNN_NUM_PARAMS
    assert abs(model.macs - 3 * om.CNN_MACS) <= 0.05 * 3 * om.CNN_MACS, model.macs


def test_shape_dict_changes_spatial_size(kiln, tmp_path):
    model = kiln.load(om.save(om.symbolic_batch_cnn(), tmp_path / "sym.onnx"),
                      shape_dict={"images": [2, 3, 40, 24]})
    assert model.outputs[0]["shape"] == [2, 8]  # global pooling: only the batch shows


def test_shape_dict_one_of_two_inputs_and_both(kiln, tmp_path):
    path = om.save(om.two_inputs(), tmp_path / "two.onnx")
    both = kiln.load(path, shape_dict={"left": [5, 8], "right": [5, 8]})
    assert [i["shape"] for i in both.inputs] == [[5, 8], [5, 8]]
    assert both.outputs[0]["shape"] == [5, 8]
    plain = kiln.load(path)
    assert [i["name"] for i in plain.inputs] == ["left", "right"]
    assert all(isinstance(i["shape"][0], str) for i in plain.inputs)


# ---------------------------------------------------------------------------------------------
# external data
# ---------------------------------------------------------------------------------------------
def test_external_data_weights(kiln, tmp_path):
    onnx_model = om.small_cnn()
    weights = om.cnn_weights(onnx_model)
    path = om.save(onnx_model, tmp_path / "ext.onnx", save_as_external_data=True,
                   all_tensors_to_one_file=True, location="ext_weights.bin", size_threshold=0)
    assert os.path.getsize(tmp_path / "ext_weights.bin") >= 4 * om.CNN_NUM_PARAMS
    assert os.path.getsize(path) < 4 * om.CNN_NUM_PARAMS  # the weights really are outside

    model = kiln.load(path)
    assert model.num_params == om.CNN_NUM_PARAMS
    assert model.outputs[0]["shape"] == [1, 10]
    params = [np.asarray(a) for a in model.params.values()]
    for name, want in weights.items():
        assert any(p.shape == want.shape and np.array_equal(p, want) for p in params), name
    # The same as importing the self-contained file.
    inline = kiln.load(om.save(om.small_cnn(), tmp_path / "inline.onnx"))
    assert str(inline) == str(model)


def test_external_data_one_file_per_tensor(kiln, tmp_path):
    path = om.save(om.small_cnn(), tmp_path / "split.onnx", save_as_external_data=True,
                   all_tensors_to_one_file=False, size_threshold=0)
    assert len(os.listdir(tmp_path)) > 2
    model = kiln.load(path)
    assert model.num_params == om.CNN_NUM_PARAMS


def test_load_from_other_working_directory(kiln, tmp_path, monkeypatch):
    """External data is found next to the model, not in the current directory."""
    sub = tmp_path / "models"
    sub.mkdir()
    path = om.save(om.small_cnn(), sub / "ext.onnx", save_as_external_data=True,
                   location="w.bin", size_threshold=0)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    assert kiln.load(path).num_params == om.CNN_NUM_PARAMS
    monkeypatch.chdir(sub)
    assert kiln.load("ext.onnx").num_params == om.CNN_NUM_PARAMS


# ---------------------------------------------------------------------------------------------
# format selection
# ---------------------------------------------------------------------------------------------
def test_model_format_overrides_extension(kiln, tmp_path):
    path = tmp_path / "weights.bin"
    path.write_bytes(om.small_cnn().SerializeToString())
    model = kiln.load(str(path), model_format="onnx")
    assert model.format == "onnx"
    assert model.outputs[0]["shape"] == [1, 10]


def test_load_accepts_pathlike(kiln, tmp_path):
    om.save(om.mlp(), tmp_path / "mlp.onnx")
    assert kiln.load(tmp_path / "mlp.onnx").outputs[0]["name"] == "scores"


def test_error_class(kiln):
    assert issubclass(kiln.Error, RuntimeError)
