"""Whole models: the torch architectures of tests/models and the onnx backend "light" models import,
print, and agree with onnxruntime on their input and output shapes."""

import numpy as np
import pytest

import architectures
from conftest import (LIGHT_MODEL_NAMES, light_model_path, onnx_weight_count, ort_inputs,
                      ort_output_shapes, shapes_of)

TRANSFORMERS = {"bert_base", "bert_tiny", "gpt2_block"}
TORCH_MODELS = [pytest.param(name, marks=pytest.mark.slow) if name in architectures.SLOW_MODELS
                else name for name in architectures.MODELS]


def check_against_onnxruntime(kiln, path, capfd):
    model = kiln.load(path)
    assert model.format == "onnx"

    model.summary()
    printed = capfd.readouterr().out
    assert printed.strip(), "summary() printed nothing"
    assert printed.strip() == str(model).strip()

    want_inputs = ort_inputs(path)
    assert [(i["name"], shapes_of([i])[0], i["dtype"]) for i in model.inputs] == want_inputs
    assert shapes_of(model.outputs) == ort_output_shapes(path)
    assert all(o["dtype"] in ("float32", "int64") for o in model.outputs), model.outputs
    assert model.op_histogram and model.num_params > 0 and model.macs > 0
    return model


@pytest.mark.parametrize("name", TORCH_MODELS)
def test_torch_model(kiln, exported, capfd, name):
    path = exported(name)
    model = check_against_onnxruntime(kiln, path, capfd)
    torch_model, _ = architectures.build(name)
    # The exporter may fold BatchNorm into conv (scale/shift -> conv bias): ~1% of the weights.
    # In the transformers Kiln folds the embedding lookups with constant indices (positions,
    # token types) into constants of the looked-up shape, which moves the count by ~3%.
    want = architectures.count_params(torch_model)
    tolerance = 0.05 if name in TRANSFORMERS else 0.01
    assert abs(model.num_params - want) <= tolerance * want, (model.num_params, want)


@pytest.mark.parametrize("name", LIGHT_MODEL_NAMES)
def test_light_model(kiln, capfd, name):
    path = light_model_path(name)
    model = check_against_onnxruntime(kiln, path, capfd)
    # The light models make their weights with ConstantOfShape(shape initializer): they are
    # parameters all the same, and the count says how big the model is.
    want = onnx_weight_count(path)
    assert abs(model.num_params - want) <= 0.01 * want, (model.num_params, want,
                                                         model.op_histogram)


def test_resnet50_v1_facts(kiln, exported):
    model = kiln.load(exported("resnet50_v1"))
    assert model.inputs == [{"name": "input", "shape": [1, 3, 224, 224], "dtype": "float32"}]
    assert model.outputs == [{"name": "logits", "shape": [1, 1000], "dtype": "float32"}]
    assert abs(model.num_params - 25.5e6) <= 0.01 * 25.5e6, model.num_params
    assert abs(model.macs - 4.1e9) <= 0.05 * 4.1e9, model.macs
    hist = {k.lower(): v for k, v in model.op_histogram.items()}
    assert sum(v for k, v in hist.items() if "conv" in k) == 53, model.op_histogram
    params = model.params
    assert sum(np.asarray(a).size for a in params.values()
               if np.asarray(a).dtype.kind == "f") == model.num_params
    assert any(np.asarray(a).shape == (1000, 2048) or np.asarray(a).shape == (2048, 1000)
               for a in params.values()), "fc weight missing"


@pytest.mark.parametrize("name", TORCH_MODELS)
def test_export_runs_in_onnxruntime(exported, name):
    """The reference itself: the exported file runs in onnxruntime and matches torch."""
    import torch

    from export import check_with_onnxruntime

    path = exported(name)
    model, inputs = architectures.build(name)
    with torch.no_grad():
        want = model(*inputs)
    want = want if isinstance(want, tuple) else (want,)
    got = check_with_onnxruntime(path, inputs, want)
    assert [list(g.shape) for g in got] == [list(w.shape) for w in want]


def test_resnet50_v1_torch_definition():
    """The definition itself: torchvision's parameter count, to the unit."""
    model, (x,) = architectures.build("resnet50_v1")
    assert architectures.count_params(model) == 25_557_032
    assert list(x.shape) == [1, 3, 224, 224]


@pytest.mark.parametrize("name,count", [("mobilenet_v2", 3_504_872),
                                        ("mobilenet_v3_small", 2_542_856),
                                        ("squeezenet1_1", 1_235_496),
                                        ("efficientnet_b0", 5_288_548),
                                        ("densenet121", 7_978_856),
                                        ("shufflenet_v2_x1_0", 2_278_604),
                                        ("bert_base", 109_482_240)])
def test_torch_definitions_match_reference_counts(name, count):
    model, _ = architectures.build(name)
    assert architectures.count_params(model) == count


def test_bert_tiny_structure(kiln, exported):
    """The encoder's inputs, outputs and ops, on the 2-layer model that the fast suite affords."""
    path = exported("bert_tiny")
    model = kiln.load(path)
    assert [(i["name"], i["shape"], i["dtype"]) for i in model.inputs] == [
        ("input_ids", [1, 128], "int64"), ("attention_mask", [1, 128], "int64")]
    assert [o["shape"] for o in model.outputs] == [[1, 128, 128], [1, 128]]
    ops = " ".join(model.op_histogram).lower()
    assert "softmax" in ops and ("erf" in ops or "gelu" in ops), model.op_histogram
    assert "matmul" in ops or "dense" in ops or "batch_matmul" in ops, model.op_histogram


@pytest.mark.slow
def test_bert_base_facts(kiln, exported):
    model = kiln.load(exported("bert_base"))
    assert [(i["name"], i["shape"], i["dtype"]) for i in model.inputs] == [
        ("input_ids", [1, 128], "int64"), ("attention_mask", [1, 128], "int64")]
    assert [o["shape"] for o in model.outputs] == [[1, 128, 768], [1, 768]]
    assert abs(model.num_params - 109_482_240) <= 0.01 * 109_482_240
    # per layer: Q, K, V, output projections, the two FFN matmuls, and Q.K^T and P.V
    seq, hidden = 128, 768
    per_layer = 4 * seq * hidden * hidden + 2 * seq * hidden * 4 * hidden + 2 * seq * seq * hidden
    want = 12 * per_layer + hidden * hidden  # + pooler
    assert abs(model.macs - want) <= 0.05 * want, (model.macs, want)
