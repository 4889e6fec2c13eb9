"""Training data: scikit-learn's 8×8 digits (binarised), and equilibrium samples from the reference sampler."""
from __future__ import annotations

import numpy as np

from ..errors import PbitError


def binarized_digits(threshold: float = 8.0):
    """(bits (1797, 64) uint8, labels (1797,)): pixel > threshold of 0..16 → 1.  Needs scikit-learn."""
    try:
        from sklearn.datasets import load_digits
    except ImportError:
        raise PbitError("the digits data needs scikit-learn: pip install 'pbitlang[digits]'") from None
    d = load_digits()
    return (d.data > threshold).astype(np.uint8), d.target.astype(np.int64)


def equilibrium_samples(program, variable: str, num: int, sweeps_between: int = 10, burn_in: int = 500,
                        chains: int = 16, seed: int = 0, backend: str = "cpu") -> np.ndarray:
    """`num` configurations of `variable` from a sampler (the cpu backend by default), flattened to (num, size)."""
    kept = -(-num // chains)
    res = program.sample(backend, chains=chains, sweeps=kept * sweeps_between, burn_in=burn_in,
                         thin=sweeps_between, seed=seed)
    v = res.variables(variable)
    return v.reshape(len(v), -1)[:num]
