"""Compile speed and memory: seconds per stage and peak RSS for large lattices.

Each case runs in its own process (peak RSS is per process) after a small
warm-up compile, so the table shows the compiler, not Python's imports.
Prints a table and writes benchmarks/results/compile.json."""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CASES = [("ising2d", L) for L in (128, 256, 512, 1024)] + [("ea3d", L) for L in (16, 32, 64)]

CHILD = r"""
import json, resource, sys, time
import pbitlang as pb
name, L = sys.argv[1], int(sys.argv[2])
pb.compile(f"examples/{name}.pb", params={"L": 4})            # warm-up: imports, parser tables
best = None
for _ in range(2):                                             # best of two: these machines are noisy
    t = time.perf_counter()
    prog = pb.compile(f"examples/{name}.pb", params={"L": L})
    wall = time.perf_counter() - t
    if best is None or wall < best[0]:
        best = (wall, prog)
wall, prog = best
ir = prog.ir
print(json.dumps({"program": name, "L": L, "spins": ir.num_spins, "couplings": ir.num_couplings,
                  "colors": ir.num_colors, "seconds": prog.timings, "wall": wall,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def main(argv=None):
    argparse.ArgumentParser(description=__doc__).parse_args(argv)
    rows = []
    for name, L in CASES:
        out = subprocess.run([sys.executable, "-c", CHILD, name, str(L)], cwd=ROOT, capture_output=True, text=True)
        if out.returncode != 0:
            print(out.stderr, file=sys.stderr)
            raise SystemExit(1)
        rows.append(json.loads(out.stdout.strip().splitlines()[-1]))
    head = f"{'program':8} {'L':>5} {'spins':>10} {'couplings':>10} {'parse':>7} {'check':>7} {'lower':>7} {'total s':>8} {'peak MB':>8}"
    print(head)
    print("-" * len(head))
    for r in rows:
        s = r["seconds"]
        print(f"{r['program']:8} {r['L']:>5} {r['spins']:>10,} {r['couplings']:>10,} {s['parse']:7.3f} {s['check']:7.3f} "
              f"{s['lower']:7.3f} {s['total']:8.3f} {r['peak_rss_mb']:8.0f}")
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "compile.json").write_text(json.dumps(rows, indent=2))
    print(f"\nwrote {out / 'compile.json'}")


if __name__ == "__main__":
    main()
