"""The one driver loop over a Kernel, and what a run keeps: Record (where states go) and Draws
(what a run did).  start() is a kernel's first run (weights, clamps, seed, compilation);
drive() continues it in pieces, with progress and Ctrl-C between them."""
from __future__ import annotations

import sys
import threading
import time
from contextlib import contextmanager
from dataclasses import dataclass, field

import numpy as np


class Record:
    """Where a run keeps states: `out` (kept, n, chains) int8, the samplers' own layout (spins × chains
    per state, so a kept state is one contiguous copy).  The run's sweep j (0-based) is kept when
    j + 1 − burn_in is a positive multiple of thin, into out[kept], while out has room.  burn_in may
    be ≤ 0: a driver that splits one run into pieces passes the burn-in left at each piece."""
    __slots__ = ("out", "burn_in", "thin", "kept")

    def __init__(self, out: np.ndarray, burn_in: int = 0, thin: int = 1, kept: int = 0):
        if out.dtype != np.int8 or out.ndim != 3 or not out.flags.c_contiguous:
            raise ValueError("a record is a C-contiguous int8 array (kept, n, chains)")
        self.out, self.burn_in, self.thin, self.kept = out, int(burn_in), int(thin), int(kept)

    def due(self, j: int) -> bool:
        after = j + 1 - self.burn_in
        return after > 0 and after % self.thin == 0 and self.kept < len(self.out)


@dataclass
class Draws:
    """What one Kernel.run did: sweeps run, states now in the record (all of them, not only this
    run's), spin updates, and what the backend reports beyond samples (the emulator's ledger)."""
    sweeps: int
    kept: int
    spin_updates: int
    info: dict = field(default_factory=dict)


CHUNK_UPDATES = 5e7      # spin updates per Kernel.run of the driver: Ctrl-C and progress are seen between runs


COMPILE_NOTICE_S = 1.0   # a first run that takes longer than this is compiling, not loading the cache


def _say_compiling():
    print("compiling sampling kernels, once (about 10-60 s; later runs load them from the cache) ...",
          file=sys.stderr, flush=True)


@contextmanager
def compile_notice(notice=_say_compiling, after: float | None = None):
    """Say on stderr that the kernels are being compiled when the block takes longer than loading
    them from numba's cache would (the notice comes from a timer, so a cached start prints nothing)."""
    timer = threading.Timer(COMPILE_NOTICE_S if after is None else after, notice)
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def start(kernel, h, J_data, clamp_values, state, betas, seed, energies: bool = False) -> float:
    """The first run on a kernel: zero sweeps that take the weights, the clamps and the seed, and
    compile the kernels for these types (once per machine; numba caches them), so that the sweeps
    timed after it are sampling alone.  With `energies`, kernel.energies is compiled too.  Returns
    the time it ended."""
    with compile_notice():
        kernel.run(h, J_data, clamp_values, state, np.asarray(betas)[:0], seed)
        if energies:
            kernel.energies(state)
    return time.perf_counter()


def drive(kernel, state, betas, burn_in: int, thin: int, out: np.ndarray, progress=None) -> tuple:
    """The one driver loop, after start(): len(betas) sweeps in pieces of about CHUNK_UPDATES spin
    updates (the random streams continue from piece to piece, so the samples are those of one run),
    keeping every thin-th state after burn_in in out (kept, n, chains); progress(done, total) after
    each piece.  Ctrl-C stops the run and keeps what was drawn.  Returns (kept, sweeps done,
    interrupted, the last run's info)."""
    total = len(betas)
    step = max(1, int(CHUNK_UPDATES // max(state.size, 1)))
    kept = done = 0
    info: dict = {}
    try:
        while done < total:
            stop = min(total, done + step)
            draws = kernel.run(None, None, None, state, betas[done:stop], None,
                               Record(out, burn_in - done, thin, kept))
            kept, done, info = draws.kept, stop, draws.info
            if progress is not None:
                progress(done, total)
    except KeyboardInterrupt:
        return kept, done, True, info
    return kept, done, False, info
