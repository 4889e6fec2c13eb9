"""Compiled (numba) kernels of the p-bit fabric: one colour block, one clock tick at a time.

Why numba: a p-bit update is a few integer multiply-adds, a table lookup and a
random number; in numpy each step is a separate pass over memory and Python
overhead per colour dominates small models.  Compiled loops over chains (the
contiguous axis, as in the C probe) run at the probe's speed.

State: S (n, chains) int8.  Random streams: per chain xoroshiro128+ ("perfect"),
or per p-bit and chain xorshift32 / Galois LFSR words, or the analog model
(a per-chain stream, held per p-bit between refreshes, with a comparator bias)."""
from __future__ import annotations

import numpy as np
from numba import njit, prange

M32 = np.uint64(0xFFFFFFFF)
LOG2E = np.float32(1.4426950408889634)

RNG_PERFECT, RNG_XORSHIFT, RNG_GALOIS, RNG_ANALOG = 0, 1, 2, 3


@njit(inline="always")
def _rotl(x, k):
    return (x << np.uint64(k)) | (x >> np.uint64(64 - k))


@njit(inline="always")
def _next(s0, s1, c):
    """xoroshiro128+ step of chain c; returns 64 random bits."""
    a = s0[c]
    b = s1[c]
    r = a + b
    b ^= a
    s0[c] = _rotl(a, 24) ^ b ^ (b << np.uint64(16))
    s1[c] = _rotl(b, 37)
    return r


@njit(inline="always")
def _xorshift32(x):
    x ^= (x << np.uint64(13)) & M32
    x ^= x >> np.uint64(17)
    x ^= (x << np.uint64(5)) & M32
    return x


@njit(inline="always")
def _galois(x, taps, width):
    """`width` steps of a Galois LFSR (one fresh bit per step), so each draw is a new word."""
    for _ in range(width):
        lsb = x & np.uint64(1)
        x >>= np.uint64(1)
        x ^= (np.uint64(0) - lsb) & taps
    return x


@njit(fastmath=True, cache=True)
def update_exact(spins, S_read, S_write, indptr, indices, J, h, beta, s0, s1, q_update, acc, t, pp, e_int,
                 kb_ptr, kb_coeff, kb_others, c0, c1):
    """Heat-bath update of `spins` in float32 with a perfect RNG; p(+1) = 1 / (1 + 2^(2βf·log2 e)).

    2^x = 2^m · 2^f with m = round(x) (built in the exponent bits) and |f| ≤ ½ (a degree-6
    polynomial, relative error ≈ 1e-7: float32 rounding).  With q_update < 1 (asynchronous
    clocking) each p-bit takes its new value only with probability q_update."""
    u0, u1 = np.uint64(c0), np.uint64(c1)        # unsigned: no negative-index checks, so the loops vectorise
    ef = e_int.view(np.float32)
    scale = np.float32(2.0 * beta) * LOG2E
    for i in spins:
        for c in range(u0, u1):
            acc[c] = h[i]
        for k in range(indptr[i], indptr[i + 1]):
            j = indices[k]
            w = J[k]
            for c in range(u0, u1):
                acc[c] += w * np.float32(S_read[j, c])
        for e in range(kb_ptr[i], kb_ptr[i + 1]):         # k-body factors: c·Π of the other members
            for c in range(u0, u1):
                t[c] = kb_coeff[e]
            for q in range(kb_others.shape[1]):
                j = kb_others[e, q]
                if j < 0:
                    break
                for c in range(u0, u1):
                    t[c] *= np.float32(S_read[j, c])
            for c in range(u0, u1):
                acc[c] += t[c]
        for c in range(u0, u1):
            x = min(max(acc[c] * scale, np.float32(-126.0)), np.float32(126.0))
            m = np.int32(x + np.float32(127.5))                # round(x) + 127, by truncation of a positive
            f = x - np.float32(m - 127)
            pp[c] = np.float32(1.0) + f * (np.float32(0.69314718) + f * (np.float32(0.24022651) + f * (
                np.float32(0.05550411) + f * (np.float32(0.00961813) + f * (np.float32(0.00133336)
                                                                          + f * np.float32(0.00015404))))))
            e_int[c] = m << np.int32(23)
        for c in range(u0, u1):
            p = np.float32(1.0) / (np.float32(1.0) + pp[c] * ef[c])
            r = _next(s0, s1, c)
            u = np.float32(r >> np.uint64(40)) * np.float32(5.9604645e-08)
            t[c] = np.float32(1.0) if u < p else np.float32(-1.0)
        if q_update >= 1.0:
            for c in range(u0, u1):
                S_write[i, c] = np.int8(t[c])
        else:
            for c in range(u0, u1):
                r2 = _next(s0, s1, c)
                if np.float64(r2 >> np.uint64(11)) * 1.1102230246251565e-16 < q_update:
                    S_write[i, c] = np.int8(t[c])


@njit(fastmath=True, cache=True)
def update_fixed(spins, S_read, S_write, indptr, indices, Jq, hq, table, window, shift, acc_max, lut_bits,
                 use_var, gain, offset, bias_q, rng_kind, s0, s1, pstate, taps, width, hold, hold_threshold,
                 q_update, acc, rnd, c0, c1):
    """Fixed-point p-bit update: I = −(h_q + Σ J_q s) saturated, table lookup, compare with random bits."""
    u0, u1 = np.uint64(c0), np.uint64(c1)        # unsigned: no negative-index checks, so the loops vectorise
    top = np.uint64(64 - lut_bits)
    low = np.uint64(32 - lut_bits)
    tmax = np.int64(1) << np.int64(lut_bits)
    for i in spins:
        for c in range(u0, u1):
            acc[c] = -hq[i]
        for k in range(indptr[i], indptr[i + 1]):
            j = indices[k]
            w = Jq[k]
            for c in range(u0, u1):
                acc[c] -= w * np.int32(S_read[j, c])
        # random words for this p-bit, one per chain
        if rng_kind == 0:
            for c in range(u0, u1):
                rnd[c] = _next(s0, s1, c) >> top
        elif rng_kind == 1:
            for c in range(u0, u1):
                x = _xorshift32(pstate[i, c])
                pstate[i, c] = x
                rnd[c] = x >> low
        elif rng_kind == 2:
            for c in range(u0, u1):
                x = _galois(pstate[i, c], taps, width)
                pstate[i, c] = x
                rnd[c] = (x & M32) >> low if width >= 32 else ((x << np.uint64(32 - width)) & M32) >> low
        else:
            for c in range(u0, u1):
                r = _next(s0, s1, c)
                if (r & M32) >= hold_threshold:         # the analog source decorrelated: a fresh value
                    hold[i, c] = r >> top
                rnd[c] = hold[i, c]
        b = bias_q[i]
        g = gain[i]
        o = offset[i]
        for c in range(u0, u1):
            a = acc[c]
            if a > acc_max:
                a = acc_max
            elif a < -acc_max:
                a = -acc_max
            if use_var:
                a = np.int32(np.rint(g * np.float32(a) + o))
            if a > window:
                a = window
            elif a < -window:
                a = -window
            T = table[np.uint64((a + window) >> shift)] + b
            acc[c] = 1 if np.int64(rnd[c]) < T or T >= tmax else -1
        if q_update >= 1.0:
            for c in range(u0, u1):
                S_write[i, c] = np.int8(acc[c])
        else:
            for c in range(u0, u1):
                r2 = _next(s0, s1, c)
                if np.float64(r2 >> np.uint64(11)) * 1.1102230246251565e-16 < q_update:
                    S_write[i, c] = np.int8(acc[c])


@njit(cache=True)
def record_state(S, record, k, c0, c1):
    """record[c, k, i] = S[i, c] for the chains c0..c1-1."""
    n = S.shape[0]
    for c in range(c0, c1):
        for i in range(n):
            record[c, k, i] = S[i, c]


@njit(cache=True, parallel=True)
def drive_exact(blocks, block_ptr, async_ticks, q_update, indptr, indices, J, h, betas, s0, s1, S, snapshot,
                sweep_from, sweep_to, burn_in, thin, record, kept, kb_ptr, kb_coeff, kb_others, groups):
    """Sweeps sweep_from..sweep_to-1 of the exact fabric, chain groups in parallel (each chain's random
    stream is its own, so the samples do not depend on the grouping); returns the kept count."""
    C = S.shape[1]
    G = len(groups) - 1
    kept_out = np.zeros(G, np.int64)
    nb = len(block_ptr) - 1
    for g in prange(G):
        c0, c1 = groups[g], groups[g + 1]
        acc = np.empty(C, np.float32)
        t = np.empty(C, np.float32)
        pp = np.empty(C, np.float32)
        e_int = np.empty(C, np.int32)
        k = kept
        for sweep in range(sweep_from, sweep_to):
            beta = betas[sweep]
            if async_ticks == 0:
                for b in range(nb):
                    update_exact(blocks[block_ptr[b]:block_ptr[b + 1]], S, S, indptr, indices, J, h, beta, s0, s1,
                                 1.0, acc, t, pp, e_int, kb_ptr, kb_coeff, kb_others, c0, c1)
            else:
                for _ in range(async_ticks):
                    snapshot[:, c0:c1] = S[:, c0:c1]
                    update_exact(blocks, snapshot, S, indptr, indices, J, h, beta, s0, s1, q_update, acc, t, pp,
                                 e_int, kb_ptr, kb_coeff, kb_others, c0, c1)
            after = sweep + 1 - burn_in
            if after > 0 and after % thin == 0 and k < record.shape[1]:
                record_state(S, record, k, c0, c1)
                k += 1
        kept_out[g] = k
    return kept_out[0]


@njit(cache=True, parallel=True)
def drive_fixed(blocks, block_ptr, async_ticks, q_update, indptr, indices, Jq, hq, tables, table_of_sweep, window,
                shift, acc_max, lut_bits, use_var, gain, offset, bias_q, rng_kind, s0, s1, pstate, taps, width, hold,
                hold_threshold, S, snapshot, sweep_from, sweep_to, burn_in, thin, record, kept, groups):
    """Sweeps sweep_from..sweep_to-1 of a fixed-point fabric, chain groups in parallel; returns the kept count."""
    C = S.shape[1]
    G = len(groups) - 1
    kept_out = np.zeros(G, np.int64)
    nb = len(block_ptr) - 1
    for g in prange(G):
        c0, c1 = groups[g], groups[g + 1]
        acc = np.empty(C, np.int32)
        rnd = np.empty(C, np.uint64)
        k = kept
        for sweep in range(sweep_from, sweep_to):
            table = tables[table_of_sweep[sweep]]
            if async_ticks == 0:
                for b in range(nb):
                    update_fixed(blocks[block_ptr[b]:block_ptr[b + 1]], S, S, indptr, indices, Jq, hq, table, window,
                                 shift, acc_max, lut_bits, use_var, gain, offset, bias_q, rng_kind, s0, s1, pstate,
                                 taps, width, hold, hold_threshold, 1.0, acc, rnd, c0, c1)
            else:
                for _ in range(async_ticks):
                    snapshot[:, c0:c1] = S[:, c0:c1]
                    update_fixed(blocks, snapshot, S, indptr, indices, Jq, hq, table, window, shift, acc_max,
                                 lut_bits, use_var, gain, offset, bias_q, rng_kind, s0, s1, pstate, taps, width, hold,
                                 hold_threshold, q_update, acc, rnd, c0, c1)
            after = sweep + 1 - burn_in
            if after > 0 and after % thin == 0 and k < record.shape[1]:
                record_state(S, record, k, c0, c1)
                k += 1
        kept_out[g] = k
    return kept_out[0]


def galois_period(width: int, taps: int, seed: int = 1) -> int:
    """Steps until a Galois LFSR returns to its seed (2^width − 1 for maximal taps); for tests."""
    x = seed
    mask = (1 << width) - 1
    for step in range(1, 1 << (width + 1)):
        lsb = x & 1
        x >>= 1
        if lsb:
            x ^= taps
        x &= mask
        if x == seed:
            return step
    return -1
