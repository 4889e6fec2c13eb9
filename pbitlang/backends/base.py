"""The backend protocol: Backend.prepare() -> Kernel, Kernel.run() -> Draws, and the driver (driver.py).

A backend implements prepare(): everything that depends only on a model's structure (colour
blocks, update order, padded rows, tiles, fabric placement, buffers) is done there, once.  The
Kernel it returns runs the chains for given weights as often as they change.  sample() is written
once, here, for every backend: validate the options -> prepare -> drive -> SampleResult; training,
generation and tempering hold a Kernel the same way."""
from __future__ import annotations

import threading
import time
from abc import ABC, abstractmethod

import numpy as np

from ..errors import BackendError, OptionError
from .driver import Draws, Record, drive, start
from .runspec import COMMON_OPTIONS, RunSpec, initial_state, run_info, run_spec


def ensure_valid(ir) -> None:
    """Check an IR once (pbitlang.ir.validate) before compiled code reads it: what the compiler made
    is valid by construction and marked so; an IR built or changed by hand is checked here."""
    if not getattr(ir, "_valid", False):
        from ..ir import validate
        try:
            validate(ir)
        except ValueError as err:
            raise BackendError(f"this model cannot be sampled: {err}") from None
        object.__setattr__(ir, "_valid", True)


def _weights(name: str, values, size: int) -> np.ndarray:
    a = np.asarray(values, dtype=np.float64)
    if a.shape != (size,) or not np.all(np.isfinite(a)):
        raise ValueError(f"{name} must be {size} finite numbers, got shape {a.shape}")
    return a


class Kernel(ABC):
    """A sampler bound to one model structure: the IR's coupling pattern, colours and k-body members,
    `chains` columns, and the spins `clamp_index` held at values each run brings (the program's own
    clamps are applied too).  Built once by Backend.prepare; run() as often as weights change.

    State: (n, chains) int8 ±1, C-contiguous, updated in place: chains carried from run to run need
    no copies.  Column c is chain first_chain + c: its random streams come from (seed, that index)
    alone, so a run of some chains of a larger one draws exactly what the larger run draws there."""

    first_chain = 0

    def __init__(self, ir, chains: int, clamp_index=()):
        ensure_valid(ir)
        self.ir, self.chains = ir, int(chains)
        self.clamp_index = np.asarray(clamp_index, dtype=np.int64).ravel()
        if self.chains < 1 or self.clamp_index.size and (self.clamp_index.min() < 0
                                                          or self.clamp_index.max() >= ir.num_spins):
            raise BackendError("a kernel needs chains ≥ 1 and clamped spins inside the model")
        held = np.zeros(ir.num_spins, dtype=bool)
        held[ir.clamp_index] = True
        held[self.clamp_index] = True
        self.free = np.flatnonzero(~held)               # the spins a sweep updates
        self.h, self.J_data = ir.h, ir.J.data
        self.version = 0                                # counts the weights loaded: what is built from them says which
        self._model, self._model_version = None, -1

    @property
    def chain_ids(self) -> np.ndarray:
        return np.arange(self.first_chain, self.first_chain + self.chains)

    @abstractmethod
    def run(self, h, J_data, clamp_values, state, betas, seed, record: Record | None = None) -> Draws:
        """One run with these weights: h (n,) and J_data (aligned with ir.J.data), or None to keep the
        last run's (the program's before the first run); clamp_values (chains, k) for clamp_index,
        or None to leave the clamped rows as they are; betas one per sweep (sweeps,) or one per sweep
        and chain (sweeps, chains) — parallel tempering's ladder; seed an int to (re)start the random
        streams, or None to continue them (a run split into pieces draws what one run would);
        record, if given, receives the kept states."""

    def load(self, h, J_data, clamp_values, state) -> None:
        """The start of every run: take new weights (None keeps the last), write the clamps."""
        if h is not None or J_data is not None:
            self.h = self.h if h is None else _weights("h", h, self.ir.num_spins)
            self.J_data = self.J_data if J_data is None else _weights("J_data", J_data, self.ir.J.nnz)
            self.version += 1
        if state.dtype != np.int8 or state.shape != (self.ir.num_spins, self.chains) or not state.flags.c_contiguous:
            raise ValueError(f"the state must be C-contiguous int8 ({self.ir.num_spins}, {self.chains})")
        if len(self.ir.clamp_index):
            state[self.ir.clamp_index] = self.ir.clamp_value[:, None]
        if clamp_values is not None and len(self.clamp_index):
            values = np.asarray(clamp_values)
            if values.shape != (self.chains, len(self.clamp_index)) or not np.all(np.abs(values) == 1):
                raise ValueError(f"clamp values must be ±1 of shape ({self.chains}, {len(self.clamp_index)})")
            state[self.clamp_index] = values.astype(np.int8).T

    def energies(self, state: np.ndarray) -> np.ndarray:
        """E of every chain (column) of state under the last run's weights, float64 (chains,)."""
        from .. import measure
        return measure.energies(self.model(), np.asarray(state)[None])[0]

    def weighted(self):
        """The IR at the last run's weights."""
        if self.h is self.ir.h and self.J_data is self.ir.J.data:
            return self.ir
        return self.ir.with_arrays(self.h, self.J_data)

    def realised(self, ir):
        """The model this backend samples when asked for ir (a fixed-point fabric: its quantised one)."""
        return ir

    def model(self):
        """The model the last run sampled, made once per set of weights."""
        if self._model_version != self.version:
            self._model, self._model_version = self.realised(self.weighted()), self.version
        return self._model

    def updates(self, sweeps: int) -> int:
        return len(self.free) * self.chains * int(sweeps)

    def report(self, sweeps: int, kept: int) -> dict:
        """What a run of this many sweeps and kept states costs beyond its samples (the emulator's
        energy and latency ledger); nothing for most backends."""
        return {}


class Backend(ABC):
    """A sampler of p(s) ∝ exp(−βE(s)) for an IR.  A backend implements prepare(); sample() is
    the same for all (validate → prepare → drive → SampleResult), and so are tempering, training
    and generation, which hold the Kernel prepare() returns."""
    name: str = "?"
    description: str = ""
    options: dict = COMMON_OPTIONS
    kernel_options: tuple = ()              # options of this backend that go to prepare()

    def supports(self, ir) -> tuple:
        """(True, "") or (False, why)."""
        return True, ""

    @abstractmethod
    def prepare(self, ir, chains: int, clamp_index=(), **options) -> Kernel:
        """A Kernel for ir's structure: everything that does not depend on the weights is done here."""

    def kernel(self, ir, chains: int, clamp_index=(), **options) -> Kernel:
        """prepare() for callers that pass a user's options on (training, generation): names it does
        not take are an OptionError, not a TypeError."""
        unknown = sorted(set(options) - set(self.kernel_options))
        if unknown:
            raise OptionError(f"backend '{self.name}' has no kernel option {', '.join(repr(u) for u in unknown)} "
                              f"(accepted: {', '.join(self.kernel_options) or 'none'})")
        return self.prepare(ir, chains, clamp_index, **options)

    def sample(self, ir, **options):
        """Draw samples; returns a SampleResult (see COMMON_OPTIONS and the backend's options)."""
        from ..results import SampleResult
        options = dict(options)
        tempering = options.pop("tempering", None)
        own = {k: options.pop(k) for k in self.kernel_options if k in options}
        spec = self.validate(ir, options)
        if tempering:
            from .tempering import sample_tempering
            return sample_tempering(self, ir, spec, tempering, own)
        t0 = time.perf_counter()
        kernel = self.prepare(ir, spec.chains, spec.clamp_index, **own)
        kernel.first_chain = spec.first_chain
        state = initial_state(ir, spec)
        record = np.empty((spec.kept, ir.num_spins, spec.chains), dtype=np.int8)
        t1 = start(kernel, ir.h, ir.J.data, spec.clamp_value, state, spec.betas, spec.seed)
        kept, done, interrupted, extra = drive(kernel, state, spec.betas, spec.burn_in, spec.thin, record,
                                               spec.progress)
        t2 = time.perf_counter()
        info = run_info(self.name, spec, ir, kernel, done, spec.chains, t0, t1, t2, interrupted,
                        **{**extra, **kernel.report(done, kept)})
        return SampleResult.from_native(ir, record[:kept], info)

    def validate(self, ir, options: dict) -> RunSpec:
        accepted = set(self.options) - set(self.kernel_options) - {"tempering"}
        unknown = sorted(set(options) - accepted)
        if unknown:
            raise OptionError(f"backend '{self.name}' has no option {', '.join(repr(u) for u in unknown)} "
                              f"(accepted: {', '.join(sorted(self.options))})")
        ok, why = self.supports(ir)
        if not ok:
            raise BackendError(f"backend '{self.name}' cannot run this program: {why}")
        return run_spec(ir, options)


_BLAS = []                 # the threadpoolctl controller, made once: finding the libraries reads files


class _BlasLimit:
    """One BLAS thread while held.  Only the outermost hold sets and restores the limit: a kernel run
    inside training (which holds one around all its runs) then costs nothing here."""
    lock = threading.Lock()
    depth = 0

    def __init__(self, controller):
        with _BlasLimit.lock:
            self.limiter = controller.limit(limits=1, user_api="blas") if _BlasLimit.depth == 0 else None
            _BlasLimit.depth += 1

    def restore_original_limits(self):
        with _BlasLimit.lock:
            _BlasLimit.depth -= 1
            if self.limiter is not None:
                self.limiter.restore_original_limits()


def one_blas_thread():
    """Limit BLAS to one thread (returns the limiter, or None when threadpoolctl is missing) where small
    BLAS products alternate with a compiled sampler — training, the emulator's dense tiles: OpenBLAS's
    idle workers spin on the cores the sampler needs and slow it several times.  The controller lists
    the BLAS libraries loaded at the first call (numpy's, and scipy's, which numba's products use),
    once: finding them reads files, which costs far more than a limit."""
    try:
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    if not _BLAS:
        import scipy.linalg  # noqa: F401 - loads scipy's BLAS, so the controller finds it
        _BLAS.append(ThreadpoolController())
    return _BlasLimit(_BLAS[0])
