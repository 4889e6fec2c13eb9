"""Writes random_200.gset: a G(n, p) random graph in the Gset / MQLib max-cut format (the format of
the G-set benchmark graphs G1…G81), unit weights, from a fixed seed.  Generated here, not
downloaded:  python examples/data/make_gset.py"""
from pathlib import Path

import numpy as np

N, P, SEED = 200, 0.06, 2026


def main():
    rng = np.random.default_rng(SEED)
    i, j = np.triu_indices(N, k=1)
    keep = rng.random(len(i)) < P
    edges = np.column_stack([i[keep] + 1, j[keep] + 1])            # Gset nodes count from 1
    out = Path(__file__).with_name("random_200.gset")
    lines = [f"{N} {len(edges)}"] + [f"{a} {b} 1" for a, b in edges]
    out.write_text("\n".join(lines) + "\n")
    print(f"wrote {out}: {N} nodes, {len(edges)} edges")


if __name__ == "__main__":
    main()
