"""The exact backend: enumeration of every state of the free spins.

Memory stays bounded: states are enumerated in chunks of 2^CHUNK_BITS.  It
gives i.i.d. exact samples (two passes: chunk masses, then inverse CDF inside
the chunks that the sorted uniforms fall in) and exact expectations: log Z,
mean energy and its variance, marginals and observables' means.  It is the
oracle the other backends are tested against."""
from __future__ import annotations

import time

import numpy as np
from scipy.special import logsumexp

from ..errors import BackendError
from ..results import SampleResult
from .base import Backend
from .runspec import COMMON_OPTIONS, int_option, merge_clamps

CHUNK_BITS = 16
DEFAULT_MAX_FREE = 26


def states_chunk(ir, free: np.ndarray, clamp_index, clamp_value, lo: int, hi: int) -> np.ndarray:
    """States with codes lo..hi-1 of the free spins (bit k of the code ↔ free[k]; 1 ↔ +1)."""
    codes = np.arange(lo, hi, dtype=np.int64)
    S = np.empty((hi - lo, ir.num_spins), dtype=np.int8)
    S[:, clamp_index] = clamp_value
    bits = (codes[:, None] >> np.arange(len(free), dtype=np.int64)) & 1
    S[:, free] = (2 * bits - 1).astype(np.int8)
    return S


class ExactBackend(Backend):
    name = "exact"
    description = f"exact enumeration of all states (free spins ≤ {DEFAULT_MAX_FREE} by default): i.i.d. samples, log Z"
    options = {**{k: v for k, v in COMMON_OPTIONS.items()
                  if k not in ("initial", "progress", "clamp_spins", "tempering")},
               "max_free_spins": f"refuse models with more free spins (default {DEFAULT_MAX_FREE})"}

    def __init__(self, max_free_spins: int = DEFAULT_MAX_FREE):
        self.max_free_spins = max_free_spins

    def prepare(self, ir, chains, clamp_index=(), **options):
        raise BackendError("the exact backend enumerates states: it has no Markov chain kernel to prepare "
                           "(use 'cpu' or 'reference' for training, generation and tempering)")

    def _free(self, ir, clamps=None, limit=None):
        idx, val = merge_clamps(ir, clamps)
        free = np.setdiff1d(np.arange(ir.num_spins), idx)
        limit = self.max_free_spins if limit is None else limit
        if len(free) > limit:
            raise BackendError(f"the exact backend enumerates 2^{len(free)} states; it takes at most "
                               f"{limit} free spins (max_free_spins); use 'reference' for larger models")
        return free, idx, val

    def chunks(self, ir, beta: float, clamps=None, limit=None):
        """Yield (states, energies, log-weights) chunk by chunk."""
        free, idx, val = self._free(ir, clamps, limit)
        total = 1 << len(free)
        step = 1 << CHUNK_BITS
        for lo in range(0, total, step):
            S = states_chunk(ir, free, idx, val, lo, min(total, lo + step))
            E = ir.energy(S)
            yield S, E, -beta * E

    def log_z(self, ir, beta: float, clamps=None) -> float:
        return float(logsumexp([logsumexp(lw) for _, _, lw in self.chunks(ir, beta, clamps)]))

    def probabilities(self, ir, beta: float, clamps=None) -> np.ndarray:
        """p(code) of every free-spin state (bit k of the code ↔ k-th free spin = +1); ≤ 2^22 states."""
        free, _, _ = self._free(ir, clamps, limit=min(self.max_free_spins, 22))
        lw = np.concatenate([lw for _, _, lw in self.chunks(ir, beta, clamps)])
        return np.exp(lw - logsumexp(lw))

    def expectations(self, ir, beta: float | None = None, clamps=None) -> dict:
        """Exact log Z, ⟨E⟩, Var E, marginals ⟨s_i⟩ and observables' means."""
        beta = (ir.beta if ir.beta is not None else 1.0) if beta is None else beta
        logz = self.log_z(ir, beta, clamps)
        mean_e = mean_e2 = 0.0
        marg = np.zeros(ir.num_spins)
        obs = {k: np.zeros(v.shape) for k, v in ir.observables.items()}
        for S, E, lw in self.chunks(ir, beta, clamps):
            w = np.exp(lw - logz)
            mean_e += float(w @ E)
            mean_e2 += float(w @ (E * E))
            marg += w @ S
            for k, v in ir.observe(S).items():
                obs[k] += np.tensordot(w, v, axes=1)
        return {"beta": beta, "log_z": logz, "mean_energy": mean_e, "energy_var": mean_e2 - mean_e ** 2,
                "marginals": marg, "observables": obs}

    def sample(self, ir, **options):
        limit = options.pop("max_free_spins", None)
        if limit is not None:
            limit = int_option({"max_free_spins": limit}, "max_free_spins", 0, 0, 64)
        for key in ("initial", "progress"):
            options.pop(key, None)
        spec = self.validate(ir, {k: v for k, v in options.items()})
        t0 = time.perf_counter()
        if spec.constant_beta is None:
            raise BackendError("the exact backend samples at one beta; a schedule is meaningless for i.i.d. draws")
        beta = spec.constant_beta
        clamps = options.get("clamps")
        free, idx, val = self._free(ir, clamps, limit)
        num = spec.chains * spec.kept
        logz = self.log_z(ir, beta, clamps)
        rng = np.random.default_rng(spec.seed)
        u = rng.random(num)
        order = np.argsort(u)
        us = u[order]
        samples_sorted = np.empty((num, ir.num_spins), dtype=np.int8)
        cum = 0.0
        pos = 0
        for S, E, lw in self.chunks(ir, beta, clamps, limit):
            p = np.exp(lw - logz)
            c = cum + np.cumsum(p)
            end = int(np.searchsorted(us, c[-1], "right"))
            if end > pos:
                k = np.searchsorted(c, us[pos:end], "right")
                samples_sorted[pos:end] = S[np.minimum(k, len(S) - 1)]
                pos = end
            cum = c[-1]
        if pos < num:                                   # rounding left the top uniforms past the last mass
            samples_sorted[pos:] = S[-1]
        samples = np.empty_like(samples_sorted)
        samples[order] = samples_sorted
        t1 = time.perf_counter()
        info = {"backend": self.name, "chains": spec.chains, "sweeps": spec.sweeps, "thin": spec.thin,
                "beta": beta, "seed": spec.seed, "log_z": logz, "free_spins": int(len(free)),
                "spin_updates": 0, "spin_updates_per_s": 0.0, "timings": {"total_s": t1 - t0}}
        return SampleResult(ir, samples, spec.chains, info)


def exact(ir, beta=None, clamps=None) -> dict:
    """Exact expectations of an IR (see ExactBackend.expectations)."""
    return ExactBackend().expectations(ir, beta, clamps)


def code_of(samples: np.ndarray, free: np.ndarray) -> np.ndarray:
    """Integer code of each sample's free spins (the inverse of states_chunk)."""
    bits = (samples[:, free] > 0).astype(np.int64)
    return bits @ (np.int64(1) << np.arange(len(free), dtype=np.int64))


__all__ = ["ExactBackend", "exact", "code_of"]
