"""pbitc: exit codes 0 / 2 / 1, outputs, -D, and no tracebacks on user errors."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np

import pbitlang as pb
from pbitlang.cli.pbitc import main

EXAMPLES = Path(__file__).resolve().parent.parent / "examples"


def test_check_ok(capsys):
    assert main(["check", str(EXAMPLES / "ising2d.pb")]) == 0
    assert "ok (1024 spins" in capsys.readouterr().err


def test_compile_writes_ir_and_defines_apply(tmp_path, capsys):
    out = tmp_path / "m.pbir"
    assert main(["compile", str(EXAMPLES / "ising2d.pb"), "-D", "L=8", "-D", "J=0.5", "-o", str(out)]) == 0
    ir = pb.load(out).ir
    assert ir.num_spins == 64 and np.allclose(ir.J.data, -0.5)


def test_emit_stats_json_text(capsys):
    assert main(["compile", str(EXAMPLES / "ea3d.pb"), "-D", "L=4", "--emit", "stats"]) == 0
    stats = json.loads(capsys.readouterr().out)
    assert stats["spins"] == 64 and stats["couplings"] == 192 and stats["colors"] == 2
    stages = set(stats["compile_seconds"])
    assert stats["max_degree"] == 6 and stages >= {"parse", "check", "lower", "total"}
    assert main(["compile", str(EXAMPLES / "maxcut.pb"), "--emit", "json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["num_spins"] == 16 and len(data["J"]) == 40
    assert main(["compile", str(EXAMPLES / "maxcut.pb"), "--emit", "text"]) == 0
    assert capsys.readouterr().out.startswith("pbir 1\nspins 16\n")


def test_array_define_from_npy(tmp_path, capsys):
    prog = tmp_path / "w.pb"
    prog.write_text("param W: real[2, 2];\nspin s[2];\nenergy W[i, j] * s[i] * s[j] for i in 0..2, j in 0..2 where i < j;\n")
    np.save(tmp_path / "w.npy", np.array([[0, 3.0], [0, 0]]))
    assert main(["compile", str(prog), "-D", f"W=@{tmp_path / 'w.npy'}", "--emit", "text"]) == 0
    assert "J 0 1 3" in capsys.readouterr().out


def test_user_errors_exit_2_with_diagnostic(tmp_path, capsys):
    bad = tmp_path / "bad.pb"
    bad.write_text("spin s[4];\nenergy -s[i] * s[i + 1] for i in 0..4;\n")
    assert main(["check", str(bad)]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"{bad}:2:16: error: index out of range") and "Traceback" not in err
    assert main(["compile", str(EXAMPLES / "ising2d.pb"), "-D", "L=x"]) == 2
    assert main(["compile", str(EXAMPLES / "ising2d.pb"), "-D", "NOPE=3"]) == 2
    assert main(["compile", "missing.pb"]) == 2
    assert main(["compile", str(EXAMPLES / "ising2d.pb"), "--emit", "yaml"]) == 2
    assert main(["frobnicate"]) == 2
    assert main(["compile", str(EXAMPLES / "ising2d.pb"), "--max-spins", "100"]) == 2
    assert "limit" in capsys.readouterr().err


def test_console_script_has_no_traceback(tmp_path):
    bad = tmp_path / "bad.pb"
    bad.write_text("spin s[4]\nenergy -s[0];\n")
    run = subprocess.run([sys.executable, "-m", "pbitlang.cli.pbitc", "check", str(bad)], capture_output=True, text=True)
    assert run.returncode == 2
    assert "missing ';'" in run.stderr and "Traceback" not in run.stderr
