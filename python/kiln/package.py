"""kiln.compile / kiln.Package / kiln.run / kiln.Result."""

from __future__ import annotations

import json
import os
import tarfile
from typing import Dict, Iterable, List, Mapping, Optional, Sequence, Union

import numpy as np

from . import _kiln
from .model import _NUMPY_DTYPES, Model, _tensor_parts


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

    # TVM's TVMCPackage attributes: the library member, and the package kind.
    lib_name = "mod.so"
    type = "classic"

    @property
    def params(self) -> bytes:
        """The serialized weights (mod.params, format in docs/formats.md), as TVM gave them."""
        with tarfile.open(self.package_path) as archive:
            member = archive.extractfile("mod.params")
            if member is None:
                raise _kiln.Error(f"{self.package_path}: mod.params is not a regular file")
            return member.read()

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
    """Outputs keyed output_0, output_1, ... (in the model's output order); the model's own output
    names work too. A model output name wins over a positional key: when a model names an output
    "output_1", ``outputs["output_1"]`` is that output wherever it stands (iterating still gives
    the positional keys in order, so ``list(outputs.values())[i]`` is always the i-th output)."""

    def __init__(self, named: List["tuple[str, np.ndarray]"]):
        super().__init__((f"output_{i}", array) for i, (_, array) in enumerate(named))
        self._by_name = {name: f"output_{i}" for i, (name, _) in enumerate(named)}

    def __getitem__(self, key):
        if isinstance(key, str) and key in self._by_name:
            return dict.__getitem__(self, self._by_name[key])
        if dict.__contains__(self, key):
            return dict.__getitem__(self, key)
        raise KeyError(f"no output {key!r}; outputs: {list(self.keys())} "
                       f"(model names: {list(self._by_name)})")

    def get(self, key, default=None):
        return self[key] if key in self else default

    def __contains__(self, key) -> bool:
        return dict.__contains__(self, key) or key in self._by_name

    @property
    def names(self) -> List[str]:
        return list(self._by_name)


class Profile:
    """Per-kernel timings of ``run(..., profile=True)``: ``rows`` (dicts with kernel, ops, names,
    seconds, calls, percent; slowest first), ``total_seconds`` (per inference), ``runs``."""

    def __init__(self, raw: dict):
        self.rows = [dict(row) for row in raw["rows"]]
        self.total_seconds = raw["total_seconds"]
        self.runs = raw["runs"]
        self.end_to_end = raw["end_to_end"]
        self._text = raw["text"]

    def table(self) -> str:
        return self._text

    __str__ = table

    def __repr__(self) -> str:
        return f"<kiln.Profile {len(self.rows)} kernels, total {self.total_seconds * 1e3:.4f} ms>"


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
                 storage_bytes: int = 0, param_bytes: int = 0, profile: Optional[Profile] = None):
        self.outputs = outputs
        self.times = times
        self.profile = profile
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

    def format_profile(self) -> str:
        """The per-kernel table of a run with profile=True (kernel, fused operators, time,
        % of total, calls; slowest first) and the total."""
        if self.profile is None:
            return "No profile was taken: run with profile=True (CLI: --profile).\n"
        return self.profile.table()

    def save(self, path: Union[str, os.PathLike]) -> None:
        """Write the outputs to an .npz file (keys output_0, ...)."""
        np.savez(os.fspath(path), **dict(self.outputs.items()))

    def __str__(self) -> str:
        text = self.format_times()
        if self.profile is not None:
            text += "\n" + self.profile.table()
        return f"{text}\nOutput Names:\n {list(self.outputs.keys())}"

    __repr__ = __str__


def _name_list(value, what: str) -> List[str]:
    """None, "a,b" or a list of names -> a list of names."""
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    if isinstance(value, Mapping) or not isinstance(value, Iterable):
        raise _kiln.Error(f"{what} must be a list of names or a comma-separated string, "
                          f"got {type(value).__name__}")
    return [str(part) for part in value]


def _pass_configs(value) -> List[str]:
    """pass_context_configs: ["name=value", ...] or {"name": value}."""
    if value is None:
        return []
    if isinstance(value, Mapping):
        return [f"{name}={str(v).lower() if isinstance(v, bool) else v}"
                for name, v in value.items()]
    if isinstance(value, str):
        return [value]
    return [str(item) for item in value]


def _target_options(value) -> Dict[str, Dict[str, str]]:
    """additional_target_options: {"llvm": {"mcpu": "znver4"}}."""
    if value is None:
        return {}
    if not isinstance(value, Mapping) or not all(isinstance(v, Mapping) for v in value.values()):
        raise _kiln.Error("additional_target_options must be a dict of target kind -> "
                          "{option: value}, e.g. {'llvm': {'mcpu': 'znver4'}}")
    return {str(kind): {str(k): str(v) for k, v in options.items()}
            for kind, options in value.items()}


def compile(
    model: Model,
    target: str = "llvm",
    package_path: Optional[Union[str, os.PathLike]] = None,
    opt_level: int = 3,
    dump_code: Optional[Union[str, Sequence[str]]] = None,
    disabled_pass: Optional[Union[str, Sequence[str]]] = None,
    desired_layout: Optional[str] = None,
    desired_layout_ops: Optional[Sequence[str]] = None,
    target_host: Optional[str] = None,
    additional_target_options: Optional[Mapping[str, Mapping[str, str]]] = None,
    pass_context_configs: Optional[Union[Sequence[str], Mapping[str, object]]] = None,
    cross_compiler: Optional[str] = None,
    cross_compiler_options: Optional[str] = None,
    output_format: str = "so",
    mod_name: str = "default",
    tuning_records: Optional[Union[str, os.PathLike]] = None,
) -> Package:
    """Compile `model` for `target` into a package (.tar). Without `package_path` the package is
    written to ``model.default_package_path()``, a directory Kiln never deletes.

    `disabled_pass` names graph passes not to run (a list, or "a,b"); `desired_layout` is the data
    layout of convolutions ("NCHW", the default, or "NHWC"). `cross_compiler` links mod.so
    with that compiler (e.g. "aarch64-linux-gnu-gcc" for "llvm -mtriple=aarch64-linux-gnu").
    The model remembers the package: ``model.save`` keeps it."""
    if not isinstance(model, Model):
        raise _kiln.Error(f"compile expects a kiln.Model, got {type(model).__name__}")
    formats = ["ir" if f == "relay" else f for f in _name_list(dump_code, "dump_code")]
    disabled = _name_list(disabled_pass, "disabled_pass")
    if package_path is None:
        package_path = model.default_package_path()
    if tuning_records is not None and not isinstance(tuning_records, (str, os.PathLike)):
        raise _kiln.Error("tuning_records must be the path of a records file, got "
                          f"{type(tuning_records).__name__}")
    native = _kiln.compile(
        model._native, str(target), os.fspath(package_path), int(opt_level), formats, disabled,
        desired_layout or "", _name_list(desired_layout_ops, "desired_layout_ops"),
        target_host or "", _target_options(additional_target_options),
        _pass_configs(pass_context_configs), cross_compiler or "", cross_compiler_options or "",
        str(output_format), str(mod_name),
        os.fspath(tuning_records) if tuning_records is not None else "")
    model._package_path = native.path
    return Package(native)


def _input_parts(inputs: Optional[Mapping[str, np.ndarray]]) -> list:
    return _tensor_parts("inputs", inputs, lambda name: f"input '{name}'")


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
    profile: bool = False,
    end_to_end: bool = False,
) -> Result:
    """Run a compiled package; inputs not given are filled (random, zeros or ones).

    `profile=True` times every kernel over `repeat` inferences (``result.profile``,
    ``result.format_profile()``); `end_to_end=True` makes the timings include copying the inputs
    in and the outputs out."""
    if not isinstance(package, Package):
        package = Package(package)
    if inputs is not None and not isinstance(inputs, Mapping):
        raise _kiln.Error(f"inputs must be a dict of input name -> array, got "
                          f"{type(inputs).__name__}")
    raw = _kiln.run(package._native, str(device), _input_parts(inputs), str(fill_mode),
                    bool(benchmark), int(repeat), int(number), float(min_repeat_ms), int(seed),
                    bool(profile), bool(end_to_end))
    # Arrays come straight from the runtime's aligned storage (no copy).
    outputs = _Outputs([(name, _as_numpy(array, dtype)) for name, array, dtype in raw["outputs"]])
    used_inputs = {name: _as_numpy(array, dtype) for name, array, dtype in raw["inputs"]}
    times = _Times(raw["times"]) if raw["times"] is not None else None
    profile_result = Profile(raw["profile"]) if raw["profile"] is not None else None
    return Result(outputs, times, used_inputs, int(raw["storage_bytes"]), int(raw["param_bytes"]),
                  profile_result)
