"""A damaged .pbir file is refused with an IRFileError before compiled code sees it: indices out of
range, a broken CSR, an improper colouring, bad clamps, non-finite weights, deep JSON."""
import json

import numpy as np
import pytest

import pbitlang as pb


@pytest.fixture
def good(tmp_path):
    prog = pb.compile("spin s[3, 3]; energy { -s[i, j] * s[i + 1, j] for i in 0..2, j in 0..3; "
                      "s[0, 0] * s[1, 1] * s[2, 2]; } given s[0, 1] = 1; observe m = sum(i in 0..3) s[i, i] / 3;")
    path = tmp_path / "good.pbir"
    prog.save(path)
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k].copy() for k in z.files}


def _damaged(tmp_path, arrays, **changes):
    a = dict(arrays)
    a.update(changes)
    path = tmp_path / "bad.pbir"
    with open(path, "wb") as fh:
        np.savez(fh, **a)
    return path


def _meta(arrays) -> dict:
    return json.loads(arrays["meta.json"].tobytes().decode())


def _bytes(meta) -> np.ndarray:
    return np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)


DAMAGE = {
    "an index out of range": lambda a: {"J_indices": np.where(a["J_indices"] == 0, 10**6, a["J_indices"])},
    "a negative index": lambda a: {"J_indices": a["J_indices"] - 5},
    "a broken index pointer": lambda a: {"J_indptr": a["J_indptr"][::-1].copy()},
    "an improper colouring": lambda a: {"colors": np.zeros_like(a["colors"])},
    "a clamp of 3": lambda a: {"clamp_value": np.full_like(a["clamp_value"], 3)},
    "a clamp out of range": lambda a: {"clamp_index": a["clamp_index"] + 100},
    "an infinite field": lambda a: {"h": np.full_like(a["h"], np.inf)},
    "a float index array": lambda a: {"J_indices": a["J_indices"].astype(np.float64)},
    "k-body indices out of range": lambda a: {"kbody/3/idx": a["kbody/3/idx"] + 50},
    "an observable reading past the spins": lambda a: {k: v + 99 for k, v in a.items() if k.endswith("/idx")
                                                       and k.startswith("obs/")},
    "sizes that disagree": lambda a: {"h": a["h"][:3]},
    "a huge declared size": lambda a: {"meta.json": _bytes({**_meta(a), "num_spins": 10**15})},
    "a negative declared size": lambda a: {"meta.json": _bytes({**_meta(a), "num_spins": -4})},
    "JSON nested 100,000 deep": lambda a: {"meta.json": np.frombuffer(b"[" * 100_000 + b"]" * 100_000, np.uint8)},
    "a variable outside the spins": lambda a: {"meta.json": _bytes({**_meta(a), "layout": {"s": [5, [3, 3], "spin"]}})},
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_a_damaged_pbir_is_refused(damage, good, tmp_path):
    path = _damaged(tmp_path, good, **DAMAGE[damage](good))
    with pytest.raises(pb.IRFileError):
        pb.load(path)


def test_the_undamaged_file_loads_and_samples(good, tmp_path):
    """The negative control: the same file, rewritten unchanged, loads and samples."""
    prog = pb.load(_damaged(tmp_path, good))
    assert prog.sample(chains=2, sweeps=5).samples.shape == (10, 9)
