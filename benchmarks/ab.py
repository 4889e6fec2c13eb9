"""A/B speed of two versions of pbitlang, interleaved in one run: this tree against a git revision.

The machines these benchmarks run on are noisy: the same code's rate moves ±30 % between runs
minutes apart, more than a kernel change is worth.  Here two worker processes, one importing
this tree's pbitlang and one a copy of REV's (git archive, in a temporary folder), take turns with
the C probe, round after round, each measuring the same sample() call as benchmarks/sample.py;
the table gives each side's best and median rate over the rounds, as a ratio to the probe, and
the median of the per-round ratios new/old (each round's two measurements seconds apart, so
they share the machine's state).  The workers are told when to measure through a pipe.

    python benchmarks/ab.py --against HEAD~1 --rounds 15
    python benchmarks/ab.py --against main --backend emulator --fabric fpga --case ea3d
    python benchmarks/ab.py --against HEAD --case train:ising_dtm

Prints a table and writes benchmarks/results/ab.json."""
from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, Probe, cpu_info, print_table, write_json  # noqa: E402

CASES = {"ising2d": ("ising2d", 64, 64, 2), "ising2d-256": ("ising2d", 256, 16, 2), "ea3d": ("ea3d", 16, 64, 3)}


def worker(case: str, backend: str, options: dict, updates: float, wide: int) -> None:
    """Measure one rate (spin updates per ns) each time a line arrives on stdin: of one sample()
    call's sampling, or of three training epochs, set-up included (a case train:MODEL)."""
    import numpy as np

    import pbitlang as pb
    if case.startswith("train:"):
        from pbitlang.dtm.chain import chain_spec
        prog = pb.compile(str(ROOT / "examples" / f"{case[6:]}.pb"))
        data = np.random.default_rng(0).integers(0, 2, size=(1024, len(chain_spec(prog.ir).data_index)))
        options.pop("thin", None)

        def measure():
            t = time.perf_counter()
            model = pb.train(prog, data, epochs=3, seed=0, backend=backend, batch_size=64, backend_options=options)
            return model.info["spin_updates"] / (time.perf_counter() - t) / 1e9
    else:
        name, L, chains, _ = CASES[case]
        chains = wide or chains
        prog = pb.compile(str(ROOT / "examples" / f"{name}.pb"), params={"L": L})
        sweeps = max(20, int(updates / (prog.ir.num_spins * chains)) // 10 * 10)

        def measure():
            res = prog.sample(backend, chains=chains, sweeps=sweeps, seed=0, **options)
            return res.info["spin_updates_per_s"] / 1e9
    measure()                                                                   # compile, warm caches
    print("ready", Path(pb.__file__).parent.parent, flush=True)
    for _ in sys.stdin:
        print(measure(), flush=True)


def start_worker(tree: Path, args) -> subprocess.Popen:
    env = {**os.environ, "PYTHONPATH": str(tree)}
    cmd = [sys.executable, str(Path(__file__).resolve()), "--worker", "--case", args.case, "--backend", args.backend,
           "--options", json.dumps(options_of(args)), "--updates", str(args.updates),
           "--chains", str(args.chains)]
    proc = subprocess.Popen(cmd, cwd=tree, env=env, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    line = proc.stdout.readline().split()
    if line[:1] != ["ready"] or Path(line[1]).resolve() != tree.resolve():      # the tree's own pbitlang
        raise SystemExit(f"the worker for {tree} did not start with its own pbitlang ({' '.join(line)})")
    return proc


def measure(proc: subprocess.Popen) -> float:
    proc.stdin.write("go\n")
    proc.stdin.flush()
    return float(proc.stdout.readline())


def options_of(args) -> dict:
    options = {"thin": 10}
    if args.threads != "1":
        options["threads"] = args.threads if args.threads == "auto" else int(args.threads)
    if args.fabric:
        options["fabric"] = args.fabric
    return options


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--against", default="HEAD", help="the git revision to compare this tree with (default HEAD)")
    ap.add_argument("--case", default="ising2d", help=f"the model: {', '.join(sorted(CASES))} (as in sample.py), "
                    "or train:MODEL, three epochs of examples/MODEL.pb's training (as in train.py)")
    ap.add_argument("--backend", default="cpu", help="backend (default cpu)")
    ap.add_argument("--fabric", default=None, help="the emulator's fabric")
    ap.add_argument("--threads", default="1", help="threads (default 1; 'auto': all)")
    ap.add_argument("--chains", type=int, default=0, help="chains (default: the case's; sample.py's all-threads rows: 256)")
    ap.add_argument("--rounds", type=int, default=10, help="rounds (default 10)")
    ap.add_argument("--updates", type=float, default=2e8, help="spin updates per measurement (default 2e8)")
    ap.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--options", default="{}", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        return worker(args.case, args.backend, json.loads(args.options), args.updates, args.chains)
    info = cpu_info()
    print(f"CPU: {info['cpu']}, SIMD: {info['simd']}")
    probe = Probe()
    if args.case not in CASES and not args.case.startswith("train:"):
        raise SystemExit(f"--case: {args.case!r} is not one of {', '.join(sorted(CASES))} or train:MODEL")
    _, L, chains, dim = CASES.get(args.case, CASES["ising2d"])          # training's yardstick: the 2D probe
    with tempfile.TemporaryDirectory() as tmp:
        old = Path(tmp)
        archive = subprocess.run(["git", "-C", str(ROOT), "archive", args.against], capture_output=True)
        if archive.returncode:
            raise SystemExit(f"git archive {args.against} failed: {archive.stderr.decode().strip()}")
        subprocess.run(["tar", "-x", "-C", str(old)], input=archive.stdout, check=True)
        sides = {"new": start_worker(ROOT, args), "old": start_worker(old, args)}
        try:
            rates = {"probe": [], "new": [], "old": []}
            for k in range(args.rounds):
                rates["probe"].append(probe.run(L, chains, 400, dim, repeats=1) if probe.available else None)
                for side in (("new", "old") if k % 2 == 0 else ("old", "new")):      # alternate who goes first
                    rates[side].append(measure(sides[side]))
        finally:
            for proc in sides.values():
                proc.stdin.close()
                proc.wait()
    p = max(r for r in rates["probe"] if r is not None) if probe.available else None
    rows = [{"side": side, "against": args.against if side == "old" else "this tree", "best": max(rates[side]),
             "median": statistics.median(rates[side]), "ratio": max(rates[side]) / p if p else None,
             "new_over_old": statistics.median(n / o for n, o in zip(rates["new"], rates["old"])) if side == "new" else None,
             "case": args.case, "backend": args.backend, "options": options_of(args), "rounds": args.rounds, **info}
            for side in ("new", "old")]
    print(f"{args.case}, {args.backend} {options_of(args)}, {args.rounds} rounds; probe best {p or 0:.3f} upd/ns")
    print_table(rows, [("side", "side", "5"), ("version", "against", "12"), ("best", "best", "7.3f"),
                       ("median", "median", "7.3f"), ("of probe", "ratio", "8.2f"), ("new/old", "new_over_old", "8.3f")])
    print(f"\nwrote {write_json('ab', rows)}")


if __name__ == "__main__":
    main()
