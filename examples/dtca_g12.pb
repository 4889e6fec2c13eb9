# A random Ising model that fills the 70×70 fabric of the denoising thermodynamic
# computer architecture (DTCA): every cell coupled to its 12 G12 neighbours,
# the jumps (0,1), (4,1), (10,9) and their rotations.  All jumps have odd
# length, so the torus is bipartite: two colours, as on the hardware.
#   pbit run examples/dtca_g12.pb --backend emulator --fabric dtca --chains 1 --sweeps 250 --thin 250 --burn-in 0
param L: int = 70;
param seed: int = 1;
param W: real[L, L, 6] = normal(0, 0.3, seed = seed);
param DX: int[6] = [0, 1, 4, -1, 10, -9];     # one of each pair of opposite jumps
param DY: int[6] = [1, 0, 1, 4, 9, 10];

spin x[L, L] periodic;

energy W[i, j, d] * x[i, j] * x[i + DX[d], j + DY[d]]   for i in 0..L, j in 0..L, d in 0..6;

beta = 1.0;

observe m = sum(i in 0..L, j in 0..L) x[i, j] / (L * L);
