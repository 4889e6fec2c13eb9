"""Noise schedules: the flip probability p_t of each forward step t = 1..T.

Each schedule fixes ᾱ_t, the correlation E[x_0·x_t] left after t steps
(independent flips multiply it by 1 − 2p_t), and p_t = (1 − ᾱ_t/ᾱ_{t−1})/2:
- linear: ᾱ_t = 1 − t/T;
- cosine: ᾱ_t = cos²(π/2 · (t/T + s)/(1 + s)) / cos²(π/2 · s/(1 + s)), s = 0.008;
- log: the published DTM grid — bits reset at rate λ on log-spaced times
  t_k = t_min·(t_max/t_min)^((k−1)/(T−1)), k = 1..T (t_T = t_max; T = 1 gives t_1 = t_max), so
  p_k = (1 − e^{−λ(t_k − t_{k−1})})/2 with t_0 = 0;
- a list of p_t given by the user.
Every p_t must lie in (0, ½): generated schedules are capped at P_MAX."""
from __future__ import annotations

import math

import numpy as np

from ..errors import CompileError

P_MIN, P_MAX = 1e-4, 0.499


def flip_schedule(kind, steps: int, **kw) -> np.ndarray:
    if steps < 1:
        raise CompileError(f"a chain needs steps ≥ 1, got {steps}")
    if isinstance(kind, (list, tuple, np.ndarray)):
        p = np.asarray(kind, dtype=np.float64)
        if p.shape != (steps,):
            raise CompileError(f"a schedule list needs one flip probability per step ({steps}), got {p.size}")
        if not np.all((p > 0) & (p < 0.5)):
            raise CompileError("flip probabilities must lie in (0, ½)")
        return p
    t = np.arange(steps + 1) / steps
    if kind == "linear":
        abar = 1.0 - t
    elif kind == "cosine":
        s = float(kw.get("s", 0.008))
        f = np.cos(0.5 * math.pi * (t + s) / (1 + s)) ** 2
        abar = f / f[0]
    elif kind == "log":
        rate = float(kw.get("rate", 1.0))
        t_min, t_max = float(kw.get("t_min", 0.02)), float(kw.get("t_max", 4.0))
        if not 0 < t_min < t_max or rate <= 0:
            raise CompileError("the log schedule needs 0 < t_min < t_max and rate > 0")
        grid = np.geomspace(t_min, t_max, steps) if steps > 1 else np.array([t_max])   # always ends at t_max
        times = np.r_[0.0, grid]
        p = (1.0 - np.exp(-rate * np.diff(times))) / 2.0
        return np.clip(p, P_MIN, P_MAX)
    else:
        raise CompileError(f"unknown schedule '{kind}' (linear, cosine, log, or a list of flip probabilities)")
    ratio = np.divide(abar[1:], abar[:-1], out=np.zeros(steps), where=abar[:-1] > 0)
    return np.clip((1.0 - ratio) / 2.0, P_MIN, P_MAX)


def coupling_strength(p: np.ndarray) -> np.ndarray:
    """Γ_t = ½ ln((1 − p_t)/p_t): the coupling between x_{t−1} and x_t that independent flips imply."""
    return 0.5 * np.log((1.0 - p) / p)
