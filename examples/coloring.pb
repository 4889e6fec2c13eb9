# Graph colouring as a constraint problem: x[v, k] = 1 when vertex v has colour k.
# Each vertex takes exactly one colour (one-hot), and the two ends of an edge
# must not share one.  A sample with zero violations is a proper colouring.
param N: int = 6;                       # vertices of a 6-cycle with two chords
param K: int = 3;
param E: int[8, 2] = [[0, 1], [1, 2], [2, 3], [3, 4], [4, 5], [5, 0], [0, 3], [1, 4]];
let M = len(E);

bit x[N, K];

constraint one_hot: sum(k in 0..K) x[v, k] == 1              for v in 0..N   penalty 4.0;
constraint differ:  x[E[e, 0], k] + x[E[e, 1], k] <= 1         for e in 0..M, k in 0..K   penalty 2.0;

beta = 3.0;

observe colour_of[v] = sum(k in 0..K) k * x[v, k]   for v in 0..N;
