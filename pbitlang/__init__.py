"""pbitlang: a probabilistic programming language for probabilistic computers."""
from .compiler import Program, compile, load  # noqa: A004
from .errors import (BackendError, CompileError, DataError, IRFileError, LimitError, OptionError, ParseError,
                     PbitError)
from .ir import IR
from .semantics.check import Limits

__version__ = "0.1.0"

__all__ = ["compile", "load", "Program", "IR", "Limits", "PbitError", "ParseError", "CompileError",
           "LimitError", "DataError", "IRFileError", "BackendError", "OptionError", "__version__"]
