"""The reference backend: chromatic block Gibbs (heat bath) with scipy and numpy.

Spins are renumbered so that each colour's free spins are one contiguous block
and chains lie on the fast axis: the state is X (n, chains) float32.  Updating
a colour is one sparse × dense product F = J_c X (plus fields and k-body
terms), p(s=+1) = σ(−2βF) = 1/(1 + e^{2βF}), one batch of uniforms, and a
sign.  Spins of one colour are never coupled, so the block update is an exact
Gibbs step; a sweep updates every colour once."""
from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from ..results import SampleResult
from .base import COMMON_OPTIONS, Backend, Runner, initial_state, run_info


class ColourPlan:
    """The IR renumbered into colour blocks of free spins, ready for block updates."""

    def __init__(self, ir, clamp_index: np.ndarray, dtype=np.float32):
        n = ir.num_spins
        free = np.ones(n, dtype=bool)
        free[clamp_index] = False
        colors = ir.colors.astype(np.int64)
        order = np.lexsort((np.arange(n), colors, ~free))         # free spins by colour, then clamped
        self.perm = order                                         # new position k holds spin perm[k]
        self.inv = np.empty(n, dtype=np.int64)
        self.inv[order] = np.arange(n)
        Jp = sp.csr_array(ir.J)[order][:, order] if n else sp.csr_array((0, 0))
        Jp = sp.csr_array(Jp, dtype=dtype)
        hp = ir.h[order].astype(dtype)
        self.blocks = []
        c_sorted = colors[order]
        n_free = int(free.sum())
        self.free = n_free
        for c in np.unique(c_sorted[:n_free]):
            a = int(np.searchsorted(c_sorted[:n_free], c, "left"))
            b = int(np.searchsorted(c_sorted[:n_free], c, "right"))
            h_block = hp[a:b, None].copy()
            self.blocks.append((a, b, sp.csr_array(Jp[a:b]), h_block if np.any(h_block) else None,
                                self._kbody_terms(ir, a, b)))

    def _kbody_terms(self, ir, a: int, b: int):
        """For spins in positions a..b: (target rows, other members, coefficients) of each k-body factor."""
        terms = []
        for idx, coeff in ir.kbody.values():
            pidx = self.inv[idx]                                  # positions of the members
            k = idx.shape[1]
            for p in range(k):
                rows = (pidx[:, p] >= a) & (pidx[:, p] < b)
                if not rows.any():
                    continue
                others = np.delete(pidx[rows], p, axis=1)
                target = pidx[rows, p] - a
                scatter = sp.csr_array((np.ones(len(target), dtype=np.float32), (target, np.arange(len(target)))),
                                       shape=(b - a, len(target)))
                terms.append((scatter, others, coeff[rows].astype(np.float32)[:, None]))
        return terms


def local_fields(block, X: np.ndarray) -> np.ndarray:
    """f_i = h_i + Σ_j J_ij s_j + k-body terms, for the spins of one colour block."""
    a, b, Jc, hc, kterms = block
    F = Jc @ X
    if hc is not None:
        F += hc
    for scatter, others, coeff in kterms:
        prod = X[others[:, 0]] * coeff
        for q in range(1, others.shape[1]):
            prod *= X[others[:, q]]
        F += scatter @ prod
    return F


def uniforms_from_bits(raw: np.ndarray) -> np.ndarray:
    """uint64 random bits → twice as many float32 uniforms in [0, 1), 23 bits each, in place.

    The top 23 bits of each 32-bit half become the mantissa of a float in
    [1, 2); subtracting 1 gives the uniform.  Four cheap passes instead of
    numpy's float generator, which dominates a Gibbs sweep otherwise."""
    bits = raw.view(np.uint32)
    np.right_shift(bits, 9, out=bits)
    np.bitwise_or(bits, np.uint32(0x3F800000), out=bits)
    u = bits.view(np.float32)
    np.subtract(u, np.float32(1.0), out=u)
    return u


def update_block(block, X: np.ndarray, beta, U: np.ndarray, keep_fields=None) -> None:
    """Heat-bath update of one colour block in place: s = +1 with probability σ(−2βf).
    beta is a number, or a row (1, chains) of one β per column (parallel tempering);
    keep_fields, if given, receives the fields f used (parallel tempering's energies)."""
    a, b = block[0], block[1]
    F = local_fields(block, X)
    if keep_fields is not None:
        np.copyto(keep_fields, F)
    np.multiply(F, 2.0 * beta, out=F)
    np.exp(F, out=F)                      # e^{2βF}; overflow → inf → p = 0, as it should
    F += 1.0
    np.reciprocal(F, out=F)               # p(+1) = 1 / (1 + e^{2βF})
    np.subtract(F, U.reshape(F.shape), out=F)
    np.copysign(np.float32(1.0), F, out=X[a:b])


def gibbs_sweep(plan: ColourPlan, X: np.ndarray, beta, bitgen, last_fields=None) -> None:
    """One heat-bath sweep over all colour blocks, in place; one draw of random bits per sweep.
    last_fields, if given, receives the fields the last colour block was updated with."""
    C = X.shape[1]
    total = plan.free * C
    U = uniforms_from_bits(bitgen.random_raw((total + 1) // 2))
    last = len(plan.blocks) - 1
    for k, block in enumerate(plan.blocks):
        a, b = block[0], block[1]
        update_block(block, X, beta, U[a * C:b * C], last_fields if k == last else None)


def run_sweeps(plan: ColourPlan, X: np.ndarray, betas, bitgen, burn_in: int, thin: int, record: np.ndarray,
               progress=None, native: bool = False) -> tuple:
    """One sweep per β in betas, keeping every thin-th state after burn_in in record: (chains, kept, n),
    or (kept, n, chains) when native; returns (kept, sweeps done, interrupted): Ctrl-C stops the run
    and keeps what was sampled."""
    kept = done = 0
    limit = record.shape[0] if native else record.shape[1]
    with np.errstate(over="ignore"):
        try:
            for sweep in range(len(betas)):
                gibbs_sweep(plan, X, float(betas[sweep]), bitgen)
                done = sweep + 1
                after = done - burn_in
                if after > 0 and after % thin == 0 and kept < limit:
                    if native:
                        record[kept] = X.astype(np.int8)[plan.inv]
                    else:
                        record[:, kept, :] = X.astype(np.int8)[plan.inv].T
                    kept += 1
                if progress is not None:
                    progress(done, len(betas))
        except KeyboardInterrupt:
            return kept, done, True
    return kept, done, False


class ReferenceBackend(Backend):
    name = "reference"
    description = ("chromatic block Gibbs sampler (scipy sparse × dense, chains vectorised); exact k-body factors; "
                   "parallel tempering")
    options = {**COMMON_OPTIONS,
               "tempering": "parallel tempering: {'replicas': R, 'beta_min': 0.1, 'ladder': 'geometric' | "
                            "'adaptive' | [β…], 'swap_every': 1}; each chain is an independent replica set and "
                            "samples are taken at the run's β (the top of the ladder)"}

    def sample(self, ir, **options):
        tempering = options.pop("tempering", None)
        spec = self.validate(ir, options)
        if tempering:
            from .tempering import sample_tempering
            return sample_tempering(self, ir, spec, tempering)
        t0 = time.perf_counter()
        rng = np.random.Generator(np.random.SFC64(spec.seed))
        plan = ColourPlan(ir, spec.clamp_index)
        X = initial_state(ir, spec, rng)[plan.perm]
        C, n = spec.chains, ir.num_spins
        record = np.empty((C, spec.kept, n), dtype=np.int8)
        t1 = time.perf_counter()
        kept, done, interrupted = run_sweeps(plan, X, spec.betas, rng.bit_generator, spec.burn_in, spec.thin, record,
                                             spec.progress)
        t2 = time.perf_counter()
        samples = (record if kept == spec.kept else record[:, :kept]).reshape(C * kept, n)
        info = run_info(self.name, spec, ir, len(plan.blocks), done, C, t0, t1, t2, interrupted)
        return SampleResult(ir, samples, C, info)

    def runner(self, ir, chains, clamp_index, **options):
        if options or ir.kbody:
            return super().runner(ir, chains, clamp_index, **options)
        return ReferenceRunner(self, ir, chains, clamp_index, options)


def clamped_union(ir, clamp_index) -> np.ndarray:
    """The program's clamped spins together with those clamped per chain, sorted."""
    return np.union1d(ir.clamp_index, np.asarray(clamp_index, dtype=np.int64)).astype(np.int64)


def data_positions(ir) -> np.ndarray:
    """J.data numbered 1..nnz as float64: carried through a restructuring, the numbers say where each
    entry went (explicit zeros of the pattern are kept)."""
    return np.arange(1, ir.J.nnz + 1, dtype=np.float64)


class ReferenceRunner(Runner):
    """The colour plan built once; each run only writes the weights into the blocks' data."""

    def __init__(self, backend, ir, chains, clamp_index, options):
        from dataclasses import replace
        super().__init__(backend, ir, chains, clamp_index, options)
        labelled = replace(ir, J=sp.csr_array((data_positions(ir), ir.J.indices, ir.J.indptr), shape=ir.J.shape))
        self.plan = ColourPlan(labelled, clamped_union(ir, clamp_index), dtype=np.float64)
        self.sources, blocks = [], []
        for a, b, Jc, _, kterms in self.plan.blocks:
            self.sources.append(Jc.data.astype(np.int64) - 1)
            blocks.append((a, b, sp.csr_array((np.zeros(Jc.nnz, np.float32), Jc.indices, Jc.indptr), shape=Jc.shape),
                           np.zeros((b - a, 1), np.float32), kterms))
        self.plan.blocks = blocks
        self.fixed_pos = self.plan.inv[ir.clamp_index]
        self.chain_pos = self.plan.inv[self.clamp_index]

    def run(self, h, J_data, clamp_value, initial, sweeps, burn_in, thin, beta, seed):
        plan, C, n = self.plan, self.chains, self.ir.num_spins
        hp = np.asarray(h, dtype=np.float32)[plan.perm]
        for (a, b, Jc, hc, _), src in zip(plan.blocks, self.sources):
            Jc.data[:] = J_data[src]
            hc[:, 0] = hp[a:b]
        X = np.asarray(initial, dtype=np.float32)[plan.perm]
        X[self.fixed_pos] = self.ir.clamp_value[:, None]
        X[self.chain_pos] = np.asarray(clamp_value, dtype=np.float32).T
        rng = np.random.Generator(np.random.SFC64(seed))
        record = np.empty((sweeps // thin, n, C), dtype=np.int8)
        _, _, interrupted = run_sweeps(plan, X, np.full(burn_in + sweeps, float(beta)), rng.bit_generator, burn_in, thin,
                                       record, native=True)
        if interrupted:
            raise KeyboardInterrupt
        return record, plan.free * C * (burn_in + sweeps)
