"""The run options every sampling backend shares, checked once: counts, β schedules, clamps,
starts, and the info dict a run reports.  Every backend gets the same errors for the same mistakes."""
from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass

import numpy as np

from ..errors import BackendError, OptionError

COMMON_OPTIONS = {
    "chains": "independent chains, run side by side (default 1)",
    "sweeps": "sweeps kept after burn-in; one sweep updates every free variable once (default 1000)",
    "burn_in": "sweeps discarded before recording (default 0)",
    "thin": "keep every thin-th sweep (default 1)",
    "beta": "inverse temperature: a number, or one value per sweep (burn_in + sweeps) to anneal; "
            "None takes the program's beta, else 1.0",
    "seed": "seed of the random stream (default 0): same seed, same samples",
    "first_chain": "the index of the first chain (default 0): every chain draws from (seed, its index) alone, so "
                   "chains a..a+k−1 of a larger run can run anywhere, alone, and come out the same",
    "initial": "'random' (default), 'up', 'down', or an array (n,) or (chains, n) of ±1",
    "clamps": "extra evidence: {'s[0, 1]': 1, 'b': array, ...} (values ±1 for spins, 0/1 for bits)",
    "clamp_spins": "per-chain evidence: (spin indices (k,), values (chains, k) of ±1); used by denoising chains",
    "max_sample_bytes": "refuse runs whose kept samples would need more memory (default 4 GiB)",
    "progress": "callable(done_sweeps, total_sweeps) called during the run",
    "tempering": "parallel tempering: {'replicas': R, 'beta_min': 0.1, 'ladder': 'geometric' | 'adaptive' | "
                 "[β…], 'swap_every': 1}; each chain is an independent replica set and samples are taken at the "
                 "run's β (the top of the ladder)",
}


@dataclass
class RunSpec:
    """Validated common options."""
    chains: int
    sweeps: int
    burn_in: int
    thin: int
    betas: np.ndarray          # one per sweep (burn_in + sweeps)
    seed: int
    initial: object
    clamp_index: np.ndarray
    clamp_value: np.ndarray    # (chains, k): per-chain values
    progress: object
    first_chain: int = 0

    @property
    def chain_ids(self) -> np.ndarray:
        """The index of each chain: its random streams come from (seed, index) alone."""
        return np.arange(self.first_chain, self.first_chain + self.chains)

    @property
    def kept(self) -> int:
        return self.sweeps // self.thin

    @property
    def total_sweeps(self) -> int:
        return self.burn_in + self.sweeps

    @property
    def constant_beta(self) -> float | None:
        """The run's β when it does not change, else None (a broadcast β is not scanned)."""
        b = self.betas
        if len(b) and (b.strides[0] == 0 or np.all(b == b[0])):
            return float(b[0])
        return None

    @property
    def beta_info(self):
        b, constant = self.betas, self.constant_beta
        return constant if constant is not None else {"schedule": [float(b[0]), float(b[-1])]}


MAX_COUNT = 10**12          # chains, sweeps, burn-in, thin: beyond any run that could finish
MAX_SEED = 2**64 - 1        # seeds key 64-bit random streams
MAX_CHAIN_INDEX = 2**40     # a chain's index keys its streams (times the words it draws, within 64 bits)
MAX_SCHEDULE = 10**8        # values of a β schedule given one per sweep


def int_option(options, name, default, minimum, maximum=MAX_COUNT):
    value = options.get(name, default)
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
        try:
            if float(value) != int(value):
                raise ValueError
            value = int(value)
        except (TypeError, ValueError, OverflowError):
            raise OptionError(f"{name} must be an integer, got {value!r}") from None
    if value < minimum:
        raise OptionError(f"{name} must be ≥ {minimum}, got {value}")
    if value > maximum:
        raise OptionError(f"{name} must be ≤ {maximum:,}, got {value:,}")
    return int(value)



def beta_schedule(beta, total: int) -> np.ndarray:
    """One β per sweep, `total` of them, from a number or a sequence with one value per sweep; checked
    (finite, ≥ 0), as sample() and generation take it."""
    try:
        betas = np.asarray(beta, dtype=np.float64) if not isinstance(beta, str) else None
    except (TypeError, ValueError):
        betas = None
    if betas is None or betas.ndim > 1:
        raise OptionError(f"beta must be a number or a sequence of numbers, got {beta!r}")
    if betas.ndim == 0:
        betas = np.broadcast_to(float(betas), (total,))       # one value: a view, whatever the length
    elif len(betas) > MAX_SCHEDULE:
        raise OptionError(f"a beta schedule takes at most {MAX_SCHEDULE:,} values (one per sweep)")
    elif len(betas) != total:
        raise OptionError(f"a beta schedule needs one value per sweep: burn_in + sweeps = {total}, got {len(betas)}")
    if not np.all(np.isfinite(betas)) or np.any(betas < 0):
        raise OptionError("beta must be finite and ≥ 0")
    return betas


def sample_bytes(ir) -> int:
    """Bytes a run holds per kept sample, post-processing included: the int8 states twice (the
    sampler's layout and the (samples, n) view), the energy, every observable and the largest
    constraint's residuals, in float64."""
    observables = sum(ob.size for ob in ir.observables.values())
    constraints = max((c.num_instances for c in ir.constraints), default=0)
    return 2 * ir.num_spins + 8 * (1 + observables + constraints)


def run_spec(ir, options: dict) -> RunSpec:
    chains = int_option(options, "chains", 1, 1)
    sweeps = int_option(options, "sweeps", 1000, 1)
    burn_in = int_option(options, "burn_in", 0, 0)
    thin = int_option(options, "thin", 1, 1)
    if thin > sweeps:
        raise OptionError(f"thin ({thin}) must not exceed sweeps ({sweeps}): no sample would be kept")
    seed = options.get("seed", 0)
    if seed is None:
        seed = 0
    seed = int_option({"seed": seed}, "seed", 0, 0, MAX_SEED)
    beta = options.get("beta")
    if beta is None:
        beta = ir.beta if ir.beta is not None else 1.0
    total = burn_in + sweeps
    kept = sweeps // thin
    limit = int_option(options, "max_sample_bytes", 4 * 2**30, 0, 2**62)
    per_sample = sample_bytes(ir)
    need = chains * kept * per_sample + chains * (ir.num_spins + 32)      # + the chains' states and streams
    if need > limit:
        raise BackendError(
            f"this run would keep {chains * kept:,} samples × {per_sample:,} bytes = {need / 2**30:.1f} GiB, over "
            f"the limit of {limit / 2**30:.1f} GiB: lower --chains or --sweeps, raise --thin "
            f"(or max_sample_bytes)")
    betas = beta_schedule(beta, total)
    idx, val = merge_clamps(ir, options.get("clamps"))
    val = np.broadcast_to(val, (chains, len(idx))).copy()
    if options.get("clamp_spins") is not None:
        idx, val = _per_chain_clamps(ir, idx, val, options["clamp_spins"], chains)
    initial = options.get("initial", "random")
    if isinstance(initial, str):
        if initial not in ("random", "up", "down"):
            raise OptionError(f"initial must be 'random', 'up', 'down' or an array, got {initial!r}")
    else:
        arr = np.asarray(initial)
        if arr.shape not in ((ir.num_spins,), (chains, ir.num_spins)) or not all_in(arr, (-1, 1)):
            raise OptionError(f"an initial state must be ±1 of shape ({ir.num_spins},) or ({chains}, {ir.num_spins})")
    progress = options.get("progress")
    first_chain = int_option(options, "first_chain", 0, 0, MAX_CHAIN_INDEX)
    return RunSpec(chains, sweeps, burn_in, thin, betas, seed, initial, idx, val, progress, first_chain)


def all_in(arr, allowed: tuple) -> bool:
    """True when every entry of arr is one of the two numbers in allowed.  For numeric arrays two
    comparisons, ten times faster than np.isin's sort on the (chains, n) arrays generation passes
    every step; anything else through np.isin."""
    a = np.asarray(arr)
    if a.dtype.kind in "iuf":
        return bool(np.all((a == allowed[0]) | (a == allowed[1])))
    return bool(np.all(np.isin(a, allowed)))


def _per_chain_clamps(ir, idx, val, clamp_spins, chains):
    try:
        extra_idx, extra_val = clamp_spins
        extra_idx = np.asarray(extra_idx, dtype=np.int64).ravel()
        extra_val = np.broadcast_to(np.asarray(extra_val), (chains, len(extra_idx)))
    except (TypeError, ValueError):
        raise OptionError("clamp_spins takes (indices (k,), values (chains, k))") from None
    if np.any((extra_idx < 0) | (extra_idx >= ir.num_spins)) or not all_in(extra_val, (-1, 1)):
        raise OptionError("clamp_spins: indices must be spins of the model and values ±1")
    keep = ~np.isin(idx, extra_idx)
    all_idx = np.concatenate([idx[keep], extra_idx])
    all_val = np.concatenate([val[:, keep], extra_val.astype(np.int8)], axis=1)
    order = np.argsort(all_idx, kind="stable")
    return all_idx[order], all_val[:, order]


_REF = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(?:\[([^\]]*)\])?\s*$")


def merge_clamps(ir, clamps) -> tuple:
    """The program's clamps plus those of the call (the call's win where both set a spin)."""
    index = dict(zip(ir.clamp_index.tolist(), ir.clamp_value.tolist()))
    if clamps is not None and not isinstance(clamps, dict):
        raise OptionError(f"clamps must be a mapping of variables to values, e.g. {{'s[0]': 1}}, got {clamps!r}")
    for key, value in (clamps or {}).items():
        m = _REF.match(str(key))
        if not m or m.group(1) not in ir.layout:
            raise OptionError(f"clamp '{key}' names no variable (variables: {', '.join(ir.layout)})")
        name, idx_text = m.group(1), m.group(2)
        start, shape, kind = ir.layout[name]
        size = math.prod(shape)
        if idx_text is None:
            values = np.broadcast_to(np.asarray(value), shape) if shape else np.asarray(value).reshape(())
            flat = np.arange(size) + start
            values = values.ravel()
        else:
            try:
                pos = tuple(int(p) for p in idx_text.split(","))
            except ValueError:
                raise OptionError(f"clamp '{key}': indices must be integers") from None
            if len(pos) != len(shape) or any(not 0 <= p < d for p, d in zip(pos, shape)):
                raise OptionError(f"clamp '{key}' is outside '{name}' (shape {tuple(shape)})")
            flat = np.array([start + int(np.ravel_multi_index(pos, shape))]) if shape else np.array([start])
            values = np.asarray(value).reshape(1)
        allowed = (0, 1) if kind == "bit" else (-1, 1)
        if not all_in(values, allowed):
            raise OptionError(f"clamp '{key}': values must be {' or '.join(map(str, allowed))} for a {kind}")
        spins = 2 * values - 1 if kind == "bit" else values
        index.update(zip(flat.tolist(), np.asarray(spins).astype(int).tolist()))
    keys = np.array(sorted(index), dtype=np.int64)
    return keys, np.array([index[k] for k in keys.tolist()], dtype=np.int8)


def run_info(name: str, spec: RunSpec, ir, kernel, sweeps_done: int, columns: int, t0: float, t1: float,
             t2: float, interrupted: bool, **extra) -> dict:
    """The info dict every sampling backend reports (spin updates count free spins only; the rate
    counts sampling alone, not set-up)."""
    updates = len(kernel.free) * columns * sweeps_done
    info = {"backend": name, "chains": spec.chains, "sweeps": spec.sweeps, "burn_in": spec.burn_in,
            "thin": spec.thin, "beta": spec.beta_info, "seed": spec.seed, "num_colors": ir.num_colors,
            "spin_updates": int(updates), "spin_updates_per_s": updates / (t2 - t1) if t2 > t1 else 0.0,
            "timings": {"setup_s": t1 - t0, "sampling_s": t2 - t1, "total_s": time.perf_counter() - t0}}
    info.update(extra)
    if interrupted:
        info["interrupted"] = True
    return info


GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def splitmix64(x: np.ndarray) -> np.ndarray:
    """SplitMix64's output function on uint64 words (a bijection that mixes every bit)."""
    x = np.asarray(x, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = x + GOLDEN
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return z ^ (z >> np.uint64(31))


def stream_key(seed: int, stream: int) -> np.uint64:
    """The key of one random stream (a purpose: starts, chain streams, p-bit RNGs) of a seed."""
    with np.errstate(over="ignore"):                 # the sum wraps around, as in the compiled copy
        return splitmix64(np.uint64(seed) ^ splitmix64(np.uint64(stream) + np.uint64(0x5851F42D4C957F2D)))


def chain_words(seed: int, chains, words: int, stream: int = 0) -> np.ndarray:
    """(words, len(chains)) uint64 random words of each chain c in `chains`, from (seed, stream, c)
    alone: so a chain draws the same whether it runs with 3 others or 3000, on one thread or a
    machine of its own.  SplitMix64's output function over a keyed counter; backends.kernels.chain_words is
    the same, compiled, for the n·chains words of per-p-bit RNGs."""
    chains = np.arange(chains, dtype=np.uint64) if np.ndim(chains) == 0 else np.asarray(chains, dtype=np.uint64)
    key = stream_key(seed, stream)
    with np.errstate(over="ignore"):
        counter = (chains[None, :] * np.uint64(max(words, 1)) + np.arange(words, dtype=np.uint64)[:, None]) * GOLDEN
    return splitmix64(counter ^ key)


def initial_state(ir, spec: RunSpec) -> np.ndarray:
    """(n, chains) int8 ±1 start, C-contiguous, clamps applied; a random start per chain from (seed, chain)."""
    n, C = ir.num_spins, spec.chains
    if isinstance(spec.initial, str):
        if spec.initial == "random":
            W = (n + 63) // 64
            words = chain_words(spec.seed, spec.chain_ids, W, stream=1).astype("<u8")     # (W, C)
            bits = np.unpackbits(words.view(np.uint8).reshape(W, C, 8), axis=2, bitorder="little")
            X = 2 * bits.transpose(0, 2, 1).reshape(64 * W, C)[:n].astype(np.int8) - 1
        else:
            X = np.full((n, C), 1 if spec.initial == "up" else -1, dtype=np.int8)
    else:
        arr = np.asarray(spec.initial, dtype=np.int8)
        X = np.array(np.broadcast_to(arr, (C, n)).T, order="C")      # a copy: broadcast views are read-only
    X = np.ascontiguousarray(X)
    X[spec.clamp_index] = spec.clamp_value.T
    return X


