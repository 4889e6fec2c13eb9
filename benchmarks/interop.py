"""The dimod adapter's cost: the same models through PbitSampler.sample_ising(h, J) and through
prog.sample() on the .pb program (what `pbit run` does), and through dwave-samplers'
SimulatedAnnealingSampler at the same constant β, in one run, beside the C roofline probe.

Models: the 2D periodic ferromagnet L=64 and the 3D Edwards–Anderson glass L=16, 64 chains (reads)
× 1000 sweeps at the program's β.  Every rate is spin updates per ns of wall time for the whole
call (conversion, colouring, sampling, the SampleSet): the adapter's overhead is its wall time over
prog.sample's, minus one.  Each measurement is the best of five rounds (the machine is noisy).
Prints a table and writes benchmarks/results/interop.json."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Probe, cpu_info, print_table, write_json  # noqa: E402

import pbitlang as pb  # noqa: E402

CASES = [("ising2d", 64, 2), ("ea3d", 16, 3)]
ROUNDS = 5


def ising_dicts(ir) -> tuple:
    J = ir.J.tocoo()
    return ({i: float(ir.h[i]) for i in range(ir.num_spins)},
            {(int(i), int(j)): float(v) for i, j, v in zip(J.row, J.col, J.data) if i < j})


def timed(call) -> float:
    t = time.perf_counter()
    call()
    return time.perf_counter() - t


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--chains", type=int, default=64)
    ap.add_argument("--sweeps", type=int, default=1000)
    args = ap.parse_args(argv)
    from pbitlang.dimod import PbitSampler
    try:
        from dwave.samplers import SimulatedAnnealingSampler
    except ImportError:
        SimulatedAnnealingSampler = None
    info = cpu_info()
    print(f"CPU: {info['cpu']}, SIMD: {info['simd']}")
    probe = Probe()
    C, S = args.chains, args.sweeps
    rows = []
    for name, L, dim in CASES:
        prog = pb.compile(f"examples/{name}.pb", params={"L": L})
        n, beta = prog.ir.num_spins, prog.ir.beta
        h, J = ising_dicts(prog.ir)
        work = n * C * S
        runs = {
            "prog.sample (pbit run)": lambda: prog.sample("cpu", chains=C, sweeps=S, burn_in=0, thin=S, seed=0),
            "PbitSampler.sample_ising": lambda: PbitSampler().sample_ising(
                h, J, num_reads=C, num_sweeps=S, beta_range=(beta, beta), beta_schedule_type="linear", seed=0)}
        if SimulatedAnnealingSampler is not None:
            runs["dwave-samplers SA"] = lambda: SimulatedAnnealingSampler().sample_ising(
                h, J, num_reads=C, num_sweeps=S, beta_range=[beta, beta], seed=0)
        for call in runs.values():                           # compile kernels, warm caches
            call()
        best = {label: float("inf") for label in runs}
        probe_rate = None
        for _ in range(ROUNDS):
            p = probe.run(L, C, S, dim, repeats=1)
            probe_rate = p if probe_rate is None or (p is not None and p > probe_rate) else probe_rate
            for label, call in runs.items():
                best[label] = min(best[label], timed(call))
        base = best["prog.sample (pbit run)"]
        dwave = best.get("dwave-samplers SA")
        for label, seconds in best.items():
            rate = work / seconds / 1e9
            rows.append({"model": f"{name} L={L}", "spins": n, "chains": C, "sweeps": S, "path": label,
                         "seconds": seconds, "updates_per_ns": rate, "probe_updates_per_ns": probe_rate,
                         "ratio": rate / probe_rate if probe_rate else None,
                         "overhead": seconds / base - 1, "vs_dwave": dwave / seconds if dwave else None, **info})
    print_table(rows, [("model", "model", "14"), ("path", "path", "26"), ("s", "seconds", "7.3f"),
                       ("upd/ns", "updates_per_ns", "7.3f"), ("probe", "probe_updates_per_ns", "7.3f"),
                       ("ratio", "ratio", "6.2f"), ("overhead", "overhead", "8.1%"), ("×dwave", "vs_dwave", "7.1f")])
    print(f"\nwrote {write_json('interop', rows)}")


if __name__ == "__main__":
    main()
