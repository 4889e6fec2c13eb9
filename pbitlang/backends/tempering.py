"""Parallel tempering (replica exchange), a composite over any backend's Kernel.

Each chain is a replica *set*: R copies of the model at inverse temperatures
β_1 < … < β_R = the run's β, stored as R columns of one kernel's state, which
runs every column at its own β (Kernel.run takes one β per sweep and chain)
and reports the columns' energies.  After every `swap_every` sweeps,
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
from .driver import start
from .kernels import swap_log_uniforms
from .runspec import initial_state, int_option, run_info


MAX_REPLICAS = 1024        # far beyond any useful ladder; each replica is a column of every sweep


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
        if betas.ndim != 1 or not 2 <= len(betas) <= MAX_REPLICAS or np.any(np.diff(betas) <= 0) or betas[0] <= 0 \
                or not np.all(np.isfinite(betas)):
            raise OptionError("a tempering ladder is an increasing list of at least two positive β")
        if not np.isclose(betas[-1], beta):
            raise OptionError(f"the ladder must end at the run's β = {beta} (it ends at {betas[-1]})")
        return betas, False
    R = option.get("replicas", 16)
    try:
        bmin = float(option.get("beta_min", 0.1 * beta if beta > 0 else 0.1))
    except (TypeError, ValueError):
        raise OptionError(f"tempering's beta_min must be a number, got {option.get('beta_min')!r}") from None
    if not isinstance(R, int) or isinstance(R, bool) or not 2 <= R <= MAX_REPLICAS:
        raise OptionError(f"tempering needs 2 to {MAX_REPLICAS} replicas, got {R!r}")
    if not 0 < bmin < beta:
        raise OptionError(f"tempering needs 0 < beta_min < β = {beta}, got {bmin}")
    if kind not in ("geometric", "adaptive"):
        raise OptionError(f"tempering ladder is 'geometric', 'adaptive' or a list, not {kind!r}")
    return np.geomspace(bmin, beta, R), kind == "adaptive"


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


SWAP_STREAM = 1 << 32               # swap round r draws from stream SWAP_STREAM + r of each set


def swap_round(gaps, ks, E, col_of, tix, seed: int, first_set: int, round_index: int, tried, accepted) -> bool:
    """One round of exchanges between temperatures k and k+1 for the pairs ks (all of one parity, so
    disjoint), every set; gaps[k] = β_k − β_{k+1}.  Each set's uniforms come from (seed, round, set
    index) alone: sets run apart (on a cluster's workers) swap as they would together.  Returns
    whether anything moved."""
    log_u = np.empty((col_of.shape[0], len(ks)))
    swap_log_uniforms(np.uint64(seed), np.uint64(SWAP_STREAM + round_index), first_set, log_u)
    return _swap_round(gaps, ks, E, col_of, tix, log_u, tried, accepted)


def sample_tempering(backend, ir, spec, option, kernel_options: dict) -> SampleResult:
    """Parallel tempering with `backend`'s kernel: a run of swap_every sweeps at every column's β,
    the columns' energies, one round of swaps; samples recorded at the top of the ladder."""
    if spec.constant_beta is None:
        raise OptionError("parallel tempering samples at one β; give tempering a ladder instead of a β schedule")
    beta = spec.constant_beta
    ladder, adaptive = ladder_from(option, beta)
    if adaptive and spec.first_chain:
        raise OptionError("an adaptive ladder adapts to the swaps of all replica sets together: run them in one "
                          "process (first_chain 0), or give a geometric ladder or a list")
    R = len(ladder)
    swap_every = int_option(option, "swap_every", 1, 1)
    adapt_every = int_option(option, "adapt_every", 50, 1)
    t0 = time.perf_counter()
    sets, n = spec.chains, ir.num_spins
    cols = sets * R
    kernel = backend.prepare(ir, cols, spec.clamp_index, **kernel_options)
    kernel.first_chain = spec.first_chain * R                   # column s*R + r is chain (first + s)*R + r
    X = np.ascontiguousarray(np.repeat(initial_state(ir, spec), R, axis=1))     # column s*R + r
    clamp_values = np.repeat(spec.clamp_value, R, axis=0)
    col_of = np.arange(cols, dtype=np.int64).reshape(sets, R)    # column holding temperature k of set s
    tix = np.tile(np.arange(R, dtype=np.int64), sets)            # temperature index of each column
    record = np.empty((spec.kept, n, sets), dtype=np.int8)
    ladder_energies = np.empty((spec.kept, sets, R))            # every temperature's energy at a kept sweep
    tried = np.zeros(R - 1, dtype=np.int64)
    accepted = np.zeros(R - 1, dtype=np.int64)
    window_tried = np.zeros(R - 1, dtype=np.int64)
    window_acc = np.zeros(R - 1, dtype=np.int64)
    kept = done = parity = 0
    interrupted = False
    rounds = [k for k in (np.arange(0, R - 1, 2), np.arange(1, R - 1, 2)) if len(k)]
    gaps = ladder[:-1] - ladder[1:]
    t1 = start(kernel, ir.h, ir.J.data, clamp_values, X, ladder[tix][None, :], spec.seed, energies=True)
    try:
        while done < spec.total_sweeps:
            kernel.run(None, None, None, X, ladder[tix][None, :], None)
            done += 1
            E = None
            if done % swap_every == 0:
                E = kernel.energies(X)
                adapting = adaptive and done <= spec.burn_in
                if adapting:
                    before = accepted.copy(), tried.copy()
                ks = rounds[parity % len(rounds)]
                swap_round(gaps, ks, E, col_of, tix, spec.seed, spec.first_chain, done // swap_every, tried, accepted)
                if adapting:
                    window_acc += accepted - before[0]
                    window_tried += tried - before[1]
                parity ^= 1
            if adaptive and done <= spec.burn_in and done % adapt_every == 0 and window_tried.all():
                ladder = _adapt(ladder, window_acc / window_tried)
                gaps = ladder[:-1] - ladder[1:]
                window_tried[:] = 0
                window_acc[:] = 0
            after = done - spec.burn_in
            if after > 0 and after % spec.thin == 0 and kept < spec.kept:
                record[kept] = X[:, col_of[:, -1]]
                ladder_energies[kept] = (kernel.energies(X) if E is None else E)[col_of]
                kept += 1
            if spec.progress is not None:
                spec.progress(done, spec.total_sweeps)
    except KeyboardInterrupt:
        interrupted = True
    t2 = time.perf_counter()
    rates = np.divide(accepted, tried, out=np.zeros(R - 1), where=tried > 0)
    info = run_info(backend.name, spec, ir, kernel, done, cols, t0, t1, t2, interrupted,
                    **kernel.report(done, kept),
                    tempering={"ladder": ladder.tolist(), "replicas": R, "swap_every": swap_every,
                               "swap_acceptance": rates.tolist(), "swaps_tried": tried.tolist(),
                               "adaptive": adaptive})
    res = SampleResult.from_native(ir, record[:kept], info)
    res.ladder_energies = np.ascontiguousarray(ladder_energies[:kept].transpose(1, 0, 2))
    return res


def _adapt(ladder: np.ndarray, rates: np.ndarray, gain: float = 0.5) -> np.ndarray:
    """Widen the log-β gaps where swaps succeed more than average, narrow them where less."""
    x = np.log(ladder)
    gaps = np.diff(x)
    gaps = gaps * np.exp(gain * (rates - rates.mean()))
    gaps *= (x[-1] - x[0]) / gaps.sum()
    out = np.exp(np.r_[x[0], x[0] + np.cumsum(gaps)])
    out[0], out[-1] = ladder[0], ladder[-1]                     # the ends stay exactly where they were
    return out
