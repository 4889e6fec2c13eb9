"""How hardware limits change what the emulator samples: total variation distance (TVD)
to the exact distribution of the original model, against weight bits and against the
RNG's bias, on a seeded random 10-spin model.  Writes benchmarks/results/emulator_study.json
and, with matplotlib installed, emulator_study.png (into benchmarks/results, or docs with --figures docs)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path


sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, write_json  # noqa: E402

import pbitlang as pb  # noqa: E402
from pbitlang.backends.emulator import load_fabric  # noqa: E402
from pbitlang.testing import random_model_source, tvd_report  # noqa: E402

RUN = {"chains": 32, "sweeps": 4000, "thin": 4, "burn_in": 100}


def tvd(prog, fabric, seed):
    """(TVD of the fabric's samples, TVD of the ideal fabric's with the same run and seed): the second
    is what sampling noise alone gives this run (the suite's tail bound is far above it for these
    slowly mixing chains, see pbitlang.testing)."""
    res = prog.sample("emulator", fabric=fabric, seed=seed, **RUN)
    ideal = prog.sample("emulator", fabric="ideal", seed=seed, **RUN)
    return tvd_report(res)["tvd"], tvd_report(ideal)["tvd"]


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--figures", default=str(ROOT / "benchmarks" / "results"),
                    help="folder for the PNG figures (default benchmarks/results; pass docs to refresh the docs' pictures)")
    args = ap.parse_args(argv)
    prog = pb.compile(random_model_source(11, n=10, kbody=False, clamps=False, bits=False))
    fpga = load_fabric("fpga")
    fine = {**fpga.arithmetic, "lut_size": 1 << 14, "lut_bits": 24, "acc_bits": 20}
    bits_rows = []
    for bits in (2, 3, 4, 5, 6, 8, 10, 12):
        fab = fpga.with_overrides({"arithmetic": {**fine, "weight_bits": bits, "bias_bits": bits},
                                   "rng": {"kind": "perfect"}})
        d, tol = tvd(prog, fab, seed=bits)
        bits_rows.append({"weight_bits": bits, "tvd": d, "sampling_noise": tol})
    bias_rows = []
    for bias in (0.0, 0.005, 0.01, 0.02, 0.05, 0.1):
        fab = fpga.with_overrides({"arithmetic": {**fine, "weight_bits": 12, "bias_bits": 12},
                                   "rng": {"kind": "analog", "bias": 0.0, "bias_sigma": bias,
                                           "decorrelation_time_s": 0.0, "seed": 3}})
        d, tol = tvd(prog, fab, seed=17)
        bias_rows.append({"rng_bias_sigma": bias, "tvd": d, "sampling_noise": tol})
    print(f"{'weight bits':>11} {'TVD':>8} {'noise':>8}")
    for r in bits_rows:
        print(f"{r['weight_bits']:>11} {r['tvd']:8.4f} {r['sampling_noise']:8.4f}")
    print(f"\n{'RNG bias σ':>11} {'TVD':>8} {'noise':>8}")
    for r in bias_rows:
        print(f"{r['rng_bias_sigma']:>11} {r['tvd']:8.4f} {r['sampling_noise']:8.4f}")
    path = write_json("emulator_study", {"run": RUN, "weight_bits": bits_rows, "rng_bias": bias_rows})
    print(f"\nwrote {path}")
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        print("matplotlib is not installed (pip install 'pbitlang[plot]'): no figure")
        return
    fig, axes = plt.subplots(1, 2, figsize=(9, 3.4))
    ax = axes[0]
    ax.semilogy([r["weight_bits"] for r in bits_rows], [r["tvd"] for r in bits_rows], "o-", label="emulator")
    ax.semilogy([r["weight_bits"] for r in bits_rows], [r["sampling_noise"] for r in bits_rows], "k--",
                label="sampling noise (ideal fabric, same run)")
    ax.set_xlabel("weight and bias bits")
    ax.set_ylabel("TVD to the exact distribution")
    ax.legend()
    ax = axes[1]
    ax.semilogy([r["rng_bias_sigma"] for r in bias_rows], [r["tvd"] for r in bias_rows], "o-")
    ax.semilogy([r["rng_bias_sigma"] for r in bias_rows], [r["sampling_noise"] for r in bias_rows], "k--")
    ax.set_xlabel("RNG bias spread σ (per p-bit)")
    fig.suptitle("Random 10-spin model: what finite precision and RNG bias cost")
    fig.tight_layout()
    out = Path(args.figures) / "emulator_study.png"
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
