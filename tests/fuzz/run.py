"""The fuzz campaign: N cases of every class (tests/fuzz/cases.py), each in a worker process under
an address-space limit and a per-case timeout; a summary by class and outcome.

    python tests/fuzz/run.py --cases 100000 --seed 0 [--timeout 5] [--memory 4G] [--classes program,file]

A case that raises anything but a PbitError, ends a command with an internal error, exhausts the
memory limit, runs past the timeout or kills the worker (a crash) is a defect; the report lists
the first few of each kind.  Writes benchmarks/results/fuzz.json.  Exit status 1 when any defect
was found."""
from __future__ import annotations

import argparse
import collections
import json
import multiprocessing as mp
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.fuzz.cases import CLASSES, describe, make_case, run_case  # noqa: E402

DEFECT_EXAMPLES = 3


def _worker(conn, memory: int, folder: str) -> None:
    resource.setrlimit(resource.RLIMIT_AS, (memory, memory))
    import warnings
    warnings.simplefilter("ignore")
    while True:
        try:
            case = conn.recv()
        except EOFError:
            return
        conn.send(run_case(case, Path(folder)))


class Worker:
    """One process that runs cases until one hangs or kills it; then a fresh one."""

    def __init__(self, memory: int, folder: str):
        self.memory, self.folder, self.proc = memory, folder, None

    def run(self, case: dict, timeout: float) -> str:
        if self.proc is None or not self.proc.is_alive():
            self.conn, child = mp.Pipe()
            self.proc = mp.get_context("fork").Process(target=_worker, args=(child, self.memory, self.folder),
                                                       daemon=True)
            self.proc.start()
        self.conn.send(case)
        if self.conn.poll(timeout):
            try:
                return self.conn.recv()
            except EOFError:
                pass
        if self.proc.is_alive():
            self.proc.kill()
            self.proc.join()
            self.proc = None
            return "timeout", ""
        code = self.proc.exitcode
        self.proc = None
        return (f"crash:signal {-code}" if code and code < 0 else f"crash:exit {code}"), ""


def dump(folder: Path, k: int, cls: str, outcome: str, case: dict) -> None:
    """Case k as a file a person (or tests/fuzz/replay) can run again: the bytes of a file case,
    the text of a program, the argv of a command line."""
    folder.mkdir(parents=True, exist_ok=True)
    stem = folder / f"{k:06d}-{cls}-{outcome.replace(':', '_').replace(' ', '_')}"
    if "bytes" in case:
        stem.with_suffix(".bin").write_bytes(case["bytes"])
    meta = {key: value for key, value in case.items() if key != "bytes"}
    stem.with_suffix(".json").write_text(json.dumps(meta, default=str))


def parse_size(text: str) -> int:
    units = {"K": 2**10, "M": 2**20, "G": 2**30}
    return int(float(text[:-1]) * units[text[-1].upper()]) if text[-1].upper() in units else int(text)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--cases", type=int, default=1000, help="cases in all, spread over the classes")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--timeout", type=float, default=5.0, help="seconds per case")
    p.add_argument("--memory", default="4G", help="address-space limit of the worker")
    p.add_argument("--classes", default=",".join(CLASSES))
    p.add_argument("--dump", type=Path, help="write every defect's case into this folder, to replay it")
    args = p.parse_args(argv)
    classes = args.classes.split(",")
    counts: dict = collections.defaultdict(collections.Counter)
    examples: dict = collections.defaultdict(list)
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        # the good files the damaged ones start from, made in a process of their own: the workers are
        # forked from this one, which must not have started numba's threads
        subprocess.run([sys.executable, "-c", "import sys; from pathlib import Path; sys.path.insert(0, sys.argv[1]); "
                        "from tests.fuzz.cases import good_files; good_files(Path(sys.argv[2]))", str(ROOT), folder],
                       check=True)
        worker = Worker(parse_size(args.memory), folder)
        rng = random.Random(args.seed)
        for k in range(args.cases):
            cls = classes[k % len(classes)]
            case = make_case(cls, rng, Path(folder))
            # a first, slow case (imports, kernel loading) must not count as a hang
            outcome, where = worker.run(case, args.timeout * (6 if k < len(classes) else 1))
            counts[cls][outcome] += 1
            if outcome not in ("ok", "user-error") and args.dump:
                dump(args.dump, k, cls, outcome, case)
            if outcome not in ("ok", "user-error") and len(examples[(cls, outcome)]) < DEFECT_EXAMPLES:
                examples[(cls, outcome)].append(describe(case) + (f"\n    → {where}" if where else ""))
            if (k + 1) % 500 == 0:
                print(f"{k + 1} cases, {time.perf_counter() - t0:.0f} s", file=sys.stderr, flush=True)
    defects = {f"{cls}/{o}": n for cls, c in counts.items() for o, n in c.items() if o not in ("ok", "user-error")}
    print(f"{args.cases} cases (seed {args.seed}, timeout {args.timeout} s, memory {args.memory}) in "
          f"{time.perf_counter() - t0:.0f} s")
    for cls in classes:
        print(f"  {cls:8} " + ", ".join(f"{o} {n}" for o, n in counts[cls].most_common()))
    print(f"defects: {sum(defects.values())}" + "".join(f"\n  {k}: {n}" for k, n in sorted(defects.items())))
    for (cls, outcome), cases in sorted(examples.items()):
        print(f"\n== {cls} / {outcome}")
        for text in cases:
            print("  " + text.replace("\n", "\n  "))
    out = ROOT / "benchmarks" / "results"
    out.mkdir(parents=True, exist_ok=True)
    (out / "fuzz.json").write_text(json.dumps({
        "cases": args.cases, "seed": args.seed, "timeout_s": args.timeout, "memory": args.memory,
        "counts": {c: dict(v) for c, v in counts.items()}, "defects": defects,
        "examples": {f"{c}/{o}": v for (c, o), v in examples.items()}}, indent=2))
    return 1 if defects else 0


if __name__ == "__main__":
    sys.exit(main())
