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
    """Rank-normalised split R-hat and bulk and tail ESS (Vehtari et al. 2021) of trace
    (chains, kept, *shape), computed by arviz-stats (extra `diagnostics`); None without it, or with
    fewer than 4 draws a chain.  Values are arrays of `shape` (0-d for a scalar trace)."""
    try:
        from arviz_stats.base import array_stats
    except ImportError:
        return None
    x = np.asarray(trace, dtype=np.float64)
    if x.ndim < 2 or x.shape[1] < 4 or x.shape[0] < 1:
        return None
    with np.errstate(all="ignore"):
        return {"rhat": np.asarray(array_stats.rhat(x, chain_axis=0, draw_axis=1, method="rank")),
                "ess_bulk": np.asarray(array_stats.ess(x, chain_axis=0, draw_axis=1, method="bulk")),
                "ess_tail": np.asarray(array_stats.ess(x, chain_axis=0, draw_axis=1, method="tail",
                                                       prob=(0.05, 0.95)))}
