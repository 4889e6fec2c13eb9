"""The p-bit hardware emulator backend.

It runs a program the way a probabilistic computer would: weights and biases
in the fabric's fixed point, integer accumulation with saturation, the
activation from a lookup table, the fabric's random numbers (perfect,
per-p-bit xorshift or Galois LFSRs, or an all-transistor analog source with
bias and finite decorrelation time), device-to-device gain and offset
mismatch, and synchronous colour-by-colour or asynchronous clocking.  It
reports what a sample costs: energy by component, latency and throughput."""
from __future__ import annotations

import math
import time

import numpy as np

from ...errors import BackendError
from ...results import SampleResult
from ..base import COMMON_OPTIONS, Backend, Runner, initial_state, one_blas_thread, per_sweep, run_info
from . import kernels
from .fabric import GALOIS_TAPS, builtin_fabrics, check_and_place, load_fabric
from .ledger import ledger
from .quantize import activation_table, input_bounds, input_window, lut_shift, quantize
from .tiles import block_tiles

CHUNK_UPDATES = 5e7          # spin updates per kernel call: Ctrl-C and progress are checked between calls
CHAIN_ALIGN = 64             # chains per cache line of the int8 states (spins × chains): a thread's share


def chain_groups(chains: int, threads) -> np.ndarray:
    """Boundaries of the chain groups that run in parallel (one group per thread), on multiples of
    CHAIN_ALIGN chains.  Why: a spin's states of all chains share cache lines, 64 chains a line; two
    threads writing parts of one line take it from each other on every update, and 64 chains on
    two threads ran at half the speed of one (128 chains: 1.4× one thread, 256: 1.5×).  Fewer
    chains than two lines run on one thread whatever `threads` says."""
    import numba
    if threads == "auto":
        threads = numba.get_num_threads()
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise BackendError(f"threads must be an integer ≥ 1 or 'auto', got {threads!r}")
    g = max(1, min(int(threads), chains))
    cuts = np.round(np.linspace(0, chains, g + 1) / CHAIN_ALIGN).astype(np.int64) * CHAIN_ALIGN
    return np.unique(np.r_[0, np.clip(cuts[1:-1], 0, chains), chains]).astype(np.int64)


def fabrics() -> dict:
    """name → description of the built-in fabric profiles."""
    return builtin_fabrics()


def seed_words(seed, k: int) -> np.ndarray:
    """numpy's SeedSequence(seed).generate_state(k, uint64), with its hash compiled (numpy runs it as
    a Python loop; runners seed every run, twice per training batch)."""
    words = np.empty(2 * k, np.uint32)
    kernels.seed_sequence_words(np.random.SeedSequence(int(seed)).pool, words, 1, np.uint32(0xFFFFFFFF), False)
    return words.astype("<u4", copy=False).view("<u8").astype(np.uint64, copy=False)   # as numpy pairs them


def pbit_rng_states(seed, n: int, chains: int, keep: int) -> np.ndarray:
    """Each p-bit's RNG state per chain, (n, chains) uint32: the low 32 bits of seed_words(seed, n·chains)
    masked with `keep`, 0 made 1 (an LFSR must not start at zero); made in one compiled pass (for
    65536 p-bits × 256 chains, 0.1 s where the arrays between took 1 s)."""
    out = np.empty(n * chains, np.uint32)
    kernels.seed_sequence_words(np.random.SeedSequence(int(seed)).pool, out, 2, np.uint32(keep), True)
    return out.reshape(n, chains)


def chain_streams(word, chains: int) -> tuple:
    """The per-chain xoroshiro128+ states (s0, s1) from one seed word (s1 odd: never all zero)."""
    sched = seed_words(word, 2 * chains)
    return sched[:chains].copy(), sched[chains:].copy() | np.uint64(1)


class EmulatorBackend(Backend):
    name = "emulator"
    description = "p-bit fabric emulator: fixed point, lookup-table activation, hardware RNGs, clocking, energy ledger"
    options = {**COMMON_OPTIONS,
               "fabric": f"fabric profile: a name ({', '.join(builtin_fabrics())}), a path to a .json profile, "
                         "or a dict (default 'ideal')",
               "fabric_overrides": "change profile settings, e.g. {'arithmetic': {'weight_bits': 4}}",
               "threads": "host threads sharing the chains (default 1; 'auto': all numba threads); the "
                          "samples are the same for any number"}

    def sample(self, ir, **options):
        fabric = load_fabric(options.pop("fabric", "ideal") or "ideal")
        threads = options.pop("threads", 1)
        overrides = options.pop("fabric_overrides", None)
        if overrides:
            fabric = fabric.with_overrides(overrides)
        spec = self.validate(ir, options)
        t0 = time.perf_counter()
        placement = check_and_place(ir, fabric)
        n, C = ir.num_spins, spec.chains
        seeds = seed_words(spec.seed, 4)
        init_rng = np.random.default_rng(int(seeds[0]))
        S = np.ascontiguousarray(initial_state(ir, spec, init_rng).astype(np.int8))
        free, order, block_ptr = update_order(ir, spec.clamp_index)
        q, ticks, cycles = clocking(fabric, ir)
        groups = chain_groups(C, threads)
        s0, s1 = chain_streams(seeds[1], C)
        snapshot = np.empty_like(S)
        record = np.empty((C, spec.kept, n), dtype=np.int8)
        info = {"fabric": fabric.name, "placement": placement, "clock_mode": fabric.clock["mode"]}
        J = ir.J
        tiles = block_tiles(J, order, block_ptr, synchronous=ticks == 0)
        if fabric.exact:
            rows, tiling = tiles.weights(J.data, np.float32)
            hf = ir.h.astype(np.float32)
            kb = kbody_table(ir)
            run = lambda a, b, kept: kernels.drive_exact(  # noqa: E731
                order, tiling, ticks, q, *rows, hf, spec.betas.astype(np.float32), s0, s1, S, snapshot, a, b,
                spec.burn_in, spec.thin, record, kept, *kb, groups)
        else:
            fixed = FixedPoint(fabric, n, cycles)
            k, extra = fixed.kernel(ir, tiles, spec.betas, seeds, C)
            run = lambda a, b, kept: fixed.drive(order, ticks, q, k, s0, s1, S, snapshot, a, b,  # noqa: E731
                                                 spec.burn_in, spec.thin, record, kept, groups)
            info.update(extra)
        t1 = time.perf_counter()
        kept, done, interrupted = 0, 0, False
        step = max(1, int(CHUNK_UPDATES // max(n * C, 1)))
        blas = one_blas_thread() if tiles.num_tiles else None
        try:
            while done < spec.total_sweeps:
                stop = min(spec.total_sweeps, done + step)
                kept = run(done, stop, kept)
                done = stop
                if spec.progress is not None:
                    spec.progress(done, spec.total_sweeps)
        except KeyboardInterrupt:
            interrupted = True
        finally:
            if blas is not None:
                blas.restore_original_limits()
        t2 = time.perf_counter()
        samples = record[:, :kept].reshape(C * kept, n)
        n_free = int(free.sum())
        edges = int(np.diff(J.indptr)[free].sum())
        info.update(ledger(fabric, n_free, edges, cycles, done, kept, C))
        info.update(run_info(self.name, spec, ir, ir.num_colors, done, C, t0, t1, t2, interrupted))
        return SampleResult(ir, samples, C, info)

    def runner(self, ir, chains, clamp_index, **options):
        if set(options) - {"fabric", "fabric_overrides", "threads"}:
            return super().runner(ir, chains, clamp_index, **options)
        fabric = load_fabric(options.get("fabric", "ideal") or "ideal")
        if options.get("fabric_overrides"):
            fabric = fabric.with_overrides(options["fabric_overrides"])
        return FabricRunner(self, ir, chains, clamp_index, fabric, options.get("threads", 1))


class FixedPoint:
    """What a fixed-point fabric adds to the kernel beyond the update order and tiles.  The devices
    (gain and offset mismatch, the RNGs' kind and bias, the analog source's correlation) depend only on
    the fabric and the p-bit count and are made once; kernel() makes a run's part: the weights
    quantised, the activation tables for its βs and the per-p-bit RNG states from its seeds.
    sample() makes one per call; FabricRunner keeps one for all its runs."""

    def __init__(self, fabric, n: int, cycles: int):
        ar, rng, var = fabric.arithmetic, fabric.rng, fabric.variability
        self.ar, self.n = ar, n
        vrng = np.random.default_rng(int(var.get("seed", 0)))
        gsig, osig = float(var.get("gain_sigma", 0.0)), float(var.get("offset_sigma", 0.0))
        self.use_var = gsig > 0 or osig > 0
        self.gain, self.offset = np.ones(n, np.float32), np.zeros(n, np.float32)
        if self.use_var:
            self.gain = (1.0 + gsig * vrng.standard_normal(n)).astype(np.float32)
            self.offset = (osig * vrng.standard_normal(n)).astype(np.float32)
        self.kind = {"perfect": kernels.RNG_PERFECT, "xorshift32": kernels.RNG_XORSHIFT,
                     "galois": kernels.RNG_GALOIS, "analog": kernels.RNG_ANALOG}[rng["kind"]]
        self.width = int(rng.get("width", 32))
        self.taps = np.uint64(GALOIS_TAPS.get(self.width, 0))
        brng = np.random.default_rng(int(rng.get("seed", 0)) + 7919)
        bias = float(rng.get("bias", 0.0)) + float(rng.get("bias_sigma", 0.0)) * brng.standard_normal(n)
        self.analog = self.kind == kernels.RNG_ANALOG
        self.bias_q = (np.rint(bias * (1 << ar["lut_bits"])).astype(np.int64) if self.analog
                       else np.zeros(n, np.int64))
        self.rho, self.hold_threshold = 0.0, np.uint64(0)
        if self.analog:
            dt = cycles / fabric.clock["frequency_hz"]       # time between two updates of one p-bit
            tau = float(rng.get("decorrelation_time_s", 0.0))
            self.rho = math.exp(-dt / tau) if tau > 0 else 0.0
            self.hold_threshold = np.uint64(min(int(self.rho * 2**32), 2**32 - 1))

    def kernel(self, ir, tiles, betas, seeds, chains: int):
        """(the kernel's arguments from the weights to the RNG states, as a dict; what sample() reports
        of the quantisation) for a run of ir's weights at betas (one per sweep), seeded by seeds."""
        ar, n, C = self.ar, self.n, chains
        J = ir.J
        qz = quantize(ir, ar)
        largest = int(input_bounds(qz, J).max(initial=0))     # the window's and the float type's bound
        window = input_window(qz, J, largest)
        shift = lut_shift(window, ar["lut_size"])
        uniq, table_of_sweep = np.unique(betas, return_inverse=True)
        tables = np.stack([activation_table(qz, float(b), ar["lut_size"], ar["lut_bits"], shift, window)
                           for b in uniq]).astype(np.uint32)
        pstate = np.zeros((1, 1), np.uint32)
        if self.kind in (kernels.RNG_XORSHIFT, kernels.RNG_GALOIS):      # 32-bit states: half the memory traffic
            keep = (1 << min(self.width, 32)) - 1 if self.kind == kernels.RNG_GALOIS else 0xFFFFFFFF
            pstate = pbit_rng_states(seeds[2], n, C, keep)
        hold = np.zeros((1, 1), np.uint64)
        if self.analog:
            hold = np.random.default_rng(int(seeds[3])).integers(0, 1 << ar["lut_bits"], size=(n, C), dtype=np.uint64)
        # the integer arithmetic runs in float32 when it is exact there: every partial sum, and the table
        # offset v + window (up to twice the largest input), an integer below 2^24; else in float64
        ftype = np.float32 if largest < 2**23 else np.float64
        rows, tiling = tiles.weights(qz.Jq.astype(ftype), ftype)
        args = dict(tiling=tiling, rows=rows, hq=qz.hq.astype(ftype), tables=tables,
                    table_of_sweep=table_of_sweep.astype(np.int64), window=np.int32(window), shift=np.int32(shift),
                    acc_max=np.int32(qz.acc_max), pstate=pstate, hold=hold)
        extra = {"quantization": {"lsb": qz.lsb, "weight_bits": ar["weight_bits"], "bias_bits": ar["bias_bits"],
                                  "clipped_weights": qz.clipped_weights, "clipped_biases": qz.clipped_biases,
                                  "input_window": window, "lut_shift": shift}}
        if self.analog:
            extra["rng_correlation"] = self.rho
        return args, extra

    def drive(self, order, ticks, q, k: dict, s0, s1, S, snapshot, a: int, b: int, burn_in: int, thin: int, record,
              kept: int, groups, native: bool = False) -> int:
        """Sweeps a..b-1 through the kernel with a run's arguments k (from kernel()); the kept count."""
        return kernels.drive_fixed(order, k["tiling"], ticks, q, *k["rows"], k["hq"], k["tables"], k["table_of_sweep"],
                                   k["window"], k["shift"], k["acc_max"], self.ar["lut_bits"], self.use_var, self.gain,
                                   self.offset, self.bias_q, self.kind, s0, s1, k["pstate"], self.taps, self.width,
                                   k["hold"], self.hold_threshold, S, snapshot, a, b, burn_in, thin, record, kept,
                                   groups, native)


def update_order(ir, clamp_index) -> tuple:
    """(free mask, the free spins colour by colour, each colour's bounds in that list)."""
    n = ir.num_spins
    free = np.ones(n, dtype=bool)
    free[clamp_index] = False
    order = np.lexsort((np.arange(n), ir.colors))
    order = order[free[order]].astype(np.int64)
    block_ptr = np.r_[0, np.cumsum(np.bincount(ir.colors[order], minlength=ir.num_colors))].astype(np.int64)
    return free, order, block_ptr


def clocking(fabric, ir) -> tuple:
    """(update probability per tick, ticks per sweep (0: synchronous), clock cycles per sweep)."""
    clock = fabric.clock
    if clock["mode"] == "async":
        q = float(clock.get("update_probability", 0.1))
        ticks = max(1, int(round(1.0 / q)))
        return q, ticks, ticks
    return 1.0, 0, max(ir.num_colors, 1)


class FabricRunner(Runner):
    """Runs on one fabric with the update order, neighbour rows, tiles, buffers and (fixed point) the
    devices built once; each run writes the weights (quantised, on a fixed-point fabric), loads the
    start state and clamps, seeds the RNGs as sample() does — the same samples — and calls the kernel."""

    def __init__(self, backend, ir, chains, clamp_index, fabric, threads):
        super().__init__(backend, ir, chains, clamp_index, {})
        from ..reference import clamped_union
        check_and_place(ir, fabric)
        _, self.order, block_ptr = update_order(ir, clamped_union(ir, clamp_index))
        self.q, self.ticks, self.cycles = clocking(fabric, ir)
        self.fabric, self.edges = fabric, int(np.diff(ir.J.indptr)[self.order].sum())
        self.tiles = block_tiles(ir.J, self.order, block_ptr, synchronous=self.ticks == 0)
        self.fixed = None if fabric.exact else FixedPoint(fabric, ir.num_spins, self.cycles)
        if self.fixed is None:
            self.weight_buffers = tuple(np.zeros(k, np.float32) for k in self.tiles.sizes)
            self.kb = kbody_table(ir)
        self.groups = chain_groups(self.chains, threads)
        self.S = np.empty((ir.num_spins, self.chains), np.int8)
        self.snapshot = np.empty_like(self.S)

    def run(self, h, J_data, clamp_value, initial, sweeps, burn_in, thin, beta, seed):
        S, C, n = self.S, self.chains, self.ir.num_spins
        kernels.load_state(S, np.asarray(initial, dtype=np.int8), self.ir.clamp_index, self.ir.clamp_value,
                           self.clamp_index, np.asarray(clamp_value, dtype=np.int8))
        seeds = seed_words(seed, 4)
        s0, s1 = chain_streams(seeds[1], C)
        total = burn_in + sweeps
        record = np.empty((sweeps // thin, n, C), dtype=np.int8)
        extra = {}
        if self.fixed is None:
            rows, tiling = self.tiles.weights(np.asarray(J_data), np.float32, self.weight_buffers)
            kernels.drive_exact(self.order, tiling, self.ticks, self.q, *rows,
                                np.asarray(h, dtype=np.float32), per_sweep(beta, total, np.float32), s0, s1, S,
                                self.snapshot, 0, total, burn_in, thin, record, 0, *self.kb, self.groups, True)
        else:
            k, extra = self.fixed.kernel(self.ir.with_arrays(h, J_data), self.tiles, per_sweep(beta, total), seeds, C)
            self.fixed.drive(self.order, self.ticks, self.q, k, s0, s1, S, self.snapshot, 0, total, burn_in, thin,
                             record, 0, self.groups, True)
        self.last_info = {**ledger(self.fabric, len(self.order), self.edges, self.cycles, total, sweeps // thin, C),
                          **extra}
        return record, len(self.order) * C * total


def kbody_table(ir):
    """Per spin, its k-body factors: (ptr (n+1,), coefficient, other members padded with −1)."""
    n = ir.num_spins
    width = max([k - 1 for k in ir.kbody] + [1])
    targets, coeffs, others = [], [], []
    for k, (idx, coeff) in ir.kbody.items():
        for p in range(k):
            targets.append(idx[:, p])
            coeffs.append(coeff)
            rest = np.delete(idx, p, axis=1)
            others.append(np.pad(rest, ((0, 0), (0, width - rest.shape[1])), constant_values=-1))
    if not targets:
        return np.zeros(n + 1, np.int64), np.zeros(0, np.float32), np.full((0, width), -1, np.int64)
    t = np.concatenate(targets)
    order = np.argsort(t, kind="stable")
    ptr = np.r_[0, np.cumsum(np.bincount(t, minlength=n))].astype(np.int64)
    return ptr, np.concatenate(coeffs)[order].astype(np.float32), np.concatenate(others)[order].astype(np.int64)


def quantized_ir(ir, fabric):
    """The IR the fixed-point fabric realises (couplings and fields rounded to its LSB), for exact comparisons."""
    from dataclasses import replace

    from ...ir import _freeze_csr
    fabric = load_fabric(fabric)
    if fabric.exact:
        return ir
    qz = quantize(ir, fabric.arithmetic)
    return replace(ir, J=_freeze_csr(qz.model_J(ir.J)), h=(qz.hq * qz.lsb).astype(np.float64))


__all__ = ["EmulatorBackend", "fabrics", "quantized_ir", "load_fabric"]
