"""Source positions and the PbitError hierarchy.

Every error a user can cause is a PbitError.  Its str() starts with
``file:line:col:`` and shows the source line with a caret, so the CLI can print
it as is and tests can compare it."""
from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Source:
    """A program text and the name it is reported under."""
    name: str
    text: str

    def line(self, lineno: int) -> str:
        lines = self.text.splitlines()
        return lines[lineno - 1] if 1 <= lineno <= len(lines) else ""


@dataclass(frozen=True)
class Span:
    """A region of a Source (1-based line and column, end exclusive)."""
    source: Source | None
    line: int
    column: int
    end_line: int = 0
    end_column: int = 0

    def __str__(self) -> str:
        name = self.source.name if self.source else "<input>"
        return f"{name}:{self.line}:{self.column}"

    def render(self) -> str:
        """The source line with a caret (and tildes) under the span."""
        if self.source is None or self.line <= 0:
            return ""
        text = self.source.line(self.line).expandtabs(4)
        width = 1
        if self.end_line == self.line and self.end_column > self.column:
            width = self.end_column - self.column
        gutter = f"{self.line:5d} | "
        caret = " " * (self.column - 1) + "^" + "~" * (width - 1)
        return f"{gutter}{text}\n{' ' * (len(gutter) - 2)}| {caret}"


@dataclass
class PbitError(Exception):
    """Base of every error a user can cause."""
    message: str
    span: Span | None = None
    notes: list = field(default_factory=list)   # (text, Span | None)
    kind: str = "error"

    def __post_init__(self):
        Exception.__init__(self, self.message)

    def __str__(self) -> str:
        head = f"{self.span}: {self.kind}: {self.message}" if self.span else f"{self.kind}: {self.message}"
        parts = [head]
        if self.span is not None and self.span.render():
            parts.append(self.span.render())
        for text, span in self.notes:
            parts.append(f"note: {text}" + (f" ({span})" if span else ""))
            if span is not None and span.render():
                parts.append(span.render())
        return "\n".join(parts)

    def with_note(self, text: str, span: Span | None = None) -> "PbitError":
        self.notes.append((text, span))
        return self

    __hash__ = Exception.__hash__


class ParseError(PbitError):
    """The text is not a program (syntax)."""


class CompileError(PbitError):
    """Names, types, shapes, indices or values are wrong."""


class LimitError(CompileError):
    """The program would exceed a configured size limit."""


class DataError(PbitError):
    """A data file or a data array is missing or malformed."""


class IRFileError(PbitError):
    """A .pbir (or samples) file is not one, is truncated, or has a foreign version."""


class BackendError(PbitError):
    """A backend cannot run this program with these options."""


class OptionError(BackendError):
    """An option's name or value is not accepted."""


class MissingExtra(PbitError):
    """A feature needs an optional package that is not installed (the message says which extra)."""


def require(module: str, extra: str, purpose: str):
    """Import an optional dependency on first use, or say how to install it."""
    import importlib
    try:
        return importlib.import_module(module)
    except ImportError:
        raise MissingExtra(f"{purpose} needs {module.split('.')[0]}: pip install 'pbitlang[{extra}]'") from None


class PbitWarning(UserWarning):
    """Something in a program that is allowed but probably not meant (an empty program); its text
    has the same form as an error's, `file:line:col: warning: …`."""

    @classmethod
    def at(cls, message: str, span: Span | None = None) -> "PbitWarning":
        return cls(str(PbitError(message, span, kind="warning")))
