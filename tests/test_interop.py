"""dimod both ways, backends as dimod samplers, model files, and the MCMC diagnostics of arviz-stats."""
import itertools
import json
import subprocess
import sys
import unittest
from pathlib import Path

import numpy as np
import pytest

import pbitlang as pb
from pbitlang.cli.pbit import main as pbit
from pbitlang.cli.pbitc import main as pbitc
from pbitlang.models import read_model, write_model
from pbitlang.results import SampleResult

dimod = pytest.importorskip("dimod")
from pbitlang.dimod import PbitSampler, default_beta_range, from_dimod  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent


def all_states(n: int) -> np.ndarray:
    return np.array(list(itertools.product([-1, 1], repeat=n)), dtype=np.int8).reshape(-1, n)


def assert_same_energy(ir, model):
    """ir.energy equals the dimod model's energy on every state (its labels mapped by ir.labels)."""
    S = all_states(ir.num_spins)
    values = (S + 1) // 2 if model.vartype is dimod.BINARY else S
    samples = [dict(zip(ir.labels, row.tolist())) for row in values]
    expected = model.energies(samples) if isinstance(model, dimod.BinaryPolynomial) else \
        model.energies((values, list(ir.labels)))
    np.testing.assert_allclose(ir.energy(S), expected, atol=1e-9)


def random_bqm(n, vartype, seed, labels):
    bqm = dimod.generators.gnp_random_bqm(n, 0.6, vartype, random_state=seed)
    bqm.offset = -0.75 + seed
    return bqm.relabel_variables(dict(zip(range(n), labels)), inplace=False)


LABELS = [list(range(7)), [f"v{k}" for k in range(7)], [("n", k) if k % 2 else k * 1.5 for k in range(7)],
          [(("a",),), "b", 3, (1, 2), "c", ("d", ("e", 5)), -1]]


@pytest.mark.parametrize("vartype", ["SPIN", "BINARY"])
@pytest.mark.parametrize("labels", LABELS)
def test_from_dimod_keeps_the_energy_of_every_state_and_the_labels(vartype, labels):
    for seed in range(3):
        bqm = random_bqm(7, vartype, seed, labels)
        prog = from_dimod(bqm)
        assert list(prog.ir.labels) == list(bqm.variables)
        assert_same_energy(prog.ir, bqm)
        back = prog.to_dimod()
        assert back.vartype is bqm.vartype
        dimod.testing.assert_bqm_almost_equal(back, bqm, places=9)


def test_a_wrong_conversion_is_caught():
    """The negative control of assert_same_energy: a model with one bias changed differs."""
    bqm = random_bqm(5, "SPIN", 0, range(5))
    other = bqm.copy()
    other.add_linear(2, 0.25)
    with pytest.raises(AssertionError):
        assert_same_energy(from_dimod(other).ir, bqm)


@pytest.mark.parametrize("vartype", ["SPIN", "BINARY"])
def test_binary_polynomials_keep_their_k_body_terms(vartype):
    rng = np.random.default_rng(1)
    labels = ["a", "b", ("c", 1), 4, "e", "f"]
    terms = {(): 0.5}
    for k in (1, 2, 3, 4):
        for term in itertools.combinations(labels, k):
            if rng.random() < 0.5:
                terms[term] = float(rng.normal())
    poly = dimod.BinaryPolynomial(terms, vartype)
    prog = from_dimod(poly)
    assert_same_energy(prog.ir, poly)
    if vartype == "SPIN":
        assert 3 in prog.ir.kbody and 4 in prog.ir.kbody                   # kept as k-body factors
    back = prog.to_dimod()
    assert isinstance(back, dimod.BinaryPolynomial)
    assert_same_energy(prog.ir, back.to_spin() if back.vartype is dimod.BINARY else back)


def test_empty_models():
    for model in (dimod.BinaryQuadraticModel({}, {}, 2.5, "SPIN"), dimod.BinaryQuadraticModel("BINARY")):
        prog = from_dimod(model)
        assert prog.ir.num_spins == 0 and prog.ir.offset == model.offset
        assert prog.to_dimod().num_variables == 0


def test_compiled_programs_go_to_dimod_with_their_names_and_vartype():
    prog = pb.compile("bit x[2, 2]; energy -x[i, j] * x[i, (j + 1) % 2] + 0.5 * x[i, j] for i in 0..2, j in 0..2;")
    bqm = prog.to_dimod()
    assert bqm.vartype is dimod.BINARY and set(bqm.variables) == {"x[0, 0]", "x[0, 1]", "x[1, 0]", "x[1, 1]"}
    S = all_states(4)
    samples = [{prog.ir.spin_name(i): (int(s[i]) + 1) // 2 for i in range(4)} for s in S]
    np.testing.assert_allclose(bqm.energies(samples), prog.ir.energy(S))
    kbody = pb.compile("spin s[3]; energy -s[0] * s[1] * s[2];").to_dimod()
    assert isinstance(kbody, dimod.BinaryPolynomial) and kbody[frozenset({"s[0]", "s[1]", "s[2]"})] == -1


def test_evidence_is_substituted():
    prog = pb.compile("spin s[3]; energy -s[0] * s[1] - 2 * s[1] * s[2] + 0.5 * s[2]; given s[2] = -1;")
    bqm = prog.to_dimod()
    assert set(bqm.variables) == {"s[0]", "s[1]"}
    for s0, s1 in itertools.product([-1, 1], repeat=2):
        full = prog.ir.energy(np.array([[s0, s1, -1]], np.int8))[0]
        assert bqm.energy({"s[0]": s0, "s[1]": s1}) == pytest.approx(full)


@dimod.testing.load_sampler_bqm_tests(PbitSampler)
class TestPbitSamplerWithDimodsOwnTests(unittest.TestCase):
    def test_api(self):
        dimod.testing.assert_sampler_api(PbitSampler())


def test_the_dimod_users_first_line():
    bqm = random_bqm(12, "SPIN", 4, [f"q{k}" for k in range(12)])
    ss = PbitSampler().sample(bqm, num_reads=64, num_sweeps=1000, seed=5)
    assert len(ss) == 64 and ss.vartype is dimod.SPIN
    dimod.testing.assert_sampleset_energies(ss, bqm)
    ground = dimod.ExactSolver().sample(bqm).first.energy
    assert ss.first.energy == pytest.approx(ground)                     # annealing finds the ground state
    np.testing.assert_array_equal(ss.record.chain, np.arange(64))
    assert set(ss.record.sweep) == {1000}
    info = ss.info
    assert info["beta_schedule_type"] == "geometric" and len(info["beta_schedule"]) == 1000
    assert info["beta_range"] == pytest.approx(list(default_beta_range(from_dimod(bqm).ir)))
    assert info["timing"]["total_s"] > 0
    again = PbitSampler().sample(bqm, num_reads=64, num_sweeps=1000, seed=5)
    np.testing.assert_array_equal(again.record.sample, ss.record.sample)     # a seed fixes the samples


def test_initial_states_and_custom_schedules():
    bqm = dimod.BinaryQuadraticModel({"a": 0.0, "b": 0.0}, {("a", "b"): -1.0}, 0.0, "BINARY")
    start = [{"a": 1, "b": 0}, {"a": 0, "b": 1}, {"a": 1, "b": 1}]
    # β = 0 for one sweep: the state moves at random; a huge β keeps a start only if it is a minimum
    ss = PbitSampler().sample(bqm, initial_states=start, beta_schedule=[1e9], beta_schedule_type="custom", seed=0)
    assert len(ss) == 3 and ss.info["beta_schedule_type"] == "custom"
    kept = {tuple(sorted(s.items())) for s in ss.samples()}
    assert (("a", 1), ("b", 1)) in kept                                  # the minimum stays where it started
    with pytest.raises(pb.OptionError):
        PbitSampler().sample(bqm, beta_schedule_type="spiral")
    with pytest.raises(pb.OptionError):
        PbitSampler().sample(bqm, num_sweeps=0)
    with pytest.raises(pb.OptionError):
        PbitSampler().sample(bqm, beta_range=(0.0, 1.0))                 # geometric from 0
    with pytest.raises(pb.OptionError):
        PbitSampler().sample(bqm, num_readz=3)
    with pytest.raises(pb.OptionError):
        PbitSampler(threadz=2)


def test_the_emulator_as_a_dimod_sampler_reports_its_ledger():
    bqm = random_bqm(10, "SPIN", 2, range(10))
    ss = PbitSampler("emulator", fabric="fpga").sample(bqm, num_reads=8, num_sweeps=200, seed=1)
    dimod.testing.assert_sampleset_energies(ss, bqm)
    assert ss.info["energy_per_sample_J"] > 0 and ss.info["latency_per_sample_s"] > 0 and ss.info["ledger"]


def test_a_fabric_with_a_topology_is_a_structured_dimod_sampler():
    from pbitlang.dimod import FabricSampler
    sampler = FabricSampler("dtca")
    dimod.testing.assert_structured_api(sampler)
    assert len(sampler.nodelist) == 70 * 70 and len(sampler.edgelist) == 70 * 70 * 12 // 2     # G12
    assert ((0, 0), (4, 1)) in sampler.edgelist and ((0, 0), (0, 2)) not in sampler.edgelist
    edges = [((0, c), (0, c + 1)) for c in range(10)] + [((0, 0), (4, 1))]
    bqm = dimod.BinaryQuadraticModel({(4, 1): 0.3}, {e: -1.0 for e in edges}, 0.5, "SPIN")
    ss = sampler.sample(bqm, num_reads=8, num_sweeps=300, seed=1)
    dimod.testing.assert_sampleset_energies(ss, bqm)
    assert set(ss.variables) == set(bqm.variables) and ss.first.energy == pytest.approx(-10.8)
    assert ss.info["energy_per_sample_J"] > 300 * 4900 * 1e-15             # every cell of the chip is clocked
    one = sampler.sample(dimod.BinaryQuadraticModel({(9, 9): 1.0}, {}, 0, "SPIN"), num_reads=8, num_sweeps=300)
    assert one.info["energy_per_sample_J"] == pytest.approx(ss.info["energy_per_sample_J"], rel=0.05)
    with pytest.raises(dimod.exceptions.BinaryQuadraticModelStructureError):
        sampler.sample(dimod.BinaryQuadraticModel({}, {((0, 0), (0, 2)): 1.0}, 0, "SPIN"))
    with pytest.raises(pb.OptionError, match="no fixed topology"):
        FabricSampler("fpga")


def test_sample_poly_samples_k_body_terms():
    poly = dimod.BinaryPolynomial({("a", "b", "c"): -1.0, ("a",): 0.2, ("c", "d"): 0.5}, "SPIN")
    ss = PbitSampler().sample_poly(poly, num_reads=16, num_sweeps=300, seed=2)
    for sample, energy in ss.data(["sample", "energy"]):
        assert poly.energy(sample) == pytest.approx(energy)
    assert ss.first.energy == pytest.approx(min(poly.energies(dimod.ExactSolver().sample(
        dimod.BinaryQuadraticModel({v: 0 for v in poly.variables}, {}, 0, "SPIN")).samples())))


def test_res_to_dimod_is_binary_for_bits_and_says_where_rows_came_from():
    prog = pb.compile("bit x[4]; energy -x[i] * x[(i + 1) % 4] for i in 0..4;")
    res = prog.sample(chains=3, sweeps=10, burn_in=10, thin=2, seed=0)
    ss = res.to_dimod()
    assert ss.vartype is dimod.BINARY and set(np.unique(ss.record.sample)) <= {0, 1}
    np.testing.assert_array_equal(ss.record.chain, np.repeat(np.arange(3), 5))
    np.testing.assert_array_equal(ss.record.sweep[:5], [12, 14, 16, 18, 20])
    assert ss.info["backend"] == "cpu"
    dimod.testing.assert_sampleset_energies(ss, prog.to_dimod())


def test_labels_survive_files(tmp_path):
    bqm = random_bqm(7, "BINARY", 1, LABELS[3])
    prog = from_dimod(bqm)
    prog.save(tmp_path / "m.pbir")
    loaded = pb.load(tmp_path / "m.pbir")
    assert loaded.ir.labels == prog.ir.labels
    res = loaded.sample(chains=2, sweeps=3, seed=0)
    assert res.labels == list(bqm.variables)
    res.save(tmp_path / "s.npz")
    again = SampleResult.load(tmp_path / "s.npz")
    assert again.labels == list(bqm.variables)
    dimod.testing.assert_sampleset_energies(again.to_dimod(), bqm)
    odd = dimod.BinaryQuadraticModel({frozenset({1}): 1.0}, {}, 0, "SPIN")
    with pytest.raises(ValueError, match="cannot be written"):
        from_dimod(odd).save(tmp_path / "odd.pbir")


# ---- model files -------------------------------------------------------------------------------
def write(tmp_path, name, text):
    path = tmp_path / name
    path.write_text(text)
    return path


def test_coo_gset_and_qubo_files_hold_the_models_they_say(tmp_path):
    coo = write(tmp_path, "m.coo", "# vartype=BINARY\n0 0 1.5\n0 5 -2\n5 7 0.25\n7 7 -1\n")
    bqm = dimod.BinaryQuadraticModel({0: 1.5, 7: -1.0, 5: 0.0}, {(0, 5): -2.0, (5, 7): 0.25}, 0.0, "BINARY")
    ir = read_model(coo)
    assert list(ir.labels) == [0, 5, 7] and ir.layout["x"][2] == "bit"
    assert_same_energy(ir, bqm)
    gset = write(tmp_path, "g.gset", "4 4\n1 2 1\n2 3 1\n3 4 2\n4 1 -1\n")
    ir = read_model(gset)
    S = all_states(4)
    cut = np.zeros(len(S))
    for i, j, w in ((0, 1, 1), (1, 2, 1), (2, 3, 2), (3, 0, -1)):
        cut += w * (S[:, i] != S[:, j])
    np.testing.assert_allclose(ir.energy(S), -cut)                      # the energy is minus the cut
    assert list(ir.labels) == [1, 2, 3, 4]
    qubo = write(tmp_path, "q.qubo", "c a comment\np qubo 0 4 2 1\n0 0 3\n2 2 -1\n0 2 0.5\n")
    ir = read_model(qubo)
    bqm = dimod.BinaryQuadraticModel({0: 3.0, 2: -1.0}, {(0, 2): 0.5}, 0.0, "BINARY")
    assert_same_energy(ir, bqm)


@pytest.mark.parametrize("name,text,where,fragment", [
    ("a.coo", "0 1 1.0\n1 2 x\n", ":2:5:", "not a number"),
    ("b.coo", "0 1\n", ":1:3:", "expected 3 numbers"),
    ("c.coo", "# vartype=QUBIT\n0 1 1\n", ":1:11:", "SPIN or BINARY"),
    ("d.gset", "3 2\n1 2 1\n2 4 1\n", ":3:3:", "outside 1..3"),
    ("e.gset", "3 2\n1 2 1\n", "", "promises 2 edges"),
    ("f.gset", "3 1\n2 2 1\n", ":2:3:", "two different nodes"),
    ("g.gset", "3 1\n1 2 inf\n", ":2:5:", "finite"),
    ("h.qubo", "p qubo 0 3 1 1\n0 1 1\n1 1 2\n", ":2:1:", "node lines"),
    ("i.qubo", "p qubit 0 3 1 1\n", ":1:1:", "starts with"),
    ("j.gset", "", "", "empty"),
])
def test_malformed_model_files_are_refused_with_line_and_column(tmp_path, name, text, where, fragment):
    path = write(tmp_path, name, text)
    with pytest.raises(pb.DataError, match=fragment) as err:
        read_model(path)
    assert where in str(err.value)
    if where:
        assert "^" in str(err.value)                                     # the line and a caret


def test_unknown_suffixes_need_a_format(tmp_path):
    path = write(tmp_path, "G1.txt", "2 1\n1 2 1\n")
    with pytest.raises(pb.DataError, match="--format"):
        pb.load_model(path)
    assert pb.load_model(path, format="gset").ir.num_spins == 2


def test_pbit_runs_a_gset_file_and_pbitc_writes_coo_and_bqm(tmp_path, capsys):
    graph = ROOT / "examples" / "data" / "random_200.gset"
    assert pbit(["run", str(graph), "--sweeps", "200", "--beta", "2", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["num_spins"] == 200 and summary["best"]["energy"] < -700      # a cut of over 700 edges
    txt = tmp_path / "g.txt"
    txt.write_text(graph.read_text())
    assert pbit(["run", str(txt), "--format", "gset", "--sweeps", "10"]) == 0
    capsys.readouterr()
    source = str(ROOT / "examples" / "ising2d.pb")
    for fmt in ("coo", "bqm"):
        out = tmp_path / f"ising.{fmt}"
        assert pbitc(["compile", source, "-D", "L=4", "--emit", fmt, "-o", str(out)]) == 0
        prog = pb.compile(source, params={"L": 4})
        S = np.random.default_rng(0).choice([-1, 1], size=(50, 16)).astype(np.int8)
        np.testing.assert_allclose(read_model(out).energy(S), prog.ir.energy(S))
    assert pbitc(["compile", source, "-D", "L=4", "--emit", "coo"]) == 0
    assert capsys.readouterr().out.startswith("# vartype=SPIN")
    assert pbitc(["compile", source, "--emit", "bqm"]) == 2                      # a binary file needs -o
    bits = pb.compile("bit x[3]; energy -x[0] * x[1] + 0.5 * x[2] * x[1] - x[2];")
    write_model(bits.ir, tmp_path / "bits.coo")
    assert (tmp_path / "bits.coo").read_text().startswith("# vartype=BINARY")
    np.testing.assert_allclose(read_model(tmp_path / "bits.coo").energy(all_states(3)), bits.ir.energy(all_states(3)))


def test_the_language_loads_a_gset_edge_table(tmp_path):
    prog = pb.compile(str(ROOT / "examples" / "maxcut_gset.pb"))
    model = pb.load_model(ROOT / "examples" / "data" / "random_200.gset")
    S = np.random.default_rng(1).choice([-1, 1], size=(20, 200)).astype(np.int8)
    np.testing.assert_allclose(prog.ir.energy(S), model.ir.energy(S))
    bad = write(tmp_path, "bad.pb", 'param E: int[_, 3] = load("x.gset", format = csv); spin s[2];')
    with pytest.raises(pb.CompileError, match="format = gset"):
        pb.compile(bad)


# ---- diagnostics -------------------------------------------------------------------------------
def ar1(phi: float, chains: int, draws: int, seed: int, shift=None) -> np.ndarray:
    rng = np.random.default_rng(seed)
    x = np.zeros((chains, draws))
    noise = rng.normal(size=(chains, draws)) * np.sqrt(1 - phi ** 2)
    x[:, 0] = rng.normal(size=chains)
    for t in range(1, draws):
        x[:, t] = phi * x[:, t - 1] + noise[:, t]
    return x + (0 if shift is None else np.asarray(shift)[:, None])


def test_our_ess_agrees_with_the_exact_one_on_ar1_chains():
    for phi in (0.5, 0.9):
        x = ar1(phi, 8, 20000, seed=3)
        theory = x.size * (1 - phi) / (1 + phi)
        ours = pb.stats.mean_and_error(x)[3]
        bulk = float(pb.stats.diagnostics(x)["ess_bulk"])
        assert abs(ours / theory - 1) < 0.12 and abs(bulk / theory - 1) < 0.12, (phi, ours, bulk, theory)
        assert float(pb.stats.diagnostics(x)["rhat"]) < 1.01
    shifted = ar1(0.9, 8, 2000, seed=4, shift=[0, 0, 0, 0, 1, 1, 1, 1])
    assert float(pb.stats.diagnostics(shifted)["rhat"]) > 1.1                 # chains that disagree


@pytest.mark.parametrize("case", range(8))
def test_rhat_and_ess_equal_arviz_stats(case):
    """The same estimators as arviz-stats (Vehtari et al. 2021), to rounding: continuous draws, ties
    (Ising energies are integers), few draws, odd lengths, one chain (ESS only: arviz leaves
    R-hat out for one chain)."""
    array_stats = pytest.importorskip("arviz_stats.base").array_stats
    rng = np.random.default_rng(case)
    chains, draws = [(4, 500), (2, 61), (8, 5), (1, 300), (6, 1000), (3, 4), (5, 77), (2, 2000)][case]
    x = ar1(0.8, chains, draws, seed=case) + rng.normal(size=(chains, draws))
    if case in (4, 6):
        x = np.round(2 * x)                                             # many ties
    ours = pb.stats.diagnostics(x)
    kw = {"chain_axis": 0, "draw_axis": 1}
    assert float(ours["ess_bulk"]) == pytest.approx(float(array_stats.ess(x, method="bulk", **kw)), rel=1e-9)
    assert float(ours["ess_tail"]) == pytest.approx(float(array_stats.ess(x, method="tail", prob=(0.05, 0.95),
                                                                          **kw)), rel=1e-9)
    if chains > 1:
        assert float(ours["rhat"]) == pytest.approx(float(array_stats.rhat(x, method="rank", **kw)), rel=1e-9)
    broken = x.copy()
    broken[0] += 3 * x.std()                                            # the negative control: one chain moved
    if chains > 1 and draws >= 50:
        assert float(pb.stats.diagnostics(broken)["rhat"]) > float(ours["rhat"]) + 0.1


def test_the_summary_carries_rhat_and_warns_when_chains_disagree():
    prog = pb.compile(str(ROOT / "examples" / "ising2d.pb"), params={"L": 16, "B": 0.6})
    res = prog.sample(chains=8, sweeps=300, burn_in=0, seed=1, initial="random")    # ordered phase, both signs
    s = res.summary()
    assert set(s["observables"]["m"]) >= {"rhat", "ess_bulk", "ess_tail"}
    assert s["observables"]["m"]["rhat"] > 1.01
    assert any("R-hat" in w for w in s["warnings"])
    calm = pb.compile(str(ROOT / "examples" / "ising2d.pb"), params={"L": 8, "B": 0.2}).sample(
        chains=8, sweeps=2000, burn_in=100, seed=1).summary()
    assert calm["energy"]["rhat"] < 1.01 and not any("R-hat" in w for w in calm["warnings"])


def test_to_arviz_has_chains_draws_and_every_observable():
    pytest.importorskip("arviz_base")
    prog = pb.compile(str(ROOT / "examples" / "ising2d.pb"), params={"L": 8})
    res = prog.sample(chains=4, sweeps=100, burn_in=10, thin=2, seed=0)
    tree = res.to_arviz()
    post = tree["posterior"]
    assert dict(post.sizes)["chain"] == 4 and dict(post.sizes)["draw"] == 50
    assert set(post.data_vars) == {"energy", "m", "absm", "e"}
    np.testing.assert_array_equal(post["energy"].values, res.trace("energy"))
    assert list(post["draw"].values[:3]) == [12, 14, 16]


def test_without_the_extras_the_core_still_works_and_says_which_extra(tmp_path):
    code = ("import sys; sys.modules['dimod'] = None; sys.modules['arviz_base'] = None\n"
            "sys.modules['arviz_stats'] = None\n"
            "import pbitlang as pb\n"
            "prog = pb.compile('spin s[4]; energy -s[i] * s[(i + 1) % 4] for i in 0..4;')\n"
            "res = prog.sample(chains=4, sweeps=200, seed=0)\n"
            "s = res.summary()\n"
            "assert s['energy']['rhat'] > 0 and s['energy']['ess'] > 0\n"
            "for call in (prog.to_dimod, res.to_arviz):\n"
            "    try:\n        call()\n    except pb.MissingExtra as e:\n        print(e)\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert "pip install 'pbitlang[dimod]'" in done.stdout and "pip install 'pbitlang[arviz]'" in done.stdout


# ---- OMMX --------------------------------------------------------------------------------------
def test_ommx_instances_in_and_out():
    v1 = pytest.importorskip("ommx.v1")
    x = [v1.DecisionVariable.binary(i + 10, name="x", subscripts=[i]) for i in range(4)]
    objective = x[0] * x[1] - 2 * x[2] + 0.5 * x[3] * x[1] + 1.5
    inst = v1.Instance.from_components(decision_variables=x, objective=objective, constraints=[],
                                       sense=v1.Instance.MAXIMIZE)
    prog = pb.from_ommx(inst)
    assert list(prog.ir.labels) == [10, 11, 12, 13]
    S = all_states(4)
    for s in S:
        value = inst.evaluate({label: int((v + 1) // 2) for label, v in zip(prog.ir.labels, s)}).objective
        assert prog.ir.energy(s[None])[0] == pytest.approx(-value)       # maximised: the energy is its negative
    assert inst.sense == v1.Instance.MAXIMIZE                               # the user's instance is left as it was
    for source in ("spin s[4]; energy -s[0] * s[1] * s[2] + 0.5 * s[3] * s[1] - s[2] + 0.25;",
                   "bit b[2, 2]; energy -b[0, 0] * b[1, 1] + 2 * b[0, 1]; given b[1, 0] = 1;"):
        prog = pb.compile(source)
        out = prog.to_ommx()
        for s in all_states(prog.ir.num_spins):
            if np.any(s[prog.ir.clamp_index] != prog.ir.clamp_value.reshape(-1)):
                continue
            value = out.evaluate({i: int((v + 1) // 2) for i, v in enumerate(s)}).objective
            assert value == pytest.approx(prog.ir.energy(s[None])[0])
    names = {(v.name, tuple(v.subscripts)) for v in pb.compile("bit b[2, 2]; energy b[0, 1];").to_ommx().decision_variables}
    assert ("b", (0, 1)) in names


def test_ommx_constraints_need_a_penalty():
    v1 = pytest.importorskip("ommx.v1")
    x = [v1.DecisionVariable.binary(i) for i in range(3)]
    inst = v1.Instance.from_components(decision_variables=x, objective=x[0] - x[1] + 0.5 * x[2],
                                       constraints=[(x[0] + x[1] + x[2] == 1).set_id(0)], sense=v1.Instance.MINIMIZE)
    with pytest.raises(pb.DataError, match="penalty="):
        pb.from_ommx(inst)
    prog = pb.from_ommx(inst, penalty=4.0)
    res = prog.sample(chains=16, sweeps=300, beta=3.0, seed=0)
    best = res.samples[np.argmin(res.energies)]
    assert ((best + 1) // 2).sum() == 1                                     # the penalty makes it one-hot


@pytest.mark.parametrize("name", ["m.coo", "g.gset", "q.qubo", "m.bqm"])
def test_damaged_model_files_raise_only_clear_errors(tmp_path, name):
    """Seeded damage (bytes flipped, cut, lines repeated) to each format: a PbitError or a model,
    never another exception, and never a model with non-finite biases."""
    texts = {"m.coo": "# vartype=SPIN\n0 0 1.5\n0 5 -2\n5 7 0.25\n", "g.gset": "4 4\n1 2 1\n2 3 1\n3 4 2\n4 1 -1\n",
             "q.qubo": "c x\np qubo 0 4 2 1\n0 0 3\n2 2 -1\n0 2 0.5\n"}
    if name == "m.bqm":
        bqm = random_bqm(6, "BINARY", 3, LABELS[2][:6])
        good = bqm.to_file().read()
        (tmp_path / "good.bqm").write_bytes(good)
        ir = read_model(tmp_path / "good.bqm")                  # read by pbitlang, not by dimod's reader
        assert list(ir.labels) == list(bqm.variables)
        assert_same_energy(ir, bqm)
    else:
        good = texts[name].encode()
    rng = np.random.default_rng(7)
    for case in range(150):
        data = bytearray(good)
        kind = case % 3
        if kind == 0:
            for _ in range(rng.integers(1, 4)):
                data[rng.integers(len(data))] = int(rng.integers(256))
        elif kind == 1:
            data = data[:rng.integers(len(data))]
        else:
            data = data + data[rng.integers(len(data)):]
        path = tmp_path / name
        path.write_bytes(bytes(data))
        try:
            ir = read_model(path)
        except pb.PbitError:
            continue
        assert np.all(np.isfinite(ir.h)) and np.all(np.isfinite(ir.J.data)) and np.isfinite(ir.offset)
