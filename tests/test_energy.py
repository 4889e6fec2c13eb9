"""ir.energy against an independent direct evaluation of the source, on random programs
built from every construct of the language."""
import numpy as np
import pytest

import pbitlang as pb
from pbitlang.errors import Source
from pbitlang.grammar import parse
from pbitlang.semantics.check import check
from tests.naive import Naive, all_slack_settings, min_over, split_state

HEADER = """
param N: int = {N};
param K: int = {K};
param M: int = 3;
param c = {c};
param W: real[N, N] = normal(0, 1, seed = {seed});
param v: real[N] = uniform(-1, 1, seed = {seed});
param E: int[M, 2] = choice([{choices}], seed = {seed});
param flag: bool = true;
let half = c / 2;
spin s[N]{periodic};
spin t[2, 3];
bit b[K];
spin u;
weight U[N] = normal(0, 0.5, seed = {seed});
"""

SNIPPETS = [
    "energy W[i, j] * s[i] * s[j] for i in 0..N, j in 0..N where i < j;",
    "energy -c * s[i] * s[(i + 1) % N] for i in 0..N;",
    "energy v[i] * s[i] for i in 0..N;",
    "energy 0.5 * (sum(k in 0..K) b[k] - 1)^2;",
    "energy -half * s[i] * sum(k in 0..2) s[(i + k + 1) % N] for i in 0..N;",
    "energy exp(-abs(i - j) / 2.0) * t[i, j] * u for i in 0..2, j in 0..3;",
    "energy 0.3 * s[E[e, 0]] * s[E[e, 1]] for e in 0..M;",
    "energy b[k] * b[k2] * s[k] for k in 0..K, k2 in k..K;",
    "energy max(c, 0.5) * s[0] * s[1] * t[1, 2];",
    "energy (s[0] + b[0]) * (s[1] - 2 * b[1]) / 4;",
    "energy sum(i in 0..N where i % 2 == 0) sum(j in 0..i + 1) W[i, j] * s[i] * s[j];",
    "energy 2^2 * u * s[N - 1] + flag * u;",
    "energy -(t[i, j] + u)^2 for i in 0..2, j in 0..3 where not (i == 1 and j == 0);",
    "energy U[i] * s[i] * u for i in 0..N;",
    "energy { sqrt(c) * t[0, j] * t[1, j] for j in 0..3; -log(2.0) * b[0] * b[1] * b[0]; }",
    "energy s[i - 1] * s[i] * min(1, v[i]) for i in 1..N;",
    "constraint one: sum(k in 0..K) b[k] == 1 penalty 1.5;",
    "constraint cap: sum(k in 0..K) b[k] <= 1 penalty 1.0;",
    "constraint rows: t[i, 0] + t[i, 1] >= 0 for i in 0..2 penalty 0.5;",
    "constraint mixed: 2 * b[0] - s[0] == u penalty c;",
]


def random_program(rng):
    N = int(rng.integers(3, 6))
    K = int(rng.integers(2, 4))
    text = HEADER.format(N=N, K=K, c=round(float(rng.uniform(0.2, 2)), 3), seed=int(rng.integers(100)),
                         choices=", ".join(map(str, range(N))), periodic=" periodic" if rng.random() < 0.5 else "")
    chosen = rng.choice(len(SNIPPETS), size=int(rng.integers(3, 9)), replace=False)
    text += "\n".join(SNIPPETS[k] for k in sorted(chosen))
    text += "\nobserve o[i] = s[i] * b[0] + v[i] * u for i in 0..N;\nobserve mag = sum(i in 0..N) s[i] / N;\n"
    return text


@pytest.mark.parametrize("case", range(30))
def test_energy_matches_direct_evaluation(case):
    rng = np.random.default_rng(1000 + case)
    text = random_program(rng)
    ir = pb.compile(text).ir
    checked = check(parse(text), Source("<input>", text))
    naive = Naive(checked)
    slack = all_slack_settings(ir)
    for _ in range(8):
        state = rng.choice(np.array([-1, 1], dtype=np.int8), size=ir.num_spins)
        values = split_state(ir, state)
        expected = naive.energy(values)
        got = min_over(ir, state, slack)
        assert got == pytest.approx(expected, rel=1e-9, abs=1e-9), text
        obs = ir.observe(state)
        for ob in checked.observes:
            np.testing.assert_allclose(obs[ob.name], naive.observable(ob, values), atol=1e-12)


def test_energy_of_many_states_at_once_matches_one_by_one():
    text = random_program(np.random.default_rng(7))
    ir = pb.compile(text).ir
    states = np.random.default_rng(1).choice(np.array([-1, 1], dtype=np.int8), size=(5, 4, ir.num_spins))
    batch = ir.energy(states)
    assert batch.shape == (5, 4)
    for a in range(5):
        for b in range(4):
            assert batch[a, b] == pytest.approx(float(ir.energy(states[a, b])))


def test_bits_map_to_spins_exactly():
    ir = pb.compile("bit b[2]; energy 3 * b[0] * b[1] - b[0] + 0.25;").ir
    for b0 in (0, 1):
        for b1 in (0, 1):
            s = np.array([2 * b0 - 1, 2 * b1 - 1])
            assert ir.energy(s) == pytest.approx(3 * b0 * b1 - b0 + 0.25)


def test_spin_squares_cancel_and_like_terms_collect():
    ir = pb.compile("param J = 2.0; spin s[3]; energy J * s[0] * s[0] + s[1] * s[2] - s[2] * s[1] + s[1] * s[1] * s[2];").ir
    assert ir.offset == pytest.approx(2.0)
    assert ir.J.nnz == 0
    assert ir.h.tolist() == [0.0, 0.0, 1.0]


def test_order_three_terms_are_kept_as_factors_or_reduced_with_the_same_ground_states():
    text = "spin s[4]; energy 1.5 * s[0] * s[1] * s[2] - 0.5 * s[1] * s[2] * s[3] * s[0] + 0.3 * s[3];"
    ir = pb.compile(text).ir
    assert sorted(ir.kbody) == [3, 4]
    reduced = pb.compile(text, reduce_kbody=True).ir
    assert not reduced.kbody
    assert reduced.num_spins > ir.num_spins
    aux = np.arange(ir.num_spins, reduced.num_spins)
    states = np.array(np.meshgrid(*[[-1, 1]] * 4)).reshape(4, -1).T.astype(np.int8)
    full = np.zeros((len(states), reduced.num_spins), dtype=np.int8)
    full[:, :4] = states
    mins = np.array([min_over(reduced, row, aux) for row in full])
    np.testing.assert_allclose(mins, ir.energy(states), atol=1e-9)


def test_product_of_sums_expands_without_unrolling():
    ir = pb.compile("param N: int = 6; spin x[N]; energy (sum(i in 0..N) x[i]) * (sum(j in 0..N) x[j]);").ir
    # (Σx)² = N + 2 Σ_{i<j} x_i x_j
    assert ir.offset == pytest.approx(6)
    assert ir.num_couplings == 15
    assert np.allclose(ir.J.data, 2.0)
