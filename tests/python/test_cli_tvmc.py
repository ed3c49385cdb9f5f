"""`kiln compile` / `kiln run`: every flag of the tvmc-compatible command line, the exit codes,
--config presets, logging and completion. Outputs are checked against onnxruntime."""

import json
import os
import re
import tarfile

import numpy as np
import pytest

import onnx_models as om
from conftest import REPO, ort_session


@pytest.fixture(scope="module")
def mlp_path(tmp_path_factory):
    return om.save(om.mlp(), tmp_path_factory.mktemp("mlp") / "mlp.onnx")


@pytest.fixture(scope="module")
def cnn_path(tmp_path_factory):
    return om.save(om.small_cnn(), tmp_path_factory.mktemp("cnn") / "cnn.onnx")


@pytest.fixture(scope="module")
def mlp_package(run_cli, mlp_path, tmp_path_factory):
    out = tmp_path_factory.mktemp("pkg") / "mlp.tar"
    proc = run_cli("compile", mlp_path, "-o", out)
    assert proc.returncode == 0, proc.stderr
    return str(out)


def features(seed=0):
    return np.random.default_rng(seed).standard_normal((1, 64)).astype(np.float32)


def ort_scores(mlp_path, x):
    return ort_session(mlp_path).run(None, {"features": x})[0]


def run_ok(run_cli, *args):
    proc = run_cli(*args)
    assert proc.returncode == 0, (proc.returncode, proc.stdout, proc.stderr)
    return proc


def graph_of(package):
    with tarfile.open(package) as archive:
        return json.load(archive.extractfile("mod.json"))


def metadata_of(package):
    with tarfile.open(package) as archive:
        return json.load(archive.extractfile("metadata.json"))


def run_outputs(run_cli, package, tmp_path, *extra, x=None):
    x = features() if x is None else x
    np.savez(tmp_path / "in.npz", features=x)
    run_ok(run_cli, "run", package, "-i", tmp_path / "in.npz", "-o", tmp_path / "out.npz", *extra)
    return np.load(tmp_path / "out.npz")["output_0"]


# ---------------------------------------------------------------------------------------------
# kiln compile
# ---------------------------------------------------------------------------------------------
def test_compile_defaults_and_output(run_cli, mlp_path, tmp_path):
    proc = run_ok(run_cli, "compile", mlp_path, "--target", "llvm", "-o", tmp_path / "m.tar")
    assert "m.tar" in proc.stdout
    out = run_outputs(run_cli, tmp_path / "m.tar", tmp_path)
    np.testing.assert_allclose(out, ort_scores(mlp_path, features()), rtol=1e-4, atol=1e-5)


def test_compile_model_format_and_input_shapes(run_cli, tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(om.mlp(batch="n").SerializeToString())
    run_ok(run_cli, "compile", path, "--model-format", "onnx", "--input-shapes",
           "features:[3,64]", "-o", tmp_path / "m.tar")
    assert metadata_of(tmp_path / "m.tar")["inputs"][0]["shape"] == [3, 64]


def test_compile_dump_code(run_cli, mlp_path, tmp_path):
    run_ok(run_cli, "compile", mlp_path, "-o", tmp_path / "m.tar", "--dump-code", "ll,asm,tir,ir")
    for ext in (".ll", ".s", ".tir", ".ir"):
        assert (tmp_path / f"m.tar{ext}").stat().st_size > 0, ext
    assert "define" in (tmp_path / "m.tar.ll").read_text()


@pytest.mark.parametrize("level", ["0", "1", "2", "3"])
def test_compile_opt_level(run_cli, mlp_path, tmp_path, level):
    run_ok(run_cli, "compile", mlp_path, "-O", level, "-o", tmp_path / "m.tar")
    out = run_outputs(run_cli, tmp_path / "m.tar", tmp_path)
    np.testing.assert_allclose(out, ort_scores(mlp_path, features()), rtol=1e-4, atol=1e-5)


def test_compile_opt_level_out_of_range_is_usage(run_cli, mlp_path, tmp_path):
    proc = run_cli("compile", mlp_path, "-O", "7", "-o", tmp_path / "m.tar")
    assert proc.returncode == 2, proc.stderr


def test_compile_disabled_pass(run_cli, mlp_path, tmp_path):
    run_ok(run_cli, "compile", mlp_path, "--disabled-pass", "fuse_ops", "-o", tmp_path / "a.tar")
    run_ok(run_cli, "compile", mlp_path, "-o", tmp_path / "b.tar")
    # Without fusion every call is a kernel of its own.
    assert len(graph_of(tmp_path / "a.tar")["nodes"]) > len(graph_of(tmp_path / "b.tar")["nodes"])
    proc = run_cli("compile", mlp_path, "--disabled-pass", "no_such_pass", "-o", tmp_path / "c.tar")
    assert proc.returncode == 4 and "no_such_pass" in proc.stderr


def test_compile_desired_layout_and_ops(run_cli, cnn_path, tmp_path):
    run_ok(run_cli, "compile", cnn_path, "--desired-layout", "NCHW", "--desired-layout-ops",
           "nn.conv2d,max_pool2d", "-o", tmp_path / "m.tar")
    run_ok(run_cli, "compile", cnn_path, "--desired-layout", "NHWC", "-o", tmp_path / "n.tar",
           "--dump-code", "ir")
    assert "conv2d_nchwc" in (tmp_path / "n.tar.ir").read_text()
    # Without conv2d in the list nothing is converted: the NCHW convolutions are blocked
    # (alter_op_layout) as usual, and no NHWC transform appears.
    run_ok(run_cli, "compile", cnn_path, "--desired-layout", "NHWC", "--desired-layout-ops",
           "max_pool2d", "-o", tmp_path / "p.tar", "--dump-code", "ir")
    assert '"NHWC"' not in (tmp_path / "p.tar.ir").read_text()
    proc = run_cli("compile", cnn_path, "--desired-layout-ops", "conv2d", "-o", tmp_path / "n.tar")
    assert proc.returncode == 4 and "desired_layout" in proc.stderr
    proc = run_cli("compile", cnn_path, "--desired-layout", "NCHW", "--desired-layout-ops",
                   "frobnicate", "-o", tmp_path / "n.tar")
    assert proc.returncode == 4 and "frobnicate" in proc.stderr


def test_compile_tuning_records(run_cli, mlp_path, tmp_path):
    proc = run_cli("compile", mlp_path, "--tuning-records", tmp_path / "absent.json",
                   "-o", tmp_path / "m.tar")
    assert proc.returncode == 4
    assert "absent.json" in proc.stderr and "does not exist" in proc.stderr
    (tmp_path / "records.json").write_text("")
    proc = run_cli("compile", mlp_path, "--tuning-records", tmp_path / "records.json",
                   "-o", tmp_path / "m.tar")
    assert proc.returncode == 4 and "not supported yet" in proc.stderr
    assert not (tmp_path / "m.tar").exists()


def test_compile_target_host(run_cli, mlp_path, tmp_path):
    run_ok(run_cli, "compile", mlp_path, "--target-host", "llvm", "-o", tmp_path / "m.tar")
    proc = run_cli("compile", mlp_path, "--target-host", "llvm -mtriple=aarch64-linux-gnu",
                   "-o", tmp_path / "n.tar")
    assert proc.returncode == 4 and "target_host" in proc.stderr


def test_compile_output_format(run_cli, mlp_path, tmp_path):
    run_ok(run_cli, "compile", mlp_path, "--output-format", "tar", "-o", tmp_path / "t.tar")
    with tarfile.open(tmp_path / "t.tar") as archive:
        names = archive.getnames()
        obj = archive.extractfile("mod.o").read()
    assert "mod.o" in names and "mod.so" in names
    assert obj[:4] == b"\x7fELF"
    # The package with mod.o still runs, and checks the object's checksum.
    out = run_outputs(run_cli, tmp_path / "t.tar", tmp_path)
    np.testing.assert_allclose(out, ort_scores(mlp_path, features()), rtol=1e-4, atol=1e-5)
    run_ok(run_cli, "compile", mlp_path, "--output-format", "so", "-o", tmp_path / "s.tar")
    with tarfile.open(tmp_path / "s.tar") as archive:
        assert "mod.o" not in archive.getnames()
    proc = run_cli("compile", mlp_path, "--output-format", "zip", "-o", tmp_path / "z.tar")
    assert proc.returncode == 2


def test_compile_pass_config(run_cli, mlp_path, tmp_path):
    run_ok(run_cli, "compile", mlp_path, "--pass-config", "tir.disable_vectorize=true",
           "--pass-config", "tir.disable_unroll=1", "--pass-config",
           f"kiln.dump_dir={tmp_path / 'dump'}", "-o", tmp_path / "m.tar")
    assert any(name.endswith(".ir") for name in os.listdir(tmp_path / "dump"))
    out = run_outputs(run_cli, tmp_path / "m.tar", tmp_path)
    np.testing.assert_allclose(out, ort_scores(mlp_path, features()), rtol=1e-4, atol=1e-5)
    # One value per --pass-config: the FILE after it stays the FILE.
    run_ok(run_cli, "compile", "--pass-config", "tir.disable_unroll=1", mlp_path,
           "-o", tmp_path / "p.tar")
    proc = run_cli("compile", mlp_path, "--pass-config", "tir.no_such=1", "-o", tmp_path / "n.tar")
    assert proc.returncode == 4 and "tir.no_such" in proc.stderr
    assert "tir.disable_vectorize" in proc.stderr  # lists the known ones
    proc = run_cli("compile", mlp_path, "--pass-config", "novalue", "-o", tmp_path / "n.tar")
    assert proc.returncode == 4 and "name=value" in proc.stderr


def test_compile_mod_name(run_cli, mlp_path, tmp_path):
    run_ok(run_cli, "compile", mlp_path, "--mod-name", "classifier", "-o", tmp_path / "m.tar")
    kernels = [node["kernel"] for node in graph_of(tmp_path / "m.tar")["nodes"]]
    assert kernels and all(k.startswith("classifier_") for k in kernels), kernels
    assert metadata_of(tmp_path / "m.tar")["mod_name"] == "classifier"
    run_outputs(run_cli, tmp_path / "m.tar", tmp_path)
    proc = run_cli("compile", mlp_path, "--mod-name", "bad name", "-o", tmp_path / "n.tar")
    assert proc.returncode == 4 and "mod_name" in proc.stderr


@pytest.mark.parametrize("flag,value,expect", [
    ("--target-llvm-mcpu", "x86-64-v2", "-mcpu=x86-64-v2"),
    ("--target-llvm-mattr", "+sse4.2", "-mattr=+sse4.2"),
    ("--target-llvm-num-cores", "1", "-num-cores=1"),
    ("--target-llvm-opt-level", "2", "-opt-level=2"),
])
def test_compile_target_llvm_flags(run_cli, mlp_path, tmp_path, flag, value, expect):
    run_ok(run_cli, "compile", mlp_path, flag, value, "-o", tmp_path / "m.tar")
    assert expect in metadata_of(tmp_path / "m.tar")["target"]
    out = run_outputs(run_cli, tmp_path / "m.tar", tmp_path)
    np.testing.assert_allclose(out, ort_scores(mlp_path, features()), rtol=1e-4, atol=1e-5)


def test_compile_target_llvm_flag_overrides_target_string(run_cli, mlp_path, tmp_path):
    run_ok(run_cli, "compile", mlp_path, "--target", "llvm -mcpu=x86-64", "--target-llvm-mcpu",
           "x86-64-v3", "-o", tmp_path / "m.tar")
    target = metadata_of(tmp_path / "m.tar")["target"]
    assert "-mcpu=x86-64-v3" in target and "-mcpu=x86-64 " not in target + " "


def test_compile_target_llvm_mtriple_cross(run_cli, mlp_path, tmp_path):
    run_ok(run_cli, "compile", mlp_path, "--target-llvm-mtriple", "aarch64-linux-gnu",
           "-o", tmp_path / "a.tar")
    assert metadata_of(tmp_path / "a.tar")["triple"].startswith("aarch64")
    proc = run_cli("run", tmp_path / "a.tar")
    assert proc.returncode == 4 and "aarch64" in proc.stderr


def test_compile_target_llvm_flags_come_from_the_option_table(run_cli):
    proc = run_ok(run_cli, "compile", "--help")
    for option in ("mcpu", "mattr", "mtriple", "num-cores", "opt-level"):
        assert f"--target-llvm-{option}" in proc.stdout, option


def test_compile_missing_cross_compiler_exits_5(run_cli, mlp_path, tmp_path):
    proc = run_cli("compile", mlp_path, "--target", "llvm -mtriple=aarch64-linux-gnu",
                   "--cross-compiler", "kiln-no-such-aarch64-linux-gnu-gcc", "-o", tmp_path / "a.tar")
    assert proc.returncode == 5, proc.stderr
    assert "kiln-no-such-aarch64-linux-gnu-gcc" in proc.stderr
    assert "apt-get install gcc-kiln-no-such-aarch64-linux-gnu" in proc.stderr


def test_compile_cross_compiler_options_reach_the_compiler(run_cli, mlp_path, tmp_path):
    """The host's own gcc as the "cross" compiler: options are passed through (a bad one fails)."""
    import shutil

    gcc = shutil.which("gcc")
    if gcc is None:
        pytest.skip("gcc is not installed")
    run_ok(run_cli, "compile", mlp_path, "--cross-compiler", gcc,
           "--cross-compiler-options=-Wl,--build-id=sha1", "-o", tmp_path / "m.tar")
    out = run_outputs(run_cli, tmp_path / "m.tar", tmp_path)
    np.testing.assert_allclose(out, ort_scores(mlp_path, features()), rtol=1e-4, atol=1e-5)
    proc = run_cli("compile", mlp_path, "--cross-compiler", gcc,
                   "--cross-compiler-options=-Wl,--no-such-linker-flag", "-o", tmp_path / "n.tar")
    assert proc.returncode == 4 and "no-such-linker-flag" in proc.stderr


# ---------------------------------------------------------------------------------------------
# kiln run
# ---------------------------------------------------------------------------------------------
@pytest.mark.parametrize("device", ["cpu", "CPU", "Cpu"])
def test_run_device_any_case(run_cli, mlp_package, device):
    run_ok(run_cli, "run", mlp_package, "--device", device)


def test_run_unknown_device(run_cli, mlp_package):
    proc = run_cli("run", mlp_package, "--device", "tpu")
    assert proc.returncode == 4 and "tpu" in proc.stderr
    proc = run_cli("run", mlp_package, "--device", "cuda")
    assert proc.returncode == 4 and "not supported yet" in proc.stderr


def test_run_inputs_outputs_match_onnxruntime(run_cli, mlp_path, mlp_package, tmp_path):
    x = features(3)
    out = run_outputs(run_cli, mlp_package, tmp_path, x=x)
    np.testing.assert_allclose(out, ort_scores(mlp_path, x), rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize("mode,value", [("zeros", 0.0), ("ones", 1.0)])
def test_run_fill_mode(run_cli, mlp_path, mlp_package, tmp_path, mode, value):
    run_ok(run_cli, "run", mlp_package, "--fill-mode", mode, "-o", tmp_path / "o.npz")
    x = np.full((1, 64), value, np.float32)
    np.testing.assert_allclose(np.load(tmp_path / "o.npz")["output_0"], ort_scores(mlp_path, x),
                               rtol=1e-4, atol=1e-5)


def test_run_fill_mode_unknown_is_usage(run_cli, mlp_package):
    assert run_cli("run", mlp_package, "--fill-mode", "noise").returncode == 2


def test_run_print_time_repeat_number(run_cli, mlp_package):
    proc = run_ok(run_cli, "run", mlp_package, "--print-time", "--repeat", "3", "--number", "2")
    lines = proc.stdout.splitlines()
    at = lines.index("Execution time summary:")
    assert re.findall(r"mean \(ms\)|median \(ms\)|max \(ms\)|min \(ms\)|std \(ms\)",
                      lines[at + 1]) == ["mean (ms)", "median (ms)", "max (ms)", "min (ms)",
                                         "std (ms)"]
    values = [float(v) for v in lines[at + 2].split()]
    assert len(values) == 5 and values[3] <= values[0] <= values[2]
    assert run_cli("run", mlp_package, "--repeat", "0").returncode == 2
    assert run_cli("run", mlp_package, "--number", "0").returncode == 2


def test_run_print_top_leaves_outputs_intact(run_cli, mlp_path, mlp_package, tmp_path):
    """TVM's --print-top once sorted the output in place and corrupted --outputs."""
    x = features(5)
    np.savez(tmp_path / "in.npz", features=x)
    proc = run_ok(run_cli, "run", mlp_package, "-i", tmp_path / "in.npz", "--print-top", "3",
                  "-o", tmp_path / "out.npz")
    expected = ort_scores(mlp_path, x)
    np.testing.assert_allclose(np.load(tmp_path / "out.npz")["output_0"], expected, rtol=1e-4,
                               atol=1e-5)
    top = np.argsort(-expected[0])[:3]
    rows = [line.split() for line in proc.stdout.splitlines() if re.match(r"\s+\d+\s+\d+\s", line)]
    assert [int(r[1]) for r in rows] == list(top)


def test_run_profile(run_cli, cnn_path, tmp_path):
    run_ok(run_cli, "compile", cnn_path, "-o", tmp_path / "c.tar")
    proc = run_ok(run_cli, "run", tmp_path / "c.tar", "--profile", "--repeat", "3")
    out = proc.stdout
    assert "Kernel" in out and "Fused operators" in out and "Percent" in out and "Calls" in out
    rows = [line for line in out.splitlines() if re.match(r"k\d+_", line)]
    kernels = {node["kernel"] for node in graph_of(tmp_path / "c.tar")["nodes"]}
    assert {row.split()[0] for row in rows} == kernels
    times = [float(re.findall(r"(\d+\.\d+)\s+\d+\.\d+%", row)[0]) for row in rows]
    assert times == sorted(times, reverse=True)
    assert "conv2d" in out
    total = [line for line in out.splitlines() if line.startswith("Total")][0]
    assert "100.00%" in total


def test_run_profile_end_to_end(run_cli, mlp_package):
    proc = run_ok(run_cli, "run", mlp_package, "--profile", "--end-to-end", "--repeat", "2")
    assert "(copy inputs)" in proc.stdout and "(copy outputs)" in proc.stdout
    proc = run_ok(run_cli, "run", mlp_package, "--print-time", "--end-to-end", "--repeat", "2")
    assert "Execution time summary:" in proc.stdout


def test_run_rpc_not_supported(run_cli, mlp_package):
    proc = run_cli("run", mlp_package, "--rpc-tracker", "127.0.0.1:9190", "--rpc-key", "pi")
    assert proc.returncode == 4 and "not supported yet" in proc.stderr


def test_run_unknown_input_names_existing(run_cli, mlp_package, tmp_path):
    """TVM printed '<generator object ...>': Kiln names the inputs the model has."""
    np.savez(tmp_path / "bad.npz", nope=features())
    proc = run_cli("run", mlp_package, "-i", tmp_path / "bad.npz")
    assert proc.returncode == 4
    assert "'nope'" in proc.stderr and "'features'" in proc.stderr
    assert "generator" not in proc.stderr


# ---------------------------------------------------------------------------------------------
# logging, --config, --version, exit codes, completion
# ---------------------------------------------------------------------------------------------
def test_verbosity_levels(run_cli, mlp_path, tmp_path):
    quiet = run_ok(run_cli, "compile", mlp_path, "-o", tmp_path / "m.tar")
    assert quiet.stderr == ""
    one = run_ok(run_cli, "-v", "compile", mlp_path, "-o", tmp_path / "m.tar")
    assert "loaded" in one.stderr and "compiled in" in one.stderr and "target" not in one.stderr
    two = run_ok(run_cli, "-vv", "compile", mlp_path, "-o", tmp_path / "m.tar")
    assert "target 'llvm'" in two.stderr and "kernel k" not in two.stderr
    three = run_ok(run_cli, "-vvv", "compile", mlp_path, "-o", tmp_path / "m.tar")
    assert re.search(r"kernel k\d+_", three.stderr)
    run_log = run_ok(run_cli, "--verbose", "run", tmp_path / "m.tar")
    assert "ran in" in run_log.stderr


def test_config_preset_by_name(run_cli, mlp_path, tmp_path):
    run_ok(run_cli, "compile", "--config", "debug", mlp_path, "-o", tmp_path / "m.tar")
    assert (tmp_path / "m.tar.ir").exists()  # the debug preset dumps the IR
    assert "-opt-level=0" in metadata_of(tmp_path / "m.tar")["target"]


def test_config_file_and_command_line_wins(run_cli, mlp_path, tmp_path):
    config = {"compile": {"opt-level": 1, "target-llvm-num-cores": 1,
                          "pass-config": ["tir.disable_unroll=1"]},
              "run": {"fill-mode": "ones"}}
    (tmp_path / "my.json").write_text(json.dumps(config))
    run_ok(run_cli, "compile", mlp_path, "--config", tmp_path / "my.json", "-O", "2",
           "-o", tmp_path / "m.tar")
    target = metadata_of(tmp_path / "m.tar")["target"]
    assert "-opt-level=2" in target and "-num-cores=1" in target
    run_ok(run_cli, "run", tmp_path / "m.tar", "--config", tmp_path / "my.json",
           "-o", tmp_path / "o.npz")
    ones = np.ones((1, 64), np.float32)
    np.testing.assert_allclose(np.load(tmp_path / "o.npz")["output_0"], ort_scores(mlp_path, ones),
                               rtol=1e-4, atol=1e-5)


def test_config_errors_are_usage(run_cli, mlp_path, tmp_path):
    proc = run_cli("compile", mlp_path, "--config", "no-such-preset")
    assert proc.returncode == 2 and "no-such-preset" in proc.stderr and "debug" in proc.stderr
    (tmp_path / "bad.json").write_text("{not json")
    assert run_cli("compile", mlp_path, "--config", tmp_path / "bad.json").returncode == 2
    (tmp_path / "unknown.json").write_text(json.dumps({"compile": {"no-such-flag": 1}}))
    proc = run_cli("compile", mlp_path, "--config", tmp_path / "unknown.json")
    assert proc.returncode == 2 and "no-such-flag" in proc.stderr


def test_shipped_presets_are_valid(run_cli):
    configs = os.path.join(REPO, "configs")
    names = sorted(n for n in os.listdir(configs) if n.endswith(".json"))
    assert {"host.json", "debug.json", "aarch64-linux-gnu.json"} <= set(names)
    for name in names:
        with open(os.path.join(configs, name)) as handle:
            config = json.load(handle)
        assert set(config) <= {"description", "compile", "run", "inspect"}, name


def test_version_flag(run_cli):
    proc = run_ok(run_cli, "--version")
    assert re.fullmatch(r"kiln \d+\.\d+\.\d+\s*", proc.stdout)


def test_exit_code_4_for_kiln_errors(run_cli, tmp_path):
    proc = run_cli("compile", tmp_path / "absent.onnx", "-o", tmp_path / "m.tar")
    assert proc.returncode == 4
    assert proc.stderr.startswith("kiln: error: ") and len(proc.stderr.splitlines()) == 1


def test_bash_completion(run_cli, tmp_path):
    proc = run_ok(run_cli, "completion", "bash")
    script = proc.stdout
    assert "complete -o filenames -F _kiln kiln" in script
    for flag in ("--target-llvm-mcpu", "--cross-compiler", "--pass-config", "--profile",
                 "--print-top", "--fill-mode", "--input-shapes"):
        assert flag in script, flag
    (tmp_path / "c.bash").write_text(script)
    # The script is valid bash and completes flags of a subcommand.
    probe = ('source c.bash; COMP_WORDS=(kiln run --pro); COMP_CWORD=2; _kiln; '
             'echo "${COMPREPLY[@]}"')
    import subprocess

    done = subprocess.run(["bash", "-c", probe], cwd=tmp_path, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["--profile"]
    assert run_cli("completion", "fish").returncode == 2


@pytest.mark.parametrize("command", ["inspect", "compile", "run"])
def test_every_flag_is_documented(run_cli, command):
    """docs/cli.md documents every flag the parser has (with an example in its table)."""
    helptext = run_ok(run_cli, command, "--help").stdout
    flags = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]+)", helptext)) - {"--help"}
    assert len(flags) >= 3
    with open(os.path.join(REPO, "docs", "cli.md"), encoding="utf-8") as handle:
        doc = handle.read()
    rows = [line for line in doc.splitlines() if line.startswith("| `")]
    missing = sorted(flag for flag in flags
                     if not any(re.search(rf"(?<![\w-]){flag}(?![\w-])", row) for row in rows))
    assert not missing, f"kiln {command} flags missing from docs/cli.md: {missing}"
