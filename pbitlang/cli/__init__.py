"""Command-line tools: pbitc (the compiler) and pbit (run, train, generate)."""
