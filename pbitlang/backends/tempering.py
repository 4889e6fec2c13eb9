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

from ..errors import OptionError
from ..results import SampleResult
from .base import initial_state, run_info
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


def energies(plan: ColourPlan, X: np.ndarray, offset: float, h: np.ndarray, J, kbody) -> np.ndarray:
    """E of every column of X (state in plan order)."""
    Xd = X.astype(np.float64)
    E = offset + h @ Xd + 0.5 * np.einsum("ic,ic->c", Xd, J @ Xd)
    for idx, coeff in kbody:
        prod = np.ones((len(coeff), X.shape[1]))
        for q in range(idx.shape[1]):
            prod *= Xd[idx[:, q]]
        E += coeff @ prod
    return E


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
    # the energy in plan order (float64, exact)
    Jp = ir.J[plan.perm][:, plan.perm] if n else ir.J
    hp = ir.h[plan.perm]
    kb = [(plan.inv[idx], coeff) for idx, coeff in ir.kbody.values()]
    col_of = np.arange(cols).reshape(sets, R)                  # column holding temperature k of set s
    tix = np.tile(np.arange(R), sets)                           # temperature index of each column
    record = np.empty((sets, spec.kept, n), dtype=np.int8)
    tried = np.zeros(R - 1)
    accepted = np.zeros(R - 1)
    window_tried = np.zeros(R - 1)
    window_acc = np.zeros(R - 1)
    kept = done = 0
    parity = 0
    interrupted = False
    t1 = time.perf_counter()
    with np.errstate(over="ignore"):
        try:
            for sweep in range(spec.total_sweeps):
                beta_row = ladder[tix].astype(np.float32)[None, :]
                gibbs_sweep(plan, X, beta_row, rng.bit_generator)
                done = sweep + 1
                if done % swap_every == 0:
                    E = energies(plan, X, ir.offset, hp, Jp, kb)
                    for k in range(parity, R - 1, 2):
                        ca, cb = col_of[:, k].copy(), col_of[:, k + 1].copy()
                        delta = (ladder[k] - ladder[k + 1]) * (E[ca] - E[cb])
                        acc = np.log(rng.random(sets)) < delta
                        n_acc = int(acc.sum())
                        tried[k] += sets
                        accepted[k] += n_acc
                        window_tried[k] += sets
                        window_acc[k] += n_acc
                        if n_acc:
                            col_of[acc, k], col_of[acc, k + 1] = cb[acc], ca[acc]
                            tix[ca[acc]], tix[cb[acc]] = k + 1, k
                    parity ^= 1
                if adaptive and done <= spec.burn_in and done % adapt_every == 0 and window_tried.all():
                    ladder = _adapt(ladder, window_acc / window_tried)
                    window_tried[:] = 0
                    window_acc[:] = 0
                after = done - spec.burn_in
                if after > 0 and after % spec.thin == 0 and kept < spec.kept:
                    record[:, kept, :] = X[:, col_of[:, -1]].astype(np.int8)[plan.inv].T
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
