"""User errors: each one is a kiln.Error (Python) or exit code 4 with one line on stderr (CLI),
and the message names the file and the problem."""

import os

import pytest

import onnx_models as om
from conftest import assert_mentions

KILN_ERROR_EXIT = 4
USAGE_EXIT = 2

PARSE_WORDS = ("parse", "invalid", "corrupt", "truncat", "not a valid", "malformed",
               "not an onnx", "protobuf", "failed to read", "cannot read", "decode", "look like")


# ---------------------------------------------------------------------------------------------
# the bad inputs: (file name, how to make it, facts the message must hold, words for the problem)
# ---------------------------------------------------------------------------------------------
def make_truncated(path):
    data = om.small_cnn().SerializeToString()
    path.write_bytes(data[: len(data) // 2])


def make_text(path):
    path.write_text("This is a README, not a model.\nIt has two lines.\n")


def make_empty(path):
    path.write_bytes(b"")


CASES = {
    "missing": ("absent_model.onnx", None, [],
                ("not found", "no such file", "does not exist", "cannot open", "can't open",
                 "could not open", "failed to open")),
    "truncated": ("half_file.onnx", make_truncated, [], PARSE_WORDS),
    "text": ("readme_renamed.onnx", make_text, [], PARSE_WORDS),
    "empty": ("zero_bytes.onnx", make_empty, [], PARSE_WORDS + ("empty", "no graph")),
    "dangling": ("ref_error.onnx", lambda p: om.save(om.dangling_input(), p),
                 ["ghost_tensor", "mix"],
                 ("undefined", "not defined", "unknown", "dangling", "produce", "missing",
                  "not found")),
    "wrong_rank": ("shape_error.onnx", lambda p: om.save(om.conv_wrong_rank(), p),
                   ["conv_on_sequence", "conv"],
                   ("rank", "dimension", "dims", "4-d", "3-d", "4d", "3d", "ndim")),
    "unsupported": ("custom_ops.onnx", lambda p: om.save(om.unsupported_ops(), p),
                    [x for op, node, _ in om.UNSUPPORTED for x in (op, node)],
                    ("unsupported", "not supported", "no converter")),
}


def build_case(tmp_path, case):
    name, make, facts, words = CASES[case]
    path = tmp_path / name
    if make is not None:
        make(path)
    return str(path), [name] + facts, words


@pytest.mark.parametrize("case", list(CASES))
def test_load_error(kiln, tmp_path, case):
    path, facts, words = build_case(tmp_path, case)
    with pytest.raises(kiln.Error) as err:
        kiln.load(path)
    assert_mentions(err.value, *facts, any_of=words)
    assert "internal" not in str(err.value).lower(), "a user error reported as a Kiln bug"


def test_unsupported_ops_all_listed(kiln, tmp_path):
    path = om.save(om.unsupported_ops(), tmp_path / "unsupported.onnx")
    with pytest.raises(kiln.Error) as err:
        kiln.load(path)
    message = str(err.value)
    for op, node, _ in om.UNSUPPORTED:
        assert op in message and node in message, message
    assert "relu_ok" not in message, "a supported node is listed as unsupported"


def test_missing_external_data_file(kiln, tmp_path):
    path = om.save(om.small_cnn(), tmp_path / "ext.onnx", save_as_external_data=True,
                   location="lost_weights.bin", size_threshold=0)
    os.remove(tmp_path / "lost_weights.bin")
    with pytest.raises(kiln.Error) as err:
        kiln.load(path)
    assert_mentions(err.value, "lost_weights.bin")


def test_shape_dict_unknown_input(kiln, tmp_path):
    path = om.save(om.two_inputs(), tmp_path / "two.onnx")
    with pytest.raises(kiln.Error) as err:
        kiln.load(path, shape_dict={"lefty": [1, 8]})
    # names the wrong key, and the inputs that do exist
    assert_mentions(err.value, "two.onnx", "lefty", "left", "right")


def test_shape_dict_wrong_rank(kiln, tmp_path):
    path = om.save(om.small_cnn(), tmp_path / "cnn.onnx")
    with pytest.raises(kiln.Error) as err:
        kiln.load(path, shape_dict={om.CNN_INPUT: [1, 3, 32]})
    # either the shape_dict check or the first op that cannot take the new rank may object
    assert_mentions(err.value, "cnn.onnx", any_of=(om.CNN_INPUT, "conv1"))


def test_shape_dict_breaks_static_reshape(kiln, tmp_path):
    """Batch 2 cannot go through a Reshape to the constant [1,192]: the message names the node."""
    path = om.save(om.static_reshape(), tmp_path / "static.onnx")
    assert kiln.load(path, shape_dict={"volume": [1, 3, 8, 8]}).outputs[0]["shape"] == [1, 192]
    with pytest.raises(kiln.Error) as err:
        kiln.load(path, shape_dict={"volume": [2, 3, 8, 8]})
    assert_mentions(err.value, "static.onnx", "flatten_static", "reshape")


@pytest.mark.parametrize("fmt", ["caffe2", "ONNX2", "pytorchx"])
def test_unknown_model_format(kiln, tmp_path, fmt):
    path = om.save(om.mlp(), tmp_path / "mlp.onnx")
    with pytest.raises(kiln.Error) as err:
        kiln.load(path, model_format=fmt)
    assert_mentions(err.value, fmt, any_of=("format", "unknown", "unsupported"))
    assert "onnx" in str(err.value).lower(), "the message should list the known formats"


def test_unknown_extension(kiln, tmp_path):
    path = tmp_path / "model.xyz"
    path.write_bytes(om.mlp().SerializeToString())
    with pytest.raises(kiln.Error) as err:
        kiln.load(str(path))
    assert_mentions(err.value, "model.xyz", any_of=("model_format", "format", "extension"))


def test_directory_instead_of_file(kiln, tmp_path):
    d = tmp_path / "a_dir.onnx"
    d.mkdir()
    with pytest.raises(kiln.Error) as err:
        kiln.load(str(d))
    assert_mentions(err.value, "a_dir.onnx")


def test_error_is_runtime_error(kiln, tmp_path):
    with pytest.raises(RuntimeError):
        kiln.load(str(tmp_path / "nothing.onnx"))


# ---------------------------------------------------------------------------------------------
# the same through the CLI
# ---------------------------------------------------------------------------------------------
def check_cli_error(proc, *facts, any_of=()):
    assert proc.returncode == KILN_ERROR_EXIT, (proc.returncode, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, f"want one line on stderr, got:\n{proc.stderr}"
    assert lines[0].startswith("kiln: error: "), lines[0]
    assert_mentions(lines[0], *facts, any_of=any_of)
    assert "Traceback" not in proc.stderr and "terminate called" not in proc.stderr


@pytest.mark.parametrize("case", list(CASES))
def test_cli_inspect_error(run_cli, tmp_path, case):
    path, facts, words = build_case(tmp_path, case)
    check_cli_error(run_cli("inspect", path), *facts, any_of=words)
    check_cli_error(run_cli("inspect", "--json", path), *facts, any_of=words)


def test_cli_unknown_input_in_input_shapes(run_cli, tmp_path):
    path = om.save(om.two_inputs(), tmp_path / "two.onnx")
    proc = run_cli("inspect", path, "--input-shapes", "lefty:[1,8]")
    check_cli_error(proc, "lefty", "left", "right")


def test_cli_unknown_model_format(run_cli, tmp_path):
    path = om.save(om.mlp(), tmp_path / "mlp.onnx")
    proc = run_cli("inspect", path, "--model-format", "caffe2")
    # A bad value for a flag may be reported as usage (2) or by the loader (4); either way one
    # line that names the value.
    assert proc.returncode in (USAGE_EXIT, KILN_ERROR_EXIT), proc
    assert proc.stderr.strip().splitlines()[0].startswith("kiln: error: ")
    assert "caffe2" in proc.stderr


def test_cli_unknown_extension(run_cli, tmp_path):
    path = tmp_path / "model.xyz"
    path.write_bytes(om.mlp().SerializeToString())
    check_cli_error(run_cli("inspect", str(path)), "model.xyz")


@pytest.mark.parametrize("spec", ["left:[1,8", "left=[1,8]", "left:[a,b]", ":[1,8]"])
def test_cli_malformed_input_shapes(run_cli, tmp_path, spec):
    path = om.save(om.two_inputs(), tmp_path / "two.onnx")
    proc = run_cli("inspect", path, "--input-shapes", spec)
    assert proc.returncode in (USAGE_EXIT, KILN_ERROR_EXIT), proc
    first = proc.stderr.strip().splitlines()[0]
    assert first.startswith("kiln: error: "), proc.stderr
    assert "input-shapes" in first.lower() or spec.lower() in first.lower(), first
