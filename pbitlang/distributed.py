"""Chains on a Dask cluster (extra `dask`, imported on first use).

A run's chains are split into shards of consecutive chains; the model is sent to the workers once
(`scatter`), each shard is one task that runs the backend's kernel on its chains (`first_chain`),
and the shards' states are joined in chain order.  Every backend draws a chain's random numbers
from (seed, chain index) alone, so the result is the same, bit for bit, as one process running
all the chains, for any number of workers, shards and threads; a shard that Dask reruns after a
worker dies comes out the same too.  A denoising chain's steps train as tasks the same way: each
step's random streams come from (seed, step) alone (train_on)."""
from __future__ import annotations

import inspect
import math
import threading
import time
from pathlib import Path

import numpy as np

from .backends import get_backend
from .dtm.chain import chain_spec
from .dtm.training import merge_steps, program_ir, train_chain
from .errors import OptionError, PbitError, require
from .results import SampleResult, write_shard_index

ADD_UP = ("spin_updates",)                 # shard figures that add up to the run's


def shard_ranges(chains: int, shards: int) -> list:
    """(first chain, count) of each shard: consecutive chains, sizes differing by at most one."""
    shards = max(1, min(int(shards), int(chains)))
    sizes = np.full(shards, chains // shards) + (np.arange(shards) < chains % shards)
    firsts = np.r_[0, np.cumsum(sizes)[:-1]]
    return [(int(a), int(k)) for a, k in zip(firsts, sizes)]


PROGRESS_EVERY_S = 0.25                    # a shard reports its sweeps at most this often (and when it ends)


def run_shard(backend: str, ir, options: dict, folder: str | None = None, topic: str | None = None) -> tuple:
    """One shard, on a worker: (its states (kept, n, chains), its info, a tempering run's energies
    at every temperature or None); with `folder`, its samples file is written there instead and
    the states stay behind (None).  With `topic`, the shard's sweeps done go to the client as Dask
    events on that topic as it runs."""
    be = get_backend(backend)
    if topic is not None and "progress" in be.options:
        options = {**options, "progress": _sweeps_reporter(topic, options["first_chain"])}
    res = be.sample(ir, **options)
    if folder is not None:
        res.save(Path(folder) / shard_name(options["first_chain"], options["chains"]))
        return None, res.info, None
    return np.ascontiguousarray(res.native), res.info, res.ladder_energies


def _sweeps_reporter(topic: str, shard: int):
    """progress(done, total) for a shard's run on a worker: a Dask event {shard, done, total} to the
    client, at most every PROGRESS_EVERY_S and at the end."""
    from distributed import get_worker
    worker, last = get_worker(), [-math.inf]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if done >= total or now - last[0] >= PROGRESS_EVERY_S:
            last[0] = now
            worker.log_event(topic, {"shard": shard, "done": int(done), "total": int(total)})
    return progress


class _SweepCount:
    """The client's side of the workers' progress events: sweeps done over all shards, and shards
    finished, passed to progress(sweeps_done, sweeps_total) as one process would, and also
    (shards_done, shards) when progress takes four arguments."""

    def __init__(self, progress, ranges: list, sweeps: int):
        self.progress, self.shards, self.sweeps = progress, len(ranges), int(sweeps)
        try:
            inspect.signature(progress).bind(0, 0, 0, 0)
            self.with_shards = True
        except (TypeError, ValueError):
            self.with_shards = False
        self.done = {first: 0 for first, _ in ranges}
        self.finished = 0
        self.lock = threading.Lock()

    def event(self, event) -> None:                     # Dask calls it with (time, message)
        msg = event[1]
        with self.lock:
            if isinstance(msg, dict) and msg.get("shard") in self.done:
                self.done[msg["shard"]] = max(self.done[msg["shard"]], int(msg["done"]))
            self.report()

    def shard_finished(self, first: int) -> None:
        with self.lock:
            self.done[first] = self.sweeps
            self.finished += 1
            self.report()

    def report(self) -> None:
        counts = (sum(self.done.values()), self.sweeps * self.shards)
        if self.with_shards:
            self.progress(*counts, self.finished, self.shards)
        else:
            self.progress(*counts)


def shard_name(first: int, count: int) -> str:
    return f"shard-{first:012d}-{count}.npz"


def sample_on(client, backend: str, ir, shards: int | None = None, progress=None, folder=None,
              **options) -> SampleResult:
    """backend.sample(ir, **options) with the chains spread over a dask.distributed Client's
    workers: `shards` tasks (default: one per worker thread), joined into one SampleResult.
    progress(sweeps_done, sweeps_total) is called as the workers report their sweeps (every shard's,
    summed) and as shards finish; a progress that takes four arguments also gets (shards_done,
    shards).  A Ctrl-C keeps the shards that had finished (info["interrupted"], and
    info["chain_ranges"] says which chains) and cancels the rest.
    With `folder` (a path every worker can write), each shard writes its own samples file there
    and the client only its index, shards.json; the result is read back from the folder."""
    distributed = require("distributed", "dask", "sampling on a Dask cluster")
    be = get_backend(backend)
    tempering = options.get("tempering")
    if tempering and isinstance(tempering, dict) and tempering.get("ladder") == "adaptive":
        raise OptionError("an adaptive ladder adapts to the swaps of all replica sets together: on a cluster, give "
                          "a geometric ladder or a list")
    if options.get("first_chain"):
        raise OptionError("first_chain is chosen per shard when the chains run on a cluster")
    spec = be.validate(ir, {k: v for k, v in options.items() if k not in be.kernel_options and k != "tempering"})
    if tempering:                                          # the ladder's errors too, before any task
        from .backends.tempering import ladder_from
        if spec.constant_beta is None:
            raise OptionError("parallel tempering samples at one β; give tempering a ladder instead of a β schedule")
        ladder_from(tempering, spec.constant_beta)
    chains = int(options.get("chains", 1))
    if shards is None:
        shards = max(1, sum(w.get("nthreads", 1) for w in client.scheduler_info()["workers"].values()))
    if isinstance(shards, bool) or not isinstance(shards, (int, np.integer)) or shards < 1:
        raise OptionError(f"shards must be a whole number ≥ 1, got {shards!r}")
    t0 = time.perf_counter()
    model = client.scatter(ir, broadcast=True, hash=False)     # its own key: a released earlier scatter of the same
                                                              # model must not take this run's with it
    ranges = shard_ranges(chains, shards)
    if folder is not None:
        Path(folder).mkdir(parents=True, exist_ok=True)
    run_id = time.monotonic_ns()
    topic, count = None, None
    if progress is not None:
        topic = f"pbit-progress-{run_id}"
        count = _SweepCount(progress, ranges, spec.total_sweeps)
        client.subscribe_topic(topic, count.event)
    futures = [client.submit(run_shard, be.name, model, {**options, "chains": k, "first_chain": first},
                             None if folder is None else str(folder), topic, pure=False,
                             key=f"pbit-shard-{first}-{k}-{run_id}")
               for first, k in ranges]
    first_of = {f.key: first for f, (first, _) in zip(futures, ranges)}
    interrupted = False
    try:
        for future in distributed.as_completed(futures):
            if count is not None:
                count.shard_finished(first_of[future.key])
    except KeyboardInterrupt:                              # keep the shards that finished, cancel the rest
        interrupted = True
        done = [k for k, f in enumerate(futures) if f.status == "finished"]
        client.cancel([f for k, f in enumerate(futures) if k not in done])
        if not done:
            raise
        futures, ranges = [futures[k] for k in done], [ranges[k] for k in done]
    finally:
        if topic is not None:
            client.unsubscribe_topic(topic)
    parts = client.gather(futures)
    info = dict(parts[0][1])
    if interrupted:
        info["interrupted"] = True
        info["chain_ranges"] = [[first, first + count] for first, count in ranges]     # the chains kept
    info.update({key: sum(p[1].get(key, 0) for p in parts) for key in ADD_UP})
    if tempering:
        info["tempering"] = _merged_swaps([p[1]["tempering"] for p in parts])
    info["chains"] = sum(count for _, count in ranges)
    info["shards"] = len(ranges)
    info["timings"] = {"total_s": time.perf_counter() - t0,
                       "shard_sampling_s": [p[1].get("timings", {}).get("sampling_s") for p in parts]}
    info["spin_updates_per_s"] = info["spin_updates"] / info["timings"]["total_s"] if info["timings"]["total_s"] else 0.0
    if folder is not None:
        write_shard_index(folder, [(shard_name(a, k), a, k) for a, k in ranges], info)
        return SampleResult.load(folder, ir)
    res = SampleResult.from_native(ir, np.concatenate([p[0] for p in parts], axis=2), info)
    if tempering:
        res.ladder_energies = np.concatenate([p[2] for p in parts], axis=0)
    return res


def _merged_swaps(parts: list) -> dict:
    """The shards' tempering statistics as one run's: swap acceptance weighted by the swaps tried."""
    tried = np.sum([p["swaps_tried"] for p in parts], axis=0)
    accepted = np.sum([np.asarray(p["swap_acceptance"]) * np.asarray(p["swaps_tried"]) for p in parts], axis=0)
    rates = np.divide(accepted, tried, out=np.zeros(len(tried)), where=tried > 0)
    return {**parts[0], "swap_acceptance": rates.tolist(), "swaps_tried": tried.tolist()}


def train_on(client, program, data, chain=None, progress=None, **options):
    """train_chain(program, data, chain, **options) with each of the chain's denoising steps a task of
    its own on a dask.distributed Client (the program and the data sent once): the model a local run
    makes, weights to the bit.  progress(steps_done, steps) is called as steps finish.  Checkpoints
    and logs belong to one process: none here; a Ctrl-C cancels the steps (a model with some steps
    untrained is none)."""
    require("distributed", "dask", "training on a Dask cluster")
    if any(options.get(k) for k in ("checkpoint", "resume", "log")):
        raise PbitError("checkpoints and logs belong to one process: training on a cluster takes none")
    if options.get("steps") is not None:
        raise PbitError("on a cluster every step is a task of its own: leave steps out")
    ir = program_ir(program)
    steps = chain_spec(ir, chain).steps
    t0 = time.perf_counter()
    shared_ir, shared_data = client.scatter([ir, data], broadcast=True, hash=False)
    futures = [client.submit(train_chain, shared_ir, shared_data, chain=chain, steps=[t], pure=False, **options)
               for t in range(1, steps + 1)]
    return merge_steps(gather_all(client, futures, progress), seconds=time.perf_counter() - t0)


def gather_all(client, futures, progress=None) -> list:
    """The results of tasks, in order; progress(done, tasks) as they finish, when given.  A Ctrl-C
    while waiting cancels them all (one task an instance, a seed or a step: nothing partial to keep)."""
    try:
        if progress is not None:
            from distributed import as_completed
            for done, _ in enumerate(as_completed(futures), 1):
                progress(done, len(futures))
        return client.gather(futures)
    except KeyboardInterrupt:
        client.cancel(futures)
        raise


def local_client(workers: int):
    """A LocalCluster of `workers` processes (one thread each) and its Client; close both when done."""
    distributed = require("distributed", "dask", "--dask local:N")
    cluster = distributed.LocalCluster(n_workers=int(workers), threads_per_worker=1, processes=True,
                                       dashboard_address=":0")        # any free port: two clusters never clash
    return distributed.Client(cluster), cluster


def connect(address: str, timeout: float = 10.0):
    """A Client of the scheduler at `address`, or a clear error when it cannot be reached."""
    distributed = require("distributed", "dask", "--dask ADDRESS")
    try:
        return distributed.Client(address, timeout=timeout)
    except (OSError, TimeoutError) as err:
        raise OptionError(f"cannot reach the Dask scheduler at {address} ({type(err).__name__}: {err})") from None
