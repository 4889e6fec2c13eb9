# The 2D Ising ferromagnet on an L×L torus: E = -J Σ_<ij> s_i s_j - h Σ s_i.
# Critical point of the infinite lattice: β_c = ln(1 + √2)/2 ≈ 0.4406868.
param L: int = 32;
param J = 1.0;
param h = 0.0;
param B = 0.4406868;

spin s[L, L] periodic;

energy {
    -J * s[i, j] * s[i + 1, j]   for i in 0..L, j in 0..L;
    -J * s[i, j] * s[i, j + 1]   for i in 0..L, j in 0..L;
    -h * s[i, j]                 for i in 0..L, j in 0..L;
}

beta = B;

observe m = sum(i in 0..L, j in 0..L) s[i, j] / (L * L);
observe absm = abs(sum(i in 0..L, j in 0..L) s[i, j] / (L * L));
observe e = sum(i in 0..L, j in 0..L) -J * s[i, j] * (s[i + 1, j] + s[i, j + 1]) / (L * L);
