"""Hostile packages and the user mistakes issue 11 listed: each gives a kiln.Error (CLI exit 4),
never a crash, a call into libc, or a message blaming Kiln.

Packages are built with the compiler, then tampered with. A tamperer can recompute SHA256SUMS
(checksums detect corruption, not malice), so forged packages carry valid checksums and must be
stopped by the executor's checks against the module's kernel table. Tampered packages run in a
subprocess (the CLI): a crash there is a failed test, not a dead pytest.
"""

import hashlib
import io
import json
import os
import subprocess
import sys
import tarfile

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from conftest import REPO

KILN_ERROR_EXIT = 4
INTERNAL_ERROR_EXIT = 3
CHECKSUMS = "SHA256SUMS"


# ---------------------------------------------------------------------------------------------
# models and packages
# ---------------------------------------------------------------------------------------------
def save_model(nodes, inputs, outputs, path, initializers=(), opset=17):
    graph = helper.make_graph(nodes, "g", inputs, outputs, initializer=list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return str(path)


def add_relu_model(path):
    """y = relu(x + w), w a weight: two tensors in, one out, a parameter to protect."""
    w = numpy_helper.from_array(np.arange(6, dtype=np.float32).reshape(2, 3), "w")
    return save_model(
        [helper.make_node("Add", ["x", "w"], ["s"], name="add"),
         helper.make_node("Relu", ["s"], ["y"], name="relu")],
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2, 3])],
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 3])], path, [w])


@pytest.fixture(scope="module")
def package_path(kiln, tmp_path_factory):
    path = tmp_path_factory.mktemp("pkg") / "m.tar"
    model = kiln.load(add_relu_model(path.parent / "m.onnx"))
    # opt_level 0: one kernel per operator, so that the graph has two nodes to tamper with.
    kiln.compile(model, target="llvm", package_path=str(path), opt_level=0)
    return str(path)


def read_members(path):
    with tarfile.open(path) as archive:
        return {m.name: archive.extractfile(m).read() for m in archive.getmembers()}


def write_members(path, members, recompute=True, extra=()):
    """A tar of `members` (name -> bytes); SHA256SUMS recomputed unless `recompute` is False."""
    members = dict(members)
    if recompute:
        members[CHECKSUMS] = "".join(
            f"{hashlib.sha256(data).hexdigest()}  {name}\n"
            for name, data in members.items() if name != CHECKSUMS).encode()
    with tarfile.open(path, "w", format=tarfile.USTAR_FORMAT) as archive:
        for name, data in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(data)
            archive.addfile(info, io.BytesIO(data))
        for info, data in extra:
            archive.addfile(info, io.BytesIO(data) if data is not None else None)
    return str(path)


def forged(package_path, tmp_path, edit_graph=None, edit_metadata=None, recompute=True):
    """The package with mod.json / metadata.json edited (functions of the parsed JSON)."""
    members = read_members(package_path)
    if edit_graph:
        graph = json.loads(members["mod.json"])
        edit_graph(graph)
        members["mod.json"] = json.dumps(graph).encode()
    if edit_metadata:
        metadata = json.loads(members["metadata.json"])
        edit_metadata(metadata)
        members["metadata.json"] = json.dumps(metadata).encode()
    return write_members(tmp_path / "forged.tar", members, recompute)


def expect_cli_error(run_cli, path, *facts):
    proc = run_cli("run", path)
    assert proc.returncode == KILN_ERROR_EXIT, (
        f"exit {proc.returncode} (a negative code is a crash by signal)\n"
        f"stdout: {proc.stdout}\nstderr: {proc.stderr}")
    for fact in facts:
        assert fact in proc.stderr, f"{fact!r} not in {proc.stderr!r}"
    assert "internal error" not in proc.stderr.lower()


def run_python(code):
    """Runs `code` in a fresh interpreter with this checkout's kiln; returns CompletedProcess."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [os.path.join(REPO, "python")] + [p for p in [env.get("PYTHONPATH")] if p])
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=300)


def node_index(graph, op):
    return next(i for i, node in enumerate(graph["nodes"]) if op in node.get("ops", []))


def test_untouched_package_runs(kiln, package_path):
    x = np.array([[-9, 1, -1], [2, -30, 4]], dtype=np.float32)
    got = kiln.run(package_path, inputs={"x": x}).outputs["y"]
    np.testing.assert_array_equal(got, np.maximum(x + np.arange(6).reshape(2, 3), 0))
    assert CHECKSUMS in read_members(package_path)


# ---------------------------------------------------------------------------------------------
# (a) kernels only through the module's table; (b) calls checked against the kernel signature
# ---------------------------------------------------------------------------------------------
def set_kernel(name):
    def edit(graph):
        graph["nodes"][0]["kernel"] = name
    return edit


def drop_argument(graph):
    graph["nodes"][node_index(graph, "relu")]["args"].pop(0)


def smaller_tensor(graph):
    # The relu's input becomes a [1, 3] tensor (still fitting its storage).
    node = graph["nodes"][node_index(graph, "relu")]
    graph["tensors"][node["args"][0]]["shape"] = [1, 3]


def other_dtype(graph):
    node = graph["nodes"][node_index(graph, "relu")]
    graph["tensors"][node["args"][0]]["dtype"] = "int32"


def swap_arguments(graph):
    # The add writes its first input (the model input x) and reads its output.
    node = graph["nodes"][node_index(graph, "add")]
    node["args"][0], node["args"][-1] = node["args"][-1], node["args"][0]


def output_over_weight(graph):
    # Declared as having no outputs, the relu would write the weight w.
    node = graph["nodes"][node_index(graph, "relu")]
    add = graph["nodes"][node_index(graph, "add")]
    node["num_outputs"] = 0
    node["args"][-1] = add["args"][1]


def format_not_a_string(graph):
    graph["format"] = 7


FORGED_GRAPHS = {
    "kernel exit": (set_kernel("exit"), ["has no kernel 'exit'"]),
    "kernel abort": (set_kernel("abort"), ["has no kernel 'abort'"]),
    "kernel init": (set_kernel("kiln_module_init"), ["has no kernel 'kiln_module_init'"]),
    "dropped argument": (drop_argument, ["passes 1 arguments, the kernel takes 2"]),
    "smaller tensor": (smaller_tensor, ["the kernel expects float32 with 6 elements",
                                        "float32[1, 3] (3 elements)"]),
    "other dtype": (other_dtype, ["the kernel expects float32 with 6 elements", "int32[2, 3]"]),
    "swapped arguments": (swap_arguments, ["an input or parameter"]),
    "output over weight": (output_over_weight, ["the kernel writes it", "'w' float32[2, 3] is an "
                                                "input or parameter"]),
    "format not a string": (format_not_a_string, ["it is not a Kiln graph"]),
}


@pytest.mark.parametrize("case", list(FORGED_GRAPHS))
def test_forged_graph_is_refused(run_cli, package_path, tmp_path, case):
    edit, facts = FORGED_GRAPHS[case]
    expect_cli_error(run_cli, forged(package_path, tmp_path, edit_graph=edit), *facts)


def test_forged_graph_is_a_kiln_error_in_python(package_path, tmp_path):
    path = forged(package_path, tmp_path, edit_graph=set_kernel("exit"))
    proc = run_python(
        "import kiln\n"
        f"try:\n    kiln.run({path!r})\n"
        "except kiln.Error as e:\n    print('KILN_ERROR', type(e).__name__, e)\n")
    assert proc.returncode == 0, proc.stderr
    assert "KILN_ERROR Error" in proc.stdout and "has no kernel 'exit'" in proc.stdout


# ---------------------------------------------------------------------------------------------
# (c) every member under a checksum; bounded, strict tar reading; JSON errors are kiln.Error
# ---------------------------------------------------------------------------------------------
def test_metadata_is_under_the_checksum(run_cli, package_path, tmp_path):
    def retarget(metadata):
        metadata["target"] = "llvm -mtriple=aarch64-linux-gnu"
    path = forged(package_path, tmp_path, edit_metadata=retarget, recompute=False)
    expect_cli_error(run_cli, path, "metadata.json does not match its SHA-256 in SHA256SUMS")


def test_changed_graph_without_new_checksums_is_corruption(run_cli, package_path, tmp_path):
    path = forged(package_path, tmp_path, edit_graph=set_kernel("exit"), recompute=False)
    expect_cli_error(run_cli, path, "mod.json does not match its SHA-256")


@pytest.mark.parametrize("bad", [{"target": 5}, {"target": "llvm", "inputs": 3},
                                 {"target": "llvm", "inputs": [{"name": 1}]}, [1, 2]])
def test_metadata_type_errors_are_kiln_errors(kiln, package_path, tmp_path, bad):
    members = read_members(package_path)
    members["metadata.json"] = json.dumps(bad).encode()
    path = write_members(tmp_path / "meta.tar", members)
    with pytest.raises(kiln.Error, match="not a valid Kiln package"):
        kiln.Package(path)


def test_package_of_an_older_kiln_is_refused(run_cli, package_path, tmp_path):
    members = read_members(package_path)
    del members[CHECKSUMS]
    path = write_members(tmp_path / "old.tar", members, recompute=False)
    expect_cli_error(run_cli, path, "SHA256SUMS is missing: the package was written by another "
                     "Kiln version")


def tar_info(name, kind=tarfile.REGTYPE, size=0, link=""):
    info = tarfile.TarInfo(name)
    info.type, info.size, info.linkname = kind, size, link
    return info


@pytest.mark.parametrize("case", ["symlink", "directory", "duplicate", "path", "absolute",
                                  "unknown", "fifo"])
def test_tar_tricks_are_refused(run_cli, package_path, tmp_path, case):
    members = read_members(package_path)
    extra = {
        "symlink": [(tar_info("mod.o", tarfile.SYMTYPE, link="/etc/passwd"), None)],
        "directory": [(tar_info("mod.o", tarfile.DIRTYPE), None)],
        "duplicate": [(tar_info("mod.json", size=2), b"{}")],
        "path": [(tar_info("../mod.o", size=1), b"x")],
        "absolute": [(tar_info("/tmp/mod.o", size=1), b"x")],
        "unknown": [(tar_info("run_me.sh", size=1), b"x")],
        "fifo": [(tar_info("mod.o", tarfile.FIFOTYPE), None)],
    }[case]
    path = write_members(tmp_path / "tricks.tar", members, extra=extra)
    expect_cli_error(run_cli, path, "is not a valid Kiln package")


def test_member_declaring_a_huge_size_is_refused_before_allocating(run_cli, package_path,
                                                                     tmp_path):
    data = open(package_path, "rb").read()
    # The first header's size field (octal, offset 124): 8 GiB - 1, far beyond the file.
    header = bytearray(data[:512])
    header[124:136] = b"77777777777\0"
    header[148:156] = b"        "
    header[148:156] = f"{sum(header):06o}\0 ".encode()
    path = tmp_path / "huge.tar"
    path.write_bytes(bytes(header) + data[512:])
    expect_cli_error(run_cli, str(path), "has an impossible size (8589934591 bytes",
                     "at most 16 GiB")


# ---------------------------------------------------------------------------------------------
# (d) what the runtime would refuse is refused at compile time
# ---------------------------------------------------------------------------------------------
def test_huge_output_is_refused_at_compile_time(kiln, tmp_path):
    shape = numpy_helper.from_array(np.array([1 << 21, 1 << 20], dtype=np.int64), "shape")
    path = save_model([helper.make_node("Expand", ["x", "shape"], ["y"], name="expand_big")],
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 1])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, None)],
                      tmp_path / "big.onnx", [shape])
    model = kiln.load(path)
    with pytest.raises(kiln.Error) as err:
        kiln.compile(model, target="llvm", package_path=str(tmp_path / "big.tar"))
    message = str(err.value)
    assert "expand_big" in message and "too large" in message, message
    assert "1099511627776 (2^40)" in message, message
    assert not (tmp_path / "big.tar").exists()


# ---------------------------------------------------------------------------------------------
# (e) user mistakes are user errors
# ---------------------------------------------------------------------------------------------
def test_internal_error_is_a_kiln_error(kiln):
    assert issubclass(kiln.InternalError, kiln.Error)
    assert issubclass(kiln.MissingDependency, kiln.Error)
    assert not issubclass(kiln.Error, kiln.InternalError)


def duplicate_input_model(path):
    return save_model([helper.make_node("Add", ["x", "x"], ["y"], name="add")],
                      [helper.make_tensor_value_info("x", TensorProto.FLOAT, [2]),
                       helper.make_tensor_value_info("x", TensorProto.FLOAT, [2])],
                      [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2])], path)


def test_duplicate_input_names_are_a_user_error(kiln, run_cli, tmp_path):
    path = duplicate_input_model(tmp_path / "dup.onnx")
    with pytest.raises(kiln.Error) as err:
        kiln.load(path)
    assert not isinstance(err.value, kiln.InternalError), str(err.value)
    assert "two inputs named 'x'" in str(err.value)
    proc = run_cli("compile", path, "-o", tmp_path / "dup.tar")
    assert proc.returncode == KILN_ERROR_EXIT, proc.stderr
    assert "two inputs named 'x'" in proc.stderr


@pytest.mark.parametrize("directory", ["/proc/x", "/dev/null/sub"])
def test_unwritable_dump_dir_is_a_user_error(run_cli, tmp_path, directory):
    model = add_relu_model(tmp_path / "m.onnx")
    proc = run_cli("compile", model, "-o", tmp_path / "m.tar", "--pass-config",
                   f"kiln.dump_dir={directory}")
    assert proc.returncode == KILN_ERROR_EXIT, proc.stderr
    assert f"kiln.dump_dir: cannot create the directory '{directory}'" in proc.stderr
    assert "internal error" not in proc.stderr.lower()


# ---------------------------------------------------------------------------------------------
# (f) indices out of range: an error, as onnxruntime gives, for run-time and constant indices
# ---------------------------------------------------------------------------------------------
def index_case(op, data_shape, indices_shape, attrs, updates_shape=None):
    """A model `op`(data, indices[, updates]) with indices (and data) as inputs."""
    inputs = [helper.make_tensor_value_info("data", TensorProto.FLOAT, data_shape),
              helper.make_tensor_value_info("indices", TensorProto.INT64, indices_shape)]
    names = ["data", "indices"]
    if updates_shape is not None:
        inputs.append(helper.make_tensor_value_info("updates", TensorProto.FLOAT, updates_shape))
        names.append("updates")
    node = helper.make_node(op, names, ["out"], name=f"my_{op.lower()}", **attrs)
    return node, inputs


INDEX_CASES = {
    # op: (data shape, indices shape, attrs, updates shape, indices with one out of range,
    #      that index, its axis, the axis' size)
    "Gather": ([5, 3], [2], {"axis": 0}, None, [1, 7], 7, 0, 5),
    "GatherElements": ([3, 4], [3, 2], {"axis": 1}, None, [[0, 1], [2, -9], [3, 0]], -9, 1, 4),
    "GatherND": ([4, 6], [2, 2], {}, None, [[1, 2], [3, 6]], 6, 1, 6),
    "ScatterElements": ([4, 3], [2, 3], {"axis": 0}, [2, 3], [[0, 1, 2], [3, -5, 0]], -5, 0, 4),
    "ScatterND": ([5, 2], [2, 1], {}, [2, 2], [[1], [5]], 5, 0, 5),
}


def index_feeds(op, indices):
    data_shape, _, _, updates_shape = INDEX_CASES[op][:4]
    rng = np.random.default_rng(0)
    feeds = {"data": rng.standard_normal(data_shape).astype(np.float32),
             "indices": np.array(indices, dtype=np.int64)}
    if updates_shape is not None:
        feeds["updates"] = rng.standard_normal(updates_shape).astype(np.float32)
    return feeds


@pytest.mark.parametrize("op", list(INDEX_CASES))
def test_index_out_of_range_is_an_error_like_onnxruntime(kiln, tmp_path, op):
    import onnxruntime as ort

    data_shape, indices_shape, attrs, updates_shape, bad, wrong, axis, size = INDEX_CASES[op]
    node, inputs = index_case(op, data_shape, indices_shape, attrs, updates_shape)
    out_shape = data_shape if op.startswith("Scatter") else None
    path = save_model([node], inputs,
                      [helper.make_tensor_value_info("out", TensorProto.FLOAT, out_shape)],
                      tmp_path / f"{op}.onnx", opset=18)
    session = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    package = kiln.compile(kiln.load(path), target="llvm", package_path=str(tmp_path / "m.tar"))

    # In range, the bad index replaced by -1 (negative indices count from the end): the same
    # values as onnxruntime.
    good = np.where(np.array(bad) == wrong, -1, np.array(bad))
    feeds = index_feeds(op, good)
    want = session.run(None, feeds)[0]
    got = kiln.run(package, inputs=feeds).outputs["out"]
    np.testing.assert_allclose(got, want, rtol=1e-6, atol=1e-6)

    # Out of range: onnxruntime raises, and so does Kiln, naming the node, index and axis.
    feeds = index_feeds(op, bad)
    with pytest.raises(Exception, match="(?i)out of (range|bounds)|invalid|must be within"):
        session.run(None, feeds)
    with pytest.raises(kiln.Error) as err:
        kiln.run(package, inputs=feeds)
    message = str(err.value)
    assert f"{op}: index {wrong} is out of range for axis {axis} of size {size}" in message, \
        message
    assert f"node 'my_{op.lower()}'" in message, message


@pytest.mark.parametrize("op", ["Gather", "GatherElements", "GatherND"])
def test_constant_index_out_of_range_is_refused_at_compile_time(kiln, tmp_path, op):
    data_shape, _, attrs, _, bad, wrong, axis, size = INDEX_CASES[op]
    indices = numpy_helper.from_array(np.array(bad, dtype=np.int64), "indices")
    node = helper.make_node(op, ["data", "indices"], ["out"], name="const_idx", **attrs)
    path = save_model([node], [helper.make_tensor_value_info("data", TensorProto.FLOAT,
                                                             data_shape)],
                      [helper.make_tensor_value_info("out", TensorProto.FLOAT, None)],
                      tmp_path / "c.onnx", [indices], opset=18)
    with pytest.raises(kiln.Error) as err:
        kiln.compile(kiln.load(path), target="llvm", package_path=str(tmp_path / "c.tar"))
    message = str(err.value)
    assert f"{op} node 'const_idx': index {wrong} is out of range for axis {axis} of size " \
        f"{size}" in message, message
