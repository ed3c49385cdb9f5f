"""Kiln: compile trained neural-network models into fast machine code and run them.

    import kiln
    model = kiln.load("resnet50.onnx")
    model.summary()

The same objects are reachable under TVMC's names: ``from kiln import tvmc``.
"""

from ._kiln import Error, InternalError, MissingDependency
from ._kiln import num_threads, set_num_threads
from ._kiln import version as _native_version
from .model import Model, load
from .package import Package, Result, compile, run
from .session import Session

__version__ = _native_version()

__all__ = ["Error", "InternalError", "MissingDependency", "Model", "Package", "Result", "Session",
           "compile", "load", "num_threads", "run", "set_num_threads",
           "__version__"]
