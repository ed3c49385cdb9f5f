"""The tvmc-compatible face: `from kiln import tvmc`."""

import numpy as np
import pytest

import onnx_models as om
from conftest import assert_mentions, ort_output_shapes, shapes_of


@pytest.fixture
def tvmc(kiln):
    from kiln import tvmc as module

    return module


def test_tvmc_model_is_kiln_model(kiln, tvmc):
    assert tvmc.TVMCModel is kiln.Model


def test_tvmc_load(kiln, tvmc, tmp_path):
    path = om.save(om.small_cnn(), tmp_path / "cnn.onnx")
    model = tvmc.load(path)
    assert isinstance(model, tvmc.TVMCModel)
    assert model.format == "onnx"
    assert model.inputs == kiln.load(path).inputs
    assert str(model) == str(kiln.load(path))
    assert shapes_of(model.outputs) == ort_output_shapes(path)


def test_tvmc_load_keywords(tvmc, tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(om.symbolic_batch_cnn().SerializeToString())
    model = tvmc.load(str(path), model_format="onnx", shape_dict={"images": [3, 3, 16, 16]})
    assert model.inputs[0]["shape"] == [3, 3, 16, 16]
    assert model.outputs[0]["shape"] == [3, 8]


def test_tvmc_load_positional_order(tvmc, tmp_path):
    """tvmc.load(path, model_format, shape_dict): the original tool's argument order."""
    path = om.save(om.symbolic_batch_cnn(), tmp_path / "sym.onnx")
    model = tvmc.load(path, "onnx", {"images": [2, 3, 16, 16]})
    assert model.outputs[0]["shape"] == [2, 8]


def test_tvmc_summary(tvmc, tmp_path, capfd):
    model = tvmc.load(om.save(om.mlp(), tmp_path / "mlp.onnx"))
    model.summary()
    out = capfd.readouterr().out
    assert out.strip() and out.strip() == str(model).strip()
    assert "features" in out


def test_tvmc_save_and_load(tvmc, tmp_path):
    model = tvmc.load(om.save(om.small_cnn(), tmp_path / "cnn.onnx"))
    model.save(str(tmp_path / "cnn.kiln"))
    again = tvmc.load(str(tmp_path / "cnn.kiln"))
    assert isinstance(again, tvmc.TVMCModel)
    assert again.format == "kiln"
    assert str(again) == str(model)
    assert sorted(again.params) == sorted(model.params)
    for name, value in model.params.items():
        assert np.array_equal(np.asarray(again.params[name]), np.asarray(value)), name


def test_tvmc_load_kiln_with_explicit_format(tvmc, tmp_path):
    model = tvmc.load(om.save(om.mlp(), tmp_path / "mlp.onnx"))
    model.save(str(tmp_path / "saved.kiln"))
    assert tvmc.load(str(tmp_path / "saved.kiln"), model_format="kiln").num_params == \
        om.MLP_NUM_PARAMS


def test_tvmc_errors_are_kiln_errors(kiln, tvmc, tmp_path):
    with pytest.raises(kiln.Error) as err:
        tvmc.load(str(tmp_path / "absent.onnx"))
    assert_mentions(err.value, "absent.onnx")
    path = om.save(om.unsupported_ops(), tmp_path / "unsupported.onnx")
    with pytest.raises(kiln.Error) as err:
        tvmc.load(path)
    assert_mentions(err.value, "FrobnicateTensor", "TwiddleBits", "SecretSauce")


def test_tvmc_light_model(tvmc):
    from conftest import light_model_path

    path = light_model_path("resnet50")
    model = tvmc.load(path)
    assert shapes_of(model.outputs) == ort_output_shapes(path)
