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

import numpy as np

from .. import kernels
from ..base import Backend
from ..cpu import CpuKernel, beta_rows, line_aligned
from ..runspec import COMMON_OPTIONS
from .fabric import GALOIS_TAPS, builtin_fabrics, check_and_place, load_fabric
from .ledger import ledger
from .quantize import activation_table, input_bounds, input_window, lut_shift, quantize


def fabrics() -> dict:
    """name → description of the built-in fabric profiles."""
    return builtin_fabrics()


class EmulatorBackend(Backend):
    name = "emulator"
    description = "p-bit fabric emulator: fixed point, lookup-table activation, hardware RNGs, clocking, energy ledger"
    options = {**COMMON_OPTIONS,
               "fabric": f"fabric profile: a name ({', '.join(builtin_fabrics())}), a path to a .json profile, "
                         "or a dict (default 'ideal')",
               "fabric_overrides": "change profile settings, e.g. {'arithmetic': {'weight_bits': 4}}",
               "threads": "host threads sharing the chains (default 1; 'auto': all numba threads); the "
                          "samples are the same for any number"}
    kernel_options = ("fabric", "fabric_overrides", "threads")

    def prepare(self, ir, chains: int, clamp_index=(), fabric="ideal", fabric_overrides=None,
                threads=1) -> "EmulatorKernel":
        fabric = load_fabric(fabric or "ideal")
        if fabric_overrides:
            fabric = fabric.with_overrides(fabric_overrides)
        return EmulatorKernel(ir, chains, clamp_index, fabric, threads)


class EmulatorKernel(CpuKernel):
    """The cpu kernel on a fabric: its clocking (synchronous colour phases or asynchronous ticks),
    and on a fixed-point fabric its devices (FixedPoint) and the fixed-point kernel; every run
    reports the fabric's energy and latency (report())."""

    def __init__(self, ir, chains: int, clamp_index, fabric, threads):
        q, ticks, self.cycles = clocking(fabric, ir)
        super().__init__(ir, chains, clamp_index, threads, ticks, q)
        self.placement = check_and_place(ir, fabric, np.setdiff1d(np.arange(ir.num_spins), self.free))
        self.fabric, self.edges = fabric, int(np.diff(ir.J.indptr)[self.free].sum())
        self.fixed = None if fabric.exact else FixedPoint(fabric, ir.num_spins, self.cycles)

    def sweeps(self, betas, seed, fresh: bool, state, out, burn_in: int, thin: int, kept: int) -> int:
        if self.fixed is None:
            return super().sweeps(betas, seed, fresh, state, out, burn_in, thin, kept)
        fx = self.fixed
        if self._written != self.version:
            fx.weights(self.ir, self.h, self.J_data, self.tiles)
            self._written = self.version
        if fresh:
            fx.seed(0 if seed is None else seed, self.chains, self.first_chain)
        tables, table_of = fx.tables_for(beta_rows(betas, self.chains, np.float64))
        return fx.drive(self.order, self.ticks, self.q, tables, table_of, self.streams, state, self.snapshot,
                        burn_in, thin, out, kept, self.groups)

    def run_details(self) -> dict:
        return {} if self.fixed is None else dict(self.fixed.summary)

    def realised(self, ir):
        """On fixed point, the quantised model the fabric samples."""
        return quantized_model(ir, self.fabric)

    def report(self, sweeps: int, kept: int) -> dict:
        info = {"fabric": self.fabric.name, "placement": self.placement, "clock_mode": self.fabric.clock["mode"]}
        info.update(ledger(self.fabric, len(self.free), self.edges, self.cycles, sweeps, kept, self.chains))
        info.update(self.run_details())
        return info


class FixedPoint:
    """What a fixed-point fabric adds to the kernel beyond the update order and tiles.  The devices
    (gain and offset mismatch, the RNGs' kind and bias, the analog source's correlation) depend only on
    the fabric and the p-bit count and are made once; kernel() makes a run's part: the weights
    quantised (weights()), the activation tables for its βs (tables_for()) and the per-p-bit RNG
    states from its seed (seed()).  The emulator's kernel keeps one for all its runs."""

    def __init__(self, fabric, n: int, cycles: int):
        ar, rng, var = fabric.arithmetic, fabric.rng, fabric.variability
        self.ar, self.n = ar, n
        self.summary: dict = {}                               # what the last weights() reports (quantisation)
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
        self.rho, self.hold_threshold = 0.0, np.uint32(0)
        if self.analog:
            dt = cycles / fabric.clock["frequency_hz"]       # time between two updates of one p-bit
            tau = float(rng.get("decorrelation_time_s", 0.0))
            self.rho = math.exp(-dt / tau) if tau > 0 else 0.0
            self.hold_threshold = np.uint32(min(int(self.rho * 2**32), 2**32 - 1))

    def weights(self, ir, h, J_data, tiles) -> None:
        """A run's new weights h, J_data (on ir's structure) in fixed point: quantised, the input window
        and table shift, the float type, the kernels' rows and tiles; the activation tables made for
        the old weights are dropped."""
        ar, J = self.ar, ir.J
        qz = quantize(ir, ar, h, J_data)
        largest = int(input_bounds(qz, J).max(initial=0))     # the window's and the float type's bound
        window = input_window(qz, J, largest)
        shift = lut_shift(window, ar["lut_size"])
        # the integer arithmetic runs in float32 when it is exact there: every partial sum, and the table
        # offset v + window (up to twice the largest input), an integer below 2^24; else in float64
        ftype = np.float32 if largest < 2**23 else np.float64
        self.rows, self.tiling = tiles.weights(qz.Jq.astype(ftype), ftype)
        self.qz, self.hq, self.window, self.shift = qz, qz.hq.astype(ftype), window, shift
        self.table_of_beta: dict = {}                         # β → its activation table, for these weights
        self.stacked = (None, None)                           # (the βs, their tables stacked) of the last run
        self.summary = {"quantization": {"lsb": qz.lsb, "weight_bits": ar["weight_bits"], "bias_bits": ar["bias_bits"],
                                        "clipped_weights": qz.clipped_weights, "clipped_biases": qz.clipped_biases,
                                        "input_window": window, "lut_shift": shift}}
        if self.analog:
            self.summary["rng_correlation"] = self.rho

    def tables_for(self, betas: np.ndarray) -> tuple:
        """(the activation tables of the distinct βs, each sweep's and chain's table (sweeps, 1 or
        chains)), each table made once per set of weights (tempering asks for the same ladder every sweep)."""
        ar = self.ar
        uniq, which = np.unique(betas if betas.size else np.ones(1), return_inverse=True)   # no sweeps: one
        which = which.ravel()[:betas.size]                                                 # table, used by none
        if self.stacked[0] is None or not np.array_equal(self.stacked[0], uniq):
            for b in uniq.tolist():
                if b not in self.table_of_beta:
                    self.table_of_beta[b] = activation_table(self.qz, b, ar["lut_size"], ar["lut_bits"], self.shift,
                                                             self.window).astype(np.uint32)
            self.stacked = (uniq, np.stack([self.table_of_beta[b] for b in uniq.tolist()]))
        return self.stacked[1], np.ascontiguousarray(which.reshape(betas.shape), dtype=np.int64)

    def seed(self, seed, chains: int, first_chain: int = 0) -> None:
        """The per-p-bit RNG states (xorshift, Galois) and the analog sources' held values, each p-bit's
        from (seed, its chain) alone, as the chains' own streams are."""
        n = self.n
        self.pstate = np.zeros((1, 1), np.uint32)
        self.hold = np.zeros((1, 1), np.uint32)
        if self.kind in (kernels.RNG_XORSHIFT, kernels.RNG_GALOIS):      # 32-bit states: half the memory traffic
            keep = (1 << min(self.width, 32)) - 1 if self.kind == kernels.RNG_GALOIS else 0xFFFFFFFF
            words = np.empty((n, chains), np.uint64)
            kernels.chain_words(np.uint64(seed), np.uint64(3), first_chain, words)
            self.pstate = line_aligned((n, chains), np.uint32)
            np.bitwise_and(words, np.uint64(keep), out=self.pstate, casting="unsafe")
            self.pstate[self.pstate == 0] = 1                              # an LFSR must not start at zero
        if self.analog:
            words = np.empty((n, chains), np.uint64)
            kernels.chain_words(np.uint64(seed), np.uint64(4), first_chain, words)
            self.hold = line_aligned((n, chains), np.uint32)
            np.right_shift(words, np.uint64(64 - self.ar["lut_bits"]), out=self.hold, casting="unsafe")

    def drive(self, order, ticks, q, tables, table_of, streams, S, snapshot, burn_in: int, thin: int, record,
              kept: int, groups) -> int:
        """A run through the fixed-point kernel at the weights of weights(); the kept count."""
        return kernels.drive_fixed(order, self.tiling, ticks, q, *self.rows, self.hq, tables, table_of,
                                   np.int32(self.window), np.int32(self.shift), np.int32(self.qz.acc_max),
                                   self.ar["lut_bits"], self.use_var, self.gain, self.offset, self.bias_q, self.kind,
                                   streams, self.pstate, self.taps, self.width, self.hold, self.hold_threshold, S,
                                   snapshot, burn_in, thin, record, kept, groups)


def clocking(fabric, ir) -> tuple:
    """(update probability per tick, ticks per sweep (0: synchronous), clock cycles per sweep)."""
    clock = fabric.clock
    if clock["mode"] == "async":
        q = float(clock.get("update_probability", 0.1))
        ticks = max(1, int(round(1.0 / q)))
        return q, ticks, ticks
    return 1.0, 0, max(ir.num_colors, 1)


def quantized_ir(ir, fabric):
    """The IR the fixed-point fabric realises (couplings and fields rounded to its LSB), for exact comparisons."""
    return quantized_model(ir, load_fabric(fabric))


def quantized_model(ir, fabric):
    if fabric.exact:
        return ir
    qz = quantize(ir, fabric.arithmetic)
    return ir.with_arrays(qz.hq * qz.lsb, qz.model_J(ir.J).data)


__all__ = ["EmulatorBackend", "fabrics", "quantized_ir", "load_fabric"]
