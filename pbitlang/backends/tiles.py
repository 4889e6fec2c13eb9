"""Dense tiles of the compiled kernels' colour blocks: the dense parts (an RBM's layers) as matrix products.

Why: on an RBM a p-bit's input sums tens of couplings, and the padded-row loops load each
neighbour's int8 state and convert it per coupling (see benchmarks/RESULTS.md); a colour block's dense
part done as one float product through BLAS, with the states converted once, runs at about twice
the rate.  The fabric computes the same inputs — every p-bit of a colour sums
its weighted neighbours at once — and a fixed-point fabric's sums are exact integers in the
float type (see kernels.update_fixed), in any order, so its samples do not change.  Only
synchronous clocking uses tiles: asynchronous ticks read a snapshot per tick, spin by spin."""
from __future__ import annotations

import hashlib
import threading

import numpy as np
import scipy.sparse as sp
from scipy.sparse.csgraph import connected_components

from .kernels import padded_rows


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


TILE_DENSITY = 0.6        # BLAS does about twice the padded rows' work per coupling: a tile pays from half filled
TILE_AREA = 256           # smaller products cost more in call overhead than they save
_LAYOUTS = StructureCache(size=16, max_nnz=2_000_000)


def block_tiles(J: sp.csr_array, order: np.ndarray, block_ptr: np.ndarray, synchronous: bool) -> "BlockTiles":
    """The BlockTiles of this structure, from a small cache (generation samples T step models of one
    structure; the layout is most of a sample() call's set-up there)."""
    parts = [np.array([J.shape[0], TILE_AREA, TILE_DENSITY, synchronous]), J.indptr, J.indices, order, block_ptr]
    return _LAYOUTS.get(parts, J.nnz, lambda: BlockTiles(J, order, block_ptr, synchronous))


class BlockTiles:
    """Where each coupling of J goes in the kernels: into a dense tile of a colour block (rows: a
    range of the update order; columns: any spins), or into the padded neighbour rows (the rest).
    Built from the pattern alone and shared (see block_tiles); weights() fills both from values
    aligned with J.data, into arrays of the caller's."""

    def __init__(self, J: sp.csr_array, order: np.ndarray, block_ptr: np.ndarray, synchronous: bool):
        n = J.shape[0]
        labelled = sp.csr_array((entry_labels(J.nnz), J.indices, J.indptr), shape=J.shape)
        in_tile = np.zeros(J.nnz, dtype=bool)
        segments, tile_cols, cell_lists, shapes = [], [], [], []
        if synchronous and J.nnz:
            free = np.zeros(n, dtype=bool)
            free[order] = True
            perm = np.r_[order, np.flatnonzero(~free)]              # free spins in update order, then the clamped
            P = sp.csr_array(labelled[order][:, perm])
        for b in range(len(block_ptr) - 1):
            a, z = int(block_ptr[b]), int(block_ptr[b + 1])
            found = []
            if synchronous and J.nnz and z > a:
                part = sp.csr_array(P[a:z])
                row_of = np.repeat(np.arange(z - a), np.diff(part.indptr))
                other = (part.indices < a) | (part.indices >= z)    # all of them, in a proper colouring
                labels_o = part.data[other]
                found, left = split_tiles(z - a, row_of[other], part.indices[other], labels_o, part.shape[1],
                                          J.nnz, TILE_DENSITY, TILE_AREA)
                in_tile[labels_o[~left].astype(np.int64) - 1] = True
            p = a
            for (r0, r1, c0, c1), cells in sorted(found, key=lambda f: f[0]):
                if a + r0 > p:
                    segments.append((p, a + r0, -1))
                segments.append((a + r0, a + r1, len(shapes)))
                tile_cols.append(perm[c0:c1])
                cell_lists.append(cells)
                shapes.append((r1 - r0, c1 - c0))
                p = a + r1
            if z > p:
                segments.append((p, z, -1))
        self.segments = np.array(segments, dtype=np.int64).reshape(-1, 3)   # (first, end, tile or −1)
        self.col_ptr = np.r_[0, np.cumsum([len(c) for c in tile_cols])].astype(np.int64)
        self.cols = np.concatenate(tile_cols).astype(np.int64) if tile_cols else np.zeros(0, np.int64)
        self.weight_ptr = np.r_[0, np.cumsum([m * k for m, k in shapes])].astype(np.int64)
        self.num_tiles = len(shapes)
        # the rest, in the original numbering, through the padded rows
        rest = entries_in(~in_tile, labelled)
        self.ptr4, self.nb4, lab4 = padded_rows(rest, rest.data)
        # each weight slot's entry of J.data, or nnz (a zero appended) for pads and empty tile cells:
        # filling the weights is then two gathers
        self.nnz = J.nnz
        self.row_gather = np.where(lab4 > 0, lab4 - 1, J.nnz).astype(np.int64)
        self.tile_gather = np.concatenate(cell_lists) if cell_lists else np.zeros(0, np.int64)
        self.sizes = (len(lab4), len(self.tile_gather))

    def weights(self, values: np.ndarray, dtype=np.float32, out=None) -> tuple:
        """(padded rows, tiling) for the kernels with couplings `values` (aligned with J.data) in
        `dtype`, written into out = (row weights, tile weights) when given (a kernel's, reused).
        tiling: (segments of the update order, colour block by colour block: first, end, tile or −1;
        each tile's columns: cols[col_ptr[t]:col_ptr[t + 1]]; its weights (m, k) row-major:
        tw[weight_ptr[t]:weight_ptr[t + 1]])."""
        w4, tw = out if out is not None else (np.empty(self.sizes[0], dtype), np.empty(self.sizes[1], dtype))
        ext = np.empty(self.nnz + 1, dtype)
        ext[:-1] = values
        ext[-1] = 0
        np.take(ext, self.row_gather, out=w4)
        np.take(ext, self.tile_gather, out=tw)
        rows = (self.ptr4, self.nb4, w4)
        tiling = (self.segments, self.col_ptr, self.cols, self.weight_ptr, tw)
        return rows, tiling
