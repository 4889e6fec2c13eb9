"""Autocorrelation-aware error bars on processes with known answers."""
import math

import numpy as np
import pytest

from pbitlang.stats import batch_means_error, integrated_time, log_binning, mean_and_error


def ar1(phi, chains, kept, seed):
    rng = np.random.default_rng(seed)
    x = np.zeros((chains, kept))
    x[:, 0] = rng.normal(size=chains) / math.sqrt(1 - phi ** 2)
    noise = rng.normal(size=(chains, kept))
    for t in range(1, kept):
        x[:, t] = phi * x[:, t - 1] + noise[:, t]
    return x


@pytest.mark.parametrize("phi", [0.0, 0.5, 0.9])
def test_integrated_time_of_ar1(phi):
    exact = (1 + phi) / (1 - phi)                # τ_int of an AR(1) process
    tau = integrated_time(ar1(phi, 16, 20000, 0))
    assert tau == pytest.approx(exact, rel=0.1)


def test_standard_error_is_calibrated():
    """Over many independent runs, |mean| / SE behaves like a standard normal."""
    z = []
    for seed in range(200):
        m, se, _, _ = mean_and_error(ar1(0.8, 4, 2000, seed))
        z.append(m / se)
    z = np.array(z)
    assert 0.8 < z.std() < 1.25
    assert np.mean(np.abs(z) < 2) > 0.9


def test_batch_means_agree_with_tau_estimate():
    x = ar1(0.7, 8, 20000, 3)
    _, se, _, _ = mean_and_error(x)
    assert batch_means_error(x) == pytest.approx(se, rel=0.25)


def test_log_binning_flags_a_drift():
    x = ar1(0.5, 4, 4000, 1)
    flat = log_binning(x)
    assert all(abs(b["mean"] - flat[-1]["mean"]) < 5 * max(b["se"], flat[-1]["se"]) for b in flat)
    drift = x + np.linspace(5, 0, 4000)
    binned = log_binning(drift)
    assert abs(binned[0]["mean"] - binned[-1]["mean"]) > 5 * binned[0]["se"]


def test_constant_trace():
    m, se, tau, ess = mean_and_error(np.ones((3, 10)))
    assert m == 1 and se == 0 and tau == 1
