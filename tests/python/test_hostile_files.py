"""Hostile files get a clear kiln.Error (CLI: exit 4), never a crash, MemoryError or
UnicodeDecodeError: declared sizes are checked against the bytes present before anything is
allocated, decompression and file reads are bounded, and names from files are escaped to valid
UTF-8 (expected text: Python's bytes.decode("utf-8", "backslashreplace")).
"""

import hashlib
import io
import json
import os
import struct
import subprocess
import sys
import zipfile

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

import onnx_models as om

KILN_ERROR_EXIT = 4
MIB = 1 << 20


def peak_rss_of(code, tmp_path):
    """Runs `code` (Python, with `kiln` imported) in a fresh interpreter; returns (its stdout,
    its peak resident memory in bytes)."""
    # VmHWM is this process's own peak (ru_maxrss would carry the forking pytest's over exec).
    script = ("import kiln\n" + code + "\nprint('PEAK', [int(line.split()[1]) * 1024 for line in "
              "open('/proc/self/status') if line.startswith('VmHWM:')][0])\n")
    proc = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=300, cwd=str(tmp_path), env=dict(os.environ))
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()
    return "\n".join(lines[:-1]), int(lines[-1].split()[1])


# ---------------------------------------------------------------------------------------------
# ONNX: an initializer's dims must agree with its bytes before any memory is reserved
# ---------------------------------------------------------------------------------------------
def tiny_model_with_initializer(tensor):
    graph = helper.make_graph(
        [helper.make_node("Add", ["x", tensor.name], ["y"], name="add")], "tiny",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)], [tensor])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model


def huge_raw(name, dims):
    tensor = TensorProto(name=name, data_type=TensorProto.FLOAT, raw_data=b"\0\0\0\0")
    tensor.dims.extend(dims)
    return tensor


@pytest.mark.parametrize("dims,field", [([1 << 30], "raw_data has 4 bytes"),
                                        ([1 << 40], "raw_data has 4 bytes"),
                                        ([1 << 20, 1 << 20], "raw_data has 4 bytes")])
def test_tiny_onnx_with_huge_dims_fails_before_allocating(kiln, tmp_path, dims, field):
    path = om.save(tiny_model_with_initializer(huge_raw("w", dims)), tmp_path / "tiny.onnx")
    assert os.path.getsize(path) < 400
    out, peak = peak_rss_of(
        "try:\n    kiln.load('tiny.onnx')\nexcept kiln.Error as e:\n    print('ERROR', e)",
        tmp_path)
    assert out.startswith("ERROR"), out
    assert "initializer 'w'" in out and field in out, out
    assert peak < 1024 * MIB, f"peak memory {peak / MIB:.0f} MiB for a {dims} initializer"


def test_typed_field_count_is_checked(kiln, tmp_path):
    tensor = TensorProto(name="w", data_type=TensorProto.FLOAT, float_data=[1.0])
    tensor.dims.append(1 << 40)
    path = om.save(tiny_model_with_initializer(tensor), tmp_path / "typed.onnx")
    with pytest.raises(kiln.Error) as err:
        kiln.load(path)
    assert "float_data holds 1 values" in str(err.value), err.value


def test_external_data_size_is_checked(kiln, tmp_path):
    tensor = TensorProto(name="w", data_type=TensorProto.FLOAT,
                         data_location=TensorProto.EXTERNAL)
    tensor.dims.extend([1 << 30])
    entry = tensor.external_data.add()
    entry.key, entry.value = "location", "w.bin"
    (tmp_path / "w.bin").write_bytes(b"\0" * 16)
    path = om.save(tiny_model_with_initializer(tensor), tmp_path / "ext.onnx")
    with pytest.raises(kiln.Error) as err:
        kiln.load(path)
    assert "too short" in str(err.value) and "the file has 16 bytes" in str(err.value)


def test_device_as_model_is_refused(kiln, run_cli):
    with pytest.raises(kiln.Error) as err:
        kiln.load("/dev/zero", model_format="onnx")
    assert "not a regular file" in str(err.value)


# ---------------------------------------------------------------------------------------------
# .kiln: every declared length against the bytes present; JSON type errors name the field
# ---------------------------------------------------------------------------------------------
def edit_kiln(path, edit):
    """Rewrites a .kiln file's JSON header with `edit`, keeping sizes and the SHA-256 consistent
    (layout: docs/formats.md)."""
    data = open(path, "rb").read()
    header_size, data_size = struct.unpack_from("<QQ", data, 16)
    align = lambda n: (n + 63) // 64 * 64  # noqa: E731
    header = json.loads(data[64:64 + header_size])
    weights = data[align(64 + header_size):]
    assert len(weights) == data_size
    edit(header)
    text = json.dumps(header).encode()
    contents = text + b"\0" * (align(64 + len(text)) - 64 - len(text)) + weights
    preamble = data[:16] + struct.pack("<QQ", len(text), data_size)
    open(path, "wb").write(preamble + hashlib.sha256(contents).digest() + contents)


@pytest.fixture
def saved_cnn(kiln, tmp_path):
    path = str(tmp_path / "cnn.kiln")
    kiln.load(om.save(om.small_cnn(), tmp_path / "cnn.onnx")).save(path)
    return path


def test_kiln_edit_helper_keeps_files_loadable(kiln, saved_cnn):
    edit_kiln(saved_cnn, lambda header: None)
    assert kiln.load(saved_cnn).inputs[0]["name"] == om.CNN_INPUT


def test_compressed_bundle_is_not_decompressed(kiln, tmp_path):
    """A saved-model bundle is a plain tar (Model.save writes one): a gzip-compressed one, which
    could expand without bound, is refused rather than decompressed."""
    import gzip
    import tarfile

    bundle = str(tmp_path / "model.tar")
    model = kiln.load(om.save(om.small_cnn(), tmp_path / "cnn.onnx"))
    kiln.compile(model, target="llvm", package_path=str(tmp_path / "cnn.tar"))
    model.save(bundle)
    assert tarfile.open(bundle, "r:").getnames()  # a plain tar: loads
    assert kiln.load(bundle).inputs[0]["name"] == om.CNN_INPUT
    squeezed = str(tmp_path / "squeezed.tar")  # gzip data under the bundle's own name
    with open(bundle, "rb") as source, gzip.open(squeezed, "wb") as target:
        target.write(source.read())
    with pytest.raises(kiln.Error, match="squeezed.tar"):
        kiln.load(squeezed)


@pytest.mark.parametrize("shape", [[1 << 40], [1 << 30, 1 << 30], [-5]])
def test_kiln_constant_with_huge_shape(kiln, saved_cnn, tmp_path, shape):
    def edit(header):
        header["constants"][0]["shape"] = shape
    edit_kiln(saved_cnn, edit)
    out, peak = peak_rss_of(
        f"try:\n    kiln.load({saved_cnn!r})\nexcept kiln.Error as e:\n    print('ERROR', e)",
        tmp_path)
    assert out.startswith("ERROR") and "constants[0]" in out, out
    assert peak < 1024 * MIB


@pytest.mark.parametrize("edit,message", [
    (lambda h: h["nodes"][1].__setitem__("op", 7), "nodes[1].op must be a string"),
    (lambda h: h.__setitem__("constants", {"a": 1}), "constants must be a list"),
    (lambda h: h["inputs"][0].__setitem__("shape", "NCHW"), "inputs[0].shape must be a list"),
    (lambda h: h["constants"][0].__setitem__("nbytes", "many"),
     "constants[0].nbytes must be an integer"),
])
def test_kiln_json_type_errors_are_kiln_errors(kiln, saved_cnn, edit, message):
    edit_kiln(saved_cnn, edit)
    with pytest.raises(kiln.Error) as err:
        kiln.load(saved_cnn)
    assert type(err.value) is kiln.Error
    assert saved_cnn in str(err.value) and message in str(err.value), err.value


# ---------------------------------------------------------------------------------------------
# .npz / .npy for the CLI: exact data lengths, bounded decompression, regular files only
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def relu_package(kiln, tmp_path_factory):
    work = tmp_path_factory.mktemp("relu")
    graph = helper.make_graph([helper.make_node("Relu", ["x"], ["y"], name="relu")], "relu",
                              [helper.make_tensor_value_info("x", TensorProto.FLOAT, [4])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    path = str(work / "relu.tar")
    kiln.compile(kiln.load(om.save(model, work / "relu.onnx")), package_path=path)
    return path


def npy_bytes(array):
    buffer = io.BytesIO()
    np.save(buffer, array)
    return buffer.getvalue()


def assert_user_error(proc, *facts):
    assert proc.returncode == KILN_ERROR_EXIT, (proc.returncode, proc.stderr)
    for fact in facts:
        assert fact in proc.stderr, proc.stderr


def test_short_npy_is_an_error_not_zero_filled(run_cli, relu_package, tmp_path):
    # A header claiming 1 GiB of float32 over 16 bytes of data.
    data = npy_bytes(np.zeros(4, np.float32))
    data = data.replace(b"(4,), }" + b" " * 8, b"(268435456,), }", 1)  # header length kept
    assert b"268435456" in data
    with zipfile.ZipFile(tmp_path / "short.npz", "w") as archive:
        archive.writestr("x.npy", data)
    assert os.path.getsize(tmp_path / "short.npz") < 400
    proc = run_cli("run", relu_package, "-i", tmp_path / "short.npz")
    assert_user_error(proc, "holds 16 bytes of data, its shape needs 1073741824")


def test_npz_declaring_huge_members_is_refused(run_cli, relu_package, tmp_path):
    # A stored member whose sizes in the local and central headers claim 3.75 GiB.
    with zipfile.ZipFile(tmp_path / "liar.npz", "w") as archive:
        archive.writestr("x.npy", npy_bytes(np.zeros(4, np.float32)))
    data = bytearray((tmp_path / "liar.npz").read_bytes())
    true_size = struct.pack("<I", len(npy_bytes(np.zeros(4, np.float32))))
    claimed = struct.pack("<I", 0xF0000000)
    for signature, offset in ((b"PK\x03\x04", 22), (b"PK\x01\x02", 24)):
        at = data.find(signature) + offset
        assert data[at:at + 4] == true_size
        data[at:at + 4] = claimed
    (tmp_path / "liar.npz").write_bytes(bytes(data))
    proc = run_cli("run", relu_package, "-i", tmp_path / "liar.npz")
    assert proc.returncode == KILN_ERROR_EXIT, proc.stderr
    assert "x.npy" in proc.stderr and ("kMaxNpzCompressionRatio" in proc.stderr
                                       or "not hold" in proc.stderr), proc.stderr


def test_zip_bomb_is_refused(run_cli, relu_package, tmp_path):
    # 64 MiB of zeros deflate to ~64 KiB: beyond the ratio limit (docs/formats.md).
    zeros = np.zeros(16 * MIB, np.float32)
    with zipfile.ZipFile(tmp_path / "bomb.npz", "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("x.npy", npy_bytes(zeros))
    assert os.path.getsize(tmp_path / "bomb.npz") < MIB
    proc = run_cli("run", relu_package, "-i", tmp_path / "bomb.npz")
    assert_user_error(proc, "kMaxNpzCompressionRatio", "x.npy", "np.savez")


def test_compressed_npz_of_ordinary_data_is_read(run_cli, relu_package, tmp_path):
    x = np.array([-1.5, 2.0, -0.25, 3.0], np.float32)
    np.savez_compressed(tmp_path / "in.npz", x=x)
    proc = run_cli("run", relu_package, "-i", tmp_path / "in.npz", "-o", tmp_path / "out.npz")
    assert proc.returncode == 0, proc.stderr
    np.testing.assert_array_equal(np.load(tmp_path / "out.npz")["output_0"], np.maximum(x, 0))


def test_devices_and_fifos_are_not_read(run_cli, relu_package, tmp_path):
    path = om.save(om.two_inputs(), tmp_path / "two.onnx")
    proc = run_cli("compile", path, "--constant-input", "left=/dev/zero", "-o",
                   tmp_path / "m.tar", timeout=60)
    assert_user_error(proc, "/dev/zero", "not a regular file")
    fifo = tmp_path / "inputs.npz"
    os.mkfifo(fifo)
    proc = run_cli("run", relu_package, "-i", fifo, timeout=60)
    assert_user_error(proc, str(fifo), "not a regular file")


# ---------------------------------------------------------------------------------------------
# Names that are not UTF-8
# ---------------------------------------------------------------------------------------------
BAD = b"\xff\xfe"  # never valid in UTF-8


def model_with_bad_names(op="Relu"):
    """A model whose input, output and node names and op type hold invalid UTF-8: built with
    placeholders by onnx.helper, then the bytes patched (same lengths, so the protobuf stays
    well-formed)."""
    graph = helper.make_graph(
        [helper.make_node(op, ["inZZ"], ["outZZ"], name="nodeZZ")], "graphZZ",
        [helper.make_tensor_value_info("inZZ", TensorProto.FLOAT, [4])],
        [helper.make_tensor_value_info("outZZ", TensorProto.FLOAT, [4])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    return model.SerializeToString().replace(b"ZZ", BAD)


def shown(text):
    return text.encode().replace(b"ZZ", BAD).decode("utf-8", "backslashreplace")


def test_invalid_utf8_names_load_print_compile_and_run(kiln, tmp_path):
    path = tmp_path / "names.onnx"
    path.write_bytes(model_with_bad_names())
    model = kiln.load(str(path))
    assert model.inputs[0]["name"] == shown("inZZ")
    assert model.outputs[0]["name"] == shown("outZZ")
    # The text IR quotes such names and doubles their backslashes (docs/formats.md).
    quoted = shown("inZZ").replace("\\", "\\\\")
    assert quoted in str(model)
    summary = io.StringIO()
    model.summary(file=summary)
    assert quoted in summary.getvalue() and shown("nodeZZ") in summary.getvalue()
    package = kiln.compile(model, package_path=str(tmp_path / "names.tar"))
    assert package.inputs[0]["name"] == shown("inZZ")
    x = np.array([-1.0, 2.0, -3.0, 4.0], np.float32)
    result = kiln.run(package, inputs={shown("inZZ"): x})
    np.testing.assert_array_equal(result.outputs[shown("outZZ")], np.maximum(x, 0))


def test_invalid_utf8_in_errors(kiln, run_cli, tmp_path):
    path = tmp_path / "unsupported.onnx"
    path.write_bytes(model_with_bad_names(op="NoSuchOpZZ"))
    with pytest.raises(kiln.Error) as err:
        kiln.load(str(path))
    assert shown("NoSuchOpZZ") in str(err.value) and shown("nodeZZ") in str(err.value)
    proc = run_cli("inspect", path)
    assert_user_error(proc, shown("NoSuchOpZZ"))


def test_npz_member_names_are_decoded_as_the_zip_format_says(run_cli, relu_package, tmp_path):
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("xZZ.npy", npy_bytes(np.zeros(4, np.float32)))
    data = bytearray(buffer.getvalue().replace(b"xZZ", b"x" + BAD))
    (tmp_path / "cp437.npz").write_bytes(bytes(data))
    # Without the UTF-8 flag a zip name is CP437 (APPNOTE.TXT, appendix D): shown decoded.
    proc = run_cli("run", relu_package, "-i", tmp_path / "cp437.npz")
    assert_user_error(proc, "no input '" + (b"x" + BAD).decode("cp437") + "'")
    # With the UTF-8 flag (bit 11) the name must be UTF-8: the archive is refused.
    for signature, offset in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):
        at = data.find(signature) + offset
        struct.pack_into("<H", data, at, struct.unpack_from("<H", data, at)[0] | 0x800)
    (tmp_path / "flagged.npz").write_bytes(bytes(data))
    proc = run_cli("run", relu_package, "-i", tmp_path / "flagged.npz")
    assert_user_error(proc, str(tmp_path / "flagged.npz"), "cannot read")
