"""Sampling speed: spin updates per ns of each backend beside the C roofline probe, same run.

Rows: 2D Ising L=64 × 64 chains, L=256 × 16 chains, 3D L=16 × 64 chains.  The probe
(benchmarks/probe.c) is one core; rows marked "all threads" use every core on 256 chains (threads
split the chains on multiples of 64) and are not a like-for-like ratio.  A backend's rate counts
sampling only (res.info's spin_updates_per_s: free spins × chains × sweeps over the sampling
time, set-up and compilation excluded).  Peers, when installed, run the same models in the same
run: dwave-samplers' simulated annealing at a constant β (beta_range=[β, β]).  The machines are
noisy, so the probe and the backends take turns, three rounds, and each keeps its best round.
Prints a table and writes benchmarks/results/sample.json."""
from __future__ import annotations

import argparse
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(__import__("pathlib").Path(__file__).resolve().parent))
from common import Probe, cpu_info, print_table, write_json  # noqa: E402

import pbitlang as pb  # noqa: E402

CASES = [("ising2d", 64, 64, 2), ("ising2d", 256, 16, 2), ("ea3d", 16, 64, 3)]
RUNS = [("cpu", {"thin": 10}, "cpu (1 thread)"),
        ("cpu", {"thin": 10, "threads": "auto"}, "cpu, all threads"),
        ("reference", {"thin": 10}, "reference (oracle)"),
        ("emulator", {"thin": 10, "fabric": "ideal"}, "emulator ideal"),
        ("emulator", {"thin": 10, "fabric": "fpga"}, "emulator fpga"),
        ("emulator", {"thin": 10, "fabric": "fpga", "threads": "auto"}, "emulator fpga, all thr.")]
WIDE = 256                   # chains of the "all threads" rows (sweeps scaled down: the same updates)


def rate(prog, backend, sweeps, chains, opts) -> float:
    """Spin updates per ns of one sample() call's sampling."""
    res = prog.sample(backend, chains=chains, sweeps=sweeps, seed=0, **opts)
    return res.info["spin_updates_per_s"] / 1e9


def dwave_rate(prog, sweeps, chains):
    """dwave-samplers' simulated annealing on the same model at the program's β, or None."""
    try:
        from dwave.samplers import SimulatedAnnealingSampler
    except ImportError:
        return None
    ir = prog.ir
    J = ir.J.tocoo()
    quadratic = {(int(i), int(j)): float(v) for i, j, v in zip(J.row, J.col, J.data) if i < j}
    linear = {i: float(ir.h[i]) for i in range(ir.num_spins)}
    beta = ir.beta if ir.beta is not None else 1.0
    t = time.perf_counter()
    SimulatedAnnealingSampler().sample_ising(linear, quadratic, num_reads=chains, num_sweeps=sweeps,
                                             beta_range=[beta, beta], seed=0)
    return ir.num_spins * chains * sweeps / (time.perf_counter() - t) / 1e9


def thrml_rate(name, L, sweeps, chains):
    """THRML's rate on the same model, chains and colouring, measured in a process of its own (JAX's
    thread pools stay behind in a process and slow the compiled kernels measured after them), or
    None when THRML is not installed."""
    out = subprocess.run([sys.executable, str(Path(__file__).with_name("peer_thrml.py")), name, str(L), str(chains),
                          str(sweeps)], capture_output=True, text=True)
    return float(out.stdout.split()[-1]) if out.returncode == 0 and out.stdout.strip() else None


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--updates", type=float, default=2e8, help="spin updates per measurement (default 2e8)")
    ap.add_argument("--skip-reference", action="store_true", help="leave out the reference rows (slow)")
    args = ap.parse_args(argv)
    info = cpu_info()
    print(f"CPU: {info['cpu']}, SIMD: {info['simd']}")
    probe = Probe()
    runs = [r for r in RUNS if not (args.skip_reference and r[0] == "reference")]
    rows = []
    for name, L, chains, dim in CASES:
        prog = pb.compile(f"examples/{name}.pb", params={"L": L})
        n = prog.ir.num_spins
        sweeps = max(20, int(args.updates / (n * chains)) // 10 * 10)
        wide_sweeps = max(10, int(args.updates / (n * WIDE)) // 10 * 10)
        shapes = [(WIDE, wide_sweeps) if "threads" in opts else (chains, sweeps) for _, opts, _ in runs]
        shapes = [(c, max(10, sw // 20 // 10 * 10)) if backend == "reference" else (c, sw)
                  for (backend, _, _), (c, sw) in zip(runs, shapes)]           # the oracle: a twentieth
        for (backend, opts, _), (c, _) in zip(runs, shapes):
            prog.sample(backend, chains=c, sweeps=10, seed=0, **opts)          # compile kernels, warm caches
        probe_rate, best, peer, thrml = None, [0.0] * len(runs), None, None
        for _ in range(3):                                 # rounds: the probe and every backend in turn
            p = probe.run(L, chains, sweeps, dim, repeats=1)
            probe_rate = p if probe_rate is None or (p is not None and p > probe_rate) else probe_rate
            for k, ((backend, opts, _), (c, sw)) in enumerate(zip(runs, shapes)):
                best[k] = max(best[k], rate(prog, backend, sw, c, opts))
            d = dwave_rate(prog, max(10, sweeps // 10), chains)
            peer = d if peer is None or (d is not None and d > peer) else peer
            th = thrml_rate(name, L, max(10, sweeps // 10), chains)
            thrml = th if thrml is None or (th is not None and th > thrml) else thrml
        for (_, _, label), (c, sw), r in zip(runs, shapes, best):
            rows.append({"model": f"{name} L={L}", "spins": n, "chains": c, "sweeps": sw, "backend": label,
                         "updates_per_ns": r, "probe_updates_per_ns": probe_rate,
                         "ratio": r / probe_rate if probe_rate else None,
                         "vs_dwave": r / peer if peer else None, "vs_thrml": r / thrml if thrml else None, **info})
        if peer is not None:
            rows.append({"model": f"{name} L={L}", "spins": n, "chains": chains, "sweeps": max(10, sweeps // 10),
                         "backend": "dwave-samplers SA", "updates_per_ns": peer, "probe_updates_per_ns": probe_rate,
                         "ratio": peer / probe_rate if probe_rate else None, "vs_dwave": 1.0,
                         "vs_thrml": peer / thrml if thrml else None, **info})
        if thrml is not None:
            rows.append({"model": f"{name} L={L}", "spins": n, "chains": chains, "sweeps": max(10, sweeps // 10),
                         "backend": "THRML (JAX, CPU)", "updates_per_ns": thrml, "probe_updates_per_ns": probe_rate,
                         "ratio": thrml / probe_rate if probe_rate else None,
                         "vs_dwave": thrml / peer if peer else None, "vs_thrml": 1.0, **info})
    print_table(rows, [("model", "model", "14"), ("chains", "chains", ">6"), ("backend", "backend", "24"),
                       ("upd/ns", "updates_per_ns", "8.3f"), ("probe", "probe_updates_per_ns", "8.3f"),
                       ("ratio", "ratio", "6.2f"), ("×dwave", "vs_dwave", "7.1f"), ("×thrml", "vs_thrml", "7.1f")])
    print(f"\nwrote {write_json('sample', rows)}")


if __name__ == "__main__":
    main()
