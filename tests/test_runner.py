"""Runners (repeated runs on one model structure, as training does) give exactly what sample() gives."""
import numpy as np
import pytest

import pbitlang as pb
from pbitlang.backends import get_backend
from pbitlang.backends.base import Runner
from pbitlang.testing import random_model_source


def _case(seed=2, chains=6, kbody=False):
    prog = pb.compile(random_model_source(seed, n=12, kbody=kbody))
    ir = prog.ir
    rng = np.random.default_rng(seed)
    n = ir.num_spins
    clamp_index = np.setdiff1d(rng.choice(n, size=3, replace=False), ir.clamp_index)
    clamp_value = (2 * rng.integers(0, 2, size=(chains, len(clamp_index))) - 1).astype(np.int8)
    initial = (2 * rng.integers(0, 2, size=(chains, n)) - 1).astype(np.int8)
    h = rng.normal(size=n)
    J = ir.J.copy()
    J.data = rng.normal(size=J.nnz)
    J = (J + J.T) / 2                                 # symmetric, same pattern
    return ir, clamp_index, clamp_value, initial, h, J.tocsr()


ANALOG = {"rng": {"kind": "analog", "bias_sigma": 0.01, "decorrelation_time_s": 5e-8},
          "variability": {"gain_sigma": 0.05, "offset_sigma": 0.02}}     # correlated, biased RNGs; mismatch


@pytest.mark.parametrize("backend,options,kbody", [("reference", {}, False), ("emulator", {}, False),
                                                   ("emulator", {"fabric": "fpga"}, False),
                                                   ("emulator", {"fabric": "fpga", "threads": 2}, False),
                                                   ("emulator", {"fabric": "fpga", "fabric_overrides": ANALOG}, False),
                                                   ("emulator", {"fabric": "fpga", "fabric_overrides": {
                                                       "rng": {"kind": "galois", "width": 16},
                                                       "clock": {"mode": "async", "update_probability": 0.3}}}, False),
                                                   ("emulator", {"threads": 2}, False),
                                                   ("reference", {}, True), ("emulator", {}, True)])
def test_runner_matches_sample(backend, options, kbody, fine_chain_groups):
    ir, clamp_index, clamp_value, initial, h, J = _case(kbody=kbody)
    be = get_backend(backend)
    runner = be.runner(ir, 6, clamp_index, **options)
    assert type(runner) is not Runner                  # each of these has a runner of its own
    model = ir.with_arrays(h, J.data)
    for seed in (1, 2):                               # the runner's buffers are reused between runs
        clamp_value = clamp_value if seed == 1 else -clamp_value       # new clamps: new constant fields
        beta = 0.8 if seed == 1 else np.linspace(0.2, 1.0, 15)          # one β, then one per sweep
        got, updates = runner.run(h, J.data, clamp_value, initial.T, sweeps=12, burn_in=3, thin=4, beta=beta, seed=seed)
        ref = be.sample(model, chains=6, sweeps=12, burn_in=3, thin=4, beta=beta, seed=seed, initial=initial,
                        clamp_spins=(clamp_index, clamp_value), **options)
        assert got.shape == (3, ir.num_spins, 6)                     # (kept, n, chains): the samplers' layout
        np.testing.assert_array_equal(got.transpose(2, 0, 1).reshape(-1, ir.num_spins), ref.samples)
        assert updates == ref.info["spin_updates"]
        for key in ("ledger", "energy_per_sample_J", "latency_per_sample_s", "quantization", "rng_correlation"):
            assert runner.last_info.get(key) == ref.info.get(key)          # the emulator's cost model too
        assert np.all(got[:, clamp_index, :] == clamp_value.T[None])


def test_compiled_copies_refuse_shapes_that_would_write_past_their_arrays():
    """The layout copies are compiled without bounds checks: a wrong shape is an error, not memory
    overwritten (a (rows, chains) array passed where (chains, rows) is meant, say)."""
    from pbitlang.backends.layout import gather_rows, record_rows, set_rows
    X = np.zeros((10, 4), dtype=np.float32)
    rows = np.arange(8)
    with pytest.raises(ValueError, match="chains, rows"):
        set_rows(X, rows, np.ones((8, 4), dtype=np.int8))
    set_rows(X, rows, np.ones((4, 8), dtype=np.int8))
    assert X[:8].sum() == 32 and not X[8:].any()
    with pytest.raises(ValueError, match="rows, chains"):
        gather_rows(X, rows, np.empty((4, 8), dtype=np.int8))
    out = np.empty((8, 4), dtype=np.int8)
    gather_rows(X, rows[::-1].copy(), out)
    assert (out == 1).all()
    with pytest.raises(ValueError, match="chains, kept, n"):
        record_rows(X, rows, np.empty((4, 2, 8), dtype=np.int8), 2)
