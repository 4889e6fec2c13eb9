"""pbit run / backends: outputs, --json, -o, exit codes, Ctrl-C."""
import json
import os
from pathlib import Path

import numpy as np
import pytest

import pbitlang as pb
from pbitlang.cli.pbit import main
from pbitlang.results import SampleResult
from tests.cli_interrupt import interrupt_pbit

ROOT = Path(__file__).resolve().parent.parent
ISING = str(ROOT / "examples" / "ising2d.pb")


def test_run_json_summary(capsys):
    assert main(["run", ISING, "-D", "L=8", "--sweeps", "200", "--chains", "4", "--json"]) == 0
    out = capsys.readouterr().out
    data = json.loads(out)
    assert data["backend"] == "cpu" and data["num_spins"] == 64 and data["num_colors"] == 2
    assert data["samples"] == 800
    assert set(data["energy"]) >= {"mean", "se"} and set(data["observables"]) == {"m", "absm", "e"}
    assert data["spin_updates_per_s"] > 0 and "timings" in data
    assert out.count("\n") == 1                     # one JSON object, nothing else on stdout


def test_run_writes_samples_and_reads_pbir(tmp_path, capsys):
    ir_path, out = tmp_path / "m.pbir", tmp_path / "s.npz"
    pb.compile(ISING, params={"L": 6}).save(ir_path)
    assert main(["run", str(ir_path), "--sweeps", "50", "--chains", "2", "--seed", "3", "-o", str(out)]) == 0
    res = SampleResult.load(out, ir=pb.load(ir_path).ir)
    assert res.samples.shape == (100, 36) and res.num_chains == 2
    raw = SampleResult.load(out)
    np.testing.assert_array_equal(raw.energies, res.energies)
    again = pb.load(ir_path).sample(chains=2, sweeps=50, burn_in=100, seed=3)
    np.testing.assert_array_equal(again.samples, res.samples)


def test_run_exact_backend_and_given(capsys):
    assert main(["run", ISING, "-D", "L=3", "--backend", "exact", "--sweeps", "100", "--given", "s[0,0]=1", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["backend"] == "exact" and data["samples"] == 1600


def test_beta_anneal_and_backends_listing(capsys):
    assert main(["run", ISING, "-D", "L=4", "--beta", "0.1:2", "--sweeps", "20", "--burn-in", "0"]) == 0
    assert "energy" in capsys.readouterr().out
    assert main(["backends"]) == 0
    listing = capsys.readouterr().out
    assert listing.startswith("cpu ") and "\nreference " in listing and "\nexact " in listing


@pytest.mark.parametrize("argv,fragment", [
    (["run", ISING, "--sweeps", "-1"], "--sweeps: -1 is below the least allowed value, 1"),
    (["run", ISING, "--chains", "0"], "--chains: 0 is below the least allowed value, 1"),
    (["run", ISING, "--sweeps", "10", "--thin", "20"], "thin (20) must not exceed sweeps"),
    (["run", ISING, "--beta", "inf"], "beta must be finite"),
    (["run", ISING, "--beta", "hot"], "--beta takes a number"),
    (["run", ISING, "--backend", "quantum"], "unknown backend 'quantum'"),
    (["run", ISING, "--given", "q[0]=1"], "names no variable"),
    (["run", ISING, "--option", "frob=1"], "has no option 'frob'"),
    (["run", ISING, "-D", "L=256", "--chains", "64", "--sweeps", "100000"], "GiB"),
    (["run", "nothere.pbir"], "no such file"),
    (["run", "nothere.pb"], "nothere.pb: no such file"),
])
def test_user_errors_exit_2(argv, fragment, capsys):
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert fragment in err and "Traceback" not in err


def test_not_an_ir_file(tmp_path, capsys):
    bad = tmp_path / "x.pbir"
    bad.write_text("not a zip")
    assert main(["run", str(bad)]) == 2
    assert "not a .pbir file" in capsys.readouterr().err


@pytest.mark.skipif(os.name != "posix", reason="needs SIGINT")
def test_ctrl_c_keeps_samples_and_exits_130(tmp_path):
    out = tmp_path / "s.npz"
    # sampling has started once the first progress line comes
    code, stderr = interrupt_pbit(["run", ISING, "-D", "L=64", "--chains", "8", "--sweeps", "1000000",
                                   "--burn-in", "0", "--thin", "100", "--progress", "-o", out],
                                  lambda proc: proc.stderr.readline().startswith("sampling:"))
    assert code == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    res = SampleResult.load(out)
    assert res.num_chains == 8 and len(res.samples) > 0 and len(res.samples) % 8 == 0
