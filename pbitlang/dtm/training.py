"""Training a denoising chain, step by step, on pairs (x_{t−1}, x_t) made by noising the data.

For each step t the Monte Carlo gradient of the conditional KL divergence is
    ∇θ_t = β (⟨∂E/∂θ⟩ with x_{t−1}, x_t clamped − ⟨∂E/∂θ⟩ with only x_t clamped)
(latent variables sampled in both phases; the model phase uses persistent
chains: their state carries over from batch to batch).  The energy is affine
in the weights, so ∂E/∂θ is exact and cheap (the IR's affine map).  Adam takes
the steps.

Adaptive correlation penalty (ACP): λ_t(⟨s_i⟩⟨s_j⟩ − ⟨s_i s_j⟩), measured in the
model phase, is added to the gradient of every trainable coupling; it weakens
the correlations that slow mixing.  λ_t follows the chains' autocorrelation ρ_t
at the training lag (`spacing` sweeps, spins normalised by their variance):
  ρ_t > target        → λ_t ← max(λ_t·(1 + rate), λ_start)
  ρ_t < target / 2    → λ_t ← λ_t·(1 − rate), and 0 once below λ_floor
Every update is logged (metrics JSON lines: epoch, step, loss proxy, λ, ρ, seconds)."""
from __future__ import annotations

import json
import math
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import scipy.sparse as sp
from numba import njit, types
from numba.extending import intrinsic

from ..backends import get_backend
from ..backends.base import Record, one_blas_thread
from ..backends.runspec import chain_words, splitmix64, stream_key
from ..errors import PbitError
from ..ir import read_pbir
from .chain import DenoisingChain, StepPattern, chain_spec, data_to_spins, step_ir


@dataclass
class TrainOptions:
    epochs: int = 10
    batch_size: int = 64
    lr: float = 0.02
    warmup_sweeps: int = 20
    samples_per_estimate: int = 4
    spacing: int = 2
    acp: bool = True
    acp_target: float = 0.3
    acp_rate: float = 0.2
    acp_start: float = 0.01
    acp_floor: float = 1e-4
    weight_decay: float = 0.0
    backend: str = "cpu"
    backend_options: dict = field(default_factory=dict)     # e.g. {"fabric": "ideal", "threads": 2}

    def check(self):
        for name in ("epochs", "batch_size", "warmup_sweeps", "samples_per_estimate", "spacing"):
            v = getattr(self, name)
            if not isinstance(v, (int, np.integer)) or v < (0 if name == "warmup_sweeps" else 1):
                raise PbitError(f"{name} must be an integer ≥ {0 if name == 'warmup_sweeps' else 1}, got {v!r}")
        if not self.lr > 0 or not math.isfinite(self.lr):
            raise PbitError(f"lr must be a positive number, got {self.lr!r}")
        if not isinstance(self.backend_options, dict):
            raise PbitError(f"backend_options must be a dict of sampler options, got {self.backend_options!r}")
        if self.acp and self.samples_per_estimate < 2:
            raise PbitError("ACP measures autocorrelation between samples: samples_per_estimate must be ≥ 2")


@dataclass
class Adam:
    shape: tuple
    lr: float
    b1: float = 0.9
    b2: float = 0.999
    eps: float = 1e-8
    m: np.ndarray = None
    v: np.ndarray = None
    k: np.ndarray = None

    def __post_init__(self):
        self.m = np.zeros(self.shape) if self.m is None else self.m
        self.v = np.zeros(self.shape) if self.v is None else self.v
        self.k = np.zeros(self.shape[0], dtype=np.int64) if self.k is None else self.k

    def step(self, theta: np.ndarray, grad: np.ndarray) -> np.ndarray:
        """One Adam step of every denoising step's weights (rows of theta and grad): one compiled
        pass instead of a dozen numpy passes over T × W.  Overflow gives inf or
        nan, which the caller detects as divergence."""
        self.k += 1
        self.m = np.ascontiguousarray(self.m, dtype=np.float64)
        self.v = np.ascontiguousarray(self.v, dtype=np.float64)
        out = np.empty(theta.shape, dtype=np.float64)
        _adam_update(np.ascontiguousarray(theta, dtype=np.float64), np.ascontiguousarray(grad, dtype=np.float64),
                     self.m, self.v, 1.0 - self.b1 ** self.k.astype(np.float64),
                     1.0 - self.b2 ** self.k.astype(np.float64), self.lr, self.b1, self.b2, self.eps, out)
        return out


@njit(cache=True, error_model="numpy")          # no zero-divisor checks: the loop vectorises
def _adam_update(theta, grad, m, v, c1, c2, lr, b1, b2, eps, out):
    """m, v ← Adam's moment estimates (in place); out ← θ − lr·m̂/(√v̂ + eps), row t bias-corrected by
    c1[t] = 1 − b1^k_t and c2[t] = 1 − b2^k_t."""
    for t in range(theta.shape[0]):
        for w in range(theta.shape[1]):
            g = grad[t, w]
            m[t, w] = b1 * m[t, w] + (1 - b1) * g
            v[t, w] = b2 * v[t, w] + (1 - b2) * g * g
            out[t, w] = theta[t, w] - lr * (m[t, w] / c1[t]) / (np.sqrt(v[t, w] / c2[t]) + eps)


@intrinsic
def _popcount(typingctx, x):
    """The number of set bits of a uint64: LLVM's ctpop, one instruction where the CPU has one."""
    if x != types.uint64:
        return None

    def codegen(context, builder, signature, args):
        return builder.ctpop(args[0])
    return types.uint64(types.uint64), codegen


BYTE_LSBS, GATHER_BITS = np.uint64(0x0101010101010101), np.uint64(0x0102040810204080)


@njit(cache=True)
def _pack_signs(S8, o, n, P):
    """P[i, q, w] = the signs of spin o + i in sample q, chains 64w … 64w + 63, one bit per chain (1 for
    +1).  S8 is the int8 samples (k, N, chains) seen as uint64, eight chains a word: for each byte,
    bit 7 of its complement is 1 for +1; a multiply gathers the eight bits into one byte."""
    k, _, C8 = S8.shape
    W = P.shape[2]
    for i in range(n):
        for q in range(k):
            for w in range(W):
                word = np.uint64(0)
                for b in range(min(8, C8 - 8 * w)):
                    u = S8[q, o + i, 8 * w + b]
                    byte = ((((~u) >> np.uint64(7)) & BYTE_LSBS) * GATHER_BITS) >> np.uint64(56)
                    word |= byte << np.uint64(8 * b)
                P[i, q, w] = word


@njit(cache=True)
def _block_means(S8, chains, offsets, n, first, second, expand, means, pair_means, spread, flips):
    """Means over the samples (k, N, chains) ±1 — k samples of every chain, in the samplers' layout,
    given as S8 (see _pack_signs) — for each block t of spins offsets[t] … offsets[t] + n, into the
    arrays given: ⟨s_i⟩ (T, n); ⟨s_i s_j⟩ (T, len(expand)) for the entries whose distinct pair
    (first[u], second[u]) is u = expand[e]; and, zeroed by the caller, for the lag autocorrelation
    Σ_chains,i (k − (Σ_k s_i)²/k) and the number of flips between consecutive samples (T,).  Each
    spin's samples are packed one bit per chain, so every sum is a count of set bits: for ±1
    values Σ s = 2·(ones) − count and Σ a·b = count − 2·popcount(a xor b); padding chains are 0 in
    every spin and drop out of both.  (The caller allocates the results: an array returned from
    here is boxed through a Python call, where Ctrl-C would surface as a SystemError.)"""
    k = S8.shape[0]
    W = (chains + 63) // 64
    R = k * chains
    T = len(offsets)
    P = np.empty((n, k, W), np.uint64)
    distinct = np.empty(len(first), np.float64)
    for t in range(T):
        _pack_signs(S8, offsets[t], n, P)
        for i in range(n):
            x = P[i]
            ones = 0
            for q in range(k):
                for w in range(W):
                    ones += _popcount(x[q, w])
            means[t, i] = (2.0 * ones - R) / R
            changed = 0
            for q in range(1, k):
                for w in range(W):
                    changed += _popcount(x[q, w] ^ x[q - 1, w])
            flips[t] += changed
            if k > 1:
                # Σ_c (Σ_q s_qc)² = Σ_q,q' Σ_c s_qc s_q'c: R on the diagonal, chains − 2·(differences) off it
                sq = float(R)
                for q in range(k):
                    for q2 in range(q + 1, k):
                        diff = 0
                        for w in range(W):
                            diff += _popcount(x[q, w] ^ x[q2, w])
                        sq += 2.0 * (chains - 2.0 * diff)
                spread[t] += R - sq / k
        flat = P.reshape(n, k * W)                # a spin's k·W words in a row: one short loop per pair
        for u in range(len(first)):
            r, c = first[u], second[u]
            diff = 0
            for j in range(k * W):
                diff += _popcount(flat[r, j] ^ flat[c, j])
            distinct[u] = (R - 2.0 * diff) / R
        for e in range(len(expand)):
            pair_means[t, e] = distinct[expand[e]]


def coupling_entries(ir) -> tuple:
    """(rows, cols) of every stored coupling entry of ir.J, in J.data order."""
    return np.repeat(np.arange(ir.num_spins), np.diff(ir.J.indptr)).astype(np.int64), ir.J.indices.astype(np.int64)


def unique_pairs(rows, cols) -> tuple:
    """The distinct unordered pairs among the entries (rows[e], cols[e]) — a symmetric J stores each
    twice — as (first, second, expand): entry e's pair is number expand[e]."""
    rows, cols = np.asarray(rows, np.int64), np.asarray(cols, np.int64)
    lo, hi = np.minimum(rows, cols), np.maximum(rows, cols)
    n = int(hi.max(initial=-1)) + 1
    keys, expand = np.unique(lo * n + hi, return_inverse=True)
    return keys // max(n, 1), keys % max(n, 1), expand.reshape(-1)


def block_statistics(S: np.ndarray, offsets, n: int, rows, cols, pairs=None) -> tuple:
    """For each block of spins offsets[t] … offsets[t] + n of the samples S (k, N, chains): ⟨s_i⟩
    (T, n), ⟨s_i s_j⟩ (T, nnz) for the entries (rows[e], cols[e]), and the lag autocorrelation ρ (T,)
    (see lag_autocorrelation).  pairs: unique_pairs(rows, cols), if the caller keeps it."""
    S = np.ascontiguousarray(S, dtype=np.int8)
    first, second, expand = unique_pairs(rows, cols) if pairs is None else pairs
    k, chains = S.shape[0], S.shape[2]
    if chains % 8:                         # whole words of eight chains; padding chains are −1: bit 0
        S = np.concatenate([S, np.full((k, S.shape[1], 8 - chains % 8), -1, np.int8)], axis=2)
    T = len(offsets)
    means, pair_means = np.empty((T, int(n))), np.empty((T, len(expand)))
    spread, flips = np.zeros(T), np.zeros(T)
    _block_means(S.view(np.uint64), chains, np.asarray(offsets, np.int64), int(n), first, second, expand, means,
                 pair_means, spread, flips)
    with np.errstate(invalid="ignore", divide="ignore"):
        rho = np.where(spread <= 1e-12, 0.0, 1.0 - 2.0 * flips / spread) if k > 1 else np.full(len(offsets), np.nan)
    return means, pair_means, rho


def pair_means(ir, S: np.ndarray) -> tuple:
    """⟨s_i⟩ and ⟨s_i s_j⟩ for every stored coupling entry (i, j) of J, over the rows of S."""
    rows, cols = coupling_entries(ir)
    m, C, _ = block_statistics(np.asarray(S).T[None], [0], ir.num_spins, rows, cols)
    return m[0], C[0], rows, cols


def lag_autocorrelation(samples: np.ndarray) -> float:
    """Autocorrelation at the training lag, within chains: samples (chains, k, n).

    ρ = 1 − E[(s_k − s_{k+1})²] / (2 σ²_within), with σ²_within each chain's own
    (unbiased) variance: 0 for independent samples, 1 for chains that do not
    move.  Chains differ in their clamped x_t, so variance across chains would
    mistake different conditions for mixing.  For ±1 values (k − 1)·σ² = k − (Σ s)²/k and
    (s_k − s_{k+1})² is 4 at a flip, so ρ = 1 − 2·flips / Σ(k − (Σ s)²/k)."""
    none = np.zeros(0, np.int64)
    return float(block_statistics(np.asarray(samples).transpose(1, 2, 0), [0], samples.shape[2], none, none)[2][0])


class AffineGradient:
    """⟨∂E/∂θ⟩ and the ACP term from means.  The energy is affine in θ, so means suffice: each is the
    map (dh, dJ) applied transposed, done by a compiled pass over the map's rows (scipy's products
    cost more in set-up than in arithmetic at these sizes)."""

    def __init__(self, ir, rows=None, cols=None):
        w = ir.weights
        self.doff = w.doff
        self.dh, self.dJ = sp.csr_array(w.dh), sp.csr_array(w.dJ)
        self.rows, self.cols = coupling_entries(ir) if rows is None else (rows, cols)

    def _through(self, M: sp.csr_array, X: np.ndarray) -> np.ndarray:
        """Σ_r X[..., r]·M[r, :] for X (rows,) or (T, rows)."""
        X2 = np.ascontiguousarray(np.atleast_2d(X), dtype=np.float64)
        out = np.zeros((X2.shape[0], M.shape[1]))
        _map_transposed(M.indptr, M.indices, M.data, X2, out)
        return out if np.ndim(X) == 2 else out[0]

    def mean(self, m: np.ndarray, C: np.ndarray) -> np.ndarray:
        """doff + ⟨s⟩·dh + ½ Σ_(i,j) ⟨s_i s_j⟩ dJ, for m (n,) and C (nnz,) or one row per step:
        (T, n) and (T, nnz) → (T, W)."""
        return self.doff + self._through(self.dh, m) + 0.5 * self._through(self.dJ, C)

    def acp(self, m: np.ndarray, C: np.ndarray) -> np.ndarray:
        """(⟨s_i⟩⟨s_j⟩ − ⟨s_i s_j⟩) of the model phase, mapped onto the trainable couplings."""
        m2 = np.ascontiguousarray(np.atleast_2d(m), dtype=np.float64)
        C2 = np.ascontiguousarray(np.atleast_2d(C), dtype=np.float64)
        out = np.zeros((m2.shape[0], self.dJ.shape[1]))
        _covariance_map(self.dJ.indptr, self.dJ.indices, self.dJ.data, m2, self.rows, self.cols, C2, out)
        out *= 0.5
        return out if np.ndim(m) == 2 else out[0]


@njit(cache=True)
def _map_transposed(indptr, indices, data, X, out):
    """out[t, c] += Σ_r X[t, r]·M[r, c] for a CSR map M (rows r, columns c): Mᵀ applied to each row of
    X without building Mᵀ.  Each out[t, c] sums over r ascending from zero, as scipy's product with
    the transpose does, so the results are the same to the bit."""
    for t in range(X.shape[0]):
        for r in range(len(indptr) - 1):
            x = X[t, r]
            for k in range(indptr[r], indptr[r + 1]):
                out[t, indices[k]] += data[k] * x


@njit(cache=True)
def _covariance_map(indptr, indices, data, m, rows, cols, C, out):
    """out[t, c] += Σ_e (m[t, rows[e]]·m[t, cols[e]] − C[t, e])·dJ[e, c]: the ACP term's sums, as
    _map_transposed would make them from the differences (the same roundings, in the same order)."""
    for t in range(m.shape[0]):
        for e in range(len(indptr) - 1):
            x = m[t, rows[e]] * m[t, cols[e]] - C[t, e]
            for k in range(indptr[e], indptr[e + 1]):
                out[t, indices[k]] += data[k] * x


@njit(cache=True)
def _map_into(indptr, indices, data, thetas, positions, out):
    """out[positions[t, r]] += Σ_k M[r, k]·thetas[t, k] for a CSR map M, each row's entries summed in
    their stored order from zero (as scipy's product does): the weights of every step through the
    affine map into the stacked model's arrays."""
    for t in range(thetas.shape[0]):
        for r in range(len(indptr) - 1):
            acc = 0.0
            for k in range(indptr[r], indptr[r + 1]):
                acc += data[k] * thetas[t, indices[k]]
            out[positions[t, r]] += acc


def mean_energy_gradient(ir, m: np.ndarray, C: np.ndarray) -> np.ndarray:
    """⟨∂E/∂θ⟩ from the means (see AffineGradient.mean)."""
    return AffineGradient(ir).mean(m, C)


@dataclass
class TrainedChain:
    """What training makes: the program (base_ir), the chain trained, per-step weights, and the run's
    info and metrics (one row per step and batch).  pbitlang.api wraps it as a TrainedModel."""
    base_ir: object
    chain: str
    thetas: np.ndarray
    info: dict = field(default_factory=dict)
    metrics: list = field(default_factory=list)

    def generate(self, chain: str | None = None, num: int = 64, backend="cpu", seed: int = 0, **options):
        if chain is not None and chain != self.chain:
            raise PbitError(f"this model was trained for chain '{self.chain}', not '{chain}'")
        spec = chain_spec(self.base_ir, self.chain)
        return DenoisingChain(self.base_ir, spec, self.thetas).generate(num=num, backend=backend, seed=seed, **options)

    def save(self, path) -> None:
        """A .pbir file with the per-step weights, written whole or not at all; load gives them back."""
        from ..files import atomic_write
        meta = {"chain": self.chain, "info": json.loads(json.dumps(self.info, default=str))}
        with atomic_write(path) as tmp:
            self.base_ir.save(tmp)
            self._append_weights(tmp, meta)

    def _append_weights(self, path, meta: dict) -> None:
        import io
        import zipfile
        with zipfile.ZipFile(path, "a") as z:
            buf = io.BytesIO()
            np.save(buf, np.asarray(self.thetas, dtype=np.float64), allow_pickle=False)
            z.writestr("dtm.thetas.npy", buf.getvalue())
            buf = io.BytesIO()
            np.save(buf, np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8), allow_pickle=False)
            z.writestr("dtm.meta.npy", buf.getvalue())

    @staticmethod
    def load(path) -> "TrainedChain | None":
        """The trained chain saved in a .pbir file, or None when it holds a plain program; the
        weights are checked against the program and its chain before anything runs them."""
        return TrainedChain.from_pbir(*read_pbir(path), path)

    @staticmethod
    def from_pbir(ir, extra: dict, path) -> "TrainedChain | None":
        """The trained chain of a .pbir file already read (read_pbir), or None when it has none."""
        from ..errors import IRFileError
        from ..files import read_json
        if "dtm.thetas" not in extra:
            return None
        meta = read_json(extra, "dtm.meta", path, IRFileError, "trained .pbir")
        thetas = extra["dtm.thetas"]
        try:
            spec = chain_spec(ir, meta.get("chain"))
        except (PbitError, TypeError, KeyError, ValueError, AttributeError, IndexError) as err:
            raise IRFileError(f"{path}: its trained chain does not match its program "
                              f"({getattr(err, 'message', err)})") from None
        W = ir.weights.num_weights if ir.weights is not None else 0
        if thetas.dtype.kind != "f" or thetas.shape != (spec.steps, W) or not np.all(np.isfinite(thetas)):
            raise IRFileError(f"{path}: the trained weights must be finite floats of shape ({spec.steps}, {W}) "
                              f"(steps, weights), not {thetas.dtype} {thetas.shape}")
        info = meta.get("info")
        return TrainedChain(ir, spec.name, thetas, info if isinstance(info, dict) else {})


ORDER, START = 0, 3                               # the purposes of training's random generators
NOISE_STREAMS = np.uint64(0x5EED5EED00000001)     # the purposes of the keyed counter words made per batch
STEP_STREAMS = np.uint64(0x5EED5EED00000002)      # (place_stream): far from the backends' stream numbers


def stream(seed: int, purpose: int, *place) -> np.random.Generator:
    """The random numbers of one purpose at one place of training (an epoch's batch order, a step's
    first persistent state), from the seed alone, as a batch's noise and sampler seeds are
    (noised_pairs, step_seeds): a step trains the same by itself (a task on a cluster) as beside
    the others, and a run resumed from an epoch's checkpoint the same as one never stopped."""
    return np.random.default_rng([int(seed), purpose, *place])


def noised_pairs(spec, x0: np.ndarray, seed: int, epoch: int, batch: int, steps: list) -> list:
    """(x_{t−1}, x_t) for each step t of `steps`: the batch x0 noised step by step up to the last
    of them, step t from its own words of the batch's noise stream, so the trajectory up to step t
    is the same whichever steps are trained."""
    key = stream_key(seed, place_stream(epoch, batch, NOISE_STREAMS))
    traj = [x0]
    for t in range(1, max(steps) + 1):
        traj.append(spec.noise.forward(traj[-1], t, key))
    return [(traj[t - 1], traj[t]) for t in steps]


def place_stream(epoch: int, batch: int, purpose: np.uint64) -> int:
    """The stream number of one purpose's keyed counter words at one batch of one epoch."""
    return int(splitmix64(splitmix64(np.uint64(epoch)) ^ np.uint64(batch)) ^ purpose)


def step_seeds(seed: int, epoch: int, batch: int, steps: list) -> np.ndarray:
    """(len(steps), 2): the seeds of each step's two sampler runs at one batch, from (seed, epoch,
    batch, step) alone (keyed counter words, as the chains' own streams are made: a generator per
    step cost more than the runs' set-up)."""
    words = chain_words(seed, np.asarray(steps, dtype=np.uint64), 2, stream=place_stream(epoch, batch, STEP_STREAMS))
    return (words.T >> np.uint64(33)).astype(np.int64)


def _check_steps(steps, T: int) -> list:
    try:
        chosen = sorted({int(t) for t in steps})
    except (TypeError, ValueError):
        chosen = []
    if not chosen or chosen[0] < 1 or chosen[-1] > T or any(isinstance(t, bool) for t in steps):
        raise PbitError(f"steps must be step numbers 1 … {T}, got {steps!r}")
    return chosen


def program_ir(program):
    """The IR training works on: an IR as it is, a trained model's program (.base_ir: training goes
    on from it), or a Program's (.ir)."""
    return getattr(program, "base_ir", None) or getattr(program, "ir", program)


def train_chain(program, data, chain: str | None = None, epochs: int = 10, seed: int = 0, checkpoint=None,
                resume=None, log=None, progress=None, steps=None, **options) -> TrainedChain:
    """Train the chain's step models on `data` (num, d) of bits or spins.  See the module docstring.
    program: see program_ir.  steps: the step numbers to train (default all; the others keep
    their initial weights).  A step's training depends on no other step, so steps trained apart
    and put together with merge_steps are the model one run makes (a cluster trains them as tasks)."""
    opts = TrainOptions(epochs=epochs, **options)
    opts.check()
    ir = program_ir(program)
    if ir.weights is None or ir.weights.num_weights == 0:
        raise PbitError("the program has no trainable weights (declare some with 'weight')")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0:
        raise PbitError(f"seed must be a whole number ≥ 0, got {seed!r}")
    spec = chain_spec(ir, chain)
    X0 = data_to_spins(spec, data)
    T, W, n = spec.steps, ir.weights.num_weights, ir.num_spins
    steps = list(range(1, T + 1)) if steps is None else _check_steps(steps, T)
    if len(steps) < T and (checkpoint or resume):
        raise PbitError("checkpoints hold every step: train all the steps to use checkpoint or resume")
    thetas = np.tile(ir.weights.theta, (len(steps), 1))
    adam = Adam((len(steps), W), opts.lr)
    lambdas = np.zeros(len(steps))
    start_epoch, persistent = 0, None
    B = min(opts.batch_size, len(X0))
    ckdir = Path(checkpoint) if checkpoint else None
    stack = StackedSteps(ir, spec, steps)
    if resume:
        state = _load_checkpoint(Path(resume), T, W, (T * stack.size, B))
        thetas, lambdas, start_epoch = state["thetas"], state["lambdas"], int(state["epoch"])
        adam = Adam((T, W), opts.lr, m=state["adam_m"], v=state["adam_v"], k=np.broadcast_to(state["adam_k"], (T,)).astype(np.int64))
        persistent = state.get("persistent")
    if ckdir:
        ckdir.mkdir(parents=True, exist_ok=True)
    log_path = Path(log) if log else (ckdir / "metrics.jsonl" if ckdir else None)
    backend = get_backend(opts.backend)
    beta = ir.beta if ir.beta is not None else 1.0
    latent = np.setdiff1d(np.arange(n), np.r_[spec.data_index, ir.clamp_index])
    metrics = []
    good = thetas.copy()
    interrupted = False
    t_start = time.perf_counter()
    blas = None
    sampler = BatchSampler(ir, spec, stack, latent, backend, B, opts, opts.backend_options)
    if persistent is not None:
        sampler.persistent = persistent
    else:
        sampler.start([stream(seed, START, t) for t in steps])
    batches = max(1, len(X0) // B)
    epoch = start_epoch
    try:
        blas = one_blas_thread()
        for epoch in range(start_epoch, opts.epochs):
            order = stream(seed, ORDER, epoch).permutation(len(X0))
            for b in range(batches):
                x0 = X0[order[b * B:(b + 1) * B]]
                pairs = noised_pairs(spec, x0, seed, epoch, b, steps)
                rows = _train_batch(ir, stack, sampler, thetas, pairs, step_seeds(seed, epoch, b, steps), lambdas,
                                    adam, opts, beta)
                for row in rows:
                    row.update({"epoch": epoch, "batch": b, "seconds": time.perf_counter() - t_start})
                    metrics.append(row)
                if log_path:
                    with open(log_path, "a") as fh:
                        fh.writelines(json.dumps(row) + "\n" for row in rows)
                if _diverged(thetas) or not all(math.isfinite(r["loss_proxy"]) for r in rows):
                    thetas = good
                    if ckdir:
                        _save_checkpoint(ckdir, thetas, lambdas, adam, epoch)
                    raise PbitError(f"training diverged at epoch {epoch}, batch {b} (weights not finite or past "
                                    f"{WEIGHT_LIMIT:g}): stopped; "
                                    "the last good weights are kept" + (f" in {ckdir}" if ckdir else "")
                                    + "; lower lr or raise the ACP target")
                good = thetas.copy()
            if ckdir:
                _save_checkpoint(ckdir, thetas, lambdas, adam, epoch + 1, sampler.persistent)
            if progress is not None:
                progress(epoch + 1, opts.epochs)
    except KeyboardInterrupt:
        interrupted = True
        thetas = good
        if ckdir:                          # the epoch that was cut starts again on resume, from fresh chains
            try:
                _save_checkpoint(ckdir, thetas, lambdas, adam, epoch)
            except KeyboardInterrupt:      # a second Ctrl-C while saving: the file is whole (atomic_write),
                pass                       # and the weights go back to the caller, who saves them too
    finally:
        if blas is not None:
            blas.restore_original_limits()
    all_thetas = np.tile(ir.weights.theta, (T, 1))
    all_thetas[np.asarray(steps) - 1] = thetas
    all_lambdas = np.zeros(T)
    all_lambdas[np.asarray(steps) - 1] = lambdas
    info = {"epochs": opts.epochs, "seconds": time.perf_counter() - t_start, "lambdas": all_lambdas.tolist(),
            "options": opts.__dict__, "interrupted": interrupted, "steps": steps,
            "final": metrics[-len(steps):] if metrics else [],
            "spin_updates": int(sum(m["spin_updates"] for m in metrics))}
    return TrainedChain(ir, spec.name, all_thetas, info, metrics)


def merge_steps(parts: list, seconds: float | None = None) -> TrainedChain:
    """One model from models that each trained some of the steps (train_chain(steps=…)): each step's
    weights, λ and metrics from the part that trained it, as one run of every step gives them."""
    first = parts[0]
    thetas, lambdas = first.thetas.copy(), list(first.info["lambdas"])
    steps = []
    for part in parts:
        for t in part.info["steps"]:
            thetas[t - 1], lambdas[t - 1] = part.thetas[t - 1], part.info["lambdas"][t - 1]
            steps.append(t)
    metrics = sorted((row for part in parts for row in part.metrics), key=lambda r: (r["epoch"], r["batch"], r["step"]))
    info = {**first.info, "lambdas": lambdas, "steps": sorted(steps),
            "seconds": max(p.info["seconds"] for p in parts) if seconds is None else seconds,
            "interrupted": any(p.info["interrupted"] for p in parts),
            "final": metrics[-len(steps):] if metrics else [],
            "spin_updates": sum(p.info["spin_updates"] for p in parts)}
    return TrainedChain(first.base_ir, first.chain, thetas, info, metrics)


class StackedSteps:
    """The step models being trained (all T, or the steps of one task on a cluster) side by side as
    one block-diagonal model: their fields and couplings in one array each, so the weights' affine
    map, the statistics and Adam make one pass over every step.  Step j's spins are rows
    j·size … (j+1)·size and its couplings data[j·nnz … (j+1)·nnz], so each step runs on the sampler
    by itself, with its own random streams.  Built once; each update only refreshes the arrays."""

    def __init__(self, ir, spec, steps):
        from dataclasses import replace

        self.steps = list(range(1, steps + 1)) if isinstance(steps, (int, np.integer)) else [int(t) for t in steps]
        self.ir, self.T = ir, len(self.steps)
        T = self.T
        zero = np.zeros(ir.weights.num_weights)
        pattern = StepPattern(ir, spec)
        models = [step_ir(ir, spec, t, zero, pattern) for t in self.steps]
        self.step_model = models[0]                     # every step's structure (they differ in weights and Γ_t)
        self.size, self.nnz = models[0].num_spins, models[0].J.nnz
        offsets = np.arange(T) * self.size
        # the steps share one sorted pattern (StepPattern): the block-diagonal J is that pattern T times,
        # shifted, and its data and terms are the steps' one after another
        first, nnz, n_tot = models[0].J, models[0].J.nnz, T * self.size
        indptr = np.r_[0, (first.indptr[1:] + nnz * np.arange(T)[:, None]).ravel()]
        indices = (first.indices + self.size * np.arange(T)[:, None]).ravel()
        J = sp.csr_array((np.concatenate([m.J.data for m in models]), indices, indptr), shape=(n_tot, n_tot))
        self.J0 = J.data.copy()                         # the data at θ = 0
        J_term = np.concatenate([m.J_term for m in models])
        # where each base coupling entry of step t sits in the stacked data
        keys = np.repeat(np.arange(n_tot), np.diff(J.indptr)) * n_tot + J.indices
        brow = np.repeat(np.arange(ir.num_spins), np.diff(ir.J.indptr))   # the program's pattern, any weights
        self.positions = np.stack([np.searchsorted(keys, (brow + o) * n_tot + ir.J.indices + o) for o in offsets])
        self.fields = offsets[:, None] + np.arange(ir.num_spins)      # (T, n): each step's own spins
        self.h0 = np.concatenate([m.h for m in models])
        self.offsets = offsets
        # each step's variables by name, so that errors about the stacked model say "z@step2[6]"
        layout = {f"{name}@step{t}": (start + o, shape, kind)
                  for t, o in zip(self.steps, offsets) for name, (start, shape, kind) in models[0].layout.items()}
        kbody = {}
        for k in models[0].kbody:
            kbody[k] = (np.concatenate([m.kbody[k][0] + o for m, o in zip(models, offsets)]),
                        np.concatenate([m.kbody[k][1] for m in models]))
        self.template = replace(models[0], num_spins=n_tot, h=self.h0, J=J,
                                colors=np.concatenate([m.colors for m in models]),
                                clamp_index=np.concatenate([m.clamp_index + o for m, o in zip(models, offsets)]),
                                clamp_value=np.concatenate([m.clamp_value for m in models]),
                                kbody=kbody, layout=layout, chains=(), J_term=J_term,
                                h_term=np.concatenate([m.h_term for m in models]))

    def arrays(self, thetas: np.ndarray) -> tuple:
        """The stacked model's fields h and coupling data (aligned with template.J) at weights thetas (T, W)."""
        w = self.ir.weights
        data = self.J0.copy()
        h = self.h0.copy()
        thetas = np.ascontiguousarray(thetas, dtype=np.float64)
        _map_into(w.dJ.indptr, w.dJ.indices, w.dJ.data, thetas, self.positions, data)   # steps never overlap
        _map_into(w.dh.indptr, w.dh.indices, w.dh.data, thetas, self.fields, h)
        return h, data

    def model(self, thetas: np.ndarray):
        return self.template.with_arrays(*self.arrays(thetas))


class BatchSampler:
    """The two sampler runs of every batch for each step being trained, on kernels prepared once on
    one step's structure (the steps share it; only weights and clamp values change).  Each step runs
    by itself with seeds from its own stream, so its samples do not depend on the other steps."""

    def __init__(self, ir, spec, stack, latent, backend, B: int, opts, options: dict):
        T, size, n, d = stack.T, stack.size, ir.num_spins, len(spec.data_index)
        self.data = np.concatenate([o + spec.data_index for o in stack.offsets])          # x_{t−1} of each step
        copies = n + np.arange(d)                                                         # its clamped x_t
        self.exact_positive = latents_independent(ir, latent)
        self.positive = (backend.kernel(stack.step_model, B, np.r_[spec.data_index, copies], **options)
                         if len(latent) else None)
        self.negative = backend.kernel(stack.step_model, B, copies, **options)
        self.fixed = np.concatenate([o + ir.clamp_index for o in stack.offsets])
        self.fixed_value = np.tile(ir.clamp_value, T)
        self.B, self.T, self.size, self.nnz, self.opts = B, T, size, stack.nnz, opts
        self.persistent = None                   # the model phase's chains (T·size, B), carried from batch to batch
        self.entries = coupling_entries(ir)
        self.pairs = unique_pairs(*self.entries)
        self.gradient = AffineGradient(ir, *self.entries)

    def start(self, starts: list) -> None:
        """The persistent chains' first state: step j's from its own stream starts[j]."""
        self.persistent = np.ascontiguousarray(np.concatenate(
            [(2 * g.integers(0, 2, size=(self.B, self.size)) - 1).astype(np.int8).T for g in starts]))

    def _run(self, kernel, h, data, clamp_values, state, sweeps, burn_in, thin, beta, seed) -> tuple:
        """(the kept states (sweeps // thin, size, B), spin updates) of one step's run from `state` (updated)."""
        out = np.empty((sweeps // thin,) + state.shape, dtype=np.int8)
        draws = kernel.run(h, data, clamp_values, state, np.full(burn_in + sweeps, float(beta)), seed,
                           Record(out, burn_in, thin))
        return out, draws.spin_updates

    def run(self, h, data, pairs: list, beta, seeds) -> tuple:
        """(positive, negative) samples (k, T·size, B) of the stacked steps, and each step's spin
        updates (T,).  pairs[j]: step j's (x_{t−1}, x_t) (B, d); seeds[j]: its two runs' seeds."""
        B, size, nnz, o = self.B, self.size, self.nnz, self.opts
        k, spacing = o.samples_per_estimate, o.spacing
        # positive phase: x_{t−1} and x_t clamped, latents sampled.  Latents with no coupling among
        # themselves are independent given the clamped data: one sweep per sample is then an exact
        # draw, with no warm-up.  With no latents at all, the sample is the clamped data.
        sweeps, burn, thin = (k, 0, 1) if self.exact_positive else (k * spacing, o.warmup_sweeps, spacing)
        if self.positive is not None:
            pos = np.empty((sweeps // thin, self.T * size, B), dtype=np.int8)
        else:
            pos = np.zeros((1, self.T * size, B), dtype=np.int8)
            pos[0, self.data] = np.concatenate([x_prev for x_prev, _ in pairs], axis=1).T
            pos[0, self.fixed] = self.fixed_value[:, None]
        neg = np.empty((k, self.T * size, B), dtype=np.int8)
        updates = np.zeros(self.T, dtype=np.int64)
        for j, ((x_prev, x_next), (seed_pos, seed_neg)) in enumerate(zip(pairs, np.asarray(seeds).tolist())):
            rows = slice(j * size, (j + 1) * size)
            h_j, data_j = h[rows], data[j * nnz:(j + 1) * nnz]
            if self.positive is not None:
                pos[:, rows], u = self._run(self.positive, h_j, data_j, np.concatenate([x_prev, x_next], axis=1),
                                            self.persistent[rows].copy(), sweeps, burn, thin, beta, seed_pos)
                updates[j] += u
            # model phase: only x_t clamped; persistent chains, updated in place
            neg[:, rows], u = self._run(self.negative, h_j, data_j, x_next, self.persistent[rows], k * spacing,
                                        o.warmup_sweeps, spacing, beta, seed_neg)
            updates[j] += u
        return pos, neg, updates


def _train_batch(ir, stack, sampler, thetas, pairs, seeds, lambdas, adam, opts, beta):
    """One gradient step for every step being trained on one batch: two sampler runs a step and
    array arithmetic over the steps at once (row by row, so a step's numbers are the same alone)."""
    T, n = len(thetas), ir.num_spins
    h, data = stack.arrays(thetas)
    pos, neg, updates = sampler.run(h, data, pairs, beta, seeds)
    rows, cols = sampler.entries
    m_pos, C_pos, _ = block_statistics(pos, stack.offsets, n, rows, cols, sampler.pairs)
    m_neg, C_neg, rho = block_statistics(neg, stack.offsets, n, rows, cols, sampler.pairs)
    dm, dC = m_pos - m_neg, C_pos - C_neg
    grad = beta * (sampler.gradient.mean(dm, dC) - ir.weights.doff)    # the affine map's offsets cancel
    grad += opts.weight_decay * thetas
    if opts.acp:
        for t in range(T):
            lam = lambdas[t]
            if rho[t] > opts.acp_target:
                lam = max(lam * (1 + opts.acp_rate), opts.acp_start)
            elif rho[t] < opts.acp_target / 2:
                lam = lam * (1 - opts.acp_rate)
                if lam < opts.acp_floor:
                    lam = 0.0
            lambdas[t] = lam
        if np.any(lambdas > 0):
            grad += lambdas[:, None] * sampler.gradient.acp(m_neg, C_neg)
    thetas[:] = adam.step(thetas, grad)
    # ⟨E⟩ is affine in the means: the loss proxy β(⟨E⟩_data − ⟨E⟩_model) needs no energies
    J_t, h_t = data[stack.positions], h[stack.fields]
    with np.errstate(over="ignore", invalid="ignore"):
        gap = beta * ((h_t * dm).sum(axis=1) + 0.5 * (J_t * dC).sum(axis=1))
    return [{"step": stack.steps[j], "loss_proxy": float(gap[j]), "grad_norm": float(np.linalg.norm(grad[j])),
             "lambda": float(lambdas[j]), "autocorr": float(rho[j]), "spin_updates": int(updates[j])}
            for j in range(T)]


def latents_independent(ir, latent: np.ndarray) -> bool:
    """True when no coupling or k-body factor joins two latent variables."""
    is_latent = np.zeros(ir.num_spins, dtype=bool)
    is_latent[latent] = True
    coo = ir.J.tocoo()
    if np.any(is_latent[coo.row] & is_latent[coo.col]):
        return False
    return all(not np.any(is_latent[idx].sum(axis=1) >= 2) for idx, _ in ir.kbody.values())


WEIGHT_LIMIT = 1e30         # weights past this make energies overflow: training has diverged


def _diverged(thetas: np.ndarray) -> bool:
    return not np.all(np.isfinite(thetas)) or float(np.abs(thetas).max(initial=0.0)) > WEIGHT_LIMIT


def _save_checkpoint(ckdir: Path, thetas, lambdas, adam, epoch: int, persistent=None):
    """The training state after `epoch` epochs; with the model phase's chains (persistent) a resumed
    run goes on exactly as one never stopped."""
    from ..files import atomic_write
    chains = {} if persistent is None else {"persistent": persistent}
    with atomic_write(ckdir / "checkpoint.npz") as tmp, open(tmp, "wb") as fh:
        np.savez(fh, thetas=thetas, lambdas=lambdas, adam_m=adam.m, adam_v=adam.v, adam_k=adam.k,
                 epoch=np.array(epoch), **chains)


def _load_checkpoint(path: Path, T: int, W: int, chains_shape: tuple) -> dict:
    if path.is_dir():
        path = path / "checkpoint.npz"
    from ..errors import DataError
    from ..files import read_arrays
    state = read_arrays(path, DataError, "checkpoint")
    shapes = {"thetas": (T, W), "lambdas": (T,), "adam_m": (T, W), "adam_v": (T, W), "adam_k": (T,), "epoch": ()}
    for key, shape in shapes.items():
        value = state.get(key)
        shapes_allowed = (shape, ()) if key == "adam_k" else (shape,)     # Adam's step count: one, or one per step
        if (value is None or value.shape not in shapes_allowed or value.dtype.kind not in "fiu"
                or not np.all(np.isfinite(value))):
            raise DataError(f"checkpoint {path} does not fit this chain ({T} steps × {W} weights): "
                            f"'{key}' is missing or has the wrong shape or values")
    chains = state.get("persistent")
    if chains is not None and (chains.shape != chains_shape or chains.dtype != np.int8
                               or not np.all(np.abs(chains) == 1)):
        state.pop("persistent")            # another batch size, or not spins: the chains start afresh
    return state
