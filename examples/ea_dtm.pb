# A denoising chain for 3D Edwards–Anderson configurations (periodic L×L×L): each step is an
# Ising model with a trainable coupling on every lattice bond and a field on every site.  With G = 0
# the glass's couplings are unknown to the model; with G = 1 they are each bond's fixed part, which
# noise correlated(graph = program, J = β) drives the forward dynamics with.
param L: int = 4;
param T: int = 4;
param seed: int = 7;
param G: real = 0.0;                          # 1: each bond's fixed part is the glass's coupling (as ea3d_pt.pb)
param Jb: int[L, L, L, 3] = rademacher(seed = seed);
param K: int = 50;

spin x[L, L, L] periodic;

weight W[L, L, L, 3];
weight hx[L, L, L];

energy {
    -(G * Jb[a, b, c, 0] + W[a, b, c, 0]) * x[a, b, c] * x[a + 1, b, c]   for a in 0..L, b in 0..L, c in 0..L;
    -(G * Jb[a, b, c, 1] + W[a, b, c, 1]) * x[a, b, c] * x[a, b + 1, c]   for a in 0..L, b in 0..L, c in 0..L;
    -(G * Jb[a, b, c, 2] + W[a, b, c, 2]) * x[a, b, c] * x[a, b, c + 1]   for a in 0..L, b in 0..L, c in 0..L;
    -hx[a, b, c] * x[a, b, c]                      for a in 0..L, b in 0..L, c in 0..L;
}

beta = 1.0;

chain dtm over x {
    steps T;
    noise flip(schedule = cosine);
    sweeps K;
}
