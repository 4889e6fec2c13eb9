"""What a new user meets on day one: paths, outputs checked before work, clear refusals, a summary
worth reading, lazy imports, bounded post-processing and files that survive interruption."""
import json
import os
import signal
import subprocess
import sys
import threading
import warnings
from pathlib import Path

import numpy as np
import pytest

import pbitlang as pb
from pbitlang.backends.driver import compile_notice
from pbitlang.cli.pbit import main as pbit
from pbitlang.cli.pbitc import main as pbitc
from pbitlang.files import interrupts_held
from pbitlang.results import SampleResult

ROOT = Path(__file__).resolve().parent.parent
ISING = str(ROOT / "examples" / "ising2d.pb")
RBM = """
param T: int = 2;
bit v[6];
spin hid[3];
weight W[6, 3];
weight b[6];
energy {
    -W[i, k] * (2 * v[i] - 1) * hid[k]   for i in 0..6, k in 0..3;
    -b[i] * (2 * v[i] - 1)               for i in 0..6;
}
chain dtm over v { steps T; noise flip(schedule = cosine); sweeps 4; }
"""


def _trained(tmp_path) -> Path:
    prog = tmp_path / "rbm.pb"
    prog.write_text(RBM)
    data = np.tile([[1, 1, 1, 0, 0, 0], [0, 0, 0, 1, 1, 1]], (32, 1))
    np.save(tmp_path / "d.npy", data, allow_pickle=False)
    out = tmp_path / "t.pbir"
    assert pbit(["train", str(prog), "--data", str(tmp_path / "d.npy"), "--epochs", "1", "-o", str(out)]) == 0
    return out


# ---- the program argument is a path, read as a file or refused as one

@pytest.mark.parametrize("name,fragment", [
    ("examples/ising2d", "did you mean examples/ising2d.pb"),
    ("examples", "is a directory"),
    ("README.md", "not a program: expected a .pb or .pbir file"),
    ("pyproject.toml", "not a program"),
    ("nothere.pb", "nothere.pb: no such file"),
])
def test_a_program_argument_is_a_file_never_program_text(name, fragment, capsys, monkeypatch):
    monkeypatch.chdir(ROOT)
    for argv in (["run", name], ["train", name, "--data", "digits"]):
        assert pbit(argv) == 2
        err = capsys.readouterr().err
        assert fragment in err and "Traceback" not in err and "statement starts with" not in err
    assert pbitc(["check", name]) == 2
    assert fragment.split(":")[0] in capsys.readouterr().err


def test_a_binary_file_and_an_upper_case_suffix(tmp_path, capsys):
    binary = tmp_path / "blob.pb"
    binary.write_bytes(bytes(range(256)) * 4)
    assert pbit(["run", str(binary)]) == 2
    assert "cannot read the program" in capsys.readouterr().err
    upper = tmp_path / "model.PB"
    upper.write_text(Path(ISING).read_text())
    assert pbit(["run", str(upper), "-D", "L=4", "--sweeps", "10", "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["num_spins"] == 16


# ---- outputs are checked before any work

def test_unwritable_outputs_are_refused_before_the_work(tmp_path, capsys):
    trained = _trained(tmp_path)
    capsys.readouterr()
    data = str(tmp_path / "d.npy")
    cases = [
        (pbitc, ["compile", ISING, "-o", "/nonexistent/x.pbir"]),
        (pbit, ["run", ISING, "-o", "/nonexistent/x.npz"]),
        (pbit, ["run", ISING, "-o", str(tmp_path)]),                       # a folder
        (pbit, ["train", str(tmp_path / "rbm.pb"), "--data", data, "-o", "/nonexistent/t.pbir"]),
        (pbit, ["train", str(tmp_path / "rbm.pb"), "--data", data, "--checkpoint", "/proc/x"]),
        (pbit, ["generate", str(trained), "-o", "/nonexistent/g.npz"]),
    ]
    for main, argv in cases:
        assert main(argv) == 2, argv
        captured = capsys.readouterr()
        assert captured.out == "" and "Traceback" not in captured.err, argv     # nothing ran, nothing printed
        assert "/nonexistent" in captured.err or "/proc/x" in captured.err or str(tmp_path) in captured.err


# ---- refusals with a clear message

def test_generate_refuses_zero_and_negative_sweeps(tmp_path, capsys):
    trained = _trained(tmp_path)
    for sweeps in ("0", "-3"):
        assert pbit(["generate", str(trained), "--sweeps", sweeps]) == 2
        assert "--sweeps" in capsys.readouterr().err
    model = pb.load(trained)
    for sweeps in (0, -3):
        with pytest.raises(pb.OptionError, match="sweeps must be an integer ≥ 1"):
            model.generate(num=4, sweeps=sweeps)
    with pytest.raises(pb.OptionError, match="generate fewer at a time"):
        model.generate(num=10**8)


def test_training_on_exact_says_it_cannot_train(tmp_path, capsys):
    _trained(tmp_path)
    capsys.readouterr()
    assert pbit(["train", str(tmp_path / "rbm.pb"), "--data", str(tmp_path / "d.npy"), "--backend", "exact",
                 "-o", str(tmp_path / "x.pbir")]) == 2
    err = capsys.readouterr().err
    assert "exact backend" in err and "clamp_spins" not in err and "Traceback" not in err


def test_fabric_selects_the_emulator(capsys):
    assert pbit(["run", ISING, "-D", "L=4", "--fabric", "fpga", "--sweeps", "10", "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["backend"] == "emulator" and summary["fabric"] == "fpga"
    assert {"ledger", "quantization", "placement"} <= set(summary)        # --json carries the emulator's report
    assert pbit(["run", ISING, "--fabric", "fpga", "--backend", "reference"]) == 2
    assert "has none" in capsys.readouterr().err


@pytest.mark.parametrize("text", ["spin spin[2];", "spin true[2];", "param sum = 2;", "spin x; observe and = x;"])
def test_keywords_are_not_names(text):
    with pytest.raises(pb.CompileError, match="is a keyword"):
        pb.compile(text)


def test_an_empty_program_warns(capsys):
    with pytest.warns(pb.errors.PbitWarning, match="declares no variables"):
        pb.compile("param L: int = 2;")
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        pb.compile("spin s;")                                              # the negative control: no warning


def test_a_compile_too_big_for_the_machine_is_refused_up_front(capsys):
    assert pbitc(["check", ISING, "-D", "L=7000", "--max-memory", "8G"]) == 2
    err = capsys.readouterr().err
    assert "needs about" in err and "--max-memory" in err and "ising2d.pb:" in err
    assert pbit(["run", ISING, "-D", "L=200", "--max-spins", "1000"]) == 2
    assert "--max-spins" in capsys.readouterr().err
    assert pbitc(["check", ISING, "-D", "L=64", "--max-memory", "8G"]) == 0          # the negative control


# ---- results

def test_loaded_samples_know_their_variables_and_name_unknown_observables(tmp_path):
    res = pb.compile(ISING, params={"L": 4}).sample(chains=3, sweeps=20, seed=1)
    res.save(tmp_path / "s.npz")
    back = SampleResult.load(tmp_path / "s.npz")
    np.testing.assert_array_equal(back.variables("s"), res.variables("s"))
    assert back.variables("s").shape == (60, 4, 4)
    with pytest.raises(pb.PbitError, match=r"no observable 'magnet' \(this run has: energy, m, absm, e\)"):
        res.mean("magnet")
    with pytest.raises(pb.PbitError, match="no variable 'q'"):
        back.variables("q")


def test_to_dimod_exports_bits_as_binary():
    dimod = pytest.importorskip("dimod")
    res = pb.compile("bit b[3]; energy { b[0] * b[1] - b[2]; }").sample(chains=2, sweeps=10)
    ss = res.to_dimod()
    assert ss.vartype is dimod.BINARY and set(np.unique(ss.record.sample)) <= {0, 1}
    np.testing.assert_allclose(ss.record.energy, res.energies)
    spins = pb.compile("spin s[2]; energy { s[0] * s[1]; }").sample(chains=2, sweeps=10).to_dimod()
    assert spins.vartype is dimod.SPIN


def test_energies_and_observables_are_measured_lazily_from_int8():
    prog = pb.compile("spin s[5]; energy { s[0]*s[1]*s[2]; -0.5*s[3]*s[4]; 0.25*s[i] for i in 0..5; } "
                      "observe m = sum(i in 0..5) s[i] / 5; observe p[i] = s[i] * s[i + 1] for i in 0..4;")
    res = prog.sample("cpu", chains=4, sweeps=50, seed=3)
    assert not res._traces                                     # nothing measured until asked
    S = res.samples.astype(np.float64)
    naive = (S[:, 0] * S[:, 1] * S[:, 2] - 0.5 * S[:, 3] * S[:, 4] + 0.25 * S.sum(axis=1))
    np.testing.assert_allclose(res.energies, naive + prog.ir.offset, atol=1e-12)
    assert set(res._traces) == {"energy"}
    np.testing.assert_allclose(res.observables["p"], S[:, :4] * S[:, 1:], atol=1e-12)
    np.testing.assert_allclose(res.observables["m"], S.mean(axis=1), atol=1e-12)
    flipped = res.samples.copy()
    flipped[:, 0] *= -1                                        # the negative control: other states, other energies
    assert not np.allclose(prog.ir.energy(flipped), res.energies)


def test_summary_reports_the_run_the_best_sample_and_warnings(capsys):
    assert pbit(["run", str(ROOT / "examples" / "coloring.pb"), "--sweeps", "200", "--json"]) == 0
    s = json.loads(capsys.readouterr().out)
    assert {"beta", "sweeps", "burn_in", "chains", "best", "warnings"} <= set(s)
    best = s["best"]
    res_energy_rows = best["sample"]
    assert 0 <= res_energy_rows < s["samples"] and "violations" in best
    assert {"mean", "se", "tau", "ess"} <= set(s["energy"]) <= {"mean", "se", "tau", "ess", "rhat", "ess_bulk", "ess_tail"}
    assert pbit(["run", ISING, "-D", "L=8", "--sweeps", "20", "--chains", "2"]) == 0
    out = capsys.readouterr().out
    assert "few effective samples" in out and "best sample" in out and "β = 0.440687" in out
    assert pbit(["run", ISING, "-D", "L=8", "--sweeps", "100", "--chains", "4", "--beta", "0.1:2"]) == 0
    assert "the last state of each chain" in capsys.readouterr().out


def test_help_shows_defaults_and_version(capsys):
    assert pbit(["run", "--help"]) == 0
    text = " ".join(capsys.readouterr().out.split())
    assert "(default: 16)" in text and "(default: 1000)" in text and "--max-spins" in text
    assert pbit(["--version"]) == 0 and capsys.readouterr().out.startswith("pbit ")
    assert pbitc(["--version"]) == 0 and capsys.readouterr().out.startswith("pbitc ")


def test_training_on_a_samples_file(tmp_path, capsys):
    samples = tmp_path / "ising.npz"
    assert pbit(["run", str(ROOT / "examples" / "ising2d_open.pb"), "-D", "L=4", "--sweeps", "40", "--thin", "4",
                 "-o", str(samples)]) == 0
    assert pbit(["train", str(ROOT / "examples" / "ising_dtm.pb"), "-D", "L=4", "-D", "T=2", "-D", "K=3",
                 "--data", str(samples), "--epochs", "1", "-o", str(tmp_path / "t.pbir")]) == 0
    assert pbit(["train", str(ROOT / "examples" / "ising_dtm.pb"), "-D", "L=5", "--data", str(samples)]) == 2
    assert "chain 'dtm' needs x (25 spins)" in capsys.readouterr().err


def test_digits_hold_out_a_test_split():
    pytest.importorskip("sklearn")
    from pbitlang.dtm.data import digits_split
    train, test, ytrain, ytest = digits_split()
    assert len(train) + len(test) == 1797 and len(test) == 359
    assert set(np.unique(train)) == {0, 1} and len(ytrain) == len(train)
    again = digits_split()
    np.testing.assert_array_equal(again[1], test)                           # the same split every time


# ---- start-up: nothing heavy is imported that the command does not need

def _modules_after(code: str) -> set:
    out = subprocess.run([sys.executable, "-c", code + "\nimport sys; print(' '.join(sys.modules))"],
                         capture_output=True, text=True, cwd=ROOT, check=True).stdout.split()
    return set(out)


def test_import_and_running_a_pbir_need_neither_sympy_nor_the_compiler(tmp_path):
    pb.compile(ISING, params={"L": 4}).save(tmp_path / "m.pbir")
    bare = _modules_after("import pbitlang")
    assert not {"sympy", "numba", "scipy", "pbitlang.compiler", "lark"} & bare
    for argv in (["--version"], ["--help"], ["backends"], ["run", str(tmp_path / "m.pbir"), "--sweeps", "5"]):
        mods = _modules_after(f"from pbitlang.cli.pbit import main\ntry:\n    main({argv!r})\nexcept SystemExit:\n"
                              f"    pass")
        assert "sympy" not in mods and "pbitlang.compiler" not in mods, argv
    assert "sympy" in _modules_after(f"import pbitlang as pb; pb.compile({ISING!r})")   # the negative control


def test_the_compile_notice_fires_only_when_the_block_is_slow():
    fired = threading.Event()
    with compile_notice(fired.set, after=0.0):
        assert fired.wait(10)                                    # a slow block: the notice comes
    quiet = threading.Event()
    with compile_notice(quiet.set, after=60.0):
        pass
    assert not quiet.is_set()                                    # a fast block: cancelled, silent


# ---- files survive interruption

def test_a_ctrl_c_while_saving_does_not_lose_the_file(tmp_path, monkeypatch):
    import pbitlang.results as results
    res = pb.compile(ISING, params={"L": 4}).sample(chains=2, sweeps=10)
    path = tmp_path / "s.npz"
    write = results._write_npy

    def interrupted_write(*args):
        if args[1] == "samples":
            os.kill(os.getpid(), signal.SIGINT)                  # a Ctrl-C arrives in the middle of the file
        write(*args)

    monkeypatch.setattr(results, "_write_npy", interrupted_write)
    with pytest.raises(KeyboardInterrupt):
        res.save(path)                                           # raised after the file is complete
    np.testing.assert_array_equal(SampleResult.load(path).samples, res.samples)
    assert not list(tmp_path.glob(".*partial"))
    monkeypatch.setattr(results, "_write_npy", write)
    with interrupts_held():
        pass                                                     # no Ctrl-C: nothing raised
