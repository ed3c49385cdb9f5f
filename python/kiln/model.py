"""kiln.Model: an imported model (graph IR + weights)."""

from __future__ import annotations

import os
import sys
from typing import Dict, List, Mapping, Optional, Sequence, Union

import ml_dtypes
import numpy as np

from . import _kiln

# Kiln dtype name -> numpy dtype. numpy lacks bfloat16, float8, float4 and 4-/2-bit integers:
# those are ml_dtypes' types (one element per byte, as Kiln stores them).
_NUMPY_DTYPES = {
    "float32": np.float32,
    "float16": np.float16,
    "bfloat16": ml_dtypes.bfloat16,
    "float64": np.float64,
    "int8": np.int8,
    "int16": np.int16,
    "int32": np.int32,
    "int64": np.int64,
    "uint8": np.uint8,
    "uint16": np.uint16,
    "uint32": np.uint32,
    "uint64": np.uint64,
    "bool": np.bool_,
    "float8e4m3fn": ml_dtypes.float8_e4m3fn,
    "float8e4m3fnuz": ml_dtypes.float8_e4m3fnuz,
    "float8e5m2": ml_dtypes.float8_e5m2,
    "float8e5m2fnuz": ml_dtypes.float8_e5m2fnuz,
    "float8e8m0": ml_dtypes.float8_e8m0fnu,
    "float4e2m1": ml_dtypes.float4_e2m1fn,
    "int4": ml_dtypes.int4,
    "uint4": ml_dtypes.uint4,
    "int2": ml_dtypes.int2,
    "uint2": ml_dtypes.uint2,
}


def _normalize_shape_dict(shape_dict: Optional[Mapping[str, Sequence[int]]]) -> Dict[str, List[int]]:
    if shape_dict is None:
        return {}
    if not isinstance(shape_dict, Mapping):
        raise _kiln.Error(
            f"shape_dict must be a dict of input name -> shape, got {type(shape_dict).__name__}"
        )
    normalized = {}
    for name, shape in shape_dict.items():
        try:
            dims = [int(d) for d in shape]
        except (TypeError, ValueError):
            raise _kiln.Error(
                f"shape_dict['{name}'] must be a list of integers, got {shape!r}"
            ) from None
        if any(d < 0 for d in dims):
            raise _kiln.Error(f"shape_dict['{name}'] has a negative dimension: {dims}")
        normalized[str(name)] = dims
    return normalized


class Model:
    """A model imported into Kiln's graph IR. Also known as ``kiln.tvmc.TVMCModel``."""

    def __init__(self, native: "_kiln.Model"):
        self._native = native
        self._stats = None

    # -- what the model is -------------------------------------------------------------
    @property
    def inputs(self) -> List[dict]:
        """[{"name", "shape", "dtype"}]; symbolic dims are strings."""
        return self._native.inputs

    @property
    def outputs(self) -> List[dict]:
        return self._native.outputs

    @property
    def format(self) -> str:
        """Format the model was loaded from: "onnx", "kiln", ..."""
        return self._native.source_format

    @property
    def model_path(self) -> str:
        return self._native.source_path

    @property
    def params(self) -> Dict[str, np.ndarray]:
        """The weights and other constants, name -> numpy array (a copy)."""
        result = {}
        for name, dtype, shape, data in self._native.params():
            array = np.frombuffer(data, dtype=_NUMPY_DTYPES[dtype]).reshape(shape)
            result[name] = array
        return result

    def _stat(self, key):
        if self._stats is None:
            self._stats = self._native.stats()
        return self._stats[key]

    @property
    def num_params(self) -> int:
        """Number of elements of floating-point constants (the weights)."""
        return self._stat("num_params")

    @property
    def macs(self) -> int:
        """Multiply-accumulates of conv/dense/matmul/rnn operators (static shapes)."""
        return self._stat("macs")

    @property
    def flops(self) -> int:
        """Estimated floating-point operations (2 * macs + one per element elsewhere)."""
        return self._stat("flops")

    @property
    def op_histogram(self) -> Dict[str, int]:
        return dict(self._stat("op_histogram"))

    # -- showing and saving ------------------------------------------------------------
    def summary(self, file: Union[None, str, os.PathLike, "io.TextIOBase"] = None) -> None:
        """Print the graph IR, one line per value with its type, to stdout or `file`
        (a path or an open text file)."""
        text = self._native.summary()
        if file is None:
            sys.stdout.write(text)
        elif isinstance(file, (str, os.PathLike)):
            with open(file, "w", encoding="utf-8") as handle:
                handle.write(text)
        else:
            file.write(text)

    def __str__(self) -> str:
        return self._native.summary()

    def __repr__(self) -> str:
        ins = ", ".join(f"{i['name']}: {i['dtype']}{i['shape']}" for i in self.inputs)
        return f"<kiln.Model ({ins}) from {self.model_path or '?'}>"

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Write a Kiln model file (.kiln) that ``kiln.load`` reads back exactly."""
        self._native.save(os.fspath(path))

    @staticmethod
    def load(path, shape_dict=None, model_format=None) -> "Model":
        return load(path, shape_dict=shape_dict, model_format=model_format)


def load(
    path: Union[str, os.PathLike],
    shape_dict: Optional[Mapping[str, Sequence[int]]] = None,
    model_format: Optional[str] = None,
) -> Model:
    """Load a model (ONNX, or a saved Kiln model). `shape_dict` fixes input shapes,
    `model_format` overrides the format guessed from the extension."""
    if not isinstance(path, (str, os.PathLike)):
        raise _kiln.Error(f"path must be a string or os.PathLike, got {type(path).__name__}")
    native = _kiln.load(os.fspath(path), _normalize_shape_dict(shape_dict), model_format or "")
    return Model(native)
