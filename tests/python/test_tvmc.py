"""The tvmc-compatible face: `from kiln import tvmc`."""

import os
import tarfile

import numpy as np
import pytest

import onnx_models as om
from conftest import assert_mentions, ort_output_shapes, shapes_of


@pytest.fixture
def tvmc(kiln):
    from kiln import tvmc as module

    return module


def test_tvmc_model_is_kiln_model(kiln, tvmc):
    assert tvmc.TVMCModel is kiln.Model


def test_tvmc_load(kiln, tvmc, tmp_path):
    path = om.save(om.small_cnn(), tmp_path / "cnn.onnx")
    model = tvmc.load(path)
    assert isinstance(model, tvmc.TVMCModel)
    assert model.format == "onnx"
    assert model.inputs == kiln.load(path).inputs
    assert str(model) == str(kiln.load(path))
    assert shapes_of(model.outputs) == ort_output_shapes(path)


def test_tvmc_load_keywords(tvmc, tmp_path):
    path = tmp_path / "model.bin"
    path.write_bytes(om.symbolic_batch_cnn().SerializeToString())
    model = tvmc.load(str(path), model_format="onnx", shape_dict={"images": [3, 3, 16, 16]})
    assert model.inputs[0]["shape"] == [3, 3, 16, 16]
    assert model.outputs[0]["shape"] == [3, 8]


def test_tvmc_load_positional_order(tvmc, tmp_path):
    """tvmc.load(path, model_format, shape_dict): the original tool's argument order."""
    path = om.save(om.symbolic_batch_cnn(), tmp_path / "sym.onnx")
    model = tvmc.load(path, "onnx", {"images": [2, 3, 16, 16]})
    assert model.outputs[0]["shape"] == [2, 8]


def test_tvmc_summary(tvmc, tmp_path, capfd):
    model = tvmc.load(om.save(om.mlp(), tmp_path / "mlp.onnx"))
    model.summary()
    out = capfd.readouterr().out
    assert out.strip() and out.strip() == str(model).strip()
    assert "features" in out


def test_tvmc_save_and_load(tvmc, tmp_path):
    model = tvmc.load(om.save(om.small_cnn(), tmp_path / "cnn.onnx"))
    model.save(str(tmp_path / "cnn.kiln"))
    again = tvmc.load(str(tmp_path / "cnn.kiln"))
    assert isinstance(again, tvmc.TVMCModel)
    assert again.format == "kiln"
    assert str(again) == str(model)
    assert sorted(again.params) == sorted(model.params)
    for name, value in model.params.items():
        assert np.array_equal(np.asarray(again.params[name]), np.asarray(value)), name


def test_tvmc_load_kiln_with_explicit_format(tvmc, tmp_path):
    model = tvmc.load(om.save(om.mlp(), tmp_path / "mlp.onnx"))
    model.save(str(tmp_path / "saved.kiln"))
    assert tvmc.load(str(tmp_path / "saved.kiln"), model_format="kiln").num_params == \
        om.MLP_NUM_PARAMS


def test_tvmc_errors_are_kiln_errors(kiln, tvmc, tmp_path):
    with pytest.raises(kiln.Error) as err:
        tvmc.load(str(tmp_path / "absent.onnx"))
    assert_mentions(err.value, "absent.onnx")
    path = om.save(om.unsupported_ops(), tmp_path / "unsupported.onnx")
    with pytest.raises(kiln.Error) as err:
        tvmc.load(path)
    assert_mentions(err.value, "FrobnicateTensor", "TwiddleBits", "SecretSauce")


def test_tvmc_light_model(tvmc):
    from conftest import light_model_path

    path = light_model_path("resnet50")
    model = tvmc.load(path)
    assert shapes_of(model.outputs) == ort_output_shapes(path)


# ---------------------------------------------------------------------------------------------
# tvmc.compile / tvmc.run / TVMCPackage / TVMCResult with the original names and parameters
# ---------------------------------------------------------------------------------------------
def _mlp_features(seed=0):
    return np.random.default_rng(seed).standard_normal((1, 64)).astype(np.float32)


def _ort(path, feeds):
    from conftest import ort_session

    return ort_session(str(path)).run(None, feeds)


@pytest.fixture
def mlp_model(tvmc, tmp_path):
    path = om.save(om.mlp(), tmp_path / "mlp.onnx")
    return path, tvmc.load(path)


def test_tvmc_names_are_the_native_objects(kiln, tvmc):
    assert tvmc.TVMCPackage is kiln.Package and tvmc.TVMCResult is kiln.Result


def test_tvmc_compile_signature_matches_tvm(tvmc):
    import inspect

    params = list(inspect.signature(tvmc.compile).parameters)
    assert params[:16] == ["model", "target", "opt_level", "tuning_records", "package_path",
                           "cross", "cross_options", "output_format", "dump_code", "target_host",
                           "disabled_pass", "pass_context_configs", "additional_target_options",
                           "desired_layout", "desired_layout_ops", "mod_name"]
    params = list(inspect.signature(tvmc.run).parameters)
    assert params[:12] == ["package", "device", "hostname", "port", "rpc_key", "inputs",
                           "fill_mode", "benchmark", "repeat", "number", "profile", "end_to_end"]
    params = list(inspect.signature(tvmc.load).parameters)
    assert params[:3] == ["path", "model_format", "shape_dict"]


def test_tvmc_compile_all_options(tvmc, mlp_model, tmp_path):
    path, model = mlp_model
    package = tvmc.compile(model, target="llvm", opt_level=2, package_path=tmp_path / "m.tar",
                           output_format="tar", dump_code=["relay", "ll"], target_host="llvm",
                           disabled_pass=["fold_scale_axis"],
                           pass_context_configs=["tir.disable_unroll=true"],
                           additional_target_options={"llvm": {"num-cores": "1"}},
                           desired_layout="NCHW", desired_layout_ops=["nn.conv2d"],
                           mod_name="mlp")
    assert isinstance(package, tvmc.TVMCPackage)
    assert "-num-cores=1" in package.target and "-opt-level=2" in package.target
    assert (tmp_path / "m.tar.ir").exists() and (tmp_path / "m.tar.ll").exists()
    assert package.metadata["mod_name"] == "mlp"
    x = _mlp_features()
    result = tvmc.run(package, device="cpu", inputs={"features": x})
    np.testing.assert_allclose(result.outputs["output_0"], _ort(path, {"features": x})[0],
                               rtol=1e-4, atol=1e-5)


def test_tvmc_compile_pass_configs_as_dict(tvmc, mlp_model, tmp_path):
    _, model = mlp_model
    tvmc.compile(model, package_path=tmp_path / "m.tar",
                 pass_context_configs={"tir.disable_vectorize": True,
                                       "kiln.dump_dir": str(tmp_path / "dump")})
    assert os.listdir(tmp_path / "dump")


@pytest.mark.parametrize("kwargs,words", [
    ({"output_format": "zip"}, ["output_format", "zip"]),
    ({"mod_name": "9lives"}, ["mod_name", "9lives"]),
    ({"pass_context_configs": ["relay.no_such=1"]}, ["relay.no_such", "tir.disable_vectorize"]),
    ({"additional_target_options": {"cuda": {"arch": "sm_80"}}}, ["cuda"]),
    ({"additional_target_options": {"llvm": {"mcpus": "x"}}}, ["mcpus"]),
    ({"target_host": "llvm -mtriple=aarch64-linux-gnu"}, ["target_host", "not supported yet"]),
    ({"desired_layout_ops": ["conv2d"]}, ["desired_layout"]),
    ({"cross": lambda *a: None}, ["cross", "not supported yet"]),
    ({"dump_code": ["pdf"]}, ["pdf"]),
    ({"no_such_option": 1}, ["no_such_option"]),
])
def test_tvmc_compile_bad_options(kiln, tvmc, mlp_model, tmp_path, kwargs, words):
    _, model = mlp_model
    with pytest.raises(kiln.Error) as err:
        tvmc.compile(model, package_path=tmp_path / "m.tar", **kwargs)
    assert_mentions(err.value, *words)


def test_tvmc_compile_missing_tuning_records_is_an_error(kiln, tvmc, mlp_model, tmp_path):
    """TVM ignored a missing records file silently."""
    _, model = mlp_model
    with pytest.raises(kiln.Error) as err:
        tvmc.compile(model, tuning_records=str(tmp_path / "records.log"))
    assert_mentions(err.value, "records.log", "does not exist")
    (tmp_path / "records.log").write_text("")
    with pytest.raises(kiln.Error) as err:
        tvmc.compile(model, tuning_records=str(tmp_path / "records.log"))
    assert_mentions(err.value, "not supported yet", "tuning records")


def test_tvmc_cross_compiler_missing(kiln, tvmc, mlp_model, tmp_path):
    _, model = mlp_model
    with pytest.raises(kiln.MissingDependency) as err:
        tvmc.compile(model, target="llvm -mtriple=aarch64-linux-gnu",
                     cross="kiln-absent-aarch64-linux-gnu-gcc", package_path=tmp_path / "a.tar")
    assert isinstance(err.value, kiln.Error)
    assert_mentions(err.value, "kiln-absent-aarch64-linux-gnu-gcc", "apt-get install")


@pytest.mark.parametrize("device", ["cpu", "CPU", "Cpu", "LLVM"])
def test_tvmc_run_device_any_case(tvmc, mlp_model, tmp_path, device):
    _, model = mlp_model
    package = tvmc.compile(model, package_path=tmp_path / "m.tar")
    assert tvmc.run(package, device=device).outputs["output_0"].shape == (1, 10)


def test_tvmc_run_remote_not_supported(kiln, tvmc, mlp_model, tmp_path):
    _, model = mlp_model
    package = tvmc.compile(model, package_path=tmp_path / "m.tar")
    with pytest.raises(kiln.Error) as err:
        tvmc.run(package, hostname="127.0.0.1", port=9090, rpc_key="pi")
    assert_mentions(err.value, "not supported yet", "hostname")
    with pytest.raises(kiln.Error):
        tvmc.run(package, port=70000)


def test_tvmc_run_bad_input_names_the_inputs(kiln, tvmc, mlp_model, tmp_path):
    """TVM's message showed '<generator object ...>'."""
    _, model = mlp_model
    package = tvmc.compile(model, package_path=tmp_path / "m.tar")
    with pytest.raises(kiln.Error) as err:
        tvmc.run(package, inputs={"nope": _mlp_features()})
    assert_mentions(err.value, "'nope'", "'features'")
    assert "generator" not in str(err.value)
    with pytest.raises(kiln.Error) as err:
        tvmc.run(package, inputs={"features": np.zeros((2, 64), np.float32)})
    assert_mentions(err.value, "features", "[1, 64]")


def test_tvmc_result(tvmc, mlp_model, tmp_path):
    path, model = mlp_model
    package = tvmc.compile(model, package_path=tmp_path / "m.tar")
    x = _mlp_features(1)
    result = tvmc.run(package, device="cpu", inputs={"features": x}, benchmark=True, repeat=3,
                      number=2)
    expected = _ort(path, {"features": x})[0]
    assert list(result.outputs) == ["output_0"]
    np.testing.assert_allclose(result.get_output("output_0"), expected, rtol=1e-4, atol=1e-5)
    assert result.get_output("scores") is result.get_output("output_0")
    assert len(result.times.results) == 3
    text = result.format_times()
    assert "Execution time summary:" in text and "mean (ms)" in text
    assert str(result).endswith("Output Names:\n ['output_0']")
    result.save(tmp_path / "out.npz")
    np.testing.assert_array_equal(np.load(tmp_path / "out.npz")["output_0"],
                                  result.outputs["output_0"])


def test_tvmc_result_without_benchmark_has_no_empty_table(tvmc, mlp_model, tmp_path):
    """TVM printed '[]' as the timing table."""
    _, model = mlp_model
    result = tvmc.run(tvmc.compile(model, package_path=tmp_path / "m.tar"))
    assert "[]" not in result.format_times()
    assert "benchmark=True" in str(result)


def test_tvmc_run_profile(tvmc, tmp_path, capfd):
    path = om.save(om.small_cnn(), tmp_path / "cnn.onnx")
    model = tvmc.load(path)
    package = tvmc.compile(model, package_path=tmp_path / "c.tar")
    x = np.random.default_rng(2).standard_normal((1, 3, 32, 32)).astype(np.float32)
    result = tvmc.run(package, inputs={om.CNN_INPUT: x}, profile=True, repeat=4)
    printed = capfd.readouterr().out
    profile = result.profile
    assert printed.strip() == profile.table().strip()
    assert profile.runs == 4 and not profile.end_to_end
    import json

    nodes = json.loads(package.graph)["nodes"]
    assert sorted(r["kernel"] for r in profile.rows) == sorted({n["kernel"] for n in nodes})
    assert sum(r["calls"] for r in profile.rows) == len(nodes)
    seconds = [r["seconds"] for r in profile.rows]
    assert seconds == sorted(seconds, reverse=True)
    assert abs(sum(seconds) - profile.total_seconds) <= 1e-9 + 1e-6 * profile.total_seconds
    assert abs(sum(r["percent"] for r in profile.rows) - 100.0) < 1e-6
    assert any(op.startswith("conv2d") for r in profile.rows for op in r["ops"])
    assert "Total" in profile.table() and "Fused operators" in result.format_profile()
    assert profile.table() in str(result)
    # Profiling does not change the outputs.
    np.testing.assert_allclose(result.outputs["output_0"], _ort(path, {om.CNN_INPUT: x})[0],
                               rtol=1e-4, atol=1e-5)


def test_tvmc_run_profile_end_to_end(tvmc, mlp_model, tmp_path, capfd):
    _, model = mlp_model
    package = tvmc.compile(model, package_path=tmp_path / "m.tar")
    result = tvmc.run(package, profile=True, end_to_end=True, benchmark=True, repeat=2)
    kernels = [r["kernel"] for r in result.profile.rows]
    assert "(copy inputs)" in kernels and "(copy outputs)" in kernels
    assert result.profile.end_to_end and result.times is not None
    plain = tvmc.run(package)
    assert plain.profile is None and "profile=True" in plain.format_profile()


def test_tvmc_package_attributes(tvmc, mlp_model, tmp_path):
    _, model = mlp_model
    tvmc.compile(model, package_path=str(tmp_path / "whatever"))
    package = tvmc.TVMCPackage(package_path=str(tmp_path / "whatever"))
    assert package.package_path == str(tmp_path / "whatever")
    assert package.lib_name == "mod.so" and package.type == "classic"
    with tarfile.open(package.package_path) as archive:
        assert package.params == archive.extractfile("mod.params").read()
    assert package.inputs[0]["name"] == "features"
    assert "nodes" in package.graph


def test_tvmc_default_package_path_outlives_the_model(tvmc, tmp_path):
    """TVM's default paths lived in a temporary directory that vanished with the model."""
    import gc

    model = tvmc.load(om.save(om.mlp(), tmp_path / "mlp.onnx"))
    package = tvmc.compile(model)
    assert package.package_path == model.default_package_path()
    assert os.path.dirname(model.default_tuning_records_path()) == \
        os.path.dirname(model.default_package_path())
    path = package.package_path
    del model, package
    gc.collect()
    assert os.path.isfile(path)
    assert tvmc.run(tvmc.TVMCPackage(path)).outputs["output_0"].shape == (1, 10)


def test_tvmc_tune_not_supported(kiln, tvmc, mlp_model):
    _, model = mlp_model
    with pytest.raises(kiln.Error) as err:
        tvmc.tune(model, target="llvm")
    assert_mentions(err.value, "not supported yet", "tune")


def test_tvmc_model_save_keeps_package_and_records(tvmc, mlp_model, tmp_path):
    path, model = mlp_model
    package = tvmc.compile(model, package_path=tmp_path / "m.tar")
    with open(model.default_tuning_records_path(), "w") as handle:
        handle.write('{"record": 1}\n')
    model.save(tmp_path / "saved.tar")
    again = tvmc.load(str(tmp_path / "saved.tar"))
    assert str(again) == str(model)
    assert again.package_path is not None and os.path.isfile(again.package_path)
    with open(again.package_path, "rb") as a, open(package.package_path, "rb") as b:
        assert a.read() == b.read()
    with open(again.default_tuning_records_path()) as handle:
        assert handle.read() == '{"record": 1}\n'
    x = _mlp_features(4)
    result = tvmc.run(tvmc.TVMCPackage(again.package_path), inputs={"features": x})
    np.testing.assert_allclose(result.outputs["output_0"], _ort(path, {"features": x})[0],
                               rtol=1e-4, atol=1e-5)


def test_tvmc_model_save_without_package_is_a_kiln_file(tvmc, mlp_model, tmp_path):
    _, model = mlp_model
    model.save(tmp_path / "plain.kiln")
    assert tvmc.load(str(tmp_path / "plain.kiln")).format == "kiln"
    assert tvmc.load(str(tmp_path / "plain.kiln")).package_path is None


def test_tvmc_export_package(kiln, tvmc, mlp_model, tmp_path):
    _, model = mlp_model
    with pytest.raises(kiln.Error):
        model.export_package()
    package = tvmc.compile(model, package_path=tmp_path / "m.tar")
    exported = model.export_package(package, str(tmp_path / "copy.tar"))
    assert exported == str(tmp_path / "copy.tar") and model.package_path == exported
    assert tvmc.TVMCPackage(exported).num_kernels == package.num_kernels
