"""The compiler's size limits: checked before anything big is allocated, so that an absurd
program is refused with a message instead of exhausting the machine."""
from __future__ import annotations

import os
from dataclasses import dataclass


@dataclass
class Limits:
    """Size limits checked before anything big is allocated."""
    max_spins: int = 50_000_000
    max_terms: int = 200_000_000
    max_param_elements: int = 100_000_000
    max_monomials: int = 4096       # per statement, after symbolic expansion
    max_power: int = 16             # exponent of a power of variables
    max_memory: int | None = None   # bytes a compile may use; None: the memory the machine has available


# What compiling takes per declared spin and per index point of a statement, measured with
# benchmarks/compile.py on the 2D and 3D lattices (≈ 580 bytes per spin of ising2d, three
# statements per spin) and rounded up: the estimate refuses what cannot fit, before it is tried.
BYTES_PER_SPIN = 200
BYTES_PER_TERM = 200


def available_memory() -> int | None:
    """Bytes of memory available now (MemAvailable), or None where the system does not say."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None
