"""Fabric profiles (JSON data files) and the placement of a program onto a fabric.

A profile says what the hardware can hold (capacity, degree, connectivity),
how it computes (exact or fixed point: bits, scaling, accumulator, activation
lookup table), its random numbers, its clock and what each operation costs in
energy.  `pb.fabrics()` lists the built-in ones; a path to a .json file works
wherever a fabric name does."""
from __future__ import annotations

import functools
import json
import math
from dataclasses import dataclass, field
from importlib import resources
from pathlib import Path

import numpy as np

from ...errors import BackendError
from ...files import is_file

REQUIRED = ("name", "arithmetic", "rng", "clock", "energy")
ENERGY_KEYS = ("rng_J_per_update", "bias_J_per_update", "neighbour_J_per_edge", "clock_J_per_cell_update",
               "readout_J_per_bit")


@dataclass
class Fabric:
    name: str
    description: str
    capacity: int | None
    max_degree: int | None
    colors: int | None
    topology: dict | None
    arithmetic: dict
    rng: dict
    variability: dict
    clock: dict
    energy: dict
    sources: dict = field(default_factory=dict)

    @property
    def exact(self) -> bool:
        return self.arithmetic.get("kind") == "exact"

    @property
    def cells(self) -> int | None:
        """Cells the fabric clocks (every cell of a fixed topology; the program's p-bits otherwise)."""
        if self.topology:
            return int(self.topology["L"]) ** 2
        return None

    def with_overrides(self, overrides: dict) -> "Fabric":
        """A copy with some settings changed, e.g. {"arithmetic": {"weight_bits": 4}}."""
        data = json.loads(json.dumps(self.__dict__))
        for key, value in (overrides or {}).items():
            if key not in data:
                raise BackendError(f"fabric setting '{key}' does not exist (settings: {', '.join(data)})")
            if isinstance(value, dict) and isinstance(data[key], dict):
                data[key].update(value)
            else:
                data[key] = value
        return fabric_from_dict(data, f"{self.name} (modified)")


@functools.lru_cache(maxsize=None)
def _builtin_texts() -> dict:
    """name → JSON text of the profiles shipped with pbitlang (read once: training samples many times)."""
    out = {}
    for entry in sorted(resources.files("pbitlang.backends").joinpath("fabrics").iterdir(), key=lambda p: p.name):
        if entry.name.endswith(".json"):
            text = entry.read_text()
            out[json.loads(text)["name"]] = text
    return out


def builtin_fabrics() -> dict:
    """name → description of the profiles shipped with pbitlang."""
    return {name: json.loads(text).get("description", "") for name, text in _builtin_texts().items()}


def load_fabric(spec) -> Fabric:
    """A Fabric from a built-in name, a path to a JSON profile, a dict, or a Fabric."""
    if isinstance(spec, Fabric):
        return spec
    if isinstance(spec, dict):
        return fabric_from_dict(spec, "<dict>")
    spec = str(spec)
    if spec in _builtin_texts():
        return fabric_from_dict(json.loads(_builtin_texts()[spec]), spec)
    path = Path(spec)
    if not is_file(path):
        raise BackendError(f"unknown fabric '{spec}' (built-in: {', '.join(builtin_fabrics())}; or a path to a .json profile)")
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise BackendError(f"fabric profile {path}: not readable JSON ({err})") from None
    return fabric_from_dict(data, str(path))


def _check_schema(data, where: str) -> None:
    """Every field of a profile has the type and range the emulator relies on (a profile is a file a
    user may have damaged: it must fail here, with its field named, not inside the kernels)."""
    def fail(field, want):
        raise BackendError(f"fabric profile {where}: {field} must be {want}")

    def number(d, key, section, lo=0.0, hi=math.inf, integer=False, required=False, open_low=False):
        if key not in d:
            if required:
                fail(f"{section}.{key}", "given")
            return
        v = d[key]
        ok = isinstance(v, int) if integer else isinstance(v, (int, float))
        if isinstance(v, bool) or not ok or not math.isfinite(v) or v < lo or v > hi or (open_low and v == lo):
            fail(f"{section}.{key}", f"{'an integer' if integer else 'a number'} in [{lo}, {hi}]")

    if not isinstance(data, dict):
        raise BackendError(f"fabric profile {where}: must be a JSON object")
    missing = [k for k in REQUIRED if k not in data]
    if missing:
        raise BackendError(f"fabric profile {where}: missing {', '.join(missing)}")
    if not isinstance(data["name"], str) or not data["name"] or not isinstance(data.get("description", ""), str):
        fail("name and description", "strings")
    for key, hi in (("capacity", 10**9), ("max_degree", 10**6), ("colors", 1024)):
        if data.get(key) is not None:
            number(data, key, "profile", 1, hi, integer=True)
    for key in ("arithmetic", "rng", "clock", "energy", "variability", "sources"):
        if key in data and not isinstance(data[key], dict):
            fail(key, "an object")
    topo = data.get("topology")
    if topo is not None:
        if not isinstance(topo, dict):
            fail("topology", "null or an object")
        number(topo, "L", "topology", 1, 10**5, integer=True, required=True)
        number(topo, "rotations", "topology", 1, 4, integer=True)
        jumps = topo.get("jumps")
        if not isinstance(jumps, list) or len(jumps) > 256 or not all(
                isinstance(j, list) and len(j) == 2 and all(isinstance(x, int) and not isinstance(x, bool)
                                                            and abs(x) <= 10**5 for x in j) for j in jumps):
            fail("topology.jumps", "a list of [dx, dy] integer pairs")
    for key in ENERGY_KEYS:
        number(data["energy"], key, "energy", required=True)
    rng, clock = data["rng"], data["clock"]
    for key in ("gain_sigma", "offset_sigma"):
        number(data.get("variability", {}), key, "variability", 0, 10)
    number(data.get("variability", {}), "seed", "variability", 0, 2**63, integer=True)
    number(rng, "seed", "rng", 0, 2**63, integer=True)
    number(rng, "bias", "rng", -1, 1)
    number(rng, "bias_sigma", "rng", 0, 1)
    number(rng, "decorrelation_time_s", "rng", 0, 1)
    number(clock, "frequency_hz", "clock", 0, 1e15, required=True, open_low=True)
    number(clock, "update_probability", "clock", 0, 1, open_low=True)


def fabric_from_dict(data: dict, where: str) -> Fabric:
    _check_schema(data, where)
    energy, ar = data["energy"], data["arithmetic"]
    if ar.get("kind") not in ("exact", "fixed"):
        raise BackendError(f"fabric profile {where}: arithmetic.kind is 'exact' or 'fixed'")
    if ar["kind"] == "fixed":
        for key, lo, hi in (("weight_bits", 2, 24), ("bias_bits", 2, 30), ("acc_bits", 4, 31), ("lut_bits", 1, 30)):
            v = ar.get(key)
            if not isinstance(v, int) or isinstance(v, bool) or not lo <= v <= hi:
                raise BackendError(f"fabric profile {where}: arithmetic.{key} must be an integer in {lo}..{hi}")
        size = ar.get("lut_size")
        if not isinstance(size, int) or isinstance(size, bool) or not 2 <= size <= 2**24 or size & (size - 1):
            raise BackendError(f"fabric profile {where}: arithmetic.lut_size must be a power of two ≥ 2")
        scale = ar.get("scale", "auto")
        if scale != "auto" and not (isinstance(scale, (int, float)) and not isinstance(scale, bool)
                                    and math.isfinite(scale) and scale > 0):
            raise BackendError(f"fabric profile {where}: arithmetic.scale is 'auto' or a positive LSB value")
        q = ar.get("clip_quantile", 1.0)
        if isinstance(q, bool) or not (isinstance(q, (int, float)) and 0.5 <= q <= 1.0):
            raise BackendError(f"fabric profile {where}: arithmetic.clip_quantile must be in [0.5, 1]")
        if ar.get("on_overflow", "clip") not in ("clip", "error"):
            raise BackendError(f"fabric profile {where}: arithmetic.on_overflow is 'clip' or 'error'")
    rng = data["rng"]
    if rng.get("kind") not in ("perfect", "xorshift32", "galois", "analog"):
        raise BackendError(f"fabric profile {where}: rng.kind is perfect, xorshift32, galois or analog")
    width = rng.get("width", 32)
    if rng["kind"] == "galois" and (isinstance(width, bool) or width not in GALOIS_TAPS):
        raise BackendError(f"fabric profile {where}: rng.width must be one of {sorted(GALOIS_TAPS)}")
    clock = data["clock"]
    if clock.get("mode") not in ("sync", "async") or not clock.get("frequency_hz", 0) > 0:
        raise BackendError(f"fabric profile {where}: clock needs mode sync|async and frequency_hz > 0")
    if clock["mode"] == "async" and not 0 < clock.get("update_probability", 0.1) <= 1:
        raise BackendError(f"fabric profile {where}: clock.update_probability must be in (0, 1]")
    return Fabric(name=str(data["name"]), description=str(data.get("description", "")),
                  capacity=data.get("capacity"), max_degree=data.get("max_degree"), colors=data.get("colors"),
                  topology=data.get("topology"), arithmetic=dict(ar), rng=dict(rng),
                  variability=dict(data.get("variability", {})), clock=dict(clock), energy=dict(energy),
                  sources=dict(data.get("sources", {})))


# Galois LFSR taps (maximal length) by width: x^w + ... polynomials as masks of the shifted-out feedback.
GALOIS_TAPS = {8: 0xB8, 12: 0xE08, 16: 0xB400, 20: 0x90000, 24: 0xE10000, 31: 0x48000000, 32: 0xA3000000}


# ---- capacity, degree, placement ------------------------------------------------------
def check_and_place(ir, fabric: Fabric, held=None) -> dict:
    """Refuse what the fabric cannot hold (naming the variable or term) and place the rest.

    held: the spins a run holds at given values (the program's clamps and the kernel's).  A
    variable that is held whole (a denoising step's clamped x_t, evidence on a whole variable) needs
    no cells: its values reach its neighbours as biases, as a chip takes a conditioning input.
    Without a topology any graph within capacity and degree fits ("direct").  On a torus the
    on-chip spins are laid out row-major, each 2-D variable of width L at the start of a row so that
    its lattice lines up with the fabric's; every coupling between cells must be one of its jumps."""
    n = ir.num_spins
    off = _held_variables(ir, held)
    on = np.ones(n, dtype=bool)
    for name in off:
        start, shape, _ = ir.layout[name]
        on[start:start + math.prod(shape)] = False
    cells_used = int(on.sum())
    if fabric.capacity is not None and cells_used > fabric.capacity:
        over = _variable_at(ir, int(np.flatnonzero(on)[fabric.capacity]))
        raise BackendError(f"the program has {cells_used} p-bits but the '{fabric.name}' fabric holds "
                           f"{fabric.capacity}; '{over}' does not fit")
    for idx, _ in ir.kbody.values():
        if len(idx) and not fabric.exact:
            raise BackendError(f"the '{fabric.name}' fabric has pairwise couplings only; compile with "
                               f"reduce_kbody=True (pbitc --reduce-kbody) to run k-body factors on it")
    coo = ir.J.tocoo()
    between = on[coo.row] & on[coo.col]                     # couplings between cells (the rest are bias inputs)
    rows, cols = coo.row[between], coo.col[between]
    degree = np.bincount(rows, minlength=n)
    if fabric.max_degree is not None and n and degree.max(initial=0) > fabric.max_degree:
        i = int(np.argmax(degree))
        j = int(cols[np.flatnonzero(rows == i)[0]])
        raise BackendError(f"'{ir.spin_name(i)}' has {int(degree[i])} couplings but the '{fabric.name}' fabric "
                           f"allows {fabric.max_degree} per p-bit (coupling from {ir.term_source(i, j)})")
    colours = len(np.unique(ir.colors[on])) if n else 0
    if fabric.colors is not None and colours > fabric.colors:
        raise BackendError(f"the program needs {colours} colours but the '{fabric.name}' fabric clocks "
                           f"{fabric.colors} phases")
    placement = {"cells_used": cells_used}
    if off:
        placement["bias_inputs"] = off                      # held whole: reach their neighbours as biases
    topo = fabric.topology
    if not topo:
        return {"kind": "direct", **placement}
    L = int(topo["L"])
    jumps = fabric_jumps(topo)
    cell = _row_major_cells(ir, L, skip=set(off))
    if cell is None:
        raise BackendError(f"the program's variables do not fit the {L}×{L} '{fabric.name}' fabric row by row")
    d = ((cell[cols, 0] - cell[rows, 0]) % L, (cell[cols, 1] - cell[rows, 1]) % L)
    ok = np.array([(int(a), int(b)) in jumps for a, b in zip(*d)], dtype=bool) if len(rows) else np.zeros(0, bool)
    if not ok.all():
        k = int(np.flatnonzero(~ok)[0])
        i, j = int(rows[k]), int(cols[k])
        raise BackendError(f"coupling {ir.spin_name(i)} – {ir.spin_name(j)} ({ir.term_source(i, j)}) is not a "
                           f"connection of the '{fabric.name}' fabric: row-major placement puts them at cells "
                           f"{tuple(int(x) for x in cell[i])} and {tuple(int(x) for x in cell[j])}, a jump of {(int(d[0][k]), int(d[1][k]))}")
    return {"kind": "row-major torus", "L": L, **placement,
            "origin": {name: [int(cell[s][0]), int(cell[s][1])]
                       for name, (s, shape, _) in ir.layout.items() if math.prod(shape) and name not in off}}


def _held_variables(ir, held) -> list:
    """The variables every spin of which is held (in layout order)."""
    if held is None or not len(held):
        return []
    mask = np.zeros(ir.num_spins, dtype=bool)
    mask[np.asarray(held, dtype=np.int64)] = True
    return [name for name, (start, shape, _) in sorted(ir.layout.items(), key=lambda kv: kv[1][0])
            if math.prod(shape) and mask[start:start + math.prod(shape)].all()]


def fabric_jumps(topo: dict) -> set:
    """Every (row, column) offset, modulo L, that joins two cells of a torus topology: each listed
    jump, its rotations and their reverses."""
    L = int(topo["L"])
    jumps = set()
    for dx, dy in topo["jumps"]:
        v = (dx, dy)
        for _ in range(int(topo.get("rotations", 4))):
            jumps.add((v[0] % L, v[1] % L))
            jumps.add(((-v[0]) % L, (-v[1]) % L))
            v = (-v[1], v[0])
    return jumps


def _row_major_cells(ir, L: int, skip=frozenset()):
    """(row, col) of each spin: variables in order, 2-D ones of width ≤ L starting a new row; the
    variables in `skip` get no cells (their rows of the result mean nothing)."""
    cells = np.zeros((ir.num_spins, 2), dtype=np.int64)
    pos = 0                                        # next free cell, row-major
    for name, (start, shape, kind) in sorted(ir.layout.items(), key=lambda kv: kv[1][0]):
        size = math.prod(shape)
        if not size or name in skip:
            continue
        if len(shape) == 2 and shape[1] <= L:
            if pos % L:
                pos += L - pos % L
            r0 = pos // L
            i, j = np.unravel_index(np.arange(size), shape)
            cells[start:start + size, 0] = r0 + i
            cells[start:start + size, 1] = j
            pos = (r0 + shape[0]) * L
        else:
            k = pos + np.arange(size)
            cells[start:start + size, 0] = k // L
            cells[start:start + size, 1] = k % L
            pos += size
    if pos > L * L:
        return None
    return cells


def _variable_at(ir, index: int) -> str:
    return ir.spin_name(min(index, ir.num_spins - 1))
