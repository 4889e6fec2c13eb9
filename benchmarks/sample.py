"""Sampling speed: spin updates per ns of each backend beside the C roofline probe, same run.

Rows: 2D Ising L=64 × 64 chains, L=256 × 16 chains, 3D L=16 × 64 chains.  The probe is one
core; rows marked "all threads" use every core (numba's threads) on 256 chains, since threads split the
chains on multiples of 64 (fewer run on one thread), and are not a like-for-like ratio.  Each
backend's rate is (free spins × chains × sweeps) / wall time of the whole
sample() call (setup, sampling, recording).  The machines are noisy, so the
probe and the backends take turns, three rounds, and each keeps its best
round.  Prints a table and writes benchmarks/results/sample.json."""
from __future__ import annotations

import argparse
import sys
import time

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from common import Probe, print_table, write_json  # noqa: E402

import pbitlang as pb  # noqa: E402

CASES = [("ising2d", 64, 64, 2), ("ising2d", 256, 16, 2), ("ea3d", 16, 64, 3)]
RUNS = [("reference", {"thin": 10}, "reference (keep 1/10)"),
        ("reference", {"thin": 1}, "reference (keep all)"),
        ("emulator", {"thin": 10, "fabric": "ideal"}, "emulator ideal (1/10)"),
        ("emulator", {"thin": 10, "fabric": "fpga"}, "emulator fpga (1/10)"),
        ("emulator", {"thin": 10, "fabric": "ideal", "threads": "auto"}, "emulator ideal, all threads"),
        ("emulator", {"thin": 10, "fabric": "fpga", "threads": "auto"}, "emulator fpga, all threads")]
WIDE = 256                   # chains of the "all threads" rows (sweeps scaled down: the same updates)


def rate(prog, backend, sweeps, chains, opts) -> float:
    """Spin updates per ns of one sample() call."""
    t = time.perf_counter()
    res = prog.sample(backend, chains=chains, sweeps=sweeps, seed=0, **opts)
    return res.info["spin_updates"] / (time.perf_counter() - t) / 1e9


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--updates", type=float, default=2e8, help="spin updates per measurement")
    args = ap.parse_args(argv)
    probe = Probe()
    rows = []
    for name, L, chains, dim in CASES:
        prog = pb.compile(f"examples/{name}.pb", params={"L": L})
        n = prog.ir.num_spins
        sweeps = max(20, int(args.updates / (n * chains)) // 10 * 10)
        wide_sweeps = max(10, int(args.updates / (n * WIDE)) // 10 * 10)
        shapes = [(WIDE, wide_sweeps) if "threads" in opts else (chains, sweeps) for _, opts, _ in RUNS]
        for (backend, opts, _), (c, _) in zip(RUNS, shapes):
            prog.sample(backend, chains=c, sweeps=10, seed=0, **opts)          # compile kernels, warm caches
        probe_rate, best = 0.0, [0.0] * len(RUNS)
        for _ in range(3):                                 # rounds: the probe and every backend in turn
            probe_rate = max(probe_rate, probe.run(L, chains, sweeps, dim, repeats=1))
            for k, ((backend, opts, _), (c, sw)) in enumerate(zip(RUNS, shapes)):
                best[k] = max(best[k], rate(prog, backend, sw, c, opts))
        for (_, _, label), (c, sw), r in zip(RUNS, shapes, best):
            rows.append({"model": f"{name} L={L}", "spins": n, "chains": c, "sweeps": sw, "backend": label,
                         "updates_per_ns": r, "probe_updates_per_ns": probe_rate, "ratio": r / probe_rate})
    print_table(rows, [("model", "model", "14"), ("chains", "chains", ">6"), ("backend", "backend", "24"),
                       ("upd/ns", "updates_per_ns", "8.3f"), ("probe", "probe_updates_per_ns", "8.3f"),
                       ("ratio", "ratio", "6.2f")])
    print(f"\nwrote {write_json('sample', rows)}")


if __name__ == "__main__":
    main()
