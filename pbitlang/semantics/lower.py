"""Monomial chunks → the IR.

Order-0/1/2 monomials become offset/field/coupling (COO summed into CSR, with
the source term of each entry kept); order ≥ 3 become k-body factors, or are
reduced to order 2 with auxiliary spins on request.  Constraints become
penalties P·(lhs − rhs + slack)²; inequalities get binary slack bits.  Weights
become the affine map θ → (h, J, offset)."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from ..errors import CompileError, LimitError
from ..grammar import ast
from ..ir import IR, Constraint, Observable, Poly, WeightMap, make_ir
from ..colour import colour, coupling_graph
from .evaluate import Env, describe, evaluate
from .expand import Chunk, expand_statement, outer_grid, plan_memory, reduce_rows, ref_indices
from .simplify import Ref


@dataclass
class LowerOptions:
    reduce_kbody: bool = False          # order ≥ 3 → order 2 with auxiliary spins
    kbody_penalty: float | None = None  # penalty of the auxiliary constraints (None: automatic)
    progress: object = None             # progress(done, total, span) before each statement is expanded


PAIR_BASE = 1 << 32       # key of a spin pair (a, b): a·PAIR_BASE + b


# ---- instance-indexed polynomials ---------------------------------------------
def join_on_instance(inst_a: np.ndarray, inst_b: np.ndarray, limit: int, span=None):
    """All pairs (a, b) of rows with inst_a[a] == inst_b[b], vectorised."""
    order = np.argsort(inst_b, kind="stable")
    sb = inst_b[order]
    lo = np.searchsorted(sb, inst_a, "left")
    hi = np.searchsorted(sb, inst_a, "right")
    n = hi - lo
    total = int(n.sum())
    if total > limit:
        raise LimitError(f"expanding this square gives {total:,} terms, over the limit of {limit:,}", span)
    ia = np.repeat(np.arange(len(inst_a)), n)
    offsets = np.arange(total) - np.repeat(np.cumsum(n) - n, n)
    ib = order[np.repeat(lo, n) + offsets]
    return ia, ib


def square(chunks: list, weight: np.ndarray, limit: int, span) -> list:
    """weight[inst] · (Σ rows)² per instance, as chunks."""
    out = []
    for a in chunks:
        for b in chunks:
            ia, ib = join_on_instance(a.inst, b.inst, limit, span)
            if not len(ia):
                continue
            idx = np.concatenate([a.idx[ia], b.idx[ib]], axis=1)
            coeff = a.coeff[ia] * b.coeff[ib] * weight[a.inst[ia]]
            out.extend(reduce_rows(idx, coeff, a.inst[ia]))
    return out


def merge(chunks: list, num_inst=None) -> tuple:
    """Chunks → one Poly per order with duplicate rows summed and zeros dropped."""
    by_order: dict = {}
    for ch in chunks:
        by_order.setdefault(ch.order, []).append(ch)
    polys = []
    for order in sorted(by_order):
        group = by_order[order]
        inst = np.concatenate([c.inst for c in group]).astype(np.int64)
        idx = np.concatenate([c.idx for c in group]).astype(np.int64).reshape(len(inst), order)
        coeff = np.concatenate([c.coeff for c in group])
        uniq_inst, uniq_idx, summed = _sum_duplicates(inst, idx, coeff)
        keep = summed != 0
        polys.append(Poly(order, uniq_inst[keep], uniq_idx[keep], summed[keep]))
    return tuple(p for p in polys if len(p.coeff))


def _sum_duplicates(inst, idx, coeff):
    """Sum rows with equal (inst, idx): one integer key when it fits, else a lexsort."""
    m, k = idx.shape
    if m == 0:
        return inst, idx, coeff
    base = int(idx.max()) + 1 if k else 1
    span = float(int(inst.max()) + 1) * float(base) ** k
    if span < 2**62:
        key = inst.copy()
        for q in range(k):
            key = key * base + idx[:, q]
        order = np.argsort(key, kind="stable")
        ks = key[order]
        first = np.r_[True, ks[1:] != ks[:-1]]
    else:
        order = np.lexsort(tuple(idx[:, q] for q in reversed(range(k))) + (inst,))
        cols = np.concatenate([inst[order, None], idx[order]], axis=1)
        first = np.r_[True, np.any(cols[1:] != cols[:-1], axis=1)]
    starts = np.flatnonzero(first)
    summed = np.add.reduceat(coeff[order], starts)
    rows = order[starts]
    return inst[rows], idx[rows], summed


# ---- the lowering ----------------------------------------------------------------
class _Lowering:
    def __init__(self, checked, options: LowerOptions):
        self.c = checked
        self.opt = options
        self.n = checked.num_spins
        self.layout = {v.name: (v.start, v.shape, v.kind) for v in checked.variables.values()}
        self.sources: list = []
        self.spans: list = []                  # the Span of each term id, for errors
        self.done = 0                          # statements expanded so far
        self.energy: list = []        # (Chunk, term id)
        self.weighted: list = []      # (Chunk with widx, term id)

    def new_spins(self, name: str, count: int, kind: str) -> int:
        start = self.n
        self.n += count
        if self.n > self.c.limits.max_spins:
            raise LimitError(f"auxiliary variables bring the model to {self.n:,} spins, over the limit of "
                             f"{self.c.limits.max_spins:,}")
        self.layout[name] = (start, (count,), kind)
        return start

    def term(self, span) -> int:
        self.sources.append(str(span))
        self.spans.append(span)
        return len(self.sources) - 1

    def add(self, chunks, tid):
        for ch in chunks:
            if not np.all(np.isfinite(ch.coeff)):
                raise CompileError("this term's coefficients overflow (not finite)", self.spans[tid])
            (self.weighted if ch.widx is not None else self.energy).append((ch, tid))

    # ---- statements
    def tick(self, span) -> None:
        """Report the statement about to be expanded (a long compile says where it is)."""
        if self.opt.progress is not None:
            total = len(self.c.energy) + len(self.c.constraints) + len(self.c.observes)
            self.opt.progress(self.done, total, span)
        self.done += 1

    def energy_terms(self):
        for t in self.c.energy:
            self.tick(t.span)
            _, chunks = expand_statement(self.c, t.expr, t.quant, t.span)
            self.add(chunks, self.term(t.span))

    def constraints(self) -> tuple:
        out = []
        for con in self.c.constraints:
            self.tick(con.span)
            tid = self.term(con.span)
            lhs, rhs = (con.lhs, con.rhs) if con.op != ">=" else (con.rhs, con.lhs)
            diff = ast.BinOp(con.span, "-", lhs, rhs)
            grid, chunks = expand_statement(self.c, diff, con.quant, con.span)
            if any(ch.widx is not None for ch in chunks):
                raise CompileError("trainable weights cannot appear in a constraint", con.span)
            M = grid.count
            env = Env(self.c.consts, dict(grid.values), self.c.limits.max_terms)
            penalty = np.broadcast_to(np.asarray(evaluate(con.penalty, env), dtype=np.float64), (M,)).copy()
            if not np.all(np.isfinite(penalty)) or np.any(penalty < 0):
                raise CompileError(f"penalty '{describe(con.penalty)}' must be finite and ≥ 0", con.penalty.span)
            residual = [c for c in chunks]
            with_slack = residual + (self.slack(con, residual, M) if con.op != "==" else [])
            self.add(square(with_slack, penalty, self.c.limits.max_terms, con.span), tid)
            out.append(Constraint(con.name, con.op, grid.sizes, grid.flat,
                                  penalty, merge([_sign(c, 1 if con.op != ">=" else -1) for c in residual], M),
                                  str(con.span)))
        return tuple(out)

    def slack(self, con, residual: list, M: int) -> list:
        """Binary slack s ∈ [0, −min r] so that r + s = 0 is reachable whenever r ≤ 0."""
        const = np.zeros(M)
        spread = np.zeros(M)
        for ch in residual:
            if ch.order == 0:
                const += np.bincount(ch.inst, ch.coeff, minlength=M)
            else:
                spread += np.bincount(ch.inst, np.abs(ch.coeff), minlength=M)
        lower = const - spread                     # a lower bound of r over all states
        smax = np.maximum(np.ceil(-lower - 1e-9), 0).astype(np.int64)
        bits = np.where(smax > 0, np.floor(np.log2(np.maximum(smax, 1))).astype(np.int64) + 1, 0)
        total = int(bits.sum())
        if total == 0:
            return []
        start = self.new_spins(f"__slack_{con.name}", total, "bit")
        inst = np.repeat(np.arange(M), bits)
        k = np.arange(total) - np.repeat(np.cumsum(bits) - bits, bits)
        w = (2.0 ** k)
        last = k == np.repeat(bits, bits) - 1
        w[last] = smax[inst[last]] - (2.0 ** k[last] - 1)
        spins = start + np.arange(total)
        # s = Σ w·(1 + τ)/2
        return [Chunk(0, np.zeros((total, 0), np.int64), w / 2, inst), Chunk(1, spins[:, None], w / 2, inst)]

    def observables(self) -> dict:
        out = {}
        for ob in self.c.observes:
            self.tick(ob.span)
            expr, transform = ob.expr, ""
            if isinstance(expr, ast.Call) and expr.func == "abs" and len(expr.args) == 1:
                expr, transform = expr.args[0], "abs"
            grid, chunks = expand_statement(self.c, expr, ob.quant, ob.span)
            if any(ch.widx is not None for ch in chunks):
                raise CompileError("an observable cannot contain trainable weights", ob.span)
            for ch in chunks:
                ch.inst = grid.flat[ch.inst]
            size = math.prod(grid.sizes)
            out[ob.name] = Observable(ob.name, tuple(grid.sizes), merge(chunks, size), transform)
        return out

    def clamps(self):
        idx_all, val_all, gid_all = [], [], []
        for gid, g in enumerate(self.c.givens):
            grid = outer_grid(self.c, g.quant)
            var = self.c.variables[g.name]
            ref = Ref(g.name, g.args, (), g.name, g.span)
            idx = ref_indices(self.c, ref, grid.values, grid.count, grid.names)
            env = Env(self.c.consts, dict(grid.values), self.c.limits.max_terms)
            val = np.broadcast_to(np.asarray(evaluate(g.value, env)), (grid.count,))
            allowed = (0, 1) if var.kind == "bit" else (-1, 1)
            if not np.all(np.isin(val, allowed)):
                raise CompileError(f"'{g.name}' is a {var.kind}: given values must be "
                                   f"{' or '.join(map(str, allowed))}", g.value.span)
            spins = (2 * val - 1) if var.kind == "bit" else val
            idx_all.append(idx)
            val_all.append(spins.astype(np.int8))
            gid_all.append(np.full(len(idx), gid))
        if not idx_all:
            return np.zeros(0, np.int64), np.zeros(0, np.int8)
        idx, val, gid = np.concatenate(idx_all), np.concatenate(val_all), np.concatenate(gid_all)
        order = np.lexsort((gid, idx))
        idx, val, gid = idx[order], val[order], gid[order]
        clash = np.flatnonzero((idx[1:] == idx[:-1]) & (val[1:] != val[:-1]))
        if len(clash):
            a, b = self.c.givens[gid[clash[0]]], self.c.givens[gid[clash[0] + 1]]
            err = CompileError(f"'{_spin_label(self.layout, int(idx[clash[0]]))}' is given two different values",
                               b.span)
            raise err.with_note("the other value is given here", a.span)
        first = np.r_[True, idx[1:] != idx[:-1]]
        return idx[first], val[first]

    # ---- k-body factors
    def kbody(self, chunks) -> dict:
        high = [c for c in chunks if c.order >= 3]
        for c in high:
            c.inst = np.zeros(len(c.coeff), np.int64)
        polys = merge(high)
        return {p.order: (p.idx, p.coeff) for p in polys}

    def reduce_kbody(self, kbody: dict) -> list:
        """Rewrite each factor c·s_a·s_b·rest with an auxiliary spin t, the AND of the bits of s_a and s_b:
        s_a·s_b = 1 + 2t − s_a − s_b when t is right, enforced by a Rosenberg penalty of at least P
        for every wrong t.  The automatic P exceeds everything a wrong t could gain (2·Σ|c| over
        the rows that contain an auxiliary), so ground states are kept exactly."""
        if not kbody:
            return []
        first_aux = self.n
        pending = [Chunk(k, idx, coeff) for k, (idx, coeff) in kbody.items()]
        out = []
        pairs: dict = {}
        while pending:
            ch = pending.pop()
            if ch.order <= 2:
                out.append(ch)
                continue
            a, b, rest = ch.idx[:, 0], ch.idx[:, 1], ch.idx[:, 2:]
            keys = a * PAIR_BASE + b
            uniq, inv = np.unique(keys, return_inverse=True)
            new = np.array([k not in pairs for k in uniq.tolist()], dtype=bool)
            if new.any():
                start = self.new_spins(f"__aux{len(pairs)}", int(new.sum()), "spin")
                for off, key in enumerate(uniq[new].tolist()):
                    pairs[key] = start + off
            t = np.array([pairs[k] for k in uniq.tolist()], dtype=np.int64)[inv.ravel()]
            c = ch.coeff
            for idx, coeff in ((rest, c), (np.c_[t, rest], 2 * c), (np.c_[a, rest], -c), (np.c_[b, rest], -c)):
                pending.extend(reduce_rows(idx, coeff))
        gain = sum(float(np.abs(ch.coeff[np.any(ch.idx >= first_aux, axis=1)]).sum()) for ch in out)
        P = self.opt.kbody_penalty if self.opt.kbody_penalty is not None else 1.0 + 2.0 * gain
        # Rosenberg penalty P·(x_a x_b − 2 x_a y − 2 x_b y + 3y) in spins, per auxiliary
        keys = np.array(list(pairs.keys()), dtype=np.int64)
        t = np.array(list(pairs.values()), dtype=np.int64)
        a, b = keys // PAIR_BASE, keys % PAIR_BASE
        m = len(t)
        out.append(Chunk(0, np.zeros((m, 0), np.int64), np.full(m, 0.75 * P)))
        for idx, w in ((a, -0.25), (b, -0.25), (t, 0.5)):
            out.append(Chunk(1, idx[:, None], np.full(m, w * P)))
        for idx, w in ((np.c_[a, b], 0.25), (np.c_[a, t], -0.5), (np.c_[b, t], -0.5)):
            out.append(Chunk(2, idx, np.full(m, w * P)))
        return out

    # ---- assembly
    def assemble(self, constraints, observables, clamp_index, clamp_value) -> IR:
        chunks = [ch for ch, _ in self.energy]
        tids = [np.full(len(ch.coeff), t, dtype=np.int32) for ch, t in self.energy]
        kbody = self.kbody([c for c in chunks if c.order >= 3])
        extra = []
        if self.opt.reduce_kbody and kbody:
            extra = self.reduce_kbody(kbody)
            kbody = {}
        n = self.n
        offset = 0.0
        h = np.zeros(n)
        h_term = np.full(n, -1, dtype=np.int32)
        rows, cols, vals, terms = [], [], [], []
        for ch, t in list(zip(chunks, tids)) + [(c, np.full(len(c.coeff), -1, np.int32)) for c in extra]:
            if ch.order == 0:
                offset += float(ch.coeff.sum())
            elif ch.order == 1:
                h += np.bincount(ch.idx[:, 0], ch.coeff, minlength=n)
                h_term[ch.idx[::-1, 0]] = t[::-1]
            elif ch.order == 2:
                rows.append(ch.idx[:, 0])
                cols.append(ch.idx[:, 1])
                vals.append(ch.coeff)
                terms.append(t)
        # weights: structure and maps
        W = self.c.num_weights
        w_rows, w_cols, w_w, w_c = [], [], [], []
        doff = np.zeros(W)
        dh_r, dh_w, dh_c = [], [], []
        for ch, t in self.weighted:
            if ch.order == 0:
                doff += np.bincount(ch.widx, ch.coeff, minlength=W)
            elif ch.order == 1:
                dh_r.append(ch.idx[:, 0]), dh_w.append(ch.widx), dh_c.append(ch.coeff)
            elif ch.order == 2:
                w_rows.append(ch.idx[:, 0]), w_cols.append(ch.idx[:, 1]), w_w.append(ch.widx), w_c.append(ch.coeff)
                rows.append(ch.idx[:, 0]), cols.append(ch.idx[:, 1]), vals.append(np.zeros(len(ch.coeff)))
                terms.append(np.full(len(ch.coeff), t, dtype=np.int32))
            else:
                raise CompileError("trainable weights on terms of order 3 or more are not supported; "
                                   "use pairwise terms", self.spans[t])
        n_weight_pairs = sum(len(r) for r in w_rows)
        J, J_term, keys = _symmetric_csr(n, rows, cols, vals, terms, keep_structural=n_weight_pairs > 0,
                                         structural=(np.concatenate(w_rows) if w_rows else None,
                                                     np.concatenate(w_cols) if w_cols else None))
        weights = None
        if self.c.weights:
            dh = sp.csr_array((np.concatenate(dh_c) if dh_c else np.zeros(0),
                               (np.concatenate(dh_r) if dh_r else np.zeros(0, np.int64),
                                np.concatenate(dh_w) if dh_w else np.zeros(0, np.int64))), shape=(n, W))
            if w_rows:
                wi, wj = np.concatenate(w_rows), np.concatenate(w_cols)
                ww, wc = np.concatenate(w_w), np.concatenate(w_c)
                pos_ij = np.searchsorted(keys, wi * n + wj)
                pos_ji = np.searchsorted(keys, wj * n + wi)
                dJ = sp.csr_array((np.r_[wc, wc], (np.r_[pos_ij, pos_ji], np.r_[ww, ww])), shape=(J.nnz, W))
            else:
                dJ = sp.csr_array((J.nnz, W))
            weights = WeightMap({w.name: (w.start, w.shape) for w in self.c.weights.values()}, np.zeros(W),
                                h.copy(), J.data.copy(), offset, sp.csr_array(dh), sp.csr_array(dJ), doff)
        if not np.all(np.isfinite(h)) or not np.all(np.isfinite(J.data)) or not math.isfinite(offset):
            bad = np.r_[h_term[~np.isfinite(h)], J_term[~np.isfinite(J.data)]]
            span = self.spans[int(bad[0])] if len(bad) and bad[0] >= 0 else (self.spans[0] if self.spans else None)
            raise CompileError("the energy's coefficients overflow (not finite) when the terms are added up",
                               span)
        graph = coupling_graph(n, J, kbody)
        ir = make_ir(
            num_spins=n, h=h, J=J, offset=offset, colors=colour(graph), layout=self.layout,
            periodic=tuple(v.name for v in self.c.variables.values() if v.periodic),
            clamp_index=clamp_index, clamp_value=clamp_value, kbody=kbody, observables=observables,
            constraints=constraints, weights=weights, beta=self.c.beta, chains=tuple(chain_dicts(self.c)),
            sources=tuple(self.sources), h_term=h_term, J_term=J_term, name=self.c.source.name)
        if weights is not None and W:
            ir = ir.with_weights(np.concatenate([w.init.ravel() for w in self.c.weights.values()]))
        return ir


def _sign(ch: Chunk, s: int) -> Chunk:
    return ch if s == 1 else Chunk(ch.order, ch.idx, -ch.coeff, ch.inst, ch.widx)


def _spin_label(layout, i: int) -> str:
    for name, (start, shape, kind) in layout.items():
        size = math.prod(shape)
        if start <= i < start + size:
            return name if not shape else f"{name}[{', '.join(str(int(x)) for x in np.unravel_index(i - start, shape))}]"
    return f"spin {i}"


def _symmetric_csr(n, rows, cols, vals, terms, keep_structural, structural):
    """Sum COO pairs into a symmetric CSR (zero diagonal), keeping each entry's first source term."""
    if rows:
        r = np.concatenate(rows).astype(np.int64)
        c = np.concatenate(cols).astype(np.int64)
        v = np.concatenate(vals)
        t = np.concatenate(terms)
    else:
        r = c = np.zeros(0, np.int64)
        v = np.zeros(0)
        t = np.zeros(0, np.int32)
    keys = np.concatenate([r * n + c, c * n + r])
    vv = np.concatenate([v, v])
    tt = np.concatenate([t, t])
    order = np.argsort(keys, kind="stable")
    ks = keys[order]
    first = np.r_[True, ks[1:] != ks[:-1]] if len(ks) else np.zeros(0, bool)
    starts = np.flatnonzero(first)
    data = np.add.reduceat(vv[order], starts) if len(starts) else np.zeros(0)
    ukeys = ks[starts]
    term = tt[order][starts]
    keep = data != 0
    if keep_structural and structural[0] is not None:
        si, sj = structural
        skeys = np.concatenate([si * n + sj, sj * n + si])
        keep |= np.isin(ukeys, skeys)
    ukeys, data, term = ukeys[keep], data[keep], term[keep]
    row = ukeys // n
    indptr = np.concatenate([[0], np.cumsum(np.bincount(row, minlength=n))])
    J = sp.csr_array((data, (ukeys % n).astype(np.int32), indptr.astype(np.int64)), shape=(n, n))
    return J, term.astype(np.int32), ukeys


def chain_dicts(checked) -> list:
    """Chains as JSON-able dicts (their semantics live in pbitlang.dtm)."""
    out = []
    for ch in checked.chains:
        items = {}
        for item in ch.items:
            if item.key in items:
                raise CompileError(f"'{item.key}' is set twice in chain '{ch.name}'", item.span)
            items[item.key] = _chain_value(checked, item.value)
        out.append({"name": ch.name, "over": list(ch.over), "items": items, "source": str(ch.span)})
    json.dumps(out)
    return out


def _chain_value(checked, node):
    if node is None:
        return True
    if isinstance(node, ast.Name) and node.id not in checked.consts:
        return node.id
    if isinstance(node, ast.Call):
        return {"call": node.func, "args": [_chain_value(checked, a) for a in node.args],
                "kwargs": {k: _chain_value(checked, v) for k, v in node.kwargs}}
    if isinstance(node, ast.ListLit):
        return [_chain_value(checked, a) for a in node.items]
    value = np.asarray(evaluate(node, checked.env()))
    return value.tolist()


def lower(checked, options: LowerOptions | None = None) -> IR:
    with np.errstate(over="ignore", invalid="ignore"):      # overflow is found, and located, by the finiteness checks
        return _lower(checked, options)


def _lower(checked, options: LowerOptions | None) -> IR:
    plan_memory(checked)
    low = _Lowering(checked, options or LowerOptions())
    low.energy_terms()
    constraints = low.constraints()
    observables = low.observables()
    clamp_index, clamp_value = low.clamps()
    return low.assemble(constraints, observables, clamp_index, clamp_value)
