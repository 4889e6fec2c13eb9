"""The shared backend suite, run for every registered backend, and the registry itself."""
import numpy as np
import pytest

import pbitlang as pb
from pbitlang.backends import Backend, get_backend, list_backends
from pbitlang.testing import (TEMPERING, backend_checks, check_wrong_temperature_is_detected, compare_with_exact,
                              random_model_source)

BACKENDS = list(list_backends())


@pytest.mark.parametrize("backend", BACKENDS)
@pytest.mark.parametrize("check", backend_checks(), ids=lambda c: c.__name__)
def test_shared_suite(backend, check):
    if check is check_wrong_temperature_is_detected and backend == "exact":
        pytest.skip("exact samples i.i.d.: its control is test_a_wrong_sampler_fails_the_comparison")
    check(backend)


@pytest.mark.parametrize("backend", [b for b in BACKENDS if b != "exact"])
@pytest.mark.parametrize("check", backend_checks(tempering=True), ids=lambda c: c.__name__)
def test_shared_suite_under_tempering(backend, check):
    check(backend, **TEMPERING)


def test_registry_lists_and_resolves():
    listed = list_backends()
    assert {"cpu", "reference", "exact"} <= set(listed)
    assert all(isinstance(v, str) and v for v in listed.values())
    ref = get_backend("reference")
    assert get_backend(type(ref)).name == "reference" and get_backend(ref) is ref
    with pytest.raises(pb.BackendError, match="installed: cpu, reference, exact"):
        get_backend("nope")
    with pytest.raises(pb.BackendError):
        get_backend(42)


def test_unknown_option_lists_accepted_ones():
    prog = pb.compile("spin s[2]; energy -s[0]*s[1];")
    with pytest.raises(pb.OptionError, match="accepted: .*burn_in.*chains"):
        prog.sample("reference", sweepz=3)


def test_a_backend_class_from_outside_the_registry():
    from pbitlang.backends.base import Draws, Kernel

    class Up(Kernel):
        def run(self, h, J_data, clamp_values, state, betas, seed, record=None):
            self.load(h, J_data, clamp_values, state)
            state[self.free] = 1
            for j in range(len(betas)):
                if record is not None and record.due(j):
                    record.out[record.kept] = state
                    record.kept += 1
            return Draws(len(betas), record.kept if record else 0, self.updates(len(betas)))

    class Constant(Backend):
        name = "constant"
        description = "all spins up"

        def prepare(self, ir, chains, clamp_index=(), **options):
            return Up(ir, chains, clamp_index)

    res = pb.compile("spin s[2]; energy -s[0]*s[1];").sample(Constant, chains=2, sweeps=3)
    assert res.samples.shape == (6, 2) and np.all(res.energies == -1)


def test_exact_refuses_large_models_clearly():
    prog = pb.compile("spin s[40]; energy -s[i]*s[i+1] for i in 0..39;")
    with pytest.raises(pb.BackendError, match="at most 26 free spins"):
        prog.sample("exact", sweeps=1)


def test_memory_estimate_refuses_huge_runs():
    prog = pb.compile("param L: int = 512; spin s[L, L] periodic; energy -s[i,j]*s[i+1,j] for i in 0..L, j in 0..L;")
    with pytest.raises(pb.BackendError, match="GiB.*--chains or --sweeps, raise --thin"):
        prog.sample("reference", chains=64, sweeps=100000)


def test_annealing_schedule_reaches_the_ground_state():
    prog = pb.compile(random_model_source(9, n=10, kbody=False, clamps=False, bits=False))
    betas = np.linspace(0.1, 6.0, 400)
    res = prog.sample("reference", chains=8, sweeps=400, beta=betas, seed=0)
    from pbitlang.backends.exact import ExactBackend
    ex = ExactBackend()
    ground = min(E.min() for _, E, _ in ex.chunks(prog.ir, 1.0))
    assert res.energies.reshape(8, -1)[:, -1].min() == pytest.approx(ground)
    with pytest.raises(pb.OptionError, match="one value per sweep"):
        prog.sample("reference", sweeps=10, beta=[1.0, 2.0])


@pytest.mark.parametrize("seed", [21, 22, 23, 24])
def test_reference_agrees_with_exact_on_more_models(seed):
    prog = pb.compile(random_model_source(seed, n=10))
    res = prog.sample("reference", chains=32, sweeps=2000, thin=2, seed=seed)
    tvd, tol = compare_with_exact(res)
    assert tvd < tol


def test_a_wrong_sampler_fails_the_comparison():
    """The TVD check can fail: samples at the wrong temperature are rejected."""
    prog = pb.compile(random_model_source(5, n=8))
    res = prog.sample("reference", chains=32, sweeps=3000, thin=3, seed=5, beta=0.6)
    tvd, tol = compare_with_exact(res, beta=1.0)
    assert tvd > tol


def test_to_dimod_when_installed():
    dimod = pytest.importorskip("dimod")
    res = pb.compile("spin s[2]; bit b; energy -s[0]*s[1] + b;").sample(chains=2, sweeps=3)
    ss = res.to_dimod()
    assert isinstance(ss, dimod.SampleSet) and len(ss) == 6
    np.testing.assert_allclose(ss.record.energy, res.energies)
    assert set(ss.variables) == {"s[0]", "s[1]", "b"}


def test_to_dimod_without_dimod_is_a_clear_error(monkeypatch):
    import sys
    monkeypatch.setitem(sys.modules, "dimod", None)
    res = pb.compile("spin s[2];").sample(chains=1, sweeps=2)
    with pytest.raises(pb.PbitError, match=r"pip install 'pbitlang\[dimod\]'"):
        res.to_dimod()


@pytest.mark.parametrize("backend", ["cpu", "reference", "emulator"])
def test_one_chain_with_an_initial_array(backend):
    """One chain started from an array (a read-only broadcast view before the fix) samples."""
    prog = pb.compile("spin s[3];\nenergy { -0.5 * s[i] for i in 0..3; }\n")
    for initial in (np.ones(3, np.int8), np.ones((1, 3), np.int8)):
        res = prog.sample(backend, chains=1, sweeps=5, seed=0, initial=initial, clamps={"s[0]": -1})
        assert res.samples.shape == (5, 3) and np.all(res.samples[:, 0] == -1)
