# The 3D Edwards–Anderson ±J spin glass in the glassy regime, meant for parallel tempering:
#   pbit run examples/ea3d_pt.pb --tempering 16:0.2 --chains 8 --sweeps 4000 --burn-in 1000 -o ea.npz
# Pairs of chains are independent replica sets: pbitlang.physics.overlaps(res) gives q.
param L: int = 4;
param seed: int = 7;
param Jb: int[L, L, L, 3] = rademacher(seed = seed);
param B = 1.2;

spin s[L, L, L] periodic;

energy {
    -Jb[x, y, z, 0] * s[x, y, z] * s[x + 1, y, z]   for x in 0..L, y in 0..L, z in 0..L;
    -Jb[x, y, z, 1] * s[x, y, z] * s[x, y + 1, z]   for x in 0..L, y in 0..L, z in 0..L;
    -Jb[x, y, z, 2] * s[x, y, z] * s[x, y, z + 1]   for x in 0..L, y in 0..L, z in 0..L;
}

beta = B;

observe e = sum(x in 0..L, y in 0..L, z in 0..L) -s[x, y, z] * (Jb[x, y, z, 0] * s[x + 1, y, z]
          + Jb[x, y, z, 1] * s[x, y + 1, z] + Jb[x, y, z, 2] * s[x, y, z + 1]) / (L * L * L);
