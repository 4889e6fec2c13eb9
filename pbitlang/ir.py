"""The compiled program: an immutable sparse Ising model with everything around it.

E(s) = offset + h·s + ½ sᵀJs + Σ k-body factors, s ∈ {−1, +1}ⁿ.  Bits are spins
with b = (1 + s)/2.  Observables and constraint residuals are *indexed
polynomials*: rows (instance, spins, coefficient) summed per instance.  The
canonical text form (sorted, %.12g) is what golden tests compare; .pbir files
are npz + JSON, loaded with allow_pickle=False."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass, field, replace
from types import MappingProxyType

import numpy as np
import scipy.sparse as sp

from .errors import IRFileError

FORMAT = "pbir"
FORMAT_VERSION = 1


def _frozen(a):
    a = np.ascontiguousarray(a)
    a.flags.writeable = False
    return a


@dataclass(frozen=True)
class Poly:
    """Σ over rows of coeff · Π s[idx[row]] added to instance inst[row]; one order per Poly."""
    order: int
    inst: np.ndarray
    idx: np.ndarray
    coeff: np.ndarray


@dataclass(frozen=True)
class Observable:
    name: str
    shape: tuple
    polys: tuple
    transform: str = ""          # "" or "abs": applied to the polynomial's value

    def values(self, X) -> np.ndarray:
        """Values of states X (K, n, C) → (K, size, C) (pbitlang.measure's layout)."""
        from . import measure
        v = measure.polynomials(self.polys, self.size, X)
        return np.abs(v) if self.transform == "abs" else v

    @property
    def size(self) -> int:
        return math.prod(self.shape)


@dataclass(frozen=True)
class Constraint:
    """A penalty constraint: residual r = lhs − rhs per instance (slack excluded)."""
    name: str
    op: str                  # == <= >=
    shape: tuple             # the quantifier grid's shape
    positions: np.ndarray    # flat position in that grid of each instance
    penalty: np.ndarray      # per instance
    polys: tuple             # residual lhs − rhs
    source: str

    @property
    def num_instances(self) -> int:
        return len(self.positions)

    def amounts(self, X: np.ndarray, tol: float = 1e-9) -> np.ndarray:
        """How much each state of X (K, n, C) violates each instance → (K, instances, C), 0 where satisfied."""
        from . import measure
        r = measure.polynomials(self.polys, self.num_instances, X)
        if self.op == "==":
            v = np.abs(r)
        elif self.op == "<=":
            v = np.maximum(r, 0.0)
        else:
            v = np.maximum(-r, 0.0)
        return np.where(v > tol, v, 0.0)


@dataclass(frozen=True)
class WeightMap:
    """The affine map θ → (h, J, offset) of a learnable program."""
    layout: dict             # name -> (start, shape)
    theta: np.ndarray        # current weights
    h_const: np.ndarray
    J_const: np.ndarray      # aligned with J.data
    offset_const: float
    dh: sp.csr_array         # (n, W)
    dJ: sp.csr_array         # (nnz, W), rows aligned with J.data
    doff: np.ndarray         # (W,)

    @property
    def num_weights(self) -> int:
        return len(self.theta)


@dataclass(frozen=True)
class IR:
    num_spins: int
    h: np.ndarray
    J: sp.csr_array
    offset: float
    colors: np.ndarray
    layout: dict                     # name -> (start, shape, kind)
    periodic: tuple = ()             # names of periodic variables
    clamp_index: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))
    clamp_value: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int8))
    kbody: dict = field(default_factory=dict)          # order -> (idx (m,k), coeff (m,))
    observables: dict = field(default_factory=dict)    # name -> Observable
    constraints: tuple = ()
    weights: WeightMap | None = None
    beta: float | None = None
    chains: tuple = ()                                 # JSON-able dicts
    sources: tuple = ()                                # "file:line:col" per term
    h_term: np.ndarray | None = None                   # term id per spin's field (-1: none)
    J_term: np.ndarray | None = None                   # term id per J.data entry
    name: str = "<input>"
    labels: tuple = ()                                 # per-spin labels of a model from dimod or a file

    def __post_init__(self):
        """Immutable in fact, not only by convention: every array read-only, every dict a read-only
        view; dataclasses.replace(ir, ...) and with_arrays / with_weights (the one way to new weights)
        give new IRs that are frozen the same way."""
        for key in ("h", "colors", "clamp_index", "clamp_value", "h_term", "J_term"):
            if getattr(self, key) is not None:
                object.__setattr__(self, key, _frozen(getattr(self, key)))
        object.__setattr__(self, "J", _freeze_csr(self.J))
        object.__setattr__(self, "kbody", MappingProxyType({k: (_frozen(idx), _frozen(coeff))
                                                            for k, (idx, coeff) in self.kbody.items()}))
        object.__setattr__(self, "layout", MappingProxyType(dict(self.layout)))
        object.__setattr__(self, "observables", MappingProxyType(dict(self.observables)))
        object.__setattr__(self, "labels", tuple(self.labels))

    @property
    def num_colors(self) -> int:
        return int(self.colors.max()) + 1 if len(self.colors) else 0

    @property
    def num_couplings(self) -> int:
        return int(self.J.nnz // 2)

    # ---- evaluation (pbitlang.measure: compiled, read from int8, no float copy of the states)
    def _rows(self, states) -> tuple:
        """states (..., n) → (their leading shape, the same states as measure's X (B, n, 1))."""
        S = np.asarray(states)
        if S.ndim == 0 or S.shape[-1] != self.num_spins:
            raise ValueError(f"states have {S.shape[-1:] or 'no'} columns but the model has {self.num_spins} spins")
        lead = S.shape[:-1]
        return lead, S.reshape(math.prod(lead), self.num_spins, 1)

    def energy(self, states) -> np.ndarray:
        """E(s) for states (..., n) in ±1 → energies (...,)."""
        from . import measure
        lead, X = self._rows(states)
        return measure.energies(self, X).reshape(lead)

    def observe(self, states) -> dict:
        """Observables of states (..., n) → name -> array (..., *shape)."""
        lead, X = self._rows(states)
        return {name: ob.values(X).reshape(lead + ob.shape) for name, ob in self.observables.items()}

    def violations(self, states, tol: float = 1e-9) -> dict:
        """name -> (..., instances) amounts by which each constraint instance is violated."""
        lead, X = self._rows(states)
        return {c.name: c.amounts(X, tol).reshape(lead + (c.num_instances,)) for c in self.constraints}

    def with_weights(self, theta) -> "IR":
        """The same program with weights θ (the affine map applied exactly)."""
        if self.weights is None:
            raise ValueError("this program has no trainable weights")
        theta = np.asarray(theta, dtype=np.float64).ravel()
        w = self.weights
        if theta.shape != w.theta.shape:
            raise ValueError(f"expected {w.num_weights} weights, got {theta.size}")
        return replace(self.with_arrays(w.h_const + w.dh @ theta, w.J_const + w.dJ @ theta),
                       offset=float(w.offset_const + w.doff @ theta), weights=replace(w, theta=_frozen(theta)))

    def with_arrays(self, h, J_data) -> "IR":
        """The same structure with these fields (n,) and coupling data (aligned with J.data)."""
        J = sp.csr_array((np.asarray(J_data, dtype=np.float64), self.J.indices, self.J.indptr), shape=self.J.shape)
        return replace(self, h=_frozen(np.asarray(h, dtype=np.float64)), J=_freeze_csr(J))

    def term_source(self, i: int, j: int | None = None) -> str:
        """Where in the source a field (i) or coupling (i, j) comes from."""
        if j is None:
            t = -1 if self.h_term is None else int(self.h_term[i])
        else:
            row = slice(self.J.indptr[i], self.J.indptr[i + 1])
            pos = np.flatnonzero(self.J.indices[row] == j)
            t = -1 if self.J_term is None or not len(pos) else int(self.J_term[row][pos[0]])
        return self.sources[t] if 0 <= t < len(self.sources) else "<unknown>"

    def label(self, i: int):
        """Spin i's label: the model's own (a dimod variable, a file's node) or its name `s[3, 4]`."""
        return self.labels[i] if self.labels else self.spin_name(i)

    def spin_name(self, i: int) -> str:
        if self.labels:
            return self.labels[i] if isinstance(self.labels[i], str) else repr(self.labels[i])
        for name, (start, shape, kind) in self.layout.items():
            size = math.prod(shape)
            if start <= i < start + size:
                if not shape:
                    return name
                return f"{name}[{', '.join(str(int(x)) for x in np.unravel_index(i - start, shape))}]"
        return f"spin {i}"

    # ---- text
    def stats(self) -> dict:
        upper = sp.triu(self.J, k=1).tocoo()
        deg = np.diff(self.J.indptr)
        return {
            "spins": self.num_spins,
            "couplings": int(upper.nnz),
            "colors": self.num_colors,
            "max_degree": int(deg.max()) if len(deg) else 0,
            "h_range": [float(self.h.min()), float(self.h.max())] if self.num_spins else [0.0, 0.0],
            "J_range": [float(upper.data.min()), float(upper.data.max())] if upper.nnz else [0.0, 0.0],
            "kbody_factors": {int(k): int(len(v[1])) for k, v in self.kbody.items()},
            "clamped": int(len(self.clamp_index)),
            "observables": {k: list(v.shape) for k, v in self.observables.items()},
            "constraints": {c.name: c.num_instances for c in self.constraints},
            "weights": self.weights.num_weights if self.weights else 0,
            "offset": self.offset,
        }

    def to_text(self) -> str:
        """Canonical text form: sorted, %.12g."""
        g = lambda x: f"{float(x):.12g}"  # noqa: E731
        out = [f"{FORMAT} {FORMAT_VERSION}", f"spins {self.num_spins}", f"offset {g(self.offset)}",
               f"beta {'none' if self.beta is None else g(self.beta)}", f"colors {self.num_colors}"]
        for name, (start, shape, kind) in sorted(self.layout.items(), key=lambda kv: kv[1][0]):
            per = " periodic" if name in self.periodic else ""
            out.append(f"var {name} {kind} start={start} shape={list(shape)}{per}")
        out.append("color " + " ".join(str(int(c)) for c in self.colors))
        for i in np.flatnonzero(self.h):
            out.append(f"h {i} {g(self.h[i])}")
        up = sp.triu(self.J, k=1).tocoo()
        for i, j, v in sorted(zip(up.row.tolist(), up.col.tolist(), up.data.tolist())):
            out.append(f"J {i} {j} {g(v)}")
        for k in sorted(self.kbody):
            idx, coeff = self.kbody[k]
            for row, c in sorted(zip(map(tuple, idx.tolist()), coeff.tolist())):
                out.append(f"K {' '.join(map(str, row))} {g(c)}")
        for i, v in sorted(zip(self.clamp_index.tolist(), self.clamp_value.tolist())):
            out.append(f"clamp {i} {v}")
        for name in sorted(self.observables):
            ob = self.observables[name]
            out.append(f"observe {name} shape={list(ob.shape)}" + (f" {ob.transform}" if ob.transform else ""))
            out.extend(_poly_lines(f"  {name}", ob.polys))
        for c in sorted(self.constraints, key=lambda c: c.name):
            out.append(f"constraint {c.name} {c.op} shape={list(c.shape)} instances={c.num_instances}")
            out.append("  penalty " + " ".join(g(p) for p in c.penalty))
            out.extend(_poly_lines(f"  {c.name}", c.polys))
        if self.weights is not None:
            w = self.weights
            for name, (start, shape) in sorted(w.layout.items(), key=lambda kv: kv[1][0]):
                out.append(f"weight {name} start={start} shape={list(shape)}")
            coo = w.dh.tocoo()
            for i, k, v in sorted(zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist())):
                out.append(f"dh {i} w{k} {g(v)}")
            coo = w.dJ.tocoo()
            rows = np.repeat(np.arange(self.num_spins), np.diff(self.J.indptr))
            for p, k, v in sorted(zip(coo.row.tolist(), coo.col.tolist(), coo.data.tolist())):
                i, j = int(rows[p]), int(self.J.indices[p])
                if i < j:
                    out.append(f"dJ {i} {j} w{k} {g(v)}")
            for k in np.flatnonzero(w.doff):
                out.append(f"doff w{k} {g(w.doff[k])}")
        for ch in self.chains:      # provenance ("source") is not part of the canonical form
            out.append("chain " + json.dumps({k: v for k, v in ch.items() if k != "source"}, sort_keys=True))
        return "\n".join(out) + "\n"

    def to_json(self) -> dict:
        """A JSON summary with the model's arrays (for --emit json)."""
        up = sp.triu(self.J, k=1).tocoo()
        return {
            "format": FORMAT, "version": FORMAT_VERSION, "num_spins": self.num_spins,
            "offset": self.offset, "beta": self.beta, "num_colors": self.num_colors,
            "layout": {k: {"start": s, "shape": list(sh), "kind": kd} for k, (s, sh, kd) in self.layout.items()},
            "h": self.h.tolist(), "J": [[int(i), int(j), float(v)] for i, j, v in zip(up.row, up.col, up.data)],
            "colors": self.colors.tolist(),
            "kbody": [[*map(int, row), float(c)] for k in sorted(self.kbody)
                      for row, c in zip(self.kbody[k][0], self.kbody[k][1])],
            "clamps": [[int(i), int(v)] for i, v in zip(self.clamp_index, self.clamp_value)],
            "observables": {k: list(v.shape) for k, v in self.observables.items()},
            "constraints": [{"name": c.name, "op": c.op, "instances": c.num_instances} for c in self.constraints],
            "chains": list(self.chains),
            "stats": self.stats(),
        }

    # ---- files
    def save(self, path) -> None:
        """A .pbir file (npz + JSON), written whole or not at all."""
        from .files import atomic_write
        arrays, meta = _to_arrays(self)
        arrays["meta.json"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        with atomic_write(path) as tmp, open(tmp, "wb") as fh:
            np.savez_compressed(fh, **arrays)

    @staticmethod
    def load(path) -> "IR":
        return load_ir(path)


def _poly_lines(prefix, polys):
    lines = []
    for p in polys:
        rows = sorted(zip(p.inst.tolist(), map(tuple, p.idx.tolist()), p.coeff.tolist()))
        for inst, idx, c in rows:
            lines.append(f"{prefix}[{inst}] {' '.join(map(str, idx)) or 'const'} {float(c):.12g}")
    return lines


def _freeze_csr(J) -> sp.csr_array:
    if not (isinstance(J, sp.csr_array) and not J.data.flags.writeable and not J.indices.flags.writeable
            and not J.indptr.flags.writeable):
        J = sp.csr_array(J)
        for a in (J.data, J.indices, J.indptr):
            a.flags.writeable = False
    return J


def make_ir(**kw) -> IR:
    """Build an IR, freezing its arrays."""
    for key in ("h", "colors", "clamp_index", "clamp_value", "h_term", "J_term"):
        if kw.get(key) is not None:
            kw[key] = _frozen(kw[key])
    kw["J"] = _freeze_csr(kw["J"])
    return IR(**kw)


# ---- npz + JSON ---------------------------------------------------------------
def _to_arrays(ir: IR):
    a = {"h": ir.h, "J_data": ir.J.data, "J_indices": ir.J.indices, "J_indptr": ir.J.indptr,
         "colors": ir.colors, "clamp_index": ir.clamp_index, "clamp_value": ir.clamp_value}
    if ir.h_term is not None:
        a["h_term"] = ir.h_term
        a["J_term"] = ir.J_term
    meta = {"format": FORMAT, "version": FORMAT_VERSION, "num_spins": ir.num_spins, "offset": ir.offset,
            "layout": {k: [s, list(sh), kd] for k, (s, sh, kd) in ir.layout.items()},
            "periodic": list(ir.periodic), "beta": ir.beta, "chains": list(ir.chains),
            "sources": list(ir.sources), "name": ir.name, "kbody": sorted(int(k) for k in ir.kbody),
            "observables": [], "constraints": []}
    if ir.labels:
        meta["labels"] = [labels_to_json(x) for x in ir.labels]
    for k, (idx, coeff) in ir.kbody.items():
        a[f"kbody/{k}/idx"], a[f"kbody/{k}/coeff"] = idx, coeff

    def put_polys(prefix, polys):
        for n, p in enumerate(polys):
            for field_ in ("inst", "idx", "coeff"):
                a[f"{prefix}/{n}/{field_}"] = getattr(p, field_)
        return [p.order for p in polys]

    for name, ob in ir.observables.items():
        meta["observables"].append({"name": name, "shape": list(ob.shape), "transform": ob.transform,
                                    "orders": put_polys(f"obs/{name}", ob.polys)})
    for c in ir.constraints:
        a[f"con/{c.name}/positions"] = c.positions
        a[f"con/{c.name}/penalty"] = c.penalty
        meta["constraints"].append({"name": c.name, "op": c.op, "shape": list(c.shape), "source": c.source,
                                    "orders": put_polys(f"con/{c.name}", c.polys)})
    if ir.weights is not None:
        w = ir.weights
        meta["weights"] = {"layout": {k: [s, list(sh)] for k, (s, sh) in w.layout.items()},
                           "offset_const": w.offset_const}
        a.update({"w/theta": w.theta, "w/h_const": w.h_const, "w/J_const": w.J_const, "w/doff": w.doff})
        for key, m in (("dh", w.dh), ("dJ", w.dJ)):
            a[f"w/{key}/data"], a[f"w/{key}/indices"], a[f"w/{key}/indptr"] = m.data, m.indices, m.indptr
            a[f"w/{key}/shape"] = np.asarray(m.shape, dtype=np.int64)
    return a, meta


def load_ir(path) -> IR:
    """A .pbir file's program, validated (see read_pbir)."""
    return read_pbir(path)[0]


def read_pbir(path) -> tuple:
    """(the IR, the file's other arrays) of a .pbir file, read as untrusted data: the file is
    checked by pbitlang.files before its arrays are read, and the IR by validate() before any
    kernel sees it; anything wrong is an IRFileError."""
    from .files import read_arrays, read_json
    arrays = read_arrays(path, IRFileError, ".pbir")
    meta = read_json(arrays, "meta.json", path, IRFileError, ".pbir")
    if meta.get("format") != FORMAT:
        raise IRFileError(f"{path}: not a .pbir file")
    if meta.get("version") != FORMAT_VERSION:
        raise IRFileError(f"{path}: .pbir format version {meta.get('version')} is not supported "
                          f"(this pbitlang reads version {FORMAT_VERSION})")
    try:
        ir = _from_arrays(arrays, meta)
        validate(ir)
    except (KeyError, ValueError, TypeError, IndexError, AttributeError, OverflowError, RecursionError) as err:
        raise IRFileError(f"{path}: malformed .pbir file ({type(err).__name__}: {str(err)[:200]})") from None
    return ir, {k: v for k, v in arrays.items() if k.startswith("dtm.")}


def validate(ir: IR) -> None:
    """Everything the compiled kernels take on trust, checked once where an IR comes from outside
    (a file): array kinds and sizes, CSR structure, every index in range, finite weights, a proper
    colouring (no two coupled spins share a colour), clamps of ±1.  Raises ValueError."""
    from .colour import coupling_graph, is_proper
    n, J = ir.num_spins, ir.J
    if n < 0 or ir.h.shape != (n,) or ir.colors.shape != (n,) or J.shape != (n, n):
        raise ValueError("array sizes do not match num_spins")
    for name, a, kind in (("h", ir.h, "f"), ("J data", J.data, "f"), ("J indices", J.indices, "i"),
                          ("J indptr", J.indptr, "i"), ("colors", ir.colors, "i"),
                          ("clamp_index", ir.clamp_index, "i"), ("clamp_value", ir.clamp_value, "i")):
        if a.dtype.kind not in (kind + "u" if kind == "i" else kind) or a.ndim != 1:
            raise ValueError(f"{name} must be a 1-D {'integer' if kind == 'i' else 'float'} array")
    _check_csr("J", J)
    canonical = J.copy()
    canonical.sum_duplicates()
    if canonical.nnz != J.nnz or (J.nnz and np.any(J.diagonal() != 0)):
        raise ValueError("J must list each coupling once, with no self-couplings")
    if not (np.all(np.isfinite(ir.h)) and np.all(np.isfinite(J.data)) and math.isfinite(ir.offset)):
        raise ValueError("weights must be finite")
    if abs(J - J.T).max() if J.nnz else 0:
        raise ValueError("J must be symmetric")
    _in_range("clamp_index", ir.clamp_index, n)
    if len(ir.clamp_value) != len(ir.clamp_index) or not np.all(np.abs(ir.clamp_value) == 1) \
            or len(np.unique(ir.clamp_index)) != len(ir.clamp_index):
        raise ValueError("clamps must be distinct spins with values ±1")
    for k, (idx, coeff) in ir.kbody.items():
        if idx.ndim != 2 or idx.shape != (len(coeff), k) or idx.dtype.kind not in "iu" or coeff.ndim != 1:
            raise ValueError(f"the {k}-body factors have the wrong shape")
        _in_range(f"{k}-body indices", idx, n)
        if not np.all(np.isfinite(coeff)):
            raise ValueError("weights must be finite")
    for what, polys, size in ([(f"observable {o.name}", o.polys, o.size) for o in ir.observables.values()]
                              + [(f"constraint {c.name}", c.polys, c.num_instances) for c in ir.constraints]):
        for p in polys:
            if p.idx.ndim != 2 or p.idx.shape != (len(p.inst), p.order) or len(p.coeff) != len(p.inst):
                raise ValueError(f"{what} has polynomials of the wrong shape")
            _in_range(what, p.idx, n)
            _in_range(what, p.inst, size)
    for name, (start, shape, _) in ir.layout.items():
        if start < 0 or start + math.prod(shape) > n or any(d < 0 for d in shape):
            raise ValueError(f"variable '{name}' lies outside the model's spins")
    for name, terms, size in (("h_term", ir.h_term, n), ("J_term", ir.J_term, len(J.data))):
        if terms is not None and (terms.shape != (size,) or terms.dtype.kind not in "iu" or terms.size and (
                terms.min() < -1 or terms.max() >= max(len(ir.sources), 1))):
            raise ValueError(f"{name} does not match the model")
    if ir.weights is not None:
        _validate_weights(ir.weights, n, len(J.data))
    for chain in ir.chains:
        if not isinstance(chain, dict) or not isinstance(chain.get("name"), str) or not isinstance(
                chain.get("over"), list) or not all(isinstance(v, str) and v in ir.layout for v in chain["over"]):
            raise ValueError("a chain must name itself and the declared variables it is over")
    if ir.labels and (len(ir.labels) != n or len(set(ir.labels)) != n):
        raise ValueError("labels must name every spin once")
    _in_range("colors", ir.colors, max(n, 1))
    if n and not is_proper(coupling_graph(n, J, ir.kbody), ir.colors):
        raise ValueError("the colouring is not proper: coupled spins share a colour")


def _validate_weights(w: WeightMap, n: int, nnz: int) -> None:
    W = len(w.theta)
    shapes = {"theta": (w.theta, (W,)), "h_const": (w.h_const, (n,)), "J_const": (w.J_const, (nnz,)),
              "doff": (w.doff, (W,))}
    for name, (a, shape) in shapes.items():
        if a.shape != shape or a.dtype.kind != "f" or not np.all(np.isfinite(a)):
            raise ValueError(f"the weights' {name} does not match the model")
    for name, m, shape in (("dh", w.dh, (n, W)), ("dJ", w.dJ, (nnz, W))):
        if m.shape != shape or not np.all(np.isfinite(m.data)):
            raise ValueError(f"the weights' {name} does not match the model")
        _check_csr(f"the weights' {name}", m)
    for name, (start, shape) in w.layout.items():
        if start < 0 or any(d < 0 for d in shape) or start + math.prod(shape) > W:
            raise ValueError(f"weight '{name}' lies outside the weights")
    if not math.isfinite(w.offset_const):
        raise ValueError("the weights' offset is not finite")


def _check_csr(name: str, m) -> None:
    """A CSR matrix whose structure compiled code (ours, scipy's) can trust: an index pointer that
    starts at 0, never decreases and ends at the number of entries, column indices in range."""
    ptr, rows, cols = m.indptr, m.shape[0], m.shape[1]
    if ptr.dtype.kind not in "iu" or m.indices.dtype.kind not in "iu" or len(ptr) != rows + 1 or ptr[0] != 0 \
            or ptr[-1] != len(m.indices) or len(m.data) != len(m.indices) or np.any(np.diff(ptr) < 0):
        raise ValueError(f"{name} is not a well-formed CSR matrix")
    _in_range(f"{name} indices", m.indices, cols)


def _in_range(name: str, a: np.ndarray, n: int) -> None:
    if a.size and (a.dtype.kind not in "iu" or a.min() < 0 or a.max() >= n):
        raise ValueError(f"{name} out of range")


INDEX_ARRAYS = ("indices", "indptr", "idx", "inst", "clamp_index", "clamp_value", "colors", "positions", "_term")


def _from_arrays(a: dict, meta: dict) -> IR:
    for key, value in list(a.items()):
        if key.endswith(INDEX_ARRAYS):
            if value.dtype.kind not in "iu":
                raise ValueError(f"'{key}' must hold integers, not {value.dtype}")
            if key.endswith("clamp_value") and not np.all(np.abs(value.astype(np.float64)) == 1):
                raise ValueError("clamp values must be ±1")
            a[key] = value.astype(np.int8 if key.endswith("clamp_value") else np.int64)   # ranges: validate()
        elif value.dtype.kind not in "iuf":
            raise ValueError(f"'{key}' has dtype {value.dtype}: a .pbir holds numbers only")
    n = int(meta["num_spins"])
    J = sp.csr_array((a["J_data"], a["J_indices"], a["J_indptr"]), shape=(n, n))
    if a["h"].shape != (n,) or a["colors"].shape != (n,):
        raise ValueError("array sizes do not match num_spins")

    def get_polys(prefix, orders):
        return tuple(Poly(int(o), a[f"{prefix}/{k}/inst"], a[f"{prefix}/{k}/idx"], a[f"{prefix}/{k}/coeff"])
                     for k, o in enumerate(orders))

    observables = {o["name"]: Observable(o["name"], tuple(o["shape"]), get_polys(f"obs/{o['name']}", o["orders"]),
                                         o.get("transform", "")) for o in meta["observables"]}
    constraints = tuple(Constraint(c["name"], c["op"], tuple(c["shape"]), a[f"con/{c['name']}/positions"],
                                   a[f"con/{c['name']}/penalty"], get_polys(f"con/{c['name']}", c["orders"]),
                                   c["source"]) for c in meta["constraints"])
    weights = None
    if "weights" in meta:
        wm = meta["weights"]

        def csr(key):
            shape = tuple(int(x) for x in a[f"w/{key}/shape"])
            return sp.csr_array((a[f"w/{key}/data"], a[f"w/{key}/indices"], a[f"w/{key}/indptr"]), shape=shape)

        weights = WeightMap({k: (int(s), tuple(sh)) for k, (s, sh) in wm["layout"].items()}, _frozen(a["w/theta"]),
                            a["w/h_const"], a["w/J_const"], float(wm["offset_const"]), csr("dh"), csr("dJ"),
                            a["w/doff"])
    return make_ir(
        num_spins=n, h=a["h"], J=J, offset=float(meta["offset"]), colors=a["colors"],
        layout={k: (int(s), tuple(sh), kd) for k, (s, sh, kd) in meta["layout"].items()},
        periodic=tuple(meta["periodic"]), clamp_index=a["clamp_index"], clamp_value=a["clamp_value"],
        kbody={int(k): (a[f"kbody/{k}/idx"], a[f"kbody/{k}/coeff"]) for k in meta["kbody"]},
        observables=observables, constraints=constraints, weights=weights, beta=meta["beta"],
        chains=tuple(meta["chains"]), sources=tuple(meta["sources"]), h_term=a.get("h_term"),
        J_term=a.get("J_term"), name=meta.get("name", "<input>"),
        labels=tuple(label_from_json(x) for x in meta.get("labels", ())))


def only_bits(layout: dict) -> bool:
    """Whether every declared variable of a layout is a bit (then models and samples go out as
    BINARY, 0/1; a program with any spin goes out over spins)."""
    return bool(layout) and all(kind == "bit" for _, _, kind in layout.values())


def labels_to_json(label):
    """A label as JSON: strings, whole numbers, finite floats, booleans, None, and tuples of them
    (written as lists: a list is never a label, so reading one back as a tuple is exact)."""
    if label is None or isinstance(label, (str, bool, int)) or (isinstance(label, float) and math.isfinite(label)):
        return label
    if isinstance(label, tuple):
        return [labels_to_json(x) for x in label]
    raise ValueError(f"the label {label!r} cannot be written to a file: labels in files are strings, numbers or "
                     f"tuples of them")


def label_from_json(x):
    if isinstance(x, list):
        return tuple(label_from_json(y) for y in x)
    if x is None or isinstance(x, (str, bool, int, float)):
        return x
    raise ValueError("a label must be a string, a number or a list of them")
