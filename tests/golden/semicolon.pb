spin s[4]
energy -s[0];
