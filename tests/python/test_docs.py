"""docs/ops.md is generated from the registry: it must match what the code supports."""

import os
import pathlib
import subprocess
import sys

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_ops_doc_is_up_to_date():
    env = dict(os.environ, PYTHONPATH=str(ROOT / "python"))
    result = subprocess.run(
        [sys.executable, str(ROOT / "scripts" / "gen-ops-doc"), "--check"],
        env=env, capture_output=True, text=True,
    )
    assert result.returncode == 0, result.stderr


def test_every_converted_onnx_op_is_listed_as_supported():
    from kiln import _kiln

    text = (ROOT / "docs" / "ops.md").read_text()
    for name in _kiln.onnx_supported_operators():
        assert f"| {name} | supported |" in text or f"| {name} | partly |" in text, name
