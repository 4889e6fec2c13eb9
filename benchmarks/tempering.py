"""Parallel tempering's cost beyond the sweeps: spin updates per ns on the 3D EA glass L=8 with
16 and 32 replicas, for each sampling backend with and without tempering on the same number of
columns (replicas × sets), beside the C probe (3D L=8), same run.  Tempering is a composite over
any backend's kernel: its cost is a kernel call, the columns' energies and a round of swaps per
swap interval.  Prints a table, writes benchmarks/results/tempering.json."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Probe, cpu_info, print_table, write_json  # noqa: E402

import pbitlang as pb  # noqa: E402


def rate(prog, backend, **opts):
    """Best of three: spin updates per ns of sampling (set-up excluded), and the last result."""
    best = 0.0
    for _ in range(3):
        res = prog.sample(backend, seed=0, **opts)
        best = max(best, res.info["spin_updates_per_s"] / 1e9)
    return best, res


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--sweeps", type=int, default=1500, help="sweeps per run (default 1500)")
    ap.add_argument("--backends", default="cpu,emulator", help="comma-separated backends (default cpu,emulator)")
    args = ap.parse_args(argv)
    info = cpu_info()
    print(f"CPU: {info['cpu']}, SIMD: {info['simd']}")
    probe = Probe()
    prog = pb.compile("examples/ea3d_pt.pb", params={"L": 8})
    rows = []
    for backend in args.backends.split(","):
        for R in (16, 32):
            columns = 64                                   # replicas × sets: the same state width for both runs
            sets = columns // R
            probe_rate = probe.run(8, columns, args.sweeps, 3)
            plain, _ = rate(prog, backend, chains=columns, sweeps=args.sweeps, thin=10)
            pt, res = rate(prog, backend, chains=sets, sweeps=args.sweeps, thin=10,
                           tempering={"replicas": R, "beta_min": 0.2})
            rows.append({"backend": backend, "replicas": R, "replica_sets": sets, "probe_updates_per_ns": probe_rate,
                         "plain_updates_per_ns": plain, "pt_updates_per_ns": pt,
                         "pt_ratio": pt / probe_rate if probe_rate else None, "pt_over_plain": pt / plain,
                         "swap_acceptance_min": min(res.info["tempering"]["swap_acceptance"]), **info})
    print_table(rows, [("backend", "backend", "10"), ("replicas", "replicas", ">8"), ("sets", "replica_sets", ">5"),
                       ("probe", "probe_updates_per_ns", "7.3f"), ("plain", "plain_updates_per_ns", "7.3f"),
                       ("PT", "pt_updates_per_ns", "7.3f"), ("PT/probe", "pt_ratio", "9.2f"),
                       ("PT/plain", "pt_over_plain", "9.2f")])
    print(f"\nwrote {write_json('tempering', rows)}")


if __name__ == "__main__":
    main()
