"""The backend protocol: prepare() once, Kernel.run() per set of weights; the driver loop; the
properties every sampling kernel has (pieces = one run, any thread count, per-chain β, clamps)."""
import numpy as np
import pytest

import pbitlang as pb
from pbitlang.backends import get_backend
from pbitlang.backends.driver import Record, drive, start
from pbitlang.backends.exact import ExactBackend
from pbitlang.testing import random_model_source

SAMPLING = ["cpu", "reference", "emulator"]

RBM = """
spin v[7];
spin z[5];
weight W[7, 5] = normal(0, 0.6, seed = 3);
energy {
    -W[i, j] * v[i] * z[j]   for i in 0..7, j in 0..5;
    0.3 * v[i] * v[i + 1]    for i in 0..6;
    -0.2 * z[j]              for j in 0..5;
}
"""


def _start(ir, chains, seed=0):
    rng = np.random.default_rng(seed)
    return np.ascontiguousarray((2 * rng.integers(0, 2, size=(ir.num_spins, chains)) - 1).astype(np.int8))


@pytest.mark.parametrize("backend", SAMPLING)
def test_a_run_in_pieces_draws_what_one_run_draws(backend):
    ir = pb.compile(random_model_source(3, n=10)).ir
    betas = np.linspace(0.5, 1.2, 40)
    outs = []
    for pieces in ([40], [7, 13, 20]):
        kernel = get_backend(backend).prepare(ir, 5)
        state = _start(ir, 5)
        out = np.empty((20, ir.num_spins, 5), np.int8)
        done, kept = 0, 0
        for size in pieces:
            rec = Record(out, 10 - done, 2, kept)
            draws = kernel.run(ir.h, ir.J.data, None, state, betas[done:done + size], 4 if done == 0 else None, rec)
            done, kept = done + size, draws.kept
        assert kept == 15
        outs.append(out[:kept].copy())
    assert np.array_equal(outs[0], outs[1])


@pytest.mark.parametrize("backend", ["cpu", "emulator"])
def test_threads_do_not_change_the_samples(backend):
    """…and a run uses as many numba threads as chain groups, then gives the caller's setting back."""
    import numba
    ir = pb.compile("examples/ising2d.pb", params={"L": 8}).ir
    before = numba.get_num_threads()
    runs = [pb.get_backend(backend).sample(ir, chains=192, sweeps=30, seed=3, threads=t).samples
            for t in (1, 2, 3)]
    assert np.array_equal(runs[0], runs[1]) and np.array_equal(runs[0], runs[2])
    assert numba.get_num_threads() == before


def test_a_chain_draws_the_same_whatever_the_other_chains():
    """Each chain's stream comes from (seed, chain) alone: 8 chains are the first 8 of 100."""
    ir = pb.compile("examples/ising2d.pb", params={"L": 8}).ir
    few = get_backend("cpu").sample(ir, chains=8, sweeps=20, seed=5)
    many = get_backend("cpu").sample(ir, chains=100, sweeps=20, seed=5)
    assert np.array_equal(few.native, many.native[:, :, :8])


@pytest.mark.parametrize("backend", SAMPLING)
def test_one_beta_per_chain_samples_each_chain_at_its_own(backend):
    """Kernel.run with betas (sweeps, chains): chains at β = 0 are uniform, chains at large β sit in
    the ground state of a ferromagnet; a single β would make both halves alike (the control)."""
    ir = pb.compile("spin s[6]; energy -s[i] * s[i + 1] for i in 0..5;").ir
    kernel = get_backend(backend).prepare(ir, 64)
    state = _start(ir, 64)
    betas = np.tile(np.r_[np.zeros(32), np.full(32, 8.0)], (300, 1))
    out = np.empty((200, ir.num_spins, 64), np.int8)
    kernel.run(ir.h, ir.J.data, None, state, betas, 0, Record(out, 100))
    aligned = np.abs(out.sum(axis=1)) == ir.num_spins                    # (kept, chains)
    assert aligned[:, 32:].mean() > 0.99 and aligned[:, :32].mean() < 0.1


@pytest.mark.parametrize("backend", SAMPLING)
def test_clamp_values_change_from_run_to_run(backend):
    """Clamped rows written anew each run are what the next run conditions on."""
    ir = pb.compile("spin s[4]; energy -3 * s[0] * s[1] - 3 * s[2] * s[3];").ir
    kernel = get_backend(backend).prepare(ir, 16, np.array([0, 2]))
    state = _start(ir, 16)
    for value in (1, -1, 1):
        kernel.run(ir.h, ir.J.data, np.full((16, 2), value, np.int8), state, np.ones(50), 1)
        assert np.all(state[[0, 2]] == value)
        assert np.mean(state[[1, 3]] == value) > 0.95


@pytest.mark.parametrize("backend", SAMPLING)
def test_new_weights_each_run_on_one_kernel(backend):
    """Training's use: one kernel, many weights; each run samples its own weights' distribution."""
    ir = pb.compile(RBM).ir
    kernel = get_backend(backend).prepare(ir, 128)
    state = _start(ir, 128)
    for w in (0.0, 2.0):
        out = np.empty((100, ir.num_spins, 128), np.int8)
        kernel.run(np.zeros(ir.num_spins), np.full(ir.J.nnz, -w), None, state, np.ones(150), 2, Record(out, 50))
        sign = np.sign(ir.J.data)
        rows = np.repeat(np.arange(ir.num_spins), np.diff(ir.J.indptr))
        corr = (out[:, rows, :] * out[:, ir.J.indices, :]).mean(axis=(0, 2))
        if w == 0.0:
            assert np.abs(corr).max() < 0.1
        else:
            assert corr.min() > 0.8 and np.all(sign != 0)


def test_the_driver_keeps_what_was_drawn_on_ctrl_c():
    ir = pb.compile("examples/ising2d.pb", params={"L": 8}).ir
    kernel = get_backend("cpu").prepare(ir, 4)
    state = _start(ir, 4)
    out = np.empty((100, ir.num_spins, 4), np.int8)
    calls = []

    def progress(done, total):
        calls.append(done)
        if len(calls) == 2:
            raise KeyboardInterrupt

    import pbitlang.backends.driver as driver
    old, driver.CHUNK_UPDATES = driver.CHUNK_UPDATES, 64 * 4 * 10          # ten sweeps a piece
    try:
        start(kernel, ir.h, ir.J.data, None, state, np.ones(100), 0)
        kept, done, interrupted, _ = drive(kernel, state, np.ones(100), 0, 1, out, progress)
    finally:
        driver.CHUNK_UPDATES = old
    assert interrupted and done == 20 and kept == 20


def test_exact_has_no_kernel():
    with pytest.raises(pb.BackendError, match="no Markov chain kernel"):
        ExactBackend().prepare(pb.compile("spin s;").ir, 1)


def test_kernel_options_are_checked():
    ir = pb.compile("spin s[2];").ir
    with pytest.raises(pb.OptionError, match="no kernel option 'fabric'"):
        get_backend("cpu").kernel(ir, 2, fabric="fpga")


def test_the_old_backends_function_still_works_with_a_warning():
    with pytest.warns(DeprecationWarning, match="list_backends"):
        listed = pb.backends()
    assert listed == pb.list_backends() and "cpu" in listed
    import pbitlang.backends as module
    assert pb.backends is module


@pytest.mark.parametrize("backend,options", [("cpu", {}), ("reference", {}), ("emulator", {"fabric": "fpga"})])
def test_energies_are_those_of_the_model_sampled(backend, options):
    """Kernel.energies (tempering's swaps) equal ir.energy of the model the kernel samples: the
    program at the run's weights, quantised on a fixed-point fabric."""
    from pbitlang.backends.emulator import quantized_ir
    ir = pb.compile(random_model_source(6, n=10, kbody=not options)).ir
    kernel = get_backend(backend).prepare(ir, 7, **options)
    state = _start(ir, 7)
    rng = np.random.default_rng(1)
    h, J = rng.normal(size=ir.num_spins) * 0.5, ir.J.data * 0.7
    kernel.run(h, J, None, state, np.ones(3), 0)
    model = ir.with_arrays(h, J)
    expected = (quantized_ir(model, "fpga") if options else model).energy(state.T)
    np.testing.assert_allclose(kernel.energies(state), expected, rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("backend,options", [("cpu", {}), ("reference", {}), ("emulator", {"fabric": "fpga"})])
def test_no_weights_keep_the_last_runs(backend, options):
    """h = J_data = None continues with the last run's weights: two runs (weights, then None) draw
    what one run with those weights draws; the control: None after other weights differs."""
    ir = pb.compile(random_model_source(7, n=10, kbody=not options)).ir
    h = np.full(ir.num_spins, 0.8)
    runs = []
    for second in (None, ir.h):
        kernel = get_backend(backend).prepare(ir, 6, **options)
        state = _start(ir, 6)
        kernel.run(h, ir.J.data, None, state, np.ones(20), 3)
        kernel.run(None if second is None else second, None, None, state, np.ones(20), None)
        runs.append(state.copy())
    kernel = get_backend(backend).prepare(ir, 6, **options)
    state = _start(ir, 6)
    kernel.run(h, ir.J.data, None, state, np.ones(40), 3)
    assert np.array_equal(runs[0], state) and not np.array_equal(runs[1], state)


def test_compiled_swap_uniforms_are_the_chain_words_of_their_stream():
    """Tempering's swap uniforms (compiled) are runspec.chain_words' words of the round's stream,
    for large seeds and a first set other than 0; a different round gives different numbers."""
    from pbitlang.backends import kernels
    from pbitlang.backends.runspec import chain_words
    out, other = np.empty((4, 8)), np.empty((4, 8))
    kernels.swap_log_uniforms(np.uint64(2 ** 64 - 5), np.uint64((1 << 32) + 7), 3, out)
    words = chain_words(2 ** 64 - 5, np.arange(3, 7), 8, stream=(1 << 32) + 7)
    expected = np.log(((words >> np.uint64(11)).astype(np.float64) + 0.5) * 2.0 ** -53).T
    np.testing.assert_allclose(out, expected, rtol=0, atol=1e-15)
    kernels.swap_log_uniforms(np.uint64(2 ** 64 - 5), np.uint64((1 << 32) + 8), 3, other)
    assert not np.any(out == other) and np.all(out < 0)
