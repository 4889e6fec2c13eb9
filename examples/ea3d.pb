# The 3D Edwards–Anderson spin glass on an L×L×L torus with seeded couplings.
# gaussian = false: ±J couplings (rademacher); true: Gaussian N(0, 1) couplings.
param L: int = 6;
param seed: int = 7;
param B = 1.0;
param Jpm: int[L, L, L, 3] = rademacher(seed = seed);
param Jg: real[L, L, L, 3] = normal(0, 1, seed = seed);
param gaussian = false;

spin s[L, L, L] periodic;

let g = gaussian;

energy {
    -((1 - g) * Jpm[x, y, z, 0] + g * Jg[x, y, z, 0]) * s[x, y, z] * s[x + 1, y, z]   for x in 0..L, y in 0..L, z in 0..L;
    -((1 - g) * Jpm[x, y, z, 1] + g * Jg[x, y, z, 1]) * s[x, y, z] * s[x, y + 1, z]   for x in 0..L, y in 0..L, z in 0..L;
    -((1 - g) * Jpm[x, y, z, 2] + g * Jg[x, y, z, 2]) * s[x, y, z] * s[x, y, z + 1]   for x in 0..L, y in 0..L, z in 0..L;
}

beta = B;

observe q_self = sum(x in 0..L, y in 0..L, z in 0..L) s[x, y, z] / (L * L * L);
