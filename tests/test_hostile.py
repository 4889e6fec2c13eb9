"""One regression test per class of hostile input the fuzz campaign found: each must end in a
PbitError with a location (programs) or the path (files), exit status 2 on the command line, and
never a traceback, a crash, a hang or an allocation without bound."""
import io
import json
import os
import signal
import zipfile
from pathlib import Path

import numpy as np
import pytest

import pbitlang as pb
from pbitlang.cli.pbit import main as pbit
from pbitlang.results import SampleResult
from tests.fuzz.cases import RBM

ROOT = Path(__file__).resolve().parent.parent
ISING = str(ROOT / "examples" / "ising2d.pb")
LOCATED = r"^<input>:\d+:\d+: error: "


# ---- programs

@pytest.mark.parametrize("text", [
    "spin s; energy { " + "- " * 5000 + "s; }",
    "spin s[3]; energy { s[i] for i in 0..3 where " + "not " * 5000 + "i == 1; }",
    "spin s[2]; energy { " + " + ".join(["s[0] * s[1]"] * 3000) + "; }",
    "param a = " + "^".join(["1"] * 3000) + "; spin s;",
    "spin s; energy { " + "abs(" * 3000 + "1" + ")" * 3000 + " * s; }",
])
def test_deep_nesting_is_a_parse_error_at_its_deepest_token(text):
    with pytest.raises(pb.ParseError, match=LOCATED + "expressions are nested"):
        pb.compile(text)


def test_deep_parentheses_alone_are_fine():
    assert pb.compile("spin s; energy { " + "(" * 3000 + "s" + ")" * 3000 + "; }").ir.num_spins == 1


@pytest.mark.parametrize("text,message", [
    ("spin s[2]; energy { " + "".join(f"sum(k{k} in 0..1) " for k in range(70)) + "s[0]; }", "indices in scope"),
    ("spin s[2]; energy { " + " * ".join(f"(sum(k{k} in 0..2) s[k{k}])" for k in range(40)) + "; }",
     "sums over 40 indices"),
    ("spin s; energy { 1e400 * s; }", "not finite"),
    ("spin s[2]; energy { 1e308 * s[0]; 1e308 * s[0]; }", "overflow"),
    ("param J = " + "9" * 400 + "; spin s; energy { J * s; }", "beyond the range"),
    ("spin s; energy { " + "9" * 5000 + " * s; }", "a number of 5000 characters"),
    ("spin x[3]; constraint c: x[0] + 1e300 == 2 penalty 1;", "overflow"),
    ("spin s[3]; weight w; energy { w * s[0] * s[1] * s[2]; }", "order 3 or more"),
    ("spin v[3]; weight a[3] = [1e999, 0, -0.5]; energy -a[i] * v[i] for i in 0..3;", "not finite"),
    ("spin s[2]; energy { -1 * [0, 1] * s[0]; }", "a list is not a number"),
    ("spin x[4] periodic; energy x[i] * x[i + [1]] for i in 0..4;", "a list is not a number"),
    ("param N: int = 0; spin s[N] periodic; energy 0.25 * s[0];", "has none"),
    ("bit b[0]; given b[0] = 1;", "has none"),
    ("bit x[2]; energy sum(k in " + "9" * 40 + "..3) x[k];", "too large for an index"),
    ("param L: int = 3 * [L]; bit s[2];", "used before it has a value"),
    ('param E: int[_, 2] = load("' + "x" * 5000 + '.npy"); spin s;', "not a usable file name"),
])
def test_limits_and_ranges_are_errors_with_a_location(text, message):
    with pytest.raises(pb.PbitError, match=LOCATED + ".*" + message):
        pb.compile(text)


def test_a_negated_boolean_is_a_number():
    prog = pb.compile("param b: bool = true; spin s; energy { -b * s; }")
    np.testing.assert_allclose(prog.ir.h, [-1.0])


def test_an_undeclared_param_is_located_at_the_params():
    with pytest.raises(pb.CompileError, match=LOCATED + "-D/params sets 'Q'"):
        pb.compile("param L: int = 2; spin s[L];", params={"Q": 3})


def test_a_parameter_file_declaring_terabytes_is_refused(tmp_path):
    path = tmp_path / "big.npy"
    with open(path, "wb") as fh:                                 # a header promising 10^12 float64s, 8 bytes of data
        np.lib.format.write_array_header_1_0(fh, {"descr": "<f8", "fortran_order": False, "shape": (10**12,)})
        fh.write(b"\0" * 8)
    prog = f'param E: real[_] = load("{path}"); spin s;'
    with pytest.raises(pb.DataError, match=LOCATED + ".*declares"):
        pb.compile(prog)


# ---- files

def _samples_file(tmp_path) -> Path:
    path = tmp_path / "s.npz"
    pb.compile(ISING, params={"L": 4}).sample(chains=2, sweeps=4).save(path)
    return path


def _rewrite(path: Path, out: Path, **changes) -> Path:
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    arrays.update(changes)
    for key in [k for k, v in changes.items() if v is None]:
        del arrays[key]
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    out.write_bytes(buf.getvalue())
    return out


def _meta(path: Path) -> dict:
    with np.load(path, allow_pickle=False) as z:
        return json.loads(z["meta.json"].tobytes().decode())


def _blob(meta) -> np.ndarray:
    return np.frombuffer(json.dumps(meta).encode(), np.uint8)


@pytest.mark.parametrize("damage", ["truncated", "flipped", "encrypted", "not ±1", "float samples", "short energies",
                                    "layout outside", "chains zero", "deep json", "object array"])
def test_a_damaged_samples_file_is_refused(damage, tmp_path):
    good = _samples_file(tmp_path)
    bad = tmp_path / "bad.npz"
    data = good.read_bytes()
    if damage == "truncated":
        bad.write_bytes(data[: len(data) // 2])
    elif damage == "flipped":
        member = data.find(b"samples.npy")
        bad.write_bytes(data[:member + 200] + bytes(b ^ 0x55 for b in data[member + 200:member + 400])
                        + data[member + 400:])
    elif damage == "encrypted":
        raw = bytearray(data)
        for magic, flag in ((b"PK\x03\x04", 6), (b"PK\x01\x02", 8)):    # local and central headers
            pos = 0
            while (pos := raw.find(magic, pos)) >= 0:
                raw[pos + flag] |= 1
                pos += 4
        bad.write_bytes(bytes(raw))
    elif damage == "not ±1":
        _rewrite(good, bad, samples=np.full((8, 16), 3, np.int8))
    elif damage == "float samples":
        _rewrite(good, bad, samples=np.ones((8, 16)))
    elif damage == "short energies":
        _rewrite(good, bad, energies=np.zeros(3))
    elif damage == "layout outside":
        _rewrite(good, bad, **{"meta.json": _blob({**_meta(good), "layout": {"s": [10, [4, 4], "spin"]}})})
    elif damage == "chains zero":
        _rewrite(good, bad, **{"meta.json": _blob({**_meta(good), "num_chains": 0})})
    elif damage == "deep json":
        _rewrite(good, bad, **{"meta.json": np.frombuffer(b"[" * 100_000 + b"]" * 100_000, np.uint8)})
    else:
        with zipfile.ZipFile(bad, "w") as zf:                    # an array of Python objects: never unpickled
            zf.writestr("samples.npy", _object_npy())
    with pytest.raises(pb.IRFileError, match=str(bad)):
        SampleResult.load(bad)


def _npy(array) -> bytes:
    buf = io.BytesIO()
    np.save(buf, array, allow_pickle=False)
    return buf.getvalue()


def _object_npy() -> bytes:
    """An .npy whose header declares Python objects, as a pickled array's does, with bytes after it;
    made without pickling anything."""
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": "|O", "fortran_order": False, "shape": (1,)})
    buf.write(b"\x80\x04not a pickle")
    return buf.getvalue()


@pytest.mark.parametrize("content", [
    lambda: _npy(np.array([["a", "b"]])),                            # strings
    _object_npy,                                                     # Python objects
    lambda: _npy(np.full((4, 6), 7)),                                # values neither bits nor spins
    lambda: _npy(np.zeros((0, 6))),                                  # empty
])
def test_damaged_training_data_exits_2(content, tmp_path, capsys):
    prog = tmp_path / "rbm.pb"
    prog.write_text(RBM)
    data = tmp_path / "d.npy"
    data.write_bytes(content())
    assert pbit(["train", str(prog), "--data", str(data), "--epochs", "1", "-o", str(tmp_path / "t.pbir")]) == 2
    assert "Traceback" not in capsys.readouterr().err


# ---- options

@pytest.mark.parametrize("argv", [
    ["--option", "max_sample_bytes=[1]"],
    ["--option", "seed=1e999"],
    ["--seed", "18446744073709551616"],
    ["--seed", "-1"],
    ["--tempering", "4:x"],
    ["--option", 'tempering={"replicas": 4, "beta_min": "x"}'],
    ["--option", 'tempering={"replicas": 100000}'],
    ["--option", "clamps=3"],
    ["--sweeps", "99999999999"],
    ["--beta", "0.1:2", "--sweeps", "999999999"],
    ["--backend", "exact", "--option", "max_free_spins=abc"],
])
def test_option_edges_exit_2(argv, capsys):
    assert pbit(["run", ISING, "-D", "L=4", "--chains", "2", *argv]) == 2, argv
    err = capsys.readouterr().err
    assert "Traceback" not in err and err.strip()


def test_a_run_beyond_the_memory_guard_is_refused_before_it_allocates():
    with pytest.raises(pb.BackendError, match="over the limit"):
        pb.compile(ISING, params={"L": 4}).sample(chains=10**6, sweeps=10**6)


def test_checkpoint_on_an_existing_file_is_refused(tmp_path, capsys):
    taken = tmp_path / "ck"
    taken.write_text("a file, not a folder")
    assert pbit(["train", ISING, "--data", "x.npy", "--checkpoint", str(taken)]) == 2
    assert "not a folder" in capsys.readouterr().err


# ---- interrupts

def test_a_second_ctrl_c_while_training_saves_keeps_the_weights(tmp_path, monkeypatch):
    import pbitlang.dtm.training as training
    prog = pb.compile(RBM)
    data = np.tile([[1, 0, 1, 0, 1, 0], [0, 1, 0, 1, 0, 1]], (8, 1))
    save = training._save_checkpoint
    calls = []

    def interrupted_save(*args):
        calls.append(1)
        if len(calls) == 2:                                   # the save after the first Ctrl-C
            os.kill(os.getpid(), signal.SIGINT)               # … is interrupted by a second one
        save(*args)

    def stop(done, total):
        raise KeyboardInterrupt                               # the first Ctrl-C, after epoch 1

    monkeypatch.setattr(training, "_save_checkpoint", interrupted_save)
    model = pb.train(prog, data, epochs=3, checkpoint=tmp_path / "ck", progress=stop)
    assert model.info["interrupted"] and len(calls) == 2
    state = np.load(tmp_path / "ck" / "checkpoint.npz")
    assert state["thetas"].shape == model.thetas.shape        # the checkpoint is whole


# ---- the kernels' boundary

def test_a_hand_built_model_is_checked_before_a_kernel_reads_it():
    import dataclasses

    import scipy.sparse as sp
    ir = pb.compile("spin s[3]; energy { -s[0] * s[1]; -s[1] * s[2]; }").ir
    J = sp.csr_array((ir.J.data, ir.J.indices.copy(), ir.J.indptr), shape=ir.J.shape)
    J.indices[0] = 7                                            # a neighbour outside the model
    bad = dataclasses.replace(ir, J=J)
    for backend in ("cpu", "reference", "emulator"):
        with pytest.raises(pb.BackendError, match="cannot be sampled"):
            pb.get_backend(backend).sample(bad, chains=2, sweeps=2)
    same_colour = dataclasses.replace(ir, colors=np.zeros(3, np.int64))
    with pytest.raises(pb.BackendError, match="colouring"):
        pb.get_backend("cpu").sample(same_colour, chains=2, sweeps=2)
    assert pb.get_backend("cpu").sample(ir, chains=2, sweeps=2).samples.shape == (4, 3)   # the control


def test_a_kernel_refuses_weights_states_and_clamps_of_the_wrong_shape():
    ir = pb.compile("spin s[3]; energy { -s[0] * s[1]; -s[1] * s[2]; }").ir
    kernel = pb.get_backend("cpu").prepare(ir, 2, clamp_index=[0])
    state = np.ones((3, 2), np.int8)
    with pytest.raises(ValueError, match="h must be 3 finite numbers"):
        kernel.run(np.zeros(5), None, None, state, np.ones(2), 0)
    with pytest.raises(ValueError, match="J_data"):
        kernel.run(None, np.full(ir.J.nnz, np.nan), None, state, np.ones(2), 0)
    with pytest.raises(ValueError, match="clamp values"):
        kernel.run(None, None, np.full((2, 1), 3), state, np.ones(2), 0)
    with pytest.raises(ValueError, match="state"):
        kernel.run(None, None, None, np.ones((3, 5), np.int8), np.ones(2), 0)
    with pytest.raises(pb.BackendError, match="clamped spins inside"):
        pb.get_backend("cpu").prepare(ir, 2, clamp_index=[9])


def test_a_long_compile_says_where_it_is(capsys):
    seen = []
    pb.compile("spin s[4]; energy { -s[i] * s[i + 1] for i in 0..3; s[0]; } observe m = s[0];",
               progress=lambda done, total, span: seen.append((done, total, str(span))))
    assert [(d, t) for d, t, _ in seen] == [(0, 3), (1, 3), (2, 3)] and seen[0][2].startswith("<input>:1:")
    from pbitlang.cli.common import compile_progress
    compile_progress(after=3600)(0, 1, "x")                      # the negative control: a fast compile is silent
    assert capsys.readouterr().err == ""
    compile_progress(after=0)(0, 1, "f.pb:2:3")
    assert "statement 1 of 1 (f.pb:2:3)" in capsys.readouterr().err
