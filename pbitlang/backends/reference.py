"""The reference backend: chromatic Gibbs sampling (heat bath) in float64 numpy and scipy.

It is the oracle the other backends are tested against, written to be read, not to be fast
(as dimod's reference samplers are): use `cpu` for speed.

A proper colouring splits the spins into blocks with no coupling inside a block, so all
spins of one colour can be updated together and the update is still an exact Gibbs step.
For a spin i with local field f_i = h_i + Σ_j J_ij s_j (+ its k-body factors),

    p(s_i = +1 | rest) = 1 / (1 + exp(2 β f_i)),

the heat-bath conditional of p(s) ∝ exp(−β E(s)).  A sweep updates every colour once.
States are kept as (n, chains): each chain is a column, every block update is one sparse
product for all chains at once."""
from __future__ import annotations

import numpy as np
import scipy.sparse as sp
from scipy.special import expit

from ..colour import ColourBlocks
from .base import Backend, Draws, Kernel, Record
from .runspec import COMMON_OPTIONS


def heat_bath(fields: np.ndarray, beta, uniforms: np.ndarray) -> np.ndarray:
    """New spins (float64 ±1) for local fields f at inverse temperature β (a number, or one per
    column): +1 with probability σ(−2βf), decided by uniforms in [0, 1)."""
    return np.where(uniforms < expit(-2.0 * beta * fields), 1.0, -1.0)


class ColourBlock:
    """The free spins of one colour, `spins`, with their rows of J (spins × n) and, per k-body
    factor touching them, which member is theirs: (factor order, member position, the factor rows,
    the block row each factor adds to)."""

    def __init__(self, ir, spins: np.ndarray):
        self.spins = spins
        self.kbody = []
        mine = np.zeros(ir.num_spins, dtype=bool)
        mine[spins] = True
        for order, (idx, _) in ir.kbody.items():
            for p in range(idx.shape[1]):
                rows = np.flatnonzero(mine[idx[:, p]])
                if len(rows):
                    self.kbody.append((order, p, rows, np.searchsorted(spins, idx[rows, p])))

    def fields(self, ir, h: np.ndarray, J: sp.csr_array, X: np.ndarray) -> np.ndarray:
        """Local fields (len(spins), chains) of the block's spins in state X (n, chains)."""
        F = h[self.spins, None] + J[self.spins] @ X
        for order, p, rows, target in self.kbody:
            idx, coeff = ir.kbody[order]
            others = np.delete(idx[rows], p, axis=1)
            np.add.at(F, target, coeff[rows, None] * np.prod(X[others], axis=1))
        return F


class ReferenceKernel(Kernel):
    def __init__(self, ir, chains: int, clamp_index=()):
        super().__init__(ir, chains, clamp_index)
        self.blocks = [ColourBlock(ir, spins) for spins in ColourBlocks(ir.colors, self.free)]
        self.rngs = None

    def uniforms(self, count: int) -> np.ndarray:
        """(count, chains) uniforms, each chain's column from its own generator, seeded by (seed,
        chain index) alone: a chain draws the same whatever other chains run beside it."""
        return np.stack([rng.random(count) for rng in self.rngs], axis=1)

    def run(self, h, J_data, clamp_values, state, betas, seed, record: Record | None = None) -> Draws:
        self.load(h, J_data, clamp_values, state)
        if seed is not None or self.rngs is None:
            self.rngs = [np.random.default_rng([seed or 0, int(c)]) for c in self.chain_ids]
        ir = self.ir
        h = np.asarray(self.h, dtype=np.float64)
        J = sp.csr_array((np.asarray(self.J_data, dtype=np.float64), ir.J.indices, ir.J.indptr), shape=ir.J.shape)
        X = state.astype(np.float64)
        betas = np.asarray(betas, dtype=np.float64)
        for j, beta in enumerate(betas):          # beta: a number, or a row of one per chain
            for block in self.blocks:
                F = block.fields(ir, h, J, X)
                X[block.spins] = heat_bath(F, beta, self.uniforms(len(block.spins)))
            if record is not None and record.due(j):
                record.out[record.kept] = X
                record.kept += 1
        state[:] = X
        return Draws(len(betas), record.kept if record is not None else 0, self.updates(len(betas)))


class ReferenceBackend(Backend):
    name = "reference"
    description = "chromatic block Gibbs in float64 numpy/scipy, the oracle the other backends are tested against (not for speed)"
    options = COMMON_OPTIONS

    def prepare(self, ir, chains: int, clamp_index=(), **options) -> ReferenceKernel:
        return ReferenceKernel(ir, chains, clamp_index)
