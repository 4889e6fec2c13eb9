spin s[4];
energy -s[i] * s[i + 1] for i in 0..4;
