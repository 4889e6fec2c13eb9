"""Denoising chains: schedules, forward noise, training, generation, files and bad input."""
import itertools
import json
import math

import numpy as np
import pytest

import pbitlang as pb
from pbitlang.dtm import chain_spec
from pbitlang.dtm.chain import step_ir
from pbitlang.dtm.noise import CorrelatedNoise, FlipNoise, lattice_graph
from pbitlang.dtm.schedules import coupling_strength, flip_schedule
from pbitlang.api import TrainedModel
from pbitlang.dtm.training import lag_autocorrelation

RBM = """param V: int = 16; param H: int = 8;
spin v[V]; spin z[H];
weight W[V, H]; weight a[V]; weight b[H];
energy -W[i, j] * v[i] * z[j] for i in 0..V, j in 0..H;
energy -a[i] * v[i] for i in 0..V;
energy -b[j] * z[j] for j in 0..H;
chain dtm over v { steps 4; noise NOISE; sweeps 20; }
"""


def two_patterns(num=1024, seed=0, noise=0.05):
    rng = np.random.default_rng(seed)
    pat = np.array([[1] * 8 + [0] * 8, [0] * 8 + [1] * 8])
    data = pat[rng.integers(0, 2, num)]
    return np.where(rng.random(data.shape) < noise, 1 - data, data)


def pattern_fraction(v):
    first, second = (v[:, :8] == 1).mean(1), (v[:, 8:] == 1).mean(1)
    return float(np.mean(((first > 0.7) & (second < 0.3)) | ((first < 0.3) & (second > 0.7))))


@pytest.mark.parametrize("kind", ["linear", "cosine", "log"])
def test_schedules_are_probabilities_and_noise_the_data_completely(kind):
    p = flip_schedule(kind, 8)
    assert p.shape == (8,) and np.all((p > 0) & (p < 0.5))
    remaining = np.prod(1 - 2 * p)             # correlation E[x_0 x_T] left after all steps
    assert remaining < 0.05
    assert np.all(np.isfinite(coupling_strength(p)))


def test_log_schedule_is_the_reset_rate_grid():
    p = flip_schedule("log", 4, rate=2.0, t_min=0.1, t_max=1.0)
    times = np.r_[0, 0.1 * 10 ** (np.arange(4) / 3)]
    np.testing.assert_allclose(p, (1 - np.exp(-2.0 * np.diff(times))) / 2)
    # every T ends at t_max: the data is as noised after one step as after many
    for T in (1, 2, 8):
        left = np.prod(1 - 2 * flip_schedule("log", T, rate=1.0, t_min=0.02, t_max=4.0))
        assert left == pytest.approx(np.exp(-4.0), rel=1e-6)


@pytest.mark.parametrize("bad", [[0.1, 0.6, 0.2, 0.1], [0.0, 0.1, 0.1, 0.1], [0.1, 0.2]])
def test_bad_schedules(bad):
    with pytest.raises(pb.PbitError):
        flip_schedule(bad, 4)


def test_gamma_makes_flips_the_conditional_coupling():
    p = flip_schedule("cosine", 5)
    g = coupling_strength(p)
    np.testing.assert_allclose(1 / (1 + np.exp(-2 * g)), 1 - p)      # σ(2Γ) = keep probability


def test_correlated_noise_with_zero_couplings_is_exactly_independent_flips():
    p = flip_schedule("cosine", 3)
    graph = lattice_graph((2, 2))
    flips, corr = FlipNoise(p), CorrelatedNoise(p, graph, J=0.0, sweeps=1)
    states = np.array(list(itertools.product([-1, 1], repeat=4)), dtype=np.int8)
    for t in (1, 2, 3):
        for x in states:
            xs = np.repeat(x[None], len(states), 0)
            np.testing.assert_allclose(corr.log_forward_prob(xs, states, t), flips.log_forward_prob(xs, states, t),
                                       atol=1e-12)
    # and sampled: the flip frequency is p_t
    x = np.ones((20000, 4), np.int8)
    y = corr.forward(x, 1, 0)
    assert abs(np.mean(y == -1) - p[0]) < 4 * math.sqrt(p[0] * (1 - p[0]) / y.size)


def test_flip_noise_flips_where_its_keyed_words_say():
    """Step t's flips are where the top 32 bits of chain t's counter words of the noise's stream
    (runspec.chain_words, the numpy definition) are below p_t·2^32: the compiled pass draws exactly
    those, at the rate p_t, and another step or key draws others."""
    from pbitlang.backends.runspec import chain_words, stream_key
    p = flip_schedule("cosine", 3)
    noise = FlipNoise(p)
    x = np.ones((300, 50), np.int8)
    y = noise.forward(x, 2, stream_key(5, 9))
    words = chain_words(5, [2], x.size, stream=9)[:, 0]
    expected = (words >> np.uint64(32)) < np.uint64(round(p[1] * 2.0 ** 32))
    assert np.array_equal(y.ravel() == -1, expected) and np.all(np.abs(y) == 1)
    assert abs(expected.mean() - p[1]) < 4 * math.sqrt(p[1] * (1 - p[1]) / x.size)
    assert not np.array_equal(noise.forward(x, 1, stream_key(5, 9)), y)
    assert not np.array_equal(noise.forward(x, 2, stream_key(5, 10)), y)
    assert np.array_equal(noise.forward(-x, 2, stream_key(5, 9)), -y)


def test_correlated_forward_probability_is_exact():
    p = flip_schedule("linear", 4)
    noise = CorrelatedNoise(p, lattice_graph((2, 2)), J=0.8, sweeps=1)
    states = np.array(list(itertools.product([-1, 1], repeat=4)), dtype=np.int8)
    x = np.array([1, -1, 1, 1], np.int8)
    q = np.exp(noise.log_forward_prob(np.repeat(x[None], 16, 0), states, 1))
    assert q.sum() == pytest.approx(1.0)
    y = noise.forward(np.repeat(x[None], 40000, 0), 1, 1)
    codes = ((y > 0).astype(int) * (1 << np.arange(4)[::-1])).sum(1)
    emp = np.bincount(codes, minlength=16) / len(y)
    order = ((states > 0).astype(int) * (1 << np.arange(4)[::-1])).sum(1)
    tvd = 0.5 * np.abs(emp[order] - q).sum()
    assert tvd < 3 * 0.5 * np.sum(np.sqrt(q * (1 - q) / len(y)))
    with pytest.raises(pb.PbitError):
        CorrelatedNoise(p, lattice_graph((2, 2)), J=0.8, sweeps=2).log_forward_prob(x[None], x[None], 1)


def test_autocorrelation_estimate():
    rng = np.random.default_rng(0)
    indep = np.where(rng.random((64, 8, 20)) < 0.5, -1, 1)
    assert abs(lag_autocorrelation(indep)) < 0.05
    sticky = np.repeat(indep[:, :1], 8, axis=1)
    sticky[:, 4:, :10] *= -1                      # some spins move once: strongly correlated
    assert lag_autocorrelation(sticky) > 0.7
    for x in (indep, sticky):                     # the ±1 shortcut agrees with the definition
        xf = x.astype(np.float64)
        direct = 1 - ((np.diff(xf, axis=1) ** 2).sum() / (x.shape[1] - 1)) / (2 * xf.var(axis=1, ddof=1).sum())
        assert lag_autocorrelation(x) == pytest.approx(direct, rel=1e-12)


@pytest.mark.parametrize("noise", ["flip(schedule = cosine)", "correlated(J = 0.3, sweeps = 1, schedule = cosine)"])
def test_training_learns_two_patterns(noise):
    prog = pb.compile(RBM.replace("NOISE", noise))
    model = pb.train(prog, two_patterns(), epochs=8, seed=0, lr=0.05)
    gen = model.generate(num=300, seed=1)
    assert pattern_fraction(gen.variables("v")) > 0.8
    untrained = pb.train(prog, two_patterns(), epochs=1, seed=0, lr=1e-6).generate(num=300, seed=1)
    assert pattern_fraction(untrained.variables("v")) < 0.2


def test_generation_on_the_emulator_reports_energy_per_sample():
    prog = pb.compile(RBM.replace("NOISE", "flip(schedule = cosine)"))
    model = pb.train(prog, two_patterns(256), epochs=2, seed=0, lr=0.05)
    gen = model.generate(num=16, backend="emulator", fabric="fpga", seed=2)
    one = prog.with_weights(model.thetas[0]).sample("emulator", fabric="fpga", chains=16, sweeps=20, thin=20)
    assert gen.info["energy_per_sample_J"] > 0
    # 4 denoising steps of 20 sweeps on 16 + 8 p-bits, plus the clamped copies (not updated)
    assert gen.info["energy_per_sample_J"] == pytest.approx(4 * one.info["energy_per_sample_J"], rel=0.05)
    assert gen.samples.shape == (16, 24)


@pytest.mark.parametrize("backend,options", [("cpu", {}), ("reference", {}), ("emulator", {}),
                                             ("emulator", {"fabric": "fpga"}),
                                             ("emulator", {"fabric": "fpga", "fabric_overrides": {
                                                 "rng": {"kind": "analog", "decorrelation_time_s": 5e-8}}}),
                                             ("reference", {"beta": np.linspace(0.3, 1.2, 20)}),
                                             ("cpu", {"beta": np.linspace(0.3, 1.2, 20)}),
                                             ("emulator", {"fabric": "fpga", "beta": np.linspace(0.3, 1.2, 20)})])
def test_generation_on_every_backend(backend, options, fine_chain_groups):
    """Generation holds one kernel for all steps; the samples do not depend on the thread count, and
    the emulator adds up its ledger over the steps."""
    prog = pb.compile(RBM.replace("NOISE", "flip(schedule = cosine)"))
    model = pb.train(prog, two_patterns(256), epochs=1, seed=0, lr=0.05)
    gen = model.generate(num=12, backend=backend, seed=4, **options)
    assert gen.samples.shape == (12, 24) and gen.info["spin_updates"] == 4 * 20 * 12 * 24
    if backend != "reference":
        again = model.generate(num=12, backend=backend, seed=4, threads=3, **options)
        assert np.array_equal(gen.samples, again.samples)
    assert ("ledger" in gen.info) == (backend == "emulator")


def test_generation_checks_its_beta_before_sampling():
    """A β schedule is one value per sweep of a step; a bad one is a clear error whichever path runs."""
    from pbitlang.errors import OptionError
    prog = pb.compile(RBM.replace("NOISE", "flip(schedule = cosine)"))
    model = pb.train(prog, two_patterns(64), epochs=1, seed=0, lr=0.05)
    for backend in ("cpu", "reference", "emulator"):
        with pytest.raises(OptionError, match="one value per sweep: burn_in \\+ sweeps = 20, got 3"):
            model.generate(num=4, backend=backend, beta=[0.5, 1.0, 1.5])
        with pytest.raises(OptionError, match="a number or a sequence of numbers"):
            model.generate(num=4, backend=backend, beta=["hot"])
        with pytest.raises(OptionError, match="finite and ≥ 0"):
            model.generate(num=4, backend=backend, beta=-1.0)


def test_save_load_checkpoint_and_resume(tmp_path):
    prog = pb.compile(RBM.replace("NOISE", "flip(schedule = linear)"))
    data = two_patterns(256)
    model = pb.train(prog, data, epochs=2, seed=0, lr=0.05, checkpoint=tmp_path / "ck")
    model.save(tmp_path / "m.pbir")
    back = pb.load(tmp_path / "m.pbir")
    assert isinstance(back, TrainedModel) and back.chain == "dtm"
    np.testing.assert_array_equal(back.thetas, model.thetas)
    a, b = model.generate(num=8, seed=3), back.generate(num=8, seed=3)
    np.testing.assert_array_equal(a.samples, b.samples)
    lines = (tmp_path / "ck" / "metrics.jsonl").read_text().splitlines()
    fields = set(json.loads(lines[0]))
    logged = {"epoch", "step", "loss_proxy", "lambda", "autocorr", "seconds"}
    assert len(lines) == 2 * 4 * 4 and logged <= fields
    resumed = pb.train(prog, data, epochs=3, seed=0, lr=0.05, resume=tmp_path / "ck")
    assert resumed.thetas.shape == model.thetas.shape and not np.array_equal(resumed.thetas, model.thetas)


@pytest.mark.parametrize("data,fragment", [
    (np.zeros((10, 15)), "must have shape (num, 16)"),
    (np.full((10, 16), 2), "bits (0/1) or spins"),
    (np.zeros((0, 16)), "empty"),
])
def test_bad_data(data, fragment):
    prog = pb.compile(RBM.replace("NOISE", "flip(schedule = cosine)"))
    with pytest.raises(pb.PbitError, match=fragment.replace("(", r"\(").replace(")", r"\)")):
        pb.train(prog, data, epochs=1)


@pytest.mark.parametrize("noise,fragment", [
    ("flip(schedule = [0.1, 0.7, 0.2, 0.1])", "(0, ½)"),
    ("flip(schedule = zigzag)", "unknown schedule"),
    ("gaussian(s = 1)", "unknown noise"),
    ("correlated(J = 0.3, graph = star)", "lattice"),
])
def test_bad_noise(noise, fragment):
    prog = pb.compile(RBM.replace("NOISE", noise))
    with pytest.raises(pb.PbitError, match=re_escape(fragment)):
        chain_spec(prog.ir)


def re_escape(s):
    import re
    return re.escape(s)


def test_bad_chains():
    with pytest.raises(pb.PbitError, match="steps must be an integer ≥ 1"):
        chain_spec(pb.compile(RBM.replace("NOISE", "flip").replace("steps 4", "steps 0")).ir)
    with pytest.raises(pb.PbitError, match="no trainable weights"):
        pb.train(pb.compile("spin v[2]; chain c over v { steps 2; }"), np.zeros((4, 2)), epochs=1)
    with pytest.raises(pb.PbitError, match="declares no chain"):
        pb.train(pb.compile("spin v[2]; weight w; energy w * v[0];"), np.zeros((4, 2)), epochs=1)


def test_divergence_stops_with_a_clear_message(tmp_path):
    prog = pb.compile(RBM.replace("NOISE", "flip(schedule = cosine)"))
    with pytest.raises(pb.PbitError, match="diverged"):
        pb.train(prog, two_patterns(128), epochs=3, lr=1e308, checkpoint=tmp_path / "ck")
    with np.load(tmp_path / "ck" / "checkpoint.npz") as z:
        assert np.all(np.isfinite(z["thetas"]))


def test_cli_train_and_generate(tmp_path, capsys):
    from pbitlang.cli.pbit import main
    prog = tmp_path / "rbm.pb"
    prog.write_text(RBM.replace("NOISE", "flip(schedule = cosine)"))
    np.save(tmp_path / "d.npy", two_patterns(256))
    out = tmp_path / "t.pbir"
    assert main(["train", str(prog), "--data", str(tmp_path / "d.npy"), "--epochs", "2", "--lr", "0.05",
                 "-o", str(out)]) == 0
    assert main(["generate", str(out), "--num", "10", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["samples"] == 10 and data["steps"] == 4
    assert main(["train", str(prog), "--data", str(tmp_path / "nope.npy")]) == 2
    assert main(["train", str(prog), "--data", str(tmp_path / "d.npy"), "--epochs", "1", "--backend", "emulator",
                 "--fabric", "ideal", "-o", str(tmp_path / "e.pbir")]) == 0
    assert main(["train", str(prog), "--data", str(tmp_path / "d.npy"), "--epochs", "1", "--backend", "nope"]) == 2
    # --fabric alone selects the emulator; with a backend that has no fabrics it is refused
    assert main(["train", str(prog), "--data", str(tmp_path / "d.npy"), "--epochs", "1", "--fabric", "ideal",
                 "-o", str(tmp_path / "g.pbir")]) == 0
    assert pb.load(tmp_path / "g.pbir").info["options"]["backend"] == "emulator"
    assert main(["train", str(prog), "--data", str(tmp_path / "d.npy"), "--epochs", "1", "--fabric", "ideal",
                 "--backend", "reference"]) == 2
    assert main(["generate", str(prog).replace(".pb", ".pbir")]) == 2
    # any backend option, and β annealed within each step (one value per sweep of a step)
    assert main(["train", str(prog), "--data", str(tmp_path / "d.npy"), "--epochs", "1", "--backend", "emulator",
                 "--option", "threads=2", "-o", str(tmp_path / "f.pbir")]) == 0
    capsys.readouterr()
    assert main(["generate", str(out), "--num", "6", "--backend", "emulator", "--beta", "0.2:1.0", "--sweeps", "7",
                 "--option", "threads=2", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["samples"] == 6
    assert main(["generate", str(out), "--beta", "hot"]) == 2
    assert main(["generate", str(out), "--option", "threads"]) == 2
    assert main(["generate", str(out), "--backend", "emulator", "--option", "bogus=1"]) == 2


def test_mean_energy_gradient_is_exact_and_pair_means_are_right():
    import importlib
    T = importlib.import_module("pbitlang.dtm.training")
    ir = pb.compile("examples/digits_dtm.pb").ir
    S = np.random.default_rng(0).choice(np.array([-1, 1], np.int8), size=(40, ir.num_spins))
    m, C, rows, cols = T.pair_means(ir, S)
    g = T.mean_energy_gradient(ir, m, C)
    theta = ir.weights.theta
    for k in (0, 5, 2047, 2048 + 3, len(theta) - 1):           # a coupling, a visible bias, a hidden bias
        bumped = theta.copy()
        bumped[k] += 1.0
        diff = ir.with_weights(bumped).energy(S).mean() - ir.with_weights(theta).energy(S).mean()
        assert g[k] == pytest.approx(diff, abs=1e-9)         # E is affine in θ: the difference is exact
    direct = (S[:, rows].astype(np.float64) * S[:, cols]).mean(axis=0)
    np.testing.assert_allclose(C, direct, rtol=0, atol=1e-12)
    np.testing.assert_allclose(m, S.mean(axis=0), rtol=0, atol=1e-12)


@pytest.mark.parametrize("path", ["examples/digits_dtm.pb", "examples/ising_dtm.pb"])
def test_stacked_steps_are_the_step_models_side_by_side(path):
    """Training samples all steps at once; the stacked model must be exactly the T step models."""
    from pbitlang.dtm.chain import step_ir
    from pbitlang.dtm.training import StackedSteps
    prog = pb.compile(path)
    spec = chain_spec(prog.ir)
    theta = np.random.default_rng(0).normal(size=(spec.steps, prog.ir.weights.num_weights))
    stack = StackedSteps(prog.ir, spec, spec.steps)
    model = stack.model(theta)
    S = np.random.default_rng(1).choice(np.array([-1, 1], np.int8), size=(6, model.num_spins))
    parts = [step_ir(prog.ir, spec, t, theta[t - 1]).energy(S[:, (t - 1) * stack.size:t * stack.size])
             for t in range(1, spec.steps + 1)]
    np.testing.assert_allclose(model.energy(S), np.sum(parts, axis=0), rtol=1e-12, atol=1e-9)


def test_ctrl_c_during_training_keeps_the_last_weights(tmp_path):
    from tests.cli_interrupt import interrupt_pbit
    prog = tmp_path / "rbm.pb"
    prog.write_text(RBM.replace("NOISE", "flip(schedule = cosine)"))
    np.save(tmp_path / "d.npy", two_patterns(512))
    out = tmp_path / "t.pbir"
    metrics = tmp_path / "ck" / "metrics.jsonl"
    # interrupt only once training is under way
    code, stderr = interrupt_pbit(["train", prog, "--data", tmp_path / "d.npy", "--epochs", "100000", "-o", out,
                                   "--checkpoint", tmp_path / "ck"],
                                  lambda proc: metrics.exists() and metrics.stat().st_size > 0)
    assert code == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    model = pb.load(out)
    assert isinstance(model, TrainedModel) and np.all(np.isfinite(model.thetas))
    assert (tmp_path / "ck" / "checkpoint.npz").exists()


def test_equilibrium_samples_make_training_data():
    from pbitlang.dtm.data import equilibrium_samples
    prog = pb.compile("examples/ising2d_open.pb", params={"L": 6})
    data = equilibrium_samples(prog, "s", num=100, sweeps_between=5, burn_in=100, chains=8, seed=1)
    assert data.shape == (100, 36) and set(np.unique(data)) <= {-1, 1}
    ising = pb.compile(RBM.replace("NOISE", "flip(schedule = cosine)").replace("V: int = 16", "V: int = 36"))
    spec = chain_spec(ising.ir)
    assert len(spec.data_index) == 36


def test_latents_independent_detection():
    from pbitlang.dtm.training import latents_independent
    rbm = pb.compile(RBM.replace("NOISE", "flip")).ir
    assert latents_independent(rbm, np.arange(16, 24))
    coupled = pb.compile(RBM.replace("NOISE", "flip") + "energy 0.3 * z[0] * z[1];").ir
    assert not latents_independent(coupled, np.arange(16, 24))


def test_training_on_a_fabric_that_cannot_hold_the_steps_names_the_spin():
    """Every step runs on one kernel prepared on the steps' shared structure, which keeps the terms'
    sources, so a fabric error says which spin (of every step) and which line of the program made the coupling."""
    prog = pb.compile("examples/digits_dtm.pb")
    data = np.random.default_rng(0).integers(0, 2, size=(64, 64))
    with pytest.raises(pb.errors.BackendError, match=r"'z\[0\]'.*coupling from examples/digits_dtm.pb:18:5"):
        pb.train(prog, data, epochs=1, seed=0, backend="emulator", backend_options={"fabric": "dtca"})


def test_step_models_keep_term_sources():
    """A step's couplings cite the program's lines, its links to x_t cite the chain declaration."""
    from pbitlang.dtm.chain import chain_spec, step_ir
    ir = pb.compile("examples/digits_dtm.pb").ir
    spec = chain_spec(ir)
    step = step_ir(ir, spec, 2, None)
    n = ir.num_spins
    assert step.term_source(0, 64) == "examples/digits_dtm.pb:18:5"           # x[0] – z[0]: the W term
    assert step.term_source(0, n) == step.term_source(n, 0) == "examples/digits_dtm.pb:25:1"   # x[0] – its x_t
    np.testing.assert_array_equal(step.J.data[step.J_term == len(step.sources) - 1], -spec.noise.gamma[1])


FERRO = """param L: int = 4; spin s[L, L];
energy -s[i, j] * s[i + 1, j] for i in 0..L - 1, j in 0..L;
energy -s[i, j] * s[i, j + 1] for i in 0..L, j in 0..L - 1;
chain dtm over s { steps 4; noise correlated(J = JJ, graph = GRAPH, schedule = cosine); sweeps 5; }
"""


def neighbour_correlation(y: np.ndarray, L: int) -> float:
    g = y.reshape(len(y), L, L).astype(np.float64)
    return float(np.mean(np.concatenate([(g[:, 1:] * g[:, :-1]).ravel(), (g[:, :, 1:] * g[:, :, :-1]).ravel()])))


def test_correlated_noise_on_the_program_graph_has_the_program_sign():
    """A ferromagnet's own couplings drive ferromagnetic noise: the graph is the nearest-neighbour
    lattice with +1 bonds, and the forward sweeps from a random start correlate neighbours
    positively, as graph = lattice does (the negative control: the raw energy coefficients give −)."""
    rng = np.random.default_rng(0)
    x = (2 * rng.integers(0, 2, (4000, 16)) - 1).astype(np.int8)
    correlations = {}
    for graph in ("lattice", "program"):
        noise = chain_spec(pb.compile(FERRO.replace("JJ", "2.0").replace("GRAPH", graph)).ir).noise
        assert (abs(noise.graph - lattice_graph((4, 4))) > 0).nnz == 0 and noise.graph.sum() == 48
        y = x
        for _ in range(10):
            y = noise.forward(y, 1, 1)
        correlations[graph] = neighbour_correlation(y, 4)
    assert correlations["lattice"] == correlations["program"] > 0.5
    anti = CorrelatedNoise(noise.p, -noise.graph, J=2.0, sweeps=1)
    y = x
    for _ in range(10):
        y = anti.forward(y, 1, 1)
    assert neighbour_correlation(y, 4) < -0.5


@pytest.mark.parametrize("graph", ["lattice", "program"])
def test_correlated_noise_at_zero_coupling_is_independent_flips_on_both_graphs(graph):
    noise = chain_spec(pb.compile(FERRO.replace("JJ", "0.0").replace("GRAPH", graph).replace("L: int = 4",
                                                                                               "L: int = 2")).ir).noise
    flips = FlipNoise(noise.p)
    states = np.array(list(itertools.product([-1, 1], repeat=4)), dtype=np.int8)
    for x in states:
        xs = np.repeat(x[None], len(states), 0)
        np.testing.assert_allclose(noise.log_forward_prob(xs, states, 2), flips.log_forward_prob(xs, states, 2),
                                   atol=1e-12)


def test_correlated_noise_refuses_trainable_couplings_on_the_program_graph():
    source = """spin s[4]; weight K[3]; energy -K[i] * s[i] * s[i + 1] for i in 0..3;
    chain dtm over s { steps 3; noise correlated(J = 1.0, graph = program); sweeps 5; }"""
    with pytest.raises(pb.PbitError, match="trainable weights .* graph = lattice"):
        chain_spec(pb.compile(source).ir)
    mixed = source.replace("-K[i] * s[i] * s[i + 1]", "-(1 + K[i]) * s[i] * s[i + 1]")
    assert chain_spec(pb.compile(mixed).ir).noise.graph.sum() == 6          # the fixed part drives the noise
    beside = mixed.replace("for i in 0..3;", "for i in 0..3; weight D[2]; energy -D[i] * s[i] * s[i + 2] for i in 0..2;")
    graph = chain_spec(pb.compile(beside).ir).noise.graph                  # weights beside fixed bonds add nothing
    assert graph.sum() == 6 and graph[0, 2] == 0
    rbm = pb.compile(RBM.replace("NOISE", "correlated(J = 1.0, graph = program)"))
    with pytest.warns(pb.PbitWarning, match="independent flips"):            # no couplings among v
        chain_spec(rbm.ir)


def test_steps_trained_apart_are_the_steps_trained_together():
    """Each step's noise, sampler seeds and first chains come from (seed, step): a step trains the same
    alone, which is what lets a cluster train the steps as tasks (merge_steps joins them)."""
    from pbitlang.dtm.training import merge_steps, train_chain
    prog = pb.compile(RBM.replace("NOISE", "flip(schedule = cosine)"))
    data = two_patterns(192)
    kw = dict(epochs=2, lr=0.05, batch_size=64, seed=5)
    whole = train_chain(prog, data, **kw)
    third = train_chain(prog, data, steps=[3], **kw)
    np.testing.assert_array_equal(third.thetas[2], whole.thetas[2])
    np.testing.assert_array_equal(third.thetas[[0, 1, 3]], np.tile(prog.ir.weights.theta, (3, 1)))   # untouched
    merged = merge_steps([train_chain(prog, data, steps=s, **kw) for s in ([2, 4], [1], [3])])
    np.testing.assert_array_equal(merged.thetas, whole.thetas)
    assert merged.info["lambdas"] == whole.info["lambdas"]
    assert [r["step"] for r in merged.metrics] == [r["step"] for r in whole.metrics]
    # negative control: another seed trains every step differently
    other = train_chain(prog, data, steps=[3], **{**kw, "seed": 6})
    assert not np.array_equal(other.thetas[2], whole.thetas[2])
    with pytest.raises(pb.PbitError, match="step numbers 1 … 4"):
        train_chain(prog, data, steps=[0, 5], **kw)
    with pytest.raises(pb.PbitError, match="checkpoints hold every step"):
        train_chain(prog, data, steps=[1], checkpoint="ck", **kw)


def test_a_run_resumed_from_an_epoch_checkpoint_is_the_run_never_stopped(tmp_path):
    """The checkpoint keeps the model phase's persistent chains and every random stream is keyed by
    (seed, epoch, batch, step): resuming after epoch 2 gives epoch 4's weights exactly."""
    import zipfile
    prog = pb.compile(RBM.replace("NOISE", "flip(schedule = cosine)"))
    data = two_patterns(192)
    kw = dict(lr=0.05, batch_size=64, seed=2)
    straight = pb.train(prog, data, epochs=4, **kw)
    pb.train(prog, data, epochs=2, checkpoint=tmp_path / "ck", **kw)
    resumed = pb.train(prog, data, epochs=4, resume=tmp_path / "ck", **kw)
    np.testing.assert_array_equal(resumed.thetas, straight.thetas)
    # negative control: without the chains (a checkpoint of an older version) the run goes on differently
    with zipfile.ZipFile(tmp_path / "ck" / "checkpoint.npz") as z:
        kept = {name: z.read(name) for name in z.namelist() if name != "persistent.npy"}
    with zipfile.ZipFile(tmp_path / "old.npz", "w") as z:
        for name, blob in kept.items():
            z.writestr(name, blob)
    fresh = pb.train(prog, data, epochs=4, resume=tmp_path / "old.npz", **kw)
    assert np.all(np.isfinite(fresh.thetas)) and not np.array_equal(fresh.thetas, straight.thetas)


FIELD_FREE = """param L: int = 3;
spin s[L, L];
weight h[L, L];
energy -s[i, j] * s[i + 1, j] for i in 0..L-1, j in 0..L;
energy -s[i, j] * s[i, j + 1] for i in 0..L, j in 0..L-1;
energy -h[i, j] * s[i, j] for i in 0..L, j in 0..L;
chain dtm over s { steps 4; noise correlated(graph = program, J = 0.6, field = FIELD); sweeps 10; }
"""


def test_field_free_noise_links_the_pairs_a_sweep_reads():
    """One field-free sweep: log q(x_t | x_{t−1}) = β_t J Σ_{b(i)<b(j)} g_ij x_{t,i} x_{t−1,j} − Σ_i log 2cosh f_i
    + (terms free of x_{t−1}).  The step model's links must be exactly that pairwise part: the rest of
    log q, with the log-cosh terms added back, may not depend on x_{t−1}.  The control: the links of the
    noise with its field (x_{t,i} tied to x_{t−1,i}) leave a remainder that does."""
    rng = np.random.default_rng(0)
    for field, control in (("false", False), ("true", True)):
        prog = pb.compile(FIELD_FREE.replace("FIELD", field))
        spec = chain_spec(prog.ir)
        noise, n = spec.noise, prog.ir.num_spins
        y = rng.choice(np.array([-1, 1], np.int8), size=n)
        xs = rng.choice(np.array([-1, 1], np.int8), size=(6, n))
        for t in (1, 2):
            model = step_ir(prog.ir, spec, t, None)
            remainders = []
            for x in xs:
                state = np.r_[x, y][None].astype(np.int8)
                link = -(model.energy(state)[0] - prog.ir.energy(x[None].astype(np.int8))[0])   # −E of the links
                cur, logcosh = x.astype(float).copy(), 0.0
                for block in noise.blocks:                   # the sweep's fields, as log_forward_prob makes them
                    f = noise._fields(cur[None], x[None].astype(float), t, block)[0]
                    logcosh += np.logaddexp(f, -f).sum()
                    cur[block] = y[block]
                logq = noise.log_forward_prob(x[None], y[None], t)[0]
                remainders.append(logq + logcosh - link)
            spread = np.ptp(remainders)
            assert (spread > 0.1) if control else (spread < 1e-9), (field, t, spread)
    free = chain_spec(pb.compile(FIELD_FREE.replace("FIELD", "false")).ir).noise
    rows, cols = free.link_pairs(9)
    assert len(rows) == 12 and np.all(free.colors[rows] != free.colors[cols])          # each lattice bond once
    with pytest.raises(pb.CompileError, match="sweeps = 1"):
        chain_spec(pb.compile(FIELD_FREE.replace("FIELD", "false").replace("J = 0.6", "J = 0.6, sweeps = 2")).ir)


def test_a_field_free_chain_trains_and_generates():
    prog = pb.compile(FIELD_FREE.replace("FIELD", "false"))
    data = np.tile([[1] * 9, [-1] * 9], (32, 1))
    model = pb.train(prog, data, epochs=2, batch_size=16, seed=0)
    gen = model.generate(num=64, seed=1)
    assert np.all(np.isfinite(model.thetas)) and gen.variables("s").shape == (64, 3, 3)
