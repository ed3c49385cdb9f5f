#!/usr/bin/env python3
"""Writes the seed corpora of the fuzz targets (fuzz/*.cc): small valid inputs that the fuzzer
mutates. Nothing binary is committed; `make fuzz` runs this first.

    python3 fuzz/make-corpus.py --out build-fuzz/corpus     # corpus/{onnx,kiln,npz,package}/

ONNX seeds come from onnx.helper (the test suite's models and a few operators with attributes,
subgraphs and typed initializer fields); npz/npy seeds from numpy. The .kiln and package seeds
need the Kiln Python module (built by `make build`): without it they are skipped with a note.
"""

from __future__ import annotations

import argparse
import io
import os
import struct
import sys
import tarfile
import tempfile
import zipfile

import numpy as np
import onnx
from onnx import TensorProto, helper, numpy_helper

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(REPO, "tests", "python"))
import onnx_models as om  # noqa: E402  (the test suite's small models)


def _model(nodes, inputs, outputs, initializers=(), opset=17):
    graph = helper.make_graph(nodes, "seed", inputs, outputs, list(initializers))
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", opset)])
    model.ir_version = 8
    return model


def _info(name, elem_type, shape):
    return helper.make_tensor_value_info(name, elem_type, shape)


def onnx_seeds():
    """name -> ModelProto: the suite's models and small graphs that reach other reader paths."""
    f32 = TensorProto.FLOAT
    seeds = {
        "small_cnn": om.small_cnn(),
        "mlp": om.mlp(),
        "reshape_via_shape": om.reshape_via_shape(),
        "multi_output": om.multi_output(),
        "symbolic_batch_cnn": om.symbolic_batch_cnn(),
        "two_inputs": om.two_inputs(),
        "static_reshape": om.static_reshape(),
    }
    seeds["add_relu"] = _model(
        [helper.make_node("Add", ["x", "bias"], ["s"], name="add"),
         helper.make_node("Relu", ["s"], ["y"], name="relu")],
        [_info("x", f32, [2, 3])], [_info("y", f32, [2, 3])],
        [numpy_helper.from_array(np.arange(3, dtype=np.float32), "bias")])
    # Initializers in the typed fields (not raw_data), of several element types.
    typed = [
        helper.make_tensor("f", f32, [2], [1.5, -2.0]),
        helper.make_tensor("i64", TensorProto.INT64, [2], [3, -4]),
        helper.make_tensor("i8", TensorProto.INT8, [3], [1, -2, 3]),
        helper.make_tensor("h", TensorProto.FLOAT16, [1], [np.float16(0.5).view(np.uint16)]),
        helper.make_tensor("u4", TensorProto.UINT4, [3], [1, 2, 3]),
        helper.make_tensor("d", TensorProto.DOUBLE, [1], [2.5]),
    ]
    seeds["typed_initializers"] = _model(
        [helper.make_node("Cast", ["i8"], ["y"], name="cast", to=f32)],
        [], [_info("y", f32, [3])], typed)
    seeds["gather_concat"] = _model(
        [helper.make_node("Gather", ["data", "idx"], ["g"], name="gather", axis=0),
         helper.make_node("Concat", ["g", "g"], ["y"], name="concat", axis=1)],
        [_info("data", f32, [4, 2])], [_info("y", f32, [2, 4])],
        [numpy_helper.from_array(np.array([0, 3], dtype=np.int64), "idx")])
    seeds["constant_of_shape"] = _model(
        [helper.make_node("ConstantOfShape", ["shape"], ["y"], name="fill",
                          value=numpy_helper.from_array(np.array([1.0], dtype=np.float32)))],
        [], [_info("y", f32, [2, 3])],
        [numpy_helper.from_array(np.array([2, 3], dtype=np.int64), "shape")])
    then_graph = helper.make_graph([helper.make_node("Neg", ["x"], ["t"])], "then", [],
                                   [_info("t", f32, [2])])
    else_graph = helper.make_graph([helper.make_node("Abs", ["x"], ["e"])], "else", [],
                                   [_info("e", f32, [2])])
    seeds["if_subgraph"] = _model(
        [helper.make_node("If", ["c"], ["y"], name="branch", then_branch=then_graph,
                          else_branch=else_graph)],
        [_info("c", TensorProto.BOOL, []), _info("x", f32, [2])], [_info("y", f32, [2])])
    seeds["resize_strings"] = _model(
        [helper.make_node("Resize", ["x", "", "scales"], ["y"], name="resize", mode="nearest",
                          coordinate_transformation_mode="asymmetric")],
        [_info("x", f32, [1, 1, 2, 2])], [_info("y", f32, [1, 1, 4, 4])],
        [numpy_helper.from_array(np.array([1, 1, 2, 2], dtype=np.float32), "scales")])
    seeds.update(regression_seeds())
    return seeds


def regression_seeds():
    """Inputs the fuzzers once found problems with (fixed since), replayed by every run as seeds:
    binary, so made here rather than committed."""
    i64 = TensorProto.INT64
    return {
        # (2^61 + 1) * 192 overflowed int64 in reshape's size check (undefined behaviour, and a
        # wrapped product equal to the input's 192 elements).
        "regression_reshape_overflow": _model(
            [helper.make_node("Reshape", ["volume", "target"], ["flat"], name="flatten")],
            [_info("volume", TensorProto.FLOAT, [1, 3, 8, 8])], [_info("flat", TensorProto.FLOAT, None)],
            [helper.make_tensor("target", i64, [2], [(1 << 61) + 1, 192])]),
        # The element count of ConstantOfShape's result type overflowed int64.
        "regression_constant_of_shape_overflow": _model(
            [helper.make_node("ConstantOfShape", ["shape"], ["y"], name="fill")],
            [], [_info("y", TensorProto.FLOAT, None)],
            [helper.make_tensor("shape", i64, [2], [788529154, (1 << 61) + 3])]),
    }


def npz_seeds():
    """name -> bytes: the first byte selects the reader in fuzz_npz (even .npz, odd .npy)."""
    arrays = {"x": np.arange(6, dtype=np.float32).reshape(2, 3), "n": np.array([1, 2], np.int64),
              "b": np.array([True, False]), "s": np.float64(3.5)}
    seeds = {}
    for compressed in (False, True):
        buffer = io.BytesIO()
        (np.savez_compressed if compressed else np.savez)(buffer, **arrays)
        seeds["arrays_compressed" if compressed else "arrays"] = b"\x00" + buffer.getvalue()
    for name, array in arrays.items():
        buffer = io.BytesIO()
        np.save(buffer, array)
        seeds["npy_" + name] = b"\x01" + buffer.getvalue()
    return seeds


def kiln_seeds(work):
    """name -> bytes of .kiln files, via the Kiln module; {} when it is not built."""
    try:
        import kiln
    except ImportError as error:
        print(f"note: no .kiln or package seeds (the Kiln module is not built: {error})")
        return {}, {}
    kiln_files, packages = {}, {}
    for name in ("small_cnn", "multi_output", "two_inputs"):
        onnx_path = os.path.join(work, name + ".onnx")
        om.save(getattr(om, name)(), onnx_path)
        model = kiln.load(onnx_path)
        kiln_path = os.path.join(work, name + ".kiln")
        model.save(kiln_path)
        with open(kiln_path, "rb") as f:
            kiln_files[name] = f.read()
        if name == "small_cnn":  # one compiled package is enough (compiling takes a while)
            package_path = os.path.join(work, name + ".tar")
            kiln.compile(model, target="llvm", package_path=package_path)
            packages.update(package_seeds(name, package_path))
            # The trusted module fuzz_package checks calls against ($KILN_FUZZ_PACKAGE).
            with open(package_path, "rb") as f:
                packages["../package-module.tar"] = f.read()
    return kiln_files, packages


def package_seeds(name, package_path):
    """The package as a tar (mode byte 0) and its mod.json + mod.params framed (mode byte 1)."""
    with open(package_path, "rb") as f:
        tar_bytes = f.read()
    with tarfile.open(package_path) as archive:
        graph = archive.extractfile("mod.json").read()
        params = archive.extractfile("mod.params").read()
    return {name + "_tar": b"\x00" + tar_bytes,
            name + "_graph": b"\x01" + struct.pack("<I", len(graph)) + graph + params}


def write(directory, seeds, suffix=""):
    os.makedirs(directory, exist_ok=True)
    for name, data in seeds.items():
        with open(os.path.join(directory, name + suffix), "wb") as f:
            f.write(data)
    print(f"{directory}: {len(seeds)} seeds")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", default=os.path.join(REPO, "build-fuzz", "corpus"))
    args = parser.parse_args()
    write(os.path.join(args.out, "onnx"),
          {name: model.SerializeToString() for name, model in onnx_seeds().items()}, ".onnx")
    write(os.path.join(args.out, "npz"), npz_seeds())
    with tempfile.TemporaryDirectory() as work:
        kiln_files, packages = kiln_seeds(work)
    if kiln_files:
        write(os.path.join(args.out, "kiln"), kiln_files, ".kiln")
        write(os.path.join(args.out, "package"), packages)


if __name__ == "__main__":
    main()
