"""What the benchmarks share: the C roofline probe, built and run in the same run."""
from __future__ import annotations

import os
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BENCH = Path(os.environ.get("PBIT_BENCH_DIR", ROOT.parent / "shared" / "bench"))


class Probe:
    """../shared/bench/gibbs_limit.c compiled in a temporary folder."""

    def __init__(self):
        self.dir = tempfile.TemporaryDirectory()
        self.exe = Path(self.dir.name) / "gibbs_limit"
        src = BENCH / "gibbs_limit.c"
        if not src.exists():
            raise SystemExit(f"the roofline probe {src} is missing (set PBIT_BENCH_DIR)")
        subprocess.run(["gcc", "-O3", "-march=native", "-ffast-math", "-o", str(self.exe), str(src), "-lm"],
                       check=True)

    def run(self, L: int, chains: int, sweeps: int, dim: int, repeats: int = 3) -> float:
        """Flips per ns of the probe on the periodic ferromagnet (best of `repeats` runs)."""
        best = 0.0
        for _ in range(repeats):
            out = subprocess.run([str(self.exe), str(L), str(chains), str(sweeps), str(dim)], check=True,
                                 capture_output=True, text=True).stdout.split()
            best = max(best, float(out[4]))
        return best


def write_json(name: str, rows) -> Path:
    import json
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}.json"
    path.write_text(json.dumps(rows, indent=2))
    return path


def print_table(rows, columns) -> None:
    """Print rows (dicts) as a table: columns are (title, key, format spec), the title set to the
    spec's width, numbers and right-aligned specs to the right, text to the left."""
    def width(spec: str) -> int:
        digits = "".join(ch for ch in spec.lstrip("<>^") if ch.isdigit() or ch == ".").split(".")[0]
        return int(digits or 0)

    def right(spec: str) -> bool:
        return spec.startswith(">") or spec.endswith(("f", "d", "e", "g"))

    head = " ".join(f"{title:{'>' if right(spec) else '<'}{width(spec)}}" for title, _, spec in columns)
    print(head)
    print("-" * len(head))
    for r in rows:
        print(" ".join(f"{r[key]:{spec}}" for _, key, spec in columns))
