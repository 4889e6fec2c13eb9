"""pbitlang: a probabilistic programming language for probabilistic computers."""
from .backends import backends, get_backend
from .compiler import Program, compile, load  # noqa: A004
from .errors import (BackendError, CompileError, DataError, IRFileError, LimitError, OptionError, ParseError,
                     PbitError)
from .ir import IR
from . import physics, stats  # noqa: F401
from .results import SampleResult
from .semantics.check import Limits


def train(program, data, chain=None, epochs=10, seed=0, **options):
    """Train a denoising chain (see pbitlang.dtm.train)."""
    from .dtm.train import train as _train
    return _train(program, data, chain=chain, epochs=epochs, seed=seed, **options)


def fabrics() -> dict:
    """name → description of the p-bit emulator's built-in fabric profiles."""
    from .backends.emulator.fabric import builtin_fabrics
    return builtin_fabrics()


__version__ = "0.1.0"

__all__ = ["compile", "load", "Program", "IR", "Limits", "SampleResult", "backends", "get_backend", "fabrics", "train", "PbitError", "ParseError", "CompileError",
           "LimitError", "DataError", "IRFileError", "BackendError", "OptionError", "__version__"]
