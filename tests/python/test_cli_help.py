"""`kiln --help` and subcommand help: defaults, exit codes, only the formats that load; global
flags after the command; range errors in words (docs/cli.md)."""

import pytest

import onnx_models as om


def test_top_level_help_lists_exit_codes(run_cli):
    proc = run_cli("--help")
    assert proc.returncode == 0, proc.stderr
    text = " ".join(proc.stdout.split())
    for code in ("0 success", "2 bad usage", "3 internal error", "4 Kiln error",
                 "5 a missing optional dependency"):
        assert code in text, code


def test_compile_help_shows_defaults_and_loadable_formats(run_cli):
    proc = run_cli("compile", "--help")
    assert proc.returncode == 0, proc.stderr
    text = proc.stdout
    assert "module.tar" in text and "llvm" in text  # the defaults of -o and --target
    opt_level = next(line for line in text.splitlines() if "--opt-level" in line)
    assert opt_level.rstrip().endswith("=3"), opt_level  # CLI11 prints the default as =3
    assert "onnx, kiln" in text
    for refused in ("tflite", "pytorch", "keras", "tensorflow"):
        assert refused not in text, refused  # known by name but not loadable: not offered
    assert "Exit codes" in text


def test_run_help_shows_defaults(run_cli):
    text = run_cli("run", "--help").stdout
    for flag, default in (("--repeat", "=10"), ("--number", "=10"), ("--fill-mode", "=random"),
                          ("--device", "=cpu")):
        line = next(l for l in text.splitlines() if flag in l)
        assert default in line, line


@pytest.mark.parametrize("args, message", [
    (["--repeat", "0"], "--repeat must be at least 1, got 0"),
    (["--number", "-3"], "--number must be at least 1, got -3"),
    (["--print-top", "-1"], "--print-top must be at least 0, got -1"),
    (["--repeat", "two"], "--repeat must be a whole number, got 'two'"),
])
def test_run_range_errors_are_readable(run_cli, tmp_path, args, message):
    proc = run_cli("run", tmp_path / "x.tar", *args)
    assert proc.returncode == 2, proc.stderr
    assert message in proc.stderr
    assert len(proc.stderr) < 200, proc.stderr  # no 300-digit bound


def test_opt_level_range_error_is_readable(run_cli, tmp_path):
    proc = run_cli("compile", tmp_path / "m.onnx", "-O", "7")
    assert proc.returncode == 2
    assert "--opt-level must be a whole number from 0 to 3, got '7'" in proc.stderr


def test_verbose_flag_after_the_command(run_cli, tmp_path):
    path = om.save(om.mlp(), tmp_path / "mlp.onnx")
    before = run_cli("-v", "compile", path, "-o", tmp_path / "a.tar")
    after = run_cli("compile", path, "-o", tmp_path / "b.tar", "-v")
    assert before.returncode == 0 and after.returncode == 0, after.stderr
    assert "kiln: loaded" in after.stderr and "kiln: compiled in" in after.stderr
    assert [l.split(" in ")[0] for l in before.stderr.splitlines()] == \
        [l.split(" in ")[0] for l in after.stderr.splitlines()]
    vv = run_cli("inspect", path, "-vv")
    assert vv.returncode == 0, vv.stderr


def test_unknown_flag_after_the_command_is_still_bad_usage(run_cli, tmp_path):
    proc = run_cli("run", tmp_path / "x.tar", "--no-such-flag")
    assert proc.returncode == 2
    assert "--no-such-flag" in proc.stderr
