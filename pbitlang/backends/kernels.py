"""Compiled (numba) heat-bath kernels of the `cpu` backend and the p-bit emulator: one colour block,
one clock tick at a time; float32 (the `cpu` backend, the ideal fabric) and fixed point (the
emulator's finite-precision fabrics).

Why numba: a p-bit update is a few multiply-adds, a table lookup and a random
number; in numpy each step is a separate pass over memory and Python overhead
per colour dominates small models.  Compiled loops over chains (the contiguous
axis, as in the C probe) vectorise and run at about the probe's rate (benchmarks/RESULTS.md).

What keeps the loops vectorised (checked with `inspect_asm`): unsigned chain
bounds (no negative-index checks), no division (numba checks the divisor and
that branch stops the vectoriser), no branch on a loop-invariant setting inside
a chain loop (LLVM does not unswitch it: one loop per setting instead), the
float32 update's `tiled` flag a constant (its body is inlined once per value), and
rows padded to four neighbours per pass so each pass reads the accumulator
once.

State: S (n, chains) int8.  Random streams: per chain xoshiro128+ ("perfect"),
or per p-bit and chain xorshift32 / Galois LFSR words, or the analog model
(a per-chain stream, held per p-bit between refreshes, with a comparator bias)."""
from __future__ import annotations

import numpy as np
from numba import njit, prange

M32 = np.uint64(0xFFFFFFFF)
LOG2E = np.float32(1.4426950408889634)

RNG_PERFECT, RNG_XORSHIFT, RNG_GALOIS, RNG_ANALOG = 0, 1, 2, 3


@njit(inline="always")
def _rotl32(x, k):
    return np.uint32(np.uint32(x << np.uint32(k)) | np.uint32(x >> np.uint32(32 - k)))


@njit(inline="always")
def _next(streams, c):
    """xoshiro128+ step of chain c; returns 32 random bits, of which the kernels use the top 24 (or
    lut_bits ≤ 30): the lowest few have low linear complexity.  32-bit words fill a vector register
    with as many chains as the float32 arithmetic, and convert to float directly (64-bit words took
    half-width vectors and a 64-bit conversion)."""
    a0, a1, a2, a3 = streams
    s0, s1, s2, s3 = a0[c], a1[c], a2[c], a3[c]
    r = np.uint32(s0 + s3)
    t = np.uint32(s1 << np.uint32(9))
    s2 = np.uint32(s2 ^ s0)
    s3 = np.uint32(s3 ^ s1)
    a1[c] = np.uint32(s1 ^ s2)
    a0[c] = np.uint32(s0 ^ s3)
    a2[c] = np.uint32(s2 ^ t)
    a3[c] = _rotl32(s3, 11)
    return r


@njit(inline="always")
def _uniform(r):
    """u in [0, 1) from the top 24 bits of a 32-bit word (through int32: AVX2 has no unsigned conversion)."""
    return np.float32(np.int32(r >> np.uint32(8))) * np.float32(5.9604645e-08)


@njit(inline="always")
def _galois(x, taps, width):
    """`width` steps of a Galois LFSR (one fresh bit per step), so each draw is a new word."""
    for _ in range(width):
        lsb = x & np.uint64(1)
        x >>= np.uint64(1)
        x ^= (np.uint64(0) - lsb) & taps
    return x


@njit(inline="always")
def _xorshift_word(pstate, i, c, low):
    """The next xorshift32 word of p-bit i in chain c, top lut_bits bits (low = 32 − lut_bits)."""
    x = np.uint32(pstate[i, c])
    x ^= np.uint32(x << np.uint32(13))
    x ^= np.uint32(x >> np.uint32(17))
    x ^= np.uint32(x << np.uint32(5))
    pstate[i, c] = x
    return np.uint64(x >> low)


@njit(inline="always")
def _galois_word(pstate, i, c, taps, width, low):
    """The next Galois LFSR word of p-bit i in chain c, top lut_bits bits of its width."""
    x = _galois(np.uint64(pstate[i, c]), taps, width)
    pstate[i, c] = x
    if width >= 32:
        return (x & M32) >> np.uint64(low)
    return ((x << np.uint64(32 - width)) & M32) >> np.uint64(low)


@njit(inline="always")
def _analog_word(streams, hold, i, c, hold_threshold, low):
    """The analog source of p-bit i in chain c: a fresh value (top lut_bits bits) when it has
    decorrelated (a second word decides), else the held one."""
    value = _next(streams, c) >> low
    if _next(streams, c) >= hold_threshold:
        hold[i, c] = value
    return hold[i, c]


@njit(inline="always")
def _sum4(S, c, j0, j1, j2, j3, w0, w1, w2, w3):
    return w0 * S[j0, c] + w1 * S[j1, c] + w2 * S[j2, c] + w3 * S[j3, c]


@njit(inline="always")
def _group(nb, w, a):
    """The four neighbours (and weights) of one padded row group starting at a."""
    return nb[a], nb[a + 1], nb[a + 2], nb[a + 3], w[a], w[a + 1], w[a + 2], w[a + 3]


@njit(inline="always")
def _accumulate(S_read, ptr4, nb4, w4, i, end, start, base, r, acc, u0, u1):
    """acc[c] = start (+ base[r], the spin's tile inputs, when r ≥ 0) + Σ_j w_ij S[j, c] over row i's
    groups of four up to `end` (the row's end, or its last group's start when the caller folds that
    group into a pass of its own).  The start goes in with the first group: a pass fewer."""
    a = ptr4[i]
    if a < end:
        j0, j1, j2, j3, w0, w1, w2, w3 = _group(nb4, w4, a)
        if r >= 0:
            for c in range(u0, u1):
                acc[c] = start + base[r, c - u0] + _sum4(S_read, c, j0, j1, j2, j3, w0, w1, w2, w3)
        else:
            for c in range(u0, u1):
                acc[c] = start + _sum4(S_read, c, j0, j1, j2, j3, w0, w1, w2, w3)
        a += 4
    elif r >= 0:
        for c in range(u0, u1):
            acc[c] = start + base[r, c - u0]
    else:
        for c in range(u0, u1):
            acc[c] = start
    for k in range(a, end, 4):
        j0, j1, j2, j3, w0, w1, w2, w3 = _group(nb4, w4, k)
        for c in range(u0, u1):
            acc[c] += _sum4(S_read, c, j0, j1, j2, j3, w0, w1, w2, w3)


@njit(inline="always")
def _async_write(S_write, i, new, q_update, streams, u0, u1):
    """Asynchronous clocking: each p-bit takes its new value only with probability q_update."""
    for c in range(u0, u1):
        if _uniform(_next(streams, c)) < q_update:
            S_write[i, c] = new[c]


@njit(inline="always")
def _heat_bath(x, r):
    """±1 with p(+1) = 1 / (1 + 2^x), from 32 random bits r.

    2^x = 2^m · 2^g with m = round(x) (built in the exponent bits) and |g| ≤ ½ (a degree-6
    polynomial, relative error ≈ 1e-7: float32 rounding); u < 1/(1 + 2^x) is tested as
    u·(1 + 2^x) < 1."""
    one = np.float32(1.0)
    x = min(max(x, np.float32(-126.0)), np.float32(126.0))
    m = np.int32(x + np.float32(127.5))                # round(x) + 127, by truncation of a positive
    g = x - (np.float32(m) - np.float32(127.0))        # in float32: m − 127 would widen to int64
    pg = one + g * (np.float32(0.69314718) + g * (np.float32(0.24022651) + g * (
        np.float32(0.05550411) + g * (np.float32(0.00961813) + g * (np.float32(0.00133336)
                                                                  + g * np.float32(0.00015404))))))
    e2m = np.int32(m << np.int32(23)).view(np.float32)
    return np.int8(1) if _uniform(r) * (one + pg * e2m) < one else np.int8(-1)


@njit(inline="always")
def _table_index(v, window, inv_step):
    """The table entry of input v: clip to the table's window, then (v + window) >> shift."""
    v = min(max(v, -window), window)
    return np.uint32((v + window) * inv_step)


@njit(inline="always")
def _decide(thresh, r):
    """The p-bit's comparator: +1 when the random word is below the table's threshold (both unsigned
    32-bit, so the compare stays 32 bits wide)."""
    return np.int8(1) if np.uint32(r) < thresh else np.int8(-1)


@njit(inline="always")
def _decide_biased(thresh, bias, r, tmax):
    """The comparator of the analog source, whose threshold carries the p-bit's bias error."""
    t = np.int64(thresh) + bias
    return np.int8(1) if np.int64(r) < t or t >= tmax else np.int8(-1)


@njit(fastmath=True, cache=True)
def update_exact(spins, S_read, S_write, ptr4, nb4, w4, h, base, tiled, scale, streams, q_update, acc, t, new,
                 kb_ptr, kb_coeff, kb_others, c0, c1):
    """Heat-bath update of `spins` in float32 with a perfect RNG: p(+1) = σ(−2β·I), I = h + Σ J s
    (with, when tiled, base[r] the tile part of spins[r]'s input); scale[c] = 2β·log2(e) of chain c.
    The body is inlined once per value of `tiled`, a constant in each copy: as a value known only
    at run time it cost the loops a third of their rate."""
    if tiled:
        _update_exact(spins, S_read, S_write, ptr4, nb4, w4, h, base, True, scale, streams, q_update, acc, t, new,
                      kb_ptr, kb_coeff, kb_others, c0, c1)
    else:
        _update_exact(spins, S_read, S_write, ptr4, nb4, w4, h, base, False, scale, streams, q_update, acc, t, new,
                      kb_ptr, kb_coeff, kb_others, c0, c1)


@njit(inline="always")
def _update_exact(spins, S_read, S_write, ptr4, nb4, w4, h, base, tiled, scale, streams, q_update, acc, t, new,
                  kb_ptr, kb_coeff, kb_others, c0, c1):
    u0, u1 = np.uint64(c0), np.uint64(c1)        # unsigned: no negative-index checks, so the loops vectorise
    for r in range(len(spins)):
        i = spins[r]
        _accumulate(S_read, ptr4, nb4, w4, i, ptr4[i + 1], h[i], base, r if tiled else -1, acc, u0, u1)
        for e in range(kb_ptr[i], kb_ptr[i + 1]):         # k-body factors: c·Π of the other members
            for c in range(u0, u1):
                t[c] = kb_coeff[e]
            for q in range(kb_others.shape[1]):
                j = kb_others[e, q]
                if j < 0:
                    break
                for c in range(u0, u1):
                    t[c] *= S_read[j, c]
            for c in range(u0, u1):
                acc[c] += t[c]
        dest = S_write[i] if q_update >= 1.0 else new
        for c in range(u0, u1):
            dest[c] = _heat_bath(acc[c] * scale[c], _next(streams, c))
        if q_update < 1.0:
            _async_write(S_write, i, new, q_update, streams, u0, u1)


@njit(fastmath=True, cache=True)
def update_fixed(spins, S_read, S_write, ptr4, nb4, Jq4, hq, base, tiled, tables, toff, per_chain, window, shift, acc_max, lut_bits,
                 use_var, gain, offset, bias_q, rng_kind, streams, pstate, taps, width, hold, hold_threshold,
                 q_update, acc, index, thresh, new, c0, c1):
    """Fixed-point p-bit update: I = −(h_q + Σ J_q s) saturated, table lookup, compare with random bits.
    tables: the activation tables of the run's βs one after another; toff[c]: where chain c's starts
    (the same for all chains unless per_chain: then one table, sliced once per spin).

    The integer arithmetic runs in the float type of `acc` (float32 where every partial sum is
    below 2^24, so exact; else float64), which vectorises better than numba's int64 promotion.
    Each stage is a pass over the chains; all but the table lookup vectorise (LLVM emits no
    gathers for this CPU family: the lookup is a tight scalar loop), and each random source has
    its own comparator loop."""
    u0, u1 = np.uint64(c0), np.uint64(c1)        # unsigned: no negative-index checks, so the loops vectorise
    low = np.uint32(32 - lut_bits)
    tmax = np.int64(1) << np.int64(lut_bits)
    ftype = acc.dtype.type
    acc_lim, win, inv_step = ftype(acc_max), ftype(window), ftype(1.0 / (1 << shift))
    for r in range(len(spins)):
        i = spins[r]
        last = ptr4[i + 1] - 4                     # folded into the table-index pass
        _accumulate(S_read, ptr4, nb4, Jq4, i, last, hq[i], base, r if tiled else -1, acc, u0, u1)
        j0, j1, j2, j3, w0, w1, w2, w3 = _group(nb4, Jq4, last)
        if use_var:                      # device mismatch: the saturated input through the p-bit's gain and offset
            g, o = ftype(gain[i]), ftype(offset[i])
            for c in range(u0, u1):
                v = min(max(-(acc[c] + _sum4(S_read, c, j0, j1, j2, j3, w0, w1, w2, w3)), -acc_lim), acc_lim)
                index[c] = _table_index(np.rint(g * v + o), win, inv_step)
        else:
            for c in range(u0, u1):
                v = -(acc[c] + _sum4(S_read, c, j0, j1, j2, j3, w0, w1, w2, w3))
                index[c] = _table_index(v, win, inv_step)        # |v| ≤ window ≤ acc_max: no saturation
        if per_chain:
            for c in range(u0, u1):
                thresh[c] = tables[toff[c] + index[c]]
        else:
            table = tables[toff[u0]:]
            for c in range(u0, u1):
                thresh[c] = table[index[c]]
        bi = bias_q[i]
        dest = S_write[i] if q_update >= 1.0 else new
        if rng_kind == RNG_PERFECT:
            for c in range(u0, u1):
                dest[c] = _decide(thresh[c], _next(streams, c) >> low)
        elif rng_kind == RNG_XORSHIFT:
            for c in range(u0, u1):
                dest[c] = _decide(thresh[c], _xorshift_word(pstate, i, c, low))
        elif rng_kind == RNG_GALOIS:
            for c in range(u0, u1):
                dest[c] = _decide(thresh[c], _galois_word(pstate, i, c, taps, width, low))
        else:
            for c in range(u0, u1):
                dest[c] = _decide_biased(thresh[c], bi, _analog_word(streams, hold, i, c, hold_threshold, low), tmax)
        if q_update < 1.0:
            _async_write(S_write, i, new, q_update, streams, u0, u1)


@njit(inline="always")
def _record_if_due(S, record, k, sweep, burn_in, thin, c0, c1):
    """Keep the state after this sweep in record[k] (kept, n, chains) when it is a thin-th one past
    burn-in and there is room; returns the kept count."""
    after = sweep + 1 - burn_in
    if after > 0 and after % thin == 0 and k < record.shape[0]:
        record[k, :, c0:c1] = S[:, c0:c1]
        return k + 1
    return k


GOLDEN = np.uint64(0x9E3779B97F4A7C15)


@njit(inline="always")
def splitmix(z):
    z = z + GOLDEN
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


@njit(inline="always")
def stream_key(seed, stream):
    """runspec.stream_key, compiled."""
    return splitmix(np.uint64(seed) ^ splitmix(np.uint64(stream) + np.uint64(0x5851F42D4C957F2D)))


@njit(cache=True)
def chain_words(seed, stream, chain0, out):
    """out[w, c] ← word w of chain chain0 + c of the stream (seed, stream): runspec.chain_words
    compiled (the same words; tested), for the chains' and the p-bits' RNG states: a run's set-up,
    where numpy's scalar calls for the key cost more than the words."""
    key = stream_key(seed, stream)
    W, C = out.shape
    for w in range(W):
        for c in range(C):
            counter = (np.uint64(chain0 + c) * np.uint64(W) + np.uint64(w)) * GOLDEN
            out[w, c] = splitmix(counter ^ key)


@njit(cache=True)
def swap_log_uniforms(seed, stream, chain0, out):
    """out[s, p] ← log u, u in (0, 1) from word p of chain chain0 + s of the stream (seed, stream):
    the words runspec.chain_words(seed, chains, P, stream) gives (tested), for tempering's swaps,
    compiled because a round is a few dozen numbers and numpy's scalar calls cost more."""
    key = stream_key(seed, stream)
    S, P = out.shape
    for s in range(S):
        for p in range(P):
            counter = (np.uint64(chain0 + s) * np.uint64(P) + np.uint64(p)) * GOLDEN
            word = splitmix(counter ^ key)
            out[s, p] = np.log((np.float64(word >> np.uint64(11)) + 0.5) * 2.0 ** -53)


@njit(inline="always")
def _tile_buffers(tiling, cg, dtype):
    """Per chain group: room for the largest tile's converted states (k, cg) and inputs (m, cg)."""
    col_ptr, weight_ptr = tiling[1], tiling[3]
    kmax = mmax = 0
    for t in range(len(col_ptr) - 1):
        k = col_ptr[t + 1] - col_ptr[t]
        kmax = max(kmax, k)
        mmax = max(mmax, (weight_ptr[t + 1] - weight_ptr[t]) // k)
    return np.empty(kmax * cg, dtype), np.empty(mmax * cg, dtype), np.empty((0, 0), dtype)


@njit(inline="always")
def _tile_inputs(S, tiling, t, Fb, Ab, c0, c1):
    """The inputs from tile t of chains c0..c1-1, W_t @ S[cols_t] (m, c1 − c0), through BLAS: the
    states converted to the float type once per tile, not once per coupling."""
    col_ptr, cols, weight_ptr, tw = tiling[1], tiling[2], tiling[3], tiling[4]
    k0, k = col_ptr[t], col_ptr[t + 1] - col_ptr[t]
    m = (weight_ptr[t + 1] - weight_ptr[t]) // k
    cg = c1 - c0
    u0, u1 = np.uint64(c0), np.uint64(c1)
    F = Fb[:k * cg].reshape(k, cg)
    for q in range(k):
        src, dst = S[cols[k0 + q]], F[q]
        for c in range(u0, u1):
            dst[c - u0] = src[c]
    A = Ab[:m * cg].reshape(m, cg)
    np.dot(tw[weight_ptr[t]:weight_ptr[t + 1]].reshape(m, k), F, A)
    return A


@njit(inline="always")
def _segment(S, tiling, sg, Fb, Ab, none, c0, c1):
    """Segment sg of a synchronous sweep (tiling[0]: first, end, tile or −1, in the update order):
    (first, end, its tile's inputs or `none`, whether it has a tile)."""
    segments = tiling[0]
    tile = segments[sg, 2]
    base = _tile_inputs(S, tiling, tile, Fb, Ab, c0, c1) if tile >= 0 else none
    return segments[sg, 0], segments[sg, 1], base, tile >= 0


@njit(inline="always")
def _chain_values(row, out, scale, c0, c1):
    """out[c] = scale · row[c], or scale · row[0] for every chain when the row has one value."""
    if len(row) == 1:
        for c in range(c0, c1):
            out[c] = scale * row[0]
    else:
        for c in range(c0, c1):
            out[c] = scale * row[c]


@njit(cache=True, parallel=True)
def drive_exact(blocks, tiling, async_ticks, q_update, ptr4, nb4, w4, h, betas, streams, S, snapshot,
                burn_in, thin, record, kept, kb_ptr, kb_coeff, kb_others, groups):
    """len(betas) sweeps of the float32 heat bath, chain groups in parallel (each chain's random
    stream is its own, so the samples do not depend on the grouping); returns the kept count.
    betas (sweeps, 1 or chains).  Synchronous sweeps go colour block by colour block, each a run of
    segments of the update order `blocks` (tiling[0]: first, end, tile or −1; see tiles.BlockTiles)."""
    C = S.shape[1]
    G = len(groups) - 1
    kept_out = np.zeros(G, np.int64)
    for g in prange(G):
        c0, c1 = groups[g], groups[g + 1]
        acc = np.empty(C, np.float32)
        t = np.empty(C, np.float32)
        new = np.empty(C, np.int8)
        scale = np.empty(C, np.float32)
        Fb, Ab, none = _tile_buffers(tiling, c1 - c0, np.float32)
        k = kept
        for sweep in range(betas.shape[0]):
            _chain_values(betas[sweep], scale, np.float32(2.0) * LOG2E, c0, c1)
            if async_ticks == 0:
                for sg in range(len(tiling[0])):
                    p0, p1, base, tiled = _segment(S, tiling, sg, Fb, Ab, none, c0, c1)
                    update_exact(blocks[p0:p1], S, S, ptr4, nb4, w4, h, base, tiled, scale, streams,
                                 1.0, acc, t, new, kb_ptr, kb_coeff, kb_others, c0, c1)
            else:
                for _ in range(async_ticks):
                    snapshot[:, c0:c1] = S[:, c0:c1]
                    update_exact(blocks, snapshot, S, ptr4, nb4, w4, h, none, False, scale, streams, q_update,
                                 acc, t, new, kb_ptr, kb_coeff, kb_others, c0, c1)
            k = _record_if_due(S, record, k, sweep, burn_in, thin, c0, c1)
        kept_out[g] = k
    return kept_out[0]


@njit(cache=True, parallel=True)
def drive_fixed(blocks, tiling, async_ticks, q_update, ptr4, nb4, Jq4, hq, tables, table_of, window,
                shift, acc_max, lut_bits, use_var, gain, offset, bias_q, rng_kind, streams, pstate, taps, width, hold,
                hold_threshold, S, snapshot, burn_in, thin, record, kept, groups):
    """len(table_of) sweeps of a fixed-point fabric, chain groups in parallel; returns the kept count.
    tables (β's, entries): the activation tables; table_of (sweeps, 1 or chains): each sweep's
    table (per chain: parallel tempering).  The accumulator (and the tiles' products) has the float
    type of hq (see update_fixed); the segments as in drive_exact."""
    C = S.shape[1]
    G = len(groups) - 1
    kept_out = np.zeros(G, np.int64)
    flat = tables.ravel()
    per_chain = table_of.shape[1] > 1
    for g in prange(G):
        c0, c1 = groups[g], groups[g + 1]
        acc = np.empty(C, hq.dtype)
        index = np.empty(C, np.uint32)
        thresh = np.empty(C, np.uint32)
        new = np.empty(C, np.int8)
        toff = np.empty(C, np.int64)
        Fb, Ab, none = _tile_buffers(tiling, c1 - c0, hq.dtype)
        k = kept
        for sweep in range(table_of.shape[0]):
            _chain_values(table_of[sweep], toff, tables.shape[1], c0, c1)
            if async_ticks == 0:
                for sg in range(len(tiling[0])):
                    p0, p1, base, tiled = _segment(S, tiling, sg, Fb, Ab, none, c0, c1)
                    update_fixed(blocks[p0:p1], S, S, ptr4, nb4, Jq4, hq, base, tiled, flat, toff, per_chain, window, shift,
                                 acc_max, lut_bits, use_var, gain, offset, bias_q, rng_kind, streams, pstate,
                                 taps, width, hold, hold_threshold, 1.0, acc, index, thresh, new, c0, c1)
            else:
                for _ in range(async_ticks):
                    snapshot[:, c0:c1] = S[:, c0:c1]
                    update_fixed(blocks, snapshot, S, ptr4, nb4, Jq4, hq, none, False, flat, toff, per_chain, window, shift,
                                 acc_max, lut_bits, use_var, gain, offset, bias_q, rng_kind, streams, pstate, taps,
                                 width, hold, hold_threshold, q_update, acc, index, thresh, new, c0, c1)
            k = _record_if_due(S, record, k, sweep, burn_in, thin, c0, c1)
        kept_out[g] = k
    return kept_out[0]


def padded_rows(J, values):
    """Each CSR row of J rounded up to a multiple of four entries (at least four), the pads pointing
    at the row's own spin with weight 0: (ptr (n+1,), neighbours, values of `values`' dtype).  The
    kernels then read four neighbours per pass with no remainder loop."""
    n = J.shape[0]
    deg = np.diff(J.indptr)
    padded = np.maximum(4, (deg + 3) // 4 * 4)
    ptr = np.r_[0, np.cumsum(padded)].astype(np.int64)
    nb = np.repeat(np.arange(n, dtype=np.int64), padded)
    w = np.zeros(ptr[-1], dtype=values.dtype)
    rows = np.repeat(np.arange(n), deg)
    pos = ptr[rows] + np.arange(len(J.indices)) - J.indptr[rows]
    nb[pos] = J.indices
    w[pos] = values
    return ptr, nb, w


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
