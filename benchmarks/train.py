"""Training and generation speed of denoising chains, beside the C probe, same run.

Models: examples/ising_dtm.pb (a 16×16 lattice DTM: ≈8 couplings per spin, near the probe's 4) and
examples/digits_dtm.pb (an RBM DTM: 64 visible bits + 32 hidden spins per step, ≈43 couplings per
spin), T = 4, batch 64, the default training options (20 warm-up sweeps, 4 samples 2 sweeps apart),
on random data (the speed does not depend on the data).  Backends: cpu, the emulator's
default (ideal) fabric and its fpga profile (fixed point, per-p-bit RNGs, the ledger).  For each: seconds per training
epoch (ten epochs, training's default, set-up included, divided by ten), the same epochs' sampler runs
alone (the kernels training holds, same run lengths, no gradient work: the yardstick for training
overhead), and generation.  "of alone" is the best epoch rate over the best rate alone; "median"
the median over the rounds of each round's ratio (its two measurements seconds apart, of the same
length: the figure to trust on a noisy machine).  Rates are spin updates performed per ns; "ratio" divides by the probe's rate on
the 2D L=64 × 64-chain lattice.  "reads" is the couplings a spin update reads on average (the
probe's read 4), and "per read" the ratio of coupling reads per ns: a spin update of the digits
model is ten times the probe's work.  Prints a table, writes benchmarks/results/train.json."""
from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Probe, cpu_info, print_table, write_json  # noqa: E402

import pbitlang as pb  # noqa: E402
from pbitlang.backends import get_backend  # noqa: E402
from pbitlang.backends.base import one_blas_thread  # noqa: E402
from pbitlang.dtm.chain import chain_spec  # noqa: E402

DTM = __import__("importlib").import_module("pbitlang.dtm.training")
MODELS = ["ising_dtm", "digits_dtm"]
BACKENDS = [("cpu", "cpu", {}), ("emulator", "emulator", {}),           # (label, backend, options)
            ("emulator/fpga", "emulator", {"fabric": "fpga"})]                # fixed point, RNGs, ledger
B, ROWS, EPOCHS, ROUNDS = 64, 1024, 10, 5
PROBE_READS = 4                     # couplings per spin update of the probe's 2D lattice


def sampling_alone(prog, backend, options: dict) -> tuple:
    """(seconds, spin updates) of one epoch's sampler runs with no training around them."""
    ir = prog.ir
    spec = chain_spec(ir)
    T, n, d = spec.steps, ir.num_spins, len(spec.data_index)
    stack = DTM.StackedSteps(ir, spec, T)
    latent = np.setdiff1d(np.arange(n), np.r_[spec.data_index, ir.clamp_index])
    sampler = DTM.BatchSampler(ir, spec, stack, latent, get_backend(backend), B, DTM.TrainOptions(), options)
    sampler.start([DTM.stream(0, DTM.START, t) for t in stack.steps])
    h, data = stack.arrays(np.tile(ir.weights.theta, (T, 1)))
    rng = np.random.default_rng(0)
    batches = [[tuple((2 * rng.integers(0, 2, size=(B, d)) - 1).astype(np.int8) for _ in range(2)) for _ in range(T)]
               for _ in range(ROWS // B)]
    seeds = [DTM.step_seeds(0, 0, b, stack.steps) for b in range(len(batches))]
    sampler.run(h, data, batches[0], 1.0, seeds[0])                      # warm-up
    blas = one_blas_thread()
    t = time.perf_counter()
    updates = sum(int(sampler.run(h, data, pairs, 1.0, seeds[b])[2].sum())
                  for _ in range(EPOCHS) for b, pairs in enumerate(batches))
    seconds, updates = (time.perf_counter() - t) / EPOCHS, updates // EPOCHS
    if blas is not None:
        blas.restore_original_limits()
    return seconds, updates


def couplings_per_update(prog) -> float:
    """Couplings a spin update reads on average in the model phase (the stacked steps with x_t
    clamped): the work per update, against the probe's 4 on its 2D lattice."""
    ir = prog.ir
    spec = chain_spec(ir)
    stack = DTM.StackedSteps(ir, spec, spec.steps)
    copies = np.concatenate([o + ir.num_spins + np.arange(len(spec.data_index)) for o in stack.offsets])
    free = np.setdiff1d(np.arange(stack.template.num_spins), np.r_[copies, stack.template.clamp_index])
    return float(np.diff(stack.template.J.indptr)[free].mean())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--rounds", type=int, default=ROUNDS, help=f"rounds, best of each phase kept (default {ROUNDS})")
    args = ap.parse_args(argv)
    info = cpu_info()
    print(f"CPU: {info['cpu']}, SIMD: {info['simd']}")
    probe = Probe()
    if not probe.available:
        raise SystemExit("train.py reports ratios to the probe and needs a C compiler")
    rows = []
    for name in MODELS:
        prog = pb.compile(f"examples/{name}.pb")
        d = len(chain_spec(prog.ir).data_index)
        reads = couplings_per_update(prog)
        data = np.random.default_rng(0).integers(0, 2, size=(ROWS, d))
        for label, backend, options in BACKENDS:
            of_alone = []
            pb.train(prog, data[:2 * B], epochs=1, seed=0, backend=backend, batch_size=B,     # warm-up (numba)
                     backend_options=options)
            best = {}
            for _ in range(args.rounds):                # rounds: the probe and every phase in turn, best of each
                best["probe"] = max(best.get("probe", 0.0), probe.run(64, 64, 400, 2, repeats=1))
                t = time.perf_counter()
                model = pb.train(prog, data, epochs=EPOCHS, seed=0, backend=backend, batch_size=B,
                                 backend_options=options)
                phases = {"train epoch": ((time.perf_counter() - t) / EPOCHS, model.info["spin_updates"] / EPOCHS)}
                phases["sampling alone"] = sampling_alone(prog, backend, options)
                (t_train, u_train), (t_alone, u_alone) = phases["train epoch"], phases["sampling alone"]
                of_alone.append(u_train / t_train / (u_alone / t_alone))
                t = time.perf_counter()
                gen = model.generate(num=256, backend=backend, seed=1, **options)
                phases["generate 256"] = (time.perf_counter() - t, gen.info["spin_updates"])
                for phase, (seconds, updates) in phases.items():
                    if updates / seconds > best.get(phase, (1.0, 0))[1] / best.get(phase, (1.0, 0))[0]:
                        best[phase] = (seconds, updates)
            alone = best["sampling alone"][1] / best["sampling alone"][0]
            for phase in ("train epoch", "sampling alone", "generate 256"):
                seconds, updates = best[phase]
                rate = updates / seconds / 1e9
                rows.append({"model": name, "backend": label, "phase": phase, "seconds": seconds,
                             "updates_per_ns": rate, "probe_updates_per_ns": best["probe"],
                             "ratio": rate / best["probe"], "of_sampling_alone": rate * 1e9 / alone,
                             "median_of_alone": statistics.median(of_alone) if phase == "train epoch" else None,
                             "couplings_per_update": reads, "per_coupling_ratio": rate / best["probe"] * reads / PROBE_READS,
                             "seconds_per_sample": seconds / 256 if phase.startswith("generate") else None, **info})
    print_table(rows, [("model", "model", "11"), ("backend", "backend", "13"), ("phase", "phase", "15"),
                       ("seconds", "seconds", "8.3f"), ("upd/ns", "updates_per_ns", "7.3f"),
                       ("probe", "probe_updates_per_ns", "6.3f"), ("ratio", "ratio", "6.2f"),
                       ("of alone", "of_sampling_alone", "8.2f"), ("median", "median_of_alone", "6.2f"), ("reads", "couplings_per_update", "6.1f"),
                       ("per read", "per_coupling_ratio", "8.2f")])
    print(f"\nwrote {write_json('train', rows)}")


if __name__ == "__main__":
    main()
