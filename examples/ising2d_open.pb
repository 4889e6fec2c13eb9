# The 2D Ising ferromagnet with open boundaries (no wrap-around), near the critical point.
#   pbit run examples/ising2d_open.pb --chains 16 --sweeps 4000 --burn-in 500 -o ising_open.npz
param L: int = 16;
param J = 1.0;
param B = 0.44;

spin s[L, L];

energy {
    -J * s[i, j] * s[i + 1, j]   for i in 0..L - 1, j in 0..L;
    -J * s[i, j] * s[i, j + 1]   for i in 0..L, j in 0..L - 1;
}

beta = B;

observe e = sum(i in 0..L - 1, j in 0..L) -J * s[i, j] * s[i + 1, j] / (L * L)
          + sum(i in 0..L, j in 0..L - 1) -J * s[i, j] * s[i, j + 1] / (L * L);
observe absm = abs(sum(i in 0..L, j in 0..L) s[i, j] / (L * L));
