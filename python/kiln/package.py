"""kiln.compile / kiln.Package / kiln.run / kiln.Result."""

from __future__ import annotations

import json
import os
import tempfile
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Union

import numpy as np

from . import _kiln
from .model import _NUMPY_DTYPES, Model

_DTYPE_NAMES = {np.dtype(v).name: k for k, v in _NUMPY_DTYPES.items()}


def _as_numpy(array: np.ndarray, dtype: str) -> np.ndarray:
    """The runtime hands narrow types (bfloat16, float8, int4, ...) over as their bytes."""
    wanted = np.dtype(_NUMPY_DTYPES[dtype])
    return array if array.dtype == wanted else array.view(wanted)
_DUMP_FORMATS = ("ll", "asm", "tir", "ir")


class Package:
    """A compiled model on disk (.tar). ``kiln.Package(path)`` reopens one and verifies it."""

    def __init__(self, package_path: Union[str, os.PathLike]):
        if isinstance(package_path, _kiln.Package):
            self._native = package_path
        else:
            self._native = _kiln.Package(os.fspath(package_path))

    @property
    def package_path(self) -> str:
        return self._native.path

    path = package_path

    @property
    def target(self) -> str:
        return self._native.target

    @property
    def inputs(self) -> List[dict]:
        return self._native.inputs

    @property
    def outputs(self) -> List[dict]:
        return self._native.outputs

    @property
    def metadata(self) -> dict:
        return json.loads(self._native.metadata_json)

    @property
    def graph(self) -> str:
        """The graph (mod.json) as text."""
        return self._native.graph_json

    @property
    def num_kernels(self) -> int:
        return self._native.num_kernels

    def __repr__(self) -> str:
        return f"<kiln.Package {self.package_path} target={self.target!r}>"


class _Times:
    """Benchmark statistics in seconds (like TVM's BenchmarkResult)."""

    def __init__(self, times: dict):
        self.results = list(times["results"])
        self.mean = times["mean"]
        self.median = times["median"]
        self.max = times["max"]
        self.min = times["min"]
        self.std = times["std"]

    def __repr__(self) -> str:
        return (f"Times(mean={self.mean:.6g}s, median={self.median:.6g}s, max={self.max:.6g}s, "
                f"min={self.min:.6g}s, std={self.std:.6g}s, results={len(self.results)})")


class _Outputs(dict):
    """Outputs keyed output_0, output_1, ...; the model's own output names work too."""

    def __init__(self, named: List["tuple[str, np.ndarray]"]):
        super().__init__((f"output_{i}", array) for i, (_, array) in enumerate(named))
        self._by_name = {name: f"output_{i}" for i, (name, _) in enumerate(named)}

    def __missing__(self, key):
        if key in self._by_name:
            return dict.__getitem__(self, self._by_name[key])
        raise KeyError(f"no output {key!r}; outputs: {list(self.keys())} "
                       f"(model names: {list(self._by_name)})")

    def __contains__(self, key) -> bool:
        return dict.__contains__(self, key) or key in self._by_name

    @property
    def names(self) -> List[str]:
        return list(self._by_name)


class Result:
    """What ``kiln.run`` returns: outputs and, when benchmarking, times.

    Also the graph executor's memory, in bytes: ``storage_bytes`` is what the memory plan
    allocated for inputs, intermediates and outputs (after buffer sharing: the planned storages,
    not the sum of every tensor); ``param_bytes`` is the bytes of the parameters (weights and
    folded constants as compiled, which may differ from the source model's initializers after
    constant folding or layout changes). Process-level memory (code, the loaded package, the
    thread pool) is not included.
    """

    def __init__(self, outputs: _Outputs, times: Optional[_Times], inputs: Dict[str, np.ndarray],
                 storage_bytes: int = 0, param_bytes: int = 0):
        self.outputs = outputs
        self.times = times
        self.inputs = inputs
        self.storage_bytes = storage_bytes
        self.param_bytes = param_bytes

    def get_output(self, name: str) -> np.ndarray:
        return self.outputs[name]

    def format_times(self) -> str:
        if self.times is None:
            return "No timing was taken: run with benchmark=True (CLI: --print-time).\n"
        t = self.times
        ms = [v * 1000.0 for v in (t.mean, t.median, t.max, t.min, t.std)]
        header = "".join(f"{h:^12} " for h in ("mean (ms)", "median (ms)", "max (ms)", "min (ms)", "std (ms)"))
        values = "".join(f"{v:^12.4f} " for v in ms)
        return f"Execution time summary:\n{header.rstrip()}\n{values.rstrip()}\n"

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Write the outputs to an .npz file (keys output_0, ...)."""
        np.savez(os.fspath(path), **dict(self.outputs.items()))

    def __str__(self) -> str:
        return f"{self.format_times()}\nOutput Names:\n {list(self.outputs.keys())}"

    __repr__ = __str__


def compile(
    model: Model,
    target: str = "llvm",
    package_path: Optional[Union[str, os.PathLike]] = None,
    opt_level: int = 3,
    dump_code: Optional[Union[str, Sequence[str]]] = None,
    disabled_pass: Optional[Union[str, Sequence[str]]] = None,
    desired_layout: Optional[str] = None,
) -> Package:
    """Compile `model` for `target` into a package (.tar). Without `package_path` the package is
    written to a new directory under the system's temporary folder, which Kiln never deletes.

    `disabled_pass` names graph passes not to run (a list, or "a,b"); `desired_layout` is the data
    layout of convolutions ("NCHW"; "NHWC" is not supported yet)."""
    if not isinstance(model, Model):
        raise _kiln.Error(f"compile expects a kiln.Model, got {type(model).__name__}")
    if isinstance(dump_code, str):
        dump_code = [part for part in dump_code.split(",") if part]
    formats = list(dump_code or [])
    if isinstance(disabled_pass, str):
        disabled_pass = [part for part in disabled_pass.split(",") if part]
    disabled = [str(name) for name in (disabled_pass or [])]
    if package_path is None:
        package_path = os.path.join(tempfile.mkdtemp(prefix="kiln-"), "module.tar")
    native = _kiln.compile(model._native, target, os.fspath(package_path), int(opt_level), formats,
                           disabled, desired_layout or "")
    return Package(native)


def _input_parts(inputs: Optional[Mapping[str, np.ndarray]]) -> list:
    parts = []
    for name, value in (inputs or {}).items():
        # np.ascontiguousarray would turn a 0-d array into shape (1,); keep scalars scalar.
        array = np.require(np.asarray(value), requirements="C")
        dtype = _DTYPE_NAMES.get(array.dtype.name)
        if dtype is None:
            raise _kiln.Error(f"input '{name}' has the unsupported numpy dtype {array.dtype}")
        parts.append((str(name), dtype, list(array.shape), array.tobytes()))
    return parts


def run(
    package: Union[Package, str, os.PathLike],
    device: str = "cpu",
    inputs: Optional[Mapping[str, np.ndarray]] = None,
    fill_mode: str = "random",
    benchmark: bool = False,
    repeat: int = 10,
    number: int = 10,
    min_repeat_ms: float = 0.0,
    seed: int = 0,
) -> Result:
    """Run a compiled package; inputs not given are filled (random, zeros or ones)."""
    if not isinstance(package, Package):
        package = Package(package)
    raw = _kiln.run(package._native, str(device), _input_parts(inputs), str(fill_mode),
                    bool(benchmark), int(repeat), int(number), float(min_repeat_ms), int(seed))
    # Arrays come straight from the runtime's aligned storage (no copy).
    outputs = _Outputs([(name, _as_numpy(array, dtype)) for name, array, dtype in raw["outputs"]])
    used_inputs = {name: _as_numpy(array, dtype) for name, array, dtype in raw["inputs"]}
    times = _Times(raw["times"]) if raw["times"] is not None else None
    return Result(outputs, times, used_inputs, int(raw["storage_bytes"]), int(raw["param_bytes"]))
