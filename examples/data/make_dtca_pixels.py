"""Writes dtca_pixels.txt: which cells of the 70×70 DTCA grid hold the pixels of a 28×28 image
(1) and which are latent p-bits (0).  Pixel (a, b) sits at cell (r_a, r_b) with
r_k = ⌊(k + ½)·70/28⌋, so the 784 data cells are spread evenly over the torus (rows and columns
2 or 3 apart) and every data cell's 12 G12 neighbours are latent or data cells alike.
    python examples/data/make_dtca_pixels.py"""
from pathlib import Path

import numpy as np

L, SIDE = 70, 28


def pixel_cells(L: int = L, side: int = SIDE) -> np.ndarray:
    """The grid rows (and columns) that hold the image's rows (and columns)."""
    return np.floor((np.arange(side) + 0.5) * L / side).astype(int)


def main():
    mask = np.zeros((L, L), dtype=int)
    cells = pixel_cells()
    mask[np.ix_(cells, cells)] = 1
    out = Path(__file__).with_name("dtca_pixels.txt")
    header = f"# {SIDE}x{SIDE} image pixels (1) on the {L}x{L} DTCA grid; made by make_dtca_pixels.py\n"
    out.write_text(header + "\n".join(" ".join(str(v) for v in row) for row in mask) + "\n")
    print(f"wrote {out}: {int(mask.sum())} data cells of {L * L}")


if __name__ == "__main__":
    main()
