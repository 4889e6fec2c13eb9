"""pbitlang: a probabilistic programming language for probabilistic computers."""
from . import physics, stats  # noqa: F401
from .api import Program, TrainedModel, compile, load, train  # noqa: A004
from .backends import get_backend, list_backends
from .errors import (BackendError, CompileError, DataError, IRFileError, LimitError, OptionError, ParseError,
                     PbitError)
from .ir import IR
from .results import SampleResult
from .semantics.check import Limits


def fabrics() -> dict:
    """name → description of the p-bit emulator's built-in fabric profiles."""
    from .backends.emulator.fabric import builtin_fabrics
    return builtin_fabrics()


__version__ = "0.1.0"

__all__ = ["compile", "load", "train", "Program", "TrainedModel", "IR", "Limits", "SampleResult", "list_backends",
           "get_backend", "fabrics", "PbitError", "ParseError", "CompileError", "LimitError", "DataError",
           "IRFileError", "BackendError", "OptionError", "__version__"]
