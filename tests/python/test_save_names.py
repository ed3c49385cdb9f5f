"""Model.save after a compile, and loading a saved bundle with constant_inputs (docs/formats.md,
"Saved models with their package")."""

import numpy as np
import pytest

import onnx_models as om
from conftest import ort_session


@pytest.fixture
def compiled_mlp(kiln, tmp_path):
    model = kiln.load(om.save(om.mlp(), tmp_path / "mlp.onnx"))
    kiln.compile(model, target="llvm", package_path=str(tmp_path / "mlp.tar"))
    return model


def test_compiled_model_refuses_a_kiln_name(kiln, compiled_mlp, tmp_path):
    with pytest.raises(kiln.Error, match=r"x\.kiln: .*compiled package.*kiln compile.*x\.tar"):
        compiled_mlp.save(str(tmp_path / "x.kiln"))
    assert not (tmp_path / "x.kiln").exists()


def test_compiled_model_saves_a_bundle_under_another_name(kiln, compiled_mlp, tmp_path):
    compiled_mlp.save(str(tmp_path / "x.tar"))
    again = kiln.load(str(tmp_path / "x.tar"))
    assert again.package_path is not None and str(again) == str(compiled_mlp)


def test_plain_kiln_file_compiles_on_the_command_line(kiln, run_cli, tmp_path):
    model = kiln.load(om.save(om.mlp(), tmp_path / "mlp.onnx"))
    model.save(str(tmp_path / "x.kiln"))
    proc = run_cli("compile", tmp_path / "x.kiln", "-o", tmp_path / "x_pkg.tar")
    assert proc.returncode == 0, proc.stderr


def test_bundle_loads_with_constant_inputs(kiln, tmp_path):
    path = om.save(om.two_inputs(batch=2), tmp_path / "two.onnx")
    model = kiln.load(path)
    kiln.compile(model, target="llvm", package_path=str(tmp_path / "two.tar"))
    model.save(str(tmp_path / "bundle.tar"))
    right = np.arange(16, dtype=np.float32).reshape(2, 8)
    fixed = kiln.load(str(tmp_path / "bundle.tar"), constant_inputs={"right": right})
    assert [i["name"] for i in fixed.inputs] == ["left"]
    assert fixed.package_path is None  # the bundled package was compiled without the constant
    package = kiln.compile(fixed, target="llvm", package_path=str(tmp_path / "fixed.tar"))
    left = np.ones((2, 8), np.float32)
    got = kiln.run(package, inputs={"left": left}).outputs["output_0"]
    expected = ort_session(path).run(None, {"left": left, "right": right})[0]
    np.testing.assert_allclose(got, expected, rtol=1e-6)
