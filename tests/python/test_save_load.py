"""Model.save(path) writes a .kiln file; kiln.load(path) reads back the very same model."""

import os

import numpy as np
import pytest

import onnx_models as om
from conftest import assert_mentions, light_model_path

FILE_WORDS = ("corrupt", "truncat", "invalid", "not a kiln", "unexpected end", "malformed",
              "bad magic", "magic", "damaged", "too short", "incomplete")


def assert_same_model(a, b):
    assert str(a) == str(b)
    assert a.inputs == b.inputs
    assert a.outputs == b.outputs
    assert a.num_params == b.num_params
    assert a.macs == b.macs
    assert a.op_histogram == b.op_histogram
    assert sorted(a.params) == sorted(b.params)
    for name in a.params:
        x, y = np.asarray(a.params[name]), np.asarray(b.params[name])
        assert x.dtype == y.dtype, (name, x.dtype, y.dtype)
        assert x.shape == y.shape, (name, x.shape, y.shape)
        assert np.array_equal(x, y, equal_nan=x.dtype.kind in "fc"), name
        assert x.tobytes() == y.tobytes(), name  # bit for bit (covers -0.0 and NaN payloads)


def round_trip(kiln, source, target):
    model = kiln.load(str(source))
    model.save(str(target))
    assert os.path.getsize(target) > 0
    again = kiln.load(str(target))
    assert again.format == "kiln"
    assert_same_model(model, again)
    return model, again


@pytest.mark.parametrize("builder", [om.small_cnn, om.mlp, om.multi_output, om.reshape_via_shape,
                                     om.two_inputs, om.symbolic_batch_cnn])
def test_round_trip_small_models(kiln, tmp_path, builder):
    source = om.save(builder(), tmp_path / f"{builder.__name__}.onnx")
    round_trip(kiln, source, tmp_path / f"{builder.__name__}.kiln")


def test_round_trip_keeps_symbolic_dims(kiln, tmp_path):
    source = om.save(om.symbolic_batch_cnn(), tmp_path / "sym.onnx")
    _, again = round_trip(kiln, source, tmp_path / "sym.kiln")
    assert again.inputs[0]["shape"] == ["batch", 3, 16, 16]


def test_round_trip_with_shape_dict(kiln, tmp_path):
    source = om.save(om.symbolic_batch_cnn(), tmp_path / "sym.onnx")
    model = kiln.load(source, shape_dict={"images": [6, 3, 16, 16]})
    model.save(str(tmp_path / "sym6.kiln"))
    again = kiln.load(str(tmp_path / "sym6.kiln"))
    assert_same_model(model, again)
    assert again.outputs[0]["shape"] == [6, 8]


def test_round_trip_weights_bit_exact(kiln, tmp_path):
    """Values that text formats lose: -0.0, NaN, inf, denormals, the largest float."""
    onnx_model = om.mlp()
    special = np.array([-0.0, np.nan, np.inf, -np.inf, 1e-45, 3.4028235e38, 1 / 3, -7.5] * 4,
                       dtype=np.float32)
    b1 = onnx_model.graph.initializer[1]
    assert b1.name == "b1" and len(special) == 32
    b1.ClearField("float_data")
    b1.raw_data = special.tobytes()
    source = om.save(onnx_model, tmp_path / "special.onnx")
    model, again = round_trip(kiln, source, tmp_path / "special.kiln")
    assert any(np.asarray(p).tobytes() == special.tobytes() for p in again.params.values())


def test_round_trip_resnet50(kiln, exported, tmp_path):
    model, again = round_trip(kiln, exported("resnet50_v1"), tmp_path / "resnet50_v1.kiln")
    # Weights are stored as binary, not text: the file is about the size of the weights.
    assert os.path.getsize(tmp_path / "resnet50_v1.kiln") < 1.2 * 4 * model.num_params + (1 << 20)


def test_round_trip_bert_tiny_int_inputs(kiln, exported, tmp_path):
    _, again = round_trip(kiln, exported("bert_tiny"), tmp_path / "bert_tiny.kiln")
    assert [i["dtype"] for i in again.inputs] == ["int64", "int64"]


def test_round_trip_light_model(kiln, tmp_path):
    round_trip(kiln, light_model_path("squeezenet"), tmp_path / "squeezenet.kiln")


def test_save_twice_is_deterministic(kiln, tmp_path):
    model = kiln.load(om.save(om.small_cnn(), tmp_path / "cnn.onnx"))
    model.save(str(tmp_path / "a.kiln"))
    model.save(str(tmp_path / "b.kiln"))
    assert (tmp_path / "a.kiln").read_bytes() == (tmp_path / "b.kiln").read_bytes()


def test_resave_of_loaded_kiln_file(kiln, tmp_path):
    """onnx -> a.kiln -> b.kiln: the second generation is the same model and the same bytes (the
    source path and format live outside the saved module)."""
    model = kiln.load(om.save(om.small_cnn(), tmp_path / "cnn.onnx"))
    model.save(str(tmp_path / "a.kiln"))
    kiln.load(str(tmp_path / "a.kiln")).save(str(tmp_path / "b.kiln"))
    assert (tmp_path / "a.kiln").read_bytes() == (tmp_path / "b.kiln").read_bytes()
    assert_same_model(kiln.load(str(tmp_path / "a.kiln")), kiln.load(str(tmp_path / "b.kiln")))
    assert_same_model(model, kiln.load(str(tmp_path / "b.kiln")))


# ---------------------------------------------------------------------------------------------
# damaged files
# ---------------------------------------------------------------------------------------------
@pytest.fixture
def saved(kiln, tmp_path):
    path = tmp_path / "good.kiln"
    kiln.load(om.save(om.small_cnn(), tmp_path / "cnn.onnx")).save(str(path))
    return path


@pytest.mark.parametrize("keep", [0, 1, 8, 0.5, 0.9, -1])
def test_truncated_kiln_file(kiln, saved, tmp_path, keep):
    data = saved.read_bytes()
    n = keep if isinstance(keep, int) and keep >= 0 else (
        len(data) - 1 if keep == -1 else int(len(data) * keep))
    bad = tmp_path / "cut_short.kiln"
    bad.write_bytes(data[:n])
    with pytest.raises(kiln.Error) as err:
        kiln.load(str(bad))
    assert_mentions(err.value, "cut_short.kiln", any_of=FILE_WORDS + ("empty",))


def test_garbage_header(kiln, saved, tmp_path):
    data = bytearray(saved.read_bytes())
    data[:16] = b"\xde\xad\xbe\xef" * 4
    bad = tmp_path / "garbage.kiln"
    bad.write_bytes(bytes(data))
    with pytest.raises(kiln.Error) as err:
        kiln.load(str(bad))
    assert_mentions(err.value, "garbage.kiln", any_of=FILE_WORDS)


def test_onnx_file_named_kiln(kiln, tmp_path):
    bad = tmp_path / "actually_onnx.kiln"
    bad.write_bytes(om.small_cnn().SerializeToString())
    with pytest.raises(kiln.Error) as err:
        kiln.load(str(bad))
    assert_mentions(err.value, "actually_onnx.kiln", any_of=FILE_WORDS)


def test_kiln_file_with_trailing_garbage(kiln, saved, tmp_path):
    bad = tmp_path / "trailing.kiln"
    bad.write_bytes(saved.read_bytes() + b"\x00junk" * 10)
    with pytest.raises(kiln.Error) as err:
        kiln.load(str(bad))
    assert_mentions(err.value, "trailing.kiln")


def test_save_into_missing_directory(kiln, tmp_path):
    model = kiln.load(om.save(om.mlp(), tmp_path / "mlp.onnx"))
    target = tmp_path / "no_such_dir" / "m.kiln"
    with pytest.raises(kiln.Error) as err:
        model.save(str(target))
    assert_mentions(err.value, "no_such_dir")
    assert not target.exists()
