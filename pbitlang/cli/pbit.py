"""pbit: run programs on a backend and list backends."""
from __future__ import annotations

import json
import sys

import numpy as np

from ..api import TrainedModel, load, train
from ..api import compile as compile_program
from ..backends import get_backend, list_backends
from ..errors import OptionError
from .common import EXIT_INTERRUPTED, Parser, defines, run_main


def build_parser() -> Parser:
    p = Parser(prog="pbit", description="Run pbit programs on a sampling backend.")
    sub = p.add_subparsers(dest="command", required=True)
    r = sub.add_parser("run", help="sample a program (.pb or .pbir)")
    r.add_argument("program")
    r.add_argument("-D", dest="defines", action="append", metavar="NAME=VALUE")
    r.add_argument("--backend", default="cpu")
    r.add_argument("--chains", type=int, default=16)
    r.add_argument("--sweeps", type=int, default=1000)
    r.add_argument("--burn-in", type=int, default=100)
    r.add_argument("--thin", type=int, default=1)
    r.add_argument("--beta", help="inverse temperature, or LO:HI for a linear anneal over the run")
    r.add_argument("--seed", type=int, default=0)
    r.add_argument("--initial", default="random", choices=["random", "up", "down"])
    r.add_argument("--given", action="append", metavar="VAR[i,j]=V", help="extra evidence (repeatable)")
    r.add_argument("--fabric", help="fabric profile, for the emulator backend")
    r.add_argument("--tempering", metavar="R:BETA_MIN[:adaptive]",
                   help="parallel tempering with R replicas per chain from BETA_MIN up to the run's β")
    r.add_argument("--option", action="append", metavar="KEY=VALUE", help="any other backend option")
    r.add_argument("-o", "--output", help="write samples (npz + JSON)")
    r.add_argument("--json", action="store_true", help="print one JSON summary on stdout")
    r.add_argument("--progress", action="store_true", help="progress lines on stderr even when it is not a terminal")
    sub.add_parser("backends", help="list installed backends")
    t = sub.add_parser("train", help="train a denoising chain on data")
    t.add_argument("program")
    t.add_argument("-D", dest="defines", action="append", metavar="NAME=VALUE")
    t.add_argument("--data", required=True, help=".npy or .npz array (num, size of the chain's variables); "
                                                 "'digits' for scikit-learn's 8×8 digits (binarised)")
    t.add_argument("--chain")
    t.add_argument("--epochs", type=int, default=10)
    t.add_argument("--batch-size", type=int, default=64)
    t.add_argument("--lr", type=float, default=0.02)
    t.add_argument("--warmup-sweeps", type=int, default=20)
    t.add_argument("--samples", type=int, default=4, help="samples per gradient estimate")
    t.add_argument("--spacing", type=int, default=2, help="sweeps between those samples")
    t.add_argument("--no-acp", action="store_true", help="turn the adaptive correlation penalty off")
    t.add_argument("--backend", default="cpu", help="sampler for both phases (cpu, reference, emulator, …)")
    t.add_argument("--fabric", help="fabric profile, for the emulator backend")
    t.add_argument("--option", action="append", metavar="KEY=VALUE",
                   help="any other backend option, e.g. threads=2 (repeatable)")
    t.add_argument("--seed", type=int, default=0)
    t.add_argument("-o", "--output", default="trained.pbir")
    t.add_argument("--checkpoint", help="directory for checkpoints and metrics.jsonl")
    t.add_argument("--resume", help="checkpoint directory or file to continue from")
    g = sub.add_parser("generate", help="generate samples from a trained chain")
    g.add_argument("model")
    g.add_argument("--chain")
    g.add_argument("--num", type=int, default=64)
    g.add_argument("--backend", default="cpu")
    g.add_argument("--fabric")
    g.add_argument("--sweeps", type=int, help="Gibbs sweeps per denoising step (default: the chain's)")
    g.add_argument("--beta", help="inverse temperature, or LO:HI for a linear anneal within each step")
    g.add_argument("--option", action="append", metavar="KEY=VALUE",
                   help="any other backend option, e.g. threads=2 (repeatable)")
    g.add_argument("--seed", type=int, default=0)
    g.add_argument("-o", "--output")
    g.add_argument("--json", action="store_true")
    return p


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
            return np.linspace(lo, hi, burn_in + sweeps)
        return float(text)
    except ValueError:
        raise OptionError(f"--beta takes a number or LO:HI, got '{text}'") from None


def _progress(force: bool = False):
    tty = sys.stderr.isatty()
    if not tty and not force:
        return None
    last = [-1]

    def report(done, total):
        pct = int(100 * done / max(total, 1))
        if pct != last[0]:
            last[0] = pct
            line = f"sampling: {pct:3d}% ({done}/{total} sweeps)"
            if tty:
                print("\r" + line, end="" if done < total else "\n", file=sys.stderr, flush=True)
            else:
                print(line, file=sys.stderr, flush=True)
    return report


def _run(args) -> int:
    if args.program.endswith(".pbir"):
        if args.defines:
            raise OptionError("-D applies to .pb programs; a .pbir file is already compiled")
        prog = load(args.program)
    else:
        prog = compile_program(args.program, defines(args.defines))
    options = {"chains": args.chains, "sweeps": args.sweeps, "burn_in": args.burn_in, "thin": args.thin,
               "seed": args.seed, "beta": _beta(args.beta, args.burn_in, args.sweeps)}
    backend = get_backend(args.backend)
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
    if args.fabric:
        options["fabric"] = args.fabric
    if args.tempering:
        parts = args.tempering.split(":")
        try:
            options["tempering"] = {"replicas": int(parts[0]), **({"beta_min": float(parts[1])} if len(parts) > 1 else {}),
                                    **({"ladder": parts[2]} if len(parts) > 2 else {})}
        except ValueError:
            raise OptionError(f"--tempering takes R:BETA_MIN[:adaptive], got '{args.tempering}'") from None
    options.update(_backend_options(args.option))
    progress = _progress(args.progress)
    if progress is not None and "progress" in backend.options and (args.progress or not args.json):
        options["progress"] = progress
    res = backend.sample(prog.ir, **options)
    if args.output:
        res.save(args.output)
    summary = res.summary()
    if args.json:
        print(json.dumps(summary, default=float))
    else:
        _print_summary(summary, args.output)
    if res.info.get("interrupted"):
        print("pbit: interrupted; kept the samples drawn so far" + (f" in {args.output}" if args.output else ""),
              file=sys.stderr)
        return EXIT_INTERRUPTED
    return 0


def _print_summary(s: dict, output):
    print(f"backend {s['backend']}: {s['num_spins']} spins, {s['num_colors']} colours, "
          f"{s['samples']} samples from {s['chains']} chains")
    if "energy" in s:
        e = s["energy"]
        print(f"  energy       {e['mean']:.6g} ± {e['se']:.2g}   (τ_int {e['tau']:.1f}, ESS {e['ess']:.0f})")
    for name, o in s.get("observables", {}).items():
        mean, se = np.asarray(o["mean"]), np.asarray(o["se"])
        if mean.ndim == 0:
            print(f"  {name:12} {float(mean):.6g} ± {float(se):.2g}")
        else:
            print(f"  {name:12} shape {list(mean.shape)}: " + " ".join(f"{m:.4g}" for m in mean.ravel()[:8])
                  + (" …" if mean.size > 8 else ""))
    for name, c in s.get("constraints", {}).items():
        print(f"  constraint {name}: violated in {100 * c['violated_fraction']:.1f}% of samples")
    if "spin_updates_per_s" in s and s["spin_updates_per_s"]:
        print(f"  {s['spin_updates_per_s'] / 1e9:.3g} spin updates per ns")
    if "energy_per_sample_J" in s:
        print(f"  {s['energy_per_sample_J']:.3g} J and {s['latency_per_sample_s']:.3g} s per sample (emulated)")
    if output:
        print(f"  samples written to {output}")


def _load_data(text: str):
    from ..errors import DataError
    if text == "digits":
        from ..dtm.data import binarized_digits
        return binarized_digits()[0]
    try:
        with open(text, "rb"):
            pass
        data = np.load(text, allow_pickle=False)
        if hasattr(data, "files"):
            if len(data.files) != 1:
                raise DataError(f"{text}: an .npz with training data must hold one array (has {', '.join(data.files)})")
            data = data[data.files[0]]
        return data
    except (OSError, ValueError) as err:
        raise DataError(f"cannot load training data '{text}': {err}") from None


def _train(args) -> int:
    prog = compile_program(args.program, defines(args.defines))
    data = _load_data(args.data)
    progress = None
    if sys.stderr.isatty():
        def progress(done, total):
            print(f"\rtraining: epoch {done}/{total}", end="" if done < total else "\n", file=sys.stderr, flush=True)
    model = train(prog, data, chain=args.chain, epochs=args.epochs, seed=args.seed, checkpoint=args.checkpoint,
                  resume=args.resume, progress=progress, batch_size=args.batch_size, lr=args.lr,
                  warmup_sweeps=args.warmup_sweeps, samples_per_estimate=args.samples, spacing=args.spacing,
                  acp=not args.no_acp, backend=args.backend,
                  backend_options={**({"fabric": args.fabric} if args.fabric else {}), **_backend_options(args.option)})
    model.save(args.output)
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
    model = load(args.model)
    if not isinstance(model, TrainedModel):
        raise OptionError(f"{args.model} holds no trained chain (train one with 'pbit train')")
    opts = _backend_options(args.option)
    if args.fabric:
        opts["fabric"] = args.fabric
    if args.sweeps is not None:
        opts["sweeps"] = args.sweeps
    if args.beta is not None:                      # LO:HI anneals within each step: one value per sweep of a step
        from ..dtm.chain import chain_spec
        sweeps = args.sweeps if args.sweeps is not None else chain_spec(model.base_ir, model.chain).sweeps
        opts["beta"] = _beta(args.beta, 0, sweeps)
    res = model.generate(chain=args.chain, num=args.num, backend=args.backend, seed=args.seed, **opts)
    if args.output:
        res.save(args.output)
    summary = res.summary()
    summary["steps"] = res.info["steps"]
    if args.json:
        print(json.dumps(summary, default=float))
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
    return _run(args)


def main(argv=None) -> int:
    return run_main(_main, sys.argv[1:] if argv is None else argv, "pbit")


def entry():
    sys.exit(main())


if __name__ == "__main__":
    entry()
