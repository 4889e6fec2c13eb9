"""The `cpu` backend: compiled (numba) chromatic Gibbs sampling, the default.

The same heat bath as `reference`, p(s_i = +1) = σ(−2β f_i), in float32 arithmetic on int8
states (n, chains), chains on the fast axis so that every update is one vectorised loop over
chains.  Colour blocks run one after another; dense parts of a block (an RBM's layers) go
through BLAS as tiles (see tiles.py).  Each chain has its own random stream (xoshiro128+,
seeded from the seed and the chain's index alone), so the samples are the same for any number of
threads and any split of the chains.  The p-bit emulator's ideal fabric runs this kernel."""
from __future__ import annotations

import numba
import numpy as np

from ..colour import ColourBlocks
from ..errors import BackendError
from . import kernels
from .base import Backend, Draws, Kernel, Record, one_blas_thread
from .runspec import COMMON_OPTIONS
from .tiles import block_tiles

CHAIN_ALIGN = 64             # chains per cache line of the int8 states (spins × chains): a thread's share


def chain_groups(chains: int, threads) -> np.ndarray:
    """Boundaries of the chain groups that run in parallel (one group per thread), on multiples of
    CHAIN_ALIGN chains.  Why: a spin's states of all chains share cache lines, 64 chains a line; two
    threads writing parts of one line take it from each other on every update.  Fewer chains than
    two lines run on one thread whatever `threads` says."""
    if threads == "auto":
        threads = numba.get_num_threads()
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise BackendError(f"threads must be an integer ≥ 1 or 'auto', got {threads!r}")
    g = max(1, min(int(threads), chains))
    cuts = np.round(np.linspace(0, chains, g + 1) / CHAIN_ALIGN).astype(np.int64) * CHAIN_ALIGN
    return np.unique(np.r_[0, np.clip(cuts[1:-1], 0, chains), chains]).astype(np.int64)


def kbody_table(ir):
    """Per spin, its k-body factors: (ptr (n+1,), coefficient, other members padded with −1)."""
    n = ir.num_spins
    width = max([k - 1 for k in ir.kbody] + [1])
    targets, coeffs, others = [], [], []
    for k, (idx, coeff) in ir.kbody.items():
        for p in range(k):
            targets.append(idx[:, p])
            coeffs.append(coeff)
            rest = np.delete(idx, p, axis=1)
            others.append(np.pad(rest, ((0, 0), (0, width - rest.shape[1])), constant_values=-1))
    if not targets:
        return np.zeros(n + 1, np.int64), np.zeros(0, np.float32), np.full((0, width), -1, np.int64)
    t = np.concatenate(targets)
    order = np.argsort(t, kind="stable")
    ptr = np.r_[0, np.cumsum(np.bincount(t, minlength=n))].astype(np.int64)
    return ptr, np.concatenate(coeffs)[order].astype(np.float32), np.concatenate(others)[order].astype(np.int64)


def chain_streams(seed: int, first_chain: int, chains: int) -> tuple:
    """The per-chain xoshiro128+ states (four uint32 arrays) of chains first_chain … first_chain +
    chains − 1, from (seed, chain) alone (the first word odd: never all zero): the high halves of
    runspec.chain_words' words of stream 2, made by the compiled copy (a run's set-up, on every
    call of training and generation).  A period of 2^128 per chain: chains started at random points
    do not overlap at any scale."""
    words = np.empty((4, chains), np.uint64)
    kernels.chain_words(np.uint64(seed), np.uint64(2), first_chain, words)
    state = line_aligned((4, -(-chains // 16) * 16), np.uint32)[:, :chains]    # each row on a line of its own
    np.right_shift(words, np.uint64(32), out=state, casting="unsafe")
    state[0] |= np.uint32(1)
    return tuple(state)


def line_aligned(shape: tuple, dtype) -> np.ndarray:
    """An empty C-contiguous array that starts on a cache line (64 bytes), so that rows of whole
    lines start on lines too.  Why: threads write the per-chain arrays in groups of CHAIN_ALIGN
    chains; at an address numpy happened to choose, the line at a group boundary was written by
    two threads on every spin update, and a run's rate depended on where its arrays landed."""
    size = int(np.prod(shape)) * np.dtype(dtype).itemsize
    raw = np.empty(size + 64, np.uint8)
    start = -raw.ctypes.data % 64
    return raw[start:start + size].view(dtype).reshape(shape)


def beta_rows(betas, chains: int, dtype=np.float32) -> np.ndarray:
    """betas (sweeps,) or (sweeps, chains) as the kernels take them: (sweeps, 1 or chains)."""
    b = np.asarray(betas, dtype=dtype)
    b = b[:, None] if b.ndim == 1 else b
    if b.ndim != 2 or b.shape[1] not in (1, chains):
        raise ValueError(f"betas must be (sweeps,) or (sweeps, {chains})")
    return np.ascontiguousarray(b)


def record_parts(record: Record | None, n: int, chains: int) -> tuple:
    """(out, burn_in, thin, kept) for the compiled drivers; an empty record keeps nothing."""
    if record is None:
        return np.empty((0, n, chains), np.int8), 0, 1, 0
    return record.out, record.burn_in, record.thin, record.kept


class CpuKernel(Kernel):
    """The structure compiled for the kernels once: the update order, the padded neighbour rows and
    dense tiles, the k-body table, the chain groups.  A run writes new weights into the rows and
    tiles (only when it brings new ones), (re)seeds the streams when it brings a seed, and sweeps.
    ticks, q: synchronous colour-by-colour sweeps (0, 1.0), or the emulator's asynchronous clocking."""

    def __init__(self, ir, chains: int, clamp_index=(), threads=1, ticks: int = 0, q: float = 1.0):
        super().__init__(ir, chains, clamp_index)
        self.ticks, self.q = ticks, q
        blocks = ColourBlocks(ir.colors, self.free, ir.num_colors)
        self.order, block_ptr = blocks.order, blocks.ptr
        self.groups = chain_groups(self.chains, threads)
        self.tiles = block_tiles(ir.J, self.order, block_ptr, synchronous=ticks == 0)   # async: no tiles
        self.buffers = tuple(np.zeros(k, np.float32) for k in self.tiles.sizes)
        self.kb = kbody_table(ir)
        self.snapshot = np.empty((ir.num_spins, self.chains) if ticks else (0, 0), np.int8)
        self.streams = None
        self._written = -1                               # the weights version the rows and tiles hold

    def run(self, h, J_data, clamp_values, state, betas, seed, record: Record | None = None) -> Draws:
        self.load(h, J_data, clamp_values, state)                  # checks the state, weights and clamps
        fresh = seed is not None or self.streams is None
        if fresh:
            self.streams = chain_streams(0 if seed is None else seed, self.first_chain, self.chains)
        out, burn_in, thin, kept = record_parts(record, self.ir.num_spins, self.chains)
        blas = one_blas_thread() if self.tiles.num_tiles else None
        threads = numba.get_num_threads()
        try:
            # as many threads as chain groups: numba's setting is per calling thread, and left at its default
            # every run of one group wakes the whole OpenMP pool, whose threads then spin on cores that other
            # processes need (two Dask workers training ran 5× slower than one)
            numba.set_num_threads(min(threads, len(self.groups) - 1))
            kept = self.sweeps(betas, seed, fresh, state, out, burn_in, thin, kept)
        finally:
            numba.set_num_threads(threads)
            if blas is not None:
                blas.restore_original_limits()
        if record is not None:
            record.kept = int(kept)
        return Draws(len(betas), int(kept), self.updates(len(betas)), self.run_details())

    def sweeps(self, betas, seed, fresh: bool, state, out, burn_in: int, thin: int, kept: int) -> int:
        """The compiled sweeps of one run, at the weights load() took; returns the kept count."""
        if self._written != self.version:
            self.rows, self.tiling = self.tiles.weights(np.asarray(self.J_data), np.float32, self.buffers)
            self.h32, self._written = np.asarray(self.h, np.float32), self.version
        return kernels.drive_exact(self.order, self.tiling, self.ticks, self.q, *self.rows, self.h32,
                                   beta_rows(betas, self.chains), self.streams, state, self.snapshot, burn_in,
                                   thin, out, kept, *self.kb, self.groups)

    def run_details(self) -> dict:
        """What a run reports beyond its samples (Draws.info)."""
        return {}


class CpuBackend(Backend):
    name = "cpu"
    description = "compiled chromatic Gibbs (numba, float32 on int8 states), threads over chains: the default"
    options = {**COMMON_OPTIONS,
               "threads": "threads sharing the chains (default 1; 'auto': all numba threads); the samples are the "
                          "same for any number"}
    kernel_options = ("threads",)

    def prepare(self, ir, chains: int, clamp_index=(), threads=1) -> CpuKernel:
        return CpuKernel(ir, chains, clamp_index, threads)
