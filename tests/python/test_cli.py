"""`kiln inspect` and `kiln --version`."""

import json
import re

import pytest

import onnx_models as om

JSON_KEYS = {"file", "format", "inputs", "outputs", "operators", "num_params", "macs", "flops"}


def inspect_json(run_cli, *args):
    proc = run_cli("inspect", "--json", *args)
    assert proc.returncode == 0, proc.stderr
    info = json.loads(proc.stdout)  # the whole stdout is one JSON object
    assert isinstance(info, dict)
    assert JSON_KEYS <= set(info), f"missing keys {JSON_KEYS - set(info)}"
    return info


def number_shown(text, n):
    """n printed as 25557032, 25,557,032, 25_557_032 or 25 557 032."""
    digits = re.sub(r"(?<=\d)[,_ '](?=\d{3})", "", text)
    return re.search(rf"(?<!\d){n}(?!\d)", digits) is not None


def scaled_shown(text, n):
    """n printed as 25.56M / 25.6 M / 4.09 G / 4.1G (any precision that rounds correctly)."""
    for m in re.finditer(r"(\d+(?:\.\d+)?)\s*([KMGT])", text):
        value = float(m.group(1)) * {"K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}[m.group(2)]
        decimals = len(m.group(1).split(".")[1]) if "." in m.group(1) else 0
        unit = {"K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12}[m.group(2)]
        if abs(value - n) <= 0.5 * 10 ** -decimals * unit + 1e-9 * n:
            return True
    return False


# ---------------------------------------------------------------------------------------------
# --version, usage
# ---------------------------------------------------------------------------------------------
def test_version(run_cli):
    proc = run_cli("--version")
    assert proc.returncode == 0, proc.stderr
    assert "kiln" in proc.stdout.lower()
    assert re.search(r"\d+\.\d+", proc.stdout), proc.stdout


@pytest.mark.parametrize("args", [["--no-such-flag"], ["inspect", "--no-such-flag", "x.onnx"],
                                  ["inspect"], ["no-such-command"]])
def test_bad_usage_exits_2(run_cli, args):
    proc = run_cli(*args)
    assert proc.returncode == 2, (proc.returncode, proc.stdout, proc.stderr)
    first = proc.stderr.strip().splitlines()[0] if proc.stderr.strip() else ""
    assert first.startswith("kiln: error: "), proc.stderr
    bad = [a for a in args if a.startswith("--no-such") or a == "no-such-command"]
    if bad:
        assert bad[0] in proc.stderr, proc.stderr


def test_help(run_cli):
    proc = run_cli("--help")
    assert proc.returncode == 0
    assert "inspect" in proc.stdout


# ---------------------------------------------------------------------------------------------
# inspect --json
# ---------------------------------------------------------------------------------------------
def test_inspect_json_small_cnn(run_cli, tmp_path):
    path = om.save(om.small_cnn(), tmp_path / "cnn.onnx")
    info = inspect_json(run_cli, path)
    assert info["file"].endswith("cnn.onnx")
    assert info["format"] == "onnx"
    assert info["inputs"] == [{"name": om.CNN_INPUT, "shape": [1, 3, 32, 32], "dtype": "float32"}]
    assert info["outputs"] == [{"name": om.CNN_OUTPUT, "shape": [1, 10], "dtype": "float32"}]
    assert info["num_params"] == om.CNN_NUM_PARAMS
    assert abs(info["macs"] - om.CNN_MACS) <= 0.05 * om.CNN_MACS
    assert info["flops"] >= info["macs"]
    assert abs(info["flops"] - 2 * info["macs"]) <= 0.1 * 2 * info["macs"], info
    ops = info["operators"]
    assert all(isinstance(v, int) and v > 0 for v in ops.values())
    assert sum(v for k, v in ops.items() if "conv" in k.lower()) == 2, ops


def test_inspect_json_multi_output(run_cli, tmp_path):
    info = inspect_json(run_cli, om.save(om.multi_output(), tmp_path / "multi.onnx"))
    assert [(o["name"], o["shape"], o["dtype"]) for o in info["outputs"]] == [
        tuple(x) for x in om.MULTI_OUTPUTS]


def test_inspect_json_matches_python_api(kiln, run_cli, tmp_path):
    path = om.save(om.small_cnn(), tmp_path / "cnn.onnx")
    info = inspect_json(run_cli, path)
    model = kiln.load(path)
    assert info["inputs"] == model.inputs
    assert info["outputs"] == model.outputs
    assert info["operators"] == model.op_histogram
    assert info["num_params"] == model.num_params
    assert info["macs"] == model.macs


def test_inspect_json_symbolic_batch(run_cli, tmp_path):
    info = inspect_json(run_cli, om.save(om.symbolic_batch_cnn(), tmp_path / "sym.onnx"))
    assert info["inputs"][0]["shape"] == ["batch", 3, 16, 16]
    assert isinstance(info["outputs"][0]["shape"][0], str)


@pytest.mark.parametrize("batch", [1, 4])
def test_inspect_input_shapes_one_input(run_cli, tmp_path, batch):
    path = om.save(om.symbolic_batch_cnn(), tmp_path / "sym.onnx")
    info = inspect_json(run_cli, path, "--input-shapes", f"images:[{batch},3,16,16]")
    assert info["inputs"][0]["shape"] == [batch, 3, 16, 16]
    assert info["outputs"][0]["shape"] == [batch, 8]


def test_inspect_input_shapes_two_inputs(run_cli, tmp_path):
    path = om.save(om.two_inputs(), tmp_path / "two.onnx")
    info = inspect_json(run_cli, path, "--input-shapes", "left:[3,8] right:[3,8]")
    assert [i["shape"] for i in info["inputs"]] == [[3, 8], [3, 8]]
    assert info["outputs"][0]["shape"] == [3, 8]


def test_inspect_input_shapes_static_batch(run_cli, tmp_path):
    path = om.save(om.small_cnn(), tmp_path / "cnn.onnx")
    info = inspect_json(run_cli, path, "--input-shapes", f"{om.CNN_INPUT}:[2,3,32,32]")
    assert info["outputs"][0]["shape"] == [2, 10]
    assert abs(info["macs"] - 2 * om.CNN_MACS) <= 0.05 * 2 * om.CNN_MACS


def test_inspect_model_format_flag(run_cli, tmp_path):
    path = tmp_path / "weights.bin"
    path.write_bytes(om.mlp().SerializeToString())
    info = inspect_json(run_cli, str(path), "--model-format", "onnx")
    assert info["format"] == "onnx"
    assert info["outputs"][0]["name"] == "scores"


def test_inspect_kiln_file(kiln, run_cli, tmp_path):
    model = kiln.load(om.save(om.small_cnn(), tmp_path / "cnn.onnx"))
    model.save(str(tmp_path / "cnn.kiln"))
    info = inspect_json(run_cli, str(tmp_path / "cnn.kiln"))
    assert info["format"] == "kiln"
    assert info["num_params"] == om.CNN_NUM_PARAMS
    assert info["outputs"] == model.outputs


# ---------------------------------------------------------------------------------------------
# inspect (text)
# ---------------------------------------------------------------------------------------------
def test_inspect_text_small_cnn(run_cli, tmp_path):
    path = om.save(om.small_cnn(), tmp_path / "cnn.onnx")
    proc = run_cli("inspect", path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert om.CNN_INPUT in out and om.CNN_OUTPUT in out
    assert "float32" in out
    assert "conv" in out.lower() and "softmax" in out.lower()
    assert number_shown(out, om.CNN_NUM_PARAMS), out
    info = inspect_json(run_cli, path)
    assert number_shown(out, info["macs"]) or scaled_shown(out, info["macs"]), out
    assert proc.stderr.strip() == ""


def test_inspect_text_resnet50(run_cli, exported):
    path = exported("resnet50_v1")
    proc = run_cli("inspect", path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    low = out.lower()
    assert "input" in out and "logits" in out
    assert re.search(r"1\s*[,x]\s*3\s*[,x]\s*224\s*[,x]\s*224", out), out
    assert re.search(r"1\s*[,x]\s*1000\b", out), out
    assert "conv" in low and "53" in out  # 53 convolutions in the histogram
    info = inspect_json(run_cli, path)
    assert number_shown(out, info["num_params"]) or scaled_shown(out, info["num_params"]), out
    assert number_shown(out, info["macs"]) or scaled_shown(out, info["macs"]), out
    assert "mac" in low and "flop" in low and "param" in low


def test_inspect_json_resnet50(run_cli, exported):
    info = inspect_json(run_cli, exported("resnet50_v1"))
    assert info["inputs"] == [{"name": "input", "shape": [1, 3, 224, 224], "dtype": "float32"}]
    assert info["outputs"] == [{"name": "logits", "shape": [1, 1000], "dtype": "float32"}]
    assert abs(info["num_params"] - 25.5e6) <= 0.01 * 25.5e6
    assert abs(info["macs"] - 4.1e9) <= 0.05 * 4.1e9
    assert abs(info["flops"] - 2 * info["macs"]) <= 0.1 * 2 * info["macs"]
    assert sum(v for k, v in info["operators"].items() if "conv" in k.lower()) == 53


def test_inspect_json_resnet50_resolution_via_input_shapes(run_cli, exported):
    """The export bakes batch 1 into a Reshape, but global pooling frees the resolution: at 256x256
    every feature map is (8/7)^2 larger than at 224x224, and so are the conv MACs."""
    path = exported("resnet50_v1")
    base = inspect_json(run_cli, path)
    big = inspect_json(run_cli, path, "--input-shapes", "input:[1,3,256,256]")
    assert big["inputs"][0]["shape"] == [1, 3, 256, 256]
    assert big["outputs"][0]["shape"] == [1, 1000]
    ratio = big["macs"] / base["macs"]
    assert abs(ratio - (8 / 7) ** 2) <= 0.01, ratio
    assert big["num_params"] == base["num_params"]


def test_inspect_json_bert_tiny(run_cli, exported):
    info = inspect_json(run_cli, exported("bert_tiny"))
    assert [(i["name"], i["shape"], i["dtype"]) for i in info["inputs"]] == [
        ("input_ids", [1, 128], "int64"), ("attention_mask", [1, 128], "int64")]
    assert [o["shape"] for o in info["outputs"]] == [[1, 128, 128], [1, 128]]
