"""kiln.Session: a compiled model kept loaded, run as often as needed (docs/runtime.md).

    session = kiln.Session("resnet50.tar")             # or a kiln.Package, or a directory
    scores = session.run({"data": image})["output"]    # the one-line form: a dict of copies
    session.set_input("data", image)                   # TVM GraphModule style
    session.run()
    view = session.get_output(0)                       # a view: overwritten by the next run

Inputs: numpy arrays and any DLPack producer on the CPU (``torch.Tensor``...). ``set_input``
copies; ``bind_input`` reads the caller's memory at every run (zero copy, 64-byte aligned arrays);
``run(inputs)`` binds when the array is aligned and compact, and copies otherwise.
Outputs: ``get_output`` returns a numpy view of the session's memory (no copy; it also offers
``__dlpack__``), overwritten by the next ``run`` and valid while it exists (it keeps the session
alive); ``run(inputs)`` returns copies unless ``copy=False``.
"""

from __future__ import annotations

import os
from typing import Dict, List, Mapping, Optional, Tuple, Union

import numpy as np

from . import _kiln
from .model import _NUMPY_DTYPES

# numpy dtypes (ml_dtypes) that cross into C++ as their bits: name -> (kiln dtype, bits dtype).
_BIT_VIEWS = {
    np.dtype(numpy_type).name: (name, np.dtype(f"uint{np.dtype(numpy_type).itemsize * 8}"))
    for name, numpy_type in _NUMPY_DTYPES.items()
    if getattr(numpy_type, "__module__", "").startswith("ml_dtypes")
}


def _as_numpy(array: np.ndarray, dtype: str) -> np.ndarray:
    wanted = np.dtype(_NUMPY_DTYPES[dtype])
    return array if array.dtype == wanted else array.view(wanted)


def _native_array(value, name: str):
    """(array for the native module, declared kiln dtype or "")."""
    if (type(value) is np.ndarray and value.flags.c_contiguous and value.dtype.kind != "V"
            and value.ndim > 0):
        return value, ""  # the common case, without numpy calls (per-call overhead)
    if isinstance(value, np.ndarray) or not hasattr(value, "__dlpack__"):
        # np.ascontiguousarray would turn a 0-d array into shape (1,); keep scalars scalar.
        array = np.require(np.asarray(value), requirements="C")
        view = _BIT_VIEWS.get(array.dtype.name)
        if view is not None:
            return array.view(view[1]), view[0]
        return array, ""
    return value, ""  # a DLPack producer (torch, jax ...): imported without a copy when compact


class Session:
    """A compiled package opened once: its kernels loaded, weights bound, memory planned.

    ``Session(package, num_threads=0)``: `package` is a path (.tar or unpacked directory) or a
    ``kiln.Package``; `num_threads` is this session's thread count (0: ``kiln.num_threads()``).
    Not safe to use from several threads at once: open a session per thread."""

    def __init__(self, package, num_threads: int = 0):
        from .package import Package
        if isinstance(package, Session):
            package = package.path
        if isinstance(package, Package):
            package = package.path
        if not isinstance(package, (str, os.PathLike)):
            raise _kiln.Error(f"Session expects a package path or a kiln.Package, got "
                              f"{type(package).__name__}")
        self._native = _kiln.Session(os.fspath(package), int(num_threads))
        self._inputs = self._native.inputs
        self._outputs = self._native.outputs
        self._input_names = [item["name"] for item in self._inputs]
        self._output_names = [item["name"] for item in self._outputs]

    # -- what the model takes and gives ----------------------------------------------------
    @property
    def path(self) -> str:
        return self._native.path

    @property
    def target(self) -> str:
        return self._native.target

    @property
    def inputs(self) -> List[dict]:
        """[{"name", "shape", "dtype"}] in the model's order."""
        return [dict(item) for item in self._inputs]

    @property
    def outputs(self) -> List[dict]:
        return [dict(item) for item in self._outputs]

    @property
    def num_threads(self) -> int:
        return self._native.num_threads

    @num_threads.setter
    def num_threads(self, threads: int) -> None:
        self._native.num_threads = int(threads)

    @property
    def num_kernels(self) -> int:
        return self._native.num_kernels

    @property
    def storage_bytes(self) -> int:
        return self._native.storage_bytes

    @property
    def param_bytes(self) -> int:
        return self._native.param_bytes

    def get_num_inputs(self) -> int:
        return len(self._inputs)

    def get_num_outputs(self) -> int:
        return len(self._outputs)

    def get_input_index(self, name: str) -> int:
        return self._native.input_index(str(name))

    def get_output_index(self, name: str) -> int:
        return self._native.output_index(str(name))

    def get_input_info(self) -> Tuple[Dict[str, Tuple[int, ...]], Dict[str, str]]:
        """(shape_dict, dtype_dict) of the inputs, as TVM's GraphModule.get_input_info."""
        return ({item["name"]: tuple(item["shape"]) for item in self._inputs},
                {item["name"]: item["dtype"] for item in self._inputs})

    def get_output_info(self) -> Tuple[Dict[str, Tuple[int, ...]], Dict[str, str]]:
        return ({item["name"]: tuple(item["shape"]) for item in self._outputs},
                {item["name"]: item["dtype"] for item in self._outputs})

    # -- inputs --------------------------------------------------------------------------------
    def _index(self, key, names: List[str], lookup) -> int:
        if isinstance(key, str):
            try:
                return names.index(key)
            except ValueError:
                return lookup(key)  # raises kiln.Error listing the names
        if isinstance(key, (int, np.integer)) and not isinstance(key, bool):
            return int(key)
        raise _kiln.Error(f"expected an index or a name, got {type(key).__name__}")

    def _set(self, key, value, zero_copy: bool, require: bool) -> bool:
        index = self._index(key, self._input_names, self._native.input_index)
        name = self._input_names[index] if 0 <= index < len(self._input_names) else str(key)
        array, declared = _native_array(value, name)
        try:
            return self._native.set_input(index, array, declared, zero_copy, require)
        except TypeError as error:  # nanobind could not take it as a CPU array
            raise _kiln.Error(f"input '{name}' must be a numpy array or a CPU DLPack tensor, got "
                              f"{type(value).__name__} ({error})") from None

    def set_input(self, key=None, value=None, **params) -> None:
        """Copy `value` into input `key` (a name or an index); ``set_input(data=x, mask=m)`` sets
        several. The caller may reuse its array at once."""
        if key is not None:
            self._set(key, value, False, False)
        for name, item in params.items():
            self._set(name, item, False, False)

    def bind_input(self, key, value) -> None:
        """Zero copy: every later run reads input `key` from `value`'s memory, which must be
        64-byte aligned and compact (kiln.Error otherwise), until the input is set again. Writing
        into `value` between runs changes the next run's input; the session keeps `value` alive."""
        self._set(key, value, True, True)

    # -- running -------------------------------------------------------------------------------
    def run(self, inputs: Optional[Mapping[str, object]] = None, copy: bool = True):
        """Run the model. Without `inputs`, as TVM's GraphModule.run: returns None, read the
        outputs with get_output. With a dict of inputs (bound without a copy when aligned and
        compact, else copied): returns {output name: array}, copies unless ``copy=False``
        (views into the session's memory, overwritten by the next run)."""
        if inputs is not None:
            if not isinstance(inputs, Mapping):
                raise _kiln.Error(f"inputs must be a dict of input name -> array, got "
                                  f"{type(inputs).__name__}")
            for key, value in inputs.items():
                self._set(key, value, True, False)
        self._native.run()
        if inputs is None:
            return None
        return {name: self.get_output(i, copy=copy) for i, name in enumerate(self._output_names)}

    __call__ = run

    def get_output(self, key=0, out: Optional[np.ndarray] = None, copy: bool = False):
        """Output `key` (index or name). By default a numpy view of the session's memory (no copy):
        the next run overwrites it. ``copy=True`` returns a copy; `out` receives a copy and is
        returned (TVM's get_output(index, out))."""
        index = self._index(key, self._output_names, self._native.output_index)
        view = self._native.output(index)
        view = _as_numpy(view, self._outputs[index]["dtype"])
        if out is not None:
            np.copyto(out, view)
            return out
        return view.copy() if copy else view

    def get_outputs(self, copy: bool = False) -> Dict[str, np.ndarray]:
        return {name: self.get_output(i, copy=copy) for i, name in enumerate(self._output_names)}

    def profile(self, runs: int = 10) -> List[dict]:
        """Per-kernel timings over `runs` inferences (one row per launch, in launch order)."""
        return self._native.profile(int(runs))

    def __repr__(self) -> str:
        return (f"<kiln.Session {self.path} inputs={self._input_names} "
                f"outputs={self._output_names} threads={self.num_threads}>")
