"""What the benchmarks share: the C roofline probe (benchmarks/probe.c), built with the system C
compiler and run in the same run as the backends, and the CPU's model and SIMD level.

NUMBA_CPU_NAME (numba's own setting) makes both the kernels and the probe target that CPU: with
NUMBA_CPU_NAME=haswell an AVX-512 machine measures the AVX2 code and ratios."""
from __future__ import annotations

import os
import platform
import shutil
import subprocess
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def cpu_info() -> dict:
    """The CPU's model and widest SIMD level (ratios to the probe depend on both)."""
    model, flags = platform.processor() or platform.machine(), set()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name") and ":" in line:
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags") and ":" in line:
                flags = set(line.split(":", 1)[1].split())
    except OSError:
        pass
    simd = next((name for flag, name in (("avx512f", "AVX-512"), ("avx2", "AVX2"), ("sse4_2", "SSE4.2"))
                 if flag in flags), "unknown")
    target = os.environ.get("NUMBA_CPU_NAME")
    if target:
        simd = f"code for {target} (NUMBA_CPU_NAME) on a {simd} CPU"
    return {"cpu": model, "simd": simd}


class Probe:
    """benchmarks/probe.c compiled in a temporary folder; `available` is False (and run() gives None)
    when there is no C compiler, and the benchmarks then go on without the ratio column."""

    def __init__(self):
        self.dir = tempfile.TemporaryDirectory()
        self.exe = Path(self.dir.name) / "probe"
        cc = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
        self.available = False
        if cc is None:
            print("no C compiler found: the roofline probe is skipped, no ratio column")
            return
        march = os.environ.get("NUMBA_CPU_NAME") or "native"      # the probe targets what the kernels do
        build = subprocess.run([cc, "-O3", f"-march={march}", "-ffast-math", "-o", str(self.exe),
                                str(ROOT / "benchmarks" / "probe.c"), "-lm"], capture_output=True, text=True)
        if build.returncode:
            print(f"the roofline probe did not build ({build.stderr.strip()[:200]}): no ratio column")
            return
        self.available = True

    def run(self, L: int, chains: int, sweeps: int, dim: int, repeats: int = 3):
        """Spin updates per ns of the probe on the periodic ferromagnet (best of `repeats` runs), or None."""
        if not self.available:
            return None
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
        print(" ".join(f"{r[key]:{spec}}" if r.get(key) is not None else f"{'–':>{width(spec)}}"
                       for _, key, spec in columns))


def map_jobs(fn, runs: list, jobs: int = 1) -> list:
    """[fn(*run) for run in runs], `jobs` processes side by side when jobs > 1 (spawned, not forked:
    numba's thread pool does not survive a fork).  fn must be importable from its module."""
    if jobs <= 1:
        return [fn(*run) for run in runs]
    from concurrent.futures import ProcessPoolExecutor
    from multiprocessing import get_context
    with ProcessPoolExecutor(jobs, mp_context=get_context("spawn")) as pool:
        return list(pool.map(fn, *zip(*runs)))
