param N: int = 5;
param J = 1.0;
spin s[N] periodic;
energy -J * s[i] * s[i + 1] for i in 0..N;
energy 0.25 * s[0];
beta = 0.5;
