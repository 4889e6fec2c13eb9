"""THRML's two-colour block Gibbs on one of the benchmark models, for benchmarks/sample.py: prints
spin updates per ns (JAX on the CPU, chains vmapped, compiled before timing), or exits 1 when THRML
is not installed.  Run in a process of its own so that JAX's threads do not slow what is measured next."""
from __future__ import annotations

import argparse
import sys
import time

import numpy as np


def thrml_rate(prog, sweeps: int, chains: int):
    """THRML's block Gibbs on the same model, chains and colouring (compiled first), or None."""
    try:
        import jax
        import jax.numpy as jnp
        from thrml import Block, SamplingSchedule, SpinNode, sample_states
        from thrml.models import IsingEBM, IsingSamplingProgram, hinton_init
    except ImportError:
        return None
    ir = prog.ir
    nodes = [SpinNode() for _ in range(ir.num_spins)]
    J = ir.J.tocoo()
    upper = J.row < J.col
    beta = ir.beta if ir.beta is not None else 1.0
    # THRML's E = −β(Σ b s + Σ w s s); pbitlang's βE = β(h·s + Σ J s s): b = −h, w = −J
    model = IsingEBM(nodes, [(nodes[i], nodes[j]) for i, j in zip(J.row[upper], J.col[upper])],
                     jnp.asarray(-ir.h, jnp.float32), jnp.asarray(-J.data[upper], jnp.float32), jnp.array(beta))
    blocks = [Block([nodes[i] for i in np.flatnonzero(ir.colors == c)]) for c in range(ir.num_colors)]
    program = IsingSamplingProgram(model, blocks, clamped_blocks=[])
    schedule = SamplingSchedule(n_warmup=sweeps - 1, n_samples=1, steps_per_sample=1)
    run = jax.jit(jax.vmap(lambda key, init: sample_states(key, program, schedule, init, [], [Block(nodes)])))
    keys, init = jax.random.split(jax.random.key(0), chains), hinton_init(jax.random.key(1), model, blocks, (chains,))
    jax.block_until_ready(run(keys, init))                                  # compile
    t = time.perf_counter()
    jax.block_until_ready(run(keys, init))
    return ir.num_spins * chains * sweeps / (time.perf_counter() - t) / 1e9


def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("model", help="an example's name (ising2d, ea3d)")
    ap.add_argument("L", type=int)
    ap.add_argument("chains", type=int)
    ap.add_argument("sweeps", type=int)
    args = ap.parse_args(argv)
    import pbitlang as pb
    rate = thrml_rate(pb.compile(f"examples/{args.model}.pb", params={"L": args.L}), args.sweeps, args.chains)
    if rate is None:
        sys.exit(1)
    print(rate)


if __name__ == "__main__":
    main()
