"""TVMC's names for Kiln's API: ``from kiln import tvmc`` then ``tvmc.load(...)``.

Kiln keeps the names and parameters of Apache TVM's tvmc driver; the objects are Kiln's own
(``tvmc.TVMCModel is kiln.Model``, ``tvmc.TVMCPackage is kiln.Package``,
``tvmc.TVMCResult is kiln.Result``).
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

from ._kiln import Error
from .model import Model, load as _load
from .package import Package, Result, compile as _compile, run as _run

TVMCModel = Model
TVMCPackage = Package
TVMCResult = Result


def load(path, model_format: Optional[str] = None,
         shape_dict: Optional[Mapping[str, Sequence[int]]] = None, constant_inputs=None,
         **kwargs) -> Model:
    """Load a model: ``tvmc.load("my_model.onnx", shape_dict={"input": [1, 3, 224, 224]})``.
    ``constant_inputs`` (a Kiln extension) fixes input values at load time, see kiln.load."""
    if kwargs:
        raise Error(f"tvmc.load got unexpected arguments: {', '.join(sorted(kwargs))}")
    return _load(path, shape_dict=shape_dict, model_format=model_format,
                 constant_inputs=constant_inputs)


def _reject_unsupported(function: str, **options):
    given = [name for name, value in options.items() if value not in (None, False, [], ())]
    if given:
        raise Error(f"not supported yet: tvmc.{function} option(s) {', '.join(given)}")


def compile(model, target: str = "llvm", opt_level: int = 3, tuning_records=None,
            package_path=None, cross=None, cross_options=None, output_format: str = "so",
            dump_code=None, target_host=None, disabled_pass=None, pass_context_configs=None,
            additional_target_options=None, desired_layout=None, desired_layout_ops=None,
            mod_name: str = "default", **kwargs) -> Package:
    """Compile a model: ``package = tvmc.compile(model, target="llvm")``."""
    if kwargs:
        raise Error(f"tvmc.compile got unexpected arguments: {', '.join(sorted(kwargs))}")
    _reject_unsupported("compile", tuning_records=tuning_records, cross=cross,
                        cross_options=cross_options, target_host=target_host,
                        pass_context_configs=pass_context_configs,
                        additional_target_options=additional_target_options,
                        desired_layout_ops=desired_layout_ops)
    if output_format not in ("so", "tar"):
        raise Error(f"output_format must be 'so' or 'tar', got {output_format!r}")
    return _compile(model, target=target, package_path=package_path, opt_level=opt_level,
                    dump_code=dump_code, disabled_pass=disabled_pass, desired_layout=desired_layout)


def run(package, device: str = "cpu", hostname=None, port: int = 9090, rpc_key=None, inputs=None,
        fill_mode: str = "random", benchmark: bool = False, repeat: int = 10, number: int = 10,
        profile: bool = False, end_to_end: bool = False, **kwargs) -> Result:
    """Run a compiled package: ``result = tvmc.run(package, device="cpu")``."""
    if kwargs:
        raise Error(f"tvmc.run got unexpected arguments: {', '.join(sorted(kwargs))}")
    _reject_unsupported("run", hostname=hostname, rpc_key=rpc_key, profile=profile,
                        end_to_end=end_to_end)
    return _run(package, device=device, inputs=inputs, fill_mode=fill_mode, benchmark=benchmark,
                repeat=repeat, number=number)


def tune(*args, **kwargs):
    raise Error("not supported yet: tvmc.tune (auto-tuning) arrives in a later Kiln release")


__all__ = ["load", "compile", "run", "tune", "TVMCModel", "TVMCPackage", "TVMCResult"]
