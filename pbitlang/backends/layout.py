"""Copying sampler states into the (chains, kept, n) layout results use: the samplers keep spins ×
chains, so recording a state is a transpose, and a plain numpy transposed assignment of one state
costs more than a sweep of a sparse lattice.  These compiled copies go eight spins at a time, the
eight reads sharing cache lines."""
from __future__ import annotations

from numba import njit


@njit(cache=True)
def record_state(S, record, k, c0, c1):
    """record[c, k, i] = S[i, c] for the chains c0..c1-1 (the emulator's int8 state)."""
    n = S.shape[0]
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
    its colour-block order: rows maps spin i to its row)."""
    n, C = rows.shape[0], X.shape[1]
    top = n - n % 8
    for i0 in range(0, top, 8):
        for c in range(C):
            for q in range(8):
                record[c, k, i0 + q] = X[rows[i0 + q], c]
    for c in range(C):
        for i in range(top, n):
            record[c, k, i] = X[rows[i], c]
