param N: int = 2;
param K: int = 3;
bit x[N, K];
constraint one_hot: sum(k in 0..K) x[i, k] == 1 for i in 0..N penalty 2.0;
constraint cap: x[0, 0] + x[1, 0] <= 1 penalty 1.0;
observe colour[i] = sum(k in 0..K) k * x[i, k] for i in 0..N;
