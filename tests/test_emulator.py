"""The p-bit emulator: exactness with respect to its own hardware model, RNGs, clocking,
fabric limits and the energy ledger."""
import json
import math
from pathlib import Path

import numpy as np
import pytest

import pbitlang as pb
from pbitlang.backends.emulator import fabrics, load_fabric, quantized_ir
from pbitlang.backends.emulator.fabric import GALOIS_TAPS
from pbitlang.backends.kernels import galois_period
from pbitlang.backends.emulator.ledger import ledger
from pbitlang.testing import compare_with_exact, random_model_source

ROOT = Path(__file__).resolve().parent.parent

FINE_TABLE = {"arithmetic": {"lut_size": 1 << 14, "lut_bits": 24, "acc_bits": 20}}


def small_model(seed=5, n=8):
    return pb.compile(random_model_source(seed, n=n, kbody=False))


def test_builtin_fabrics():
    assert {"ideal", "dtca", "fpga"} <= set(fabrics())
    assert load_fabric("dtca").topology["L"] == 70


@pytest.mark.parametrize("fabric", ["ideal", "fpga"])
def test_emulator_agrees_with_exact(fabric):
    prog = small_model()
    res = prog.sample("emulator", fabric=fabric, chains=32, sweeps=3000, thin=3, seed=3)
    ir = quantized_ir(prog.ir, fabric)
    tvd, tol = compare_with_exact(pb.results.SampleResult(ir, res.samples, res.num_chains))
    assert tvd < tol


def test_quantised_emulator_matches_the_quantised_model_not_the_original():
    prog = small_model(seed=6)
    fab = load_fabric("fpga").with_overrides({"arithmetic": {**load_fabric("fpga").arithmetic, "weight_bits": 3,
                                                             "bias_bits": 3, **FINE_TABLE["arithmetic"]},
                                              "rng": {"kind": "perfect"}})
    res = prog.sample("emulator", fabric=fab, chains=32, sweeps=3000, thin=3, seed=4)
    qir = quantized_ir(prog.ir, fab)
    assert not np.allclose(qir.J.data, prog.ir.J.data)
    tvd_q, tol = compare_with_exact(pb.results.SampleResult(qir, res.samples, res.num_chains))
    tvd_orig, _ = compare_with_exact(res)
    assert tvd_q < tol
    assert tvd_orig > tol                    # 3-bit weights change the distribution visibly


def test_weight_clipping_is_reported_and_overflow_can_be_an_error():
    prog = pb.compile("spin s[3]; energy 10 * s[0] * s[1] + 0.1 * s[1] * s[2] + 50 * s[2];")
    res = prog.sample("emulator", fabric="fpga", sweeps=10, seed=0)
    q = res.info["quantization"]
    assert q["clipped_biases"] == 1 and q["clipped_weights"] == 0
    fab = load_fabric("fpga").with_overrides({"arithmetic": {**load_fabric("fpga").arithmetic, "scale": 0.01,
                                                             "on_overflow": "error"}})
    with pytest.raises(pb.BackendError, match=r"coupling 10 between s\[0\] and s\[1\] exceeds .* at <input>:1:19"):
        prog.sample("emulator", fabric=fab, sweeps=10)


def test_same_seed_same_samples_on_every_fabric_rng():
    prog = small_model()
    for rng in ({"kind": "perfect"}, {"kind": "xorshift32"}, {"kind": "galois", "width": 16},
                {"kind": "analog", "bias_sigma": 0.01, "decorrelation_time_s": 1e-7}):
        fab = {"rng": rng}
        a = prog.sample("emulator", fabric="fpga", fabric_overrides=fab, chains=4, sweeps=30, seed=9)
        b = prog.sample("emulator", fabric="fpga", fabric_overrides=fab, chains=4, sweeps=30, seed=9)
        assert np.array_equal(a.samples, b.samples), rng


@pytest.mark.parametrize("width", sorted(GALOIS_TAPS))
def test_galois_lfsr_has_maximal_period(width):
    if width > 20:
        pytest.skip("period 2^width − 1 is too long to walk in a unit test")
    assert galois_period(width, GALOIS_TAPS[width]) == 2 ** width - 1


def test_lfsr_p_bits_are_unbiased_and_galois_rng_samples_correctly():
    prog = pb.compile("spin s[64]; beta = 1.0;")              # no input: every p-bit is a fair coin
    for rng in ({"kind": "xorshift32"}, {"kind": "galois", "width": 24}):
        res = prog.sample("emulator", fabric="fpga", fabric_overrides={"rng": rng}, chains=16, sweeps=500, seed=1)
        up = float(np.mean(res.samples == 1))
        assert abs(up - 0.5) < 4 * math.sqrt(0.25 / res.samples.size)
    model = small_model(seed=7)
    res = model.sample("emulator", fabric="fpga", fabric_overrides={"rng": {"kind": "galois", "width": 32}},
                       chains=32, sweeps=3000, thin=3, seed=2)
    tvd, tol = compare_with_exact(pb.results.SampleResult(quantized_ir(model.ir, "fpga"), res.samples, 32))
    assert tvd < tol


def test_analog_rng_bias_shifts_a_free_p_bit():
    prog = pb.compile("spin s[64]; beta = 1.0;")
    res = prog.sample("emulator", fabric="dtca", fabric_overrides={
        "rng": {"kind": "analog", "bias": 0.05, "bias_sigma": 0.0, "decorrelation_time_s": 0.0},
        "variability": {"gain_sigma": 0.0, "offset_sigma": 0.0}, "topology": None, "colors": None},
        chains=16, sweeps=400, seed=1)
    up = float(np.mean(res.samples == 1))
    assert abs(up - 0.55) < 4 * math.sqrt(0.25 / res.samples.size)


def test_slow_analog_rng_correlates_successive_updates():
    """A source that decorrelates slower than the clock repeats its value: lag-1 autocorrelation > 0."""
    prog = pb.compile("spin s[64]; beta = 1.0;")
    base = {"variability": {"gain_sigma": 0.0, "offset_sigma": 0.0}, "topology": None, "colors": None}
    slow = prog.sample("emulator", fabric="dtca", fabric_overrides={**base, "rng": {
        "kind": "analog", "bias": 0.0, "bias_sigma": 0.0, "decorrelation_time_s": 1e-6}}, chains=8, sweeps=500, seed=1)
    fast = prog.sample("emulator", fabric="dtca", fabric_overrides={**base, "rng": {
        "kind": "analog", "bias": 0.0, "bias_sigma": 0.0, "decorrelation_time_s": 1e-9}}, chains=8, sweeps=500, seed=1)
    assert slow.info["rng_correlation"] > 0.8 and fast.info["rng_correlation"] < 1e-6

    def lag1(res):
        x = res.samples.reshape(8, 500, 64).astype(float)
        return float(np.mean(x[:, 1:] * x[:, :-1]))
    assert lag1(slow) > 0.7 and abs(lag1(fast)) < 0.05


def test_asynchronous_clocking_converges_when_updates_are_sparse_and_differs_when_all_fire():
    prog = small_model(seed=8)
    slow = prog.sample("emulator", fabric="ideal", fabric_overrides={"clock": {"mode": "async", "frequency_hz": 1e9,
                       "update_probability": 0.05}}, chains=32, sweeps=1500, thin=2, seed=1)
    tvd, tol = compare_with_exact(slow)
    assert tvd < tol
    assert slow.info["clock_mode"] == "async"
    # every p-bit firing at once on stale inputs: a two-spin ferromagnet oscillates instead of aligning
    pair = pb.compile("spin s[2]; energy -2 * s[0] * s[1]; beta = 1.0;")
    sync_all = pair.sample("emulator", fabric="ideal", fabric_overrides={"clock": {"mode": "async",
                           "frequency_hz": 1e9, "update_probability": 1.0}}, chains=32, sweeps=500, seed=1)
    colour = pair.sample("emulator", fabric="ideal", chains=32, sweeps=500, seed=1)
    aligned = lambda r: float(np.mean(r.samples[:, 0] == r.samples[:, 1]))  # noqa: E731
    exact_aligned = 1 / (1 + math.exp(-4.0))
    assert abs(aligned(colour) - exact_aligned) < 0.02
    assert aligned(sync_all) < exact_aligned - 0.2


def test_fabric_limits_name_the_variable_or_term():
    big = pb.compile("spin s[5000]; energy -s[i] * s[i + 1] for i in 0..4999;")
    with pytest.raises(pb.BackendError, match="holds 4900; 's\\[4900\\]' does not fit"):
        big.sample("emulator", fabric="dtca", sweeps=1)
    dense = pb.compile("param N: int = 20; spin s[N];\nenergy s[i] * s[j] for i in 0..N, j in 0..N where i < j;")
    with pytest.raises(pb.BackendError, match=r"has 19 couplings but the 'dtca' fabric allows 12 .*<input>:2:8"):
        dense.sample("emulator", fabric="dtca", sweeps=1)
    ring = pb.compile("param L: int = 16; spin s[L, L] periodic;\nenergy -s[i, j] * s[i + 1, j] for i in 0..L, j in 0..L;")
    with pytest.raises(pb.BackendError, match=r"\(<input>:2:8\) is not a connection of the 'dtca' fabric"):
        ring.sample("emulator", fabric="dtca", sweeps=1)
    kb = pb.compile("spin s[3]; energy s[0] * s[1] * s[2];")
    with pytest.raises(pb.BackendError, match="reduce_kbody"):
        kb.sample("emulator", fabric="fpga", sweeps=1)
    with pytest.raises(pb.BackendError, match="unknown fabric 'tpu'"):
        kb.sample("emulator", fabric="tpu", sweeps=1)


def test_open_lattice_is_placed_on_the_dtca_torus():
    prog = pb.compile("param L: int = 20; spin s[L, L];\n"
                      "energy -s[i, j] * s[i + 1, j] for i in 0..L - 1, j in 0..L;\n"
                      "energy -s[i, j] * s[i, j + 1] for i in 0..L, j in 0..L - 1;")
    res = prog.sample("emulator", fabric="dtca", sweeps=20, seed=0)
    assert res.info["placement"]["kind"] == "row-major torus"
    assert res.info["placement"]["origin"] == {"s": [0, 0]}


def test_dtca_ledger_reproduces_the_published_estimate():
    """E = T·K_mix·L²·E_cell: one denoising step (T = 1) of K_mix = 250 sweeps on the full 70×70 fabric."""
    prog = pb.compile("examples/dtca_g12.pb")
    res = prog.sample("emulator", fabric="dtca", chains=1, sweeps=250, thin=250, seed=0)
    E_cell = 2e-15
    assert res.info["energy_per_cell_update_J"] == pytest.approx(E_cell)
    assert res.info["energy_per_sample_J"] == pytest.approx(1 * 250 * 70 ** 2 * E_cell)   # 2.45 nJ
    assert res.info["latency_per_sample_s"] == pytest.approx(250 * 2 / 1e7)              # 2 colour phases at 10 MHz
    assert set(res.info["ledger"]) == {"rng", "bias", "neighbour", "clock", "readout"}
    assert res.info["ledger"]["rng"] == pytest.approx(250 * 4900 * 350e-18)


def test_ledger_arithmetic_by_hand():
    fab = load_fabric("fpga")
    out = ledger(fab, n_pbits=100, edges_read=400, cycles_per_sweep=2, total_sweeps=1000, kept=10, chains=4)
    e = fab.energy
    per_chain = (1000 * 100 * (e["rng_J_per_update"] + e["bias_J_per_update"] + e["clock_J_per_cell_update"])
                 + 1000 * 400 * e["neighbour_J_per_edge"] + 10 * 100 * e["readout_J_per_bit"])
    assert out["energy_per_sample_J"] == pytest.approx(per_chain / 10)
    assert out["latency_per_sample_s"] == pytest.approx(1000 * 2 / 5e7 / 10)
    assert out["samples_per_s"] == pytest.approx(4 / out["latency_per_sample_s"])


def test_bad_fabric_profiles(tmp_path):
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "x", "arithmetic": {"kind": "fixed", "weight_bits": 99}, "rng": {"kind": "perfect"},'
                   ' "clock": {"mode": "sync", "frequency_hz": 1}, "energy": {}}')
    prog = pb.compile("spin s[2];")
    with pytest.raises(pb.BackendError, match=r"energy.rng_J_per_update must be given"):
        prog.sample("emulator", fabric=str(bad), sweeps=1)
    for field, value, message in (("lut_bits", True, "lut_bits must be an integer"),
                                  ("frequency_hz", [1], "frequency_hz must be a number"),
                                  ("topology", {"L": 4, "jumps": [[0, "x"]]}, "topology.jumps")):
        profile = json.loads((ROOT / "pbitlang" / "backends" / "fabrics" / "fpga.json").read_text())
        section = {"lut_bits": "arithmetic", "frequency_hz": "clock"}.get(field)
        (profile[section] if section else profile)[field] = value
        bad.write_text(json.dumps(profile))
        with pytest.raises(pb.BackendError, match=message):
            prog.sample("emulator", fabric=str(bad), sweeps=1)
    bad.write_text("{not json")
    with pytest.raises(pb.BackendError, match="not readable JSON"):
        prog.sample("emulator", fabric=str(bad), sweeps=1)
    with pytest.raises(pb.BackendError, match="does not exist"):
        prog.sample("emulator", fabric="fpga", fabric_overrides={"warp": 9}, sweeps=1)


def test_cli_runs_the_emulator(capsys):
    from pbitlang.cli.pbit import main
    import json
    assert main(["run", "examples/ising2d.pb", "-D", "L=8", "--backend", "emulator", "--fabric", "fpga",
                 "--sweeps", "50", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["backend"] == "emulator" and data["energy_per_sample_J"] > 0 and data["latency_per_sample_s"] > 0


@pytest.mark.parametrize("rng", [{"kind": "perfect"}, {"kind": "xorshift32"}, {"kind": "galois", "width": 16},
                                 {"kind": "analog", "bias_sigma": 0.01, "decorrelation_time_s": 1e-7}])
def test_threads_give_the_same_samples(rng, fine_chain_groups):
    prog = small_model()
    one = prog.sample("emulator", fabric="fpga", fabric_overrides={"rng": rng}, chains=6, sweeps=30, seed=4)
    two = prog.sample("emulator", fabric="fpga", fabric_overrides={"rng": rng}, chains=6, sweeps=30, seed=4, threads=2)
    assert np.array_equal(one.samples, two.samples)
    ideal = prog.sample("emulator", chains=5, sweeps=30, seed=4, threads=1,
                        fabric_overrides={"clock": {"mode": "async", "frequency_hz": 1e9, "update_probability": 0.3}})
    ideal2 = prog.sample("emulator", chains=5, sweeps=30, seed=4, threads=3,
                         fabric_overrides={"clock": {"mode": "async", "frequency_hz": 1e9, "update_probability": 0.3}})
    assert np.array_equal(ideal.samples, ideal2.samples)
    with pytest.raises(pb.BackendError, match="threads"):
        prog.sample("emulator", sweeps=2, threads=0)


cpu_module = __import__("importlib").import_module("pbitlang.backends.cpu")


def test_chain_groups_keep_each_cache_line_of_states_on_one_thread():
    """Threads split the chains on multiples of 64 (a cache line of int8 states): 64 chains on two
    threads ran at half the speed of one, the two writing one line in turn."""
    groups = cpu_module.chain_groups
    assert groups(64, 2).tolist() == [0, 64] and groups(6, 4).tolist() == [0, 6]
    assert groups(128, 2).tolist() == [0, 64, 128] and groups(130, 2).tolist() == [0, 64, 130]
    for chains, threads in [(200, 3), (1000, 16), (640, 7), (65, 2)]:
        cuts = groups(chains, threads)
        assert cuts[0] == 0 and cuts[-1] == chains and np.all(np.diff(cuts) > 0) and len(cuts) <= threads + 1
        assert np.all(cuts[1:-1] % 64 == 0)


# ---- dense tiles: an RBM's layers as matrix products ----------------------------------------------
tiles_module = __import__("importlib").import_module("pbitlang.backends.tiles")

TILED_RBM = """
param V: int = 7;
param H: int = 5;
spin v[V];
spin z[H];
weight W[V, H] = normal(0, 0.6, seed = 3);
energy {
    -W[i, j] * v[i] * z[j]   for i in 0..V, j in 0..H;
    0.3 * v[i] * v[i + 1]    for i in 0..V - 1;
    -0.2 * z[j]              for j in 0..H;
}
"""


def _tiles_of(ir, clamp_index):
    from pbitlang.colour import ColourBlocks
    held = np.union1d(ir.clamp_index, clamp_index)
    blocks = ColourBlocks(ir.colors, np.setdiff1d(np.arange(ir.num_spins), held), ir.num_colors)
    order, block_ptr = blocks.order, blocks.ptr
    return order, block_ptr, tiles_module.BlockTiles(ir.J, order, block_ptr, synchronous=True)


def _rebuilt_J(ir, order, layout):
    """J put back together from the layout's padded rows and tiles (values 1..nnz, to see each entry once)."""
    values = np.arange(1, ir.J.nnz + 1, dtype=np.float64)
    (ptr4, nb4, w4), (segments, col_ptr, cols, weight_ptr, tw) = layout.weights(values, np.float64)
    M = np.zeros((ir.num_spins, ir.num_spins))
    for i in range(ir.num_spins):
        np.add.at(M[i], nb4[ptr4[i]:ptr4[i + 1]], w4[ptr4[i]:ptr4[i + 1]])
    for first, end, t in segments:
        if t >= 0:
            k = col_ptr[t + 1] - col_ptr[t]
            W = tw[weight_ptr[t]:weight_ptr[t + 1]].reshape(-1, k)
            M[np.ix_(order[first:end], cols[col_ptr[t]:col_ptr[t + 1]])] += W
    return M


def test_stacked_rbm_steps_become_tiles_and_every_coupling_goes_one_place():
    from pbitlang.dtm.chain import chain_spec
    train = __import__("importlib").import_module("pbitlang.dtm.training")
    ir = pb.compile("examples/digits_dtm.pb").ir
    spec = chain_spec(ir)
    stack = train.StackedSteps(ir, spec, spec.steps)
    d = len(spec.data_index)
    copies = np.concatenate([o + ir.num_spins + np.arange(d) for o in stack.offsets])
    model = stack.template
    order, block_ptr, layout = _tiles_of(model, copies)
    assert layout.num_tiles == 2 * spec.steps                # per step: visible × hidden and hidden × visible
    segments = layout.segments
    assert segments[0, 0] == 0 and segments[-1, 1] == len(order) and np.all(segments[1:, 0] == segments[:-1, 1])
    values = sp_dense(model.J)
    np.testing.assert_array_equal(_rebuilt_J(model, order, layout), values)
    # with the data clamped too (the positive phase), the hidden rows' tiles read clamped spins
    data = np.concatenate([o + spec.data_index for o in stack.offsets])
    order, _, layout = _tiles_of(model, np.r_[data, copies])
    assert layout.num_tiles == spec.steps
    np.testing.assert_array_equal(_rebuilt_J(model, order, layout), values)


def sp_dense(J):
    """J with each entry replaced by its position in J.data plus one, as a dense matrix."""
    M = np.zeros(J.shape)
    rows = np.repeat(np.arange(J.shape[0]), np.diff(J.indptr))
    M[rows, J.indices] = np.arange(1, J.nnz + 1)
    return M


def test_tiles_leave_fixed_point_samples_unchanged(monkeypatch, fine_chain_groups):
    """Integer sums are exact in the float type in any order, so a fixed-point fabric samples the same
    with tiles as without, spin for spin."""
    prog = pb.compile(TILED_RBM, params={"V": 40, "H": 16})
    assert _tiles_of(prog.ir, prog.ir.clamp_index)[2].num_tiles == 3
    tiled = prog.sample("emulator", fabric="fpga", chains=20, sweeps=200, seed=8, threads=2)
    monkeypatch.setattr(tiles_module, "TILE_DENSITY", 2.0)
    assert _tiles_of(prog.ir, prog.ir.clamp_index)[2].num_tiles == 0
    plain = prog.sample("emulator", fabric="fpga", chains=20, sweeps=200, seed=8, threads=2)
    assert np.array_equal(tiled.samples, plain.samples)


@pytest.mark.parametrize("fabric", ["ideal", "fpga"])
def test_a_tiled_emulator_samples_the_exact_distribution(monkeypatch, fabric):
    monkeypatch.setattr(tiles_module, "TILE_AREA", 1)
    prog = pb.compile(TILED_RBM)
    assert _tiles_of(prog.ir, prog.ir.clamp_index)[2].num_tiles >= 2   # z × all v, and v colours × z
    res = prog.sample("emulator", fabric=fabric, chains=16, sweeps=4000, seed=5)
    tvd, tol = compare_with_exact(pb.results.SampleResult(quantized_ir(prog.ir, fabric), res.samples,
                                                          res.num_chains))
    assert tvd < tol


@pytest.mark.parametrize("seed", [0, 2**40 + 3])
def test_compiled_chain_words_are_the_numpy_ones(seed):
    """kernels.chain_words (per-p-bit RNG states) draws runspec.chain_words' words, for any offset of
    the chains: a p-bit's state depends on (seed, its chain) alone."""
    from pbitlang.backends.kernels import chain_words
    from pbitlang.backends.runspec import chain_words as numpy_words
    for n, chains, chain0 in ((1, 1, 0), (3, 5, 0), (40, 64, 7)):
        out = np.empty((n, chains), np.uint64)
        chain_words(np.uint64(seed), np.uint64(3), chain0, out)
        assert np.array_equal(out, numpy_words(seed, np.arange(chain0, chain0 + chains), n, stream=3))


@pytest.mark.parametrize("rng", [None, {"kind": "galois", "width": 16},
                                 {"kind": "analog", "decorrelation_time_s": 5e-8}])
def test_fixed_point_chains_draw_the_same_whatever_the_other_chains(rng):
    """With per-p-bit RNGs or analog sources, 8 chains are still the first 8 of 100: their states come
    from (seed, chain) alone."""
    prog = pb.compile("examples/ising2d.pb", params={"L": 8})
    opts = {"fabric": "fpga", **({"fabric_overrides": {"rng": rng}} if rng else {})}
    few = prog.sample("emulator", chains=8, sweeps=20, seed=5, **opts)
    many = prog.sample("emulator", chains=100, sweeps=20, seed=5, **opts)
    assert np.array_equal(few.native, many.native[:, :, :8])



def test_a_last_spin_without_couplings_runs_on_fixed_point():
    """A spin with no couplings at the end of J (its row empty) once crashed the input bounds."""
    prog = pb.compile("spin s[3];\nenergy -s[0]*s[1];\n")
    res = prog.sample("emulator", fabric="fpga", chains=4, sweeps=10, seed=0)
    assert res.samples.shape == (40, 3)
    assert res.info["quantization"]["input_window"] >= 1
