"""The suite every backend must pass, and exact-enumeration comparisons.

Use it from a test:

    from pbitlang.testing import backend_checks
    @pytest.mark.parametrize("check", backend_checks())
    def test_my_backend(check):
        check("my_backend")

Statistical checks compare sampled and exact distributions in total variation
distance (TVD).  The tolerance comes from a stated tail bound.  For N independent
draws from p, the empirical TVD has

    E[TVD] ≤ ½ Σ_x sqrt(p_x (1 − p_x) / N)          (Cauchy–Schwarz per state)
    P(TVD ≥ E[TVD] + t) ≤ exp(−2 N t²)               (McDiarmid: one draw moves TVD by ≤ 1/N)

so TVD < ½ Σ_x sqrt(p_x (1 − p_x) / N) + sqrt(ln(1/δ) / (2N)) fails a correct
sampler with probability at most δ (here 10⁻⁶).  Markov chain samples are not
independent: N is the effective sample size, the smallest over the energy and
every spin's marginal (an estimate, so the bound is approximate for chains and
exact for `exact`).  Every check has a negative control that must fail it."""
from __future__ import annotations

import math

import numpy as np

from . import compile as pb_compile
from .backends import get_backend
from .backends.exact import ExactBackend, code_of
from .errors import PbitError


def random_model_source(seed: int, n: int = 8, kbody: bool = True, clamps: bool = True, bits: bool = True) -> str:
    """A seeded random small model: frustrated couplings, fields, an optional 3-body factor, bits, clamps."""
    rng = np.random.default_rng(seed)
    lines = [f"param N: int = {n};", f"param W: real[N, N] = normal(0, 0.7, seed = {seed});",
             f"param h: real[N] = normal(0, 0.4, seed = {seed + 1});", "spin s[N];"]
    lines.append("energy W[i, j] * s[i] * s[j] for i in 0..N, j in 0..N where i < j and (i + j) % 3 != 0;")
    lines.append("energy h[i] * s[i] for i in 0..N;")
    if kbody:
        a, b, c = rng.choice(n, 3, replace=False)
        lines.append(f"energy {rng.normal(0, 0.8):.3f} * s[{a}] * s[{b}] * s[{c}];")
    if bits:
        lines.append("bit b[2];")
        lines.append(f"energy {rng.normal(0, 0.8):.3f} * b[0] * s[0] + {rng.normal(0, 0.8):.3f} * b[1] * b[0];")
    if clamps:
        lines.append(f"given s[{int(rng.integers(n))}] = {int(rng.choice([-1, 1]))};")
    lines.append("beta = 1.0;")
    return "\n".join(lines) + "\n"


DELTA = 1e-6            # the false-alarm probability the tolerance allows


def expected_tvd(p: np.ndarray, n_eff: float) -> float:
    """The bound ½ Σ_x sqrt(p_x (1 − p_x) / N) on the mean TVD of N = n_eff independent draws from p."""
    return 0.5 * float(np.sum(np.sqrt(p * (1 - p) / max(float(n_eff), 1.0))))


def tvd_tolerance(p: np.ndarray, n_eff: float, delta: float = DELTA) -> float:
    """The TVD that N = n_eff independent draws from p stay below with probability ≥ 1 − delta (see above)."""
    return expected_tvd(p, n_eff) + math.sqrt(math.log(1 / delta) / (2 * max(float(n_eff), 1.0)))


def effective_samples(result) -> float:
    """The smallest effective sample size over the energy and the marginals of the free spins."""
    from .stats import mean_and_error
    C = result.num_chains
    traces = [result.trace("energy")]
    free = np.flatnonzero(np.ptp(result.samples, axis=0) > 0) if len(result.samples) else []
    traces += [result.samples[:, i].reshape(C, -1).astype(np.float64) for i in free]
    ess = [mean_and_error(tr)[3] for tr in traces]
    return float(min([e for e in ess if np.isfinite(e)] + [len(result.samples)]))


def tvd_report(result, beta: float | None = None, clamps=None) -> dict:
    """The TVD between a result's samples and the exact distribution of its IR, with what sampling
    noise alone gives: N_eff (effective_samples), the expected TVD and the tolerance at DELTA."""
    ir = result.ir
    ex = ExactBackend()
    beta = (ir.beta if ir.beta is not None else 1.0) if beta is None else beta
    p = ex.probabilities(ir, beta, clamps)
    free, _, _ = ex._free(ir, clamps)
    codes = code_of(result.samples, free)
    emp = np.bincount(codes, minlength=len(p)) / len(codes)
    n_eff = effective_samples(result)
    return {"tvd": 0.5 * float(np.abs(emp - p).sum()), "n_eff": n_eff, "expected": expected_tvd(p, n_eff),
            "tolerance": tvd_tolerance(p, n_eff)}


def compare_with_exact(result, beta: float | None = None, clamps=None) -> tuple:
    """(TVD, tolerance) between a result's samples and the exact distribution of its IR."""
    r = tvd_report(result, beta, clamps)
    return r["tvd"], r["tolerance"]


# ---- the checks ------------------------------------------------------------------
def check_shapes_and_dtypes(backend, **opts):
    prog = pb_compile(random_model_source(1))
    res = prog.sample(backend, chains=3, sweeps=8, seed=0, **opts)
    n = prog.ir.num_spins
    assert res.samples.dtype == np.int8 and res.samples.shape == (24, n)
    assert set(np.unique(res.samples)) <= {-1, 1}
    assert res.num_chains == 3 and res.energies.dtype == np.float64 and res.energies.shape == (24,)
    assert res.variables("b").shape == (24, 2) and set(np.unique(res.variables("b"))) <= {0, 1}
    assert res.info["backend"] == get_backend(backend).name


def check_energies_match_the_ir(backend, **opts):
    prog = pb_compile(random_model_source(2))
    res = prog.sample(backend, chains=2, sweeps=10, seed=0, **opts)
    np.testing.assert_allclose(res.energies, prog.ir.energy(res.samples), rtol=0, atol=1e-9)


def check_same_seed_same_samples(backend, **opts):
    prog = pb_compile(random_model_source(3))
    a = prog.sample(backend, chains=4, sweeps=20, seed=11, **opts)
    b = prog.sample(backend, chains=4, sweeps=20, seed=11, **opts)
    c = prog.sample(backend, chains=4, sweeps=20, seed=12, **opts)
    assert np.array_equal(a.samples, b.samples)
    assert not np.array_equal(a.samples, c.samples)


def check_empty_and_one_spin_models(backend, **opts):
    empty = pb_compile("spin s[0];")
    res = empty.sample(backend, chains=2, sweeps=3, seed=0, **opts)
    assert res.samples.shape == (6, 0) and np.all(res.energies == 0)
    one = pb_compile("spin t; energy -0.5 * t; beta = 1.0;")
    res = one.sample(backend, chains=50, sweeps=200, seed=0, **opts)
    p_up = float(np.mean(res.samples[:, 0] == 1))
    exact = 1 / (1 + math.exp(-1.0))                  # p(+1) ∝ e^{0.5}, p(−1) ∝ e^{−0.5}
    assert abs(p_up - exact) < 4 * math.sqrt(exact * (1 - exact) / len(res.samples)) + 0.01


def check_clamps_are_respected(backend, **opts):
    prog = pb_compile(random_model_source(4))
    ir = prog.ir
    res = prog.sample(backend, chains=3, sweeps=30, seed=0, clamps={"s[1]": -1, "b[0]": 1}, **opts)
    assert np.all(res.samples[:, ir.clamp_index] == ir.clamp_value)
    assert np.all(res.variables("s")[:, 1] == -1) and np.all(res.variables("b")[:, 0] == 1)


def check_agrees_with_exact(backend, seeds=(5, 6, 7), **opts):
    """TVD to the exact distribution on random frustrated models with fields, clamps and k-body factors."""
    for seed in seeds:
        prog = pb_compile(random_model_source(seed, n=8))
        res = prog.sample(backend, chains=32, sweeps=3000, burn_in=50, thin=3, seed=seed, **opts)
        tvd, tol = compare_with_exact(res)
        assert tvd < tol, f"seed {seed}: TVD {tvd:.4f} ≥ tolerance {tol:.4f}"


def check_wrong_temperature_is_detected(backend, **opts):
    """The negative control of check_agrees_with_exact: samples at β = 0.6 compared with the exact
    distribution at β = 1 must fail the same comparison."""
    prog = pb_compile(random_model_source(5, n=8))
    res = prog.sample(backend, chains=32, sweeps=3000, burn_in=50, thin=3, seed=5, beta=0.6, **opts)
    tvd, tol = compare_with_exact(res, beta=1.0)
    assert tvd > tol, f"a sampler at the wrong β passed: TVD {tvd:.4f} < tolerance {tol:.4f}"


def check_bad_options_are_errors(backend, **opts):
    prog = pb_compile(random_model_source(1))
    for bad in ({"sweeps": -1}, {"chains": 0}, {"thin": 50, "sweeps": 10}, {"beta": float("inf")},
                {"beta": float("nan")}, {"no_such_option": 1}, {"clamps": {"nope[0]": 1}},
                {"clamps": {"s[99]": 1}}, {"clamps": {"s[0]": 0}}):
        try:
            prog.sample(backend, **{"sweeps": 10, **bad}, **opts)
        except PbitError:
            continue
        raise AssertionError(f"{bad} was accepted")


ALL_CHECKS = [check_shapes_and_dtypes, check_energies_match_the_ir, check_same_seed_same_samples,
              check_empty_and_one_spin_models, check_clamps_are_respected, check_agrees_with_exact,
              check_wrong_temperature_is_detected, check_bad_options_are_errors]

# parallel tempering over a backend: the same checks with a small ladder (the one-spin check's
# 10,000 samples and the negative control's β below the ladder's top do not apply)
TEMPERING = {"tempering": {"replicas": 3, "beta_min": 0.4}}
TEMPERING_CHECKS = [check_shapes_and_dtypes, check_energies_match_the_ir, check_same_seed_same_samples,
                    check_clamps_are_respected, check_agrees_with_exact, check_bad_options_are_errors]


def backend_checks(tempering: bool = False) -> list:
    return list(TEMPERING_CHECKS if tempering else ALL_CHECKS)


def run_backend_suite(backend, tempering: bool = False, **opts) -> None:
    """Run every check against a backend (name, class or instance), or against tempering over it;
    raises AssertionError on failure."""
    for check in backend_checks(tempering):
        check(backend, **({**TEMPERING, **opts} if tempering else opts))
