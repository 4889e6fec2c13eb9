# A denoising thermodynamic model of 8×8 binarised digits: each of the T steps is an
# RBM (64 visible, H hidden p-bits) conditioned on the noisier image x_t.
#   pbit train examples/digits_dtm.pb --data digits --epochs 20 -o digits.pbir
#   pbit generate digits.pbir --num 64
param V: int = 64;
param H: int = 32;
param T: int = 4;
param K: int = 25;

bit x[V];
spin z[H];

weight W[V, H] = normal(0, 0.01, seed = 1);
weight a[V];
weight b[H];

energy {
    -W[i, j] * (2 * x[i] - 1) * z[j]   for i in 0..V, j in 0..H;
    -a[i] * (2 * x[i] - 1)             for i in 0..V;
    -b[j] * z[j]                       for j in 0..H;
}

beta = 1.0;

chain dtm over x {
    steps T;
    noise flip(schedule = cosine);
    sweeps K;
}
