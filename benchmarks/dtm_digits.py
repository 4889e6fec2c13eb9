"""DTM evaluation on scikit-learn's 8×8 digits (binarised): a DTM with the adaptive correlation
penalty (ACP), the same without ACP, and a monolithic EBM of the same size and sampling budget
(one step of T·K sweeps whose coupling to the noise is negligible).

Metrics against held-out digits: a Fréchet distance on the hidden features of a small fixed
MLP classifier trained on the training digits (an FID analogue), a Gaussian-kernel MMD on the
pixels, the autocorrelation the model-phase chains reached, and a picture grid.  Also the energy
per generated sample on the dtca fabric's cost model.  Every model is trained and sampled with
--seeds seeds (default 5; the printout gives each and their mean and range, the picture seed 0's).
Needs scikit-learn (and matplotlib for the picture).  Writes benchmarks/results/dtm_digits.json and
docs/dtm_digits.png when asked (--figures docs)."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy import linalg

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, write_json  # noqa: E402

import pbitlang as pb  # noqa: E402
from pbitlang.dtm.data import binarized_digits  # noqa: E402


def features(clf, X):
    """Hidden-layer activations (ReLU) of the fixed classifier."""
    return np.maximum(X @ clf.coefs_[0] + clf.intercepts_[0], 0)


def frechet(a, b):
    mu1, mu2 = a.mean(0), b.mean(0)
    s1, s2 = np.cov(a, rowvar=False), np.cov(b, rowvar=False)
    covmean = linalg.sqrtm(s1 @ s2)
    covmean = covmean.real if np.iscomplexobj(covmean) else covmean
    return float(((mu1 - mu2) ** 2).sum() + np.trace(s1 + s2 - 2 * covmean))


def mmd(a, b, sigma):
    def k(x, y):
        d = ((x[:, None, :] - y[None, :, :]) ** 2).sum(-1)
        return np.exp(-d / (2 * sigma ** 2))
    return float(k(a, a).mean() + k(b, b).mean() - 2 * k(a, b).mean())


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--epochs", type=int, default=30)
    ap.add_argument("--steps", type=int, default=4)
    ap.add_argument("--sweeps", type=int, default=25)
    ap.add_argument("--hidden", type=int, default=32)
    ap.add_argument("--num", type=int, default=500)
    ap.add_argument("--warmup", type=int, default=20, help="warm-up sweeps per gradient estimate")
    ap.add_argument("--spacing", type=int, default=2, help="sweeps between the samples of an estimate")
    ap.add_argument("--acp-target", type=float, default=0.3)
    ap.add_argument("--seeds", type=int, default=5, help="training seeds per model (the table gives their mean and range)")
    ap.add_argument("--tag", default="", help="suffix of the JSON and PNG names")
    ap.add_argument("--figures", default=str(ROOT / "benchmarks" / "results"),
                    help="folder for the PNG figures (default benchmarks/results; pass docs to refresh the docs' pictures)")
    args = ap.parse_args(argv)
    from sklearn.neural_network import MLPClassifier
    bits, labels = binarized_digits()
    rng = np.random.default_rng(0)
    order = rng.permutation(len(bits))
    train_idx, test_idx = order[:1500], order[1500:]
    clf = MLPClassifier(hidden_layer_sizes=(32,), max_iter=600, random_state=0).fit(bits[train_idx], labels[train_idx])
    held = bits[test_idx].astype(float)
    f_held = features(clf, held)
    sigma = float(np.median(np.sqrt(((held[:100, None] - held[None, :100]) ** 2).sum(-1))))
    T, K = args.steps, args.sweeps
    params = {"H": args.hidden, "T": T, "K": K}
    dtm = pb.compile("examples/digits_dtm.pb", params=params)
    mono_src = (ROOT / "examples" / "digits_dtm.pb").read_text().replace(
        "noise flip(schedule = cosine);", "noise flip(schedule = [0.499]);")
    mono = pb.compile(mono_src, params={**params, "T": 1, "K": T * K})
    runs = [("DTM + ACP", dtm, {"acp": True}), ("DTM, no ACP", dtm, {"acp": False}),
            ("monolithic EBM", mono, {"acp": False})]
    rows, grids = [], {}
    metrics = ("frechet", "mmd", "autocorrelation", "train_s", "generate_s_per_sample", "classifier_confidence")
    for name, prog, opts in runs:
        per_seed = []
        for seed in range(args.seeds):
            t = time.perf_counter()
            model = pb.train(prog, bits[train_idx], epochs=args.epochs, seed=seed, lr=0.02, batch_size=100,
                             warmup_sweeps=args.warmup, spacing=args.spacing, acp_target=args.acp_target, **opts)
            train_s = time.perf_counter() - t
            t = time.perf_counter()
            gen = model.generate(num=args.num, seed=1000 + seed)
            gen_s = time.perf_counter() - t
            x = gen.variables("x").astype(float)
            last = model.info["final"]
            per_seed.append({"seed": seed, "frechet": frechet(features(clf, x), f_held), "mmd": mmd(x, held, sigma),
                             "autocorrelation": float(np.mean([r["autocorr"] for r in last])),
                             "lambda": model.info["lambdas"], "train_s": train_s,
                             "generate_s_per_sample": gen_s / args.num,
                             "classifier_confidence": float(clf.predict_proba(x).max(1).mean())})
            if seed == 0:
                grids[name] = x[:32]
                cost = model.generate(num=8, seed=2, backend="emulator", fabric="dtca",
                                      fabric_overrides={"topology": None, "max_degree": None, "capacity": None,
                                                        "colors": None})
                energy = cost.info["energy_per_sample_J"]
            r = per_seed[-1]
            print(f"{name:16} seed {seed}  Fréchet {r['frechet']:8.3f}  MMD {r['mmd']:.4f}  autocorr "
                  f"{r['autocorrelation']:.3f}  train {train_s:.0f} s", flush=True)
        row = {"model": name, "seeds": per_seed, "lambda": per_seed[0]["lambda"], "dtca_energy_per_sample_J": energy}
        for key in metrics:
            values = [r[key] for r in per_seed]
            row[key], row[key + "_range"] = float(np.mean(values)), [float(min(values)), float(max(values))]
        rows.append(row)
        print(f"{name:16} mean    Fréchet {row['frechet']:8.3f} ({row['frechet_range'][0]:.2f}–"
              f"{row['frechet_range'][1]:.2f})  MMD {row['mmd']:.4f}", flush=True)
    ref = {"model": "held-out vs train digits", "frechet": frechet(features(clf, bits[train_idx][:500].astype(float)), f_held),
           "mmd": mmd(bits[train_idx][:500].astype(float), held, sigma)}
    print(f"{'data itself':16} Fréchet {ref['frechet']:8.3f}  MMD {ref['mmd']:.4f}")
    path = write_json("dtm_digits" + args.tag, {"settings": vars(args), "rows": rows, "reference": ref})
    print(f"wrote {path}")
    from pbitlang.errors import MissingExtra
    from pbitlang.plot import image_grid, new_figure, save
    try:
        fig = new_figure(12, 3.4)
    except MissingExtra as err:
        print(f"{err}: no figure")
        return
    panels = [("held-out digits", held[:32])] + list(grids.items())
    for k, (title, imgs) in enumerate(panels):
        ax = fig.add_subplot(1, len(panels), k + 1)
        ax.imshow(image_grid(np.asarray(imgs[:32], dtype=float).reshape(-1, 8, 8), columns=8), cmap="gray_r",
                  vmin=0, vmax=1, interpolation="nearest")
        ax.set_title(title)
        ax.axis("off")
    fig.tight_layout()
    out = Path(args.figures) / f"dtm_digits{args.tag}.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    save(fig, out)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
