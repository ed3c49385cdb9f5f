"""Reproducible installs: every Python package is pinned in requirements/constraints.txt, the
installed versions are the pinned ones, and pyproject.toml and scripts/install-deps agree."""

import os
import re
import subprocess
import sys
from importlib import metadata

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CONSTRAINTS = os.path.join(ROOT, "requirements", "constraints.txt")


def _pins():
    pins = {}
    with open(CONSTRAINTS) as f:
        for number, line in enumerate(f, 1):
            line = line.split("#", 1)[0].strip()
            if not line:
                continue
            match = re.fullmatch(r"([A-Za-z0-9_.-]+)==(\S+)", line)
            assert match, f"{CONSTRAINTS}:{number}: not an exact pin (name==version): {line!r}"
            name = canonicalize_name(match.group(1))
            assert name not in pins, f"{CONSTRAINTS}:{number}: {name} pinned twice"
            pins[name] = match.group(2)
    return pins


def _pyproject():
    tomllib = pytest.importorskip("tomllib")
    with open(os.path.join(ROOT, "pyproject.toml"), "rb") as f:
        return tomllib.load(f)


def test_installed_versions_are_the_pinned_ones():
    wrong = []
    for name, pinned in sorted(_pins().items()):
        try:
            have = metadata.version(name)
        except metadata.PackageNotFoundError:
            wrong.append(f"{name}: not installed, pinned {pinned}")
            continue
        if Version(have) != Version(pinned):
            wrong.append(f"{name}: installed {have}, pinned {pinned}")
    assert not wrong, ("installed Python packages differ from requirements/constraints.txt "
                       "(run scripts/install-deps):\n  " + "\n  ".join(wrong))


def test_pyproject_test_extra_repeats_the_pins():
    pins = _pins()
    for text in _pyproject()["project"]["optional-dependencies"]["test"]:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"pyproject.toml test extra: {name} is not in constraints.txt"
        assert str(requirement.specifier) == f"=={pins[name]}", (
            f"pyproject.toml test extra pins {text}, constraints.txt {name}=={pins[name]}")


def test_pyproject_requirements_admit_the_pins():
    pins = _pins()
    project = _pyproject()
    texts = project["project"]["dependencies"] + project["build-system"]["requires"]
    for text in texts:
        requirement = Requirement(text)
        name = canonicalize_name(requirement.name)
        assert name in pins, f"pyproject.toml requires {name}, which constraints.txt does not pin"
        assert requirement.specifier.contains(pins[name], prereleases=True), (
            f"pyproject.toml requires {text}, but constraints.txt pins {name}=={pins[name]}")


def test_install_deps_installs_only_pinned_packages():
    with open(os.path.join(ROOT, "scripts", "install-deps")) as f:
        script = f.read()
    assert "requirements/constraints.txt" in script
    listed = re.search(r"^PIP_PACKAGES=\((.*?)\)", script, re.S | re.M).group(1).split()
    pins = _pins()
    for name in listed:
        assert canonicalize_name(name) in pins, f"install-deps installs {name}, which is not pinned"


def test_install_deps_check_agrees_with_the_pins():
    """`install-deps --check` (which installs nothing) finds what the run would install: nothing,
    when the pins are in place, so a second run is quick."""
    env = dict(os.environ, KILN_SKIP_APT="1", PYTHON=sys.executable)
    result = subprocess.run([os.path.join(ROOT, "scripts", "install-deps"), "--check"], env=env,
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Python packages present at their pinned versions" in result.stdout
