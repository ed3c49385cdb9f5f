"""kiln.Session, the Python runtime API (docs/runtime.md): correctness against onnxruntime,
zero-copy inputs and outputs (shared memory, data pointers), the documented view semantics,
errors, no reload per kiln.run, and Ctrl-C (KeyboardInterrupt in Python, exit 130 on the CLI)."""

import os
import shutil
import signal
import subprocess
import sys
import tarfile
import textwrap
import time

import numpy as np
import pytest

import onnx_models
from conftest import assert_mentions, ort_session, subprocess_env


@pytest.fixture(scope="module")
def cnn(tmp_path_factory, kiln):
    """(onnx path, package path) of the small CNN: pixels [1,3,32,32] -> probs [1,10]."""
    out = tmp_path_factory.mktemp("session")
    path = out / "cnn.onnx"
    onnx_models.save(onnx_models.small_cnn(), path)
    package = kiln.compile(kiln.load(str(path)), package_path=str(out / "cnn.tar"))
    return str(path), package.path


def aligned_array(shape, dtype=np.float32, alignment=64, offset=0):
    """A C-contiguous array whose data starts `offset` bytes past a multiple of `alignment`."""
    nbytes = int(np.prod(shape)) * np.dtype(dtype).itemsize
    raw = np.empty(nbytes + 2 * alignment, dtype=np.uint8)
    start = (-raw.ctypes.data) % alignment + offset
    return raw[start:start + nbytes].view(dtype).reshape(shape)


def pixels(seed):
    return np.random.default_rng(seed).standard_normal((1, 3, 32, 32)).astype(np.float32)


def test_session_matches_onnxruntime(kiln, cnn):
    onnx_path, package_path = cnn
    ort = ort_session(onnx_path)
    session = kiln.Session(package_path)
    for seed in range(3):
        x = pixels(seed)
        want = ort.run(None, {"pixels": x})[0]
        got = session.run({"pixels": x})
        assert list(got) == ["probs"]
        np.testing.assert_allclose(got["probs"], want, rtol=1e-4, atol=1e-5)
        # TVM GraphModule style on the same session.
        session.set_input("pixels", x)
        session.run()
        np.testing.assert_allclose(session.get_output(0), want, rtol=1e-4, atol=1e-5)


def test_queries(kiln, cnn):
    session = kiln.Session(kiln.Package(cnn[1]), num_threads=2)
    assert session.get_num_inputs() == 1 and session.get_num_outputs() == 1
    assert session.get_input_info() == ({"pixels": (1, 3, 32, 32)}, {"pixels": "float32"})
    assert session.get_output_info() == ({"probs": (1, 10)}, {"probs": "float32"})
    assert session.inputs == [{"name": "pixels", "shape": [1, 3, 32, 32], "dtype": "float32"}]
    assert session.get_input_index("pixels") == 0 and session.get_output_index("probs") == 0
    assert session.num_threads == 2
    session.num_threads = 1
    assert session.num_threads == 1
    assert session.num_kernels >= 1 and session.param_bytes > 0


def test_unpacked_directory(kiln, cnn, tmp_path):
    with tarfile.open(cnn[1]) as archive:
        archive.extractall(tmp_path / "unpacked")
    x = pixels(4)
    want = kiln.Session(cnn[1]).run({"pixels": x})["probs"]
    got = kiln.Session(str(tmp_path / "unpacked")).run({"pixels": x})["probs"]
    np.testing.assert_array_equal(got, want)


def test_outputs_are_views_until_the_next_run(kiln, cnn):
    session = kiln.Session(cnn[1])
    session.run({"pixels": pixels(0)})
    view = session.get_output(0)
    kept = session.get_output(0, copy=True)
    assert not np.shares_memory(view, kept)
    # Another view of the same output shares its memory; the next run overwrites it in place.
    assert session.get_output("probs").ctypes.data == view.ctypes.data
    second = session.run({"pixels": pixels(1)}, copy=False)["probs"]
    assert second.ctypes.data == view.ctypes.data
    np.testing.assert_array_equal(view, second)
    assert not np.array_equal(view, kept)
    # run(inputs) returns copies by default: they survive later runs.
    copied = session.run({"pixels": pixels(2)})["probs"]
    session.run({"pixels": pixels(3)})
    assert not np.shares_memory(copied, session.get_output(0))
    out = np.empty((1, 10), np.float32)
    assert session.get_output(0, out=out) is out
    np.testing.assert_array_equal(out, session.get_output(0))


def test_a_view_keeps_the_session_alive(kiln, cnn):
    session = kiln.Session(cnn[1])
    session.run({"pixels": pixels(0)})
    view = session.get_output(0)
    want = view.copy()
    del session
    import gc
    gc.collect()
    np.testing.assert_array_equal(view, want)


def test_outputs_cross_dlpack_without_copies(kiln, cnn):
    session = kiln.Session(cnn[1])
    session.run({"pixels": pixels(0)})
    view = session.get_output(0)
    assert view.__dlpack_device__() == (1, 0)  # kDLCPU
    again = np.from_dlpack(view)
    assert again.ctypes.data == view.ctypes.data


def test_zero_copy_inputs(kiln, cnn):
    session = kiln.Session(cnn[1])
    x = aligned_array((1, 3, 32, 32))
    x[...] = pixels(0)
    session.bind_input("pixels", x)
    session.run()
    first = session.get_output(0, copy=True)
    # Bound, not copied: writing into the caller's array changes the next run's input.
    x[...] = pixels(1)
    session.run()
    np.testing.assert_array_equal(session.get_output(0),
                                  kiln.Session(cnn[1]).run({"pixels": pixels(1)})["probs"])
    assert not np.array_equal(first, session.get_output(0))
    # set_input copies: the caller's array no longer matters.
    session.set_input("pixels", pixels(2))
    x[...] = 0
    session.run()
    np.testing.assert_array_equal(session.get_output(0),
                                  kiln.Session(cnn[1]).run({"pixels": pixels(2)})["probs"])


def test_zero_copy_needs_alignment(kiln, cnn):
    session = kiln.Session(cnn[1])
    unaligned = aligned_array((1, 3, 32, 32), offset=4)
    unaligned[...] = pixels(0)
    with pytest.raises(kiln.Error) as error:
        session.bind_input("pixels", unaligned)
    assert_mentions(error.value, "pixels", "aligned to 64 bytes")
    # run(inputs) copies what it cannot bind, with the same result.
    np.testing.assert_array_equal(session.run({"pixels": unaligned})["probs"],
                                  session.run({"pixels": pixels(0)})["probs"])


def test_dlpack_inputs(kiln, cnn):
    torch = pytest.importorskip("torch")
    session = kiln.Session(cnn[1])
    x = torch.from_numpy(pixels(5))
    want = session.run({"pixels": pixels(5)})["probs"]
    np.testing.assert_array_equal(session.run({"pixels": x})["probs"], want)
    # torch reads the output view without a copy.
    session.run({"pixels": x})
    view = session.get_output(0)
    assert torch.from_dlpack(view).data_ptr() == view.ctypes.data


def test_errors_name_the_expected_input(kiln, cnn):
    session = kiln.Session(cnn[1])
    with pytest.raises(kiln.Error) as error:
        session.set_input("pixels", np.zeros((1, 3, 32, 31), np.float32))
    assert_mentions(error.value, "input 'pixels' expects float32[1, 3, 32, 32]",
                    "float32[1, 3, 32, 31]")
    with pytest.raises(kiln.Error) as error:
        session.set_input("pixels", np.zeros((1, 3, 32, 32), np.float64))
    assert_mentions(error.value, "float32[1, 3, 32, 32]", "float64[1, 3, 32, 32]")
    with pytest.raises(kiln.Error) as error:
        session.run({"image": pixels(0)})
    assert_mentions(error.value, "no input 'image'", "'pixels' float32[1, 3, 32, 32]")
    with pytest.raises(kiln.Error) as error:
        session.get_output(3)
    assert_mentions(error.value, "output index 3 is out of range")
    with pytest.raises(kiln.Error):
        session.run([pixels(0)])
    with pytest.raises(kiln.Error) as error:
        session.num_threads = 5000
    assert_mentions(error.value, "between 1 and 1024")
    with pytest.raises(kiln.Error) as error:
        kiln.Session("/nonexistent/model.tar")
    assert_mentions(error.value, "/nonexistent/model.tar")
    with pytest.raises(kiln.Error):
        kiln.Session(42)


def test_kiln_run_reuses_the_package_session(kiln, cnn):
    package = kiln.Package(cnn[1])
    first = kiln.run(package, inputs={"pixels": pixels(0)})
    session = package.session()
    second = kiln.run(package, inputs={"pixels": pixels(0)})
    assert package.session() is session  # opened once, kept
    np.testing.assert_array_equal(first.outputs["probs"], second.outputs["probs"])
    # kiln.run on a Session works too, and its outputs are copies.
    third = kiln.run(session, inputs={"pixels": pixels(1)})
    kiln.run(session, inputs={"pixels": pixels(0)})
    assert not np.array_equal(third.outputs["probs"], second.outputs["probs"])


def test_kiln_run_does_not_reload_per_call(kiln, cnn, monkeypatch):
    """Repeated kiln.run / tvmc.run on one Package open its Session once."""
    opened = []

    class CountingSession(kiln.Session):
        def __init__(self, *args, **kwargs):
            opened.append(args[0])
            super().__init__(*args, **kwargs)

    monkeypatch.setattr(kiln.package, "Session", CountingSession)
    from kiln import tvmc
    package = kiln.Package(cnn[1])
    for _ in range(3):
        kiln.run(package)
        tvmc.run(package)
    kiln.run(package, benchmark=True, repeat=2, number=2)
    assert len(opened) == 1


# ---------------------------------------------------------------------------------------------
# Ctrl-C
# ---------------------------------------------------------------------------------------------
LONG_BENCHMARK = textwrap.dedent("""
    import sys, kiln
    package = kiln.Package(sys.argv[1])
    kiln.run(package)  # loaded and warm before the signal
    print("started", flush=True)
    try:
        kiln.run(package, benchmark=True, repeat=1000000, number=1000)
    except KeyboardInterrupt:
        print("KeyboardInterrupt", flush=True)
        sys.exit(42)
    print("finished", flush=True)
""")


def _interrupt_after_start(command, marker=None, env=None):
    """Starts `command`, waits for its first line (or 2 s), sends SIGINT; returns (returncode,
    output, seconds from the signal to the exit)."""
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                               text=True, env=env)
    if marker:
        line = process.stdout.readline()
        assert marker in line, line
    time.sleep(1.5)
    assert process.poll() is None, process.stdout.read()
    sent = time.monotonic()
    process.send_signal(signal.SIGINT)
    try:
        output, _ = process.communicate(timeout=15)
    except subprocess.TimeoutExpired:
        process.kill()
        pytest.fail("the process ignored SIGINT for 15 s")
    return process.returncode, output, time.monotonic() - sent


def test_ctrl_c_stops_a_python_benchmark(cnn, tmp_path):
    script = tmp_path / "bench.py"
    script.write_text(LONG_BENCHMARK)
    env = subprocess_env()
    code, output, seconds = _interrupt_after_start([sys.executable, str(script), cnn[1]],
                                                   "started", env)
    assert "KeyboardInterrupt" in output and code == 42, output
    assert seconds < 5


def test_ctrl_c_stops_a_session_run_loop(cnn, tmp_path):
    script = tmp_path / "loop.py"
    script.write_text(textwrap.dedent("""
        import sys, kiln, numpy as np
        session = kiln.Session(sys.argv[1])
        print("started", flush=True)
        try:
            while True:
                session.run()
        except KeyboardInterrupt:
            print("KeyboardInterrupt", flush=True)
            sys.exit(42)
    """))
    env = subprocess_env()
    code, output, seconds = _interrupt_after_start([sys.executable, str(script), cnn[1]],
                                                   "started", env)
    assert code == 42 and "KeyboardInterrupt" in output, output
    assert seconds < 5


def test_ctrl_c_ends_kiln_run_with_exit_130(kiln_cli, cnn):
    code, output, seconds = _interrupt_after_start(
        [kiln_cli, "run", cnn[1], "--print-time", "--repeat", "1000000", "--number", "1000"])
    assert code == 130, output
    assert "interrupted" in output
    assert seconds < 5


def test_cli_runs_an_unpacked_directory(kiln_cli, cnn, tmp_path):
    with tarfile.open(cnn[1]) as archive:
        archive.extractall(tmp_path / "unpacked")
    x = pixels(3)
    np.savez(tmp_path / "in.npz", pixels=x)
    done = subprocess.run([kiln_cli, "run", str(tmp_path / "unpacked"), "-i",
                           str(tmp_path / "in.npz"), "-o", str(tmp_path / "out.npz")],
                          capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    want = ort_session(cnn[0]).run(None, {"pixels": x})[0]
    np.testing.assert_allclose(np.load(tmp_path / "out.npz")["output_0"], want, rtol=1e-4,
                               atol=1e-5)


def test_narrow_dtype_inputs_cross_as_bits(kiln, tmp_path):
    """An ml_dtypes bfloat16 array is handed over as its bits, without a dtype error."""
    import ml_dtypes
    from onnx import TensorProto, helper
    node = helper.make_node("Cast", ["x"], ["y"], to=TensorProto.FLOAT)
    graph = helper.make_graph([node], "cast",
                              [helper.make_tensor_value_info("x", TensorProto.BFLOAT16, [2, 8])],
                              [helper.make_tensor_value_info("y", TensorProto.FLOAT, [2, 8])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx_models.save(model, tmp_path / "cast.onnx")
    package = kiln.compile(kiln.load(str(tmp_path / "cast.onnx")),
                           package_path=str(tmp_path / "cast.tar"))
    x = (np.arange(16, dtype=np.float32).reshape(2, 8) / 4 - 1).astype(ml_dtypes.bfloat16)
    got = kiln.Session(package).run({"x": x})["y"]
    np.testing.assert_array_equal(got, x.astype(np.float32))  # bfloat16 -> float32 is exact
    with pytest.raises(kiln.Error) as error:
        kiln.Session(package).run({"x": x.astype(ml_dtypes.float8_e4m3fn)})
    assert_mentions(error.value, "input 'x' expects bfloat16[2, 8]")


def test_kiln_run_from_several_threads(kiln, cnn):
    """Threads sharing one Package: each kiln.run gets the package's session or, while another
    thread holds it, a session of its own; every result is right."""
    import threading
    package = kiln.Package(cnn[1])
    want = {seed: kiln.Session(cnn[1]).run({"pixels": pixels(seed)})["probs"] for seed in range(4)}
    failures = []

    def work(seed):
        try:
            for _ in range(20):
                got = kiln.run(package, inputs={"pixels": pixels(seed)}).outputs["probs"]
                np.testing.assert_array_equal(got, want[seed])
        except Exception as error:  # reported by the main thread
            failures.append(error)

    threads = [threading.Thread(target=work, args=(seed,)) for seed in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not failures, failures


def test_a_session_refuses_a_second_thread(kiln, cnn):
    import threading
    session = kiln.Session(cnn[1], num_threads=1)
    errors = []
    busy = threading.Thread(target=lambda: errors.append(kiln.run(
        session, benchmark=True, repeat=20, number=2000)))  # a second or more
    busy.start()
    time.sleep(0.5)
    with pytest.raises(kiln.Error) as error:
        session.run()
    busy.join()
    assert_mentions(error.value, "in use by another thread", "a Session per thread")
    session.run()  # free again


# ---------------------------------------------------------------------------------------------
# ld.lld found at run time
# ---------------------------------------------------------------------------------------------
def test_lld_is_found_on_path(kiln_cli, cnn, tmp_path):
    real = shutil.which("ld.lld") or shutil.which("ld.lld-19") or "/usr/lib/llvm-19/bin/ld.lld"
    tools = tmp_path / "tools"
    tools.mkdir()
    log = tmp_path / "called"
    wrapper = tools / "ld.lld"
    wrapper.write_text(f"#!/bin/sh\necho called > '{log}'\nexec '{real}' \"$@\"\n")
    wrapper.chmod(0o755)
    env = dict(os.environ, PATH=f"{tools}{os.pathsep}{os.environ.get('PATH', '')}")
    env.pop("KILN_LLD", None)
    done = subprocess.run([kiln_cli, "compile", cnn[0], "-o", str(tmp_path / "m.tar")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr
    assert log.exists(), "kiln compile did not use the ld.lld found first on PATH"


def test_missing_lld_is_a_missing_dependency(kiln_cli, cnn, tmp_path):
    env = dict(os.environ, KILN_LLD=str(tmp_path / "no-such-ld.lld"))
    done = subprocess.run([kiln_cli, "compile", cnn[0], "-o", str(tmp_path / "m.tar")],
                          capture_output=True, text=True, env=env, timeout=300)
    assert done.returncode == 5, done.stderr
    assert_mentions(done.stderr, "ld.lld", "install it: apt-get install lld-19")
    assert not (tmp_path / "m.tar").exists()
