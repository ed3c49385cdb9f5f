"""The docs tell the truth: docs/ops.md matches the registry, the README's status matches the
code and its "Use" examples run when pasted, and no page points outside the repository."""

import os
import pathlib
import re
import subprocess
import sys

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

ROOT = pathlib.Path(__file__).resolve().parents[2]


def test_ops_doc_is_up_to_date():
    import kiln

    # the package under test (a build directory's <build>/python), not the bare sources
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(kiln.__file__)))
    env = dict(os.environ, PYTHONPATH=package_parent)
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


# ---------------------------------------------------------------------------------------------
# README: the status tells the truth, the "Use" examples run when pasted
# ---------------------------------------------------------------------------------------------
README = ROOT / "README.md"
# Lines of the README's shell blocks the test does not run: the export needs torch and minutes
# (the test writes a small model under the same name instead), the benchmark is not a test, and
# the PATH/PYTHONPATH line is replaced by the build under test (checked separately).
SKIPPED_LINES = (r"^export PATH=", r"tests/models/export\.py", r"bench/run\.py", r"^make ")


def _use_blocks():
    text = README.read_text()
    section = text[text.index("## Use"):]
    section = section[:section.index("\n## ", 1)]
    return re.findall(r"```(\w+)\n(.*?)```", section, re.S)


def _small_resnet50_stand_in(path):
    """An image classifier with ResNet-50's interface: input [1,3,224,224] -> logits [1,1000]."""
    rng = np.random.default_rng(0)
    weights = [numpy_helper.from_array(rng.standard_normal(shape).astype(np.float32) * 0.1, name)
               for name, shape in [("w", (8, 3, 3, 3)), ("fc", (8, 1000)), ("bias", (1000,))]]
    nodes = [helper.make_node("Conv", ["input", "w"], ["c"], strides=[4, 4], pads=[1, 1, 1, 1]),
             helper.make_node("Relu", ["c"], ["r"]),
             helper.make_node("GlobalAveragePool", ["r"], ["p"]),
             helper.make_node("Flatten", ["p"], ["f"]),
             helper.make_node("Gemm", ["f", "fc", "bias"], ["logits"])]
    graph = helper.make_graph(
        nodes, "stand_in", [helper.make_tensor_value_info("input", TensorProto.FLOAT,
                                                          [1, 3, 224, 224])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, [1, 1000])], weights)
    onnx.save(helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)]), path)


def test_readme_use_examples_run_when_pasted(kiln, kiln_cli, tmp_path):
    blocks = _use_blocks()
    assert [language for language, _ in blocks][:3] == ["bash", "python", "bash"], blocks
    _small_resnet50_stand_in(str(tmp_path / "resnet50.onnx"))
    package_parent = os.path.dirname(os.path.dirname(os.path.abspath(kiln.__file__)))
    env = dict(os.environ, PYTHONPATH=package_parent,
               PATH=os.path.dirname(os.path.abspath(kiln_cli)) + os.pathsep + os.environ["PATH"])
    ran = 0
    for language, code in blocks:
        if language == "python":
            commands = [[sys.executable, "-c", code]]
        elif language == "bash":
            lines = [line for line in code.splitlines() if line.strip()
                     and not any(re.search(p, line) for p in SKIPPED_LINES)]
            commands = [["bash", "-euc", line] for line in lines]
        else:
            continue  # C++: needs the installed headers (docs/runtime.md's example is tested)
        for command in commands:
            result = subprocess.run(command, cwd=tmp_path, env=env, capture_output=True, text=True,
                                    timeout=600)
            assert result.returncode == 0, f"{command[-1]}\n{result.stdout}\n{result.stderr}"
            ran += 1
    assert ran >= 6
    assert (tmp_path / "resnet50.tar").is_file() and (tmp_path / "resnet50.kiln").is_file()


def test_readme_path_line_names_the_build_layout():
    setup = _use_blocks()[0][1]
    line = next(l for l in setup.splitlines() if l.startswith("export PATH="))
    assert "$PWD/build/bin:$PATH" in line and "PYTHONPATH=$PWD/build/python" in line
    makefile = (ROOT / "Makefile").read_text()
    assert "PYTHONPATH=$(CURDIR)/$(BUILD_DIR)/python" in makefile


def test_readme_opsets_match_the_importer():
    importer = (ROOT / "src" / "frontend" / "onnx" / "importer.cc").read_text()
    full = re.search(r"kOldestFullOpset = (\d+);", importer).group(1)
    newest = re.search(r"kNewestOpset = (\d+);", importer).group(1)
    text = README.read_text()
    assert f"opsets {full}–{newest} in full" in text
    assert "One kernel per operator" not in text


def test_docs_point_only_inside_the_repository():
    for page in [README, *sorted((ROOT / "docs").glob("*.md"))]:
        text = page.read_text()
        for outside in ("../shared", "shared/seed", "/work/", "seed/", "/tmp/"):
            assert outside not in text, f"{page.name} points outside the repository: {outside}"
        for mentioned in re.findall(r"`(docs/[\w.-]+\.md)`", text):
            assert (ROOT / mentioned).is_file(), f"{page.name} names {mentioned}, which is missing"
