spin s[4];
bit b;
energy 1.5 * s[0] * s[1] * s[2] - 0.5 * s[0] * s[1] * s[2] * s[3] + b * s[3];
given s[0] = -1;
