# A denoising chain for 3D Edwards–Anderson configurations (periodic L×L×L): each step is an
# Ising model with a trainable coupling on every lattice bond (the glass's couplings are quenched
# and unknown to the model) and a field on every site.
param L: int = 4;
param T: int = 4;
param K: int = 50;

spin x[L, L, L] periodic;

weight W[L, L, L, 3];
weight hx[L, L, L];

energy {
    -W[a, b, c, 0] * x[a, b, c] * x[a + 1, b, c]   for a in 0..L, b in 0..L, c in 0..L;
    -W[a, b, c, 1] * x[a, b, c] * x[a, b + 1, c]   for a in 0..L, b in 0..L, c in 0..L;
    -W[a, b, c, 2] * x[a, b, c] * x[a, b, c + 1]   for a in 0..L, b in 0..L, c in 0..L;
    -hx[a, b, c] * x[a, b, c]                      for a in 0..L, b in 0..L, c in 0..L;
}

beta = 1.0;

chain dtm over x {
    steps T;
    noise flip(schedule = cosine);
    sweeps K;
}
