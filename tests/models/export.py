"""Exports the test models of architectures.py to ONNX.

    python tests/models/export.py --out DIR [names...]      # no names: every model

Each model goes to DIR/<name>.onnx with static shapes (batch 1), weights inside the file. A file
that already exists is kept (delete it to re-export). `export_model(name, out_dir)` does the same
for one model and is what the pytest fixtures call.

Exporter choice (checked with torch 2.13, onnxscript 0.7.2, onnxruntime 1.32), per model in
EXPORTER below: dynamo=True (torch.export + onnxscript, opset 18) works for every model here and
gives clean graphs (nn.LSTM / nn.GRU become ONNX LSTM / GRU nodes, plus Slice/Concat glue to
reorder the gates), all verified against torch in onnxruntime. If the preferred exporter raises,
the other (dynamo=False, TorchScript, opset 17) is tried and a line printed on stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import os
import sys
import tempfile
import warnings

import numpy as np

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import architectures  # noqa: E402

OPSET_DYNAMO = 18
OPSET_TORCHSCRIPT = 17

# True: dynamo exporter first; False: TorchScript exporter first. See the module docstring.
EXPORTER = {name: True for name in architectures.MODELS}


def _export(model, inputs, path, input_names, output_names, dynamo):
    import logging

    import torch

    # "torchvision is not installed. Skipping torchvision::nms" and the like: not our concern.
    logging.getLogger("torch.onnx").setLevel(logging.ERROR)

    kwargs = dict(input_names=input_names, output_names=output_names, dynamo=dynamo)
    if dynamo:
        kwargs.update(opset_version=OPSET_DYNAMO, external_data=False, optimize=True)
    else:
        kwargs.update(opset_version=OPSET_TORCHSCRIPT, do_constant_folding=True)
    # The exporters are chatty (progress lines, deprecation warnings): keep the test log clean.
    with warnings.catch_warnings(), contextlib.redirect_stdout(io.StringIO()):
        warnings.simplefilter("ignore")
        with torch.no_grad():
            torch.onnx.export(model, inputs, path, **kwargs)


def check_with_onnxruntime(path, inputs, expected=None):
    """Runs the exported file in onnxruntime; compares with torch's outputs when given."""
    import onnxruntime as ort

    sess = ort.InferenceSession(path, providers=["CPUExecutionProvider"])
    feeds = {i.name: t.numpy() for i, t in zip(sess.get_inputs(), inputs)}
    outputs = sess.run(None, feeds)
    if expected is not None:
        for got, want in zip(outputs, expected):
            np.testing.assert_allclose(got, want.numpy(), rtol=1e-3, atol=1e-3)
    return outputs


def export_model(name: str, out_dir: str, verify: bool = False) -> str:
    """Exports architectures.MODELS[name] to out_dir/<name>.onnx (kept if already there) and
    returns its path. verify=True also runs the new file in onnxruntime against torch."""
    import torch

    canonical = architectures.ALIASES.get(name, name)  # the file keeps the name asked for
    if canonical not in architectures.MODELS:
        raise KeyError(f"unknown model {name!r}; known: {', '.join(architectures.MODELS)}")
    os.makedirs(out_dir, exist_ok=True)
    path = os.path.join(out_dir, f"{name}.onnx")
    if os.path.exists(path):
        return path
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    model, inputs = architectures.build(name)
    _, _, input_names, output_names = architectures.MODELS[canonical]
    # Write to a temporary name first, so that an interrupted export never leaves a broken cache.
    fd, tmp = tempfile.mkstemp(suffix=".onnx", dir=out_dir, prefix=f".{name}.")
    os.close(fd)
    try:
        preferred = EXPORTER[canonical]
        try:
            _export(model, inputs, tmp, input_names, output_names, dynamo=preferred)
        except Exception as e:  # noqa: BLE001 - fall back to the other exporter, say so
            print(f"export {name}: dynamo={preferred} failed ({type(e).__name__}: "
                  f"{str(e).splitlines()[0] if str(e) else ''}); retrying with dynamo={not preferred}",
                  file=sys.stderr)
            _export(model, inputs, tmp, input_names, output_names, dynamo=not preferred)
        if verify:
            with torch.no_grad():
                expected = model(*inputs)
            expected = expected if isinstance(expected, tuple) else (expected,)
            check_with_onnxruntime(tmp, inputs, expected)
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    finally:
        for leftover in (tmp, tmp + ".data"):
            if os.path.exists(leftover):
                os.remove(leftover)
    return path


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="output directory")
    parser.add_argument("--verify", action="store_true",
                        help="run each new export in onnxruntime and compare with torch")
    parser.add_argument("names", nargs="*", help=f"models (default all): {' '.join(architectures.MODELS)}; "
                        f"aliases: {' '.join(architectures.ALIASES)}")
    args = parser.parse_args(argv)
    for name in args.names or list(architectures.MODELS):
        print(export_model(name, args.out, verify=args.verify))


if __name__ == "__main__":
    main()
