"""compile(): the pipeline, one numbered step per stage.

    1 parse   text → ast.Module             (syntax errors)
    2 check   names, types, shapes, params  (semantic errors)
    3 lower   expand templates over index grids (sympy once per statement,
              numpy per grid) and assemble the IR, colouring included
"""
from __future__ import annotations

import time
from pathlib import Path

import numpy as np

from .errors import DataError, PbitError, Source
from .grammar import parse
from .ir import IR
from .semantics.check import Limits, check
from .semantics.lower import LowerOptions, lower


def read_source(program) -> Source:
    """A path (str ending in .pb, or Path) or program text → Source."""
    if isinstance(program, Path) or (isinstance(program, str) and "\n" not in program and ";" not in program
                                     and program.strip().endswith(".pb")):
        path = Path(program)
        if not path.is_file():
            raise DataError(f"{path}: no such program file")
        try:
            return Source(str(path), path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as err:
            raise DataError(f"{path}: cannot read the program ({err})") from None
    if not isinstance(program, str):
        raise TypeError("compile() takes program text or a path to a .pb file")
    return Source("<input>", program)


def compile_ir(program, params: dict | None = None, *, limits: Limits | None = None,
               reduce_kbody: bool = False, kbody_penalty: float | None = None, timings: dict | None = None) -> IR:
    """Source text or path → IR.  `timings` (if given) receives seconds per stage."""
    timings = {} if timings is None else timings
    t0 = time.perf_counter()
    source = read_source(program)
    module = parse(source.text, source.name)
    t1 = time.perf_counter()
    checked = check(module, source, params, limits)
    t2 = time.perf_counter()
    ir = lower(checked, LowerOptions(reduce_kbody, kbody_penalty))
    t3 = time.perf_counter()
    timings.update({"parse": t1 - t0, "check": t2 - t1, "lower": t3 - t2, "total": t3 - t0})
    return ir


def parse_define(text: str):
    """-D NAME=VALUE: a scalar (int, real, bool) or @file.npy."""
    if "=" not in text:
        raise PbitError(f"-D expects NAME=VALUE, got '{text}'")
    name, value = text.split("=", 1)
    name, value = name.strip(), value.strip()
    if not name.isidentifier():
        raise PbitError(f"-D: '{name}' is not a parameter name")
    if value.startswith("@"):
        path = Path(value[1:])
        try:
            return name, np.load(path, allow_pickle=False)
        except (OSError, ValueError) as err:
            raise DataError(f"-D {name}: cannot load '{path}': {err}") from None
    low = value.lower()
    if low in ("true", "false"):
        return name, low == "true"
    try:
        return name, int(value)
    except ValueError:
        pass
    try:
        v = float(value)
    except ValueError:
        raise PbitError(f"-D {name}: '{value}' is not a number, true/false, or @file.npy") from None
    return name, v
