param V: int = 3;
param H: int = 2;
spin v[V];
spin z[H];
weight W[V, H];
weight a[V] = [0.5, 0, -0.5];
energy -W[i, j] * v[i] * z[j] for i in 0..V, j in 0..H;
energy -a[i] * v[i] for i in 0..V;
chain dtm over v { steps 2; noise flip(schedule = linear); sweeps 10; }
