"""Golden IR text, save/load round trips, malformed files, colourings, the weights' affine map."""
import os
import zipfile
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

import pbitlang as pb
from pbitlang.colour import colour, is_proper

GOLDEN = Path(__file__).parent / "golden"
UPDATE = os.environ.get("UPDATE_GOLDEN") == "1"


def golden_programs():
    return sorted(GOLDEN.glob("*.pb"))


@pytest.mark.parametrize("path", golden_programs(), ids=lambda p: p.stem)
def test_golden(path):
    """NAME.pb compiles to NAME.ir (canonical text) or fails with NAME.err (rendered error)."""
    try:
        actual, suffix = pb.compile(path).ir.to_text(), ".ir"
    except pb.PbitError as err:
        actual, suffix = str(err).replace(str(path), path.name) + "\n", ".err"
    expected = path.with_suffix(suffix)
    if UPDATE:
        for other in (".ir", ".err"):
            path.with_suffix(other).unlink(missing_ok=True)
        expected.write_text(actual)
    assert expected.exists(), f"no golden {expected.name}: run UPDATE_GOLDEN=1 pytest tests/test_ir.py"
    assert actual == expected.read_text()


def test_ir_invariants_on_examples():
    for path in sorted((Path(__file__).parent.parent / "examples").glob("*.pb")):
        ir = pb.compile(path).ir
        J = ir.J
        assert isinstance(J, (sp.csr_array, sp.csr_matrix))
        assert abs(J - J.T).max() == 0 if J.nnz else True
        assert np.all(J.diagonal() == 0)
        assert is_proper(J, ir.colors)
        with pytest.raises(ValueError):
            ir.h[0] = 1.0


@pytest.mark.parametrize("name", ["ring", "onehot", "kbody", "weights", "grid"])
def test_save_load_round_trips_exactly(tmp_path, name):
    prog = pb.compile(GOLDEN / f"{name}.pb")
    prog.save(tmp_path / "m.pbir")
    back = pb.load(tmp_path / "m.pbir")
    assert back.ir.to_text() == prog.ir.to_text()
    states = np.random.default_rng(0).choice(np.array([-1, 1], np.int8), size=(20, prog.ir.num_spins))
    np.testing.assert_array_equal(back.ir.energy(states), prog.ir.energy(states))
    for k, v in prog.ir.observe(states).items():
        np.testing.assert_array_equal(back.ir.observe(states)[k], v)
    assert back.ir.sources == prog.ir.sources
    assert pb.compile(str(tmp_path / "m.pbir")).ir.to_text() == prog.ir.to_text()


def test_malformed_ir_files_are_clear_errors(tmp_path):
    good = tmp_path / "good.pbir"
    pb.compile(GOLDEN / "ring.pb").save(good)
    data = good.read_bytes()
    (tmp_path / "trunc.pbir").write_bytes(data[: len(data) // 2])
    (tmp_path / "text.pbir").write_text("hello")
    np.savez(tmp_path / "foreign.npz", x=np.arange(3))
    with zipfile.ZipFile(good) as z, zipfile.ZipFile(tmp_path / "noh.pbir", "w") as out:
        for item in z.namelist():
            if item != "h.npy":
                out.writestr(item, z.read(item))
    for name in ("trunc.pbir", "text.pbir", "foreign.npz", "noh.pbir", "missing.pbir"):
        with pytest.raises(pb.IRFileError):
            pb.load(tmp_path / name)


def test_future_format_version_is_refused(tmp_path):
    path = tmp_path / "m.pbir"
    pb.compile(GOLDEN / "ring.pb").save(path)
    with np.load(path) as z:
        arrays = {k: z[k] for k in z.files}
    meta = bytes(arrays["meta.json"]).decode().replace('"version": 1', '"version": 99')
    arrays["meta.json"] = np.frombuffer(meta.encode(), dtype=np.uint8)
    with open(path, "wb") as fh:
        np.savez(fh, **arrays)
    with pytest.raises(pb.IRFileError, match="version 99"):
        pb.load(path)


@pytest.mark.parametrize("seed", range(12))
def test_colouring_is_proper_on_random_graphs(seed):
    rng = np.random.default_rng(seed)
    n = int(rng.integers(1, 300))
    m = int(rng.integers(0, 4 * n))
    r, c = rng.integers(0, n, m), rng.integers(0, n, m)
    keep = r != c
    g = sp.csr_array((np.ones(2 * keep.sum()), (np.r_[r[keep], c[keep]], np.r_[c[keep], r[keep]])), shape=(n, n))
    colors = colour(g)
    assert is_proper(g, colors)
    degree = np.diff(g.indptr).max() if g.nnz else 0
    assert colors.max() + 1 <= degree + 1          # greedy bound


def test_bipartite_graphs_get_two_colours():
    for L in (2, 4, 6, 16):
        ir = pb.compile(f"param L: int = {L}; spin s[L, L, L] periodic;"
                        "energy s[x,y,z]*(s[x+1,y,z] + s[x,y+1,z] + s[x,y,z+1]) for x in 0..L, y in 0..L, z in 0..L;").ir
        assert ir.num_colors == 2
    odd = pb.compile("spin s[5] periodic; energy s[i] * s[i + 1] for i in 0..5;").ir
    assert odd.num_colors == 3


def test_large_non_bipartite_graph_uses_the_parallel_greedy():
    L = 151                                  # odd torus, 22,801 spins > DSatur's size
    ir = pb.compile(f"param L: int = {L}; spin s[L, L] periodic;"
                    "energy -s[i, j] * (s[i + 1, j] + s[i, j + 1]) for i in 0..L, j in 0..L;").ir
    assert is_proper(ir.J, ir.colors) and ir.num_colors <= 5


def test_weights_affine_map_is_exact():
    prog = pb.compile(GOLDEN / "weights.pb")
    ir = prog.ir
    theta = np.random.default_rng(1).normal(size=ir.weights.num_weights)
    moved = ir.with_weights(theta)
    W = theta[:6].reshape(3, 2)
    a = theta[6:]
    states = np.random.default_rng(2).choice(np.array([-1, 1], np.int8), size=(10, ir.num_spins))
    v, z = states[:, :3], states[:, 3:]
    expected = -np.einsum("bi,ij,bj->b", v, W, z) - v @ a
    np.testing.assert_allclose(moved.energy(states), expected, atol=1e-12)
    # the initial weights a = [0.5, 0, -0.5] are applied at compile time
    np.testing.assert_allclose(ir.energy(states), -v @ np.array([0.5, 0, -0.5]), atol=1e-12)
    assert ir.J.nnz == 12                  # structural zeros keep the trainable pairs


def test_the_ir_is_immutable_in_fact():
    """Every array is read-only and every dict a read-only view, also in IRs derived from it."""
    from dataclasses import FrozenInstanceError, replace

    ir = pb.compile("spin s[3]; energy -s[0]*s[1] + 0.5*s[0]*s[1]*s[2] - 0.2*s[2];").ir
    derived = [ir, ir.with_arrays(np.ones(3), np.ones(ir.J.nnz)), replace(ir, h=np.zeros(3))]
    for d in derived:
        for a in (d.h, d.colors, d.clamp_index, d.clamp_value, d.J.data, d.J.indices, d.J.indptr,
                  *[x for pair in d.kbody.values() for x in pair]):
            with pytest.raises(ValueError):
                a[...] = 0
        for mapping in (d.layout, d.kbody, d.observables):
            with pytest.raises(TypeError):
                mapping["x"] = 1
    with pytest.raises(FrozenInstanceError):
        ir.num_spins = 4


def test_colour_blocks_order_the_spins_colour_by_colour():
    from pbitlang.colour import ColourBlocks
    colors = np.array([1, 0, 2, 0, 1, 1])
    blocks = ColourBlocks(colors, spins=[0, 1, 2, 4, 5])          # spin 3 held
    assert blocks.order.tolist() == [1, 0, 4, 5, 2] and blocks.ptr.tolist() == [0, 1, 4, 5]
    assert [b.tolist() for b in blocks] == [[1], [0, 4, 5], [2]]
    assert [b.tolist() for b in ColourBlocks(colors, spins=[0, 2], num_colors=3)] == [[0], [2]]
