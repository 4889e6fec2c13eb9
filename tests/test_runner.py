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


@pytest.mark.parametrize("n,chains", [(4096, 64), (48, 16), (37, 13), (64, 12), (16, 24), (1, 1)])
def test_recorded_states_are_the_transposed_state(n, chains):
    """record_rows and record_state write state (spins × chains) into the results' (chains, kept, n)
    layout: whole 8 × 8 blocks by a byte transpose where spins and chains allow, the rest one by one."""
    from pbitlang.backends.layout import record_rows, record_state
    rng = np.random.default_rng(n + chains)
    X = (2 * rng.integers(0, 2, size=(n, chains)) - 1).astype(np.float32)
    rows = rng.permutation(n)
    record = np.zeros((chains, 3, n), dtype=np.int8)
    record_rows(X, rows, record, 1)
    assert np.array_equal(record[:, 1], X[rows].T) and not record[:, [0, 2]].any()
    S = X.astype(np.int8)
    for c0, c1 in [(0, chains), (0, chains // 2), (min(8, chains), chains), (chains // 3, chains)]:
        record = np.zeros((chains, 2, n), dtype=np.int8)
        record_state(S, record, 1, c0, c1)
        expected = np.zeros_like(record)
        expected[c0:c1, 1] = S[:, c0:c1].T
        assert np.array_equal(record, expected)


@pytest.mark.parametrize("k,chains,dtype", [(512, 64, np.int8), (24, 16, np.int8), (10, 3, np.int8), (16, 8, np.int16)])
def test_set_rows_writes_the_transposed_values(k, chains, dtype):
    """Per-chain clamp values (chains, k) land in rows `rows` of the state, whether they go through the
    8 × 8 block transpose (int8, multiples of 8) or one by one."""
    from pbitlang.backends.layout import set_rows
    rng = np.random.default_rng(k)
    rows = rng.permutation(k + 5)[:k]
    values = (2 * rng.integers(0, 2, size=(chains, k)) - 1).astype(dtype)
    for state in (np.zeros((k + 5, chains), np.float32), np.zeros((k + 5, chains), np.int8)):
        set_rows(state, rows, values)
        expected = np.zeros_like(state)
        expected[rows] = values.T
        assert np.array_equal(state, expected)
