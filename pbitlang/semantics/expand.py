"""Instantiate statement templates over their index grids with numpy.

A quantified statement's binders span a grid (one axis each); `where` guards
and dependent ranges are boolean masks on it.  Each monomial template is then
evaluated for every valid point at once: variable references become flat spin
indices (wrapping on periodic variables, range-checked otherwise), the
coefficient is one vectorised call.  Index-range errors come from here."""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from ..errors import CompileError, LimitError
from .check import check_memory
from .evaluate import Env, as_index, binder_ranges, evaluate
from .simplify import templates


@dataclass
class Chunk:
    """Monomials of one order: coeff[m] · Π_k s[idx[m, k]], one row per monomial.

    inst: which instance (constraint or observable element) a row belongs to;
    widx: the flat weight index for rows that are a weight's coefficient."""
    order: int
    idx: np.ndarray        # (m, order) int64
    coeff: np.ndarray      # (m,) float64
    inst: np.ndarray | None = None
    widx: np.ndarray | None = None


@dataclass
class Grid:
    """The valid points of a statement's quantifier."""
    names: tuple
    values: dict           # name -> (M,) int64
    flat: np.ndarray       # (M,) position in the full rectangular grid
    sizes: tuple

    @property
    def count(self) -> int:
        return len(self.flat)


MAX_SUM_AXES = 31    # one axis per summed index, plus the point axis: well inside numpy's 64


def plan_memory(checked) -> None:
    """Before anything is expanded: refuse a program whose statements' index points (counted from
    their ranges alone) and spins would need more memory than the compile may use."""
    largest = None
    for st in (*checked.energy, *checked.constraints, *checked.observes):
        if st.quant is not None:
            _, _, sizes = binder_ranges(st.quant.binders, checked.env(), 0)
            points = math.prod(sizes)
            checked.planned_terms += points
            if largest is None or points > largest[0]:
                largest = (points, st.quant.span)
    if largest is not None:
        check_memory(checked, largest[1])


def outer_grid(checked, quant) -> Grid:
    env = checked.env()
    if quant is None:
        return Grid((), {}, np.zeros(1, dtype=np.int64), ())
    extra, mask, sizes = binder_ranges(quant.binders, env, 0)
    total = math.prod(sizes)
    if total > checked.limits.max_terms:
        raise LimitError(f"this statement spans {total:,} index points, over the limit of "
                         f"{checked.limits.max_terms:,} (raise it with max_terms / --max-terms)", quant.span)
    if quant.where is not None:
        guard = np.asarray(evaluate(quant.where, env.with_index(extra))).astype(bool)
        mask = guard if mask is None else mask & guard
    names = tuple(b.name for b in quant.binders)
    if mask is None:
        flat = np.arange(total, dtype=np.int64)
    else:
        flat = np.flatnonzero(np.broadcast_to(mask, tuple(sizes)))
    coords = np.unravel_index(flat, tuple(sizes)) if names else ()
    values = {n: extra[n].ravel()[0] + c if sizes[k] else c for k, (n, c) in enumerate(zip(names, coords))}
    return Grid(names, values, flat, tuple(sizes))


def _points(checked, grid: Grid, tmpl):
    """Index values for every point of the outer grid × the template's inner sums."""
    values = dict(grid.values)
    parent = np.arange(grid.count, dtype=np.int64)
    if not tmpl.binders:
        return values, parent
    # lay the inner binders as axes after the point axis
    base = {k: v.reshape((-1,) + (1,) * len(tmpl.binders)) for k, v in values.items()}
    env = Env(checked.consts, {}, checked.limits.max_terms)
    extra, mask, sizes = {}, None, []
    nb = len(tmpl.binders)
    if nb > MAX_SUM_AXES:
        raise LimitError(f"this term sums over {nb} indices at once (products of sums multiply them), over "
                         f"the limit of {MAX_SUM_AXES}", tmpl.binders[0].binder.span)
    for k, ib in enumerate(tmpl.binders):
        visible = {orig: extra.get(new, base.get(new)) for orig, new in ib.rename}
        sub = env.with_index({**base, **{o: v for o, v in visible.items() if v is not None}})
        lo = as_index(evaluate(ib.binder.lo, sub), ib.binder.lo)
        hi = as_index(evaluate(ib.binder.hi, sub), ib.binder.hi)
        lo_min = int(np.min(lo)) if np.size(lo) else 0
        size = max((int(np.max(hi)) if np.size(hi) else 0) - lo_min, 0)
        sizes.append(size)
        total = grid.count * math.prod(sizes)
        if total > checked.limits.max_terms:
            raise LimitError(f"this sum spans {total:,} index points, over the limit of "
                             f"{checked.limits.max_terms:,} (raise it with max_terms)", ib.binder.span)
        shape = [1] * (1 + nb)
        shape[1 + k] = size
        axis = np.arange(lo_min, lo_min + size, dtype=np.int64).reshape(shape)
        if np.ndim(lo) or np.ndim(hi):
            m = (axis >= _pad(lo, 1 + nb)) & (axis < _pad(hi, 1 + nb))
            mask = m if mask is None else mask & m
        extra[ib.renamed] = axis
    seen = set()
    for ib in tmpl.binders:
        if ib.guard is None or ib.group in seen:
            continue
        seen.add(ib.group)
        where, rename = ib.guard
        sub = env.with_index({**base, **{o: extra.get(n, base.get(n)) for o, n in rename}})
        g = np.asarray(evaluate(where, sub)).astype(bool)
        mask = g if mask is None else mask & g
    full = (grid.count,) + tuple(sizes)
    sel = np.flatnonzero(np.broadcast_to(mask, full)) if mask is not None else np.arange(math.prod(full))
    coords = np.unravel_index(sel, full)
    parent = coords[0].astype(np.int64)
    out = {k: v[parent] for k, v in values.items()}
    for k, ib in enumerate(tmpl.binders):
        out[ib.renamed] = extra[ib.renamed].ravel()[0] + coords[1 + k] if sizes[k] else coords[1 + k]
    return out, parent


def _pad(value, ndim):
    arr = np.asarray(value)
    return arr.reshape(arr.shape + (1,) * (ndim - arr.ndim)) if 0 < arr.ndim < ndim else arr


def _env_for(checked, points: dict, rename) -> Env:
    index = dict(points)
    for orig, new in rename:
        index[orig] = points[new]
    return Env(checked.consts, index, checked.limits.max_terms)


def _where(points: dict, grid_names, pos: int, rename) -> str:
    """'i=3, j=0': the index values of point `pos`, for messages."""
    back = {orig: new for orig, new in rename}
    names = list(grid_names) + [orig for orig, _ in rename if orig not in grid_names]
    parts = []
    for n in names:
        key = back.get(n, n)
        if key in points:
            value = points[key]
            parts.append(f"{n}={int(value[pos]) if np.ndim(value) else int(value)}")
    return ", ".join(parts)


def _flat_index(checked, ref, points: dict, m: int, grid_names, shape, start: int, periodic: bool, what: str):
    """start + row-major position of ref's element at every point (wrapping when periodic)."""
    if not shape:
        return np.full(m, start, dtype=np.int64)
    env = _env_for(checked, points, ref.rename)
    coords = []
    for axis, arg in enumerate(ref.args):
        i = np.broadcast_to(as_index(evaluate(arg, env), arg), (m,))
        dim = shape[axis]
        if dim == 0 and m:
            raise CompileError(f"'{ref.key}' refers to an element of {what} '{ref.var}', which has none "
                               f"(shape {shape})", ref.span)
        if periodic:
            i = np.mod(i, dim) if dim else i
        else:
            bad = (i < 0) | (i >= dim)
            if np.any(bad):
                pos = int(np.flatnonzero(bad)[0])
                at = _where(points, grid_names, pos, ref.rename)
                hint = "; declare it 'periodic' or exclude the point with a 'where' guard" if what == "variable" else ""
                raise CompileError(
                    f"index out of range in '{ref.key}': index {int(i[pos])} of dimension {axis} is outside "
                    f"0..{dim} of {what} '{ref.var}' (shape {shape})" + (f" at {at}" if at else "") + hint, ref.span)
        coords.append(i)
    if 0 in shape:
        return np.zeros(0, dtype=np.int64)
    return start + np.ravel_multi_index(tuple(coords), shape)


def ref_indices(checked, ref, points: dict, m: int, grid_names) -> np.ndarray:
    """Flat spin index of a variable reference at every point."""
    var = checked.variables[ref.var]
    return _flat_index(checked, ref, points, m, grid_names, var.shape, var.start, var.periodic, "variable")


def weight_indices(checked, ref, points: dict, m: int, grid_names) -> np.ndarray:
    """Flat weight index of a weight reference at every point."""
    w = checked.weights[ref.var]
    return _flat_index(checked, ref, points, m, grid_names, w.shape, w.start, False, "weight")


def coefficient(checked, coeff, atoms: dict, points: dict, m: int, span, grid_names) -> np.ndarray:
    if coeff.func is None:
        return np.full(m, coeff.value)
    args = []
    for name in coeff.args:
        if name.startswith("v_"):
            args.append(points[name[2:]])
        else:
            node, rename = atoms[name]
            args.append(np.asarray(evaluate(node, _env_for(checked, points, rename)), dtype=np.float64))
    with np.errstate(all="ignore"):
        value = np.broadcast_to(np.asarray(coeff.func(*args), dtype=np.float64), (m,))
    if not np.all(np.isfinite(value)):
        pos = int(np.flatnonzero(~np.isfinite(value))[0])
        at = _where(points, grid_names, pos, ())
        raise CompileError("a coefficient is not finite (inf or nan)" + (f" at {at}" if at else ""), span)
    return value


def reduce_rows(idx: np.ndarray, coeff: np.ndarray, inst=None, widx=None) -> list:
    """Apply s·s = 1 to concrete rows (two references can name the same spin) → Chunks by order."""
    m, k = idx.shape
    if k == 0:
        return [Chunk(0, idx, coeff, inst, widx)]
    if k == 1:
        return [Chunk(1, idx, coeff, inst, widx)]
    srt = np.sort(idx, axis=1)
    keep = np.ones((m, k), dtype=bool)
    for a in range(k - 1):
        dup = (srt[:, a] == srt[:, a + 1]) & keep[:, a] & keep[:, a + 1]
        keep[dup, a] = False
        keep[dup, a + 1] = False
    orders = keep.sum(axis=1)
    out = []
    for order in np.unique(orders):
        rows = orders == order
        sub = srt[rows][keep[rows]].reshape(int(rows.sum()), int(order))
        out.append(Chunk(int(order), sub, coeff[rows], None if inst is None else inst[rows],
                         None if widx is None else widx[rows]))
    return out


def expand_statement(checked, expr, quant, span) -> tuple:
    """(grid, chunks): the statement's monomials over its grid; chunk.inst is the grid point."""
    grid = outer_grid(checked, quant)
    scope = set(grid.names)
    chunks = []
    for tmpl in templates(expr, checked, scope, checked.limits, span):
        points, parent = _points(checked, grid, tmpl)
        m = len(parent)
        if m == 0:
            continue
        idx = np.empty((m, len(tmpl.refs)), dtype=np.int64)
        for k, ref in enumerate(tmpl.refs):
            idx[:, k] = ref_indices(checked, ref, points, m, grid.names)
        if not tmpl.coeff.is_zero():
            c = coefficient(checked, tmpl.coeff, tmpl.atoms, points, m, span, grid.names)
            chunks.extend(reduce_rows(idx, c, parent))
        for wref, wcoeff in tmpl.weights:
            c = coefficient(checked, wcoeff, tmpl.atoms, points, m, span, grid.names)
            w = weight_indices(checked, wref, points, m, grid.names)
            chunks.extend(reduce_rows(idx, c, parent, w))
    return grid, chunks
