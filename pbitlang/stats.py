"""Error bars for correlated Markov-chain samples.

The integrated autocorrelation time τ = 1 + 2 Σ_t ρ(t) is estimated from the
autocorrelation function averaged over chains, summed with Sokal's automatic
window (the first W with W ≥ c·τ(W), c = 5).  Then SE = sqrt(var · τ / N) and
the effective sample size is N / τ.  Batch means are the cross-check."""
from __future__ import annotations

import math

import numpy as np

SOKAL_C = 5.0


def autocorrelation(trace: np.ndarray) -> np.ndarray:
    """ρ(t) for t = 0..kept-1, averaged over chains; trace (chains, kept)."""
    x = np.asarray(trace, dtype=np.float64)
    chains, kept = x.shape
    x = x - x.mean()                        # the pooled mean: chains that disagree show as correlation
    size = 1 << (2 * kept - 1).bit_length()
    f = np.fft.rfft(x, n=size, axis=1)
    acov = np.fft.irfft(f * np.conj(f), n=size, axis=1)[:, :kept].mean(axis=0)
    acov /= np.arange(kept, 0, -1)          # unbiased per lag
    if acov[0] <= 0:
        return np.r_[1.0, np.zeros(kept - 1)]
    return acov / acov[0]


def integrated_time(trace: np.ndarray) -> float:
    """τ_int (≥ 1) of trace (chains, kept) with Sokal's window."""
    x = np.asarray(trace, dtype=np.float64)
    if x.ndim == 1:
        x = x[None]
    if x.shape[1] < 2 or np.all(x == x.flat[0]):
        return 1.0
    rho = autocorrelation(x)
    tau = 1.0
    for w in range(1, len(rho)):
        tau += 2.0 * rho[w]
        if w >= SOKAL_C * tau:
            break
    return max(tau, 1.0)


def mean_and_error(trace: np.ndarray) -> tuple:
    """(mean, standard error, τ_int, effective sample size) of trace (chains, kept)."""
    x = np.asarray(trace, dtype=np.float64)
    if x.ndim == 1:
        x = x[None]
    n = x.size
    mean = float(x.mean())
    if n < 2:
        return mean, math.nan, 1.0, float(n)
    tau = integrated_time(x)
    var = float(x.var(ddof=1))
    return mean, math.sqrt(var * tau / n), tau, n / tau


def batch_means_error(trace: np.ndarray, batches: int = 20) -> float:
    """Standard error from the spread of batch means (batches along each chain)."""
    x = np.asarray(trace, dtype=np.float64)
    if x.ndim == 1:
        x = x[None]
    chains, kept = x.shape
    size = kept // batches
    if size < 1:
        return math.nan
    means = x[:, : size * batches].reshape(chains, batches, size).mean(axis=2).ravel()
    return float(means.std(ddof=1) / math.sqrt(len(means)))


def log_binning(trace: np.ndarray, levels: int = 4) -> list:
    """Equilibration check: means over the last half, quarter, … of each chain (they agree when equilibrated)."""
    x = np.asarray(trace, dtype=np.float64)
    if x.ndim == 1:
        x = x[None]
    kept = x.shape[1]
    out = []
    for k in range(1, levels + 1):
        start = kept - kept // (2 ** k)
        if kept - start < 2:
            break
        m, se, _, _ = mean_and_error(x[:, start:])
        out.append({"from": int(start), "mean": m, "se": se})
    return out


def diagnostics(trace: np.ndarray) -> dict | None:
    """Rank-normalised split R-hat and bulk and tail ESS (Vehtari, Gelman, Simpson, Carpenter and
    Bürkner 2021, as Stan and ArviZ compute them; tests check agreement with arviz-stats) of trace
    (chains, kept, *shape): arrays of `shape`, 0-d for a scalar trace.  None with fewer than 4
    draws a chain."""
    x = np.asarray(trace, dtype=np.float64)
    if x.ndim < 2 or x.shape[0] < 1 or x.shape[1] < 4:
        return None
    flat = x.reshape(x.shape[0], x.shape[1], -1)
    rows = [(rank_rhat(flat[:, :, k]), ess_bulk(flat[:, :, k]), ess_tail(flat[:, :, k]))
            for k in range(flat.shape[2])]
    return {key: np.array([r[i] for r in rows]).reshape(x.shape[2:])
            for i, key in enumerate(("rhat", "ess_bulk", "ess_tail"))}


def rank_rhat(x: np.ndarray) -> float:
    """max(bulk, tail) split R-hat on rank-normalised draws (x: chains, draws)."""
    split = _split_chains(x)
    folded = np.abs(split - np.median(split))
    return max(_rhat(_z_scale(split)), _rhat(_z_scale(folded)))


def ess_bulk(x: np.ndarray) -> float:
    return _ess(_z_scale(_split_chains(x)))


def ess_tail(x: np.ndarray, probs=(0.05, 0.95)) -> float:
    """The smaller ESS of the indicators x ≤ q_5% and x ≤ q_95%."""
    if np.ptp(x) < np.finfo(float).resolution:
        return float(x.size)
    return min(_ess(_split_chains((x <= np.quantile(x, p)).astype(np.float64))) for p in probs)


def _split_chains(x: np.ndarray) -> np.ndarray:
    half = x.shape[1] // 2                       # an odd middle draw is left out
    return np.vstack((x[:, :half], x[:, x.shape[1] - half:]))


def _z_scale(x: np.ndarray) -> np.ndarray:
    """Normal scores of the pooled ranks (ties share their average rank; Blom's offset 3/8)."""
    from scipy.special import ndtri
    flat = x.ravel()
    order = np.argsort(flat, kind="mergesort")
    ordered = flat[order]
    starts = np.r_[0, np.flatnonzero(np.diff(ordered) != 0) + 1]
    ends = np.r_[starts[1:], len(flat)]
    ranks = np.empty(len(flat))
    ranks[order] = np.repeat((starts + 1 + ends) / 2.0, ends - starts)
    return ndtri((ranks - 0.375) / (len(flat) + 0.25)).reshape(x.shape)


def _rhat(x: np.ndarray) -> float:
    n = x.shape[1]
    within = float(np.mean(np.var(x, axis=1, ddof=1)))
    between = n * float(np.var(np.mean(x, axis=1), ddof=1)) if x.shape[0] > 1 else 0.0
    if within <= 0:
        return math.nan
    return math.sqrt((between / within + n - 1) / n)


def _ess(x: np.ndarray) -> float:
    """ESS of chains x (chains, draws) by Geyer's initial monotone sequence over the
    multi-chain autocorrelation (Stan's estimator)."""
    chains, n = x.shape
    if np.ptp(x) < np.finfo(float).resolution:
        return float(x.size)
    centred = x - x.mean(axis=1, keepdims=True)
    size = 1 << (2 * n - 1).bit_length()
    f = np.fft.rfft(centred, n=size, axis=1)
    acov = np.fft.irfft(f * np.conj(f), n=size, axis=1)[:, :n] / n          # biased, per chain
    mean_var = float(np.mean(acov[:, 0])) * n / (n - 1.0)
    var_plus = mean_var * (n - 1.0) / n + (float(np.var(x.mean(axis=1), ddof=1)) if chains > 1 else 0.0)
    rho = 1.0 - (mean_var - acov.mean(axis=0)) / var_plus                     # ρ_t, t = 0..n−1
    rho[0] = 1.0
    kept = np.zeros(n)
    kept[:2] = rho[:2]
    even, odd, t = 1.0, rho[1], 1
    while t < n - 3 and even + odd > 0.0:                                     # initial positive sequence
        even, odd = rho[t + 1], rho[t + 2]
        if even + odd >= 0:
            kept[t + 1], kept[t + 2] = even, odd
        t += 2
    last = t - 2
    if even > 0:
        kept[last + 1] = even
    for t in range(1, last - 1, 2):                                           # made monotone
        if kept[t + 1] + kept[t + 2] > kept[t - 1] + kept[t]:
            kept[t + 1] = kept[t + 2] = (kept[t - 1] + kept[t]) / 2.0
    tau = -1.0 + 2.0 * kept[:last + 1].sum() + kept[last + 1:last + 2].sum()
    tau = max(tau, 1.0 / math.log10(x.size))
    return float(x.size / tau) if np.all(np.isfinite(kept)) else math.nan
