"""Parallel tempering (replica exchange) for the reference backend.

Each chain is a replica *set*: R copies of the model at inverse temperatures
β_1 < … < β_R = the run's β, stored as R columns of the state so one sparse
product updates every replica of every set.  After every `swap_every` sweeps,
neighbouring temperatures of each set try to exchange (even pairs, then odd
pairs alternately) with probability min(1, exp((β_k − β_{k+1})(E_k − E_{k+1})));
what moves is the temperature label, not the configuration.  Samples are
recorded at β_R.  An adaptive ladder is tuned during burn-in only (so the kept
samples come from a fixed ladder and detailed balance holds): each gap in
log β grows where swaps are accepted more often than average and shrinks
where they are accepted less."""
from __future__ import annotations

import time

import numpy as np
from numba import njit

from ..errors import OptionError
from ..results import SampleResult
from .base import initial_state, run_info
from .layout import record_rows
from .reference import ColourPlan, gibbs_sweep


def ladder_from(option: dict, beta: float) -> tuple:
    if not isinstance(option, dict):
        raise OptionError("tempering takes a dict: {'replicas': R, 'beta_min': …, 'ladder': …}")
    unknown = set(option) - {"replicas", "beta_min", "ladder", "swap_every", "adapt_every"}
    if unknown:
        raise OptionError(f"tempering has no setting {', '.join(sorted(unknown))} "
                          "(replicas, beta_min, ladder, swap_every, adapt_every)")
    kind = option.get("ladder", "geometric")
    if isinstance(kind, (list, tuple, np.ndarray)):
        betas = np.asarray(kind, dtype=np.float64)
        if betas.ndim != 1 or len(betas) < 2 or np.any(np.diff(betas) <= 0) or betas[0] <= 0:
            raise OptionError("a tempering ladder is an increasing list of at least two positive β")
        if not np.isclose(betas[-1], beta):
            raise OptionError(f"the ladder must end at the run's β = {beta} (it ends at {betas[-1]})")
        return betas, False
    R = option.get("replicas", 16)
    bmin = float(option.get("beta_min", 0.1 * beta if beta > 0 else 0.1))
    if not isinstance(R, int) or R < 2:
        raise OptionError(f"tempering needs replicas ≥ 2, got {R!r}")
    if not 0 < bmin < beta:
        raise OptionError(f"tempering needs 0 < beta_min < β = {beta}, got {bmin}")
    if kind not in ("geometric", "adaptive"):
        raise OptionError(f"tempering ladder is 'geometric', 'adaptive' or a list, not {kind!r}")
    return np.geomspace(bmin, beta, R), kind == "adaptive"


def energies(X: np.ndarray, offset: float, h: np.ndarray, J, kbody) -> np.ndarray:
    """E of every column of X (state in plan order).  The sparse product runs in float32, like
    the sweeps; the sums over spins accumulate in float64 (relative error ~1e-7 of |E|, far below
    what changes a swap decision)."""
    JX = J @ X
    E = offset + (h @ X).astype(np.float64) + 0.5 * np.einsum("ic,ic->c", X, JX, dtype=np.float64)
    for idx, coeff in kbody:
        prod = np.ones((len(coeff), X.shape[1]), dtype=np.float64)
        for q in range(idx.shape[1]):
            prod *= X[idx[:, q]]
        E += coeff @ prod
    return E


@njit(cache=True)
def _bipartite_sums(X, h, a0, a1, b0, b1, F_last, E):
    """E[c] += Σ_a h_a s_ac + Σ_b s_bc f_bc: rows outer, columns inner, so each row is one vector pass."""
    for i in range(a0, a1):
        w = h[i]
        for c in range(X.shape[1]):
            E[c] += w * X[i, c]
    for i in range(b0, b1):
        for c in range(X.shape[1]):
            E[c] += X[i, c] * F_last[i - b0, c]


def bipartite_energies(plan: ColourPlan, X: np.ndarray, offset: float, h: np.ndarray, F_last: np.ndarray):
    """E of every column right after a sweep of a two-colour model without clamps or k-body factors:
    offset + h_A·s_A + s_B·f_B, f_B the fields the last block (B) was updated with — they already
    hold h_B and every A–B coupling with A final, and no coupling joins two spins of one colour.
    Compiled, summed in float64 from the sweeps' float32 fields (relative error ~1e-7 of |E|, far
    below what changes a swap decision)."""
    E = np.full(X.shape[1], float(offset))
    _bipartite_sums(X, h, plan.blocks[0].a, plan.blocks[0].b, plan.blocks[1].a, plan.blocks[1].b, F_last, E)
    return E


@njit(cache=True)
def _swap_round(gaps, ks, E, col_of, tix, log_u, tried, accepted):
    """Compiled: a loop over sets and pairs is cheaper than twenty numpy calls on tiny arrays."""
    moved = False
    sets = col_of.shape[0]
    for p in range(len(ks)):
        k = ks[p]
        for s_ in range(sets):
            ca = col_of[s_, k]
            cb = col_of[s_, k + 1]
            tried[k] += 1
            if log_u[s_, p] < gaps[k] * (E[ca] - E[cb]):
                accepted[k] += 1
                col_of[s_, k] = cb
                col_of[s_, k + 1] = ca
                tix[ca] = k + 1
                tix[cb] = k
                moved = True
    return moved


def swap_round(gaps, ks, E, col_of, tix, rng, tried, accepted) -> bool:
    """One round of exchanges between temperatures k and k+1 for the pairs ks (all of one parity, so
    disjoint), every set; gaps[k] = β_k − β_{k+1}.  Returns whether anything moved."""
    log_u = np.log(rng.random((col_of.shape[0], len(ks))))
    return _swap_round(gaps, ks, E, col_of, tix, log_u, tried, accepted)


def sample_tempering(backend, ir, spec, option) -> SampleResult:
    if len(set(spec.betas.tolist())) > 1:
        raise OptionError("parallel tempering samples at one β; give tempering a ladder instead of a β schedule")
    beta = float(spec.betas[0])
    ladder, adaptive = ladder_from(option, beta)
    R = len(ladder)
    swap_every = int(option.get("swap_every", 1))
    adapt_every = int(option.get("adapt_every", 50))
    if swap_every < 1 or adapt_every < 1:
        raise OptionError("swap_every and adapt_every must be ≥ 1")
    t0 = time.perf_counter()
    sets, n = spec.chains, ir.num_spins
    cols = sets * R
    rng = np.random.Generator(np.random.SFC64(spec.seed))
    plan = ColourPlan(ir, spec.clamp_index)
    start = initial_state(ir, spec, rng)                       # (n, sets)
    X = np.repeat(start, R, axis=1)[plan.perm]                 # column s*R + r
    # the energy in plan order, in the sweeps' precision
    Jp = (ir.J[plan.perm][:, plan.perm] if n else ir.J).astype(np.float32)
    hp = ir.h[plan.perm].astype(np.float32)
    kb = [(plan.inv[idx], coeff) for idx, coeff in ir.kbody.values()]
    fast = len(plan.blocks) == 2 and not ir.kbody and not len(spec.clamp_index)
    F_last = np.empty((plan.blocks[-1].b - plan.blocks[-1].a, cols), np.float32) if fast else None
    col_of = np.arange(cols).reshape(sets, R)                  # column holding temperature k of set s
    tix = np.tile(np.arange(R), sets)                           # temperature index of each column
    record = np.empty((sets, spec.kept, n), dtype=np.int8)
    tried = np.zeros(R - 1, dtype=np.int64)
    accepted = np.zeros(R - 1, dtype=np.int64)
    window_tried = np.zeros(R - 1, dtype=np.int64)
    window_acc = np.zeros(R - 1, dtype=np.int64)
    kept = done = 0
    parity = 0
    interrupted = False
    t1 = time.perf_counter()
    rounds = [k for k in (np.arange(0, R - 1, 2), np.arange(1, R - 1, 2)) if len(k)]
    col_of = np.ascontiguousarray(col_of, dtype=np.int64)
    tix = np.ascontiguousarray(tix, dtype=np.int64)
    gaps = ladder[:-1] - ladder[1:]
    beta_row = ladder[tix].astype(np.float32)[None, :]
    with np.errstate(over="ignore"):
        try:
            for sweep in range(spec.total_sweeps):
                swap_now = (sweep + 1) % swap_every == 0
                gibbs_sweep(plan, X, beta_row, rng.bit_generator, F_last if swap_now else None)
                done = sweep + 1
                if swap_now:
                    E = bipartite_energies(plan, X, ir.offset, hp, F_last) if fast else energies(X, ir.offset, hp, Jp, kb)
                    adapting = adaptive and done <= spec.burn_in
                    if adapting:
                        before = accepted.copy(), tried.copy()
                    if swap_round(gaps, rounds[parity % len(rounds)], E, col_of, tix, rng, tried, accepted):
                        beta_row = ladder[tix].astype(np.float32)[None, :]
                    if adapting:
                        window_acc += accepted - before[0]
                        window_tried += tried - before[1]
                    parity ^= 1
                if adaptive and done <= spec.burn_in and done % adapt_every == 0 and window_tried.all():
                    ladder = _adapt(ladder, window_acc / window_tried)
                    gaps = ladder[:-1] - ladder[1:]
                    beta_row = ladder[tix].astype(np.float32)[None, :]
                    window_tried[:] = 0
                    window_acc[:] = 0
                after = done - spec.burn_in
                if after > 0 and after % spec.thin == 0 and kept < spec.kept:
                    record_rows(np.ascontiguousarray(X[:, col_of[:, -1]]), plan.inv, record, kept)
                    kept += 1
                if spec.progress is not None:
                    spec.progress(done, spec.total_sweeps)
        except KeyboardInterrupt:
            interrupted = True
    t2 = time.perf_counter()
    samples = record[:, :kept].reshape(sets * kept, n)
    rates = np.divide(accepted, tried, out=np.zeros(R - 1), where=tried > 0)
    info = run_info(backend.name, spec, ir, len(plan.blocks), done, cols, t0, t1, t2, interrupted,
                    tempering={"ladder": ladder.tolist(), "replicas": R, "swap_every": swap_every,
                               "swap_acceptance": rates.tolist(), "adaptive": adaptive})
    return SampleResult(ir, samples, sets, info)


def _adapt(ladder: np.ndarray, rates: np.ndarray, gain: float = 0.5) -> np.ndarray:
    """Widen the log-β gaps where swaps succeed more than average, narrow them where less."""
    x = np.log(ladder)
    gaps = np.diff(x)
    gaps = gaps * np.exp(gain * (rates - rates.mean()))
    gaps *= (x[-1] - x[0]) / gaps.sum()
    out = np.exp(np.r_[x[0], x[0] + np.cumsum(gaps)])
    out[0], out[-1] = ladder[0], ladder[-1]                     # the ends stay exactly where they were
    return out
