param L: int = 3;
spin s[L];
bit s[2];
