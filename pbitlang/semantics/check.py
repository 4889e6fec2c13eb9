"""Names, types, shapes and parameter binding.

Declarations are processed in order (a parameter may use earlier ones);
statements that use them (energy, constraint, given, observe, chain) are
checked against every declaration.  All name, type and shape errors come from
here, each with the span at fault (and the other place where two conflict)."""
from __future__ import annotations

import math
import warnings
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from ..errors import CompileError, DataError, LimitError, PbitWarning, Source, Span
from ..limits import BYTES_PER_SPIN, BYTES_PER_TERM, Limits, available_memory
from ..grammar import ast
from .evaluate import KNOWN_FUNCS, TABLE_FUNCS, Env, as_index, describe, evaluate


def check_memory(c, span) -> None:
    """Refuse a compile whose estimated memory (spins and index points so far) exceeds the budget."""
    budget = c.limits.max_memory if c.limits.max_memory is not None else available_memory()
    need = BYTES_PER_SPIN * c.num_spins + BYTES_PER_TERM * c.planned_terms
    if budget is not None and need > budget:
        raise LimitError(f"compiling this program needs about {need / 2**30:.1f} GiB ({c.num_spins:,} spins, "
                         f"{c.planned_terms:,} index points), more than the {budget / 2**30:.1f} GiB "
                         f"{'allowed' if c.limits.max_memory is not None else 'of memory available'} "
                         f"(set max_memory / --max-memory, or make the program smaller)", span)


@dataclass
class VarInfo:
    name: str
    kind: str          # spin | bit
    shape: tuple
    periodic: bool
    start: int
    span: Span

    @property
    def size(self) -> int:
        return math.prod(self.shape)


@dataclass
class WeightInfo:
    name: str
    shape: tuple
    start: int
    span: Span
    init: np.ndarray

    @property
    def size(self) -> int:
        return math.prod(self.shape)


@dataclass
class Checked:
    """A module whose names resolve, with parameters bound to values."""
    source: Source
    module: ast.Module
    consts: dict                       # params and lets -> value
    variables: dict                    # name -> VarInfo, in declaration order
    weights: dict                      # name -> WeightInfo
    beta: float | None
    energy: list                       # ast.Term
    constraints: list                  # ast.Constraint
    givens: list
    observes: list
    chains: list
    limits: Limits
    declared: dict = field(default_factory=dict)   # name -> span of its declaration
    planned_terms: int = 0                          # index points of the statements expanded so far

    @property
    def num_spins(self) -> int:
        return sum(v.size for v in self.variables.values())

    @property
    def num_weights(self) -> int:
        return sum(w.size for w in self.weights.values())

    def env(self) -> Env:
        return Env(self.consts, {}, self.limits.max_terms)


SETTINGS = {"beta"}


def check(module: ast.Module, source: Source, params: dict | None = None, limits: Limits | None = None) -> Checked:
    limits = limits or Limits()
    params = dict(params or {})
    c = Checked(source, module, {}, {}, {}, None, [], [], [], [], [], limits)
    declared_params = [s.name for s in module.statements if isinstance(s, ast.ParamDecl)]
    for name in params:
        if name not in declared_params:
            known = ", ".join(declared_params) or "none"
            first = next((s.span for s in module.statements if isinstance(s, ast.ParamDecl)), Span(source, 1, 1))
            raise CompileError(f"-D/params sets '{name}', which is not a declared param (declared: {known})",
                               first)
    others = {"observe": {}, "constraint": {}, "chain": {}}
    for st in module.statements:
        if isinstance(st, ast.ParamDecl):
            _declare(c, st.name, st.span)
            c.consts[st.name] = _bind_param(c, st, params)
        elif isinstance(st, ast.LetDecl):
            _declare(c, st.name, st.span)
            value = evaluate(_checked_const(c, st.value), c.env())
            c.consts[st.name] = value
        elif isinstance(st, ast.VarDecl):
            _declare(c, st.name, st.span)
            shape = _dims(c, st.dims, st)
            c.variables[st.name] = VarInfo(st.name, st.kind, shape, st.periodic, c.num_spins, st.span)
            if c.num_spins > limits.max_spins:
                raise LimitError(f"the program declares {c.num_spins:,} spins, over the limit of "
                                 f"{limits.max_spins:,} (raise it with max_spins / --max-spins)", st.span)
            check_memory(c, st.span)
        elif isinstance(st, ast.WeightDecl):
            _declare(c, st.name, st.span)
            shape = _dims(c, st.dims, st)
            init = np.zeros(shape)
            if st.init is not None:
                init = _table_or_value(c, st.init, shape, "real", st)
                if not np.all(np.isfinite(np.asarray(init, dtype=np.float64))):
                    raise CompileError(f"weight '{st.name}' starts at a value that is not finite (inf or nan)",
                                       st.span)
            c.weights[st.name] = WeightInfo(st.name, shape, c.num_weights, st.span, np.asarray(init, dtype=np.float64))
        elif isinstance(st, ast.Energy):
            c.energy.extend(st.terms)
        elif isinstance(st, ast.Constraint):
            _declare_in(others["constraint"], st.name, st.span, "constraint")
            c.constraints.append(st)
        elif isinstance(st, ast.Setting):
            if st.name not in SETTINGS:
                raise CompileError(f"unknown setting '{st.name}' (settings: {', '.join(sorted(SETTINGS))}); "
                                   "declare values with 'param' or 'let'", st.span)
            if c.beta is not None:
                raise CompileError("beta is set twice", st.span)
            beta = evaluate(_checked_const(c, st.value), c.env())
            if np.ndim(beta) or not np.isfinite(beta) or beta < 0:
                raise CompileError(f"beta must be a finite number ≥ 0, got {beta}", st.value.span)
            c.beta = float(beta)
        elif isinstance(st, ast.Given):
            c.givens.append(st)
        elif isinstance(st, ast.Observe):
            _declare_in(others["observe"], st.name, st.span, "observable")
            c.observes.append(st)
        elif isinstance(st, ast.Chain):
            _declare_in(others["chain"], st.name, st.span, "chain")
            c.chains.append(st)
    for term in c.energy:
        _check_scoped(c, term.expr, _quant_scope(c, term.quant), allow_vars=True)
    for con in c.constraints:
        scope = _quant_scope(c, con.quant)
        for part in (con.lhs, con.rhs):
            _check_scoped(c, part, scope, allow_vars=True)
        _check_scoped(c, con.penalty, scope, allow_vars=False)
    for g in c.givens:
        scope = _quant_scope(c, g.quant)
        if g.name not in c.variables:
            raise _unknown(c, g.name, g.span, "variable")
        _check_ref(c, ast.Index(g.span, g.name, g.args) if g.args else ast.Name(g.span, g.name), scope)
        _check_scoped(c, g.value, scope, allow_vars=False)
    for ob in c.observes:
        scope = _quant_scope(c, ob.quant)
        bound = [b.name for b in ob.quant.binders] if ob.quant else []
        if list(ob.index_names) != bound:
            raise CompileError(f"observable '{ob.name}[{', '.join(ob.index_names)}]' must be quantified over "
                               f"exactly its indices, in order (found: {', '.join(bound) or 'none'})", ob.span)
        expr = ob.expr
        if isinstance(expr, ast.Call) and expr.func == "abs" and len(expr.args) == 1 and not expr.kwargs:
            expr = expr.args[0]                  # |polynomial|: the one function an observable may apply
        _check_scoped(c, expr, scope, allow_vars=True)
    for ch in c.chains:
        for name in ch.over:
            if name not in c.variables:
                raise _unknown(c, name, ch.span, "variable")
    if not c.variables:
        warnings.warn(PbitWarning.at("the program declares no variables: there is nothing to sample",
                                     Span(source, 1, 1)), stacklevel=2)
    return c


def _not_keyword(name: str, span: Span):
    if name in ast.KEYWORDS or name == "_":
        raise CompileError(f"'{name}' is a keyword of the language and cannot be used as a name", span)


def _declare(c: Checked, name: str, span: Span):
    _not_keyword(name, span)
    if name in c.declared:
        raise CompileError(f"'{name}' is declared twice", span).with_note(
            f"'{name}' was first declared here", c.declared[name])
    c.declared[name] = span


def _declare_in(table: dict, name: str, span: Span, what: str):
    _not_keyword(name, span)
    if name in table:
        raise CompileError(f"{what} '{name}' is declared twice", span).with_note("first declared here", table[name])
    table[name] = span


def _unknown(c: Checked, name: str, span: Span, what: str = "name") -> CompileError:
    import difflib
    pool = list(c.declared)
    close = difflib.get_close_matches(name, pool, n=1)
    hint = f"; did you mean '{close[0]}'?" if close else ""
    return CompileError(f"unknown {what} '{name}'{hint}", span)


def _dims(c: Checked, dims, st) -> tuple:
    shape = []
    for d in dims:
        v = as_index(evaluate(_checked_const(c, d), c.env()), d)
        if np.ndim(v) or v < 0:
            raise CompileError(f"a dimension must be a non-negative integer, got {v}", d.span)
        shape.append(int(v))
    if math.prod(shape) > max(c.limits.max_spins, c.limits.max_param_elements):
        raise LimitError(f"'{st.name}' would have {math.prod(shape):,} elements, over the size limits", st.span)
    return tuple(shape)


def _checked_const(c: Checked, expr):
    """Check that an expression uses only constants (no variables, weights or free indices)."""
    _check_scoped(c, expr, {}, allow_vars=False)
    return expr


TYPE_OF = {"int": np.int64, "real": np.float64, "bool": np.bool_}


def _coerce(value, base: str, what: str, span):
    arr = np.asarray(value)
    if arr.dtype == object or not (np.issubdtype(arr.dtype, np.number) or arr.dtype == bool):
        raise CompileError(f"{what} must be numeric, got {arr.dtype}", span)
    if base == "int":
        if not np.issubdtype(arr.dtype, np.integer) and arr.dtype != bool:
            if not (np.all(np.isfinite(arr)) and np.all(arr == np.round(arr))):
                raise CompileError(f"{what} is declared int but has non-integer values", span)
        return arr.astype(np.int64)
    if base == "bool":
        if not np.all((arr == 0) | (arr == 1)):
            raise CompileError(f"{what} is declared bool but has values other than true/false", span)
        return arr.astype(bool)
    if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
        raise CompileError(f"{what} has non-finite values (inf or nan)", span)
    return arr.astype(np.float64)


def _bind_param(c: Checked, st: ast.ParamDecl, params: dict):
    t = st.type
    base = t.base if t else None
    if st.name in params:
        value = params[st.name]
        if isinstance(value, (list, tuple)):
            value = np.asarray(value)
        value = np.asarray(value)
        if t is None:
            base = "bool" if value.dtype == bool else "int" if np.issubdtype(value.dtype, np.integer) else "real"
        value = _coerce(value, base, f"the value given for param '{st.name}'", st.span)
        if t is not None and t.dims is not None:
            _match_shape(c, value, t.dims, st, "the value given")
        elif value.ndim:
            raise CompileError(f"param '{st.name}' is a scalar but was given an array of shape {value.shape}", st.span)
        return value[()] if value.ndim == 0 else value
    if st.default is None:
        raise CompileError(f"param '{st.name}' has no default and was not given (use -D {st.name}=... or params=)", st.span)
    if t is not None and t.dims is not None:
        free = any(d is None for d in t.dims)
        if isinstance(st.default, ast.Call) and st.default.func == "load":
            value = _load(c, st.default)
            value = _coerce(value, base, f"the data loaded for param '{st.name}'", st.default.span)
            _match_shape(c, value, t.dims, st, "the loaded data")
            return value
        if free:
            raise CompileError(f"param '{st.name}' has a '_' dimension, which only load(...) can fill", st.span)
        shape = _dims(c, t.dims, st)
        if math.prod(shape) > c.limits.max_param_elements:
            raise LimitError(f"param '{st.name}' would have {math.prod(shape):,} elements, over the limit of "
                             f"{c.limits.max_param_elements:,}", st.span)
        value = _table_or_value(c, st.default, shape, base, st)
        return _coerce(value, base, f"param '{st.name}'", st.default.span)
    if isinstance(st.default, ast.Call) and st.default.func in TABLE_FUNCS:
        if st.default.func == "load":
            value = _load(c, st.default)
            return _coerce(value, base or ("int" if np.issubdtype(value.dtype, np.integer) else "real"),
                           f"the data loaded for param '{st.name}'", st.default.span)
        raise CompileError(f"{st.default.func}(...) makes a table: declare the param's type and dimensions, "
                           f"e.g. 'param {st.name}: real[N, N] = {st.default.func}(...)'", st.default.span)
    value = evaluate(_checked_const(c, st.default), c.env())
    if base is None:
        arr = np.asarray(value)
        base = "bool" if arr.dtype == bool else "int" if np.issubdtype(arr.dtype, np.integer) else "real"
    value = _coerce(value, base, f"param '{st.name}'", st.default.span)
    return value[()] if value.ndim == 0 else value


def _match_shape(c: Checked, value, dims, st, what):
    if value.ndim != len(dims):
        raise CompileError(f"param '{st.name}' is declared with {len(dims)} dimension(s) but {what} has "
                           f"shape {value.shape}", st.span)
    for axis, d in enumerate(dims):
        if d is None:
            continue
        want = int(as_index(evaluate(_checked_const(c, d), c.env()), d))
        if value.shape[axis] != want:
            raise CompileError(f"param '{st.name}' is declared with dimension {axis} = {want} but {what} has "
                               f"shape {value.shape}", d.span)


def _kwargs(call: ast.Call, allowed: set, c: Checked) -> dict:
    out = {}
    for key, expr in call.kwargs:
        if key not in allowed:
            raise CompileError(f"{call.func}() takes no argument '{key}' (accepted: {', '.join(sorted(allowed))})",
                               expr.span)
        out[key] = evaluate(_checked_const(c, expr), c.env())
    return out


def _table_or_value(c: Checked, expr, shape, base, st):
    """The default of an array param: a seeded random table, a list, or a scalar broadcast."""
    if isinstance(expr, ast.Call) and expr.func in ("normal", "uniform", "rademacher", "choice"):
        kw = _kwargs(expr, {"seed", "p"} if expr.func == "choice" else {"seed"}, c)
        seed = int(kw.get("seed", 0))
        rng = np.random.default_rng(seed)
        args = [evaluate(_checked_const(c, a), c.env()) for a in expr.args]
        want = {"normal": 2, "uniform": 2, "rademacher": 0, "choice": 1}[expr.func]
        if expr.func in ("normal", "uniform") and len(args) == 0:
            args = [0.0, 1.0]
        if len(args) != want:
            raise CompileError(f"{expr.func}() takes {want} positional argument(s)", expr.span)
        if expr.func == "normal":
            if args[1] < 0:
                raise CompileError("normal(mean, std): std must be ≥ 0", expr.args[1].span)
            value = rng.normal(float(args[0]), float(args[1]), size=shape)
        elif expr.func == "uniform":
            value = rng.uniform(float(args[0]), float(args[1]), size=shape)
        elif expr.func == "rademacher":
            value = rng.choice(np.array([-1, 1]), size=shape)
        else:
            choices = np.asarray(args[0])
            if choices.ndim != 1 or choices.size == 0:
                raise CompileError("choice([values...]) takes a non-empty list", expr.span)
            p = kw.get("p")
            if p is not None:
                p = np.asarray(p, dtype=float)
                if p.shape != choices.shape or np.any(p < 0) or not np.isclose(p.sum(), 1):
                    raise CompileError("choice(..., p=[...]): p must be probabilities, one per value, summing to 1",
                                       expr.span)
            value = rng.choice(choices, size=shape, p=p)
        if base == "int" and expr.func in ("normal", "uniform"):
            raise CompileError(f"{expr.func}() gives real numbers but the param is declared int", expr.span)
        return value
    if isinstance(expr, ast.Call) and expr.func == "load":
        raise CompileError("load(...) is the whole default of a param", expr.span)
    value = np.asarray(evaluate(_checked_const(c, expr), c.env()))
    if value.ndim == 0:
        return np.full(shape, value)
    if value.shape != tuple(shape):
        raise CompileError(f"the default has shape {value.shape} but the declaration says {tuple(shape)}", expr.span)
    return value


def _load(c: Checked, call: ast.Call):
    if len(call.args) != 1 or not isinstance(call.args[0], ast.Str):
        raise CompileError('load() takes one file name in quotes, e.g. load("edges.txt")', call.span)
    fmt = None
    for key, expr in call.kwargs:
        if key != "format" or not isinstance(expr, (ast.Name, ast.Str)) or fmt is not None:
            raise CompileError('load() takes one option, format = gset, e.g. load("G1.gset", format = gset)',
                               expr.span)
        fmt = expr.id if isinstance(expr, ast.Name) else expr.value
        if fmt != "gset":
            raise CompileError(f"load() reads format = gset (a max-cut graph); '{fmt}' is not a format it "
                               f"knows", expr.span)
    name = call.args[0].value
    base = Path(c.source.name).parent if c.source.name and not c.source.name.startswith("<") else Path.cwd()
    path = (base / name) if not Path(name).is_absolute() else Path(name)
    span = call.args[0].span
    try:
        exists = path.is_file()
    except (OSError, ValueError) as err:                  # a name too long, a NUL byte
        raise DataError(f"'{name[:80]}' is not a usable file name ({type(err).__name__})", span) from None
    if not exists:
        raise DataError(f"data file '{path}' does not exist", span)
    suffix = path.suffix.lower()
    try:
        if path.stat().st_size > 8 * c.limits.max_param_elements:
            raise LimitError(f"data file '{path}' is larger than the limit on parameter data", span)
        if fmt == "gset":
            value = _gset_table(path)
        elif suffix == ".npy":
            value = _one_array(path, span)
        elif suffix in (".txt", ".csv", ".dat", ".tsv"):
            delimiter = "," if suffix == ".csv" else None
            value = np.loadtxt(path, delimiter=delimiter, comments="#", ndmin=1)
            if value.size and np.all(value == np.round(value)):
                value = value.astype(np.int64)
        else:
            raise DataError(f"cannot load '{path.name}': use .npy, .txt or .csv", span)
    except (ValueError, OSError, EOFError, UnicodeDecodeError) as err:
        raise DataError(f"cannot read data file '{path}': {err}", span) from None
    if value.dtype == object or not (np.issubdtype(value.dtype, np.number) or value.dtype == bool):
        raise DataError(f"data file '{path}' does not hold numbers (dtype {value.dtype})", span)
    return value


# ---- scope checks ------------------------------------------------------------
def _quant_scope(c: Checked, quant) -> dict:
    scope: dict = {}
    if quant is None:
        return scope
    for b in quant.binders:
        _check_binder(c, b, scope)
        scope[b.name] = b.span
    if quant.where is not None:
        _check_scoped(c, quant.where, scope, allow_vars=False)
    return scope


MAX_INDICES = 24     # indices in scope at once: each is an axis of the arrays the expansion builds


def _gset_table(path) -> np.ndarray:
    """A Gset file as an edge table (m, 3): u, v (0-based nodes) and the weight, whole numbers when
    every weight is one."""
    from ..models import gset_edges, read_text
    n, rows, cols, weights = gset_edges(read_text(path))
    table = np.column_stack([rows, cols, weights]) if len(weights) else np.zeros((0, 3))
    return table.astype(np.int64) if np.all(weights == np.round(weights)) else table


def _one_array(path, span):
    from ..files import read_arrays
    try:
        arrays = read_arrays(path, DataError, ".npy")
    except DataError as err:
        raise DataError(err.message, span) from None
    if list(arrays) != [""]:
        raise DataError(f"'{path}' is not a single .npy array", span)
    return arrays[""]


def _check_binder(c: Checked, b: ast.Binder, scope: dict):
    if len(scope) >= MAX_INDICES:
        raise LimitError(f"more than {MAX_INDICES} indices in scope at once here: each one is an axis of "
                         f"the index arrays, and arrays have at most 64", b.span)
    if b.name in c.declared:
        raise CompileError(f"index '{b.name}' has the name of a declaration", b.span).with_note(
            f"'{b.name}' is declared here", c.declared[b.name])
    if b.name in scope:
        raise CompileError(f"index '{b.name}' is bound twice", b.span).with_note("first bound here", scope[b.name])
    _check_scoped(c, b.lo, scope, allow_vars=False)
    _check_scoped(c, b.hi, scope, allow_vars=False)


def _check_ref(c: Checked, node, scope: dict):
    """A reference to a variable, weight or param array: rank and index names."""
    name = node.id if isinstance(node, ast.Name) else node.name
    args = () if isinstance(node, ast.Name) else node.args
    if name in c.variables:
        rank = len(c.variables[name].shape)
    elif name in c.weights:
        rank = len(c.weights[name].shape)
    elif name in c.consts:
        rank = np.ndim(c.consts[name])
    else:                                 # declared but not yet defined: a param used in its own value
        raise CompileError(f"'{name}' is used before it has a value", node.span).with_note(
            f"'{name}' is declared here", c.declared.get(name))
    if len(args) != rank:
        what = "variable" if name in c.variables else "weight" if name in c.weights else "param"
        raise CompileError(f"{what} '{name}' has {rank} dimension(s) but is used with {len(args)} index(es)",
                           node.span).with_note(f"'{name}' is declared here", c.declared.get(name))
    for a in args:
        _check_scoped(c, a, scope, allow_vars=False, in_index=True)


def _check_scoped(c: Checked, node, scope: dict, allow_vars: bool, in_index: bool = False):
    if isinstance(node, (ast.Num, ast.Bool)):
        return
    if isinstance(node, ast.Str):
        raise CompileError("a string is only allowed as the argument of load(...)", node.span)
    if isinstance(node, (ast.Name, ast.Index)):
        name = node.id if isinstance(node, ast.Name) else node.name
        if isinstance(node, ast.Name) and name in scope:
            return
        if name in scope:
            raise CompileError(f"'{name}' is an index and cannot be indexed", node.span)
        if name not in c.declared:
            raise _unknown(c, name, node.span)
        if name in c.variables or name in c.weights:
            kind = "variable" if name in c.variables else "weight"
            if not allow_vars or in_index:
                where = "an index" if in_index else "this place"
                raise CompileError(f"{kind} '{name}' cannot be used in {where}: only constants and indices can",
                                   node.span)
        _check_ref(c, node, scope)
        return
    if isinstance(node, ast.Call):
        if node.func not in KNOWN_FUNCS:
            import difflib
            close = difflib.get_close_matches(node.func, sorted(KNOWN_FUNCS), n=1)
            hint = f"; did you mean '{close[0]}'?" if close else ""
            raise CompileError(f"unknown function '{node.func}'{hint}", node.span)
        if node.func in TABLE_FUNCS:
            raise CompileError(f"{node.func}(...) is only allowed as the default of a 'param' declaration", node.span)
        for a in node.args:
            for sub in ast.walk(a):
                name = sub.id if isinstance(sub, ast.Name) else sub.name if isinstance(sub, ast.Index) else None
                if name is not None and name not in scope and (name in c.variables or name in c.weights):
                    raise CompileError(f"{node.func}() of a variable is not a polynomial; functions apply to "
                                       "constants only", node.span)
        if node.func in ("len", "shape"):
            if not node.args or not isinstance(node.args[0], ast.Name) or node.args[0].id not in c.consts:
                raise CompileError(f"{node.func}() takes a parameter array", node.span)
            for a in node.args[1:]:
                _check_scoped(c, a, scope, False, in_index)
            return
        for a in node.args:
            _check_scoped(c, a, scope, allow_vars=False, in_index=in_index)
        return
    if isinstance(node, ast.Sum):
        inner = dict(scope)
        for b in node.binders:
            _check_binder(c, b, inner)
            inner[b.name] = b.span
        if node.where is not None:
            _check_scoped(c, node.where, inner, allow_vars=False, in_index=in_index)
        _check_scoped(c, node.body, inner, allow_vars, in_index)
        return
    if isinstance(node, (ast.Compare, ast.BoolOp)):
        _check_scoped(c, node.left, scope, allow_vars, in_index)
        _check_scoped(c, node.right, scope, allow_vars, in_index)
        return
    if isinstance(node, ast.BinOp):
        _check_scoped(c, node.left, scope, allow_vars, in_index)
        _check_scoped(c, node.right, scope, allow_vars and node.op != "%", in_index)
        return
    if isinstance(node, ast.Pow):
        _check_scoped(c, node.base, scope, allow_vars, in_index)
        _check_scoped(c, node.exponent, scope, False, in_index)
        return
    if isinstance(node, (ast.Neg, ast.Not)):
        _check_scoped(c, node.operand, scope, allow_vars, in_index)
        return
    if isinstance(node, ast.ListLit):
        if allow_vars or in_index:
            raise CompileError("a list is not a number: lists give the values of a param or weight, they "
                               "cannot appear in an expression of variables", node.span)
        for a in node.items:
            _check_scoped(c, a, scope, False, in_index)
        return
    raise CompileError(f"'{describe(node)}' is not allowed here", node.span)
