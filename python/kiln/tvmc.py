"""TVMC's names for Kiln's API: ``from kiln import tvmc`` then ``tvmc.load(...)``.

Kiln keeps the names and parameters of Apache TVM's tvmc driver; the objects are Kiln's own
(``tvmc.TVMCModel is kiln.Model``, ``tvmc.TVMCPackage is kiln.Package``,
``tvmc.TVMCResult is kiln.Result``). The tutorial's script runs with only its import changed:

    from kiln import tvmc
    model = tvmc.load("my_model.onnx")
    package = tvmc.compile(model, target="llvm")
    result = tvmc.run(package, device="cpu")
    print(result)
"""

from __future__ import annotations

import os
from typing import Mapping, Optional, Sequence

from ._kiln import Error
from .model import Model, load as _load
from .package import Package, Result, compile as _compile, run as _run

TVMCModel = Model
TVMCPackage = Package
TVMCResult = Result


def _unexpected(function: str, kwargs: dict) -> None:
    if kwargs:
        raise Error(f"tvmc.{function} got unexpected arguments: {', '.join(sorted(kwargs))}")


def load(path, model_format: Optional[str] = None,
         shape_dict: Optional[Mapping[str, Sequence[int]]] = None, constant_inputs=None,
         **kwargs) -> Model:
    """Load a model: ``tvmc.load("my_model.onnx", shape_dict={"input": [1, 3, 224, 224]})``.

    Also reads back what ``model.save`` wrote (with its package and tuning records).
    ``constant_inputs`` (a Kiln extension) fixes input values at load time, see kiln.load."""
    _unexpected("load", kwargs)
    return _load(path, shape_dict=shape_dict, model_format=model_format,
                 constant_inputs=constant_inputs)


def compile(model, target: str = "llvm", opt_level: int = 3, tuning_records=None,
            package_path=None, cross=None, cross_options=None, output_format: str = "so",
            dump_code=None, target_host=None, disabled_pass=None, pass_context_configs=None,
            additional_target_options=None, desired_layout=None, desired_layout_ops=None,
            mod_name: str = "default", **kwargs) -> Package:
    """Compile a model: ``package = tvmc.compile(model, target="llvm")``.

    `cross` is the compiler that links the library for a cross target (a command name or path,
    e.g. "aarch64-linux-gnu-gcc"), `cross_options` its extra flags; `dump_code` is a list of "ll",
    "asm", "tir", "ir" ("relay" means "ir"), written as <package_path>.<ext>. A tuning_records
    path that does not exist is an error (TVM ignored it silently)."""
    _unexpected("compile", kwargs)
    if cross is not None and not isinstance(cross, (str, os.PathLike)):
        raise Error("not supported yet: tvmc.compile(cross=<callable>); pass the cross compiler "
                    "as a command name or path, e.g. cross='aarch64-linux-gnu-gcc'")
    return _compile(model, target=target, package_path=package_path, opt_level=opt_level,
                    dump_code=dump_code, disabled_pass=disabled_pass,
                    desired_layout=desired_layout, desired_layout_ops=desired_layout_ops,
                    target_host=target_host, additional_target_options=additional_target_options,
                    pass_context_configs=pass_context_configs,
                    cross_compiler=os.fspath(cross) if cross is not None else None,
                    cross_compiler_options=cross_options, output_format=output_format,
                    mod_name=mod_name, tuning_records=tuning_records)


def run(package, device: str = "cpu", hostname=None, port: int = 9090, rpc_key=None, inputs=None,
        fill_mode: str = "random", benchmark: bool = False, repeat: int = 10, number: int = 10,
        profile: bool = False, end_to_end: bool = False, **kwargs) -> Result:
    """Run a compiled package: ``result = tvmc.run(package, device="cpu")``.

    `device` is any case ("cpu", "CPU"). `profile=True` prints the per-kernel time table (as TVM
    did) and keeps it in ``result.profile``; `end_to_end=True` includes the input and output
    copies in the timings."""
    _unexpected("run", kwargs)
    if hostname is not None or rpc_key is not None:
        raise Error("not supported yet: tvmc.run on a remote device (hostname/rpc_key): Kiln "
                    "runs packages on this machine; copy the package to the device and run it "
                    "there")
    if not isinstance(port, int) or not 0 < port < 65536:
        raise Error(f"port must be an integer from 1 to 65535, got {port!r}")
    if isinstance(package, str) or isinstance(package, os.PathLike):
        package = Package(package)
    result = _run(package, device=device, inputs=inputs, fill_mode=fill_mode,
                  benchmark=benchmark, repeat=repeat, number=number, profile=profile,
                  end_to_end=end_to_end)
    if profile:
        print(result.format_profile())
    return result


def tune(*args, **kwargs):
    raise Error("not supported yet: tvmc.tune (auto-tuning) arrives in a later Kiln release; "
                "compile without tuning records meanwhile")


__all__ = ["load", "compile", "run", "tune", "TVMCModel", "TVMCPackage", "TVMCResult"]
