"""SampleResult: what every backend returns.

Energies and observables are recomputed from the IR (never trusted from a
backend).  Means come with standard errors that account for autocorrelation
(pbitlang.stats).  Files are npz + JSON, loaded with allow_pickle=False."""
from __future__ import annotations

import json
import math
import zipfile
from collections.abc import Mapping
from functools import cached_property
from pathlib import Path

import numpy as np
import numpy.lib.format as npformat

from .errors import IRFileError, PbitError, require
from .files import atomic_write
from .stats import diagnostics, log_binning, mean_and_error

RHAT_LIMIT = 1.01              # Vehtari et al. (2021): trust a run whose rank-normalised R-hat is below this

SAMPLES_FORMAT = "pbit-samples"
SAMPLES_VERSION = 1
TRANSPOSE_SWEEPS = 4


class SampleResult:
    """Samples (int8 ±1) of one run, with the IR they came from.

    A sampler's own layout is `native` (kept, n, chains); `samples` is the contract's view
    (chains × kept, n), chain-major, made on first use.  Energies and observables are measured
    (pbitlang.measure) from the int8 states when first asked for, one name at a time, and kept.
    A tempering run also keeps `ladder_energies` (chains, kept, replicas): every temperature's
    energy at each kept sweep, coldest-last like info["tempering"]["ladder"]."""

    ladder_energies = None

    def __init__(self, ir, samples: np.ndarray, num_chains: int, info: dict | None = None,
                 energies: np.ndarray | None = None, observables: dict | None = None):
        self.ir = ir
        self.__dict__["samples"] = np.ascontiguousarray(samples, dtype=np.int8)
        self.num_chains = int(num_chains)
        self.info = dict(info or {})
        self._stored = dict(observables or {})      # name -> (samples, ...) given, not measured
        if energies is not None:
            self._stored["energy"] = np.asarray(energies, dtype=np.float64)
        self._traces: dict = {}

    @classmethod
    def from_native(cls, ir, native: np.ndarray, info: dict | None = None) -> "SampleResult":
        """A result over states in the samplers' layout (kept, n, chains), kept as they are."""
        res = cls.__new__(cls)
        res.ir, res.num_chains, res.info = ir, int(native.shape[2]), dict(info or {})
        res._stored, res._traces = {}, {}
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
        return chain_major(self.native, 0, n).reshape(C * kept, n)

    def __repr__(self):
        return (f"<SampleResult {self.info.get('backend', '?')}: {len(self)} samples × {self.num_spins} "
                f"spins, {self.num_chains} chains>")

    def __len__(self):
        return self.kept * self.num_chains

    @property
    def kept(self) -> int:
        if "native" in self.__dict__:
            return self.native.shape[0]
        return len(self.samples) // max(self.num_chains, 1)

    @property
    def num_spins(self) -> int:
        return self.native.shape[1] if "native" in self.__dict__ else self.samples.shape[1]

    @property
    def energies(self) -> np.ndarray:
        """E of every sample (chains × kept,), chain-major like `samples`."""
        return self.trace("energy").reshape(-1)

    @property
    def observables(self) -> Mapping:
        """name -> (chains × kept, *shape): each measured on first access."""
        return _Observables(self)

    def _names(self) -> list:
        if self.ir is not None:
            return list(self.ir.observables)
        return [k for k in self._stored if k != "energy"]

    def trace(self, name: str = "energy") -> np.ndarray:
        """Per-chain trace (chains, kept, ...) of 'energy' or an observable, measured once."""
        if name not in self._traces:
            self._traces[name] = self._measure(name)
        return self._traces[name]

    def _measure(self, name: str) -> np.ndarray:
        C, K = self.num_chains, self.kept
        if name in self._stored:
            v = self._stored[name]
            return v.reshape((C, K) + v.shape[1:])
        if name != "energy" and name not in self._names():
            known = ", ".join(["energy"] + self._names())
            raise PbitError(f"no observable '{name}' (this run has: {known})")
        if self.ir is None:
            raise PbitError(f"'{name}' was not saved with these samples; load them with the program's IR")
        from . import measure
        if name == "energy":
            return measure.energies(self.ir, self.native).T.copy() if K * C else np.zeros((C, K))
        ob = self.ir.observables[name]
        values = ob.values(self.native)                                    # (K, size, C)
        return np.ascontiguousarray(values.transpose(2, 0, 1)).reshape((C, K) + ob.shape)

    def variables(self, name: str) -> np.ndarray:
        """Samples of one declared variable in its declared shape (bits as 0/1), from the layout
        of the program (or of the file the samples were loaded from)."""
        layout = self.layout
        if name not in layout:
            raise PbitError(f"no variable '{name}' (variables: {', '.join(layout) or 'none recorded'})")
        start, shape, kind = layout[name]
        size = math.prod(shape)
        if "native" in self.__dict__:
            block = chain_major(self.native, start, start + size).reshape((len(self),) + tuple(shape))
        else:
            block = self.samples[:, start:start + size].reshape((len(self),) + tuple(shape))
        return ((block + 1) // 2).astype(np.int8) if kind == "bit" else np.ascontiguousarray(block)

    @property
    def layout(self) -> dict:
        """name -> (start, shape, kind) of the declared variables."""
        if self.ir is not None:
            return dict(self.ir.layout)
        return {k: (int(s), tuple(sh), kd) for k, (s, sh, kd) in self.info.get("layout", {}).items()}

    def violations(self) -> dict:
        """Constraint name → (num_samples, instances) amounts of violation (0 where satisfied)."""
        C, K = self.num_chains, self.kept
        return {c.name: c.amounts(self.native).transpose(2, 0, 1).reshape(C * K, c.num_instances)
                for c in self.ir.constraints}

    def mean(self, name: str = "energy") -> tuple:
        """(mean, standard error) with autocorrelation; arrays for array observables."""
        m, se, _, _ = _per_component(self.trace(name))
        return (float(m), float(se)) if m.ndim == 0 else (m, se)

    def tau(self, name: str = "energy") -> float:
        return mean_and_error(self.trace(name))[2]

    def ess(self, name: str = "energy") -> float:
        """Effective sample size of `name`."""
        return mean_and_error(self.trace(name))[3]

    def equilibration(self, name: str = "energy") -> list:
        """Means over the last 1/2, 1/4, 1/8 … of each chain: they agree when the run is equilibrated."""
        return log_binning(self.trace(name))

    @property
    def annealed(self) -> bool:
        """Whether β changed during the run (a schedule): then only each chain's last state is at
        the final β, and the summary is of those states, not an equilibrium mean over the run."""
        return isinstance(self.info.get("beta"), dict)

    def best(self) -> dict:
        """The lowest-energy sample: its energy, row in `samples`, chain and kept index, and for each
        constraint the number of instances it violates (a max-cut or colouring user's answer)."""
        E = self.trace("energy")
        c, k = np.unravel_index(int(np.argmin(E)), E.shape)
        out = {"energy": float(E[c, k]), "sample": int(c * self.kept + k), "chain": int(c), "kept_index": int(k)}
        if self.ir is not None and self.ir.constraints:
            state = self.native[k:k + 1, :, c:c + 1]
            out["violations"] = {con.name: int(np.count_nonzero(con.amounts(state))) for con in self.ir.constraints}
        return out

    def summary(self, min_ess: float = 100.0) -> dict:
        """What `pbit run` prints (and `--json` carries): the run's settings, the best sample, every
        observable's mean ± SE with τ_int and ESS, warnings (few effective samples, a chain not
        equilibrated), and what the backend reports (tempering's swaps, the emulator's ledger)."""
        out = {"backend": self.info.get("backend"), "num_spins": int(self.num_spins),
               "num_colors": self.ir.num_colors if self.ir is not None else self.info.get("num_colors"),
               "samples": len(self), "chains": self.num_chains}
        for key in ("beta", "sweeps", "burn_in", "thin", "seed"):
            if key in self.info:
                out[key] = self.info[key]
        warnings = []
        if len(self):
            out["best"] = self.best()
            final = self.annealed
            if final:
                out["summarised"] = "the last state of each chain (the run annealed β)"
            out["energy"] = self._estimate("energy", final)
            out["observables"] = {name: self._estimate(name, final) for name in self._names()}
            few = [f"{name} {np.min(est['ess']):.0f}" for name, est in [("energy", out["energy"]),
                                                                         *out["observables"].items()]
                   if np.min(est["ess"]) < min_ess]
            if few and not final:
                warnings.append(f"few effective samples (< {min_ess:.0f}): {', '.join(few)}; run longer or use more "
                                f"chains before trusting these error bars")
            high = [f"{name} {est['rhat']:.3f}" for name, est in [("energy", out["energy"]), *out["observables"].items()]
                    if est.get("rhat") is not None and est["rhat"] > RHAT_LIMIT]
            if high:
                warnings.append(f"the chains disagree (R-hat > {RHAT_LIMIT}): {', '.join(high)}; run longer or raise "
                                f"--burn-in")
            if not final and self.kept >= 8 and not self._equilibrated():
                warnings.append("energy: the last quarter of the run disagrees with the last half by more than "
                                "3 standard errors; the chains may not have equilibrated (raise --burn-in)")
            if self.ir is not None and self.ir.constraints:
                states = self.native[-1:] if final else self.native
                out["constraints"] = {c.name: {"violated_fraction": float(np.mean(np.any(
                    c.amounts(states) > 0, axis=1)))} for c in self.ir.constraints}
        if self.info.get("interrupted"):
            warnings.append("the run was interrupted; these are the samples drawn before it stopped")
        out["warnings"] = warnings
        for key, value in self.info.items():
            if key not in out and key not in ("layout", "chains", "labels"):
                out[key] = value
        return out

    def _estimate(self, name: str, final: bool) -> dict:
        """mean, se, tau, ess of a trace (arrays for array observables); with `final`, of each
        chain's last value only (independent chains: τ = 1)."""
        tr = self.trace(name)
        cols = _per_component(tr[:, -1:] if final else tr)
        out = {key: (float(v) if v.ndim == 0 else v.tolist()) for key, v in zip(("mean", "se", "tau", "ess"), cols)}
        extra = diagnostics(tr) if not final and tr.ndim == 2 else None       # scalars: arrays would cost a pass each
        out.update({key: _plain(v) for key, v in (extra or {}).items()})
        return out

    def _equilibrated(self) -> bool:
        """The energy's mean over the last quarter agrees with the last half's within 3 SE."""
        levels = self.equilibration("energy")
        if len(levels) < 2:
            return True
        half, quarter = levels[0], levels[1]
        spread = math.hypot(half["se"], quarter["se"])
        return not (spread > 0 and abs(half["mean"] - quarter["mean"]) > 3 * spread)

    @property
    def kept_sweeps(self) -> np.ndarray:
        """The sweep (burn-in counted) at which each kept draw of a chain was recorded."""
        return int(self.info.get("burn_in", 0)) + int(self.info.get("thin", 1)) * np.arange(1, self.kept + 1)

    @property
    def labels(self) -> list:
        """The label of each column of `samples`: the model's own labels (a dimod model, a model
        file) or the spin names `s[3, 4]`."""
        if self.ir is not None:
            return [self.ir.label(i) for i in range(self.num_spins)]
        saved = self.info.get("labels")
        return list(saved) if saved else [f"spin {i}" for i in range(self.num_spins)]

    def to_dimod(self):
        """A dimod.SampleSet of every sample, with the model's labels: BINARY (0/1) when every variable
        is a bit, SPIN otherwise; `info` carries the run's info, and the vectors `chain` and `sweep`
        say where each row was drawn."""
        from .ir import only_bits
        dimod = require("dimod", "dimod", "to_dimod()")
        binary = only_bits(self.layout)
        values = (self.samples + 1) // 2 if binary else self.samples
        C, K = self.num_chains, self.kept
        return dimod.SampleSet.from_samples((values, self.labels), vartype="BINARY" if binary else "SPIN",
                                            energy=self.energies, info=dict(self.info),
                                            chain=np.repeat(np.arange(C), K), sweep=np.tile(self.kept_sweeps, C))

    def to_arviz(self):
        """The run as ArviZ data (extra `arviz`): an xarray DataTree whose `posterior` group
        has dimensions chain and draw (the draw coordinate is the sweep) and one variable per
        observable plus `energy`, for arviz's summaries and plots."""
        from_dict = require("arviz_base", "arviz", "to_arviz()").from_dict
        names = ["energy"] + self._names()
        return from_dict({"posterior": {name: self.trace(name) for name in names}}, coords={"draw": self.kept_sweeps})

    def plot(self, kind: str | None = None, ax=None, **options):
        """A picture of this run (extra `plot`): kind trace, hist, autocorr, overlap, images, ladder,
        or summary (trace + hist); the default is images for a generation, summary otherwise.
        Returns a matplotlib Figure, or `ax` when one is given.  Options: pbitlang.plot.plot."""
        from .plot import plot
        return plot(self, kind, ax, **options)

    # ---- files
    def save(self, path) -> None:
        """npz + JSON (format pbit-samples v1): samples (chains × kept, n) int8, energies, one
        `observable/NAME` per observable and meta.json.  Streamed chain by chain into a temporary
        file beside `path` and renamed at the end, with Ctrl-C held off meanwhile: an existing
        `path` is replaced whole or not at all."""
        path = Path(path)
        info = json.loads(json.dumps(self.info, default=jsonable))
        layout = {k: [int(s), list(sh), kd] for k, (s, sh, kd) in self.layout.items()}
        meta = {"format": SAMPLES_FORMAT, "version": SAMPLES_VERSION, "num_chains": self.num_chains,
                "num_spins": int(self.num_spins), "kept": self.kept, "info": info, "layout": layout}
        if self.ir is not None and self.ir.labels:
            from .ir import labels_to_json
            meta["info"]["labels"] = [labels_to_json(x) for x in self.ir.labels]
        C, K = self.num_chains, self.kept
        members = [("samples", (C * K, self.num_spins), np.int8, self._chain_blocks()),
                   ("energies", (C * K,), np.float64, [self.energies])]
        for name in self._names():
            tr = self.trace(name)
            members.append((f"observable/{name}", (C * K,) + tr.shape[2:], np.float64, [tr]))
        if self.ladder_energies is not None:
            members.append(("tempering/energies", self.ladder_energies.shape, np.float64, [self.ladder_energies]))
        blob = np.frombuffer(json.dumps(meta).encode(), dtype=np.uint8)
        members.append(("meta.json", blob.shape, np.uint8, [blob]))
        with atomic_write(path) as tmp:
            with zipfile.ZipFile(tmp, "w", zipfile.ZIP_DEFLATED, compresslevel=1, allowZip64=True) as zf:
                for name, shape, dtype, blocks in members:
                    _write_npy(zf, name, shape, dtype, blocks)

    def _chain_blocks(self):
        """The chain-major rows of `samples`, one chain at a time, without making `samples`."""
        if "native" not in self.__dict__:
            yield self.samples
            return
        for c in range(self.num_chains):
            yield np.ascontiguousarray(self.native[:, :, c])

    @staticmethod
    def load(path, ir=None) -> "SampleResult":
        """Load saved samples, checked against the format; with `ir`, energies and observables are
        recomputed from it, without it the saved ones are used.  A folder written by a cluster run's
        shards (shards.json beside one samples file per shard) is read shard by shard and joined."""
        from .files import is_dir, read_arrays
        if is_dir(path):
            return _load_shards(Path(path), ir)
        return SampleResult.from_arrays(read_arrays(path, IRFileError, "samples"), path, ir)

    @staticmethod
    def from_arrays(arrays: dict, path, ir=None) -> "SampleResult":
        """A samples file's arrays, already read by files.read_arrays, checked against the format."""
        from .files import read_json
        arrays = dict(arrays)
        meta = read_json(arrays, "meta.json", path, IRFileError, "samples")
        if meta.get("format") != SAMPLES_FORMAT or meta.get("version") != SAMPLES_VERSION:
            raise IRFileError(f"{path}: not a pbit samples file of a known version")
        try:
            samples, chains, info, layout, obs, ladder = _checked_samples(arrays, meta, ir)
        except (ValueError, TypeError, KeyError, AttributeError, OverflowError, RecursionError) as err:
            raise IRFileError(f"{path}: malformed samples file ({type(err).__name__}: {str(err)[:200]})") from None
        info["layout"] = layout
        if ir is not None:
            res = SampleResult(ir, samples, chains, info)
        else:
            res = SampleResult(None, samples, chains, info, arrays.get("energies"), obs)
        res.ladder_energies = ladder
        return res


SHARDS_FORMAT = "pbit-shards"
SHARDS_FILE = "shards.json"


def write_shard_index(folder, shards: list, info: dict) -> None:
    """shards.json of a folder of shard files: [(file name, first chain, chains), …] in chain order."""
    body = {"format": SHARDS_FORMAT, "version": 1, "info": json.loads(json.dumps(info, default=jsonable)),
            "shards": [{"file": f, "first_chain": a, "chains": k} for f, a, k in shards]}
    with atomic_write(Path(folder) / SHARDS_FILE) as tmp:
        Path(tmp).write_text(json.dumps(body))


def _load_shards(folder: Path, ir) -> "ShardedResult":
    """The index of a folder of shards and each shard's meta, checked (names inside the folder, runs of
    chains in increasing order, the same spins and kept draws in every shard); the states stay on
    disk until asked for (ShardedResult)."""
    from .files import MAX_JSON_BYTES, is_file, read_arrays, read_json
    index = folder / SHARDS_FILE
    if not is_file(index):
        raise IRFileError(f"{folder}: a folder of samples needs {SHARDS_FILE} (written by a cluster run's -o DIR)")
    try:
        if index.stat().st_size > MAX_JSON_BYTES:
            raise ValueError("shards.json is too large")
        body = json.loads(index.read_text(encoding="utf-8"))
        if body.get("format") != SHARDS_FORMAT or body.get("version") != 1 or not body.get("shards"):
            raise ValueError("not a pbit-shards index of a known version")
        files, metas, ladders, expect = [], [], [], 0
        for entry in body["shards"]:
            name, first, count = entry["file"], entry["first_chain"], entry["chains"]
            if not isinstance(name, str) or Path(name).name != name or first < expect or count < 1:
                raise ValueError(f"shard {name!r} is not a later run of chains inside the folder")
            arrays = read_arrays(folder / name, IRFileError, "samples", only={"meta.json", "tempering/energies"})
            meta = read_json(arrays, "meta.json", folder / name, IRFileError, "samples")
            if meta.get("format") != SAMPLES_FORMAT or meta.get("version") != SAMPLES_VERSION:
                raise ValueError(f"shard {name} is not a pbit samples file of a known version")
            if meta.get("num_chains") != count:
                raise ValueError(f"shard {name} holds {meta.get('num_chains')} chains, the index says {count}")
            files.append((name, count))
            metas.append(meta)
            ladders.append(arrays.get("tempering/energies"))
            expect = first + count                          # an interrupted run may have gaps between shards
        shapes = {(m.get("kept"), m.get("num_spins")) for m in metas}
        kept, n = shapes.pop()
        if shapes or not all(isinstance(v, int) and not isinstance(v, bool) and v >= 0 for v in (kept, n)):
            raise ValueError("the shards differ in spins or kept draws")
        if ir is not None and n != ir.num_spins:
            raise ValueError(f"{n} spins per sample, the program has {ir.num_spins}")
        info, layout = _checked_info(metas[0], n)
        extra = body.get("info") or {}
        if not isinstance(extra, dict):
            raise ValueError("the index's info must be an object")
        info = {**info, **extra, "layout": layout}
        replicas = len((info.get("tempering") or {}).get("ladder") or ())
        for (_, count), ladder in zip(files, ladders):
            if ladder is not None and (ladder.shape != (count, kept, replicas) or ladder.dtype.kind != "f"):
                raise ValueError("tempering/energies must be (chains, kept, replicas) floats, as the ladder in info")
        with zipfile.ZipFile(folder / files[0][0]) as zf:
            names = [m[len("observable/"):-4] for m in zf.namelist() if m.startswith("observable/")]
    except (ValueError, TypeError, KeyError, AttributeError, UnicodeDecodeError, RecursionError,
            zipfile.BadZipFile) as err:
        raise IRFileError(f"{folder}: malformed folder of shards ({str(err)[:200]})") from None
    res = ShardedResult(ir, folder, files, kept, n, info, names)
    if all(x is not None for x in ladders):
        res.ladder_energies = np.concatenate(ladders)
    return res


class ShardedResult(SampleResult):
    """The samples of a folder of shards (a cluster run's `-o DIR` with `--shard-files`), read lazily:
    at load only the index and each shard's meta; energies, observables, means and variables()
    then go one shard at a time (one shard's states in memory, never all), and `samples` / `native`
    join every shard on first use.  shards() gives each shard's SampleResult in chain order."""

    def __init__(self, ir, folder: Path, files: list, kept: int, n: int, info: dict, names: list):
        self.ir, self.folder, self.files = ir, Path(folder), list(files)
        self.num_chains = sum(count for _, count in files)
        self._kept, self._n, self._saved_names = kept, n, list(names)
        self.info = info
        self._stored, self._traces = {}, {}

    @property
    def kept(self) -> int:
        return self._kept

    @property
    def num_spins(self) -> int:
        return self._n

    def _names(self) -> list:
        return list(self.ir.observables) if self.ir is not None else list(self._saved_names)

    def _joined(self) -> bool:
        return "samples" in self.__dict__ or "native" in self.__dict__

    def shards(self):
        """Each shard's SampleResult (with this result's IR, if it has one), read when reached."""
        for name, count in self.files:
            part = SampleResult.load(self.folder / name, self.ir)
            if (part.num_chains, part.kept, part.num_spins) != (count, self._kept, self._n):
                raise IRFileError(f"{self.folder / name}: the shard changed since its folder was loaded")
            yield part

    @cached_property
    def samples(self) -> np.ndarray:
        return np.concatenate([part.samples for part in self.shards()])

    def _measure(self, name: str) -> np.ndarray:
        if self._joined() and self.ir is not None:          # measured from the joined states (else: the saved ones)
            return super()._measure(name)
        return np.concatenate([part.trace(name) for part in self.shards()])

    def variables(self, name: str) -> np.ndarray:
        if self._joined() or name not in self.layout:
            return super().variables(name)
        return np.concatenate([part.variables(name) for part in self.shards()])


def _checked_info(meta: dict, n: int) -> tuple:
    """(info, layout) of a samples file's meta, checked against its n spins per sample."""
    info = meta.get("info") or {}
    if not isinstance(info, dict):
        raise ValueError("info must be an object")
    if "labels" in info:
        from .ir import label_from_json
        info = {**info, "labels": [label_from_json(x) for x in info["labels"]]}
        if len(info["labels"]) != n or len(set(info["labels"])) != n:
            raise ValueError("labels must name every column once")
    layout = {}
    for name, entry in (meta.get("layout") or {}).items():
        start, shape, kind = entry
        shape = tuple(shape)
        if not (isinstance(start, int) and all(isinstance(d, int) and d >= 0 for d in shape)
                and kind in ("spin", "bit") and 0 <= start and start + math.prod(shape) <= n):
            raise ValueError(f"the layout of '{name}' lies outside the samples")
        layout[name] = (start, shape, kind)
    return info, layout


def _checked_samples(arrays: dict, meta: dict, ir) -> tuple:
    """(samples, chains, info, layout, observables, ladder energies) of a samples file, every part checked."""
    samples, chains = arrays.get("samples"), meta.get("num_chains")
    if samples is None or samples.dtype != np.int8 or samples.ndim != 2:
        raise ValueError("samples must be an int8 array (chains × kept, n)")
    if isinstance(chains, bool) or not isinstance(chains, int) or chains < 1 or len(samples) % chains:
        raise ValueError("num_chains must be a positive divisor of the number of samples")
    if not np.all(np.abs(samples) == 1):
        raise ValueError("samples must be ±1")
    S, n = samples.shape
    if ir is not None and n != ir.num_spins:
        raise ValueError(f"{n} spins per sample, the program has {ir.num_spins}")
    info, layout = _checked_info(meta, n)
    energies = arrays.get("energies")
    if energies is not None and (energies.shape != (S,) or energies.dtype.kind != "f"):
        raise ValueError("energies must be one float per sample")
    obs = {k.split("/", 1)[1]: v for k, v in arrays.items() if k.startswith("observable/")}
    for name, value in obs.items():
        if value.ndim < 1 or len(value) != S or value.dtype.kind != "f":
            raise ValueError(f"observable '{name}' must have one float value per sample")
    ladder = arrays.get("tempering/energies")
    if ladder is not None:
        replicas = len((info.get("tempering") or {}).get("ladder") or ())
        if ladder.shape != (chains, S // chains, replicas) or ladder.dtype.kind != "f":
            raise ValueError("tempering/energies must be (chains, kept, replicas) floats, as the ladder in info")
    return samples, chains, dict(info), layout, obs, ladder


def chain_major(native: np.ndarray, start: int, stop: int) -> np.ndarray:
    """Columns start:stop of native (kept, n, chains) as (chains, kept, stop − start), copied a few
    sweeps at a time so that each piece of the transpose stays in cache (≈ 8× numpy's own)."""
    kept, _, chains = native.shape
    out = np.empty((chains, kept, stop - start), dtype=native.dtype)
    for k in range(0, kept, TRANSPOSE_SWEEPS):
        out[:, k:k + TRANSPOSE_SWEEPS] = native[k:k + TRANSPOSE_SWEEPS, start:stop].transpose(2, 0, 1)
    return out


def _write_npy(zf: zipfile.ZipFile, name: str, shape: tuple, dtype, blocks) -> None:
    """One .npy member of an npz, written block by block (the blocks fill `shape` in C order)."""
    with zf.open(f"{name}.npy", "w", force_zip64=True) as fh:
        header = {"descr": npformat.dtype_to_descr(np.dtype(dtype)), "fortran_order": False, "shape": tuple(shape)}
        npformat.write_array_header_2_0(fh, header)
        for block in blocks:
            fh.write(np.ascontiguousarray(block, dtype=dtype).data)


def jsonable(x):
    """json.dumps(default=...) for what run info holds: numpy scalars and arrays, anything else as text."""
    if isinstance(x, np.generic):
        return x.item()
    if isinstance(x, np.ndarray):
        return x.tolist()
    return str(x)


def _plain(v) -> float | None:
    """A scalar diagnostic as a float, NaN as None (R-hat of a constant trace has none)."""
    v = float(v)
    return v if math.isfinite(v) else None


def _per_component(trace: np.ndarray) -> tuple:
    """(mean, SE, τ_int, ESS) of a trace (chains, kept, *shape), each an array of `shape` (0-d for
    a scalar trace): stats.mean_and_error on every component."""
    flat = trace.reshape(trace.shape[0], trace.shape[1], -1)
    rows = [mean_and_error(flat[:, :, k]) for k in range(flat.shape[2])]
    return tuple(np.array([r[i] for r in rows]).reshape(trace.shape[2:]) for i in range(4))


class _Observables(Mapping):
    """res.observables: a read-only mapping whose values are measured when looked up."""

    def __init__(self, res):
        self._res = res

    def __getitem__(self, name):
        res = self._res
        if name not in res._names():
            raise KeyError(name)
        tr = res.trace(name)
        return tr.reshape((len(res),) + tr.shape[2:])

    def __iter__(self):
        return iter(self._res._names())

    def __len__(self):
        return len(self._res._names())
