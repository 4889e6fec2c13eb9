"""A denoising chain over a compiled program: its step models and reverse sampling.

Step t's conditional model is the program's energy with step t's weights θ_t,
plus a copy of the data variables holding x_t, coupled to the data variables as
the forward noise implies: −Γ_t Σ_i x_{t−1,i} x_{t,i} for independent flips (and
correlated noise with its field), −β_t J Σ graph_ij x_{t,i} x_{t−1,j} over the
pairs a sweep reads for field-free correlated noise (noise.link_pairs).  The
copy is clamped chain by chain, so any backend samples p_θt(x_{t−1}, z | x_t)
as it is."""
from __future__ import annotations

import math
import time
import warnings
from dataclasses import dataclass, replace

import numpy as np
import scipy.sparse as sp

from ..backends import get_backend
from ..backends.runspec import all_in, beta_schedule, int_option, sample_bytes
from ..errors import CompileError, OptionError, PbitError, PbitWarning
from ..results import SampleResult
from .noise import lattice_graph, make_noise


@dataclass
class ChainSpec:
    name: str
    over: list
    steps: int
    sweeps: int
    noise: object
    data_index: np.ndarray          # spins of the data variables, in order
    data_kinds: list                # (name, size, kind, shape) per data variable
    source: str = "<chain>"         # "file:line:col" of the chain declaration
    mask: np.ndarray | None = None  # `data MASK`: which spins of the `over` variables are data (the rest latent)

    @property
    def image_shape(self) -> tuple:
        """The data's shape as an image: the one data variable's shape, or a mask's rows × columns
        when it picks a full grid of them; else the flat count."""
        if len(self.data_kinds) == 1:
            return tuple(self.data_kinds[0][3])
        return (len(self.data_index),)


def chain_spec(ir, name: str | None = None) -> ChainSpec:
    """The chain `name` of a compiled program (its only chain when name is None)."""
    if not ir.chains:
        raise PbitError("the program declares no chain (chain NAME over x { steps T; noise …; sweeps K; })")
    chains = {c["name"]: c for c in ir.chains}
    if name is None:
        if len(chains) > 1:
            raise PbitError(f"the program has several chains ({', '.join(chains)}): choose one")
        name = next(iter(chains))
    if name not in chains:
        raise PbitError(f"no chain '{name}' (chains: {', '.join(chains)})")
    c = chains[name]
    items = c["items"]
    known = {"steps", "noise", "sweeps", "data"}
    unknown = sorted(set(items) - known)
    if unknown:
        raise CompileError(f"chain '{name}': unknown item(s) {', '.join(unknown)} (items: steps, noise, sweeps, data)")
    steps = items.get("steps", 8)
    sweeps = items.get("sweeps", 50)
    for key, value in (("steps", steps), ("sweeps", sweeps)):
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise CompileError(f"chain '{name}': {key} must be an integer ≥ 1, got {value!r}")
    index, kinds = [], []
    for var in c["over"]:
        start, shape, kind = ir.layout[var]
        size = math.prod(shape)
        index.append(np.arange(start, start + size))
        kinds.append((var, size, kind, tuple(shape)))
    data_index = np.concatenate(index).astype(np.int64)
    mask = None
    if "data" in items:
        mask, kinds = _data_mask(name, items["data"], kinds)
        data_index = data_index[mask]
    graphs = _Graphs(lambda: _lattice_of(kinds), lambda: _program_graph(ir, name, data_index))
    noise = make_noise(items.get("noise"), steps, graphs)
    return ChainSpec(name, list(c["over"]), steps, sweeps, noise, data_index, kinds, c.get("source", "<chain>"),
                     mask)


def _data_mask(name: str, value, kinds: list) -> tuple:
    """`data MASK`: MASK (0/1, the shape of the one `over` variable) picks the data spins; the others
    are latent (sampled at every step, never noised or clamped).  Returns the mask (flat, bool) and
    the data's kinds: one entry whose shape is the grid of rows × columns the mask picks when it
    picks a full one (a 28×28 image spread over a 70×70 fabric), else the count."""
    if len(kinds) != 1:
        raise CompileError(f"chain '{name}': 'data MASK' picks cells of one variable: the chain must be over one")
    var, size, kind, shape = kinds[0]
    mask = np.asarray(value if not isinstance(value, (bool, str, dict)) else [], dtype=object)
    try:
        mask = mask.astype(np.float64)
    except (TypeError, ValueError):
        mask = np.zeros(0)
    if mask.shape != tuple(shape) or not np.all((mask == 0) | (mask == 1)) or not mask.any():
        raise CompileError(f"chain '{name}': data takes an array of 0s and 1s of {var}'s shape {tuple(shape)} with "
                           f"at least one 1 (a param, e.g. load(\"mask.txt\"))")
    picked = mask.astype(bool)
    count = int(picked.sum())
    grid = (count,)
    if picked.ndim == 2:
        r, c = np.flatnonzero(picked.any(axis=1)), np.flatnonzero(picked.any(axis=0))
        if len(r) * len(c) == count:
            grid = (len(r), len(c))
    return picked.ravel(), [(var, count, kind, grid)]


class _Graphs:
    """The coupling graphs correlated noise may run on ('lattice', 'program'), built only when asked
    for: flip noise needs neither, and chain_spec runs at every train() and generate()."""

    def __init__(self, lattice, program):
        self.build = {"lattice": lattice, "program": program}

    def __getitem__(self, name: str) -> sp.csr_array:
        return self.build[name]()


def _program_graph(ir, name: str, data_index: np.ndarray) -> sp.csr_array:
    """The program's fixed couplings among the data spins, signed as the noise reads them: the IR's
    energy coefficient J_ij (−1 for a ferromagnetic bond −s_i s_j) becomes +1, so that
    E_fwd = −β_t J Σ graph_ij y_i y_j favours what the program favours.  Trainable couplings have no
    value before training and the forward process must stay fixed while it trains: a coupling with a
    fixed part (−(J0 + w) s_i s_j) contributes J0, one that is only a weight contributes nothing — and
    a program whose couplings among the data are all only weights is refused."""
    J = sp.csr_array(ir.J)
    if ir.weights is not None:
        fixed = np.asarray(ir.weights.J_const, dtype=np.float64)
        only_weight = (np.diff(sp.csr_array(ir.weights.dJ).indptr) > 0) & (fixed == 0)   # per J.data entry
        rows = np.repeat(np.arange(J.shape[0]), np.diff(J.indptr))
        in_data = np.zeros(J.shape[0], bool)
        in_data[data_index] = True
        among = in_data[rows] & in_data[J.indices]
        bad = only_weight & among
        if bad.any() and not np.any((fixed != 0) & among):        # nothing fixed to run on: refuse, located
            k = int(np.flatnonzero(bad)[0])
            where = ir.term_source(int(rows[k]), int(J.indices[k]))
            raise CompileError(f"chain '{name}': correlated(graph = program) runs on the program's fixed couplings "
                               f"among the data variables, and {int(bad.sum()) // 2} of them are trainable weights "
                               f"(the first from {where}), which have no value before training: use graph = lattice, "
                               f"or give those couplings fixed values")
        J = sp.csr_array((fixed, J.indices, J.indptr), shape=J.shape)
    graph = -J[data_index][:, data_index]
    graph.eliminate_zeros()
    if graph.nnz == 0:
        warnings.warn(PbitWarning(f"chain '{name}': the program has no fixed couplings among the data variables, so "
                                  f"correlated(graph = program) is independent flips"), stacklevel=2)
    return graph


def _lattice_of(kinds) -> sp.csr_array:
    return sp.block_diag([lattice_graph(shape) for _, _, _, shape in kinds], format="csr") if kinds else sp.csr_array((0, 0))


def data_to_spins(spec: ChainSpec, data) -> np.ndarray:
    """Training data (num, d) of bits 0/1 or spins ±1 → ±1 int8, checked against the chain's variables."""
    x = np.asarray(data)
    d = len(spec.data_index)
    if x.ndim != 2 or x.shape[1] != d:
        raise PbitError(f"chain '{spec.name}' is over {d} variables ({', '.join(spec.over)}): data must have shape "
                        f"(num, {d}), got {x.shape}")
    if x.shape[0] == 0:
        raise PbitError("the training data is empty")
    if all_in(x, (0, 1)):                          # comparisons, not np.unique's sort of the whole data
        return (2 * x - 1).astype(np.int8)
    if all_in(x, (-1, 1)):
        return x.astype(np.int8)
    values = np.unique(x)
    raise PbitError(f"data values must be bits (0/1) or spins (±1); found {values[:6].tolist()}")


class StepPattern:
    """What every step model of a chain shares: the coupling pattern (the program's plus the links of
    the data spins to their clamped copies x_t), each entry's term, colours and layout.  Built once;
    a step brings only its weights and its links' values."""

    def __init__(self, ir, spec: ChainSpec):
        n, d = ir.num_spins, len(spec.data_index)
        self.n, self.d = n, d
        copy, data = spec.noise.link_pairs(d)    # copy k of x_t coupled to data spin j (see the noise)
        self.links = len(copy)
        coo = ir.J.tocoo()                       # in the order of J.data, as is every step's base data
        self.sources = tuple(ir.sources) + (spec.source,)
        base_terms = ir.J_term if ir.J_term is not None else np.full(ir.J.nnz, -1)
        terms = np.r_[base_terms, np.full(2 * self.links, len(self.sources) - 1)].astype(np.int32)   # links cite the chain
        # assembled from COO so that structural zeros (trainable couplings at 0) stay in the pattern; the
        # entries are numbered so that their values and terms follow them into CSR order
        rows = np.r_[coo.row, spec.data_index[data], n + copy]
        cols = np.r_[coo.col, n + copy, spec.data_index[data]]
        numbered = sp.coo_array((np.arange(1, len(rows) + 1, dtype=np.float64), (rows, cols)),
                                shape=(n + d, n + d)).tocsr()
        numbered.sort_indices()
        self.order = numbered.data.astype(np.int64) - 1
        self.indices, self.indptr, self.shape = numbered.indices, numbered.indptr, numbered.shape
        self.J_term = terms[self.order]
        if self.links == d and np.array_equal(copy, data):       # each copy tied to its own spin: a colour apart
            copy_colors = (ir.colors[spec.data_index] + 1) % max(2, ir.num_colors)
        else:                                                   # copies tied to other spins: a colour of their own
            copy_colors = np.full(d, ir.num_colors)
        self.colors = np.r_[ir.colors, copy_colors].astype(np.int32)
        self.layout = dict(ir.layout)
        self.layout["__x_t"] = (n, (d,), "spin")
        self.h_term = np.r_[ir.h_term if ir.h_term is not None else np.full(n, -1), np.full(d, -1)].astype(np.int32)

    def model(self, base, links: np.ndarray):
        """The step model from the program at its step weights (base) and the links' energy
        coefficients (the noise's link_values)."""
        data = np.r_[base.J.data, links, links][self.order]
        J = sp.csr_array((data, self.indices, self.indptr), shape=self.shape)
        return replace(base, num_spins=self.n + self.d, h=np.r_[base.h, np.zeros(self.d)],
                       J=J, colors=self.colors, layout=self.layout, weights=None,
                       observables={}, constraints=(), sources=self.sources, h_term=self.h_term,
                       J_term=self.J_term)


def step_ir(ir, spec: ChainSpec, t: int, theta: np.ndarray | None, pattern: StepPattern | None = None):
    """Step t's model with weights θ_t: the program plus clamped copies of the data spins, linked as the noise implies.
    Its terms keep their sources (errors about a step cite the program's lines), the links cite
    the chain.  pattern: the chain's StepPattern, when the caller keeps one."""
    base = ir.with_weights(theta) if theta is not None and ir.weights is not None else ir
    pattern = StepPattern(ir, spec) if pattern is None else pattern
    return pattern.model(base, spec.noise.link_values(t, len(spec.data_index)))


class DenoisingChain:
    """Reverse sampling of a chain with given per-step weights."""

    def __init__(self, ir, spec: ChainSpec, thetas: np.ndarray):
        self.ir = ir
        self.spec = spec
        self.thetas = np.asarray(thetas, dtype=np.float64)
        self.pattern = StepPattern(ir, spec)

    def step(self, t: int):
        return step_ir(self.ir, self.spec, t, self.thetas[t - 1] if self.thetas.size else None, self.pattern)

    def generate(self, num: int = 64, backend="cpu", seed: int = 0, sweeps: int | None = None,
                 beta=None, **options) -> SampleResult:
        """x_T from the stationary noise, then for t = T … 1 a Gibbs run of step t's model with x_t
        clamped, on one kernel of the backend (the step models share one structure)."""
        for name, value in (("num", num), ("sweeps", self.spec.sweeps if sweeps is None else sweeps)):
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)) or value < 1:
                raise OptionError(f"{name} must be an integer ≥ 1, got {value!r}")
        sweeps = self.spec.sweeps if sweeps is None else int(sweeps)
        d, n = len(self.spec.data_index), self.ir.num_spins
        limit = int_option({"max_sample_bytes": options.pop("max_sample_bytes", 4 * 2**30)}, "max_sample_bytes", 0, 0)
        need = num * (3 * (n + d) + sample_bytes(self.ir))             # states, their copy for a step, the result
        if need > limit:
            raise OptionError(f"generating {num:,} samples of {n:,} spins needs about {need / 2**30:.1f} GiB, over "
                              f"the limit of {limit / 2**30:.1f} GiB: generate fewer at a time (or raise "
                              f"max_sample_bytes)")
        be = get_backend(backend)
        betas = None if beta is None else beta_schedule(beta, sweeps)      # one β, or one per sweep of a step
        rng = np.random.default_rng(seed)
        x = self.spec.noise.stationary(num, d, rng)
        state = (2 * rng.integers(0, 2, size=(num, n), dtype=np.int8) - 1).astype(np.int8)
        energy, latency, seconds, updates = 0.0, 0.0, 0.0, 0
        ledger: dict = {}
        t0 = time.perf_counter()
        copies = np.arange(n, n + d)
        kernel = None
        for t in range(self.spec.steps, 0, -1):
            model = self.step(t)
            if kernel is None:                                 # prepared once, on the first step's model
                kernel = be.kernel(model, num, copies, **options)
            init = np.concatenate([state, x], axis=1)
            init[:, self.spec.data_index] = x                  # start the data spins at x_t
            S = np.ascontiguousarray(init.T, dtype=np.int8)
            b = betas if betas is not None else np.full(sweeps, model.beta if model.beta is not None else 1.0)
            draws = kernel.run(model.h, model.J.data, x, S, b, int(rng.integers(2**31)))
            state, info = S[:n].T.copy(), {**kernel.report(sweeps, 1), "spin_updates": draws.spin_updates}
            placed = {k: info[k] for k in ("fabric", "placement", "clock_mode") if k in info}
            x = state[:, self.spec.data_index].copy()
            energy += info.get("energy_per_sample_J", 0.0)
            latency += info.get("latency_per_sample_s", 0.0)
            updates += info.get("spin_updates", 0)
            for k, v in info.get("ledger", {}).items():
                ledger[k] = ledger.get(k, 0.0) + v
        seconds = time.perf_counter() - t0
        beta_info = ({"schedule": [float(betas[0]), float(betas[-1])]} if betas is not None and np.ptp(betas)
                     else float(betas[0]) if betas is not None else self.ir.beta if self.ir.beta is not None else 1.0)
        info = {"backend": be.name, "chain": self.spec.name, "over": list(self.spec.over), "steps": self.spec.steps,
                "sweeps_per_step": sweeps,
                "beta": beta_info,
                "seed": seed, "spin_updates": int(updates), "spin_updates_per_s": updates / seconds if seconds else 0.0,
                "timings": {"total_s": seconds}}
        if ledger:
            info.update({"energy_per_sample_J": energy, "latency_per_sample_s": latency, "ledger": ledger})
        info.update(placed)                                  # the fabric, and where the step model sits on it
        base = self.ir.with_weights(self.thetas[0]) if self.thetas.size and self.ir.weights is not None else self.ir
        return SampleResult(base, state, num, info)
