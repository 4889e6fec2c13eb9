param L: int = 3;
spin s[L, L];
energy -s[i, j] * s[i + 1, j] for i in 0..L - 1, j in 0..L;
energy -s[i, j] * s[i, j + 1] for i in 0..L, j in 0..L where j + 1 < L;
observe m = sum(i in 0..L, j in 0..L) s[i, j] / (L * L);
