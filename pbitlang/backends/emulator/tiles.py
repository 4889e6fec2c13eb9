"""Dense tiles of the emulator's colour blocks: the dense parts (an RBM's layers) as matrix products.

Why: on an RBM a p-bit's input sums tens of couplings, and the padded-row loops load each
neighbour's int8 state and convert it per coupling (≈22 multiply-adds per ns on this machine's
class of CPU); a colour block's dense part done as one float product through BLAS, the states
converted once, runs at ≈46.  The fabric computes the same inputs — every p-bit of a colour sums
its weighted neighbours at once — and a fixed-point fabric's sums are exact integers in the
float type (see kernels.update_fixed), in any order, so its samples do not change.  Only
synchronous clocking uses tiles: asynchronous ticks read a snapshot per tick, spin by spin."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from ..layout import StructureCache, entries_in, entry_labels, split_tiles
from .kernels import padded_rows

TILE_DENSITY = 0.6        # BLAS is ≈2× the padded rows per coupling: a tile pays from half filled
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
        `dtype`, written into out = (row weights, tile weights) when given (a runner's, reused).
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
