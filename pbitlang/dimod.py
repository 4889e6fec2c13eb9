"""dimod both ways (extra `dimod`): models in and out, and pbitlang's backends as dimod samplers.

    prog = pb.from_dimod(bqm)          # a BinaryQuadraticModel or BinaryPolynomial → a Program
    bqm = prog.to_dimod()               # a compiled program → a BQM (BinaryPolynomial with k-body terms)
    PbitSampler().sample(bqm, num_reads=64, num_sweeps=1000)

    FabricSampler("dtca")               # a fabric with a fixed topology as a dimod Structured sampler

dimod is imported when one of these is first used (and to write BQM files; pbitlang reads them itself)."""
from __future__ import annotations

import math
import time

import numpy as np

from .api import DEFAULT_BACKEND, Program
from .backends import get_backend
from .errors import OptionError, require
from .models import dimod_ir, model_ir, spin_terms

SCHEDULE_TYPES = ("geometric", "linear", "custom")


def _dimod():
    return require("dimod", "dimod", "dimod interop")


def from_dimod(model, name: str = "<dimod>") -> Program:
    """A Program with the same energy as `model` on every state: a dimod.BinaryQuadraticModel (SPIN or
    BINARY) or a dimod.BinaryPolynomial (its k-body terms kept as k-body factors).  Labels of any
    hashable kind are kept: `prog.ir.labels`, the samples' columns, and to_dimod() give them back."""
    return Program(dimod_ir(model, name))


def default_beta_range(ir) -> tuple:
    """(hot, cold) β for annealing, by the rule dwave-samplers uses: at the hot end the largest
    energy change a flip can make is accepted half the time, at the cold end the smallest one
    excites one spin in a hundred over the model (log(100·n)/(2·smallest field))."""
    h, rows, cols, values, _, higher = spin_terms(ir)
    n = ir.num_spins
    total = np.abs(h).copy()
    smallest = np.where(h != 0, np.abs(h), np.inf)
    ends = [(np.r_[rows, cols], np.abs(np.r_[values, values]))]           # every term, at each of its spins
    ends += [(idx.ravel(), np.repeat(np.abs(coeff), idx.shape[1])) for idx, coeff in higher.values()]
    for spins, a in ends:
        np.add.at(total, spins, a)
        np.minimum.at(smallest, spins, np.where(a > 0, a, np.inf))
    if not n or not np.any(total > 0):
        return 0.1, 1.0
    hot = math.log(2) / (2 * float(total.max()))
    cold = math.log(100 * n) / (2 * float(smallest[np.isfinite(smallest)].min()))
    return hot, max(cold, hot)


def _build_sampler_class():
    dimod = _dimod()

    class PbitSampler(dimod.Sampler, dimod.PolySampler, dimod.Initialized):
        """pbitlang's backends as a dimod sampler: `num_reads` independent annealing runs of
        `num_sweeps` Gibbs sweeps each from `beta_range[0]` to `beta_range[1]` (geometric or linear,
        or any `beta_schedule` with type 'custom'), the final state of each read returned.  The
        parameters mean what they mean in dwave-samplers' SimulatedAnnealingSampler; the backend
        (cpu by default, the emulator with a fabric) and its options are chosen at construction."""

        def __init__(self, backend: str = DEFAULT_BACKEND, **options):
            self.backend = get_backend(backend)
            unknown = sorted(set(options) - set(self.backend.options))
            if unknown:
                raise OptionError(f"the '{self.backend.name}' backend has no option {', '.join(unknown)}")
            self.options = dict(options)
            self._properties = {"beta_schedule_options": SCHEDULE_TYPES, "backend": self.backend.name,
                                "backend_options": dict(options)}

        @property
        def parameters(self) -> dict:
            return {"num_reads": [], "num_sweeps": [], "beta_range": [], "beta_schedule_type":
                    ["beta_schedule_options"], "beta_schedule": [], "initial_states": [],
                    "initial_states_generator": [], "seed": []}

        @property
        def properties(self) -> dict:
            return self._properties

        def sample(self, bqm, num_reads=None, num_sweeps: int = 1000, beta_range=None,
                   beta_schedule_type: str = "geometric", beta_schedule=None, initial_states=None,
                   initial_states_generator: str = "random", seed=None, **kwargs):
            """Sample a BinaryQuadraticModel (see the class docstring)."""
            return self._run(bqm, num_reads, num_sweeps, beta_range, beta_schedule_type, beta_schedule,
                             initial_states, initial_states_generator, seed, kwargs)

        def sample_poly(self, polynomial, num_reads=None, num_sweeps: int = 1000, beta_range=None,
                        beta_schedule_type: str = "geometric", beta_schedule=None, seed=None, **kwargs):
            """Sample a BinaryPolynomial: its k-body terms are k-body factors of the model, not
            reduced to quadratic ones with auxiliary variables."""
            return self._run(polynomial, num_reads, num_sweeps, beta_range, beta_schedule_type, beta_schedule,
                             None, "random", seed, kwargs)

        def _model(self, model) -> tuple:
            """(the IR to sample, the columns of the model's variables in it)."""
            ir = dimod_ir(model, "<dimod>")
            return ir, np.arange(ir.num_spins)

        def _run(self, model, num_reads, num_sweeps, beta_range, schedule_type, schedule, initial_states,
                 generator, seed, kwargs):
            if kwargs:
                raise OptionError(f"PbitSampler.sample takes no {', '.join(sorted(kwargs))} (parameters: "
                                  f"{', '.join(self.parameters)})")
            t0 = time.perf_counter()
            ir, columns = self._model(model)
            labels = [ir.labels[c] for c in columns]
            if seed is None:
                seed = int(np.random.SeedSequence().entropy % 2 ** 32)
            initial = "random"
            if initial_states is not None:
                parsed = self.parse_initial_states(model, initial_states=initial_states,
                                                   initial_states_generator=generator, num_reads=num_reads,
                                                   seed=seed)
                order = [parsed.initial_states.variables.index(v) for v in labels]
                values = parsed.initial_states.record.sample[:, order].astype(np.int8)
                initial = np.ones((len(values), ir.num_spins), dtype=np.int8)      # cells the model leaves free: +1
                initial[:, columns] = (2 * values - 1) if model.vartype is dimod.BINARY else values
                num_reads = parsed.num_reads
            reads = 1 if num_reads is None else num_reads
            betas, schedule_type = _schedule(ir, num_sweeps, beta_range, schedule_type, schedule)
            options = dict(self.options)
            if not isinstance(initial, str):
                options["initial"] = np.ascontiguousarray(initial)             # (reads, n)
            res = self.backend.sample(ir, chains=reads, sweeps=len(betas), burn_in=0, thin=len(betas),
                                      beta=betas, seed=seed, **options)
            values = res.samples[:, columns]
            if model.vartype is dimod.BINARY:
                values = (values + 1) // 2
            info = {"timing": {**res.info.get("timings", {}), "total_s": time.perf_counter() - t0},
                    "beta_range": [float(betas[0]), float(betas[-1])], "beta_schedule_type": schedule_type,
                    "beta_schedule": betas, "backend": res.info.get("backend"), "seed": seed}
            for key in ("energy_per_sample_J", "latency_per_sample_s", "ledger", "fabric"):
                if key in res.info:
                    info[key] = res.info[key]
            reads_done = res.num_chains
            return dimod.SampleSet.from_samples((values, labels), model.vartype, energy=res.energies,
                                                info=info, chain=np.arange(reads_done),
                                                sweep=np.full(reads_done, res.info.get("sweeps", len(betas))))

    class FabricSampler(dimod.Structured, PbitSampler):
        """The emulator on a fabric with a fixed topology (dtca: a 70×70 torus with G12 jumps) as a
        structured dimod sampler: its nodes are the cells (row, column), its edges the fabric's
        connections, and a model placed on them runs cell for cell (every cell is clocked, so the
        energy ledger counts the whole chip)."""

        def __init__(self, fabric: str = "dtca", **options):
            super().__init__("emulator", fabric=fabric, **options)
            graph = fabric_graph(fabric)
            if graph is None:
                raise OptionError(f"the '{fabric}' fabric has no fixed topology (any graph within its capacity "
                                  f"fits): use PbitSampler('emulator', fabric='{fabric}')")
            self.L, self._nodelist, self._edgelist = graph
            self._properties["topology"] = {"kind": "torus", "L": self.L}

        nodelist = property(lambda self: self._nodelist)
        edgelist = property(lambda self: self._edgelist)

        @dimod.decorators.bqm_structured
        def sample(self, bqm, **parameters):
            """Sample a BQM whose variables are cells and whose interactions are edges of the fabric."""
            return super().sample(bqm, **parameters)

        def sample_poly(self, polynomial, **parameters):
            raise OptionError("the fabric couples p-bits in pairs: sample a BinaryQuadraticModel (reduce k-body "
                              "terms first, e.g. with dimod.make_quadratic)")

        def _model(self, model) -> tuple:
            """The whole fabric as one L×L variable (row-major placement puts label (r, c) at cell
            (r, c)); the model's biases on its cells, zero elsewhere."""
            L, labels = self.L, list(model.variables)
            index = {v: r * L + c for v, (r, c) in zip(labels, labels)}
            linear, (rows, cols, values), offset = model.to_numpy_vectors(variable_order=labels)
            at = np.array([index[v] for v in labels], dtype=np.int64)
            full = np.zeros(L * L)
            full[at] = linear
            ir = model_ir(L * L, full, at[rows], at[cols], values, offset, model.vartype.name,
                          labels=[(r, c) for r in range(L) for c in range(L)], shape=(L, L), name="<dimod>")
            return ir, at

    return PbitSampler, FabricSampler


def fabric_graph(fabric) -> tuple | None:
    """(L, nodes, edges) of a fabric with a fixed torus topology, or None: nodes are the cells
    (row, column), edges join each cell to the cells one of the fabric's jumps away."""
    from .backends.emulator.fabric import fabric_jumps, load_fabric
    fab = load_fabric(fabric)
    if not fab.topology:
        return None
    L = int(fab.topology["L"])
    nodes = [(r, c) for r in range(L) for c in range(L)]
    edges = set()
    for r, c in nodes:
        for dr, dc in fabric_jumps(fab.topology):
            other = ((r + dr) % L, (c + dc) % L)
            edges.add(min((r, c), other) + max((r, c), other))
    return L, nodes, sorted(((a, b), (x, y)) for a, b, x, y in edges)


def _schedule(ir, num_sweeps, beta_range, schedule_type, schedule) -> tuple:
    """The β of every sweep, as dwave-samplers reads its schedule parameters."""
    if schedule_type not in SCHEDULE_TYPES:
        raise OptionError(f"beta_schedule_type is one of {', '.join(SCHEDULE_TYPES)}, not {schedule_type!r}")
    if schedule_type == "custom" or schedule is not None:
        if schedule is None:
            raise OptionError("beta_schedule_type 'custom' needs a beta_schedule")
        betas = np.asarray(schedule, dtype=np.float64).ravel()
        if betas.size == 0 or not np.all(np.isfinite(betas)) or np.any(betas < 0):
            raise OptionError("beta_schedule must be a non-empty list of finite β ≥ 0")
        return betas, "custom"
    if isinstance(num_sweeps, bool) or not isinstance(num_sweeps, (int, np.integer)) or num_sweeps < 1:
        raise OptionError(f"num_sweeps must be a whole number ≥ 1, got {num_sweeps!r}")
    lo, hi = default_beta_range(ir) if beta_range is None else _pair(beta_range)
    if schedule_type == "geometric":
        if lo <= 0:
            raise OptionError("a geometric schedule needs beta_range > 0 at both ends")
        return np.geomspace(lo, hi, int(num_sweeps)), schedule_type
    return np.linspace(lo, hi, int(num_sweeps)), schedule_type


def _pair(beta_range) -> tuple:
    try:
        lo, hi = (float(b) for b in beta_range)
    except (TypeError, ValueError):
        raise OptionError(f"beta_range is (hot β, cold β), got {beta_range!r}") from None
    if not (math.isfinite(lo) and math.isfinite(hi) and 0 <= lo and 0 <= hi):
        raise OptionError(f"beta_range must be two finite β ≥ 0, got {beta_range!r}")
    return lo, hi


def __getattr__(name):
    if name in ("PbitSampler", "FabricSampler"):
        globals()["PbitSampler"], globals()["FabricSampler"] = _build_sampler_class()
        return globals()[name]
    raise AttributeError(f"module 'pbitlang.dimod' has no attribute '{name}'")
