"""Per-build Python packages: each build directory holds its own importable `kiln` package
(<build>/python/kiln: the _kiln module and links to python/kiln/*.py), so two builds never overwrite
one module, and the Makefile and the tests use the build they are pointed at."""

import os
import subprocess

from conftest import BUILD_DIR, REPO

SOURCES = os.path.join(REPO, "python", "kiln")


def test_kiln_is_imported_from_the_build_directory(kiln):
    package = os.path.dirname(os.path.abspath(kiln.__file__))
    # `make BUILD_DIR=b test-python` sets KILN_BUILD_DIR=b and PYTHONPATH=b/python: b's module.
    # Without either, conftest finds <repo>/build's; a bare PYTHONPATH may point anywhere.
    if os.environ.get("KILN_BUILD_DIR") or not os.environ.get("PYTHONPATH"):
        assert package == os.path.join(BUILD_DIR, "python", "kiln")
    # the module sits in the same package directory as the Python layer that imports it
    assert os.path.dirname(os.path.abspath(kiln._kiln.__file__)) == package
    assert package != SOURCES, "kiln was imported from the source tree, not from a build"


def test_build_package_links_every_python_source(kiln):
    package = os.path.dirname(os.path.abspath(kiln.__file__))
    for name in os.listdir(SOURCES):
        if name.endswith(".py"):
            assert os.path.samefile(os.path.join(package, name), os.path.join(SOURCES, name)), name


def _link(source, dest):
    subprocess.run(["cmake", f"-DSOURCE={source}", f"-DDEST={dest}", "-P",
                    os.path.join(REPO, "cmake", "link_python_sources.cmake")], check=True,
                   capture_output=True, timeout=60)


def test_link_step_follows_added_and_removed_sources(tmp_path):
    source, dest = tmp_path / "src", tmp_path / "build" / "python" / "kiln"
    (source / "sub").mkdir(parents=True)
    for name in ("__init__.py", "a.py", "sub/b.py"):
        (source / name).write_text(f"# {name}\n")
    _link(source, dest)
    dest.joinpath("_kiln.cpython-311-x86_64-linux-gnu.so").write_bytes(b"module")
    assert os.path.realpath(dest / "sub" / "b.py") == str(source / "sub" / "b.py")
    (source / "a.py").rename(source / "renamed.py")
    _link(source, dest)  # the next build
    assert not os.path.lexists(dest / "a.py")
    assert (dest / "renamed.py").read_text() == "# a.py\n"
    assert (dest / "_kiln.cpython-311-x86_64-linux-gnu.so").read_bytes() == b"module"  # kept


def test_make_points_the_tests_at_the_chosen_build():
    result = subprocess.run(["make", "-n", "BUILD_DIR=build2", "test-python"], cwd=REPO,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    line = next(l for l in result.stdout.splitlines() if "pytest" in l)
    assert f"PYTHONPATH={REPO}/build2/python" in line
    assert f"KILN_BUILD_DIR={REPO}/build2" in line
    assert f"KILN_CLI={REPO}/build2/bin/kiln" in line


def test_cmake_writes_the_module_into_the_build_directory():
    with open(os.path.join(REPO, "CMakeLists.txt")) as f:
        text = f.read()
    assert "${CMAKE_SOURCE_DIR}/python/kiln)" not in text  # no module in the source tree
    assert "set(KILN_PYTHON_PACKAGE_DIR ${CMAKE_BINARY_DIR}/python/kiln)" in text
