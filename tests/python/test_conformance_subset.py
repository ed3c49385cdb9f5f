"""ONNX conformance, CI subset: tests/conformance/run.py over tests/conformance/ci_subset.txt.

Catches regressions without requiring the operators Kiln does not support yet: zero crashes,
zero timeouts, and every case in ci_expected_pass.txt (the subset cases that passed when it was
generated) still passes. When a change makes more cases pass, regenerate the list:
    python3 tests/conformance/run.py --subset ci --freeze-inputs --write-expected tests/conformance/ci_expected_pass.txt
Also checks the runner itself: comparison rules, and that a worker's crash or hang is recorded
without stopping the run.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from conftest import REPO

CONFORMANCE = os.path.join(REPO, "tests", "conformance")
RUNNER = os.path.join(CONFORMANCE, "run.py")
sys.path.insert(0, CONFORMANCE)
import cases  # noqa: E402


def read_list(name):
    with open(os.path.join(CONFORMANCE, name)) as f:
        return [line.strip() for line in f if line.strip() and not line.startswith("#")]


def run_conformance(kiln, report, *args, env=None, timeout=600):
    """Runs run.py on the kiln package the tests import; returns (CompletedProcess, report)."""
    python_dir = os.path.dirname(os.path.dirname(os.path.abspath(kiln.__file__)))
    proc = subprocess.run(
        [sys.executable, RUNNER, "--jobs", "2", "--python-dir", python_dir,
         "--report", str(report), *args],
        capture_output=True, text=True, timeout=timeout, env=env)
    assert proc.returncode == 0, f"run.py failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    with open(report) as f:
        return proc, json.load(f)


@pytest.fixture(scope="module")
def ci_report(kiln, tmp_path_factory):
    _, report = run_conformance(kiln, tmp_path_factory.mktemp("conformance") / "ci.json",
                                "--subset", "ci", "--freeze-inputs", "--timeout", "60")
    return report


def cases_with(report, status):
    return {c["name"]: c.get("message", "") for c in report["cases"] if c["status"] == status}


# ---------------------------------------------------------------------------------------------
# The lists themselves
# ---------------------------------------------------------------------------------------------
def test_subset_is_fixed_and_representative():
    subset = read_list("ci_subset.txt")
    assert subset == sorted(set(subset)), "ci_subset.txt must be sorted and without duplicates"
    assert 120 <= len(subset) <= 210, len(subset)
    infos = cases.describe_cases(cases.data_dir(), subset)
    families = {i.family for i in infos}
    for family in ("elementwise", "nn", "reduce", "tensor/shape", "rnn", "control flow"):
        assert family in families, f"the CI subset has no {family} case"


def test_expected_passes_are_subset_cases():
    subset, expected = set(read_list("ci_subset.txt")), read_list("ci_expected_pass.txt")
    assert expected, "ci_expected_pass.txt is empty"
    assert not set(expected) - subset, f"not in ci_subset.txt: {sorted(set(expected) - subset)}"


# ---------------------------------------------------------------------------------------------
# The CI subset against today's Kiln
# ---------------------------------------------------------------------------------------------
def test_report_covers_the_subset(ci_report):
    assert [c["name"] for c in ci_report["cases"]] == read_list("ci_subset.txt")
    totals = ci_report["summary"]["totals"]
    assert sum(totals.values()) == len(ci_report["cases"])


def test_no_crashes(ci_report):
    crashed = cases_with(ci_report, "crashed")
    assert not crashed, "cases crashed the worker:\n" + "\n".join(
        f"  {n}: {m[:300]}" for n, m in crashed.items())


def test_no_timeouts(ci_report):
    timed_out = cases_with(ci_report, "timeout")
    assert not timed_out, f"cases hung: {sorted(timed_out)}"


def test_expected_cases_still_pass(ci_report):
    by_name = {c["name"]: c for c in ci_report["cases"]}
    regressions = {n: f"{by_name[n]['status']}: {by_name[n].get('message', '')[:300]}"
                   for n in read_list("ci_expected_pass.txt") if by_name[n]["status"] != "passed"}
    assert not regressions, "cases that passed no longer do:\n" + "\n".join(
        f"  {n}: {why}" for n, why in sorted(regressions.items()))


# ---------------------------------------------------------------------------------------------
# The runner: isolation and comparison rules
# ---------------------------------------------------------------------------------------------
def test_crash_and_hang_are_isolated(kiln, tmp_path):
    env = dict(os.environ, KILN_CONFORMANCE_INJECT="test_abs=segv,test_relu=hang")
    _, report = run_conformance(kiln, tmp_path / "faults.json", "--filter",
                                "^test_(abs|relu|neg|sigmoid)$", "--timeout", "5",
                                env=env, timeout=300)
    status = {c["name"]: c for c in report["cases"]}
    assert status["test_abs"]["status"] == "crashed"
    assert "SIGSEGV" in status["test_abs"]["message"]
    assert status["test_relu"]["status"] == "timeout"
    # The cases after a crash or hang still run (on a fresh worker) and pass.
    assert status["test_neg"]["status"] == "passed"
    assert status["test_sigmoid"]["status"] == "passed"


def test_compare_rules():
    f = np.array([1.0, np.nan, 3.0], np.float32)
    assert cases.compare(f.copy(), f)[0] is None  # NaN at the same place matches
    assert cases.compare(np.array([1.0, 2.0, 3.0], np.float32), f)[0] is not None  # NaN moved
    assert cases.compare(f.reshape(1, 3), f)[0].reason.startswith("shape")
    assert cases.compare(f.astype(np.float64), f)[0].reason.startswith("dtype")
    near = np.array([1.0005, np.nan, 3.0], np.float32)  # rel err 5e-4 < rtol 1e-3
    assert cases.compare(near, f)[0] is None
    mismatch, _ = cases.compare(np.array([1.01, np.nan, 3.0], np.float32), f)
    assert mismatch is not None and mismatch.max_abs_err == pytest.approx(0.01, rel=1e-3)
    # atol 1e-5 passes a float32 rounding residue that the strict ONNX atol (1e-7) rejects.
    zero = np.zeros(2, np.float32)
    assert cases.compare(zero + np.float32(3e-6), zero) == (None, False)
    ints = np.array([1, 2, 3], np.int64)
    assert cases.compare(ints + np.array([0, 0, 1]), ints)[0] is not None  # integers exact
    assert cases.compare(np.array([np.inf], np.float32), np.array([-np.inf], np.float32))[0]


def test_rejection_messages_name_the_operator():
    message = ("/x/model.onnx: 2 operators are not supported: Loop (node 'l'), "
               "ai.onnx.ml.LabelEncoder (node 'e')")
    assert cases.is_rejection(message)
    assert cases.operator_named(message, "?") == "Loop, ai.onnx.ml.LabelEncoder"
    assert cases.operator_named("node 'n' (Resize): antialias=1 is not supported yet", "?") \
        == "Resize"
    assert not cases.is_rejection("input 'x' expects float32[3], got float32[4]")


def test_freeze_follows_computed_inputs_to_the_model_inputs():
    # --freeze-inputs freezes the node input the importer names, or else the model input it is
    # computed from (CenterCropPad's expanded body computes Pad's pads from a 'shape' input).
    import worker

    direct = ("node 'p' (Pad): input 1 'pads' (pads) must be known when the model is imported, "
              "but it is computed from the model's inputs (int64[8]); fix the input shapes")
    assert worker._NEEDS_CONSTANT.search(direct).group(1) == "pads"
    computed = ("node 'p' (Pad): input 1 'f_pads' (pads) must be known when the model is "
                "imported, but it is computed from the model's inputs 'shape', 'axes' (int64[6]); "
                "give their values with constant_inputs, or fix the input shapes with shape_dict")
    names = worker._COMPUTED_FROM.search(computed).group(1)
    assert names == "'shape', 'axes'"
