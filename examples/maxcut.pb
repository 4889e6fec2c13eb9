# Max-cut on a graph read from a file: each edge whose ends differ is cut.
# cut(s) = Σ_edges (1 - s_u s_v)/2, so minimising E = Σ_edges w s_u s_v maximises the cut.
param N: int = 16;
param E: int[_, 2] = load("data/maxcut_edges.txt");
let M = len(E);
param w = 1.0;

spin s[N];

energy w * s[E[e, 0]] * s[E[e, 1]]   for e in 0..M;

beta = 2.0;

observe cut = sum(e in 0..M) (1 - s[E[e, 0]] * s[E[e, 1]]) / 2;
