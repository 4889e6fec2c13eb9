"""What a user waits for around the sampler: start-up of every command, the README's Python
snippet (sampling against everything else, and its peak memory), and the large `pbit run -o`.

Every case runs in its own process, on a warm numba cache (one untimed run first), median of
--repeats runs, beside `python -c pass`.  Prints a table and writes benchmarks/results/startup.json."""
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

from common import ROOT, cpu_info, print_table, write_json

BIN = Path(sys.executable).parent

SNIPPET = r"""
import json, resource, time
t0 = time.perf_counter()
import pbitlang as pb
prog = pb.compile("examples/ising2d.pb", params={"L": 64})
res = prog.sample("cpu", chains=64, sweeps=1000, burn_in=100, seed=0)
t1 = time.perf_counter()
res.mean("energy"), res.mean("absm"), res.variables("s").shape
t2 = time.perf_counter()
print(json.dumps({"sampling_s": res.info["timings"]["sampling_s"], "to_result_s": t1 - t0, "after_s": t2 - t1,
                  "total_s": t2 - t0, "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

BIG_RUN = ["run", "examples/ising2d.pb", "-D", "L=64", "--chains", "64", "--sweeps", "2000"]


def _wall(argv, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        subprocess.run(argv, cwd=ROOT, check=True, capture_output=True)
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def _child_rss(argv) -> tuple:
    """(wall s, peak RSS MB, exit code) of one process, from os.wait4's rusage."""
    t = time.perf_counter()
    proc = subprocess.Popen(argv, cwd=ROOT, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    _, status, usage = os.wait4(proc.pid, 0)
    return time.perf_counter() - t, usage.ru_maxrss / 1024, os.waitstatus_to_exitcode(status)


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument("--repeats", type=int, default=5)
    args = p.parse_args(argv)
    info = cpu_info()
    print(f"CPU: {info['cpu']} ({info['simd']})")
    py, pbit = sys.executable, str(BIN / "pbit")
    with tempfile.TemporaryDirectory() as tmp:
        tiny = Path(tmp) / "tiny.pbir"
        subprocess.run([str(BIN / "pbitc"), "compile", "examples/ising2d.pb", "-D", "L=8", "-o", str(tiny)],
                       cwd=ROOT, check=True, capture_output=True)
        cases = [("python -c pass", [py, "-c", "pass"]), ("import pbitlang", [py, "-c", "import pbitlang"]),
                 ("pbit --version", [pbit, "--version"]), ("pbit --help", [pbit, "--help"]),
                 ("pbit backends", [pbit, "backends"]),
                 ("pbit run tiny.pbir", [pbit, "run", str(tiny), "--sweeps", "10", "--chains", "2"]),
                 ("pbit run tiny .pb", [pbit, "run", "examples/ising2d.pb", "-D", "L=8", "--sweeps", "10",
                                        "--chains", "2"])]
        subprocess.run(cases[-2][1], cwd=ROOT, check=True, capture_output=True)      # warm the numba cache
        rows = [{"case": name, "seconds": _wall(cmd, args.repeats)} for name, cmd in cases]
        for row in rows:
            row["over_python_s"] = row["seconds"] - rows[0]["seconds"]
        print_table(rows, [("case", "case", "<20"), ("seconds", "seconds", "8.3f"),
                           ("beyond python", "over_python_s", "13.3f")])

        subprocess.run([py, "-c", SNIPPET], cwd=ROOT, check=True, capture_output=True)   # warm
        snippets = [json.loads(subprocess.run([py, "-c", SNIPPET], cwd=ROOT, check=True, capture_output=True,
                                              text=True).stdout) for _ in range(3)]
        snip = min(snippets, key=lambda s: s["total_s"])
        snip["sampling_plus_after_over_sampling"] = (snip["sampling_s"] + snip["after_s"]) / snip["sampling_s"]
        snip["total_over_sampling"] = snip["total_s"] / snip["sampling_s"]
        print(f"\nREADME snippet (L=64, 64 chains, 1000 sweeps): sampling {snip['sampling_s']:.2f} s, "
              f"everything after it {snip['after_s']:.2f} s, whole script {snip['total_s']:.2f} s; "
              f"(sampling + after) / sampling = {snip['sampling_plus_after_over_sampling']:.2f}, "
              f"whole / sampling = {snip['total_over_sampling']:.2f}; peak RSS {snip['peak_rss_mb']:.0f} MB")

        out = Path(tmp) / "out.npz"
        wall, rss, code = _child_rss([pbit, *BIG_RUN, "-o", str(out)])
        big = {"command": "pbit " + " ".join(BIG_RUN) + " -o out.npz", "seconds": wall, "peak_rss_mb": rss,
               "exit": code, "file_mb": out.stat().st_size / 2**20 if out.exists() else None}
        print(f"{big['command']}: exit {code}, {wall:.1f} s, peak RSS {rss:.0f} MB, file "
              f"{big['file_mb'] or 0:.0f} MB")
    path = write_json("startup", {**info, "commands": rows, "readme_snippet": snip, "big_run": big})
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
