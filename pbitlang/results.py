"""SampleResult: what every backend returns.

Energies and observables are recomputed from the IR (never trusted from a
backend).  Means come with standard errors that account for autocorrelation
(pbitlang.stats).  Files are npz + JSON, loaded with allow_pickle=False."""
from __future__ import annotations

import json
import math
import zipfile
from functools import cached_property
from pathlib import Path

import numpy as np

from .errors import IRFileError, PbitError
from .stats import log_binning, mean_and_error

SAMPLES_FORMAT = "pbit-samples"
SAMPLES_VERSION = 1


class SampleResult:
    """Samples (int8 ±1) of one run, with the IR they came from.

    A sampler's own layout is `native` (kept, n, chains); `samples` is the contract's view
    (chains × kept, n), chain-major, made on first use."""

    def __init__(self, ir, samples: np.ndarray, num_chains: int, info: dict | None = None,
                 energies: np.ndarray | None = None, observables: dict | None = None):
        self.ir = ir
        self.__dict__["samples"] = np.ascontiguousarray(samples, dtype=np.int8)
        self.num_chains = int(num_chains)
        self.info = dict(info or {})
        if energies is not None:
            self.__dict__["energies"] = np.asarray(energies, dtype=np.float64)
        if observables is not None:
            self.__dict__["observables"] = dict(observables)

    @classmethod
    def from_native(cls, ir, native: np.ndarray, info: dict | None = None) -> "SampleResult":
        """A result over states in the samplers' layout (kept, n, chains), kept as they are."""
        res = cls.__new__(cls)
        res.ir, res.num_chains, res.info = ir, int(native.shape[2]), dict(info or {})
        res.__dict__["native"] = native
        return res

    @cached_property
    def native(self) -> np.ndarray:
        """The states as (kept, n, chains)."""
        C, n = self.num_chains, self.samples.shape[1]
        return np.ascontiguousarray(self.samples.reshape(C, len(self.samples) // max(C, 1), n).transpose(1, 2, 0))

    @cached_property
    def samples(self) -> np.ndarray:
        kept, n, C = self.native.shape
        return np.ascontiguousarray(self.native.transpose(2, 0, 1)).reshape(C * kept, n)

    def __repr__(self):
        return (f"<SampleResult {self.info.get('backend', '?')}: {len(self.samples)} samples × {self.samples.shape[1]} "
                f"spins, {self.num_chains} chains>")

    def __len__(self):
        return self.kept * self.num_chains

    @property
    def kept(self) -> int:
        if "native" in self.__dict__:
            return self.native.shape[0]
        return len(self.samples) // max(self.num_chains, 1)

    @cached_property
    def energies(self) -> np.ndarray:
        return self.ir.energy(self.samples) if len(self.samples) else np.zeros(0)

    @cached_property
    def observables(self) -> dict:
        if not self.ir.observables:
            return {}
        return self.ir.observe(self.samples)

    def variables(self, name: str) -> np.ndarray:
        """Samples of one declared variable in its declared shape (bits as 0/1)."""
        if self.ir is None or name not in self.ir.layout:
            known = ", ".join(self.ir.layout) if self.ir is not None else ""
            raise PbitError(f"no variable '{name}' (variables: {known})")
        start, shape, kind = self.ir.layout[name]
        size = math.prod(shape)
        block = self.samples[:, start:start + size].reshape((len(self.samples),) + tuple(shape))
        return ((block + 1) // 2).astype(np.int8) if kind == "bit" else block

    def violations(self) -> dict:
        """Constraint name → (num_samples, instances) amounts of violation (0 where satisfied)."""
        return self.ir.violations(self.samples)

    def trace(self, name: str = "energy") -> np.ndarray:
        """Per-chain trace (chains, kept, ...) of 'energy' or an observable."""
        values = self.energies if name == "energy" else self.observables[name]
        return values.reshape((self.num_chains, self.kept) + values.shape[1:])

    def mean(self, name: str = "energy") -> tuple:
        """(mean, standard error) with autocorrelation; arrays for array observables."""
        tr = self.trace(name)
        if tr.ndim == 2:
            m, se, _, _ = mean_and_error(tr)
            return m, se
        flat = tr.reshape(tr.shape[0], tr.shape[1], -1)
        pairs = [mean_and_error(flat[:, :, k])[:2] for k in range(flat.shape[2])]
        shape = tr.shape[2:]
        return (np.array([p[0] for p in pairs]).reshape(shape), np.array([p[1] for p in pairs]).reshape(shape))

    def tau(self, name: str = "energy") -> float:
        return mean_and_error(self.trace(name))[2]

    def ess(self, name: str = "energy") -> float:
        """Effective sample size of `name`."""
        return mean_and_error(self.trace(name))[3]

    def equilibration(self, name: str = "energy") -> list:
        """Means over the last 1/2, 1/4, 1/8 … of each chain: they agree when the run is equilibrated."""
        return log_binning(self.trace(name))

    def summary(self) -> dict:
        """What `pbit run --json` prints."""
        out = {"backend": self.info.get("backend"), "num_spins": int(self.samples.shape[1]),
               "num_colors": self.ir.num_colors if self.ir is not None else None,
               "samples": int(len(self.samples)), "chains": self.num_chains}
        if len(self.samples):
            m, se, tau, ess = mean_and_error(self.trace("energy"))
            out["energy"] = {"mean": m, "se": se, "tau": tau, "ess": ess}
            obs = {}
            for name in self.observables:
                mean, se = self.mean(name)
                obs[name] = {"mean": np.asarray(mean).tolist(), "se": np.asarray(se).tolist()}
            out["observables"] = obs
            if self.ir is not None and self.ir.constraints:
                v = self.violations()
                out["constraints"] = {k: {"violated_fraction": float(np.mean(np.any(a > 0, axis=1)))}
                                      for k, a in v.items()}
        for key in ("timings", "spin_updates", "spin_updates_per_s", "interrupted", "beta", "seed",
                    "energy_per_sample_J", "latency_per_sample_s", "tempering"):
            if key in self.info:
                out[key] = self.info[key]
        return out

    def to_dimod(self):
        """A dimod.SampleSet (SPIN vartype; variable labels are the spin names)."""
        try:
            import dimod
        except ImportError:
            raise PbitError("to_dimod() needs dimod: pip install 'pbitlang[dimod]'") from None
        labels = [self.ir.spin_name(i) for i in range(self.samples.shape[1])]
        return dimod.SampleSet.from_samples((self.samples, labels), vartype="SPIN", energy=self.energies)

    # ---- files
    def save(self, path) -> None:
        info = json.loads(json.dumps(self.info, default=_jsonable))
        meta = {"format": SAMPLES_FORMAT, "version": SAMPLES_VERSION, "num_chains": self.num_chains, "info": info,
                "layout": {k: [s, list(sh), kd] for k, (s, sh, kd) in self.ir.layout.items()} if self.ir else {}}
        arrays = {"samples": self.samples, "energies": self.energies}
        for name, value in self.observables.items():
            arrays[f"observable/{name}"] = value
        arrays["meta.json"] = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        with open(path, "wb") as fh:
            np.savez_compressed(fh, **arrays)

    @staticmethod
    def load(path, ir=None) -> "SampleResult":
        """Load saved samples; with `ir`, energies and observables are recomputed from it."""
        try:
            with np.load(Path(path), allow_pickle=False) as z:
                arrays = {k: z[k] for k in z.files}
            meta = json.loads(arrays.pop("meta.json").tobytes().decode())
            if meta.get("format") != SAMPLES_FORMAT or meta.get("version") != SAMPLES_VERSION:
                raise ValueError("not a pbit samples file of a known version")
            samples = arrays["samples"]
        except FileNotFoundError:
            raise IRFileError(f"{path}: no such file") from None
        except (zipfile.BadZipFile, ValueError, OSError, EOFError, KeyError, UnicodeDecodeError) as err:
            raise IRFileError(f"{path}: not a samples file ({err})") from None
        obs = {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith("observable/")}
        if ir is not None:
            return SampleResult(ir, samples, meta["num_chains"], meta["info"])
        return SampleResult(None, samples, meta["num_chains"], meta["info"], arrays["energies"], obs)


def _jsonable(x):
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    return str(x)
