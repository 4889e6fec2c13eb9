"""Chains on a Dask cluster against one process, on this machine: 2D Ising L=256, 256 chains, in one
process with threads=1 and on a LocalCluster of 2 worker processes (one thread each), spin updates
per ns of wall time for the whole call; the digits DTM's training (examples/digits_dtm.pb, T = 4,
1024 rows of random data, batch 64) in one process and with each step a task; the fixed cost of a
small run (cluster start, scatter, gather); and what a shard moves (the model once per worker, its
kept states back).

Prints a table and writes benchmarks/results/cluster.json.  (Not named distributed.py: run as a script, the
benchmarks folder comes first on sys.path and the name would hide the dask.distributed package.)"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import cpu_info, print_table, write_json  # noqa: E402

import pbitlang as pb  # noqa: E402


def timed(call) -> tuple:
    t = time.perf_counter()
    out = call()
    return time.perf_counter() - t, out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--L", type=int, default=256)
    ap.add_argument("--chains", type=int, default=256)
    ap.add_argument("--sweeps", type=int, default=40)
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--train-epochs", type=int, default=3, help="epochs of the digits DTM's training (0: skip it)")
    args = ap.parse_args(argv)
    from pbitlang.distributed import local_client
    info = cpu_info()
    print(f"CPU: {info['cpu']}, SIMD: {info['simd']}")
    prog = pb.compile("examples/ising2d.pb", params={"L": args.L})
    n, C, S = prog.ir.num_spins, args.chains, args.sweeps
    run = dict(chains=C, sweeps=S, thin=S, seed=0)                         # one kept state a chain
    work = n * C * S
    t_start, (client, cluster) = timed(lambda: local_client(args.workers))
    rows = []
    try:
        prog.sample("cpu", threads=1, **run)                               # compile, warm caches
        prog.sample("cpu", client=client, **run)
        best_local = best_far = float("inf")
        for _ in range(args.rounds):
            best_local = min(best_local, timed(lambda: prog.sample("cpu", threads=1, **run))[0])
            best_far = min(best_far, timed(lambda: prog.sample("cpu", client=client, **run))[0])
        if args.train_epochs:
            dtm = pb.compile("examples/digits_dtm.pb")
            data = np.random.default_rng(0).integers(0, 2, size=(1024, 64))
            train = dict(epochs=args.train_epochs, seed=0, batch_size=64)
            pb.train(dtm, data[:128], epochs=1)                            # compile, warm caches
            pb.train(dtm, data[:128], epochs=1, client=client)
            best_train = best_train_far = (float("inf"), None)
            for _ in range(args.rounds):
                best_train = min(best_train, timed(lambda: pb.train(dtm, data, **train)), key=lambda x: x[0])
                best_train_far = min(best_train_far, timed(lambda: pb.train(dtm, data, client=client, **train)),
                                     key=lambda x: x[0])
        small = pb.compile("examples/ising2d.pb", params={"L": 8})
        small_local = min(timed(lambda: small.sample("cpu", chains=2, sweeps=10))[0] for _ in range(5))
        small_far = min(timed(lambda: small.sample("cpu", client=client, chains=2, sweeps=10))[0] for _ in range(5))
    finally:
        t_stop = timed(lambda: (client.close(), cluster.close()))[0]
    shard_bytes = n * (C // args.workers)                                  # int8 states back per shard
    model_bytes = prog.ir.J.data.nbytes + prog.ir.J.indices.nbytes + prog.ir.J.indptr.nbytes + 3 * n * 8
    for label, seconds in (("one process, threads=1", best_local), (f"local:{args.workers} (Dask)", best_far)):
        rows.append({"model": f"ising2d L={args.L}", "chains": C, "sweeps": S, "path": label, "seconds": seconds,
                     "updates_per_ns": work / seconds / 1e9, "speedup": best_local / seconds, **info})
    if args.train_epochs:
        same = np.array_equal(best_train[1].thetas, best_train_far[1].thetas)
        for label, (seconds, model) in (("one process, threads=1", best_train),
                                        (f"local:{args.workers} (Dask)", best_train_far)):
            rows.append({"model": f"digits_dtm training, {args.train_epochs} epochs", "chains": 64, "sweeps": None,
                         "path": label, "seconds": seconds, "updates_per_ns": model.info["spin_updates"] / seconds / 1e9,
                         "speedup": best_train[0] / seconds, "same_weights": same, **info})
    print_table(rows, [("model", "model", "15"), ("chains", "chains", ">6"), ("path", "path", "24"),
                       ("s", "seconds", "7.3f"), ("upd/ns", "updates_per_ns", "7.3f"), ("speed-up", "speedup", "8.2f")])
    fixed = {"cluster_start_s": t_start, "cluster_stop_s": t_stop, "small_run_local_s": small_local,
             "small_run_dask_s": small_far, "per_run_overhead_s": small_far - small_local,
             "model_bytes_per_worker": model_bytes, "state_bytes_per_shard": shard_bytes}
    print(f"\ncluster start {t_start:.2f} s, stop {t_stop:.2f} s; a small run (L=8, 2 chains, 10 sweeps): "
          f"{small_local * 1e3:.1f} ms in one process, {small_far * 1e3:.1f} ms on the cluster "
          f"(+{(small_far - small_local) * 1e3:.1f} ms: scatter, tasks, gather)")
    print(f"moved: the model once per worker (~{model_bytes / 1e6:.1f} MB), each shard's kept states back "
          f"({shard_bytes / 1e6:.1f} MB a shard here)")
    print(f"\nwrote {write_json('cluster', {'rows': rows, 'fixed': fixed})}")


if __name__ == "__main__":
    main()
