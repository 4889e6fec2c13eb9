"""The reference backend: chromatic block Gibbs (heat bath) with scipy and numpy.

Spins are renumbered so that each colour's free spins are one contiguous block
and chains lie on the fast axis: the state is X (n, chains) float32.  Updating
a colour is one matrix product for its fields F = J_c X + h_c (plus k-body
terms), a tanh and one batch of uniforms: p(s=+1) = σ(−2βF) = (1 − tanh βF)/2,
so s = +1 exactly when tanh(βF) + v < 0 for v uniform in [−1, 1).  Spins of one
colour are never coupled, so the block update is an exact Gibbs step; a sweep
updates every colour once.

Speed (see docs/backends.md): β is folded into the blocks' weights while it
stays the same; couplings to clamped spins and h make one constant field per
run; the sign of tanh(βF) + v becomes ±1 with two integer passes on the bits;
parts of a block's matrix that are dense (an RBM's layers) are multiplied as
dense tiles with BLAS, ten times the rate of scipy's sparse product, and only
the rest goes through the sparse one."""
from __future__ import annotations

import time

import numpy as np
import scipy.sparse as sp

from ..results import SampleResult
from .base import COMMON_OPTIONS, Backend, Runner, initial_state, per_sweep, run_info
from .layout import StructureCache, entry_labels, gather_rows, record_rows, row_ptr, set_rows, split_tiles

TILE_DENSITY = 0.25       # a dense tile pays off from ≈1/8 filled (BLAS ≈10× scipy's per product); margin 2×
TILE_AREA = 256           # smaller tiles cost more in call overhead than they save


class Tile:
    """Dense parts of a block's coupling matrix: rows r0..r1 of the block × plan positions c0..c1,
    as S equal tiles one after another on both axes (a stacked DTM's steps), D (S, m, k): one batched
    product, which numpy loops over in C (≈40 % less than a call per tile at the digits DTM's
    sizes).  gather: for each cell of D, the entry of J.data it holds, or nnz for an empty cell
    (fold() appends a zero there): filling D is one np.take."""
    __slots__ = ("r0", "r1", "c0", "c1", "D", "gather")

    def __init__(self, r0, r1, c0, c1, gather, S: int = 1):
        self.r0, self.r1, self.c0, self.c1 = r0, r1, c0, c1
        self.D = np.zeros((S, (r1 - r0) // S, (c1 - c0) // S), dtype=np.float32)
        self.gather = gather

    def product(self, X: np.ndarray) -> np.ndarray:
        """D·X[c0:c1] for every stacked tile, (r1 − r0, chains) (the sweeps' products go through
        BlockViews, into buffers made once per run)."""
        S, m, k = self.D.shape
        return np.matmul(self.D, X[self.c0:self.c1].reshape(S, k, X.shape[1])).reshape(S * m, X.shape[1])


def _stacked(tiles: list) -> list:
    """Tiles of one shape that follow one another in rows and in columns, merged into one Tile each."""
    runs = []
    for t in sorted(tiles, key=lambda t: t.r0):
        last = runs[-1][-1] if runs else None
        if (last is not None and t.r0 == last.r1 and t.c0 == last.c1
                and (t.r1 - t.r0, t.c1 - t.c0) == (last.r1 - last.r0, last.c1 - last.c0)):
            runs[-1].append(t)
        else:
            runs.append([t])
    return [Tile(run[0].r0, run[-1].r1, run[0].c0, run[-1].c1, np.concatenate([t.gather for t in run]), len(run))
            for run in runs]


class Block:
    """One colour's free spins, plan positions a..b, and the parts their fields are made of: couplings
    to free spins as a sparse matrix (entries J.data[src]) and dense tiles; couplings to clamped
    spins (fixed, entries J.data[fixed_src], and fixed_tiles where dense) which with h make a field
    H (rows × chains) that stays the same all run; and k-body factors."""
    __slots__ = ("a", "b", "sparse", "src", "tiles", "tiles_cover", "fixed", "fixed_src", "fixed_tiles", "H",
                 "kterms")


def _block_part(R: int, row_of: np.ndarray, cols: np.ndarray, labels: np.ndarray, width: int, nnz: int) -> tuple:
    """One part of a block (its couplings to free spins, or to clamped ones) from its entries (row,
    column, label — see layout.entry_labels): (dense tiles, stacked where they follow one another;
    the other entries as a sparse matrix R × width with zero weights; where in J.data those take
    their weights; whether any entry is left out of the tiles)."""
    found, rest = split_tiles(R, row_of, cols, labels, width, nnz, TILE_DENSITY, TILE_AREA)
    src = labels[rest].astype(np.int64) - 1
    sparse = sp.csr_array((np.zeros(len(src), np.float32), cols[rest], row_ptr(row_of[rest], R)), shape=(R, width))
    return _stacked([Tile(*rect, cells) for rect, cells in found]), sparse, src, bool(rest.any())


class PlanLayout:
    """What the structure alone decides — the renumbering into colour blocks and, per block, where
    its sparse part, dense tiles, clamped part and k-body factors take their weights from — kept
    with zero weights.  Built once per structure (see plan_layout); plans copy it."""

    def __init__(self, ir, clamp_index: np.ndarray):
        n = ir.num_spins
        free = np.ones(n, dtype=bool)
        free[clamp_index] = False
        colors = ir.colors.astype(np.int64)
        order = np.lexsort((np.arange(n), colors, ~free))         # free spins by colour, then clamped
        self.perm = order                                         # new position k holds spin perm[k]
        self.inv = np.empty(n, dtype=np.int64)
        self.inv[order] = np.arange(n)
        labelled = sp.csr_array((entry_labels(ir.J.nnz), ir.J.indices, ir.J.indptr), shape=ir.J.shape)
        Lp = sp.csr_array(labelled[order][:, order]) if n else sp.csr_array((0, 0))
        self.blocks = []
        c_sorted = colors[order]
        n_free = int(free.sum())
        self.free = n_free
        for c in np.unique(c_sorted[:n_free]):
            a = int(np.searchsorted(c_sorted[:n_free], c, "left"))
            b = int(np.searchsorted(c_sorted[:n_free], c, "right"))
            self.blocks.append(self._block(ir, a, b, sp.csr_array(Lp[a:b])))

    def _block(self, ir, a: int, b: int, part: sp.csr_array) -> Block:
        """Block a..b from its rows of the labelled matrix (entry k of J.data carries the label k + 1)."""
        blk = Block()
        blk.a, blk.b = a, b
        R, n_free = b - a, self.free
        row_of = np.repeat(np.arange(R), np.diff(part.indptr))
        free = part.indices < n_free                             # clamped spins come after the free ones
        blk.tiles, blk.sparse, blk.src, left = _block_part(R, row_of[free], part.indices[free], part.data[free],
                                                           n_free, ir.J.nnz)
        # the couplings to clamped spins, tiles too where dense (an RBM's hidden units given its data)
        blk.fixed_tiles, blk.fixed, blk.fixed_src, _ = _block_part(R, row_of[~free], part.indices[~free] - n_free,
                                                                   part.data[~free], part.shape[1] - n_free, ir.J.nnz)
        blk.H = None
        blk.kterms = self._kbody_terms(ir, a, b)
        covered = sum(t.r1 - t.r0 for t in blk.tiles)
        blk.tiles_cover = not left and covered == R                # then the tiles write F directly
        return blk

    def _kbody_terms(self, ir, a: int, b: int):
        """For spins in positions a..b: [scatter, other members, coefficients (as folded), (order of the
        factor, which of its rows)] of each k-body factor."""
        terms = []
        for order, (idx, _) in ir.kbody.items():
            pidx = self.inv[idx]                                  # positions of the members
            for p in range(idx.shape[1]):
                rows = np.flatnonzero((pidx[:, p] >= a) & (pidx[:, p] < b))
                if not len(rows):
                    continue
                others = np.delete(pidx[rows], p, axis=1)
                target = pidx[rows, p] - a
                scatter = sp.csr_array((np.ones(len(target), dtype=np.float32), (target, np.arange(len(target)))),
                                       shape=(b - a, len(target)))
                terms.append((scatter, others, np.zeros((len(target), 1), np.float32), (order, rows)))
        return terms


_LAYOUTS = StructureCache(size=16, max_nnz=2_000_000)


def plan_layout(ir, clamp_index) -> PlanLayout:
    """The layout of ir with clamp_index clamped, from a small cache keyed by everything the layout
    depends on (pattern, colours, clamps, k-body members, the tile thresholds): generation builds a
    plan per step of one structure, and the layout is most of a plan's set-up."""
    clamp_index = np.unique(np.asarray(clamp_index, dtype=np.int64))
    parts = [np.array([ir.num_spins, TILE_AREA, TILE_DENSITY]), ir.J.indptr, ir.J.indices, ir.colors, clamp_index]
    for order in sorted(ir.kbody):
        parts += [np.int64(order), ir.kbody[order][0]]
    return _LAYOUTS.get(parts, ir.J.nnz, lambda: PlanLayout(ir, clamp_index))


def _zeroed(m: sp.csr_array) -> sp.csr_array:
    """The same pattern with weights of its own (the index arrays are shared, never written)."""
    return sp.csr_array((np.zeros(m.nnz, np.float32), m.indices, m.indptr), shape=m.shape)


class ColourPlan:
    """The IR renumbered into colour blocks of free spins, ready for block updates: a copy of its
    layout with weights of its own.  The weights live apart from the structure: set_weights() takes
    new ones (a runner's next run) and fold() writes them into the blocks scaled by β, only when β
    or the weights changed."""

    def __init__(self, ir, clamp_index: np.ndarray):
        layout = plan_layout(ir, clamp_index)
        self.perm, self.inv, self.free = layout.perm, layout.inv, layout.free
        self.blocks = []
        for shape in layout.blocks:
            blk = Block()
            for name in ("a", "b", "src", "fixed_src", "tiles_cover"):          # structure: shared
                setattr(blk, name, getattr(shape, name))
            blk.sparse, blk.fixed, blk.H = _zeroed(shape.sparse), _zeroed(shape.fixed), None
            blk.tiles = [Tile(t.r0, t.r1, t.c0, t.c1, t.gather, len(t.D)) for t in shape.tiles]
            blk.fixed_tiles = [Tile(t.r0, t.r1, t.c0, t.c1, t.gather, len(t.D)) for t in shape.fixed_tiles]
            blk.kterms = [(scatter, others, np.zeros_like(folded), ir.kbody[order][1][rows][:, None])
                          for scatter, others, folded, (order, rows) in shape.kterms]
            self.blocks.append(blk)
        self.views = None                         # the blocks' views of the run's state (fold())
        self.set_weights(ir.h, ir.J.data)

    def set_weights(self, h, J_data) -> None:
        """New weights for the same structure (h per spin, J.data aligned with the IR's J)."""
        self.h_plan = np.asarray(h, dtype=np.float64)[self.perm]
        self.J_data = np.asarray(J_data, dtype=np.float64)
        self.beta = self.state = None

    def fold(self, beta, X: np.ndarray, per_pass: bool = False):
        """Make the blocks hold β·weights for a number β and return None; for a β per column (parallel
        tempering), or when the caller needs the unscaled fields (per_pass), hold the weights
        themselves and return what each update must multiply by.  The weights are rewritten only
        when β changed, and the constant fields H (h and the clamped spins' couplings) and the
        blocks' views (BlockViews) also when X is a new state (a new run: clamped rows never change
        within one)."""
        scale, rest = (1.0, beta) if per_pass or np.ndim(beta) else (float(beta), None)
        if X is not self.state:
            self.views = [BlockViews(blk, X) for blk in self.blocks]
        if scale != self.beta or X is not self.state:
            clamped = X[self.free:]
            weights = np.empty(len(self.J_data) + 1, dtype=np.float32)    # β·J.data, then a zero for empty cells
            np.multiply(self.J_data, scale, out=weights[:-1], casting="same_kind")
            weights[-1] = 0.0
            for blk in self.blocks:
                np.take(weights, blk.src, out=blk.sparse.data)
                for t in blk.tiles:
                    np.take(weights, t.gather, out=t.D.reshape(-1))
                for _, _, folded, coeff in blk.kterms:
                    folded[:] = coeff * scale
                h = self.h_plan[blk.a:blk.b, None] * scale
                blk.H = None
                if blk.fixed.nnz or blk.fixed_tiles:
                    np.take(weights, blk.fixed_src, out=blk.fixed.data)
                    blk.H = np.zeros((blk.b - blk.a, X.shape[1]), dtype=np.float32)
                    add_product(blk.fixed, clamped, blk.H)
                    for t in blk.fixed_tiles:
                        np.take(weights, t.gather, out=t.D.reshape(-1))
                        blk.H[t.r0:t.r1] += t.product(clamped)
                    blk.H += h.astype(np.float32)             # last: the sums keep the order they had
                elif h.any():
                    blk.H = np.repeat(h.astype(np.float32), X.shape[1], axis=1)
            self.beta, self.state = scale, X
        return rest


def _compiled_sparse_product():
    """scipy's compiled kernel behind `csr @ dense`, Y += A·X into a Y of ours, or None.

    Why: the public product checks and dispatches in Python (≈6 µs a call, a tenth of a colour
    update of a 256-spin block, as in a stacked lattice DTM) and returns a new array that then
    needs a pass to add H; into a copy of H the kernel does both.  It is private to scipy, so it
    is used only where it exists and reproduces the public product on a small case; else None,
    and the public product is used."""
    try:
        from scipy.sparse._sparsetools import csr_matvecs
        A = sp.csr_array(np.array([[0.0, 2.0, 0.0], [1.0, 0.0, -3.0]], dtype=np.float32))
        X = np.arange(6, dtype=np.float32).reshape(3, 2)
        Y = np.ones((2, 2), dtype=np.float32)
        csr_matvecs(2, 3, 2, A.indptr, A.indices, A.data, X.ravel(), Y.ravel())
        return csr_matvecs if np.array_equal(Y, 1 + A @ X) else None
    except (ImportError, AttributeError, TypeError, ValueError, RuntimeError):    # a private function gone or changed
        return None


_CSR_MATVECS = _compiled_sparse_product()


def add_product(A: sp.csr_array, X: np.ndarray, out: np.ndarray) -> None:
    """out += A·X (X, out C-contiguous float32): scipy's compiled kernel straight into out where it
    passed its check, else the public product and an add; nothing at all for an empty A."""
    if not A.nnz:
        return
    if _CSR_MATVECS is None:
        out += A @ X
    else:
        _CSR_MATVECS(A.shape[0], A.shape[1], X.shape[1], A.indptr, A.indices, A.data, X.ravel(), out.ravel())


class BlockViews:
    """One block's views onto one state X, made when a run starts (fold()): made per sweep, the
    slicing, reshaping and allocating took ≈5 % of a sweep of the digits DTM.  Where tiles cover the
    block, its fields go into a buffer F of its own, the tiles' products straight into their rows;
    tiles: (tile, its input rows of X, where its product goes (batched shape), the same rows flat)."""
    __slots__ = ("F", "X_bits", "X_free", "tiles")

    def __init__(self, blk: Block, X: np.ndarray):
        if not X.flags.c_contiguous:              # a reshape would copy, and the views go stale
            raise ValueError("the sampler's state must be C-contiguous")
        R, C = blk.b - blk.a, X.shape[1]
        self.F = np.empty((R, C), dtype=np.float32) if blk.tiles_cover else None
        self.X_bits, self.X_free = X[blk.a:blk.b].view(np.uint32), X[:blk.sparse.shape[1]]
        self.tiles = []
        for t in blk.tiles:
            S, m, k = t.D.shape
            out = self.F[t.r0:t.r1] if blk.tiles_cover else np.empty((t.r1 - t.r0, C), dtype=np.float32)
            self.tiles.append((t, X[t.c0:t.c1].reshape(S, k, C), out.reshape(S, m, C), out))


def local_fields(blk: Block, X: np.ndarray, views: BlockViews | None = None) -> np.ndarray:
    """F = (β) (h_i + Σ_j J_ij s_j + k-body terms) for the spins of one colour block: the dense tiles
    through BLAS, the other free couplings through scipy's sparse product, h and the clamped spins'
    couplings as the block's constant field H.  views: the block's views of X (made here if None)."""
    v = BlockViews(blk, X) if views is None else views
    if blk.tiles_cover:
        F = v.F
        for t, x, out, _ in v.tiles:
            np.matmul(t.D, x, out=out)
        if blk.H is not None:
            F += blk.H
    else:                          # a new array: np.zeros' fresh pages beat zeroing a buffer of ours
        F = blk.H.copy() if blk.H is not None else np.zeros((blk.b - blk.a, X.shape[1]), dtype=np.float32)
        add_product(blk.sparse, v.X_free, F)
        for t, x, out, flat in v.tiles:
            np.matmul(t.D, x, out=out)
            F[t.r0:t.r1] += flat
    for scatter, others, coeff, _ in blk.kterms:
        prod = X[others[:, 0]] * coeff
        for q in range(1, others.shape[1]):
            prod *= X[others[:, q]]
        F += scatter @ prod
    return F


def signed_uniforms_from_bits(raw: np.ndarray) -> np.ndarray:
    """uint64 random bits → twice as many float32 uniforms in [−1, 1), on a grid of 2^−22, in place.

    The top 23 bits of each 32-bit half become the mantissa of a float in [2, 4); subtracting 3
    gives the uniform.  Three cheap passes instead of numpy's float generator.  (In place: a buffer
    of ours besides the bits costs more in cache than its reuse saves, on large blocks.)"""
    bits = raw.view(np.uint32)
    np.right_shift(bits, 9, out=bits)
    np.bitwise_or(bits, np.uint32(0x40000000), out=bits)
    v = bits.view(np.float32)
    np.subtract(v, np.float32(3.0), out=v)
    return v


SIGN_BIT, MINUS_ONE = np.uint32(0x80000000), np.uint32(0xBF800000)


def update_block(blk: Block, X: np.ndarray, views: BlockViews, rest, V: np.ndarray, keep_fields=None) -> None:
    """Heat-bath update of one colour block in place: s = +1 with probability σ(−2βf) = (1 − tanh βf)/2,
    that is when tanh(βf) + v < 0, v the block's uniforms V.  rest is what fold() left to multiply by
    (None once β is folded in, or a row (1, chains) of one β per column); keep_fields, if given,
    receives the fields before that multiplication (parallel tempering's energies)."""
    F = local_fields(blk, X, views)
    if keep_fields is not None:
        np.copyto(keep_fields, F)
    if rest is not None:
        np.multiply(F, rest, out=F)
    np.tanh(F, out=F)
    np.add(F, V.reshape(F.shape), out=F)
    # the sign bit of tanh(βf) + v, set when s = +1, xor the bits of −1.0 gives ±1.0
    np.bitwise_and(F.view(np.uint32), SIGN_BIT, out=views.X_bits)
    np.bitwise_xor(views.X_bits, MINUS_ONE, out=views.X_bits)


def gibbs_sweep(plan: ColourPlan, X: np.ndarray, beta, bitgen, last_fields=None) -> None:
    """One heat-bath sweep over all colour blocks, in place; one draw of random bits per sweep.
    last_fields, if given, receives the fields (without β) the last colour block was updated with."""
    rest = plan.fold(beta, X, per_pass=last_fields is not None)
    C = X.shape[1]
    V = signed_uniforms_from_bits(bitgen.random_raw((plan.free * C + 1) // 2))
    last = len(plan.blocks) - 1
    for k, (blk, views) in enumerate(zip(plan.blocks, plan.views)):
        update_block(blk, X, views, rest, V[blk.a * C:blk.b * C], last_fields if k == last else None)


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
                        gather_rows(X, plan.inv, record[kept])
                    else:
                        record_rows(X, plan.inv, record, kept)
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
        if options:
            return super().runner(ir, chains, clamp_index, **options)
        return ReferenceRunner(self, ir, chains, clamp_index, options)


def clamped_union(ir, clamp_index) -> np.ndarray:
    """The program's clamped spins together with those clamped per chain, sorted."""
    return np.union1d(ir.clamp_index, np.asarray(clamp_index, dtype=np.int64)).astype(np.int64)


class ReferenceRunner(Runner):
    """The colour plan built once; each run only writes the weights (times β) into the blocks."""

    def __init__(self, backend, ir, chains, clamp_index, options):
        super().__init__(backend, ir, chains, clamp_index, options)
        self.plan = ColourPlan(ir, clamped_union(ir, clamp_index))
        self.fixed_pos = self.plan.inv[ir.clamp_index]
        self.chain_pos = self.plan.inv[self.clamp_index]

    def run(self, h, J_data, clamp_value, initial, sweeps, burn_in, thin, beta, seed):
        plan, C, n = self.plan, self.chains, self.ir.num_spins
        plan.set_weights(h, J_data)
        X = np.take(np.asarray(initial), plan.perm, axis=0).astype(np.float32)
        X[self.fixed_pos] = self.ir.clamp_value[:, None]
        set_rows(X, self.chain_pos, np.asarray(clamp_value))
        rng = np.random.Generator(np.random.SFC64(seed))
        record = np.empty((sweeps // thin, n, C), dtype=np.int8)
        _, _, interrupted = run_sweeps(plan, X, per_sweep(beta, burn_in + sweeps), rng.bit_generator, burn_in, thin,
                                       record, native=True)
        if interrupted:
            raise KeyboardInterrupt
        return record, plan.free * C * (burn_in + sweeps)
