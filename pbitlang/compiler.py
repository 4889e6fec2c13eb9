"""compile(): the pipeline, one numbered step per stage.

    1 parse   text → ast.Module             (syntax errors)
    2 check   names, types, shapes, params  (semantic errors)
    3 lower   expand templates over index grids (sympy once per statement,
              numpy per grid) and assemble the IR, colouring included
"""
from __future__ import annotations

import time
from pathlib import Path

from .errors import DataError, Source
from .files import is_file
from .grammar import parse
from .ir import IR
from .limits import Limits
from .semantics.check import check
from .semantics.lower import LowerOptions, lower


def read_source(program) -> Source:
    """A path (str ending in .pb, or Path) or program text → Source."""
    if isinstance(program, Path) or (isinstance(program, str) and "\n" not in program and ";" not in program
                                     and program.strip().endswith(".pb")):
        path = Path(program)
        if not is_file(path):
            raise DataError(f"{path}: no such program file")
        try:
            return Source(str(path), path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError) as err:
            raise DataError(f"{path}: cannot read the program ({err})") from None
    if not isinstance(program, str):
        raise TypeError("compile() takes program text or a path to a .pb file")
    return Source("<input>", program)


def compile_ir(program, params: dict | None = None, *, limits: Limits | None = None,
               reduce_kbody: bool = False, kbody_penalty: float | None = None, timings: dict | None = None,
               progress=None) -> IR:
    """Source text or path → IR.  `timings` (if given) receives seconds per stage; `progress(done,
    total, span)` is called before each statement is expanded."""
    timings = {} if timings is None else timings
    t0 = time.perf_counter()
    source = read_source(program)
    module = parse(source.text, source.name)
    t1 = time.perf_counter()
    checked = check(module, source, params, limits)
    t2 = time.perf_counter()
    ir = lower(checked, LowerOptions(reduce_kbody, kbody_penalty, progress))
    t3 = time.perf_counter()
    timings.update({"parse": t1 - t0, "check": t2 - t1, "lower": t3 - t2, "total": t3 - t0})
    return ir
