"""Observables a statistical physicist expects, with error bars.

Every estimate comes with a standard error: from the integrated autocorrelation
time of its trace (pbitlang.stats) where it is a per-sample quantity, or from
the spread of per-chain (or per-replica-pair) estimates, jackknifed, where it
is a ratio or a variance.  Replica overlaps pair the chains (0, 1), (2, 3), …,
which parallel tempering runs as independent replica sets."""
from __future__ import annotations

import math

import numpy as np

from .errors import PbitError
from .stats import mean_and_error


def _values(res, variable: str) -> np.ndarray:
    v = res.variables(variable).astype(np.float64)
    if res.ir.layout[variable][2] == "bit":
        v = 2 * v - 1
    return v


def abs_magnetization(res, variable: str) -> tuple:
    """⟨|m|⟩ ± SE, m the mean spin of `variable` in each sample."""
    v = _values(res, variable)
    m = np.abs(v.reshape(len(v), -1).mean(axis=1)).reshape(res.num_chains, res.kept)
    return mean_and_error(m)[:2]


def correlation_function(res, variable: str, axis: int = 0) -> tuple:
    """C(r) = ⟨s_x s_{x+r}⟩ along `axis`, averaged over positions, r = 0 … size//2 (wrapping when the
    variable is periodic, over the pairs inside the lattice otherwise): (r, mean, SE)."""
    v = _values(res, variable)
    shape = v.shape[1:]
    if not shape or not 0 <= axis < len(shape):
        raise PbitError(f"'{variable}' has no axis {axis}")
    size = shape[axis]
    periodic = variable in res.ir.periodic
    rs = np.arange(size // 2 + 1)
    means, errs = [], []
    for r in rs:
        a = np.moveaxis(v, axis + 1, 1)
        if periodic:
            prod = a * np.roll(a, -r, axis=1)
        else:
            prod = a[:, : size - r] * a[:, r:]
        c = prod.reshape(len(v), -1).mean(axis=1).reshape(res.num_chains, res.kept)
        m, se = mean_and_error(c)[:2]
        means.append(m)
        errs.append(se)
    return rs, np.array(means), np.array(errs)


def overlaps(res, variable: str | None = None) -> np.ndarray:
    """q = (1/N) Σ_i s^a_i s^b_i between chains (0, 1), (2, 3), … at the same sweep: (pairs, kept)."""
    if res.num_chains < 2:
        raise PbitError("overlaps need at least two independent chains (replica sets)")
    if variable is None:
        v = res.samples.astype(np.float64)
    else:
        v = _values(res, variable).reshape(len(res.samples), -1)
    v = v.reshape(res.num_chains, res.kept, -1)
    pairs = res.num_chains // 2
    return (v[0:2 * pairs:2] * v[1:2 * pairs:2]).mean(axis=2)


def p_of_q(q: np.ndarray, n: int) -> tuple:
    """The distribution of the overlap on its lattice of values q ∈ {−1, −1 + 2/n, …, 1}: (values, P)."""
    values = np.linspace(-1, 1, n + 1)
    k = np.rint((np.asarray(q).ravel() + 1) * n / 2).astype(np.int64)
    counts = np.bincount(k, minlength=n + 1)
    return values, counts / counts.sum()


def _jackknife(estimate, groups: np.ndarray) -> tuple:
    """estimate(groups) and its jackknife SE over the first axis of `groups`."""
    full = estimate(groups)
    g = len(groups)
    if g < 2:
        return full, math.nan
    loo = np.array([estimate(np.delete(groups, k, axis=0)) for k in range(g)])
    return full, float(math.sqrt((g - 1) / g * ((loo - loo.mean()) ** 2).sum()))


def q_ea(q: np.ndarray) -> tuple:
    """q_EA = ⟨q²⟩ ± jackknife SE over replica pairs."""
    return _jackknife(lambda x: float(np.mean(x ** 2)), np.asarray(q))


def binder(q: np.ndarray) -> tuple:
    """Binder cumulant g = ½(3 − ⟨q⁴⟩/⟨q²⟩²) ± jackknife SE over replica pairs."""
    return _jackknife(lambda x: float(0.5 * (3 - np.mean(x ** 4) / np.mean(x ** 2) ** 2)), np.asarray(q))


def specific_heat(res, per_spin: bool = True) -> tuple:
    """C = β² Var(E) (per spin) ± jackknife SE over chains.  The variance pools every chain's draws
    about the grand mean: a chain's own variance about its own mean is biased low by about 2τ_int/K
    (K draws a chain, 20 % at the critical point with K = 1,000), the pooled one by 2τ_int/(K·chains)."""
    beta = res.info.get("beta")
    if not isinstance(beta, (int, float)):
        raise PbitError("the specific heat needs a run at one β")
    E = res.trace("energy")
    norm = res.ir.num_spins if per_spin else 1
    return _jackknife(lambda e: float(beta ** 2 * e.var() / norm), E)
