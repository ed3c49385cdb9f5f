"""Shared fixtures and helpers for Kiln's Python tests.

Fixtures: kiln (the imported module, from $KILN_BUILD_DIR/python, else <repo>/build/python; the
test fails with the import error when the binding is not built), kiln_cli (path of the `kiln`
executable: $KILN_CLI, else <build>/bin/kiln), run_cli
(runs it and returns the CompletedProcess), model_dir (cache of exported test models,
<repo>/tests/models/out), exported (factory: exported("resnet50_v1") -> path), light_models (the
nine onnx backend "light" models).
Helpers (import them: `from conftest import ort_output_shapes`): ort_output_shapes, random_feeds,
LIGHT_MODEL_NAMES, light_model_path, REPO, BUILD_DIR.

Tests marked @pytest.mark.slow run by default; KILN_FAST=1 skips them.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest

REPO = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
MODELS_SRC = os.path.join(REPO, "tests", "models")

# Each build directory has its own package, <build>/python/kiln (the _kiln module and links to
# python/kiln/*.py). The build is $KILN_BUILD_DIR (the Makefile sets it), else <repo>/build; make
# `import kiln` find it without PYTHONPATH, but let an explicit PYTHONPATH win.
BUILD_DIR = os.path.abspath(os.environ.get("KILN_BUILD_DIR") or os.path.join(REPO, "build"))
BUILD_PYTHON = os.path.join(BUILD_DIR, "python")
if BUILD_PYTHON not in sys.path:
    sys.path.append(BUILD_PYTHON)
if MODELS_SRC not in sys.path:
    sys.path.insert(0, MODELS_SRC)

FAST = os.environ.get("KILN_FAST", "") not in ("", "0")

LIGHT_MODEL_NAMES = ["bvlc_alexnet", "densenet121", "inception_v1", "inception_v2", "resnet50",
                     "shufflenet", "squeezenet", "vgg19", "zfnet512"]


# ---------------------------------------------------------------------------------------------
# pytest hooks: the slow marker
# ---------------------------------------------------------------------------------------------
def pytest_configure(config):
    config.addinivalue_line(
        "markers", "slow: takes long on 2 cores (big exports); run by default, KILN_FAST=1 skips")


def pytest_collection_modifyitems(config, items):
    if not FAST:
        return
    skip = pytest.mark.skip(reason="slow test skipped because KILN_FAST=1")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


# ---------------------------------------------------------------------------------------------
# The module under test and its CLI
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def kiln():
    try:
        import kiln as module
    except ImportError as e:  # binding not built yet: a failure, not a silent skip
        pytest.fail(f"cannot import kiln ({e}); build it (`make build` writes {BUILD_PYTHON}/kiln) "
                    f"or set PYTHONPATH to a build's python directory", pytrace=False)
    return module


@pytest.fixture(scope="session")
def kiln_cli():
    path = os.environ.get("KILN_CLI") or os.path.join(BUILD_DIR, "bin", "kiln")
    if not (os.path.isfile(path) and os.access(path, os.X_OK)):
        pytest.fail(f"kiln executable not found at {path}; build it or set KILN_CLI",
                    pytrace=False)
    return path


@pytest.fixture(scope="session")
def run_cli(kiln_cli):
    """run_cli("inspect", path, "--json") -> CompletedProcess with text stdout/stderr."""

    def run(*args, timeout=300):
        return subprocess.run([kiln_cli, *map(str, args)], capture_output=True, text=True,
                              timeout=timeout)

    return run


# ---------------------------------------------------------------------------------------------
# Models
# ---------------------------------------------------------------------------------------------
@pytest.fixture(scope="session")
def model_dir():
    path = os.environ.get("KILN_MODEL_DIR") or os.path.join(MODELS_SRC, "out")
    os.makedirs(path, exist_ok=True)
    return path


@pytest.fixture(scope="session")
def exported(model_dir):
    """exported(name) -> path of tests/models/out/<name>.onnx, exporting it on first use."""
    from export import export_model

    def get(name):
        return export_model(name, model_dir)

    return get


def light_model_path(name):
    import onnx

    return os.path.join(os.path.dirname(onnx.__file__), "backend", "test", "data", "light",
                        f"light_{name}.onnx")


@pytest.fixture(scope="session")
def light_models():
    paths = [light_model_path(n) for n in LIGHT_MODEL_NAMES]
    missing = [p for p in paths if not os.path.exists(p)]
    assert not missing, f"onnx backend light models missing: {missing}"
    return paths


# ---------------------------------------------------------------------------------------------
# onnxruntime reference
# ---------------------------------------------------------------------------------------------
_ORT_DTYPES = {
    "tensor(float)": np.float32, "tensor(double)": np.float64, "tensor(float16)": np.float16,
    "tensor(int64)": np.int64, "tensor(int32)": np.int32, "tensor(int8)": np.int8,
    "tensor(uint8)": np.uint8, "tensor(bool)": np.bool_,
}


def concrete_shape(shape):
    """Symbolic or unknown dims (str / None) become 1."""
    return [d if isinstance(d, int) and d >= 0 else 1 for d in shape]


def random_feeds(session, seed=0):
    """Random inputs of the declared shapes/dtypes; integer inputs get 0/1 (valid indices and
    valid attention masks alike)."""
    rng = np.random.default_rng(seed)
    feeds = {}
    for inp in session.get_inputs():
        shape, dtype = concrete_shape(inp.shape), _ORT_DTYPES.get(inp.type)
        if dtype is None:
            raise ValueError(f"ort_output_shapes: unsupported input type {inp.type} of {inp.name}")
        if np.issubdtype(dtype, np.floating):
            feeds[inp.name] = rng.standard_normal(shape).astype(dtype)
        elif dtype == np.bool_:
            feeds[inp.name] = rng.integers(0, 2, shape).astype(np.bool_)
        else:
            feeds[inp.name] = rng.integers(0, 2, shape).astype(dtype)
    return feeds


def ort_session(path):
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.log_severity_level = 3  # no warnings about unused initializers in the old zoo models
    opts.intra_op_num_threads = 2
    return ort.InferenceSession(path, opts, providers=["CPUExecutionProvider"])


def ort_output_shapes(path, feeds=None):
    """Runs the model in onnxruntime (random inputs unless feeds given) -> list of output shapes
    (lists of ints), in the model's output order."""
    session = ort_session(path)
    outputs = session.run(None, feeds if feeds is not None else random_feeds(session))
    return [list(o.shape) for o in outputs]


def onnx_weight_count(path):
    """Floating-point weight elements of an ONNX file: its float initializers plus the outputs of
    ConstantOfShape nodes whose shape is an initializer (how the "light" models make weights)."""
    import onnx
    from onnx import numpy_helper

    graph = onnx.load(path, load_external_data=False).graph
    floats = {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16, onnx.TensorProto.DOUBLE,
              onnx.TensorProto.BFLOAT16}
    inits = {t.name: t for t in graph.initializer}
    total = sum(int(np.prod(t.dims)) for t in graph.initializer if t.data_type in floats)
    for node in graph.node:
        if node.op_type == "ConstantOfShape" and node.input and node.input[0] in inits:
            value = next((a.t for a in node.attribute if a.name == "value"), None)
            if value is None or value.data_type in floats:
                total += int(np.prod(numpy_helper.to_array(inits[node.input[0]])))
    return total


def ort_inputs(path):
    """[(name, shape, numpy dtype name)] of the inputs that onnxruntime wants fed."""
    session = ort_session(path)
    return [(i.name, list(i.shape), np.dtype(_ORT_DTYPES[i.type]).name) for i in session.get_inputs()]


# ---------------------------------------------------------------------------------------------
# message checks: tolerant (lower-case substrings), but every key fact must be there
# ---------------------------------------------------------------------------------------------
def assert_mentions(message, *facts, any_of=()):
    """Every fact in `facts` appears in `message` (case-insensitive), and, when `any_of` is
    given, at least one of those words does too (different phrasings of the problem)."""
    low = str(message).lower()
    missing = [f for f in facts if str(f).lower() not in low]
    assert not missing, f"message lacks {missing}: {message!r}"
    if any_of:
        # The words must describe the problem: a file or node name that happens to hold one of
        # them ("truncated.onnx") does not count.
        rest = re.sub(r"[^\s'\"]*/[^\s'\"]*", " ", low)  # paths: tmp dirs are named after tests
        for fact in sorted(facts, key=lambda f: -len(str(f))):
            rest = rest.replace(str(fact).lower(), " ")
        assert any(str(w).lower() in rest for w in any_of), \
            f"message names none of {list(any_of)}: {message!r}"


def shapes_of(values):
    """[v["shape"] for v in model.inputs/outputs], with every dim as a plain int or str."""
    return [[d if isinstance(d, str) else int(d) for d in v["shape"]] for v in values]
