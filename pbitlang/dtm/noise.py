"""Forward noise: independent flips, or correlated noise driven by Ising Gibbs dynamics.

Correlated noise: step t runs `sweeps` heat-bath sweeps of
    E_fwd(y; x_{t−1}) = −β_t·J Σ_<ij> y_i y_j − Γ_t Σ_i y_i x_{t−1,i}
from y = x_{t−1}, colour by colour, with β_t falling linearly from 1 to 0 over
the T steps and Γ_t from the flip schedule.  With J = 0 a spin's update only
sees Γ_t x_{t−1,i}: it keeps its value with probability σ(2Γ_t) = 1 − p_t, which
is exactly independent flips.  For one sweep the forward transition
probability is a product of the heat-bath conditionals, available exactly
(log_forward_prob)."""
from __future__ import annotations

import math

import numpy as np
import scipy.sparse as sp
from numba import njit

from ..backends.kernels import GOLDEN, splitmix
from ..backends.reference import heat_bath
from ..colour import ColourBlocks, colour
from ..errors import CompileError
from .schedules import coupling_strength, flip_schedule


@njit(cache=True)
def _flip(x, key, t, threshold, out):
    """out[e] = −x[e] where the top 32 bits of word e of chain t of the stream `key` (as
    runspec.chain_words makes them) are below threshold, else x[e]."""
    W = np.uint64(len(x))
    for e in range(len(x)):
        word = splitmix(((np.uint64(t) * W + np.uint64(e)) * GOLDEN) ^ key)
        out[e] = -x[e] if (word >> np.uint64(32)) < threshold else x[e]


class FlipNoise:
    kind = "flip"

    def __init__(self, p: np.ndarray):
        self.p = np.asarray(p, dtype=np.float64)
        self.gamma = coupling_strength(self.p)

    @property
    def steps(self) -> int:
        return len(self.p)

    def forward(self, x: np.ndarray, t: int, key) -> np.ndarray:
        """x_{t−1} (B, d) ±1 → x_t: every spin flips with probability p_t (t = 1..T), where the top 32
        bits of its keyed counter word are below p_t·2^32 (p_t exact to 2^−32).  key: a uint64, the
        noise's stream (each step's words are the stream's chain t: runspec.chain_words).  One
        compiled pass: training noises every batch, and numpy's temporaries cost more than the
        numbers."""
        x = np.ascontiguousarray(x, dtype=np.int8)
        out = np.empty_like(x)
        _flip(x.reshape(-1), np.uint64(key), t, np.uint64(min(round(self.p[t - 1] * 2.0 ** 32), 2 ** 32 - 1)),
              out.reshape(-1))
        return out

    def stationary(self, num: int, d: int, rng) -> np.ndarray:
        return (2 * rng.integers(0, 2, size=(num, d)) - 1).astype(np.int8)

    def log_forward_prob(self, x_prev: np.ndarray, x_next: np.ndarray, t: int) -> np.ndarray:
        p = self.p[t - 1]
        same = (x_prev == x_next).sum(axis=-1)
        return same * math.log1p(-p) + (x_prev.shape[-1] - same) * math.log(p)

    def link_pairs(self, d: int) -> tuple:
        """The couplings of a reverse step's model between the clamped x_t and x_{t−1} over d data spins:
        (k, j) pairs joining copy k of x_t to data spin j.  Independent flips tie each spin to its own
        copy: q(x_t | x_{t−1}) ∝ exp(Γ_t Σ_i x_{t−1,i} x_{t,i})."""
        k = np.arange(d, dtype=np.int64)
        return k, k

    def link_values(self, t: int, d: int) -> np.ndarray:
        """The energy coefficients of the link_pairs couplings at step t (−Γ_t: E ∋ −Γ_t x_{t−1,i} x_{t,i})."""
        return np.full(d, -self.gamma[t - 1])


class CorrelatedNoise(FlipNoise):
    """Ising dynamics as noise: `sweeps` heat-bath sweeps, colour by colour, of
    E_fwd(y; x_{t−1}) = −β_t J Σ graph_ij y_i y_j − Γ_t Σ_i y_i x_{t−1,i} from y = x_{t−1}.  With
    field=False there is no Γ_t term (the published form: one sweep a step at β_t falling to 0, the
    only memory of x_{t−1} being the spins a sweep has not yet updated)."""
    kind = "correlated"

    def __init__(self, p: np.ndarray, graph: sp.csr_array, J: float, sweeps: int, field: bool = True):
        super().__init__(p)
        if sweeps < 1:
            raise CompileError("correlated noise needs sweeps ≥ 1")
        if not field and sweeps != 1:
            raise CompileError("correlated(field = false) is one sweep a step: its reverse model is derived for "
                               "sweeps = 1")
        self.graph = sp.csr_array(graph, dtype=np.float64)
        self.J = float(J)
        self.sweeps = int(sweeps)
        self.field = bool(field)
        T = self.steps
        self.betas = 1.0 - np.arange(1, T + 1) / T           # β_t: from 1 − 1/T down to 0 at t = T
        self.colors = colour(self.graph) if self.graph.shape[0] else np.zeros(0, np.int32)
        self.blocks = list(ColourBlocks(self.colors))
        self._links = None if self.field else self._read_pairs()

    def _fields(self, y, x, t, block):
        coupling = self.betas[t - 1] * self.J * np.asarray((self.graph[block] @ y.T).T)
        return self.gamma[t - 1] * x[:, block] + coupling if self.field else coupling

    def link_pairs(self, d: int) -> tuple:
        """With the field, each spin's own copy (FlipNoise's pairs).  Without it, one sweep reads x_{t−1,j}
        only where spin i is updated before j: log q(x_t | x_{t−1}) = β_t J Σ_{b(i)<b(j)} graph_ij x_{t,i}
        x_{t−1,j} − Σ_i log 2cosh(f_i) + (terms free of x_{t−1}), b the colour block's place in the
        sweep and f_i spin i's field; the pairs are those (i, j) (docs/dtm.md derives it)."""
        if self.field:
            return super().link_pairs(d)
        return self._links[0], self._links[1]

    def link_values(self, t: int, d: int) -> np.ndarray:
        if self.field:
            return super().link_values(t, d)
        return -self.betas[t - 1] * self.J * self._links[2]

    def _read_pairs(self) -> tuple:
        """(i, j, graph_ij) of every coupling whose spin i a sweep updates before spin j."""
        place = np.empty(len(self.colors), np.int64)
        for k, block in enumerate(self.blocks):
            place[block] = k
        coo = self.graph.tocoo()
        keep = (place[coo.row] < place[coo.col]) & (coo.data != 0)
        return coo.row[keep].astype(np.int64), coo.col[keep].astype(np.int64), coo.data[keep]

    def forward(self, x: np.ndarray, t: int, key) -> np.ndarray:
        rng = np.random.default_rng([int(key), t])
        y = x.astype(np.float64).copy()
        for _ in range(self.sweeps):
            for block in self.blocks:
                f = self._fields(y, x, t, block)          # −∂E_fwd/∂y: the energy's field is −f
                y[:, block] = heat_bath(-f, 1.0, rng.random(f.shape))
        return y.astype(np.int8)

    def log_forward_prob(self, x_prev: np.ndarray, x_next: np.ndarray, t: int) -> np.ndarray:
        """log q(x_t | x_{t−1}) of one forward sweep: the product of its heat-bath conditionals."""
        if self.sweeps != 1:
            raise CompileError("the exact forward probability is available for sweeps = 1 only")
        x = np.atleast_2d(x_prev).astype(np.float64)
        y = x.copy()
        target = np.atleast_2d(x_next).astype(np.float64)
        logp = np.zeros(len(x))
        for block in self.blocks:
            f = self._fields(y, x, t, block)
            logp += -np.logaddexp(0.0, -2.0 * target[:, block] * f).sum(axis=1)
            y[:, block] = target[:, block]
        return logp


def lattice_graph(shape: tuple) -> sp.csr_array:
    """Nearest neighbours in a variable's declared shape (open boundaries)."""
    n = int(np.prod(shape)) if shape else 1
    idx = np.arange(n).reshape(shape) if shape else np.arange(1)
    rows, cols = [], []
    for axis in range(len(shape)):
        a = np.take(idx, np.arange(shape[axis] - 1), axis=axis).ravel()
        b = np.take(idx, np.arange(1, shape[axis]), axis=axis).ravel()
        rows += [a, b]
        cols += [b, a]
    if not rows:
        return sp.csr_array((n, n))
    r, c = np.concatenate(rows), np.concatenate(cols)
    return sp.csr_array((np.ones(len(r)), (r, c)), shape=(n, n))


def make_noise(spec: dict, steps: int, data_graph):
    """The noise of a chain from its `noise` item: flip(schedule = …) or correlated(J = …, sweeps = …, schedule = …).
    data_graph: the data spins' coupling graphs by name ('lattice', 'program'), looked up only by
    correlated noise."""
    if spec is None or spec is True:
        spec = {"call": "flip", "args": [], "kwargs": {}}
    if isinstance(spec, str):
        spec = {"call": spec, "args": [], "kwargs": {}}
    if not isinstance(spec, dict) or "call" not in spec:
        raise CompileError("noise is flip(schedule = …) or correlated(J = …, sweeps = …)")
    kw = dict(spec.get("kwargs", {}))
    schedule = kw.pop("schedule", "cosine")
    sched_kw = {k: kw.pop(k) for k in ("rate", "t_min", "t_max", "s") if k in kw}
    p = flip_schedule(schedule, steps, **sched_kw)
    if spec["call"] == "flip":
        if kw:
            raise CompileError(f"flip() takes schedule (and rate, t_min, t_max, s), not {', '.join(kw)}")
        return FlipNoise(p)
    if spec["call"] == "correlated":
        J = float(kw.pop("J", 0.3))
        sweeps = int(kw.pop("sweeps", 1))
        graph = kw.pop("graph", "lattice")
        field = kw.pop("field", True)
        if kw:
            raise CompileError(f"correlated() takes J, sweeps, graph, field, schedule; not {', '.join(kw)}")
        if graph not in ("lattice", "program"):
            raise CompileError("correlated(graph = …) is 'lattice' or 'program'")
        if not isinstance(field, bool):
            raise CompileError("correlated(field = …) is true or false")
        return CorrelatedNoise(p, data_graph[graph], J, sweeps, field)
    raise CompileError(f"unknown noise '{spec['call']}' (flip or correlated)")
