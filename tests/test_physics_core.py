"""The 2D periodic ferromagnet against Kaufman's exact finite-size solution."""

import pytest

import pbitlang as pb
from pbitlang.backends.exact import exact
from tests.kaufman import energy_per_spin, log_z, specific_heat_per_spin

ISING = "examples/ising2d.pb"


@pytest.mark.parametrize("beta", [0.2, 0.4406868, 0.7])
def test_kaufman_matches_enumeration_at_L4(beta):
    ir = pb.compile(ISING, params={"L": 4, "B": beta}).ir
    ex = exact(ir, beta)
    assert float(log_z(beta, 4)) == pytest.approx(ex["log_z"], rel=1e-12)
    assert energy_per_spin(beta, 4) == pytest.approx(ex["mean_energy"] / 16, rel=1e-10)
    assert specific_heat_per_spin(beta, 4) == pytest.approx(beta ** 2 * ex["energy_var"] / 16, rel=1e-8)


@pytest.mark.parametrize("beta", [0.3, 0.4406868, 0.6])
def test_reference_energy_matches_kaufman_at_L16(beta):
    L = 16
    prog = pb.compile(ISING, params={"L": L, "B": beta})
    res = prog.sample("reference", chains=64, sweeps=3000, burn_in=500, seed=1)
    mean, se = res.mean("energy")
    exact_e = energy_per_spin(beta, L) * L * L
    assert se > 0
    assert abs(mean - exact_e) < 4 * se, (mean, exact_e, se)
    # the observable e (energy per spin) agrees too
    e_mean, e_se = res.mean("e")
    assert abs(e_mean - exact_e / (L * L)) < 4 * e_se


def test_wrong_temperature_is_detected():
    """The Kaufman comparison can fail: sampling at β = 0.42 is not β = 0.44."""
    L = 16
    prog = pb.compile(ISING, params={"L": L, "B": 0.42})
    res = prog.sample("reference", chains=64, sweeps=3000, burn_in=500, seed=1)
    mean, se = res.mean("energy")
    assert abs(mean - energy_per_spin(0.4406868, L) * L * L) > 4 * se
