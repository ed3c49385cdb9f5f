"""The installed C++ package (docs/runtime.md): `cmake --install` into a temporary prefix, the
example examples/deploy_cpp built against that prefix only (find_package(Kiln)), run on a small
compiled classifier: its top-5 equals `kiln run --print-top 5`'s."""

import os
import re
import shutil
import subprocess

import numpy as np
import pytest

import onnx_models
from conftest import REPO


def _run(command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, timeout=600, **kwargs)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout}\n{result.stderr}"
    return result.stdout


@pytest.fixture(scope="module")
def prefix(kiln_cli, tmp_path_factory):
    if shutil.which("cmake") is None:
        pytest.fail("cmake is needed to test the installed package")
    build_dir = os.path.dirname(os.path.dirname(os.path.realpath(kiln_cli)))
    if not os.path.isfile(os.path.join(build_dir, "cmake_install.cmake")):
        pytest.fail(f"{kiln_cli} is not in a CMake build directory; cannot install from it")
    prefix = tmp_path_factory.mktemp("prefix")
    _run(["cmake", "--install", build_dir, "--prefix", str(prefix)])
    return prefix


def test_install_tree_is_self_contained(prefix):
    for path in ["include/kiln/runtime.h", "include/kiln/runtime_c.h", "include/kiln/kiln.h",
                 "lib/libkiln_runtime.so", "lib/libkiln.a", "bin/kiln",
                 "lib/cmake/Kiln/KilnConfig.cmake", "lib/cmake/Kiln/KilnConfigVersion.cmake",
                 "lib/cmake/Kiln/KilnTargets.cmake"]:
        assert (prefix / path).is_file(), path
    # The installed headers include only each other and the standard library, never src/.
    for header in (prefix / "include" / "kiln").iterdir():
        for included in re.findall(r'#include\s+"([^"]+)"', header.read_text()):
            assert included.startswith("kiln/"), f"{header.name} includes {included}"
    assert _run([str(prefix / "bin" / "kiln"), "--version"]).startswith("kiln ")


def test_deploy_example_matches_kiln_run(prefix, kiln, kiln_cli, tmp_path):
    build = tmp_path / "build"
    _run(["cmake", "-S", os.path.join(REPO, "examples", "deploy_cpp"), "-B", str(build),
          f"-DCMAKE_PREFIX_PATH={prefix}", "-DCMAKE_BUILD_TYPE=Release"])
    _run(["cmake", "--build", str(build)])
    classify = build / "classify"

    onnx_path = tmp_path / "cnn.onnx"
    onnx_models.save(onnx_models.small_cnn(), onnx_path)
    package = tmp_path / "cnn.tar"
    kiln.compile(kiln.load(str(onnx_path)), package_path=str(package))
    image = np.random.default_rng(7).standard_normal((1, 3, 32, 32)).astype(np.float32)
    np.save(tmp_path / "image.npy", image)
    np.savez(tmp_path / "inputs.npz", pixels=image)

    example = _run([str(classify), str(package), str(tmp_path / "image.npy")])
    got = [(int(index), float(score)) for index, score in
           (line.split() for line in example.strip().splitlines())]
    cli = _run([kiln_cli, "run", str(package), "-i", str(tmp_path / "inputs.npz"),
                "--print-top", "5"])
    want = [(int(index), float(score)) for _, index, score in
            re.findall(r"^\s+(\d+)\s+(\d+)\s+(\S+)$", cli, re.MULTILINE)]
    assert len(got) == 5 and [i for i, _ in got] == [i for i, _ in want], (example, cli)
    np.testing.assert_allclose([s for _, s in got], [s for _, s in want], rtol=1e-5)

    # Errors of the runtime reach the example's user as kiln::Error messages.
    np.save(tmp_path / "wrong.npy", image[:, :2])
    failed = subprocess.run([str(classify), str(package), str(tmp_path / "wrong.npy")],
                            capture_output=True, text=True, timeout=60)
    assert failed.returncode == 1
    assert "input 'pixels'" in failed.stderr and "float32[1, 3, 32, 32]" in failed.stderr


# ---------------------------------------------------------------------------------------------
# The examples of docs/runtime.md, run as written
# ---------------------------------------------------------------------------------------------
def _doc_block(language):
    text = open(os.path.join(REPO, "docs", "runtime.md")).read()
    match = re.search(rf"```{language}\n(.*?)```", text, re.DOTALL)
    assert match, f"docs/runtime.md has no {language} example"
    return match.group(1)


@pytest.fixture(scope="module")
def mlp_package(kiln, tmp_path_factory):
    """(directory holding mlp.tar, onnxruntime's scores for features = 0.5)."""
    from conftest import ort_session
    out = tmp_path_factory.mktemp("doc")
    onnx_models.save(onnx_models.mlp(), out / "mlp.onnx")
    kiln.compile(kiln.load(str(out / "mlp.onnx")), package_path=str(out / "mlp.tar"))
    features = np.full((1, 64), 0.5, np.float32)
    want = ort_session(str(out / "mlp.onnx")).run(None, {"features": features})[0]
    return out, want


def test_python_doc_example(mlp_package, monkeypatch):
    directory, want = mlp_package
    monkeypatch.chdir(directory)
    namespace = {}
    exec(compile(_doc_block("python"), "docs/runtime.md", "exec"), namespace)
    np.testing.assert_allclose(namespace["scores"], want, rtol=1e-4, atol=1e-5)


def test_cpp_and_c_doc_examples(prefix, mlp_package, tmp_path):
    directory, want = mlp_package
    source = tmp_path / "src"
    source.mkdir()
    (source / "example.cc").write_text(_doc_block("cpp"))
    (source / "example.c").write_text(_doc_block("c"))
    (source / "CMakeLists.txt").write_text(
        "cmake_minimum_required(VERSION 3.24)\nproject(doc LANGUAGES C CXX)\n"
        "set(CMAKE_CXX_STANDARD 20)\nfind_package(Kiln REQUIRED COMPONENTS runtime)\n"
        "add_executable(example_cpp example.cc)\ntarget_link_libraries(example_cpp Kiln::runtime)\n"
        "add_executable(example_c example.c)\ntarget_link_libraries(example_c Kiln::runtime)\n")
    build = tmp_path / "build"
    _run(["cmake", "-S", str(source), "-B", str(build), f"-DCMAKE_PREFIX_PATH={prefix}"])
    _run(["cmake", "--build", str(build)])
    for program in ("example_cpp", "example_c"):
        printed = _run([str(build / program)], cwd=directory)
        got = np.array([float(v) for v in printed.split()], np.float32)
        np.testing.assert_allclose(got, want.reshape(-1), rtol=1e-4, atol=1e-4)
