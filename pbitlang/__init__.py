"""pbitlang: a probabilistic programming language for probabilistic computers.

`import pbitlang` loads only the error types; everything else is imported on first use
(`pb.compile` brings in the compiler, `pb.load` of a .pbir file does not), so that the
command-line tools and scripts that run compiled models start in a fraction of a second."""
import importlib

from .errors import (BackendError, CompileError, DataError, IRFileError, LimitError, OptionError, ParseError,
                     MissingExtra, PbitError, PbitWarning)

__version__ = "0.1.0"

_ATTRIBUTES = {
    "compile": "api", "load": "api", "train": "api", "Program": "api", "TrainedModel": "api",
    "IR": "ir", "SampleResult": "results", "Limits": "limits",
    "list_backends": "backends", "get_backend": "backends",
    "from_dimod": "dimod", "load_model": "api", "from_ommx": "api", "sample_many": "api", "train_many": "api",
}
_SUBMODULES = ("api", "backends", "compiler", "dimod", "dtm", "ir", "measure", "models", "physics", "plot", "results",
               "stats", "testing")


def __getattr__(name):
    if name in _ATTRIBUTES:
        value = getattr(importlib.import_module(f".{_ATTRIBUTES[name]}", __name__), name)
    elif name in _SUBMODULES:
        value = importlib.import_module(f".{name}", __name__)
    else:
        raise AttributeError(f"module 'pbitlang' has no attribute '{name}'")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(_ATTRIBUTES) | set(_SUBMODULES))


def fabrics() -> dict:
    """name → description of the p-bit emulator's built-in fabric profiles."""
    from .backends.emulator.fabric import builtin_fabrics
    return builtin_fabrics()


__all__ = ["compile", "load", "train", "train_many", "sample_many", "from_dimod", "from_ommx", "load_model", "Program", "TrainedModel", "IR", "Limits", "SampleResult", "list_backends",
           "get_backend", "fabrics", "PbitError", "ParseError", "CompileError", "LimitError", "DataError",
           "IRFileError", "BackendError", "OptionError", "MissingExtra", "PbitWarning", "__version__"]
