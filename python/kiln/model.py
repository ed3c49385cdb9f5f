"""kiln.Model: an imported model (graph IR + weights)."""

from __future__ import annotations

import os
import shutil
import sys
import tarfile
import tempfile
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
        self._package_path: Optional[str] = None  # the last package compiled from this model
        self._workdir: Optional[str] = None

    # -- where compile and tune put their files (TVM's TVMCModel) ------------------------------
    def _work_dir(self) -> str:
        """A directory of this model's own, created on first use and never deleted by Kiln, so
        that a package or records written there outlive the model object."""
        if self._workdir is None:
            self._workdir = tempfile.mkdtemp(prefix="kiln-model-")
        return self._workdir

    def default_package_path(self) -> str:
        """Where compile writes the package when no package_path is given."""
        return os.path.join(self._work_dir(), "model_package.tar")

    def default_tuning_records_path(self) -> str:
        """Where tuning records of this model live; model.save keeps the file if it exists."""
        return os.path.join(self._work_dir(), "tuning_records")

    @property
    def package_path(self) -> Optional[str]:
        """The package last compiled from this model (or restored by load), or None."""
        return self._package_path

    def export_package(self, package=None, package_path: Union[None, str, os.PathLike] = None
                       ) -> str:
        """Copy a compiled package (default: the last one compiled from this model) to
        `package_path` (default: default_package_path()) and remember it; returns the path."""
        source = getattr(package, "package_path", package) or self._package_path
        if source is None:
            raise _kiln.Error("export_package: this model has no package yet; compile it first")
        target = os.fspath(package_path) if package_path is not None else \
            self.default_package_path()
        if os.path.abspath(source) != os.path.abspath(target):
            shutil.copyfile(source, target)
        self._package_path = target
        return target

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
        """Write the model so that ``kiln.load`` reads it back exactly.

        A model alone becomes a Kiln model file (.kiln). A model that has a package (compiled
        from it) or tuning records (at default_tuning_records_path()) becomes a tar bundle
        holding model.kiln, model_package.tar and tuning_records, so that nothing belonging to
        the model is lost; load() restores all three. The bundle is read by kiln.load only (not by
        `kiln compile`), so it may not take a name ending in .kiln: that name is refused."""
        path = os.fspath(path)
        package = self._package_path if self._package_path and \
            os.path.isfile(self._package_path) else None
        records = self.default_tuning_records_path() if self._workdir else None
        if records is not None and not os.path.isfile(records):
            records = None
        if package is None and records is None:
            self._native.save(path)
            return
        if path.lower().endswith(".kiln"):
            kept = "a compiled package" if package is not None else "tuning records"
            raise _kiln.Error(
                f"{path}: this model has {kept}, so save() writes a bundle (a tar of model.kiln, "
                f"model_package.tar and tuning_records) that kiln.load reads but `kiln compile` "
                f"cannot; a .kiln name promises a plain model file. Save the bundle under another "
                f"name (e.g. '{path[:-5]}.tar'), or save a model loaded afresh for a .kiln file")
        with tempfile.TemporaryDirectory(prefix="kiln-save-") as scratch:
            model_file = os.path.join(scratch, _BUNDLE_MODEL)
            self._native.save(model_file)
            partial = f"{path}.partial-{os.getpid()}"
            with tarfile.open(partial, "w") as bundle:
                bundle.add(model_file, arcname=_BUNDLE_MODEL)
                if package is not None:
                    bundle.add(package, arcname=_BUNDLE_PACKAGE)
                if records is not None:
                    bundle.add(records, arcname=_BUNDLE_RECORDS)
            os.replace(partial, path)

    @staticmethod
    def load(path, shape_dict=None, model_format=None, constant_inputs=None) -> "Model":
        return load(path, shape_dict=shape_dict, model_format=model_format,
                    constant_inputs=constant_inputs)


# numpy dtype name -> Kiln dtype name, for arrays handed to the native module.
_KILN_DTYPE_NAMES = {np.dtype(t).name: name for name, t in _NUMPY_DTYPES.items()}


def _tensor_parts(what: str, arrays: Optional[Mapping[str, "np.ndarray"]],
                  label=None) -> list:
    """[(name, kiln dtype, shape, bytes)] for the native module; `what` names the argument and
    `label(name)` an array in messages (default "what['name']")."""
    label = label or (lambda name: f"{what}['{name}']")
    if arrays is None:
        return []
    if not isinstance(arrays, Mapping):
        raise _kiln.Error(f"{what} must be a dict of input name -> array, "
                          f"got {type(arrays).__name__}")
    parts = []
    for name, value in arrays.items():
        # np.ascontiguousarray would turn a 0-d array into shape (1,); keep scalars scalar.
        array = np.require(np.asarray(value), requirements="C")
        dtype = _KILN_DTYPE_NAMES.get(array.dtype.name)
        if dtype is None:
            raise _kiln.Error(f"{label(name)} has the unsupported numpy dtype {array.dtype}")
        parts.append((str(name), dtype, list(array.shape), array.tobytes()))
    return parts


def load(
    path: Union[str, os.PathLike],
    shape_dict: Optional[Mapping[str, Sequence[int]]] = None,
    model_format: Optional[str] = None,
    constant_inputs: Optional[Mapping[str, "np.ndarray"]] = None,
) -> Model:
    """Load a model (ONNX, or a saved Kiln model). `shape_dict` fixes input shapes,
    `model_format` overrides the format guessed from the extension. `constant_inputs` fixes the
    values of inputs that decide shapes (Reshape's shape, Reduce axes, Resize scales, an If
    condition, ...): each becomes a constant of the graph and leaves the model's inputs; its
    dtype and shape must match the input's declaration."""
    if not isinstance(path, (str, os.PathLike)):
        raise _kiln.Error(f"path must be a string or os.PathLike, got {type(path).__name__}")
    bundle = _open_bundle(os.fspath(path)) if model_format in (None, "", "kiln") else None
    if bundle is not None:
        return _load_bundle(os.fspath(path), bundle, shape_dict, constant_inputs)
    native = _kiln.load(os.fspath(path), _normalize_shape_dict(shape_dict), model_format or "",
                        _tensor_parts("constant_inputs", constant_inputs))
    return Model(native)


# A saved model with its package and records (Model.save): a tar with these members.
_BUNDLE_MODEL = "model.kiln"
_BUNDLE_PACKAGE = "model_package.tar"
_BUNDLE_RECORDS = "tuning_records"


def _open_bundle(path: str) -> Optional[List[str]]:
    """The member names when `path` is a bundle written by Model.save, else None."""
    if not os.path.isfile(path) or not tarfile.is_tarfile(path):
        return None
    try:
        with tarfile.open(path, "r:") as archive:
            names = archive.getnames()
    except (tarfile.TarError, OSError):
        return None
    return names if _BUNDLE_MODEL in names else None


def _load_bundle(path: str, names: List[str], shape_dict, constant_inputs=None) -> Model:
    """Extracts a bundle into the new model's own directory (kept: the package stays usable).
    With constant_inputs the model changes, so the bundled package (compiled without them) is
    not attached: compile the model again. Tuning records stay."""
    allowed = {_BUNDLE_MODEL, _BUNDLE_PACKAGE, _BUNDLE_RECORDS}
    unexpected = [name for name in names if name not in allowed]
    if unexpected:
        raise _kiln.Error(f"{path}: unexpected member(s) {unexpected} in a saved model; "
                          f"it holds only {sorted(allowed)}")
    workdir = tempfile.mkdtemp(prefix="kiln-model-")
    with tarfile.open(path, "r:") as archive:
        for member in archive.getmembers():
            if not member.isfile():
                raise _kiln.Error(f"{path}: member '{member.name}' is not a regular file")
            source = archive.extractfile(member)
            with open(os.path.join(workdir, member.name), "wb") as out:
                shutil.copyfileobj(source, out)
    native = _kiln.load(os.path.join(workdir, _BUNDLE_MODEL), _normalize_shape_dict(shape_dict),
                        "kiln", _tensor_parts("constant_inputs", constant_inputs))
    model = Model(native)
    model._workdir = workdir
    if _BUNDLE_PACKAGE in names and not constant_inputs:
        model._package_path = os.path.join(workdir, _BUNDLE_PACKAGE)
    return model
