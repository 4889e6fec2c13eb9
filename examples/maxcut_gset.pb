# Max-cut on a graph in the Gset format (examples/data/random_200.gset, made by
# examples/data/make_gset.py): load(..., format = gset) gives the edge table, one row
# (u, v, w) per edge with the nodes counted from 0.  cut(s) = Σ w (1 − s_u s_v)/2, so the
# energy Σ w (s_u s_v − 1)/2 is minus the cut: the lowest energy is the largest cut.
# The same file runs without a program:  pbit run examples/data/random_200.gset
param N: int = 200;
param E: int[_, 3] = load("data/random_200.gset", format = gset);
let M = len(E);

spin s[N];

energy E[e, 2] * (s[E[e, 0]] * s[E[e, 1]] - 1) / 2   for e in 0..M;

beta = 2.0;

observe cut = sum(e in 0..M) E[e, 2] * (1 - s[E[e, 0]] * s[E[e, 1]]) / 2;
