# A restricted Boltzmann machine over 8×8 binary images with 16 hidden units.
# Its couplings and biases are trainable weights (zero-initialised); the same
# program is the building block of a denoising chain (docs/dtm.md).
param V: int = 64;
param H: int = 16;

spin v[V];
spin z[H];

weight Wvh[V, H];
weight a[V];
weight b[H];

energy {
    -Wvh[i, j] * v[i] * z[j]   for i in 0..V, j in 0..H;
    -a[i] * v[i]               for i in 0..V;
    -b[j] * z[j]               for j in 0..H;
}

beta = 1.0;

observe mean_v = sum(i in 0..V) v[i] / V;

chain dtm over v {
    steps 4;
    noise flip(schedule = cosine);
    sweeps 50;
}
