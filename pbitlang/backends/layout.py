"""What the reference and the emulator share about laying out a model and its samples.

Dense tiles: the parts of a colour block's couplings that are dense (an RBM's layers) go through
BLAS in both backends, found here.  Recording: the samplers keep spins × chains, so recording a
state into the (chains, kept, n) layout results use is a transpose, and a plain numpy transposed
assignment of one state costs more than a sweep of a sparse lattice; the compiled copies go eight
spins at a time, the eight reads sharing cache lines."""
from __future__ import annotations

import hashlib
import threading

import numpy as np
import scipy.sparse as sp
from numba import njit
from scipy.sparse.csgraph import connected_components


def dense_tiles(rows: sp.csr_array, density: float, area: int) -> list:
    """(r0, r1, c0, c1) of dense rectangles in a block's pattern: for each group of rows linked by
    shared columns (a connected component) that is a contiguous range, the span of the columns half
    its rows use, if that rectangle is at least `density` filled and `area` entries large.  Linear in
    the entries (up to a sort): only components with entries enough for a tile are looked into."""
    R, n = rows.shape
    if R == 0 or rows.nnz == 0:
        return []
    # rows and columns as the nodes of one graph, each row linked to its columns (an undirected
    # search follows the links both ways)
    indptr = np.concatenate([rows.indptr, np.full(n, rows.indptr[-1])])
    graph = sp.csr_array((np.ones(rows.nnz, np.int8), rows.indices + R, indptr), shape=(R + n, R + n))
    count, label = connected_components(graph, directed=False)
    row_label = label[:R]
    size = np.bincount(row_label, minlength=count)
    first = np.full(count, R)
    np.minimum.at(first, row_label, np.arange(R))
    entries = np.bincount(row_label, weights=np.diff(rows.indptr), minlength=count)
    contiguous = np.flatnonzero((size >= 2) & (entries >= density * area))
    tiles = []
    for comp in contiguous:
        r0, r1 = int(first[comp]), int(first[comp] + size[comp])
        if not np.all(row_label[r0:r1] == comp):
            continue
        cols, uses = np.unique(rows.indices[rows.indptr[r0]:rows.indptr[r1]], return_counts=True)
        common = cols[uses >= max(2, (r1 - r0 + 1) // 2)]
        if not len(common):
            continue
        c0, c1 = int(common[0]), int(common[-1]) + 1
        inside = int(uses[(cols >= c0) & (cols < c1)].sum())
        cells = (r1 - r0) * (c1 - c0)
        if cells >= area and inside >= density * cells:
            tiles.append((r0, r1, c0, c1))
    return tiles


def row_ptr(row_of: np.ndarray, rows: int) -> np.ndarray:
    """CSR row pointers of entries listed in row order (row_of: each entry's row)."""
    return np.r_[0, np.cumsum(np.bincount(row_of, minlength=rows))].astype(np.int64)


def entries_in(rows: np.ndarray, part: sp.csr_array) -> sp.csr_array:
    """The entries of `part` that `rows` (a mask over its entries) keeps, as a matrix of its shape."""
    row_of = np.repeat(np.arange(part.shape[0]), np.diff(part.indptr))
    return sp.csr_array((part.data[rows], part.indices[rows], row_ptr(row_of[rows], part.shape[0])), shape=part.shape)


def entry_labels(nnz: int) -> np.ndarray:
    """J.data numbered 1..nnz as float64: carried through a restructuring (a permutation, a slice) as a
    matrix's data, the numbers say where each entry went (explicit zeros of the pattern are kept)."""
    return np.arange(1, nnz + 1, dtype=np.float64)


def split_tiles(R: int, row_of: np.ndarray, cols: np.ndarray, labels: np.ndarray, width: int, nnz: int,
                density: float, area: int) -> tuple:
    """The dense tiles among one colour block's entries (row, column, label — see entry_labels) of a
    part R rows by `width` columns, of a J with nnz entries: ([(rect (r0, r1, c0, c1), cells)], mask of
    the entries left out of every tile).  cells: for each cell of the rect, row-major, the entry of
    J.data it holds, or nnz where it is empty, so a tile's weights are one gather from J.data with
    a zero appended."""
    part = sp.csr_array((labels, cols, row_ptr(row_of, R)), shape=(R, width))
    found, in_tile = [], np.zeros(len(cols), dtype=bool)
    for r0, r1, c0, c1 in dense_tiles(part, density, area):
        inside = (row_of >= r0) & (row_of < r1) & (cols >= c0) & (cols < c1)
        cells = np.full((r1 - r0) * (c1 - c0), nnz, dtype=np.int64)
        cells[(row_of[inside] - r0) * (c1 - c0) + cols[inside] - c0] = labels[inside].astype(np.int64) - 1
        found.append(((r0, r1, c0, c1), cells))
        in_tile |= inside
    return found, ~in_tile


class StructureCache:
    """The last `size` layouts, keyed by a digest of the arrays they are built from: a DTM's generation
    samples T step models of one structure, and repeated sample() calls on one model would otherwise
    rebuild the same layout.  Models with more than max_nnz couplings are not kept (a layout is as
    large as its J)."""

    def __init__(self, size: int, max_nnz: int):
        self.size, self.max_nnz = size, max_nnz
        self.entries: dict = {}                     # digest → layout, most recent last
        self.lock = threading.Lock()

    def get(self, parts, nnz: int, build):
        """The layout for `parts` (arrays and numbers), built by build() when it is not kept."""
        if nnz > self.max_nnz:
            return build()
        digest = hashlib.blake2b(digest_size=20)
        for part in parts:
            digest.update(np.ascontiguousarray(part).tobytes())
            digest.update(b"|")
        key = digest.digest()
        with self.lock:
            layout = self.entries.pop(key, None)
            if layout is None:
                layout = build()
            self.entries[key] = layout
            while len(self.entries) > self.size:
                self.entries.pop(next(iter(self.entries)))
        return layout


M32, M16, M8 = np.uint64(0x00000000FFFFFFFF), np.uint64(0x0000FFFF0000FFFF), np.uint64(0x00FF00FF00FF00FF)


@njit(cache=True)
def _transpose_blocks(G64, rec64, k, w0, w1):
    """rec[c, k, i] = G[i, c] for the chains of words w0..w1-1, with G (spins × chains, int8) seen as
    words of 8 chains (G64) and rec (chains, kept, spins) as words of 8 spins (rec64): each 8 × 8
    block of states is 8 words in, three rounds of masked swaps (the 8 × 8 byte transpose of Hacker's
    Delight) and 8 words out — a state copied one by one costs ≈2.5× as much.  Chain word by chain
    word, so that the 8 rows being written fill their lines one after another (rows kept·spins bytes
    apart alias in the cache when that is a multiple of 4 KB)."""
    s32, s16, s8 = np.uint64(32), np.uint64(16), np.uint64(8)
    for w in range(w0, w1):
        c = 8 * w
        for b in range(G64.shape[0] // 8):
            i = 8 * b
            a0, a1, a2, a3 = G64[i, w], G64[i + 1, w], G64[i + 2, w], G64[i + 3, w]
            a4, a5, a6, a7 = G64[i + 4, w], G64[i + 5, w], G64[i + 6, w], G64[i + 7, w]
            t = ((a0 >> s32) ^ a4) & M32
            a4 ^= t
            a0 ^= t << s32
            t = ((a1 >> s32) ^ a5) & M32
            a5 ^= t
            a1 ^= t << s32
            t = ((a2 >> s32) ^ a6) & M32
            a6 ^= t
            a2 ^= t << s32
            t = ((a3 >> s32) ^ a7) & M32
            a7 ^= t
            a3 ^= t << s32
            t = ((a0 >> s16) ^ a2) & M16
            a2 ^= t
            a0 ^= t << s16
            t = ((a1 >> s16) ^ a3) & M16
            a3 ^= t
            a1 ^= t << s16
            t = ((a4 >> s16) ^ a6) & M16
            a6 ^= t
            a4 ^= t << s16
            t = ((a5 >> s16) ^ a7) & M16
            a7 ^= t
            a5 ^= t << s16
            t = ((a0 >> s8) ^ a1) & M8
            a1 ^= t
            a0 ^= t << s8
            t = ((a2 >> s8) ^ a3) & M8
            a3 ^= t
            a2 ^= t << s8
            t = ((a4 >> s8) ^ a5) & M8
            a5 ^= t
            a4 ^= t << s8
            t = ((a6 >> s8) ^ a7) & M8
            a7 ^= t
            a6 ^= t << s8
            rec64[c, k, b], rec64[c + 1, k, b], rec64[c + 2, k, b], rec64[c + 3, k, b] = a0, a1, a2, a3
            rec64[c + 4, k, b], rec64[c + 5, k, b], rec64[c + 6, k, b], rec64[c + 7, k, b] = a4, a5, a6, a7


@njit(cache=True)
def record_state(S, record, k, c0, c1):
    """record[c, k, i] = S[i, c] for the chains c0..c1-1 (the emulator's int8 state): whole words of 8
    chains as 8 × 8 blocks (_transpose_blocks) where the shapes allow, the rest state by state."""
    n = S.shape[0]
    if record.shape[2] != n or k >= record.shape[1] or c1 > min(record.shape[0], S.shape[1]):
        raise ValueError("record_state: record must be (chains, kept, n)")
    if n % 8 == 0 and S.shape[1] % 8 == 0 and c0 % 8 == 0:
        _transpose_blocks(S.view(np.uint64), record.view(np.uint64), k, c0 // 8, c1 // 8)
        c0 = c1 - c1 % 8                  # the chains after the last whole word, below
    top = n - n % 8
    for i0 in range(0, top, 8):
        for c in range(c0, c1):
            for q in range(8):
                record[c, k, i0 + q] = S[i0 + q, c]
    for c in range(c0, c1):
        for i in range(top, n):
            record[c, k, i] = S[i, c]


@njit(cache=True)
def record_rows(X, rows, record, k):
    """record[c, k, i] = X[rows[i], c] as int8, every chain (the reference's ±1.0 state, whose rows are in
    its colour-block order: rows maps spin i to its row): the rows gathered into spin order as int8,
    then recorded as record_state does.  (A scratch of the whole state: gathering and moving 256
    spins at a time, to stay in cache, measured 20 % slower — the rows written are then revisited
    in short runs.)"""
    n, C = rows.shape[0], X.shape[1]
    if record.shape[2] != n or k >= record.shape[1] or record.shape[0] != C:
        raise ValueError("record_rows: record must be (chains, kept, n)")
    G = np.empty((n, C), np.int8)
    gather_rows(X, rows, G)
    record_state(G, record, k, 0, C)


@njit(cache=True)
def set_rows(X, rows, values):
    """X[rows[k], c] = values[c, k]: per-chain clamp values (chains, k) into the rows of a spins ×
    chains state.  int8 values whose chains and rows are multiples of 8 are turned (k, chains) by
    8 × 8 byte blocks (_transpose_blocks) and then written row by row: 4× the copy below, which goes
    a cache line of values' columns at a time (column by column, the reads 4 KB apart alias in the
    cache; numpy's transposed fancy assignment took ≈0.2 ms for a DTM's x_t)."""
    K, C = len(rows), values.shape[0]
    if values.shape[1] != K or C != X.shape[1]:          # no bounds checks below: a bad shape would write past X
        raise ValueError("set_rows: values must be (chains, rows)")
    if values.itemsize == 1 and K % 8 == 0 and C % 8 == 0 and K > 0 and values.flags.c_contiguous:
        T = np.empty((K, 1, C), np.int8)
        _transpose_blocks(values.view(np.uint64), T.view(np.uint64), 0, 0, K // 8)
        for k in range(K):
            r = rows[k]
            for c in range(C):
                X[r, c] = T[k, 0, c]
        return
    step = max(1, 64 // values.itemsize)     # a cache line of values' row at a time (64 bytes)
    for k0 in range(0, K, step):
        k1 = min(k0 + step, K)
        for c in range(C):
            for k in range(k0, k1):
                X[rows[k], c] = values[c, k]


@njit(cache=True)
def gather_rows(X, rows, out):
    """out[i, c] = X[rows[i], c], cast to out's type: the state in the samplers' own (n, chains)
    layout, rows back in spin order (numpy's astype and fancy index: two passes and ≈4× the time)."""
    if out.shape[0] != len(rows) or out.shape[1] != X.shape[1]:
        raise ValueError("gather_rows: out must be (rows, chains)")
    for i in range(len(rows)):
        r = rows[i]
        for c in range(X.shape[1]):
            out[i, c] = X[r, c]
