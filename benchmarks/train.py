"""Training and generation speed of a denoising chain, beside the C probe, same run.

Model: examples/digits_dtm.pb (64 visible bits + 32 hidden spins per step, T = 4, K = 25) on
random bit data (the speed does not depend on the data).  Reports seconds per epoch and per
generated sample, and spin updates performed per ns as a ratio to the probe's on the 2D
L=64 × 64-chain lattice.  The step models are dense (≈40 couplings per spin against the
probe's 4), so the row "sampling alone" — the same sampler on the same models with no training
around it — is the yardstick for training overhead.  Prints a table, writes
benchmarks/results/train.json."""
from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import Probe, write_json  # noqa: E402

import pbitlang as pb  # noqa: E402


def main():
    probe = Probe().run(64, 64, 400, 2)
    prog = pb.compile("examples/digits_dtm.pb")
    data = np.random.default_rng(0).integers(0, 2, size=(1024, 64))
    rows = []
    for backend in ("reference", "emulator"):
        pb.train(prog, data[:128], epochs=1, seed=0, backend=backend, batch_size=64)     # warm-up (numba)
        t = time.perf_counter()
        model = pb.train(prog, data, epochs=2, seed=0, backend=backend, batch_size=64)
        epoch_s = (time.perf_counter() - t) / 2
        upd = model.info["spin_updates"] / 2
        model.generate(num=16, backend=backend, seed=0)
        t = time.perf_counter()
        gen = model.generate(num=256, backend=backend, seed=1)
        gen_s = time.perf_counter() - t
        from pbitlang.dtm.chain import chain_spec
        from pbitlang.dtm.train import StackedSteps
        stacked = StackedSteps(prog.ir, chain_spec(prog.ir), len(model.thetas)).model(model.thetas)
        t = time.perf_counter()
        alone = pb.Program(stacked).sample(backend, chains=64, sweeps=400, thin=400, seed=0)
        alone_s = time.perf_counter() - t
        for what, seconds, updates in (("train epoch", epoch_s, upd), ("generate 256", gen_s, gen.info["spin_updates"]),
                                       ("sampling alone", alone_s, alone.info["spin_updates"])):
            rate = updates / seconds / 1e9
            rows.append({"backend": backend, "phase": what, "seconds": seconds, "updates_per_ns": rate,
                         "probe_updates_per_ns": probe, "ratio": rate / probe,
                         "seconds_per_sample": seconds / 256 if what.startswith("generate") else None})
    print("(sampling alone: the reference sampler on the same T stacked step models, 64 chains, no training)")
    print(f"{'backend':10} {'phase':14} {'seconds':>8} {'upd/ns':>8} {'probe':>7} {'ratio':>6}")
    for r in rows:
        print(f"{r['backend']:10} {r['phase']:14} {r['seconds']:8.2f} {r['updates_per_ns']:8.3f} "
              f"{r['probe_updates_per_ns']:7.3f} {r['ratio']:6.2f}")
    print(f"\nwrote {write_json('train', rows)}")


if __name__ == "__main__":
    main()
