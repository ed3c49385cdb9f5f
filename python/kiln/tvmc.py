"""TVMC's names for Kiln's API: ``from kiln import tvmc`` then ``tvmc.load(...)``.

Kiln keeps the names and parameters of Apache TVM's tvmc driver; the objects are Kiln's own
(``tvmc.TVMCModel is kiln.Model``).
"""

from __future__ import annotations

from typing import Mapping, Optional, Sequence

from .model import Model, load as _load

TVMCModel = Model


def load(
    path,
    model_format: Optional[str] = None,
    shape_dict: Optional[Mapping[str, Sequence[int]]] = None,
    **kwargs,
) -> Model:
    """Load a model: ``tvmc.load("my_model.onnx", shape_dict={"input": [1, 3, 224, 224]})``."""
    if kwargs:
        from ._kiln import Error

        raise Error(f"tvmc.load got unexpected arguments: {', '.join(sorted(kwargs))}")
    return _load(path, shape_dict=shape_dict, model_format=model_format)


def _not_yet(name: str):
    def missing(*args, **kwargs):
        from ._kiln import Error

        raise Error(f"not supported yet: tvmc.{name} arrives with code generation in Kiln")

    missing.__name__ = name
    return missing


compile = _not_yet("compile")
run = _not_yet("run")
tune = _not_yet("tune")

__all__ = ["load", "TVMCModel", "compile", "run", "tune"]
