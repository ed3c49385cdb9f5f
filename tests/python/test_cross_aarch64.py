"""Cross-compilation: `kiln compile --target "llvm -mtriple=aarch64-linux-gnu" --cross-compiler
aarch64-linux-gnu-gcc` makes an aarch64 package; Kiln's runtime, cross-built for aarch64
(tools/cross-runner), runs it under qemu-aarch64, and its outputs match the host's.

Needs the Debian packages qemu-user, gcc-aarch64-linux-gnu and g++-aarch64-linux-gnu
(scripts/install-deps installs them; CI has them); skipped with the reason when they are absent.
"""

import os
import shutil
import subprocess
import tarfile

import numpy as np
import pytest

import onnx_models as om
from conftest import REPO

TOOLS = ["aarch64-linux-gnu-gcc", "aarch64-linux-gnu-g++", "qemu-aarch64", "cmake"]
SYSROOT = "/usr/aarch64-linux-gnu"

pytestmark = pytest.mark.skipif(
    any(shutil.which(t) is None for t in TOOLS),
    reason="cross tools missing: " + ", ".join(t for t in TOOLS if shutil.which(t) is None) +
    " (apt-get install qemu-user gcc-aarch64-linux-gnu g++-aarch64-linux-gnu)")


@pytest.fixture(scope="module")
def runner():
    """kiln-run-package built for aarch64 (incremental: build/cross-aarch64 is kept)."""
    build = os.path.join(REPO, "build", "cross-aarch64")
    source = os.path.join(REPO, "tools", "cross-runner")
    configure = ["cmake", "-S", source, "-B", build,
                 f"-DCMAKE_TOOLCHAIN_FILE={os.path.join(source, 'aarch64-linux-gnu.cmake')}"]
    if shutil.which("ninja"):
        configure += ["-G", "Ninja"] if not os.path.exists(os.path.join(build, "CMakeCache.txt")) \
            else []
    for command in (configure, ["cmake", "--build", build, "-j2"]):
        done = subprocess.run(command, capture_output=True, text=True, timeout=1800)
        assert done.returncode == 0, done.stdout + done.stderr
    path = os.path.join(build, "kiln-run-package")
    with open(path, "rb") as handle:
        header = handle.read(20)
    assert header[:4] == b"\x7fELF" and header[18] == 183  # e_machine EM_AARCH64
    return path


def unpack(package, where):
    os.makedirs(where, exist_ok=True)
    with tarfile.open(package) as archive:
        for name in ("mod.so", "mod.json", "mod.params"):
            with open(os.path.join(where, name), "wb") as out:
                out.write(archive.extractfile(name).read())
    return where


def run_on_aarch64(runner, package_dir, out_dir, inputs):
    os.makedirs(out_dir, exist_ok=True)
    args = []
    for name, value in inputs.items():
        path = os.path.join(out_dir, f"in_{name}.npy")
        np.save(path, value)
        args.append(f"{name}={path}")
    done = subprocess.run(["qemu-aarch64", "-L", SYSROOT, runner, package_dir, out_dir, *args],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    return np.load(os.path.join(out_dir, "output_0.npy"))


@pytest.mark.parametrize("name,make,input_name,shape", [
    ("mlp", om.mlp, "features", (1, 64)),
    ("cnn", om.small_cnn, om.CNN_INPUT, (1, 3, 32, 32)),
])
def test_aarch64_package_matches_host(kiln, run_cli, runner, tmp_path, name, make, input_name,
                                      shape):
    path = om.save(make(), tmp_path / f"{name}.onnx")
    arm = tmp_path / "arm.tar"
    proc = run_cli("compile", path, "--target", "llvm -mtriple=aarch64-linux-gnu",
                   "--cross-compiler", "aarch64-linux-gnu-gcc", "-o", arm)
    assert proc.returncode == 0, proc.stderr
    with tarfile.open(arm) as archive:
        library = archive.extractfile("mod.so").read()
    assert library[:4] == b"\x7fELF" and library[18] == 183  # an aarch64 shared library

    x = np.random.default_rng(11).standard_normal(shape).astype(np.float32)
    host = kiln.run(kiln.compile(kiln.load(path), package_path=str(tmp_path / "host.tar")),
                    inputs={input_name: x}).outputs["output_0"]
    got = run_on_aarch64(runner, unpack(arm, str(tmp_path / "arm")), str(tmp_path / "out"),
                         {input_name: x})
    assert got.shape == host.shape and got.dtype == host.dtype
    # No fast-math and no fma contraction on either side; only the vector width differs.
    np.testing.assert_allclose(got, host, rtol=1e-5, atol=1e-6)


def test_aarch64_preset(run_cli, runner, tmp_path):
    """--config aarch64-linux-gnu is the same cross build."""
    path = om.save(om.mlp(), tmp_path / "mlp.onnx")
    proc = run_cli("compile", path, "--config", "aarch64-linux-gnu", "-o", tmp_path / "a.tar")
    assert proc.returncode == 0, proc.stderr
    x = np.zeros((1, 64), np.float32)
    got = run_on_aarch64(runner, unpack(tmp_path / "a.tar", str(tmp_path / "a")),
                         str(tmp_path / "out"), {"features": x})
    from conftest import ort_session

    expected = ort_session(str(path)).run(None, {"features": x})[0]
    np.testing.assert_allclose(got, expected, rtol=1e-5, atol=1e-5)


def test_tvmc_compile_cross(kiln, runner, tmp_path):
    """tvmc.compile(cross=..., cross_options=..., output_format="tar"): the Python face."""
    from kiln import tvmc
    from conftest import ort_session

    path = om.save(om.mlp(), tmp_path / "mlp.onnx")
    model = tvmc.load(path)
    package = tvmc.compile(model, target="llvm -mtriple=aarch64-linux-gnu",
                           cross="aarch64-linux-gnu-gcc", cross_options="-Wl,--build-id",
                           output_format="tar", package_path=str(tmp_path / "a.tar"))
    assert package.metadata["triple"].startswith("aarch64")
    with tarfile.open(package.package_path) as archive:
        obj = archive.extractfile("mod.o").read()
    assert obj[:4] == b"\x7fELF" and obj[18] == 183
    with pytest.raises(kiln.Error) as err:
        tvmc.run(package)
    assert "aarch64" in str(err.value)
    x = np.random.default_rng(3).standard_normal((1, 64)).astype(np.float32)
    got = run_on_aarch64(runner, unpack(package.package_path, str(tmp_path / "a")),
                         str(tmp_path / "out"), {"features": x})
    expected = ort_session(str(path)).run(None, {"features": x})[0]
    np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-5)
