"""Finite precision: fixed-point weights and biases, saturating accumulation, and
the activation lookup table.

The compiler's scaling: one LSB (in energy units) for weights and biases,
chosen so that the largest |J| (or the clip quantile of |J|) is the largest
weight code 2^(bits−1) − 1; biases share the LSB with their own width.  Values
outside the range are clipped and counted (or refused, when the profile says
on_overflow = error, naming the term).  A p-bit's input is the integer
I = −(h_q + Σ J_q s) in LSBs, saturated to the accumulator; the table maps
I >> shift to P(s = +1) = σ(2β·LSB·I) in lut_bits fixed point."""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ...errors import BackendError


@dataclass
class Quantized:
    lsb: float                 # energy per integer step
    Jq: np.ndarray             # int32, aligned with ir.J.data
    hq: np.ndarray             # int32 (n,)
    acc_max: int
    clipped_weights: int
    clipped_biases: int
    weight_max: int
    bias_max: int

    def model_J(self, J):
        """The couplings the hardware realises, in energy units (for the exact comparison)."""
        import scipy.sparse as sp
        return sp.csr_array((self.Jq * self.lsb, J.indices, J.indptr), shape=J.shape)


def quantize(ir, arithmetic: dict, h=None, J_data=None) -> Quantized:
    """ir's fields and couplings in the fabric's fixed point; h, J_data: other weights on ir's
    structure (a kernel's run), without building an IR for them."""
    wb, bb, ab = arithmetic["weight_bits"], arithmetic["bias_bits"], arithmetic["acc_bits"]
    wmax, bmax, amax = 2 ** (wb - 1) - 1, 2 ** (bb - 1) - 1, 2 ** (ab - 1) - 1
    J = ir.J.data if J_data is None else np.asarray(J_data, dtype=np.float64)
    h = ir.h if h is None else np.asarray(h, dtype=np.float64)
    scale = arithmetic.get("scale", "auto")
    if scale == "auto":
        q = float(arithmetic.get("clip_quantile", 1.0))
        if not len(J):
            ref = 0.0
        else:                                       # the 1.0 quantile is the largest: no partial sort
            ref = float(np.abs(J).max()) if q == 1.0 else float(np.quantile(np.abs(J), q))
        if ref == 0.0:
            ref = float(np.abs(h).max()) * wmax / bmax if len(h) and np.abs(h).max() > 0 else 1.0
        lsb = ref / wmax
    else:
        lsb = float(scale)
    Jr = np.rint(J / lsb)
    hr = np.rint(h / lsb)
    wclip = int(np.sum(np.abs(Jr) > wmax))
    bclip = int(np.sum(np.abs(hr) > bmax))
    if arithmetic.get("on_overflow", "clip") == "error" and (wclip or bclip):
        if wclip:
            p = int(np.flatnonzero(np.abs(Jr) > wmax)[0])
            i = int(np.searchsorted(ir.J.indptr, p, "right") - 1)
            j = int(ir.J.indices[p])
            raise BackendError(f"coupling {J[p]:.6g} between {ir.spin_name(i)} and {ir.spin_name(j)} exceeds the "
                               f"fabric's range ±{wmax * lsb:.6g} ({wb}-bit weights, LSB {lsb:.6g}) at "
                               f"{ir.term_source(i, j)}")
        i = int(np.flatnonzero(np.abs(hr) > bmax)[0])
        raise BackendError(f"field {h[i]:.6g} on {ir.spin_name(i)} exceeds the fabric's bias range "
                           f"±{bmax * lsb:.6g} ({bb}-bit biases) at {ir.term_source(i)}")
    Jq = np.clip(Jr, -wmax, wmax).astype(np.int32)
    hq = np.clip(hr, -bmax, bmax).astype(np.int32)
    return Quantized(lsb, Jq, hq, amax, wclip, bclip, wmax, bmax)


def input_bounds(q: Quantized, J) -> np.ndarray:
    """Per p-bit, the largest input it can see (before saturation): Σ_j |J_q,ij| + |h_q,i|."""
    n = len(q.hq)
    row = np.zeros(n)
    nz = np.flatnonzero(np.diff(J.indptr))                    # (reduceat would misread rows with no couplings)
    if len(nz):
        row[nz] = np.add.reduceat(np.abs(q.Jq).astype(np.float64), J.indptr[nz])   # integers below 2^53: exact
    return row.astype(np.int64) + np.abs(q.hq).astype(np.int64)


def input_window(q: Quantized, J, largest: int | None = None) -> int:
    """The largest input any p-bit can see, within the accumulator (largest: input_bounds' maximum,
    when the caller has it)."""
    if not len(q.hq):
        return 1
    largest = int(input_bounds(q, J).max()) if largest is None else int(largest)
    return int(max(1, min(q.acc_max, largest)))


def lut_shift(window: int, lut_size: int) -> int:
    """Right shift that maps inputs −window..window onto the table's entries."""
    span = 2 * window + 1
    shift = 0
    while ((span - 1) >> shift) >= lut_size:
        shift += 1
    return shift


def activation_table(q: Quantized, beta: float, lut_size: int, lut_bits: int, shift: int, window: int) -> np.ndarray:
    """Thresholds T[k]: the p-bit outputs +1 when its lut_bits-bit random number r < T[k],
    k = (clip(I, ±window) + window) >> shift, so P(+1) = T[k] / 2^lut_bits ≈ σ(2β·LSB·I)
    at the entry's centre (exactly that when shift = 0, up to the table's precision)."""
    k = np.arange(lut_size, dtype=np.float64)
    centre = (k * (1 << shift) + ((1 << shift) - 1) / 2.0) - window
    with np.errstate(over="ignore"):
        p = 1.0 / (1.0 + np.exp(-2.0 * beta * q.lsb * centre))
    return np.rint(p * (1 << lut_bits)).astype(np.int64)
