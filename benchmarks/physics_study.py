"""Correlated vs independent forward noise for DTMs on physical targets.

(a) the 2D Ising ferromagnet near criticality (open 16×16, β = 0.44), reference by the
    reference sampler; (b) the 3D ±J Edwards–Anderson glass (4×4×4, β = 1.2), reference by
    parallel tempering.  For each, DTMs with independent flips and with Ising-dynamics noise
    are trained on reference configurations and their generated samples compared with fresh
    reference samples: energy and |m| distributions (Wasserstein-1 distance), the spatial
    correlation function (largest gap), and for the glass P(q) (total variation distance).
    Then the 2D error against the number of steps T for three schedules, over the same seeds.
Writes benchmarks/results/physics_study.json and the figures physics_study.png and physics_steps.png
(into benchmarks/results, or docs with --figures docs)."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
from scipy.stats import wasserstein_distance

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import ROOT, map_jobs, write_json  # noqa: E402

import pbitlang as pb  # noqa: E402
from pbitlang import physics  # noqa: E402
from pbitlang.results import SampleResult  # noqa: E402

NOISES = {"independent": "noise flip(schedule = SCHED);",
          "correlated": "noise correlated(J = 0.4, sweeps = 1, schedule = SCHED);"}


def reference(prog, num, seed, tempering=None):
    chains = 32
    res = prog.sample("cpu", chains=chains, sweeps=(num // chains) * 10, burn_in=2000, thin=10, seed=seed,
                      **({"tempering": tempering} if tempering else {}))
    return res.samples[:num]


def as_result(ir, samples, chains=None):
    chains = chains or len(samples)
    return SampleResult(ir, samples, chains, {"beta": ir.beta})


def dtm_program(path, noise, schedule, T, K, L, noises=NOISES, **params):
    src = (ROOT / "examples" / path).read_text()
    src = src.replace("noise flip(schedule = cosine);", noises[noise].replace("SCHED", schedule))
    return pb.compile(src, params={"T": T, "K": K, "L": L, **params})


# The published sizes and temperatures (Singh, Mohseni-Rajaee, Niazi, Camsari, arXiv:2603.27996): the 2D
# ferromagnet 50×50 open at β = 0.453125 and the 3D ±J glass 10³ at β = 0.9091 (PT reference).  The DTMs'
# bonds have the target's couplings as their fixed part (J0 = 1, G = 1) so that the forward noise can run
# on them (graph = program, J = β: at β_t = 1 the target's own dynamics), with and without the field.
PAPER_CASES = [("ising2d", "ising2d_open.pb", {"L": 50, "B": 0.453125}, "ising_dtm.pb", {"J0": 1.0}, 50, (50, 50),
                None, False, 0.453125),
               ("ea3d", "ea3d_pt.pb", {"L": 10, "B": 0.9091}, "ea_dtm.pb", {"G": 1.0}, 10, (10, 10, 10),
                {"replicas": 16, "beta_min": 0.2}, True, 0.9091)]
Q_BINS = 20                      # P(q) of the 10³ glass on bins 0.1 wide
PAPER_NOISES = {"independent": "noise flip(schedule = SCHED);",
                "target's couplings": "noise correlated(graph = program, J = BETA, sweeps = 1, schedule = SCHED);",
                "field-free": "noise correlated(graph = program, J = BETA, field = false);"}


def paper(args) -> dict:
    """The noise comparison at the published sizes, with a reference-vs-reference floor per metric."""
    results = {"settings": vars(args), "cases": {}}
    for name, *_rest, glass, _beta in PAPER_CASES:
        keys = ["energy_W1", "absm_W1", "corr_max_gap"] + (["pq_tvd", "q_ea"] if glass else [])
        seeds = map_jobs(paper_seed, [(name, seed, args) for seed in range(args.seeds)], args.jobs)
        case = results["cases"][name] = {"seeds": [{k: {m: r[m] for m in keys} for k, r in rows.items()}
                                                   for rows in seeds]}
        case["summary"] = {k: {m: [float(np.mean([s_[k][m] for s_ in case["seeds"]])),
                                   float(np.std([s_[k][m] for s_ in case["seeds"]], ddof=1)) if args.seeds > 1 else None]
                               for m in keys} for k in case["seeds"][0]}
    print(f"wrote {write_json('physics_study_paper' + args.tag, results)}")
    return results


def paper_seed(name: str, seed: int, args) -> dict:
    """One seed of one published case: its reference sets, the floor, and each noise's metrics."""
    _, target_path, target_params, dtm_path, dtm_params, L, shape, tempering, glass, beta = \
        next(c for c in PAPER_CASES if c[0] == name)
    target = pb.compile(f"examples/{target_path}", params=target_params)
    keys = ["energy_W1", "absm_W1", "corr_max_gap"] + (["pq_tvd", "q_ea"] if glass else [])
    noises = {k: v.replace("BETA", repr(beta)) for k, v in PAPER_NOISES.items() if k in args.noises}
    train_data = reference(target, args.num, seed=1 + 10 * seed, tempering=tempering)
    ref = reference(target, args.num, seed=2 + 10 * seed, tempering=tempering)
    ref2 = reference(target, args.num, seed=4 + 10 * seed, tempering=tempering)
    rows = {"floor": compare(target.ir, ref, ref2, shape, glass, Q_BINS)}
    for noise in noises:
        prog = dtm_program(dtm_path, noise, "cosine", args.steps, args.sweeps, L, noises, **dtm_params)
        t = time.perf_counter()
        model = pb.train(prog, train_data, epochs=args.epochs, seed=seed, lr=0.03, batch_size=64)
        gen = model.generate(num=args.num, seed=3 + seed).samples[:, :target.ir.num_spins]
        rows[noise] = compare(target.ir, ref, gen, shape, glass, Q_BINS)
        rows[noise]["seconds"] = time.perf_counter() - t
    for k, r in rows.items():
        if glass:
            r["q_ea"] = abs(r["q_ea_gen"] - r["q_ea_ref"])
        print(f"{name:8} seed {seed} {k:18} " + "  ".join(f"{m} {r[m]:.4f}" for m in keys)
              + (f"  ({r['seconds']:.0f} s)" if "seconds" in r else ""), flush=True)
    return rows


def compare(target_ir, ref, gen, variable_shape, glass=False, q_bins=None):
    """The metrics between reference and generated samples; q_bins: P(q) on that many equal bins of
    [−1, 1] (coarse, for large systems) instead of q's own lattice of values."""
    n = target_ir.num_spins
    e_ref, e_gen = target_ir.energy(ref) / n, target_ir.energy(gen) / n
    m_ref, m_gen = np.abs(ref.mean(1)), np.abs(gen.mean(1))
    out = {"energy_W1": wasserstein_distance(e_ref, e_gen), "absm_W1": wasserstein_distance(m_ref, m_gen),
           "energy_ref": float(e_ref.mean()), "energy_gen": float(e_gen.mean())}

    def corr(S):
        v = S.reshape((len(S),) + variable_shape).astype(float)
        L = variable_shape[0]
        return np.array([(v[:, : L - r] * v[:, r:]).mean() for r in range(L // 2 + 1)])
    c_ref, c_gen = corr(ref), corr(gen)
    out["corr_max_gap"] = float(np.abs(c_ref - c_gen).max())
    out["corr_ref"], out["corr_gen"] = c_ref.tolist(), c_gen.tolist()
    if glass:
        half = len(ref) // 2
        q_ref = (ref[:half] * ref[half:2 * half]).mean(1)
        half = len(gen) // 2
        q_gen = (gen[:half] * gen[half:2 * half]).mean(1)
        if q_bins:
            edges = np.linspace(-1, 1, q_bins + 1)
            p_ref, p_gen = (np.histogram(q, edges)[0] / len(q) for q in (q_ref, q_gen))
        else:
            _, p_ref = physics.p_of_q(q_ref, n)
            _, p_gen = physics.p_of_q(q_gen, n)
        out["pq_tvd"] = float(0.5 * np.abs(p_ref - p_gen).sum())
        out["q_ea_ref"], out["q_ea_gen"] = float(np.mean(q_ref ** 2)), float(np.mean(q_gen ** 2))
        out["pq_ref"], out["pq_gen"] = p_ref.tolist(), p_gen.tolist()
    hist_bins = np.linspace(min(e_ref.min(), e_gen.min()), max(e_ref.max(), e_gen.max()), 31)
    out["energy_hist_ref"] = np.histogram(e_ref, hist_bins)[0].tolist()
    out["energy_hist_gen"] = np.histogram(e_gen, hist_bins)[0].tolist()
    out["energy_bins"] = hist_bins.tolist()
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--epochs", type=int, default=15)
    ap.add_argument("--num", type=int, default=2000)
    ap.add_argument("--quick", action="store_true", help="small settings for a smoke run")
    ap.add_argument("--seeds", type=int, default=3, help="independent repetitions of the noise comparison")
    ap.add_argument("--figures", default=str(ROOT / "benchmarks" / "results"),
                    help="folder for the PNG figures (default benchmarks/results; pass docs to refresh the docs' pictures)")
    ap.add_argument("--paper", action="store_true",
                    help="the published sizes and temperatures, noise with the target's couplings (with and without "
                         "the field), and a reference-vs-reference floor for every metric")
    ap.add_argument("--steps", type=int, default=4, help="--paper: denoising steps T (default 4)")
    ap.add_argument("--sweeps", type=int, default=50, help="--paper: Gibbs sweeps a step when generating (default 50)")
    ap.add_argument("--noises", nargs="+", choices=list(PAPER_NOISES), default=list(PAPER_NOISES),
                    help="--paper: the forward noises compared (default all three)")
    ap.add_argument("--jobs", type=int, default=1, help="--paper: seeds run side by side, one process each")
    ap.add_argument("--tag", default="", help="--paper: suffix of the JSON name")
    args = ap.parse_args(argv)
    if args.quick:
        args.epochs, args.num = 2, 256
    if args.paper:
        paper(args)
        return
    results = {"settings": vars(args), "cases": {}, "steps": []}
    cases = [("ising2d", "ising2d_open.pb", "ising_dtm.pb", 16, (16, 16), None, False),
             ("ea3d", "ea3d_pt.pb", "ea_dtm.pb", 4, (4, 4, 4), {"replicas": 12, "beta_min": 0.2}, True)]
    for name, target_path, dtm_path, L, shape, tempering, glass in cases:
        target = pb.compile(f"examples/{target_path}", params={"L": L})
        keys = ["energy_W1", "absm_W1", "corr_max_gap"] + (["pq_tvd"] if glass else [])
        results["cases"][name] = {"seeds": []}
        for seed in range(args.seeds):
            train_data = reference(target, args.num, seed=1 + 10 * seed, tempering=tempering)
            ref = reference(target, args.num, seed=2 + 10 * seed, tempering=tempering)
            per_seed = {}
            for noise in NOISES:
                prog = dtm_program(dtm_path, noise, "cosine", 4, 50, L)
                t = time.perf_counter()
                model = pb.train(prog, train_data, epochs=args.epochs, seed=seed, lr=0.03, batch_size=64)
                gen = model.generate(num=args.num, seed=3 + seed).samples[:, :target.ir.num_spins]
                row = compare(target.ir, ref, gen, shape, glass)
                row["seconds"] = time.perf_counter() - t
                per_seed[noise] = row
                if seed == 0:
                    results["cases"][name][noise] = row           # the run the figures show
                print(f"{name:8} seed {seed} {noise:12} " + "  ".join(f"{k} {row[k]:.4f}" for k in keys), flush=True)
            results["cases"][name]["seeds"].append({n: {k: r[k] for k in keys} for n, r in per_seed.items()})
        summary = {}
        for noise in NOISES:
            summary[noise] = {k: [float(np.mean([s_[noise][k] for s_ in results["cases"][name]["seeds"]])),
                                  float(np.std([s_[noise][k] for s_ in results["cases"][name]["seeds"]], ddof=1))
                                  if args.seeds > 1 else float("nan")] for k in keys}
            summary[noise]["wins"] = sum(all(s_[noise][k] < s_[other][k] for k in keys[:1])
                                         for s_ in results["cases"][name]["seeds"] for other in NOISES if other != noise)
        results["cases"][name]["summary"] = summary
    # steps vs accuracy, 2D, over the same seeds (data, training and generation) as the comparison
    target = pb.compile("examples/ising2d_open.pb")
    data = [(reference(target, args.num, seed=1 + 10 * seed), reference(target, args.num, seed=2 + 10 * seed))
            for seed in range(args.seeds)]
    for schedule in ("linear", "cosine", "log"):
        for T in ((1, 2, 4) if args.quick else (1, 2, 4, 8)):
            prog = dtm_program("ising_dtm.pb", "independent", schedule, T, 50, 16)
            per_seed = []
            for seed, (train_data, ref) in enumerate(data):
                model = pb.train(prog, train_data, epochs=args.epochs, seed=seed, lr=0.03, batch_size=64)
                gen = model.generate(num=args.num, seed=3 + seed).samples[:, :256]
                per_seed.append(compare(target.ir, ref, gen, (16, 16)))
            row = {"schedule": schedule, "T": T}
            for key in ("energy_W1", "absm_W1"):
                values = [r[key] for r in per_seed]
                row[key], row[key + "_per_seed"] = float(np.mean(values)), values
                row[key + "_sd"] = float(np.std(values, ddof=1)) if len(values) > 1 else float("nan")
            results["steps"].append(row)
            print(f"steps {schedule:7} T={T}: energy W1 {row['energy_W1']:.4f} ± {row['energy_W1_sd']:.4f}  "
                  f"|m| W1 {row['absm_W1']:.4f} ± {row['absm_W1_sd']:.4f}", flush=True)
    print(f"wrote {write_json('physics_study', results)}")
    plot(results, Path(args.figures))


def plot(results, figures: Path):
    try:
        import matplotlib
        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError:
        return
    fig, axes = plt.subplots(1, 4, figsize=(15, 3.4))
    for ax, name in zip(axes[:2], ("ising2d", "ea3d")):
        case = results["cases"][name]
        bins = np.array(case["independent"]["energy_bins"])
        ref_h = np.array(case["independent"]["energy_hist_ref"])
        ax.stairs(ref_h / ref_h.sum(), bins, label="reference", color="k")
        for noise in NOISES:
            b = np.array(case[noise]["energy_bins"])
            h = np.array(case[noise]["energy_hist_gen"])
            ax.stairs(h / h.sum(), b, label=noise)
        ax.set_title(f"{name}: energy per spin")
        ax.legend(fontsize=8)
    ax = axes[2]
    case = results["cases"]["ising2d"]
    ax.plot(case["independent"]["corr_ref"], "k-", label="reference")
    for noise in NOISES:
        ax.plot(case[noise]["corr_gen"], "o--", label=noise)
    ax.set_title("ising2d: C(r)")
    ax.legend(fontsize=8)
    ax = axes[3]
    case = results["cases"]["ea3d"]
    q = np.linspace(-1, 1, len(case["independent"]["pq_ref"]))
    ax.plot(q, case["independent"]["pq_ref"], "k-", label="reference (PT)")
    for noise in NOISES:
        ax.plot(q, case[noise]["pq_gen"], "o--", ms=3, label=noise)
    ax.set_title("ea3d: P(q)")
    ax.legend(fontsize=8)
    fig.tight_layout()
    figures.mkdir(parents=True, exist_ok=True)
    fig.savefig(figures / "physics_study.png", dpi=100)
    fig, ax = plt.subplots(figsize=(5, 3.4))
    for schedule in ("linear", "cosine", "log"):
        rows = [r for r in results["steps"] if r["schedule"] == schedule]
        ax.errorbar([r["T"] for r in rows], [r["energy_W1"] for r in rows], [r["energy_W1_sd"] for r in rows],
                    fmt="o-", capsize=3, label=schedule)
    ax.set_xscale("log", base=2)
    ax.set_xlabel("denoising steps T")
    ax.set_ylabel("energy W1 to the reference")
    ax.set_title("2D Ising, L = 16, β = 0.44")
    ax.legend()
    fig.tight_layout()
    fig.savefig(figures / "physics_steps.png", dpi=100)


if __name__ == "__main__":
    main()
