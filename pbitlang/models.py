"""Models given by their coefficients (a dimod BQM or polynomial, a COO, Gset or qbsolv file) as an IR.

`model_ir` is the one builder: linear biases, quadratic biases as (rows, cols, values), an
offset, higher-order terms, over SPIN (±1) or BINARY (0/1) variables with any labels.  BINARY
models are rewritten exactly over spins, x = (1 + s)/2, so that every backend samples them; the
variables stay bits in the layout (samples, to_dimod and files show 0/1)."""
from __future__ import annotations

import itertools
import math
import re
from collections import defaultdict
from pathlib import Path

import numpy as np
import scipy.sparse as sp

from .colour import colour, coupling_graph
from .errors import DataError, LimitError, PbitError, Source, Span, require
from .files import atomic_write
from .ir import make_ir, only_bits
from .limits import available_memory

VARTYPES = ("SPIN", "BINARY")
MAX_BINARY_ORDER = 16          # a BINARY k-body term becomes 2^k spin terms


def model_ir(num: int, linear=None, rows=(), cols=(), values=(), offset: float = 0.0, vartype: str = "SPIN",
             labels=None, higher=(), name: str = "<model>", shape: tuple | None = None):
    """The IR of E = offset + Σ linear_i v_i + Σ_k values_k v_rows_k v_cols_k + Σ c Π_{i∈term} v_i over
    `num` variables v (±1 for SPIN, 0/1 for BINARY).  Quadratic entries may repeat (they add) and
    may be self-terms (v_i² = 1 or v_i); `higher` is an iterable of (indices, coefficient).  The
    variables are one declared variable (`s` or `x`) of `shape` (default (num,))."""
    vartype = str(getattr(vartype, "name", vartype)).upper()
    if vartype not in VARTYPES:
        raise DataError(f"vartype must be SPIN or BINARY, got {vartype!r}")
    num = int(num)
    h = np.zeros(num) if linear is None else np.array(linear, dtype=np.float64).reshape(num)
    rows, cols = np.asarray(rows, dtype=np.int64).ravel(), np.asarray(cols, dtype=np.int64).ravel()
    values = np.asarray(values, dtype=np.float64).ravel()
    if not (len(rows) == len(cols) == len(values)):
        raise DataError("quadratic rows, columns and values must have the same length")
    for idx in (rows, cols):
        if idx.size and (idx.min() < 0 or idx.max() >= num):
            raise DataError(f"a quadratic term names a variable outside 0..{num - 1}")
    offset = float(offset)
    extra = defaultdict(float)                       # spin terms of order ≥ 3 (and any lower ones they make)
    for indices, coeff in higher:
        for term, c in _spin_terms(tuple(int(i) for i in indices), float(coeff), vartype, num):
            extra[term] += c
    same = rows == cols
    if vartype == "BINARY":
        # x_i x_j = (1 + s_i + s_j + s_i s_j)/4; x_i² = x_i = (1 + s_i)/2; x_i = (1 + s_i)/2
        a = h + np.bincount(rows[same], values[same], minlength=num)
        q = values[~same]
        r, c = rows[~same], cols[~same]
        offset += a.sum() / 2 + q.sum() / 4
        h = a / 2 + (np.bincount(r, q, minlength=num) + np.bincount(c, q, minlength=num)) / 4
        rows, cols, values = r, c, q / 4
    else:
        offset += values[same].sum()                  # s_i² = 1
        rows, cols, values = rows[~same], cols[~same], values[~same]
    offset, rows, cols, values, extra = _fold(extra, offset, h, rows, cols, values)
    J = sp.coo_array((np.r_[values, values], (np.r_[rows, cols], np.r_[cols, rows])), shape=(num, num)).tocsr()
    J.sum_duplicates()
    J.eliminate_zeros()
    kbody = _kbody(extra)
    if not (np.all(np.isfinite(h)) and np.all(np.isfinite(J.data)) and math.isfinite(offset)
            and all(np.all(np.isfinite(c)) for _, c in kbody.values())):
        raise DataError("the model's biases must be finite")
    kind = "bit" if vartype == "BINARY" else "spin"
    colors = colour(coupling_graph(num, J, kbody)) if num else np.zeros(0, np.int32)
    labels = tuple(range(num)) if labels is None else tuple(labels)
    if len(labels) != num or len(set(labels)) != num:
        raise DataError("the labels must name every variable once")
    return make_ir(num_spins=num, h=h, J=J, offset=offset, colors=colors,
                   layout={"x" if kind == "bit" else "s": (0, tuple(shape or (num,)), kind)}, kbody=kbody, name=name,
                   labels=labels)


def _spin_terms(indices: tuple, coeff: float, vartype: str, num: int):
    """A product term over SPIN or BINARY variables as spin terms (sorted index tuples)."""
    if any(not 0 <= i < num for i in indices):
        raise DataError(f"a term names a variable outside 0..{num - 1}")
    if vartype == "SPIN":                              # s² = 1: an index that appears twice drops out
        counts = defaultdict(int)
        for i in indices:
            counts[i] += 1
        yield tuple(sorted(i for i, k in counts.items() if k % 2)), coeff
        return
    distinct = tuple(sorted(set(indices)))             # x² = x
    if len(distinct) > MAX_BINARY_ORDER:
        raise LimitError(f"a BINARY term of order {len(distinct)} expands to 2^{len(distinct)} spin terms "
                         f"(at most order {MAX_BINARY_ORDER})")
    scale = coeff / 2 ** len(distinct)                 # Π (1 + s_i)/2 = 2^−k Σ over subsets
    for k in range(len(distinct) + 1):
        for subset in itertools.combinations(distinct, k):
            yield subset, scale


def _fold(terms: dict, offset: float, linear: np.ndarray, rows, cols, values) -> tuple:
    """Terms {sorted index tuple: coefficient} into a model's parts: the constant into the offset,
    one-index terms into `linear` (in place), pairs appended to (rows, cols, values); returns
    (offset, rows, cols, values, the terms of order ≥ 3 that are not zero)."""
    pairs = [(t, c) for t, c in terms.items() if len(t) == 2]
    for term, c in terms.items():
        if len(term) == 0:
            offset += c
        elif len(term) == 1:
            linear[term[0]] += c
    if pairs:
        rows = np.r_[rows, [t[0] for t, _ in pairs]].astype(np.int64)
        cols = np.r_[cols, [t[1] for t, _ in pairs]].astype(np.int64)
        values = np.r_[values, [c for _, c in pairs]]
    return offset, rows, cols, values, {t: c for t, c in terms.items() if len(t) >= 3 and c != 0}


def _kbody(terms: dict) -> dict:
    by_order = defaultdict(list)
    for term, c in terms.items():
        by_order[len(term)].append((term, c))
    return {k: (np.array([t for t, _ in items], dtype=np.int64), np.array([c for _, c in items], dtype=np.float64))
            for k, items in sorted(by_order.items())}


def spin_terms(ir) -> tuple:
    """(linear h, rows, cols, values of i < j, offset, {k: (idx, coeff)}) of an IR over spins,
    with its clamped spins substituted (the model a solver is asked to sample)."""
    clamp = dict(zip(ir.clamp_index.tolist(), ir.clamp_value.reshape(-1).tolist()))
    coo = sp.triu(ir.J, k=1).tocoo()
    h, offset = ir.h.astype(np.float64).copy(), float(ir.offset)
    rows, cols, vals = coo.row.astype(np.int64), coo.col.astype(np.int64), coo.data.astype(np.float64)
    higher = {k: (idx, coeff) for k, (idx, coeff) in ir.kbody.items()}
    if not clamp:
        return h, rows, cols, vals, offset, higher
    fixed = np.zeros(ir.num_spins)
    fixed[list(clamp)] = list(clamp.values())
    free = fixed == 0
    offset += float(h[~free] @ fixed[~free])
    h[~free] = 0.0
    both, first, second = ~free[rows] & ~free[cols], ~free[rows] & free[cols], free[rows] & ~free[cols]
    offset += float((vals[both] * fixed[rows[both]] * fixed[cols[both]]).sum())
    np.add.at(h, cols[first], vals[first] * fixed[rows[first]])
    np.add.at(h, rows[second], vals[second] * fixed[cols[second]])
    keep = free[rows] & free[cols]
    reduced = defaultdict(float)
    for k, (idx, coeff) in higher.items():
        for term, c in zip(idx.tolist(), coeff.tolist()):
            rest = tuple(i for i in term if free[i])
            reduced[rest] += c * float(np.prod([fixed[i] for i in term if not free[i]]))
    offset, rows, cols, vals, rest = _fold({tuple(sorted(t)): c for t, c in reduced.items()}, offset, h,
                                           rows[keep], cols[keep], vals[keep])
    return h, rows, cols, vals, offset, _kbody(rest)


def dimod_ir(model, name: str = "<dimod>"):
    """The IR of a dimod BinaryQuadraticModel or BinaryPolynomial (see pbitlang.dimod.from_dimod)."""
    dimod = require("dimod", "dimod", "dimod interop")
    if isinstance(model, dimod.BinaryPolynomial):
        labels = list(model.variables)
        index = {v: k for k, v in enumerate(labels)}
        higher = [(tuple(index[v] for v in term), bias) for term, bias in model.items()]
        return model_ir(len(labels), vartype=model.vartype.name, labels=labels, higher=higher, name=name)
    if not isinstance(model, dimod.BinaryQuadraticModel):
        raise PbitError(f"from_dimod takes a dimod BinaryQuadraticModel or BinaryPolynomial, not {type(model).__name__}")
    labels = list(model.variables)
    linear, (rows, cols, values), offset = model.to_numpy_vectors(variable_order=labels)
    return model_ir(len(labels), linear, rows, cols, values, offset, model.vartype.name, labels, name=name)


def to_dimod(ir):
    """The compiled model as dimod sees it (Program.to_dimod): a BinaryQuadraticModel, or a BinaryPolynomial when it
    has k-body factors; BINARY when every variable is a bit, SPIN otherwise; labelled by the
    model's own labels or the spin names (`s[3, 4]`).  Evidence is substituted: clamped spins are
    not variables of the result."""
    dimod = require("dimod", "dimod", "dimod interop")
    h, rows, cols, values, offset, higher = spin_terms(ir)
    clamped = set(ir.clamp_index.tolist())
    free = [i for i in range(ir.num_spins) if i not in clamped]
    labels = [ir.label(i) for i in range(ir.num_spins)]
    binary = only_bits(ir.layout)
    if higher:
        terms = {frozenset([labels[i]]): float(h[i]) for i in free}
        terms[frozenset()] = offset
        for i, j, v in zip(rows.tolist(), cols.tolist(), values.tolist()):
            key = frozenset((labels[i], labels[j]))
            terms[key] = terms.get(key, 0.0) + v
        for idx, coeff in higher.values():
            for term, c in zip(idx.tolist(), coeff.tolist()):
                key = frozenset(labels[i] for i in term)
                terms[key] = terms.get(key, 0.0) + c
        poly = dimod.BinaryPolynomial(terms, dimod.SPIN)
        return poly.to_binary() if binary else poly
    bqm = dimod.BinaryQuadraticModel(dimod.SPIN)
    bqm.add_variables_from((labels[i], float(h[i])) for i in free)
    bqm.add_quadratic_from((labels[i], labels[j], v) for i, j, v in zip(rows.tolist(), cols.tolist(),
                                                                        values.tolist()))
    bqm.offset = offset
    return bqm.change_vartype(dimod.BINARY, inplace=False) if binary else bqm


# ---- model files ------------------------------------------------------------------------------
FORMATS = {".coo": "coo", ".qubo": "qubo", ".gset": "gset", ".bqm": "bqm"}


def format_of(path, format: str | None = None) -> str:
    """A model file's format: given, or from its suffix (.coo, .qubo, .gset, .bqm)."""
    if format is not None:
        if format not in FORMATS.values():
            raise DataError(f"unknown model format '{format}' (formats: {', '.join(sorted(FORMATS.values()))})")
        return format
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise DataError(f"{path}: the model format cannot be told from the suffix '{suffix}': name it "
                        f"(--format {'|'.join(sorted(FORMATS.values()))})")
    return FORMATS[suffix]


def read_model(path, format: str | None = None):
    """The IR of a model file: dimod's BQM file, COO, Gset (max-cut) or qbsolv .qubo."""
    fmt = format_of(path, format)
    if fmt == "bqm":
        return _read_bqm(Path(path))
    source = read_text(Path(path))
    return {"coo": _coo, "gset": _gset, "qubo": _qubo}[fmt](source)


def read_bytes(path: Path) -> bytes:
    """A model file's bytes, refused when it would not fit in a twentieth of free memory."""
    try:
        size = path.stat().st_size
        if size > available_memory() // 20:
            raise LimitError(f"{path}: {size:,} bytes is too large a model file for this machine's free memory")
        return path.read_bytes()
    except FileNotFoundError:
        raise DataError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise DataError(f"{path}: is a directory") from None
    except OSError as err:
        raise DataError(f"{path}: cannot be read ({err.strerror})") from None


def read_text(path: Path) -> Source:
    try:
        return Source(str(path), read_bytes(path).decode("utf-8"))
    except UnicodeDecodeError:
        raise DataError(f"{path}: not a text file (not UTF-8)") from None


class _Lines:
    """The data lines of a text model file as (line number, [(column, token)]), comments skipped,
    and located errors: `file:line:col`, the line and a caret under the token."""

    def __init__(self, source: Source, comments: tuple):
        self.source = source
        self.comments = comments

    def __iter__(self):
        for number, line in enumerate(self.source.text.splitlines(), 1):
            stripped = line.strip()
            if not stripped or stripped.startswith(self.comments):
                continue
            yield number, [(m.start() + 1, m.group()) for m in re.finditer(r"\S+", line)]

    def error(self, message: str, number: int, column: int = 1, width: int = 1) -> DataError:
        return DataError(message, Span(self.source, number, column, number, column + width))

    def numbers(self, number: int, tokens: list, kinds: tuple, what: str) -> list:
        """The line's tokens as `kinds` (int or float), exactly as many as kinds."""
        if len(tokens) != len(kinds):
            col, tok = tokens[len(kinds)] if len(tokens) > len(kinds) else tokens[-1]   # the first extra, or the last
            raise self.error(f"{what}: expected {len(kinds)} numbers on this line, found {len(tokens)}", number, col,
                             len(tok))
        out = []
        for (col, tok), kind in zip(tokens, kinds):
            try:
                value = kind(tok)
            except ValueError:
                raise self.error(f"{what}: '{tok[:40]}' is not {'a whole number' if kind is int else 'a number'}",
                                 number, col, len(tok)) from None
            if kind is float and not math.isfinite(value):
                raise self.error(f"{what}: the bias must be finite", number, col, len(tok))
            if kind is int and abs(value) > 2 ** 53:
                raise self.error(f"{what}: the index {tok[:40]} is too large", number, col, len(tok))
            out.append(value)
        return out


def _coo(source: Source):
    """dimod's COO: `i j bias` per line (i = j: a linear bias), `# vartype=SPIN|BINARY` (default
    SPIN); pbitlang also writes and reads `# offset=VALUE`.  Labels are the integers of the file."""
    vartype, offset = "SPIN", 0.0
    for number, line in enumerate(source.text.splitlines(), 1):
        m = re.match(r"\s*#\s*(vartype|offset)\s*=\s*(\S+)", line)
        if m and m.group(1) == "vartype":
            vartype = m.group(2).upper()
            if vartype not in VARTYPES:
                raise DataError(f"vartype must be SPIN or BINARY, got '{m.group(2)}'",
                                Span(source, number, m.start(2) + 1, number, m.end(2) + 1))
        elif m:
            try:
                offset = float(m.group(2))
            except ValueError:
                raise DataError(f"the offset '{m.group(2)}' is not a number",
                                Span(source, number, m.start(2) + 1, number, m.end(2) + 1)) from None
    lines = _Lines(source, ("#",))
    entries = [lines.numbers(number, tokens, (int, int, float), "a COO line 'i j bias'") for number, tokens in lines]
    return _labelled(entries, vartype, offset, source.name)


def _qubo(source: Source):
    """qbsolv's .qubo: comments `c …`, a header `p qubo topology maxNodes nNodes nCouplers`, then
    nNodes lines `i i w` and nCouplers lines `i j w` (BINARY)."""
    checker = _Lines(source, ("c",))
    lines = iter(checker)
    try:
        number, tokens = next(lines)
    except StopIteration:
        raise DataError(f"{source.name}: empty .qubo file (it starts with 'p qubo topology maxNodes nNodes "
                        f"nCouplers')") from None
    if len(tokens) != 6 or tokens[0][1] != "p" or tokens[1][1] != "qubo":
        raise checker.error("a .qubo file starts with 'p qubo topology maxNodes nNodes nCouplers'", number,
                            tokens[0][0], len(tokens[0][1]))
    max_nodes, nodes, couplers = checker.numbers(number, tokens[3:], (int, int, int), "the .qubo header")
    entries = []
    for k, (number, tokens) in enumerate(lines):
        i, j, w = checker.numbers(number, tokens, (int, int, float), "a .qubo line 'i j w'")
        if (k < nodes) != (i == j):
            raise checker.error(f"the header promises {nodes} node lines (i i w) first, then {couplers} couplers "
                                f"(i j w, i ≠ j)", number, tokens[0][0], len(tokens[0][1]))
        if not (0 <= i < max_nodes and 0 <= j < max_nodes):
            raise checker.error(f"node {i if not 0 <= i < max_nodes else j} is outside 0..{max_nodes - 1} "
                                f"(maxNodes {max_nodes})", number, tokens[0][0], len(tokens[0][1]))
        entries.append((i, j, w))
    if len(entries) != nodes + couplers:
        raise DataError(f"{source.name}: the header promises {nodes} nodes and {couplers} couplers, the file has "
                        f"{len(entries)} lines of them")
    return _labelled(entries, "BINARY", 0.0, source.name)


def _gset(source: Source):
    """Gset / MQLib max-cut as a model: the cut's negative, E(s) = Σ w_ij (s_i s_j − 1)/2, whose
    minimum is minus the largest cut (a sample's energy reads as minus its cut weight).  Labels are
    the file's node numbers 1..n."""
    n, rows, cols, values = gset_edges(source)
    return model_ir(n, None, rows, cols, values / 2, -values.sum() / 2, "SPIN", labels=range(1, n + 1),
                    name=source.name)


def gset_edges(source: Source) -> tuple:
    """(n, rows, cols, weights) of a Gset / MQLib file: `n m`, then m lines `i j w` with nodes
    1..n (rows and cols are 0-based)."""
    checker = _Lines(source, ("#", "%", "c "))
    lines = iter(checker)
    try:
        number, tokens = next(lines)
    except StopIteration:
        raise DataError(f"{source.name}: empty Gset file (it starts with 'n m')") from None
    n, m = checker.numbers(number, tokens, (int, int), "the Gset header 'n m'")
    if n < 1 or m < 0:
        raise checker.error("the Gset header needs n ≥ 1 nodes and m ≥ 0 edges", number, tokens[0][0])
    rows, cols, values = [], [], []
    for number, tokens in lines:
        i, j, w = checker.numbers(number, tokens, (int, int, float), "a Gset edge 'i j w'")
        for value, (col, tok) in ((i, tokens[0]), (j, tokens[1])):
            if not 1 <= value <= n:
                raise checker.error(f"node {value} is outside 1..{n}", number, col, len(tok))
        if i == j:
            raise checker.error("an edge joins two different nodes", number, tokens[1][0], len(tokens[1][1]))
        rows.append(i - 1)
        cols.append(j - 1)
        values.append(w)
    if len(values) != m:
        raise DataError(f"{source.name}: the header promises {m} edges, the file has {len(values)}")
    return n, np.asarray(rows, dtype=np.int64), np.asarray(cols, dtype=np.int64), np.asarray(values, dtype=np.float64)


def _labelled(entries: list, vartype: str, offset: float, name: str):
    """(i, j, bias) entries over integer labels → an IR whose labels are the sorted distinct integers."""
    if not entries:
        return model_ir(0, vartype=vartype, offset=offset, name=name)
    table = np.asarray(entries, dtype=np.float64)
    ends = table[:, :2].astype(np.int64)
    labels, index = np.unique(ends, return_inverse=True)
    index = index.reshape(-1, 2)
    return model_ir(len(labels), None, index[:, 0], index[:, 1], table[:, 2], offset, vartype,
                    labels=[int(x) for x in labels], name=name)


BQM_MAGIC = b"DIMODBQM"
BQM_DTYPES = {"float32", "float64"}
BQM_ITYPES = {"int8", "int16", "int32", "int64", "uint8", "uint16", "uint32", "uint64"}
MAX_HEADER_BYTES = 1 << 20


def _read_bqm(path: Path):
    """dimod's BQM file (format versions 1–2, what BinaryQuadraticModel.to_file writes), read and
    checked here: dimod's own reader trusts the indices in the file, and a damaged one crashes it."""
    blob = read_bytes(path)
    try:
        return _bqm_ir(blob, str(path))
    except (ValueError, TypeError, KeyError, IndexError, OverflowError, RecursionError, UnicodeDecodeError) as err:
        raise DataError(f"{path}: not a dimod BQM file, or a damaged one ({str(err)[:200]})") from None


def _bqm_ir(blob: bytes, name: str):
    import json
    if blob[:8] != BQM_MAGIC or len(blob) < 14:
        raise ValueError("it does not start with DIMODBQM")
    version = (blob[8], blob[9])
    if version[0] not in (1, 2):
        raise ValueError(f"format version {version[0]}.{version[1]} (pbitlang reads versions 1 and 2)")
    header_len = int.from_bytes(blob[10:14], "little")
    if header_len > MAX_HEADER_BYTES or 14 + header_len > len(blob):
        raise ValueError("the header is longer than the file")
    head = json.loads(blob[14:14 + header_len].decode("ascii"))
    if not isinstance(head, dict) or head.get("vartype") not in VARTYPES:
        raise ValueError("the header has no SPIN or BINARY vartype")
    if head.get("dtype") not in BQM_DTYPES or head.get("itype") not in BQM_ITYPES or head.get("ntype") not in BQM_ITYPES:
        raise ValueError("unknown number types in the header")
    shape = head.get("shape")
    if not (isinstance(shape, list) and len(shape) == 2 and all(isinstance(k, int) and not isinstance(k, bool)
                                                              and k >= 0 for k in shape)):
        raise ValueError("the header's shape must be two whole numbers ≥ 0")
    n, m = shape
    dtype, itype, ntype = (np.dtype(head[k]).newbyteorder("<") for k in ("dtype", "itype", "ntype"))
    linear_t = np.dtype([("nidx", ntype), ("bias", dtype)])
    quad_t = np.dtype([("outvar", itype), ("bias", dtype)])
    pos = 14 + header_len
    need = dtype.itemsize + n * linear_t.itemsize + 2 * m * quad_t.itemsize
    if pos + need > len(blob):
        raise ValueError(f"the header promises {n} variables and {m} interactions, the file is shorter")
    offset = float(np.frombuffer(blob, dtype, 1, pos)[0])
    pos += dtype.itemsize
    lin = np.frombuffer(blob, linear_t, n, pos)
    pos += n * linear_t.itemsize
    quad = np.frombuffer(blob, quad_t, 2 * m, pos)
    pos += 2 * m * quad_t.itemsize
    starts = lin["nidx"].astype(np.int64)
    if n and (starts[0] != 0 or np.any(np.diff(starts) < 0) or starts[-1] > 2 * m):
        raise ValueError("the neighbourhood offsets are out of order")
    owner = np.repeat(np.arange(n), np.diff(np.r_[starts, 2 * m])) if n else np.zeros(0, np.int64)
    other = quad["outvar"].astype(np.int64)
    if len(owner) != 2 * m or np.any((other < 0) | (other >= n)) or np.any(other == owner):
        raise ValueError("an interaction names a variable outside the model")
    lower = other < owner                                         # each interaction once, as dimod reads it
    labels = list(range(n))
    if head.get("variables"):
        if version[0] == 1:
            raw = head["variables"]
        else:
            if blob[pos:pos + 4] != b"VARS" or pos + 8 > len(blob):
                raise ValueError("the variable labels are missing")
            length = int.from_bytes(blob[pos + 4:pos + 8], "little")
            if pos + 8 + length > len(blob) or length > len(blob):
                raise ValueError("the variable labels are longer than the file")
            raw = json.loads(blob[pos + 8:pos + 8 + length].decode("utf-8"))
        if not isinstance(raw, list) or len(raw) != n:
            raise ValueError("the variable labels do not match the number of variables")
        from .ir import label_from_json
        labels = [label_from_json(x) for x in raw]
    return model_ir(n, lin["bias"].astype(np.float64), owner[lower], other[lower],
                    quad["bias"][lower].astype(np.float64), offset, head["vartype"], labels=labels, name=name)


def write_model(ir, path, format: str | None = None) -> None:
    """Write a compiled model as a COO or dimod BQM file (whole or not at all); evidence substituted."""
    fmt = format_of(path, format)
    if fmt == "bqm":
        data = to_dimod(ir)
        if not hasattr(data, "to_file"):
            raise DataError("a BQM file holds a quadratic model; this one has k-body factors")
        blob = data.to_file().read()
    elif fmt == "coo":
        blob = coo_text(ir).encode()
    else:
        raise DataError(f"pbitlang writes models as coo or bqm, not {fmt}")
    with atomic_write(path) as tmp:
        Path(tmp).write_bytes(blob)


def binary_terms(ir) -> tuple:
    """(offset, linear, rows, cols, values, {term: coeff} of order ≥ 3) of the model over bits
    x = (1 + s)/2, evidence substituted: s = 2x − 1 expanded term by term."""
    h, rows, cols, values, offset, higher = spin_terms(ir)
    J_sum = np.bincount(rows, values, minlength=len(h)) + np.bincount(cols, values, minlength=len(h))
    offset += values.sum() - h.sum()
    linear = 2 * h - 2 * J_sum
    rows, cols, values = rows.copy(), cols.copy(), 4 * values
    extra = defaultdict(float)
    for idx, coeff in higher.values():
        if idx.shape[1] > MAX_BINARY_ORDER:
            raise LimitError(f"a term of order {idx.shape[1]} expands to 2^{idx.shape[1]} terms over bits "
                             f"(at most order {MAX_BINARY_ORDER})")
        for term, c in zip(idx.tolist(), coeff.tolist()):         # Π (2x_i − 1) = Σ_S 2^|S| (−1)^(k−|S|) Π_S x
            k = len(term)
            for size in range(k + 1):
                for subset in itertools.combinations(sorted(term), size):
                    extra[subset] += c * 2.0 ** size * (-1.0) ** (k - size)
    offset, rows, cols, values, higher_bits = _fold(extra, offset, linear, rows, cols, values)
    return float(offset), linear, rows, cols, values, higher_bits


def coo_text(ir) -> str:
    """COO over the spin indices 0..n−1 (BINARY when every variable is a bit), with the offset."""
    if ir.kbody:
        raise DataError("a COO file holds a quadratic model; this one has k-body factors")
    binary = only_bits(ir.layout)
    if binary:
        offset, h, rows, cols, values, _ = binary_terms(ir)
    else:
        h, rows, cols, values, offset, _ = spin_terms(ir)
    out = [f"# vartype={'BINARY' if binary else 'SPIN'}", f"# offset={float(offset)!r}"]
    out += [f"{i} {i} {v!r}" for i, v in enumerate(h.tolist()) if v != 0]
    out += [f"{i} {j} {v!r}" for i, j, v in zip(rows.tolist(), cols.tolist(), values.tolist()) if v != 0]
    return "\n".join(out) + "\n"


# ---- OMMX -------------------------------------------------------------------------------------
def ommx_ir(instance, penalty: float | None = None):
    """The IR of an OMMX Instance: its QUBO by OMMX's own to_qubo() (maximisation negated,
    constraints as penalties of weight `penalty`, integers log-encoded into binaries), labelled
    by the decision variables' ids."""
    require("ommx.v1", "ommx", "OMMX interop")
    if instance.constraints and penalty is None:
        raise DataError(f"the instance has {len(instance.constraints)} constraints: give penalty= (the weight of "
                        f"OMMX's uniform penalty method) to sample it as an unconstrained model")
    copy = type(instance).from_bytes(instance.to_bytes())       # to_qubo rewrites the instance it is given
    qubo, offset = copy.to_qubo(uniform_penalty_weight=penalty) if instance.constraints else copy.to_qubo()
    labels = sorted({i for pair in qubo for i in pair})
    index = {v: k for k, v in enumerate(labels)}
    pairs = np.array([(index[i], index[j]) for i, j in qubo], dtype=np.int64).reshape(-1, 2)
    return model_ir(len(labels), None, pairs[:, 0], pairs[:, 1], list(qubo.values()), offset, "BINARY",
                    labels=labels, name="<ommx>")


def to_ommx(ir):
    """The model as an OMMX Instance to minimise: a binary decision variable per spin (id = its
    index, name and subscripts from the layout), the energy over bits as the objective (a
    polynomial when it has k-body terms), evidence substituted."""
    v1 = require("ommx.v1", "ommx", "OMMX interop")
    offset, linear, rows, cols, values, higher = binary_terms(ir)
    owner = {}
    for name, (start, shape, _) in ir.layout.items():
        for k in range(math.prod(shape)):
            owner[start + k] = (name, [int(x) for x in np.unravel_index(k, shape)] if shape else [])
    variables = [v1.DecisionVariable.binary(i, name=owner.get(i, ("s", [i]))[0], subscripts=owner.get(i, ("s", [i]))[1])
                 for i in range(ir.num_spins)]
    lin = {i: float(c) for i, c in enumerate(linear.tolist()) if c != 0}
    if higher:
        terms = {(i,): c for i, c in lin.items()}
        for i, j, c in zip(rows.tolist(), cols.tolist(), values.tolist()):
            terms[(i, j)] = terms.get((i, j), 0.0) + c
        terms.update({tuple(t): c for t, c in higher.items()})
        terms[()] = offset
        objective = v1.Polynomial(terms=terms)
    else:
        objective = v1.Quadratic(columns=cols.tolist(), rows=rows.tolist(), values=values.tolist(),
                                 linear=v1.Linear(terms=lin, constant=offset))
    return v1.Instance.from_components(decision_variables=variables, objective=objective, constraints=[],
                                       sense=v1.Instance.MINIMIZE)
