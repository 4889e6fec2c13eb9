"""Speed and accuracy of a denoising chain's schedule, exactly, on models small enough to enumerate.

For a data distribution p_0 on d = 9 spins (every state enumerated) and the DTM's forward process
— independent flips, step t flipping each spin with probability p_t, every schedule ending at the
same noise level ᾱ_T = Π(1 − 2p_t) (a fixed horizon) — this computes, for T steps and each schedule:

- the forward marginals p_t and the thermodynamic quantities of the path: the Fisher–Rao length of
  each step ℓ_t = 2·arccos Σ_x √(p_{t−1}(x) p_t(x)), the length L = Σ ℓ_t, the action A = T·Σ ℓ_t²
  (≥ L², with equality when every step has the same length: a geodesic at constant speed), and the
  entropy production of the steps, Σ_t = KL(P(x_{t−1}, x_t) ‖ P(x_t, x_{t−1})), which for this
  symmetric noise is [H(p_t) − H(p_{t−1})] + KL(p_t ‖ p_{t−1}): the first part sums to the same
  entropy change for every schedule with the same end, the second — the excess Σ_ex — depends on
  the path (≈ ℓ_t²/4 for small steps, so Σ_ex ≳ L²/(4T), least on the geodesic);
- the best reverse model of the DTM's class at each step: m_t(x_{t−1} | x_t) ∝ exp(F(x_{t−1}) +
  Γ_t x_{t−1}·x_t), F = h·x + ½ xᵀJx + Σ_j log 2cosh(W_j·x + c_j) (visible fields and pairs and H
  latent spins, an RBM's, summed out; the coupling Γ_t to x_t fixed by the schedule, as in
  pbitlang's step models), fitted by exact maximum conditional likelihood (convex for H = 0), and
  its error ε_t = E_{p_t} KL(r_t(·|x_t) ‖ m_t(·|x_t)) against the exact reverse kernel;
- the generated distribution p̂_0 (uniform x_T, then m_T … m_1, exactly) and its error KL(p_0 ‖ p̂_0),
  with the bound it must obey, KL(p_T ‖ uniform) + Σ_t ε_t (the chain rule and data processing).

Schedules: pbitlang's linear, cosine and log (rescaled to end at the same ᾱ_T), and the geodesic one
(equal Fisher–Rao length per step, found on a fine grid of ᾱ).  Data: 3×3 bars and stripes (d = 9;
1 % of the mass spread over all states, so that no step is infinitely irreversible)
and a 3×3 open Ising ferromagnet at β = 0.6 (d = 9).  Prints tables, writes
benchmarks/results/speed_accuracy.json, and with --plot a picture."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np
from scipy.optimize import minimize
from scipy.special import logsumexp

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import print_table, write_json  # noqa: E402

from pbitlang.dtm.schedules import coupling_strength, flip_schedule  # noqa: E402

ABAR_END = 0.02                     # every schedule ends with this much correlation to x_0 left


def states(d: int) -> np.ndarray:
    """All 2^d spin states (2^d, d), state k's spin i = bit i of k."""
    return 1 - 2 * ((np.arange(2 ** d)[:, None] >> np.arange(d)) & 1).astype(np.int8)


def bars_and_stripes(side: int = 3) -> np.ndarray:
    """The uniform distribution on side×side bars-and-stripes images (spins), over all 2^(side²) states."""
    S = states(side * side).reshape(-1, side, side)
    rows_equal = (S == S[:, :, :1]).all(axis=(1, 2))            # every row constant: stripes
    cols_equal = (S == S[:, :1, :]).all(axis=(1, 2))            # every column constant: bars
    p = (rows_equal | cols_equal).astype(float)
    return p / p.sum()


def ising(rows: int = 3, cols: int = 4, beta: float = 0.6) -> np.ndarray:
    S = states(rows * cols).reshape(-1, rows, cols).astype(float)
    E = -(S[:, 1:, :] * S[:, :-1, :]).sum(axis=(1, 2)) - (S[:, :, 1:] * S[:, :, :-1]).sum(axis=(1, 2))
    w = np.exp(-beta * (E - E.min()))
    return w / w.sum()


def flip_channel(d: int, q: float, hamming: np.ndarray) -> np.ndarray:
    """Q[a, b] = P(x_t = b | x_{t−1} = a) for independent flips with probability q."""
    return q ** hamming * (1 - q) ** (d - hamming)


def marginals(p0: np.ndarray, abars: np.ndarray, d: int, hamming: np.ndarray) -> list:
    """p(ᾱ) for each ᾱ: p_0 through independent flips of probability (1 − ᾱ)/2."""
    return [p0 @ flip_channel(d, (1 - a) / 2, hamming) for a in abars]


def fisher_rao(p: np.ndarray, q: np.ndarray) -> float:
    return float(2 * np.arccos(min(1.0, np.sqrt(p * q).sum())))


def geodesic_abars(p0, d, hamming, T: int, grid: int = 400) -> np.ndarray:
    """ᾱ_0 = 1 > ᾱ_1 > … > ᾱ_T = ABAR_END with equal Fisher–Rao length per step (on a fine grid of ᾱ,
    evenly spaced in log ᾱ, lengths interpolated)."""
    a = np.geomspace(1.0, ABAR_END, grid)
    ps = marginals(p0, a, d, hamming)
    s = np.r_[0.0, np.cumsum([fisher_rao(ps[k], ps[k + 1]) for k in range(grid - 1)])]
    return np.exp(np.interp(np.linspace(0, s[-1], T + 1), s, np.log(a)))


def schedule_abars(kind: str, T: int, p0, d, hamming) -> np.ndarray:
    """ᾱ_0 … ᾱ_T of a schedule, rescaled in log ᾱ so that ᾱ_T = ABAR_END (the same horizon for all)."""
    if kind == "geodesic":
        return geodesic_abars(p0, d, hamming, T)
    p = flip_schedule(kind, T)
    abar = np.r_[1.0, np.cumprod(1 - 2 * p)]
    return np.exp(np.log(abar) * np.log(ABAR_END) / np.log(abar[-1]))


def features(S: np.ndarray) -> np.ndarray:
    """φ(x): the d fields and the d(d−1)/2 pair products of the DTM's fully visible step model."""
    i, j = np.triu_indices(S.shape[1], 1)
    return np.hstack([S, S[:, i] * S[:, j]]).astype(float)


def best_reverse_model(P: np.ndarray, S: np.ndarray, phi: np.ndarray, link: np.ndarray, hidden: int) -> np.ndarray:
    """The member of the step-model class closest to the joint P(a, b) of (x_{t−1}, x_t) in expected
    conditional KL, by exact maximum conditional likelihood: m(a | b) ∝ exp(θ·φ(a) + Σ_j log 2cosh(W_j·a
    + c_j) + link[a, b]) — visible fields and pairs, and `hidden` latent spins coupled to the visible
    ones (an RBM's, summed out exactly).  Convex without latents; with them L-BFGS from a seeded small
    start (a local optimum).  Returns log m (a, b)."""
    pb = P.sum(axis=0)
    pa = P.sum(axis=1)
    n_phi, d = phi.shape[1], S.shape[1]
    Sf = S.astype(float)

    def unpack(x):
        return x[:n_phi], x[n_phi:n_phi + hidden * d].reshape(hidden, d), x[n_phi + hidden * d:]

    def log_model(x):
        theta, W, c = unpack(x)
        u = Sf @ W.T + c
        free = phi @ theta + (np.logaddexp(u, -u)).sum(axis=1)              # log 2cosh(u) − log 2, summed
        logit = free[:, None] + link
        return logit - logsumexp(logit, axis=0, keepdims=True), u

    def loss(x):
        logm, u = log_model(x)
        g = pa - (np.exp(logm) * pb[None, :]).sum(axis=1)                   # ∂(−loss)/∂F(a)
        th = np.tanh(u)
        grad = np.r_[phi.T @ g, ((th * g[:, None]).T @ Sf).ravel(), th.T @ g]
        return -float((P * logm).sum()), -grad

    start = np.r_[np.zeros(n_phi), 0.1 * np.random.default_rng(0).standard_normal(hidden * d), np.zeros(hidden)]
    res = minimize(loss, start, jac=True, method="L-BFGS-B", options={"maxiter": 3000 if hidden else 5000,
                                                                      "gtol": 1e-7 if hidden else 1e-9})
    return log_model(res.x)[0]


def kl(p: np.ndarray, q: np.ndarray) -> float:
    keep = p > 0
    return float((p[keep] * (np.log(p[keep]) - np.log(q[keep]))).sum())


def entropy(p: np.ndarray) -> float:
    keep = p > 0
    return float(-(p[keep] * np.log(p[keep])).sum())


def analyse(p0: np.ndarray, d: int, kind: str, T: int, S, hamming, phi, hidden: int) -> dict:
    """Every quantity of the module docstring for one data distribution, schedule and T."""
    abar = schedule_abars(kind, T, p0, d, hamming)
    flips = (1 - abar[1:] / abar[:-1]) / 2
    gamma = coupling_strength(flips)
    ps = marginals(p0, abar, d, hamming)
    overlap = S.astype(float) @ S.T.astype(float)                  # x_{t−1}·x_t for every pair of states
    lengths, eps, production = [], [], []
    reverse = []
    for t in range(1, T + 1):
        Q = flip_channel(d, flips[t - 1], hamming)
        P = ps[t - 1][:, None] * Q                                  # joint of (x_{t−1}, x_t)
        lengths.append(fisher_rao(ps[t - 1], ps[t]))
        production.append(kl(P.ravel(), P.T.ravel()))               # KL of the step against its time reverse
        logm = best_reverse_model(P, S, phi, gamma[t - 1] * overlap, hidden)
        with np.errstate(divide="ignore", invalid="ignore"):
            logr = np.where(P > 0, np.log(P) - np.log(ps[t])[None, :], -np.inf)
        eps.append(float(np.where(P > 0, P * (logr - logm), 0.0).sum()))
        reverse.append(np.exp(logm))                                 # m_t(a | b), columns b
    q = np.full(len(p0), 1.0 / len(p0))                              # x_T uniform
    for t in range(T, 0, -1):
        q = reverse[t - 1] @ q
    lengths = np.array(lengths)
    start = kl(ps[T], np.full(len(p0), 1.0 / len(p0)))
    return {"schedule": kind, "T": T, "hidden": hidden, "length": float(lengths.sum()), "action": float(T * (lengths ** 2).sum()),
            "entropy_production": float(np.sum(production)), "entropy_change": entropy(ps[T]) - entropy(p0),
            "excess_production": float(np.sum(production)) - (entropy(ps[T]) - entropy(p0)),
            "prior_kl": start, "step_errors": eps, "step_lengths": lengths.tolist(),
            "bound": start + float(np.sum(eps)), "kl": kl(p0, q), "tvd": 0.5 * float(np.abs(p0 - q).sum())}


def field_free(T: int, beta: float = 0.6, side: int = 3, hidden: int = 0) -> dict:
    """The published correlated noise on the side×side Ising model at β: one heat-bath sweep a step of
    the model's own couplings at β_t = β(1 − t/T), no field tying a spin to its previous value (the
    checkerboard's even cells first, as pbitlang's colour blocks).  For each step, the best reverse
    model with pbitlang's links (the pairwise part of log q: β_t Σ_{i even, j odd} x_{t,i} x_{t−1,j}) and
    with the exact implied kernel (those links and −Σ_{i even} log 2cosh f_i(x_{t−1}), which depends on
    x_{t−1}'s odd cells only); their errors ε_t and generated distributions, exactly."""
    d = side * side
    S = states(d)
    Sf = S.astype(float)
    p0 = ising(side, side, beta)
    r, c = np.divmod(np.arange(d), side)
    G = ((np.abs(r[:, None] - r[None, :]) + np.abs(c[:, None] - c[None, :])) == 1).astype(float)
    even = (r + c) % 2 == 0
    phi = features(S)
    out = {"T": T, "approx_errors": [], "exact_errors": []}
    ps = [p0]
    for t in range(1, T + 1):
        b = beta * (1 - t / T)
        f_even = b * Sf[:, ~even] @ G[~even][:, even]                  # (x, even i): fields from x's odd cells
        logq_even = (Sf[None, :, even] * f_even[:, None, :]).sum(-1) - np.logaddexp(f_even, -f_even).sum(1)[:, None]
        f_odd = b * Sf[:, even] @ G[even][:, ~even]                    # (y, odd j): fields from y's new even cells
        logq_odd = (Sf[:, ~even] * f_odd).sum(1) - np.logaddexp(f_odd, -f_odd).sum(1)
        Q = np.exp(logq_even + logq_odd[None, :])                        # Q[x, y]
        ps.append(ps[-1] @ Q)
        pairs = b * (Sf[:, ~even] @ G[~even][:, even]) @ Sf[:, even].T   # [x, y]: β_t Σ g_ij y_i x_j, i even, j odd
        logcosh = np.logaddexp(f_even, -f_even).sum(1)[:, None]
        P = ps[t - 1][:, None] * Q
        with np.errstate(divide="ignore"):
            logr = np.where(P > 0, np.log(P) - np.log(ps[t])[None, :], -np.inf)
        for key, link in (("approx", pairs), ("exact", pairs - logcosh)):
            logm = best_reverse_model(P, S, phi, link, hidden)
            out[f"{key}_errors"].append(float(np.where(P > 0, P * (logr - logm), 0.0).sum()))
            out.setdefault(f"{key}_reverse", []).append(np.exp(logm))
    uniform = np.full(2 ** d, 2.0 ** -d)
    for key in ("approx", "exact"):
        q = uniform.copy()
        for t in range(T, 0, -1):
            q = out[f"{key}_reverse"][t - 1] @ q
        out[f"{key}_kl"] = kl(p0, q)
        del out[f"{key}_reverse"]
    out["prior_kl"] = kl(ps[T], uniform)
    return out


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, nargs="+", default=[1, 2, 4, 8, 16], help="values of T (default 1 2 4 8 16)")
    ap.add_argument("--hidden", type=int, nargs="+", default=[0, 4], help="latent spins per step model (default 0 4)")
    ap.add_argument("--hidden-steps", type=int, nargs="+", default=[1, 2, 4, 8],
                    help="values of T for step models with latent spins, whose fits are slower (default 1 2 4 8)")
    ap.add_argument("--schedules", nargs="+", default=["linear", "cosine", "log", "geodesic"])
    ap.add_argument("--plot", help="picture of the results (.png)")
    ap.add_argument("--field-free", type=int, nargs="*", metavar="T",
                    help="instead: the published field-free correlated noise on the 3×3 Ising model, for these T "
                         "(default 4 8 16): the error of pbitlang's reverse links against the exact kernel's")
    args = ap.parse_args(argv)
    if args.field_free is not None:
        rows = []
        for T in args.field_free or [4, 8, 16]:
            r = field_free(T)
            rows.append(r)
            print(f"T={T:3d}: KL(p0‖p̂0) with pbitlang's links {r['approx_kl']:.5f}, with the exact kernel "
                  f"{r['exact_kl']:.5f}; Σ ε_t {sum(r['approx_errors']):.5f} against {sum(r['exact_errors']):.5f}; "
                  f"KL(p_T‖uniform) {r['prior_kl']:.2e}", flush=True)
        print(f"\nwrote {write_json('speed_accuracy_field_free', rows)}")
        return
    data = {"bars and stripes 3×3": (0.99 * bars_and_stripes(3) + 0.01 / 512, 9), "Ising 3×3, β = 0.6": (ising(3, 3, 0.6), 9)}
    rows = []
    for name, (p0, d) in data.items():
        S = states(d)
        hamming = ((S[:, None, :] != S[None, :, :]).sum(-1)).astype(float)
        phi = features(S)
        for hidden in args.hidden:
            for T in args.hidden_steps if hidden else args.steps:
                for kind in args.schedules if T > 1 else args.schedules[:1]:       # one step: one schedule
                    r = analyse(p0, d, kind, T, S, hamming, phi, hidden)
                    rows.append({"data": name, **r})
                    print(f"{name:22} H={hidden} T={T:2d} {kind:9}: L {r['length']:.3f}  A {r['action']:.3f}  "
                          f"Σ_ex {r['excess_production']:.4f}  KL {r['kl']:.5f} ≤ {r['bound']:.5f}", flush=True)
    print()
    print_table(rows, [("data", "data", "22"), ("H", "hidden", ">2"), ("T", "T", ">3"), ("schedule", "schedule", "9"),
                       ("L", "length", "6.3f"), ("A = T·Σℓ²", "action", "9.3f"), ("Σ_ex", "excess_production", "7.4f"),
                       ("KL(p0‖p̂0)", "kl", "10.4f"), ("bound", "bound", "7.4f"), ("TVD", "tvd", "6.4f")])
    print(f"\nwrote {write_json('speed_accuracy', rows)}")
    if args.plot:
        draw(rows, args.plot)


def draw(rows: list, path: str) -> None:
    """One panel per data set (rows) and latent count (columns): the generation error against T for each
    schedule (solid), with its bound KL(p_T ‖ uniform) + Σ ε_t (dotted, same colour)."""
    from pbitlang.plot import new_figure, save
    names = list(dict.fromkeys(r["data"] for r in rows))
    hiddens = list(dict.fromkeys(r["hidden"] for r in rows))
    fig = new_figure(5 * len(hiddens), 3.4 * len(names))
    for i, name in enumerate(names):
        for j, hidden in enumerate(hiddens):
            ax = fig.add_subplot(len(names), len(hiddens), i * len(hiddens) + j + 1)
            mine = [r for r in rows if r["data"] == name and r["hidden"] == hidden]
            one = [r for r in mine if r["T"] == 1]
            for k, kind in enumerate(dict.fromkeys(r["schedule"] for r in mine if r["T"] > 1)):
                pts = sorted(one + [r for r in mine if r["schedule"] == kind and r["T"] > 1], key=lambda r: r["T"])
                colour = f"C{k}"
                ax.plot([r["T"] for r in pts], [r["kl"] for r in pts], marker="o", color=colour, label=kind)
                ax.plot([r["T"] for r in pts], [r["bound"] for r in pts], ls=":", color=colour)
            ax.set_xscale("log", base=2)
            ax.set_xlabel("steps T (the same horizon ᾱ_T = 0.02)")
            ax.set_ylabel("KL(p₀ ‖ generated); dotted: bound")
            ax.set_title(f"{name}, {hidden} latent spins a step", fontsize=9)
            ax.legend(fontsize=7)
    fig.tight_layout()
    save(fig, path)
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
