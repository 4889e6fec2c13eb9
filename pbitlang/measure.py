"""Energies, observables and constraint residuals of many states, read straight from int8.

States come as X (K, n, C): K sweeps of n spins for C chains, the samplers' own layout (a
row-major (B, n) array is X = S.reshape(B, n, 1)).  The kernels read X as it is — no float
copy of the states — accumulate in float64, and write only their result, so evaluating a run
needs memory for the answer and nothing in proportion to the samples.  Compiled with numba,
imported only when something is measured."""
from __future__ import annotations

import numpy as np
from numba import njit, prange

BLOCK = 64          # sweeps per parallel task: one scratch row per task, not per sweep


@njit(inline="always")
def _pair_energy(indptr, indices, data, h, X, k, f, out):
    """out[k, c] += Σ_i x_i (h_i + Σ_{j>i} J_ij x_j) for state k, each coupling of the symmetric J read once."""
    n, C = X.shape[1], X.shape[2]
    for i in range(n):
        for c in range(C):
            f[c] = h[i]
        for p in range(indptr[i], indptr[i + 1]):
            j = indices[p]
            if j > i:
                w = data[p]
                for c in range(C):
                    f[c] += w * X[k, j, c]
        for c in range(C):
            out[k, c] += X[k, i, c] * f[c]


@njit(cache=True, parallel=True)
def _pair_energies(indptr, indices, data, h, X, out):
    """_pair_energy for every state, blocks of sweeps in parallel (a run's samples)."""
    K, C = X.shape[0], X.shape[2]
    for b in prange((K + BLOCK - 1) // BLOCK):
        f = np.empty(C)
        for k in range(b * BLOCK, min(K, (b + 1) * BLOCK)):
            _pair_energy(indptr, indices, data, h, X, k, f, out)


@njit(cache=True)
def _pair_energies_serial(indptr, indices, data, h, X, out):
    """_pair_energy for a few states (tempering's one state a sweep): no threads to start."""
    f = np.empty(X.shape[2])
    for k in range(X.shape[0]):
        _pair_energy(indptr, indices, data, h, X, k, f, out)


@njit(cache=True, parallel=True)
def _products(inst, idx, coeff, X, out):
    """out[k, inst[r], c] += coeff[r] Π_q x[idx[r, q]]: the rows of an indexed polynomial."""
    K, n, C = X.shape
    order = idx.shape[1]
    for b in prange((K + BLOCK - 1) // BLOCK):
        for k in range(b * BLOCK, min(K, (b + 1) * BLOCK)):
            for r in range(len(inst)):
                t, w = inst[r], coeff[r]
                if order == 1:                       # the common cases without the inner loop, so the
                    i = idx[r, 0]                    # loop over chains vectorises
                    for c in range(C):
                        out[k, t, c] += w * X[k, i, c]
                elif order == 2:
                    i, j = idx[r, 0], idx[r, 1]
                    for c in range(C):
                        out[k, t, c] += w * (X[k, i, c] * X[k, j, c])
                else:
                    for c in range(C):
                        p = w
                        for q in range(order):
                            p *= X[k, idx[r, q], c]
                        out[k, t, c] += p


def states(X) -> np.ndarray:
    """X as the kernels take it: int8 when it holds integers (no copy when it already is)."""
    X = np.asarray(X)
    if X.dtype == np.int8:
        return np.ascontiguousarray(X)
    if X.dtype.kind in "iub":
        return np.ascontiguousarray(X, dtype=np.int8)
    return np.ascontiguousarray(X, dtype=np.float64)


def energies(model, X) -> np.ndarray:
    """E of every state of X (K, n, C) under `model` (an IR: offset, h, J, kbody) → (K, C)."""
    X = states(X)
    out = np.full(X.shape[0::2], float(model.offset))
    J = model.J
    pairs = _pair_energies if X.shape[0] > BLOCK else _pair_energies_serial
    pairs(J.indptr, J.indices, np.asarray(J.data, np.float64), np.asarray(model.h, np.float64), X, out)
    for idx, coeff in model.kbody.values():
        part = np.zeros((X.shape[0], 1, X.shape[2]))
        _products(np.zeros(len(coeff), np.int64), np.asarray(idx, np.int64), np.asarray(coeff, np.float64), X, part)
        out += part[:, 0]
    return out


def polynomials(polys, num_inst: int, X) -> np.ndarray:
    """Σ of indexed polynomials (ir.Poly: order, inst, idx, coeff) over X (K, n, C) → (K, num_inst, C)."""
    X = states(X)
    out = np.zeros((X.shape[0], num_inst, X.shape[2]))
    for p in polys:
        if p.order == 0:
            out += np.bincount(p.inst, p.coeff, minlength=num_inst)[None, :, None]
        elif len(p.inst):
            _products(np.asarray(p.inst, np.int64), np.asarray(p.idx, np.int64), np.asarray(p.coeff, np.float64),
                      X, out)
    return out
