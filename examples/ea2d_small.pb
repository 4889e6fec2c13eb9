# A 4×4 two-dimensional ±J spin glass (open boundaries): small enough for exact enumeration,
# frustrated enough to need parallel tempering at low temperature.
param L: int = 4;
param seed: int = 3;
param Jx: int[L, L] = rademacher(seed = seed);
param Jy: int[L, L] = rademacher(seed = seed + 1);
param B = 1.5;

spin s[L, L];

energy {
    -Jx[i, j] * s[i, j] * s[i + 1, j]   for i in 0..L - 1, j in 0..L;
    -Jy[i, j] * s[i, j] * s[i, j + 1]   for i in 0..L, j in 0..L - 1;
}

beta = B;
