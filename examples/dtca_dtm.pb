# A denoising thermodynamic model shaped like the DTCA chip (Jelinčič et al., arXiv:2510.23972):
# each of its T = 8 steps is a sparse Boltzmann machine on the chip's 70×70 torus of p-bits with
# its G12 couplings (jumps (0,1), (4,1), (10,9) and their rotations), a 28×28 image spread over
# the grid at the cells data/dtca_pixels.txt marks, and every other cell a latent p-bit.  Each
# step conditions on x_t through biases, so the step fits the fabric with no check lifted.
#   pbit train examples/dtca_dtm.pb --data mnist --backend emulator --fabric dtca -o dtca.pbir
#   pbit generate dtca.pbir --backend emulator --fabric dtca --num 16 --grid digits.png
param L: int = 70;
param T: int = 8;
param K: int = 250;                            # Gibbs sweeps per reverse step (the paper's K_mix)
param DX: int[6] = [0, 1, 4, -1, 10, -9];      # one of each pair of opposite G12 jumps
param DY: int[6] = [1, 0, 1, 4, 9, 10];
param PIXELS: int[L, L] = load("data/dtca_pixels.txt");

spin g[L, L] periodic;

weight W[L, L, 6] = normal(0, 0.01, seed = 1);
weight b[L, L];

energy -W[i, j, d] * g[i, j] * g[i + DX[d], j + DY[d]]   for i in 0..L, j in 0..L, d in 0..6;
energy -b[i, j] * g[i, j]                                for i in 0..L, j in 0..L;

beta = 1.0;

chain dtm over g {
    data PIXELS;                               # the 784 image cells; the other 4,116 cells are latent
    steps T;
    noise flip(schedule = log);
    sweeps K;
}
