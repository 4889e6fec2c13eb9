"""Parallel tempering and spin-glass observables against exact answers; the 2D ferromagnet's
energy and specific heat against Kaufman's solution."""

import numpy as np
import pytest

import pbitlang as pb
from pbitlang import physics
from pbitlang.backends.exact import ExactBackend, exact
from pbitlang.testing import compare_with_exact, random_model_source, tvd_tolerance
from tests.kaufman import energy_per_spin, specific_heat_per_spin


@pytest.mark.parametrize("ladder", [{"replicas": 6, "beta_min": 0.2},
                                    {"replicas": 6, "beta_min": 0.2, "ladder": "adaptive"},
                                    {"ladder": [0.3, 0.6, 1.0], "swap_every": 2}])
def test_parallel_tempering_agrees_with_exact(ladder):
    prog = pb.compile(random_model_source(5, n=10))
    res = prog.sample("reference", chains=16, sweeps=3000, burn_in=500, thin=2, seed=1, tempering=ladder)
    tvd, tol = compare_with_exact(res)
    assert tvd < tol
    rates = res.info["tempering"]["swap_acceptance"]
    assert len(rates) == len(res.info["tempering"]["ladder"]) - 1 and all(0 < r <= 1 for r in rates)


def test_tempering_options_are_checked():
    prog = pb.compile("spin s[2]; energy -s[0]*s[1]; beta = 1.0;")
    for bad in ({"replicas": 1}, {"beta_min": 2.0}, {"ladder": [0.5, 0.2, 1.0]}, {"ladder": [0.1, 0.5]},
                {"ladder": "spiral"}, {"repliccas": 3}):
        with pytest.raises(pb.OptionError):
            prog.sample("reference", sweeps=10, tempering=bad)


def walsh_hadamard(p: np.ndarray) -> np.ndarray:
    a = p.astype(np.float64).copy()
    h = 1
    while h < len(a):
        a = a.reshape(-1, 2, h)
        a = np.stack([a[:, 0] + a[:, 1], a[:, 0] - a[:, 1]], axis=1).reshape(-1)
        h *= 2
    return a


def exact_p_of_q(ir, beta):
    """P(q) of two independent replicas: R(τ) = Σ_s p(s) p(s ⊕ τ) by Walsh–Hadamard, q = 1 − 2|τ|/N."""
    p = ExactBackend().probabilities(ir, beta)
    n = ir.num_spins
    R = walsh_hadamard(walsh_hadamard(p) ** 2) / len(p)
    flips = np.array([bin(t).count("1") for t in range(len(p))])
    P = np.bincount(n - flips, weights=R, minlength=n + 1)      # index k: q = (2k − n)/n
    return np.linspace(-1, 1, n + 1), P


def test_p_of_q_from_tempering_matches_exact_enumeration():
    prog = pb.compile("examples/ea2d_small.pb")
    q_values, exact_P = exact_p_of_q(prog.ir, 1.5)
    assert exact_P.sum() == pytest.approx(1.0)
    res = prog.sample("reference", chains=64, sweeps=4000, burn_in=500, thin=4, seed=2,
                      tempering={"replicas": 8, "beta_min": 0.2})
    q = physics.overlaps(res)
    values, P = physics.p_of_q(q, 16)
    np.testing.assert_allclose(values, q_values)
    n_eff = q.size / max(pb.stats.integrated_time(q), 1.0)
    tvd = 0.5 * np.abs(P - exact_P).sum()
    assert tvd < tvd_tolerance(exact_P, n_eff)
    # q_EA and the Binder cumulant agree with their exact values within their error bars
    qs = np.linspace(-1, 1, 17)
    exact_q2 = float((qs ** 2 * exact_P).sum())
    exact_g = 0.5 * (3 - (qs ** 4 * exact_P).sum() / exact_q2 ** 2)
    m, se = physics.q_ea(q)
    assert abs(m - exact_q2) < 4 * se
    g, gse = physics.binder(q)
    assert abs(g - exact_g) < 4 * gse


@pytest.mark.parametrize("beta", [0.3, 0.4406868, 0.6])
def test_ferromagnet_energy_and_specific_heat_match_kaufman_at_L16(beta):
    L = 16
    prog = pb.compile("examples/ising2d.pb", params={"L": L, "B": beta})
    res = prog.sample("reference", chains=64, sweeps=4000, burn_in=500, seed=3)
    e, e_se = res.mean("energy")
    assert abs(e / L ** 2 - energy_per_spin(beta, L)) < 4 * e_se / L ** 2
    c, c_se = physics.specific_heat(res)
    assert abs(c - specific_heat_per_spin(beta, L)) < 4 * c_se, (c, specific_heat_per_spin(beta, L), c_se)


def test_specific_heat_check_can_fail():
    L = 16
    prog = pb.compile("examples/ising2d.pb", params={"L": L, "B": 0.42})
    res = prog.sample("reference", chains=64, sweeps=4000, burn_in=500, seed=3)
    c, c_se = physics.specific_heat(res)
    assert abs(c - specific_heat_per_spin(0.4406868, L)) > 4 * c_se


def test_specific_heat_at_L32_with_short_chains_matches_kaufman():
    """Chains of 1,000 draws at the critical point (τ_int ≈ 150 sweeps): the pooled variance meets
    Kaufman's value; the mean of each chain's own variance (the negative control) is biased low by
    ≈ 2τ_int/K and misses it."""
    L, beta = 32, 0.4406868
    prog = pb.compile("examples/ising2d.pb", params={"L": L, "B": beta})
    res = prog.sample("cpu", chains=64, sweeps=1000, burn_in=2000, seed=0)
    exact = specific_heat_per_spin(beta, L)
    c, c_se = physics.specific_heat(res)
    assert abs(c - exact) < 4 * c_se, (c, c_se, exact)
    per_chain, per_chain_se = physics._jackknife(lambda e: beta ** 2 * np.mean(e.var(axis=1)) / L ** 2,
                                                 res.trace("energy"))
    assert exact - per_chain > 2.5 * per_chain_se, (per_chain, per_chain_se, exact)


def test_observables_on_a_small_lattice_match_exact():
    src = ("param L: int = 3; spin s[L, L] periodic; energy -s[i,j]*s[i+1,j] - s[i,j]*s[i,j+1] for i in 0..L, j in 0..L;"
           "observe absm = abs(sum(i in 0..L, j in 0..L) s[i, j] / (L * L)); beta = 0.5;")
    prog = pb.compile(src)
    ex = exact(prog.ir, 0.5)
    res = prog.sample("reference", chains=32, sweeps=3000, burn_in=200, seed=4)
    m, se = res.mean("absm")
    assert abs(m - ex["observables"]["absm"]) < 4 * se
    m2, se2 = physics.abs_magnetization(res, "s")
    assert m2 == pytest.approx(m) and se2 == pytest.approx(se)
    r, C, Cse = physics.correlation_function(res, "s", axis=0)
    assert C[0] == 1.0 and np.all(np.abs(C[1:] - C[1]) < 4 * Cse[1:] + 1e-12)   # on a 3-torus r = 1 is the only distance


def test_cli_tempering(capsys):
    from pbitlang.cli.pbit import main
    import json
    assert main(["run", "examples/ea2d_small.pb", "--tempering", "6:0.2", "--chains", "4", "--sweeps", "200",
                 "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert len(data["tempering"]["swap_acceptance"]) == 5
