"""The reference sampler's block plan: fields through dense tiles and the sparse rest equal the
model's, and a plan made mostly of tiles samples the exact distribution."""
import importlib

import numpy as np
import pytest

import pbitlang as pb
from pbitlang.testing import compare_with_exact, random_model_source

reference = importlib.import_module("pbitlang.backends.reference")
train = importlib.import_module("pbitlang.dtm.train")

RBM = """
spin v[7];
spin z[5];
weight W[7, 5] = normal(0, 0.6, seed = 3);
energy {
    -W[i, j] * v[i] * z[j]   for i in 0..7, j in 0..5;
    0.3 * v[i] * v[i + 1]    for i in 0..6;
    -0.2 * z[j]              for j in 0..5;
}
"""


def _fields_agree(ir, clamp_index, beta, seed=0):
    """Every block's local fields against β(J X + h) computed directly; returns the plan."""
    plan = reference.ColourPlan(ir, clamp_index)
    rng = np.random.default_rng(seed)
    X = (2 * rng.integers(0, 2, size=(ir.num_spins, 8)) - 1).astype(np.float32)
    assert plan.fold(beta, X) is None
    Jp = ir.J[plan.perm][:, plan.perm]
    direct = beta * (Jp @ X.astype(np.float64) + ir.h[plan.perm][:, None])
    for blk in plan.blocks:
        np.testing.assert_allclose(reference.local_fields(blk, X), direct[blk.a:blk.b], rtol=1e-5, atol=1e-5)
    return plan


def test_stacked_rbm_steps_become_dense_tiles():
    prog = pb.compile("examples/digits_dtm.pb")
    ir = prog.ir
    from pbitlang.dtm.chain import chain_spec
    spec = chain_spec(ir)
    stack = train.StackedSteps(ir, spec, spec.steps)
    model = stack.template.with_arrays(np.random.default_rng(1).normal(size=stack.template.num_spins),
                                       np.random.default_rng(2).normal(size=stack.template.J.nnz))
    d = len(spec.data_index)
    copies = np.concatenate([o + ir.num_spins + np.arange(d) for o in stack.offsets])
    plan = _fields_agree(model, copies, beta=0.7)
    # per step: visible × hidden and hidden × visible, the steps' tiles stacked into one product per block
    assert sorted(t.D.shape for blk in plan.blocks for t in blk.tiles) == [(spec.steps, 32, 64), (spec.steps, 64, 32)]
    # the only other couplings are to the clamped x_t: part of the constant field, so the tiles are all
    assert all(blk.tiles_cover and blk.sparse.nnz == 0 for blk in plan.blocks)
    assert sum(blk.fixed.nnz for blk in plan.blocks) == len(copies)
    # the positive phase clamps the data too: each step's hidden units see it through a clamped tile
    data = np.concatenate([o + spec.data_index for o in stack.offsets])
    plan = _fields_agree(model, np.r_[data, copies], beta=0.7)
    assert [t.D.shape for blk in plan.blocks for t in blk.fixed_tiles] == [(spec.steps, 32, 64)]
    assert sum(blk.fixed.nnz for blk in plan.blocks) == 0 and not any(blk.tiles for blk in plan.blocks)


@pytest.mark.parametrize("seed,compiled", [(1, True), (4, True), (1, False)])
def test_fields_of_sparse_models_are_unchanged(monkeypatch, seed, compiled):
    """Through scipy's compiled kernel into H, or (where it is missing or changed) the public product."""
    if not compiled:
        monkeypatch.setattr(reference, "_CSR_MATVECS", None)
    ir = pb.compile(random_model_source(seed, n=12, kbody=False)).ir
    plan = _fields_agree(ir, ir.clamp_index, beta=1.3)
    assert not any(blk.tiles for blk in plan.blocks)


def test_a_tiled_plan_samples_the_exact_distribution(monkeypatch):
    monkeypatch.setattr(reference, "TILE_AREA", 1)
    prog = pb.compile(RBM)
    plan = _fields_agree(prog.ir, prog.ir.clamp_index, beta=1.0)
    # three colours (the chain of v's needs two): each v colour × z, and z × all v; the chain stays sparse
    assert sum(len(blk.tiles) for blk in plan.blocks) == 3 and any(blk.sparse.nnz for blk in plan.blocks)
    res = prog.sample("reference", chains=16, sweeps=4000, seed=5)
    tvd, tol = compare_with_exact(res)
    assert tvd < tol


def test_beta_changes_refold_the_weights():
    ir = pb.compile(RBM).ir
    plan = reference.ColourPlan(ir, ir.clamp_index)
    X = np.ones((ir.num_spins, 2), np.float32)
    plan.fold(2.0, X)
    blk = plan.blocks[0]
    first = blk.sparse.data.copy() if blk.sparse.nnz else blk.tiles[0].D.copy()
    plan.fold(0.5, X)
    second = blk.sparse.data.copy() if blk.sparse.nnz else blk.tiles[0].D.copy()
    np.testing.assert_allclose(second * 4, first)
    assert plan.fold(np.array([[1.0, 2.0]]), X) is not None and plan.beta == 1.0


def test_plans_of_one_structure_share_the_layout_not_the_weights():
    """Generation builds a plan per step of one structure: the layout comes from the cache, and each
    plan's weights stay its own."""
    base = pb.compile(RBM).ir
    rng = np.random.default_rng(7)
    irs = [base.with_arrays(rng.normal(size=base.num_spins), rng.normal(size=base.J.nnz)) for _ in range(2)]
    plans = [reference.ColourPlan(ir, np.array([0, 3])) for ir in irs]
    assert reference.plan_layout(irs[0], np.array([3, 0, 3])) is reference.plan_layout(irs[1], np.array([0, 3]))
    X = (2 * rng.integers(0, 2, size=(base.num_spins, 5)) - 1).astype(np.float32)
    for plan in plans:
        plan.fold(0.9, X)
    for ir, plan in zip(irs, plans):
        Jp = ir.J[plan.perm][:, plan.perm]
        direct = 0.9 * (Jp @ X.astype(np.float64) + ir.h[plan.perm][:, None])
        for blk in plan.blocks:
            np.testing.assert_allclose(reference.local_fields(blk, X), direct[blk.a:blk.b], rtol=1e-5, atol=1e-5)
