"""Parallel tempering's cost beyond the sweeps: spin updates per ns on the 3D EA glass L=8 with
16 and 32 replicas, beside the reference backend without tempering and the C probe (3D L=8),
same run.  Target: PT's ratio to the probe ≥ 0.8 × the plain reference's ratio.
Prints a table, writes benchmarks/results/tempering.json."""
from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Probe, print_table, write_json  # noqa: E402

import pbitlang as pb  # noqa: E402


def rate(prog, **opts):
    best = 0.0
    for _ in range(3):
        t = time.perf_counter()
        res = prog.sample("reference", seed=0, **opts)
        best = max(best, res.info["spin_updates"] / (time.perf_counter() - t) / 1e9)
    return best, res


def main():
    probe = Probe()
    prog = pb.compile("examples/ea3d_pt.pb", params={"L": 8})
    rows = []
    for R in (16, 32):
        columns = 64                                   # replicas × sets: the same state width for both runs
        sets = columns // R
        probe_rate = probe.run(8, columns, 1500, 3)
        plain, _ = rate(prog, chains=columns, sweeps=1500, thin=10)
        pt, res = rate(prog, chains=sets, sweeps=1500, thin=10, tempering={"replicas": R, "beta_min": 0.2})
        rows.append({"replicas": R, "replica_sets": sets, "probe_updates_per_ns": probe_rate,
                     "reference_updates_per_ns": plain, "pt_updates_per_ns": pt,
                     "reference_ratio": plain / probe_rate, "pt_ratio": pt / probe_rate,
                     "pt_over_reference": pt / plain,
                     "swap_acceptance_min": min(res.info["tempering"]["swap_acceptance"])})
    print_table(rows, [("replicas", "replicas", ">8"), ("sets", "replica_sets", ">5"),
                       ("probe", "probe_updates_per_ns", "7.3f"), ("ref", "reference_updates_per_ns", "7.3f"),
                       ("PT", "pt_updates_per_ns", "7.3f"), ("ref/probe", "reference_ratio", "9.2f"),
                       ("PT/probe", "pt_ratio", "9.2f"), ("PT/ref", "pt_over_reference", "7.2f")])
    print(f"\nwrote {write_json('tempering', rows)}")


if __name__ == "__main__":
    main()
