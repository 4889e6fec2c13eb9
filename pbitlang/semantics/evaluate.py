"""Evaluate constant expressions with numpy, vectorised over index grids.

Index variables are integer arrays that broadcast against each other (one
axis per quantifier), so one call evaluates a coefficient or an index
expression for a whole grid.  Used by `check` (parameters, ranges) and by
`expand` (coefficients, indirect indices, guards)."""
from __future__ import annotations

import math

import numpy as np

from ..errors import CompileError, LimitError
from ..grammar import ast

MATH = {
    "exp": np.exp, "log": np.log, "sqrt": np.sqrt, "abs": np.abs, "sin": np.sin,
    "cos": np.cos, "tanh": np.tanh, "floor": np.floor, "ceil": np.ceil,
}
REDUCERS = {"min": np.minimum, "max": np.maximum}
SHAPE_FUNCS = {"len", "shape"}
TABLE_FUNCS = {"normal", "uniform", "rademacher", "choice", "load"}
KNOWN_FUNCS = set(MATH) | set(REDUCERS) | SHAPE_FUNCS | TABLE_FUNCS


class Env:
    """Names visible to an expression: constants, and index variables (arrays)."""

    def __init__(self, consts: dict, index: dict | None = None, max_elements: int = 10**8):
        self.consts = consts
        self.index = index or {}
        self.max_elements = max_elements

    def with_index(self, extra: dict) -> "Env":
        merged = dict(self.index)
        merged.update(extra)
        return Env(self.consts, merged, self.max_elements)


def describe(node) -> str:
    """Short source-like text of an expression for messages."""
    return unparse(node)


def unparse(node, rename=None) -> str:
    rename = rename or {}
    if isinstance(node, ast.Num):
        return repr(node.value)
    if isinstance(node, ast.Bool):
        return "true" if node.value else "false"
    if isinstance(node, ast.Str):
        return f'"{node.value}"'
    if isinstance(node, ast.Name):
        return rename.get(node.id, node.id)
    if isinstance(node, ast.Index):
        return f"{node.name}[{', '.join(_bare(unparse(a, rename)) for a in node.args)}]"
    if isinstance(node, ast.Call):
        parts = [unparse(a, rename) for a in node.args] + [f"{k}={unparse(v, rename)}" for k, v in node.kwargs]
        return f"{node.func}({', '.join(parts)})"
    if isinstance(node, ast.ListLit):
        return f"[{', '.join(unparse(a, rename) for a in node.items)}]"
    if isinstance(node, ast.BinOp):
        return f"({unparse(node.left, rename)} {node.op} {unparse(node.right, rename)})"
    if isinstance(node, ast.Neg):
        return f"-{unparse(node.operand, rename)}"
    if isinstance(node, ast.Pow):
        return f"{unparse(node.base, rename)}^{unparse(node.exponent, rename)}"
    if isinstance(node, ast.Sum):
        inner = dict(rename)
        bs = ", ".join(f"{b.name} in {unparse(b.lo, rename)}..{unparse(b.hi, rename)}" for b in node.binders)
        where = f" where {unparse(node.where, inner)}" if node.where is not None else ""
        return f"sum({bs}{where}) {unparse(node.body, inner)}"
    if isinstance(node, ast.Compare):
        return f"({unparse(node.left, rename)} {node.op} {unparse(node.right, rename)})"
    if isinstance(node, ast.BoolOp):
        return f"({unparse(node.left, rename)} {node.op} {unparse(node.right, rename)})"
    if isinstance(node, ast.Not):
        return f"not {unparse(node.operand, rename)}"
    return type(node).__name__


def _bare(text: str) -> str:
    """Drop one pair of parentheses around a whole expression."""
    if text.startswith("(") and text.endswith(")"):
        depth = 0
        for k, ch in enumerate(text):
            depth += ch == "("
            depth -= ch == ")"
            if depth == 0 and k < len(text) - 1:
                return text
        return text[1:-1]
    return text


def _is_int(value) -> bool:
    return np.issubdtype(np.asarray(value).dtype, np.integer) or np.asarray(value).dtype == bool


def _check_size(shape, env: Env, node):
    size = math.prod(int(d) for d in shape)
    if size > env.max_elements:
        raise LimitError(
            f"evaluating '{describe(node)}' needs {size:,} elements, over the limit of {env.max_elements:,}"
            " (raise it with max_terms)", node.span)


MAX_INDEX = 2**53          # indices and range bounds: exact as floats, far from int64 overflow


def as_index(value, node) -> np.ndarray:
    """An integer index array (or scalar) from an evaluated value, within ±MAX_INDEX."""
    arr = np.asarray(value)
    if arr.dtype == bool:
        return arr.astype(np.int64)
    integral = np.issubdtype(arr.dtype, np.integer) or (
        np.issubdtype(arr.dtype, np.floating) and np.all(np.isfinite(arr)) and np.all(arr == np.round(arr)))
    if not integral:
        raise CompileError(f"an index must be an integer, but '{describe(node)}' is not", node.span)
    if arr.size and np.max(np.abs(arr.astype(np.float64))) > MAX_INDEX:
        raise CompileError(f"'{describe(node)}' is too large for an index or a range bound (at most 2^53)", node.span)
    return arr.astype(np.int64, copy=False)


def evaluate(node, env: Env):
    """Value of a constant expression (numpy scalar or array)."""
    method = _EVAL.get(type(node))
    if method is None:
        raise CompileError(f"'{describe(node)}' cannot be evaluated here", node.span)
    return method(node, env)


def _num(node, env):
    return np.int64(node.value) if isinstance(node.value, int) and abs(node.value) < 2**62 else np.float64(node.value)


def _bool(node, env):
    return np.bool_(node.value)


def _str(node, env):
    raise CompileError("a string is only allowed as the argument of load(...)", node.span)


def _name(node, env):
    if node.id in env.index:
        return env.index[node.id]
    if node.id in env.consts:
        return env.consts[node.id]
    raise CompileError(f"unknown name '{node.id}'", node.span)


def _index(node, env):
    if node.name not in env.consts:
        if node.name in env.index:
            raise CompileError(f"'{node.name}' is an index and cannot be indexed", node.span)
        raise CompileError(f"unknown name '{node.name}'", node.span)
    table = np.asarray(env.consts[node.name])
    if table.ndim != len(node.args):
        raise CompileError(
            f"'{node.name}' has {table.ndim} dimension(s) but is indexed with {len(node.args)}", node.span)
    idx = []
    for axis, arg in enumerate(node.args):
        i = as_index(evaluate(arg, env), arg)
        bad = (i < 0) | (i >= table.shape[axis])
        if np.any(bad):
            value = int(np.asarray(i)[bad].flat[0]) if np.ndim(i) else int(i)
            raise CompileError(
                f"index {value} is out of range for dimension {axis} of '{node.name}' (size {table.shape[axis]})",
                arg.span)
        idx.append(i)
    return table[tuple(idx)]


def _finite(value, node, what):
    arr = np.asarray(value)
    if np.issubdtype(arr.dtype, np.floating) and not np.all(np.isfinite(arr)):
        raise CompileError(f"{what} '{describe(node)}' is not finite (inf or nan)", node.span)
    return value


def _call(node, env):
    f = node.func
    if f in MATH:
        if len(node.args) != 1 or node.kwargs:
            raise CompileError(f"{f}() takes one argument", node.span)
        x = evaluate(node.args[0], env)
        with np.errstate(all="ignore"):
            out = MATH[f](np.asarray(x, dtype=np.float64) if f not in ("abs",) else x)
        if f in ("floor", "ceil"):
            out = np.asarray(out).astype(np.int64) if np.all(np.isfinite(out)) else out
        return _finite(out, node, "the value of")
    if f in REDUCERS:
        if len(node.args) < 2 or node.kwargs:
            raise CompileError(f"{f}() takes two or more arguments", node.span)
        vals = [evaluate(a, env) for a in node.args]
        out = vals[0]
        for v in vals[1:]:
            out = REDUCERS[f](out, v)
        return out
    if f in ("len", "shape"):
        want = 1 if f == "len" else 2
        if len(node.args) != want or node.kwargs or not isinstance(node.args[0], ast.Name):
            raise CompileError(f"{f}() takes a parameter array" + (" and a dimension" if f == "shape" else ""), node.span)
        arr = np.asarray(_name(node.args[0], env))
        if arr.ndim == 0:
            raise CompileError(f"'{node.args[0].id}' is a scalar and has no length", node.span)
        dim = 0 if f == "len" else int(as_index(evaluate(node.args[1], env), node.args[1]))
        if not 0 <= dim < arr.ndim:
            raise CompileError(f"'{node.args[0].id}' has {arr.ndim} dimension(s); there is no dimension {dim}", node.span)
        return np.int64(arr.shape[dim])
    if f in TABLE_FUNCS:
        raise CompileError(f"{f}(...) is only allowed as the default of a 'param' declaration", node.span)
    raise CompileError(f"unknown function '{f}' (known: {', '.join(sorted(KNOWN_FUNCS))})", node.span)


def _list(node, env):
    vals = [np.asarray(evaluate(a, env)) for a in node.items]
    if len({v.shape for v in vals}) > 1:
        raise CompileError("a nested list must be rectangular (all rows the same length)", node.span)
    if vals and vals[0].dtype == bool:
        vals = [v.astype(np.int64) for v in vals]
    return np.array(vals)


def _binop(node, env):
    a, b = evaluate(node.left, env), evaluate(node.right, env)
    op = node.op
    if op in ("/", "%") and np.any(np.asarray(b) == 0):
        raise CompileError(f"division by zero in '{describe(node)}'", node.span)
    with np.errstate(all="ignore"):
        if op == "+":
            out = np.add(a, b)
        elif op == "-":
            out = np.subtract(a, b)
        elif op == "*":
            out = np.multiply(a, b)
        elif op == "/":
            out = np.true_divide(a, b)
        else:
            out = np.mod(a, b)
    if _is_int(a) and _is_int(b) and op in "+-*":
        if np.any(np.abs(np.asarray(a, dtype=np.float64)) > 2**62) or np.any(np.abs(np.asarray(b, dtype=np.float64)) > 2**62):
            out = getattr(np, {"+": "add", "-": "subtract", "*": "multiply"}[op])(np.asarray(a, float), np.asarray(b, float))
    return _finite(out, node, "the value of")


def _neg(node, env):
    value = np.asarray(evaluate(node.operand, env))
    return np.negative(value.astype(np.int64) if value.dtype == bool else value)     # -true is -1


def _pow(node, env):
    a, b = evaluate(node.base, env), evaluate(node.exponent, env)
    with np.errstate(all="ignore"):
        if _is_int(a) and _is_int(b) and np.all(np.asarray(b) >= 0):
            bits = np.log2(np.maximum(np.abs(np.asarray(a, dtype=np.float64)), 1.0)) * np.asarray(b, dtype=np.float64)
            if np.all(bits < 62):
                return np.power(a, b)
        if np.any((np.asarray(a) == 0) & (np.asarray(b) < 0)):
            raise CompileError(f"division by zero in '{describe(node)}'", node.span)
        out = np.power(np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64))
    return _finite(out, node, "the value of")


def binder_ranges(binders, env: Env, base_ndim: int = 0):
    """Lay out `for`/`sum` binders as new axes after the first base_ndim axes.

    Returns (index env additions, mask or None, sizes).  A bound may depend on
    earlier binders; then the axis spans the union of ranges and a mask keeps
    the valid points.  env's index arrays must already have base_ndim+len(binders) axes."""
    extra, mask, sizes = {}, None, []
    nb = len(binders)
    for k, b in enumerate(binders):
        sub = env.with_index(extra)
        lo = as_index(evaluate(b.lo, sub), b.lo)
        hi = as_index(evaluate(b.hi, sub), b.hi)
        lo_min = int(np.min(lo)) if np.size(lo) else 0
        hi_max = int(np.max(hi)) if np.size(hi) else 0
        size = max(hi_max - lo_min, 0)
        sizes.append(size)
        _check_size(sizes, env, b)
        shape = [1] * (base_ndim + nb)
        shape[base_ndim + k] = size
        values = np.arange(lo_min, lo_min + size, dtype=np.int64).reshape(shape)
        if np.ndim(lo) or np.ndim(hi):
            m = (values >= _pad(lo, base_ndim + nb)) & (values < _pad(hi, base_ndim + nb))
            mask = m if mask is None else mask & m
        extra[b.name] = values
    return extra, mask, sizes


def _pad(value, ndim):
    """Give an array trailing axes so it broadcasts on a grid of ndim axes."""
    arr = np.asarray(value)
    return arr.reshape(arr.shape + (1,) * (ndim - arr.ndim)) if 0 < arr.ndim < ndim else arr


def _sum(node, env):
    """sum(k in a..b where g) body over constants: new trailing axes, then reduced."""
    base_ndim = max([np.ndim(v) for v in env.index.values()] + [0])
    nb = len(node.binders)
    lifted = Env(env.consts, {k: _pad(v, base_ndim + nb) for k, v in env.index.items()}, env.max_elements)
    extra, mask, sizes = binder_ranges(node.binders, lifted, base_ndim)
    inner = lifted.with_index(extra)
    body = np.asarray(evaluate(node.body, inner))
    shapes = [np.shape(v) for v in inner.index.values()] + [body.shape]
    if node.where is not None:
        guard = np.asarray(evaluate(node.where, inner)).astype(bool)
        mask = guard if mask is None else mask & guard
    if mask is not None:
        shapes.append(np.shape(mask))
    full = np.broadcast_shapes(*shapes)
    _check_size(full, env, node)
    body = np.broadcast_to(body, full)
    if mask is not None:
        body = np.where(np.broadcast_to(mask, full), body, 0)
    return body.sum(axis=tuple(range(len(full) - nb, len(full))))


def _compare(node, env):
    a, b = evaluate(node.left, env), evaluate(node.right, env)
    return {"==": np.equal, "!=": np.not_equal, "<": np.less, "<=": np.less_equal,
            ">": np.greater, ">=": np.greater_equal}[node.op](a, b)


def _boolop(node, env):
    a = np.asarray(evaluate(node.left, env)).astype(bool)
    b = np.asarray(evaluate(node.right, env)).astype(bool)
    return a & b if node.op == "and" else a | b


def _not(node, env):
    return ~np.asarray(evaluate(node.operand, env)).astype(bool)


_EVAL = {
    ast.Num: _num, ast.Bool: _bool, ast.Str: _str, ast.Name: _name, ast.Index: _index,
    ast.Call: _call, ast.ListLit: _list, ast.BinOp: _binop, ast.Neg: _neg, ast.Pow: _pow,
    ast.Sum: _sum, ast.Compare: _compare, ast.BoolOp: _boolop, ast.Not: _not,
}
