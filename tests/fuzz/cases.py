"""Hostile inputs, generated from a seed, and what running one does.

Four classes, each a stream of cases from random.Random(seed):
  program  — programs generated from the grammar, and the examples mutated (tokens inserted,
             deleted, replaced, duplicated; expressions nested thousands deep; numbers beyond
             float range; huge sizes and parameters);
  file     — damaged files of every kind the project reads: .pbir programs, samples (.npz) and
             training data (.npy/.npz), damaged byte by byte or array by array;
  option   — `pbit run` command lines with edge values for every flag and backend option;
  data     — `pbit train` with damaged training data.
run_case(case, folder) runs one and returns its outcome: "ok", "user-error" (a PbitError, or exit
status 2 with a one-line message), or a defect: "escape:<Exception>", "no-location" (a program's
error without file:line:col), "internal" (exit status 1), "memory".  Timeouts and crashes are
what the runner (tests/fuzz/run.py) sees from outside."""
from __future__ import annotations

import io
import json
import random
import re
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.pb")) + sorted((ROOT / "tests" / "golden").glob("*.pb"))
SOURCES = [p.read_text() for p in EXAMPLES]
TOKENS = ["s", "[", "]", "(", ")", ";", "{", "}", "..", "0", "1", "-1", "99999999", "1e308", "1e999", "^", "*",
          "/", "%", "+", "-", "sum(k in 0..3)", "for i in 0..4", "where", "i", "L", "N", "energy", "param",
          "spin", "bit", "periodic", "given", "observe", "constraint c:", "penalty", "==", "<=", "weight", "chain",
          "=", ",", 'load("nope.txt")', "normal(0, 1)", "0.5", "_", "not", "and", "let", "beta", "exp(", "log(",
          "#", "\n", "true", "false", "abs(", "sqrt(-1)", "0/0", "2^1000", "10^308", "nan", "inf", "\x00", "é",
          "9" * 400, "s[" * 50, "noise", "steps", "sweeps", "over", "real", "int", "bool"]
LIMITS = dict(max_spins=200_000, max_terms=2_000_000, max_param_elements=1_000_000, max_memory=2 * 2**30)
SMALL = 64               # programs up to this many spins are also sampled, measured and saved


# ---- programs

def _expr(rng: random.Random, names: list, depth: int = 0) -> str:
    if depth > 3 or rng.random() < 0.3:
        return rng.choice(names + ["1", "2", "0.5", "-3", "L", "i", "1e300", "1e-300", str(rng.randint(-9, 99))])
    a, b = _expr(rng, names, depth + 1), _expr(rng, names, depth + 1)
    forms = [
        lambda: f"({a} {rng.choice('+-*/%^')} {b})",
        lambda: f"-{a}",
        lambda: f"sum(k{depth} in 0..{rng.randint(-2, 5)}) {a}",
        lambda: f"{rng.choice(['exp', 'log', 'sqrt', 'abs', 'tanh', 'min', 'max'])}({a})",
        lambda: f"{rng.choice(names)}[{_index(rng)}]",
        lambda: f"{a} * {b}",
        lambda: f"({a})^{rng.choice(['2', '3', '0', '-1', '0.5', 'L', '40'])}",
        lambda: f"{a} + {b}",
    ]
    return rng.choice(forms)()


def _index(rng: random.Random) -> str:
    return ", ".join(rng.choice(["i", "j", "i + 1", "0", "-1", "L", "L - 1", "i * j", "99"])
                     for _ in range(rng.randint(1, 3)))


def generated_program(rng: random.Random) -> str:
    """A program from the grammar's statement kinds, with random (often wrong) parts."""
    lines = [f"param L: int = {rng.choice([0, 1, 2, 3, 4, 8, -1, 10**6, 10**18])};"]
    names = []
    for k in range(rng.randint(0, 3)):
        name = rng.choice(["s", "b", "x", "q"]) + str(k)
        dims = rng.choice(["", "[L]", "[L, L]", "[3]", "[L, 2, L]", "[0]", "[-2]", "[L^L]"])
        lines.append(f"{rng.choice(['spin', 'bit'])} {name}{dims}{rng.choice(['', ' periodic'])};")
        names.append(name)
    if rng.random() < 0.3:
        lines.append(f"weight w[{rng.choice(['L', '3', 'L, L'])}]{rng.choice(['', ' = 0.1', ' = normal(0, 1)'])};")
        names.append("w")
    names = names or ["s"]
    terms = [f"    {_expr(rng, names)}{rng.choice(['', ' for i in 0..L', ' for i in 0..L, j in 0..L where i < j'])};"
             for _ in range(rng.randint(0, 4))]
    lines.append("energy {\n" + "\n".join(terms) + "\n}")
    if rng.random() < 0.3:
        lines.append(f"constraint c: {_expr(rng, names)} {rng.choice(['==', '<=', '>='])} {rng.randint(-2, 3)} "
                     f"penalty {rng.choice(['1', '0', '-1', '1e309'])};")
    if rng.random() < 0.3:
        lines.append(f"observe o = {_expr(rng, names)};")
    if rng.random() < 0.3:
        lines.append(f"given {rng.choice(names)}[{_index(rng)}] = {rng.choice(['1', '-1', '0', '2'])};")
    if rng.random() < 0.2:
        lines.append(f"beta = {rng.choice(['0.5', '-1', '0', '1e309', 'L'])};")
    if rng.random() < 0.2:
        lines.append(f"chain c over {rng.choice(names)} {{ steps {rng.choice(['2', '0', '-1', 'L'])}; noise "
                     f"{rng.choice(['flip(schedule = cosine)', 'correlated(J = 0.3)', 'nope'])}; sweeps 2; }}")
    return "\n".join(lines) + "\n"


def mutated_program(rng: random.Random) -> str:
    text = rng.choice(SOURCES)
    for _ in range(rng.randint(1, 4)):
        kind = rng.randrange(6)
        a = rng.randrange(max(len(text), 1))
        b = min(len(text), a + rng.randint(1, 12))
        if kind == 0:
            text = text[:a] + text[b:]
        elif kind == 1:
            text = text[:a] + " " + rng.choice(TOKENS) + " " + text[a:]
        elif kind == 2:
            text = text[:a] + rng.choice(TOKENS) + text[b:]
        elif kind == 3:
            text = text[:b] + text[a:b] + text[b:]
        elif kind == 4:                                   # a number made absurd
            text = re.sub(r"\b\d+(\.\d+)?\b", lambda m: rng.choice(["1e999", "9" * 40, "0", "-1", "1e-320"])
                          if rng.random() < 0.3 else m.group(0), text, count=3)
        else:                                             # an expression nested very deep
            depth = rng.choice([50, 300, 3000, 30000])
            wrap = rng.choice([("(", ")"), ("-", ""), ("not ", ""), ("abs(", ")"), ("+1*", "")])
            text = text[:a] + wrap[0] * depth + "1" + wrap[1] * depth + text[a:]
    return text


def program_case(rng: random.Random) -> dict:
    text = generated_program(rng) if rng.random() < 0.4 else mutated_program(rng)
    params = {}
    if rng.random() < 0.15:
        params[rng.choice(["L", "N", "T", "B", "J", "nope"])] = rng.choice(
            [0, -1, 10**9, 10**30, 1e308, float("nan"), float("inf"), True, "x", 2.5])
    return {"kind": "program", "text": text, "params": params}


def run_program(case: dict, folder: Path) -> str:
    import pbitlang as pb
    prog = pb.compile(case["text"], params=case["params"] or None, limits=pb.Limits(**LIMITS))
    ir = prog.ir
    ir.to_text()
    if ir.num_spins <= SMALL and ir.num_couplings <= 4 * SMALL:
        res = prog.sample("cpu", chains=2, sweeps=3, seed=1)
        res.summary()
        res.save(folder / "s.npz")
        prog.save(folder / "p.pbir")
        pb.load(folder / "p.pbir")
    return "ok"


# ---- files

def good_files(folder: Path) -> dict:
    """One file of every kind the project reads, made once per folder."""
    out = {"pbir": folder / "good.pbir", "samples": folder / "good.npz", "trained": folder / "trained.pbir",
           "data": folder / "data.npy"}
    if not out["pbir"].exists():
        import pbitlang as pb
        prog = pb.compile((ROOT / "tests" / "golden" / "kbody.pb").read_text())
        prog.save(out["pbir"])
        pb.compile(ROOT / "examples" / "ising2d.pb", params={"L": 4}).sample(chains=2, sweeps=4).save(
            out["samples"])
        np.save(out["data"], np.tile([[1, 0, 1, 0, 1, 0], [0, 1, 0, 1, 0, 1]], (8, 1)).astype(np.uint8),
                allow_pickle=False)
        rbm = pb.compile(RBM)
        pb.train(rbm, np.load(out["data"]), epochs=1, seed=0).save(out["trained"])
    return out


RBM = """param T: int = 2;
bit v[6];
spin hid[2];
weight W[6, 2];
energy { -W[i, k] * (2 * v[i] - 1) * hid[k] for i in 0..6, k in 0..2; }
chain dtm over v { steps T; noise flip(schedule = cosine); sweeps 2; }
"""


def _damage_bytes(rng: random.Random, data: bytes) -> bytes:
    data = bytearray(data)
    kind = rng.randrange(5)
    if kind == 0 and data:                                   # flip bytes
        for _ in range(rng.randint(1, 20)):
            data[rng.randrange(len(data))] ^= 1 << rng.randrange(8)
    elif kind == 1:                                          # truncate
        data = data[:rng.randrange(len(data) + 1)]
    elif kind == 2:                                          # garbage appended or prepended
        junk = bytes(rng.randrange(256) for _ in range(rng.randint(1, 64)))
        data = data + junk if rng.random() < 0.5 else junk + data
    elif kind == 3 and data:                                 # a range zeroed
        a = rng.randrange(len(data))
        data[a:a + rng.randint(1, 512)] = b"\0" * len(data[a:a + 512])
    else:                                                    # members marked encrypted
        pos = 0
        while (pos := data.find(b"PK\x03\x04", pos)) >= 0:
            data[pos + 6] |= 1
            pos += 4
    return bytes(data)


def _weird_value(rng: random.Random, value):
    options = [-1, 0, 10**15, 2**63, 1e308, float("nan"), float("inf"), "x", None, [], {}, [[[[]]]], True,
               "[" * 100, -(10**18)]
    if isinstance(value, list) and value and rng.random() < 0.5:
        value = list(value)
        value[rng.randrange(len(value))] = rng.choice(options)
        return value
    return rng.choice(options)


def _damage_field(rng: random.Random, tree: dict, descend: float, new) -> None:
    """Replace one field of a JSON object, found by descending a few levels at random, by new(old)."""
    target = tree
    while isinstance(target, dict) and target and rng.random() < descend:
        k = rng.choice(sorted(target))
        if isinstance(target[k], dict) and target[k]:
            target = target[k]
        else:
            break
    if isinstance(target, dict) and target:
        k = rng.choice(sorted(target))
        target[k] = new(target[k])


def _damage_arrays(rng: random.Random, path: Path) -> bytes:
    with np.load(path, allow_pickle=False) as z:
        arrays = {k: z[k] for k in z.files}
    key = rng.choice(sorted(arrays))
    a = arrays[key]
    if key == "meta.json":
        meta = json.loads(a.tobytes().decode())
        _damage_field(rng, meta, 0.5, lambda v: _weird_value(rng, v))
        text = json.dumps(meta) if rng.random() < 0.9 else "[" * 100_000 + "]" * 100_000
        arrays[key] = np.frombuffer(text.encode(), dtype=np.uint8)
    else:
        kind = rng.randrange(7)
        if kind == 0:
            arrays[key] = a.astype(rng.choice([np.float64, np.int8, np.uint64, np.complex128, np.bool_, "U3"]))
        elif kind == 1:
            arrays[key] = a.reshape(-1)[: rng.randrange(a.size + 1)]
        elif kind == 2:
            arrays[key] = np.concatenate([a.reshape(-1), a.reshape(-1)])
        elif kind == 3 and a.size:
            b = a.copy().reshape(-1)
            value = rng.choice([-1, 2**31 - 1, 10**6, 3, -128]) if b.dtype.kind in "iu" \
                else rng.choice([np.inf, np.nan, -1e308, 7.5])
            b[rng.randrange(b.size)] = np.array(value).astype(b.dtype) if b.dtype.kind in "iu" else value
            arrays[key] = b.reshape(a.shape)
        elif kind == 4:
            arrays[key] = a.reshape(a.shape + (1,)) if a.ndim < 5 else a
        elif kind == 5:
            del arrays[key]
        else:
            arrays[key] = np.zeros((0,) + a.shape[1:], a.dtype)
    buf = io.BytesIO()
    np.savez(buf, **arrays)
    return buf.getvalue()


def _fabric_case(rng: random.Random) -> dict:
    from importlib import resources
    text = resources.files("pbitlang.backends").joinpath("fabrics", f"{rng.choice(['fpga', 'dtca', 'ideal'])}.json")
    profile = json.loads(text.read_text())
    for _ in range(rng.randint(1, 3)):
        _damage_field(rng, profile, 0.6, lambda v: _weird_value(rng, v) if rng.random() < 0.8
                      else rng.choice([1, 2, 8, 31, 64, 0.5]))
    data = json.dumps(profile).encode()
    if rng.random() < 0.2:
        data = _damage_bytes(rng, data)
    return {"kind": "file", "format": "fabric", "bytes": data}


def file_case(rng: random.Random, folder: Path) -> dict:
    if rng.random() < 0.15:
        return _fabric_case(rng)
    good = good_files(folder)
    kind = rng.choice(["pbir", "samples", "trained"])
    data = _damage_bytes(rng, good[kind].read_bytes()) if rng.random() < 0.4 else _damage_arrays(rng, good[kind])
    return {"kind": "file", "format": kind, "bytes": data}


def run_file(case: dict, folder: Path) -> str:
    import pbitlang as pb
    from pbitlang.results import SampleResult
    path = folder / {"samples": "case.npz", "fabric": "case.json"}.get(case["format"], "case.pbir")
    path.write_bytes(case["bytes"])
    if case["format"] == "fabric":
        pb.compile(ROOT / "examples" / "ising2d.pb", params={"L": 4}).sample("emulator", fabric=str(path), chains=2,
                                                                           sweeps=3).summary()
        return "ok"
    if case["format"] == "samples":
        res = SampleResult.load(path)
        res.summary()
        for name in res.layout:
            res.variables(name)
        return "ok"
    prog = pb.load(path)
    if prog.ir.num_spins <= SMALL:
        prog.sample("cpu", chains=2, sweeps=3).summary()
        prog.sample("emulator", fabric="fpga", chains=2, sweeps=3)
    if isinstance(prog, pb.TrainedModel):
        prog.generate(num=2)
    return "ok"


# ---- command lines

OPTION_VALUES = {
    "--chains": ["1", "0", "-1", "64", "1e3", "x", "100000000"],
    "--sweeps": ["1", "0", "-3", "10", "1e9", "x", "99999999999"],
    "--burn-in": ["0", "-1", "5", "x"],
    "--thin": ["1", "0", "2", "20", "x"],
    "--beta": ["0.4", "0", "-1", "inf", "nan", "1e999", "0.1:2", "2:", ":", "1:2:3", "hot"],
    "--seed": ["0", "-1", "1e999", "18446744073709551616", "x", "7"],
    "--tempering": ["4:0.2", "1:0.2", "0:0.1", "4:-1", "4:x", "x", "4:0.2:adaptive", "4:0.2:nope", "100000:0.1"],
    "--given": ["s[0,0]=1", "s[0,0]=2", "s[9,9]=1", "q[0]=1", "s=1", "s[0,0]", "s[0,0]=x"],
    "--option": ["max_sample_bytes=[1]", "max_sample_bytes=-1", "threads=2", "threads=0", "threads=x",
                 "max_free_spins=abc", "initial=[1]", "nope=1", "seed=1e999", "tempering={\"replicas\": \"x\"}",
                 "fabric_overrides={\"arithmetic\": {\"weight_bits\": 0}}", "clamps=3", "beta=[]"],
    "--fabric": ["ideal", "dtca", "fpga", "nope", "/dev/null", "README.md"],
    "--backend": ["cpu", "reference", "exact", "emulator", "quantum"],
    "--initial": ["random", "up", "down", "sideways"],
    "-D": ["L=4", "L=0", "L=-3", "L=x", "L=1e999", "Q=1", "L=@nope.npy", "L", "=3"],
}


def option_case(rng: random.Random) -> dict:
    argv = ["run", str(ROOT / "examples" / rng.choice(["ising2d.pb", "coloring.pb", "maxcut.pb"])), "-D", "L=4",
            "--sweeps", "5", "--chains", "2"]
    for flag in rng.sample(sorted(OPTION_VALUES), rng.randint(1, 4)):
        argv += [flag, rng.choice(OPTION_VALUES[flag])]
    if rng.random() < 0.2:
        argv += ["-o", rng.choice(["/nonexistent/x.npz", "/proc/x.npz", "out.npz", "."])]
    return {"kind": "option", "argv": argv}


def data_case(rng: random.Random, folder: Path) -> dict:
    good = good_files(folder)
    base = np.load(good["data"])
    kind = rng.randrange(7)
    if kind == 0:
        arr = base.astype(rng.choice([np.float64, np.int64, np.bool_, np.complex64]))
    elif kind == 1:
        arr = base[:, : rng.randrange(8)]
    elif kind == 2:
        arr = np.full(base.shape, rng.choice([2, -1, 255, 0.5]))
    elif kind == 3:
        arr = base.reshape(-1)
    elif kind == 4:
        arr = np.zeros((0, 6))
    elif kind == 5:
        arr = np.array(["a", "b"])
    else:
        arr = base
    buf = io.BytesIO()
    np.save(buf, arr, allow_pickle=False)
    data = buf.getvalue()
    if rng.random() < 0.3:
        data = _damage_bytes(rng, data)
    return {"kind": "data", "bytes": data, "suffix": rng.choice([".npy", ".npz"])}


class InternalError(Exception):
    """A command that ended with an internal error (exit status 1): the last line of its report."""


def _cli(argv, folder: Path) -> str:
    import contextlib
    import os
    from pbitlang.cli.pbit import main
    cwd = os.getcwd()
    out, err = io.StringIO(), io.StringIO()
    try:
        os.chdir(folder)
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(argv)
    finally:
        os.chdir(cwd)
    if code == 1 or "Traceback" in err.getvalue():
        raise InternalError(err.getvalue().strip().splitlines()[-1][:200])
    return "ok" if code == 0 else "user-error"


def run_data(case: dict, folder: Path) -> str:
    path = folder / f"case{case['suffix']}"
    path.write_bytes(case["bytes"])
    program = folder / "rbm.pb"
    program.write_text(RBM)
    return _cli(["train", str(program), "--data", str(path), "--epochs", "1", "-o", str(folder / "t.pbir")], folder)


# ---- one case

CLASSES = ("program", "file", "option", "data")


def make_case(cls: str, rng: random.Random, folder: Path) -> dict:
    if cls == "program":
        return program_case(rng)
    if cls == "file":
        return file_case(rng, folder)
    if cls == "option":
        return option_case(rng)
    return data_case(rng, folder)


def run_case(case: dict, folder: Path) -> tuple:
    """(the outcome of one case (see the module's docstring), where a defect was raised)."""
    import traceback
    try:
        return _run_case(case, folder), ""
    except Exception as err:  # noqa: BLE001 - what the fuzz looks for
        frame = traceback.extract_tb(err.__traceback__)[-1]
        where = f"{Path(frame.filename).name}:{frame.lineno} {type(err).__name__}: {str(err)[:160]}"
        return f"escape:{type(err).__name__}", where


def _run_case(case: dict, folder: Path) -> str:
    import pbitlang as pb
    try:
        if case["kind"] == "program":
            return run_program(case, folder)
        if case["kind"] == "file":
            return run_file(case, folder)
        if case["kind"] == "option":
            return _cli(case["argv"], folder)
        return run_data(case, folder)
    except pb.PbitError as err:
        if case["kind"] == "program" and not re.match(r"^\S+:\d+:\d+: ", str(err)) and "-D/params" not in str(err) \
                and "params" not in str(err):
            return "no-location"
        return "user-error"
    except MemoryError:
        return "memory"


def describe(case: dict) -> str:
    """A short, printable form of a case for the report."""
    if case["kind"] == "program":
        text = case["text"]
        return (text[:300] + f"… ({len(text)} chars)" if len(text) > 300 else text) + \
            (f"  params={case['params']}" if case["params"] else "")
    if case["kind"] == "option":
        return "pbit " + " ".join(case["argv"])
    return f"{case['kind']} {case.get('format', case.get('suffix'))} ({len(case['bytes'])} bytes)"

