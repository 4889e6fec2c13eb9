# A denoising chain for 2D Ising configurations (open L×L lattice): each step is an Ising
# model with trainable nearest- and next-nearest-neighbour couplings on every bond and a field
# on every site, conditioned on the noisier configuration x_t.  NOISE is independent flips or
# forward noise driven by Ising dynamics:
#   noise flip(schedule = cosine);
#   noise correlated(J = 0.4, sweeps = 1, schedule = cosine);
# J0 = 1 gives the nearest-neighbour bonds a fixed ferromagnetic part (the target's couplings), which
# noise correlated(graph = program, J = β) drives the forward dynamics with.
param L: int = 16;
param J0: real = 0.0;
param T: int = 4;
param K: int = 50;

spin x[L, L];

weight Jh[L, L];
weight Jv[L, L];
weight Jd[L, L];
weight Ja[L, L];
weight hx[L, L];

energy {
    -(J0 + Jh[i, j]) * x[i, j] * x[i + 1, j]       for i in 0..L - 1, j in 0..L;
    -(J0 + Jv[i, j]) * x[i, j] * x[i, j + 1]       for i in 0..L, j in 0..L - 1;
    -Jd[i, j] * x[i, j] * x[i + 1, j + 1]   for i in 0..L - 1, j in 0..L - 1;
    -Ja[i, j] * x[i, j + 1] * x[i + 1, j]   for i in 0..L - 1, j in 0..L - 1;
    -hx[i, j] * x[i, j]                     for i in 0..L, j in 0..L;
}

beta = 1.0;

chain dtm over x {
    steps T;
    noise flip(schedule = cosine);
    sweeps K;
}
