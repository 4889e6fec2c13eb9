"""Pictures of runs, glasses, generated images and training (extra `plot`: matplotlib, imported here
on first use).

`plot(res, kind)` draws a SampleResult; `training_curves(rows)` draws a training log.  With `ax=` a
kind draws its first panel into that Axes and returns it, so it composes with a user's figure;
without, it returns a new Figure (a pyplot figure when the caller already uses pyplot, a bare
Agg Figure otherwise, so that nothing needs a display)."""
from __future__ import annotations

import math
import sys
from pathlib import Path

import numpy as np

from .errors import DataError, OptionError, PbitError, require
from .files import atomic_write, read_json_lines
from .physics import binder, overlaps, p_of_q
from .stats import autocorrelation, integrated_time

KINDS = ("trace", "hist", "autocorr", "overlap", "images", "ladder")
MAX_LINES = 32            # chains drawn in a trace; the rest are summarised by the running mean
MAX_PANELS = 4            # energy and the first scalar observables


def plot(res, kind: str | None = None, ax=None, *, names=None, variable: str | None = None, shape=None,
         num: int = 64, columns: int | None = None):
    """Draw `res` as `kind` (default: `default_kind(res)`): a Figure, or `ax` when given.
    names: the quantities of trace/hist/autocorr ('energy' and scalar observables); variable,
    shape, num, columns: the images grid (see image_grid)."""
    kind = kind or default_kind(res)
    if kind == "summary":
        if ax is not None:
            raise OptionError("the summary draws two panels (trace and hist); give kind= to draw into one Axes")
        fig = new_figure(10, 4)
        trace(res, fig.add_subplot(1, 2, 1), names=["energy"])
        histograms(res, fig.add_subplot(1, 2, 2), names=["energy"])
        fig.tight_layout()
        return fig
    draw = {"trace": trace, "hist": histograms, "autocorr": autocorr}.get(kind)
    if draw is not None:
        return _panels(draw, res, ax, names)
    if kind == "overlap":
        return overlap(res, ax)
    if kind == "images":
        return images(res, ax, variable=variable, shape=shape, num=num, columns=columns)
    if kind == "ladder":
        return ladder(res, ax)
    raise OptionError(f"unknown plot kind '{kind}' (kinds: summary, {', '.join(KINDS)})")


def default_kind(res) -> str:
    """images for a generation (a trained chain's output), trace + hist otherwise."""
    return "images" if "chain" in res.info and "over" in res.info else "summary"


def new_figure(width: float, height: float):
    """A pyplot figure when the caller uses pyplot (so plt.show() shows it), else a bare Figure."""
    require("matplotlib", "plot", "pictures")
    if "matplotlib.pyplot" in sys.modules:
        return sys.modules["matplotlib.pyplot"].figure(figsize=(width, height))
    from matplotlib.figure import Figure
    return Figure(figsize=(width, height))


FORMATS = (".png", ".svg", ".pdf")


def check_format(path) -> str:
    """The picture format of an output path, from its suffix: png, svg or pdf."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise OptionError(f"{path}: a picture is written as {', '.join(FORMATS)} (by the file's suffix)")
    return suffix[1:]


def save(fig, path) -> None:
    """Write a figure whole or not at all; the format follows the suffix (.png, .svg, .pdf)."""
    fmt = check_format(path)
    with atomic_write(path) as tmp:
        fig.savefig(tmp, format=fmt, dpi=120, bbox_inches="tight")


def _panels(draw, res, ax, names):
    names = list(names) if names else _scalar_names(res)
    if ax is not None:
        draw(res, ax, names=names[:1])
        return ax
    rows = len(names)
    fig = new_figure(7, 2.6 * rows)
    for k, name in enumerate(names):
        draw(res, fig.add_subplot(rows, 1, k + 1), names=[name])
    fig.tight_layout()
    return fig


def _scalar_names(res) -> list:
    """energy and the first scalar observables (array observables would be one panel per component)."""
    names = ["energy"]
    for name in res._names():
        if len(names) < MAX_PANELS and res.trace(name).ndim == 2:
            names.append(name)
    return names


def _nonempty(res, what: str):
    if len(res) == 0:
        raise PbitError(f"the run kept no samples: nothing to draw as {what}")


def trace(res, ax, names=("energy",)):
    """One line per chain (the first MAX_LINES), the running mean over all chains, the burn-in shaded."""
    _nonempty(res, "a trace")
    name = names[0]
    tr = res.trace(name)
    x = res.kept_sweeps
    shown = min(res.num_chains, MAX_LINES)
    for c in range(shown):
        ax.plot(x, tr[c], lw=0.6, alpha=0.5)
    running = np.cumsum(tr.mean(axis=0)) / np.arange(1, res.kept + 1)
    ax.plot(x, running, color="black", lw=1.8, label="running mean")
    burn_in = int(res.info.get("burn_in", 0))
    if burn_in:
        ax.axvspan(0, burn_in, color="0.85", label=f"burn-in ({burn_in} sweeps, not kept)")
        ax.set_xlim(0, x[-1])
    ax.set_xlabel("sweep")
    ax.set_ylabel(name)
    more = f", {shown} of {res.num_chains} drawn" if shown < res.num_chains else ""
    ax.set_title(f"{name}: {res.num_chains} chains{more}", fontsize=10)
    ax.legend(loc="best", fontsize=8)
    return ax


def histograms(res, ax, names=("energy",)):
    """The pooled histogram of one quantity; for a tempering run's energy, one histogram per β."""
    _nonempty(res, "a histogram")
    name = names[0]
    ladder_beta = (res.info.get("tempering") or {}).get("ladder")
    if name == "energy" and res.ladder_energies is not None and ladder_beta:
        E = res.ladder_energies.reshape(-1, len(ladder_beta))
        bins = _bins(E)
        for r, beta in enumerate(ladder_beta):
            ax.hist(E[:, r], bins=bins, histtype="stepfilled", alpha=0.45, label=f"β = {beta:.3g}")
        ax.legend(fontsize=7, ncol=2)
        ax.set_title(f"energy at each of the {len(ladder_beta)} temperatures", fontsize=10)
    else:
        values = res.trace(name).reshape(-1)
        ax.hist(values, bins=_bins(values), color="C0")
        mean, se = res.mean(name)
        ax.axvline(mean, color="black", lw=1.2)
        ax.set_title(f"{name}: mean {mean:.5g} ± {se:.2g} over {len(values)} samples", fontsize=10)
    ax.set_xlabel(name)
    ax.set_ylabel("samples")
    return ax


def _bins(values: np.ndarray, most: int = 80):
    """Bins centred on the values' lattice when they have one (an Ising energy moves in steps of 4):
    equal-width bins would alias it into a comb.  At most `most` bins, each a whole number of steps."""
    distinct = np.unique(values)
    if len(distinct) < 2:
        return np.r_[distinct - 0.5, distinct[-1:] + 0.5]
    step = float(np.min(np.diff(distinct)))
    units = (distinct - distinct[0]) / step
    if not np.allclose(units, np.round(units), atol=1e-6):
        return most
    width = step * math.ceil(units[-1] / most + 1e-9) if units[-1] >= most else step
    return np.arange(distinct[0] - width / 2, distinct[-1] + width, width)


def autocorr(res, ax, names=("energy",)):
    """The autocorrelation of a quantity averaged over chains, with τ_int marked."""
    _nonempty(res, "an autocorrelation")
    name = names[0]
    tr = res.trace(name)
    rho = autocorrelation(tr)
    tau = integrated_time(tr)
    lags = np.arange(len(rho))
    shown = max(2, min(len(rho), int(math.ceil(6 * max(tau, 1.0)))))
    ax.plot(lags[:shown], rho[:shown], color="C0", marker=".", ms=3)
    ax.axhline(0, color="0.5", lw=0.8)
    ax.axvline(tau, color="C3", ls="--", label=f"τ_int = {tau:.3g} kept samples")
    ax.set_xlabel(f"lag (kept samples, thin {int(res.info.get('thin', 1))})")
    ax.set_ylabel(f"autocorrelation of {name}")
    short = "; the run is shorter than 20 τ_int: an underestimate" if 20 * tau > res.kept else ""
    ax.set_title(f"{name}: ESS {tr.size / max(tau, 1.0):.0f} of {tr.size} samples{short}", fontsize=10)
    ax.legend(fontsize=8)
    return ax


def overlap(res, ax=None):
    """P(q) between chains 0–1, 2–3, … (replicas of the same disorder), Binder ratio in the title."""
    if res.num_chains < 2:
        raise OptionError("the overlap needs at least 2 chains (replicas): run with --chains 2 or more")
    _nonempty(res, "an overlap")
    q = overlaps(res)
    values, P = p_of_q(q, res.num_spins)
    g, g_se = binder(q)
    fig, ax = _axes(ax, 6, 4)
    ax.bar(values, P, width=2.0 / max(res.num_spins, 1), color="C0")
    ax.set_xlabel("overlap q")
    ax.set_ylabel("P(q)")
    ax.set_xlim(-1.05, 1.05)
    ax.set_title(f"P(q) over {q.shape[0]} replica pairs; Binder ratio g = {g:.3f} ± {g_se:.2g}", fontsize=10)
    return fig if fig is not None else ax


def ladder(res, ax=None):
    """Tempering's β ladder (left axis) and the swap acceptance between neighbours (bars, right)."""
    t = res.info.get("tempering")
    if not t:
        raise OptionError("the ladder is drawn for tempering runs (pbit run --tempering R:BETA_MIN)")
    fig, ax = _axes(ax, 6, 4)
    betas = np.asarray(t["ladder"])
    rates = np.asarray(t["swap_acceptance"])
    ax.plot(np.arange(len(betas)), betas, "o-", color="C0")
    ax.set_xlabel("temperature index (coldest last)")
    ax.set_ylabel("β", color="C0")
    right = ax.twinx()
    right.bar(np.arange(len(rates)) + 0.5, rates, width=0.6, color="C1", alpha=0.6)
    right.set_ylabel("swap acceptance", color="C1")
    right.set_ylim(0, 1)
    kind = "adaptive" if t.get("adaptive") else "geometric or given"
    ax.set_title(f"{len(betas)} replicas ({kind} ladder), swaps every {t.get('swap_every', 1)} sweeps", fontsize=10)
    return fig if fig is not None else ax


def _axes(ax, width, height):
    """(figure or None, axes): a new one-panel figure unless the caller gave an Axes."""
    if ax is not None:
        return None, ax
    fig = new_figure(width, height)
    return fig, fig.add_subplot(1, 1, 1)


def images(res, ax=None, *, variable: str | None = None, shape=None, num: int = 64, columns: int | None = None):
    """A grid of samples of one variable, the value 1 (bit) or +1 (spin) black.  The default variable
    is a generation's data variable, else the first variable that fills `shape`, else the first 2D
    one; `shape` reshapes a variable (e.g. (8, 8) for 64 bits).  num samples evenly spaced through
    the run, chain by chain."""
    _nonempty(res, "images")
    name = variable or _image_variable(res, shape)
    values = res.variables(name)
    picture = _image_shape(name, values.shape[1:], shape)
    rows = np.unique(np.linspace(0, len(values) - 1, min(num, len(values))).round().astype(np.int64))
    pixels = (values[rows].reshape(len(rows), -1) > 0).reshape((len(rows),) + picture)
    grid = image_grid(pixels, columns)
    fig, ax = _axes(ax, min(12.0, 1.2 + 0.9 * (grid.shape[1] / (picture[1] + 1))),
                    min(12.0, 0.9 * grid.shape[0] / (picture[0] + 1) + 0.5))
    ax.imshow(grid, cmap="gray_r", vmin=0, vmax=1, interpolation="nearest")
    ax.set_axis_off()
    ax.set_title(f"{name}: {len(rows)} of {len(values)} samples", fontsize=10)
    return fig if fig is not None else ax


def image_grid(pixels: np.ndarray, columns: int | None = None, gap: float = 0.35) -> np.ndarray:
    """(num, H, W) values in [0, 1] → one image: sample k at row k // columns, column k % columns,
    each cell (H + 1) × (W + 1) with a grey line between cells."""
    num, H, W = pixels.shape
    columns = int(columns or math.ceil(math.sqrt(num)))
    if columns < 1:
        raise OptionError("the images grid needs at least one column")
    rows = max(1, math.ceil(num / columns))
    grid = np.full((rows * (H + 1) - 1, columns * (W + 1) - 1), gap)
    for k in range(num):
        r, c = divmod(k, columns)
        grid[r * (H + 1):r * (H + 1) + H, c * (W + 1):c * (W + 1) + W] = pixels[k]
    return grid


def _image_variable(res, shape) -> str:
    """A generation's data variable, else the first variable that fills `shape`, else the first 2D one."""
    layout = res.layout
    over = res.info.get("over") or []
    if over and over[0] in layout:
        return over[0]
    for name, (_, declared, _) in layout.items():
        if (math.prod(declared) == math.prod(shape)) if shape else len(declared) == 2:
            return name
    if shape:
        raise OptionError(f"no variable has {math.prod(shape)} values to draw as {'x'.join(map(str, shape))} "
                          f"(variables: {', '.join(f'{k} {list(v[1])}' for k, v in layout.items())})")
    raise OptionError("no 2D variable to draw: name one with variable= (--var) and give its shape= (--shape HxW)")


def _image_shape(name: str, declared: tuple, shape) -> tuple:
    size = math.prod(declared)
    if shape is None:
        if len(declared) == 2:
            return tuple(declared)
        side = math.isqrt(size)
        if len(declared) == 1 and side * side == size:
            return side, side
        raise OptionError(f"'{name}' has shape {list(declared)}: give the picture's shape (--shape HxW)")
    shape = tuple(int(s) for s in shape)
    if len(shape) != 2 or math.prod(shape) != size:
        raise OptionError(f"--shape {'x'.join(map(str, shape))} does not hold the {size} values of '{name}'")
    return shape


def read_training_log(path) -> list:
    """The rows of a metrics.jsonl that pbit train --checkpoint (or train(log=…)) wrote, checked."""
    return read_json_lines(path, numbers=("loss_proxy", "lambda", "autocorr", "seconds"),
                           counts=("epoch", "step", "batch"), error=DataError, what="training log")


def training_curves(rows: list, fig=None):
    """A training log (one row per step and batch, as pbit train --checkpoint writes metrics.jsonl):
    the loss proxy, λ of the correlation penalty and the autocorrelation per step against epoch,
    and the seconds each epoch took."""
    if not rows:
        raise PbitError("the training log is empty")
    fig = fig or new_figure(10, 7)
    axes = [fig.add_subplot(2, 2, k + 1) for k in range(4)]
    steps = sorted({int(r["step"]) for r in rows})
    batches = 1 + max(int(r.get("batch", 0)) for r in rows)
    for t in steps:
        mine = [r for r in rows if int(r["step"]) == t]
        x = np.array([r["epoch"] + (r.get("batch", 0) + 1) / batches for r in mine])
        for ax, key in zip(axes, ("loss_proxy", "lambda", "autocorr")):
            ax.plot(x, [r[key] for r in mine], lw=1, label=f"step {t}")
    for ax, title in zip(axes, ("loss proxy β(⟨E⟩_data − ⟨E⟩_model)", "λ of the correlation penalty",
                                "autocorrelation of the samples")):
        ax.set_xlabel("epoch")
        ax.set_title(title, fontsize=10)
    axes[0].legend(fontsize=7, ncol=2)
    ends = {}
    for r in rows:
        ends[int(r["epoch"])] = max(ends.get(int(r["epoch"]), 0.0), float(r["seconds"]))
    epochs = sorted(ends)
    spent = np.diff(np.r_[0.0, [ends[e] for e in epochs]])
    axes[3].bar(epochs, spent, color="C2")
    axes[3].set_xlabel("epoch")
    axes[3].set_title("seconds per epoch", fontsize=10)
    fig.tight_layout()
    return fig
