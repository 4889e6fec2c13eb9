"""Reading the files the project reads — .pbir programs, samples (.npz), training data and
parameter arrays (.npy/.npz) — as untrusted data, in one place.

A file is checked before anything is allocated from what it declares: it must be a zip (or one
.npy) whose members are plain, unencrypted, stored or deflated .npy arrays of numbers (never
objects: allow_pickle stays False), whose headers parse, whose declared sizes match the bytes
the member holds, and whose total fits in the memory available.  Every failure — a damaged zip,
a truncated member, a header numpy cannot parse, JSON nested too deep — is the caller's PbitError
with the path, never a Python exception.  What the arrays must satisfy for a given format (sizes,
index ranges, a proper colouring) is checked by that format's loader (ir.validate for .pbir)."""
from __future__ import annotations

import json
import math
import os
import signal
import threading
import zipfile
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import numpy.lib.format as npformat

from .errors import PbitError
from .limits import available_memory

NUMERIC_KINDS = "biuf"
MAX_JSON_BYTES = 64 * 2**20


def is_file(path) -> bool:
    """Path(path).is_file(), False (not an exception) for names the system refuses: too long, NUL bytes."""
    try:
        return Path(path).is_file()
    except (OSError, ValueError):
        return False


def is_dir(path) -> bool:
    try:
        return Path(path).is_dir()
    except (OSError, ValueError):
        return False


def _header(fh) -> tuple:
    """(shape, dtype, header bytes) of an .npy stream, checked: numbers only, a sane shape."""
    start = fh.tell() if fh.seekable() else None
    major, _ = npformat.read_magic(fh)
    read = npformat.read_array_header_1_0 if major == 1 else npformat.read_array_header_2_0
    shape, fortran, dtype = read(fh, max_header_size=10_000)
    if dtype.hasobject or dtype.kind not in NUMERIC_KINDS or dtype.fields is not None:
        raise ValueError(f"arrays of {dtype} are not data this project reads")
    if not isinstance(shape, tuple) or any(not isinstance(d, int) or d < 0 for d in shape) or len(shape) > 32:
        raise ValueError(f"bad shape {shape!r}")
    used = fh.tell() - start if start is not None else None
    return shape, dtype, fortran, used


def _checked_read(open_member, size_on_disk: int | None, budget: list) -> np.ndarray:
    with open_member() as fh:
        shape, dtype, fortran, header = _header(fh)
        nbytes = math.prod(shape) * dtype.itemsize
        if size_on_disk is not None and header is not None and nbytes != size_on_disk - header:
            raise ValueError(f"the header declares {nbytes:,} bytes of data, the member holds "
                             f"{size_on_disk - header:,}")
        budget[0] -= nbytes
        if budget[0] < 0:
            raise ValueError(f"its arrays would need more memory than is available ({nbytes:,} bytes for one)")
        data = bytearray(nbytes)                   # writable, filled in place: no second copy
        view, got = memoryview(data), 0
        while got < nbytes:
            step = fh.readinto(view[got:])
            if not step:
                raise ValueError("truncated array data")
            got += step
    arr = np.frombuffer(data, dtype=dtype)
    return arr.reshape(shape[::-1]).T if fortran else arr.reshape(shape)


def read_arrays(path, error: type = PbitError, what: str = "data", only=None) -> dict:
    """name → array of every member of an .npz (or of the members named in `only`), or {"": array}
    for an .npy; `error` (a PbitError class) with the path for anything that is not a sound file of
    numeric arrays."""
    path = Path(path)
    if not is_file(path):
        raise error(f"{path}: no such file" if not is_dir(path) else f"{path}: is a directory")
    budget = [available_memory() or 2**62]
    try:
        if not zipfile.is_zipfile(path):
            return {"": _checked_read(lambda: open(path, "rb"), path.stat().st_size, budget)}
        out = {}
        with zipfile.ZipFile(path) as zf:
            for info in zf.infolist():
                if info.flag_bits & 0x1:
                    raise ValueError(f"member {info.filename} is encrypted")
                if info.compress_type not in (zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED):
                    raise ValueError(f"member {info.filename} uses an unsupported compression")
                if not info.filename.endswith(".npy"):
                    raise ValueError(f"member {info.filename} is not an array")
                if only is not None and info.filename[:-4] not in only:
                    continue
                out[info.filename[:-4]] = _checked_read(lambda info=info: zf.open(info), info.file_size, budget)
        return out
    except PbitError:
        raise
    except MemoryError:
        raise error(f"{path}: its arrays do not fit in memory") from None
    except Exception as err:  # noqa: BLE001 - a damaged file may fail inside zipfile, zlib or numpy in any way
        raise error(f"{path}: not a {what} file, or a damaged one ({type(err).__name__}: {str(err)[:200]})") from None


def only_array(arrays: dict, path, error: type = PbitError, what: str = "data") -> np.ndarray:
    """The one array of what read_arrays gave (an .npy, or an .npz with exactly one member)."""
    if len(arrays) != 1:
        raise error(f"{path}: {what} must be one array (the file holds {', '.join(arrays) or 'none'})")
    return next(iter(arrays.values()))


def read_json(arrays: dict, key: str, path, error: type = PbitError, what: str = "data") -> dict:
    """The JSON object stored as uint8 bytes under `key` (a .pbir's or samples file's meta.json)."""
    blob = arrays.pop(key, None)
    if blob is None:
        raise error(f"{path}: not a {what} file (no {key})")
    try:
        if blob.dtype != np.uint8 or blob.ndim != 1 or blob.size > MAX_JSON_BYTES:
            raise ValueError("not JSON bytes")
        meta = json.loads(blob.tobytes().decode("utf-8"))
    except (ValueError, UnicodeDecodeError, RecursionError) as err:
        raise error(f"{path}: not a {what} file (unreadable {key}: {type(err).__name__})") from None
    if not isinstance(meta, dict):
        raise error(f"{path}: not a {what} file ({key} is not an object)")
    return meta


def read_json_lines(path, numbers: tuple, counts: tuple = (), error: type = PbitError, what: str = "log") -> list:
    """The rows of a JSON-lines file (a training log), each an object whose `numbers` keys are
    numbers (NaN allowed: a diverging run logs one) and `counts` keys whole numbers ≥ 0; a bad line
    is named by its number.  The file must fit in a tenth of free memory."""
    path = Path(path)
    try:
        size = path.stat().st_size
        if size > available_memory() // 10:
            raise error(f"{path}: {size:,} bytes is too large a {what} for this machine's free memory")
        rows = []
        with open(path, encoding="utf-8") as fh:
            for number, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    row = json.loads(line)
                except (ValueError, RecursionError):
                    raise error(f"{path}:{number}: not a JSON object") from None
                if not isinstance(row, dict):
                    raise error(f"{path}:{number}: not a JSON object")
                bad = [k for k in numbers if isinstance(row.get(k), bool) or not isinstance(row.get(k), (int, float))]
                bad += [k for k in counts if isinstance(row.get(k), bool) or not isinstance(row.get(k), int)
                        or not 0 <= row[k] < 2 ** 53]
                if bad:
                    raise error(f"{path}:{number}: a {what} row needs numbers {', '.join(bad)}")
                rows.append(row)
    except OSError as err:
        raise error(f"{path}: cannot be read ({err.strerror})") from None
    except UnicodeDecodeError:
        raise error(f"{path}: not a {what} (not UTF-8 text)") from None
    return rows


@contextmanager
def interrupts_held():
    """Hold Ctrl-C off while a file is written: a SIGINT meanwhile is raised once the block ends."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    caught = []
    previous = signal.signal(signal.SIGINT, lambda *_: caught.append(True))
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if caught:
        raise KeyboardInterrupt


@contextmanager
def atomic_write(path):
    """Write a file whole or not at all: the block writes the temporary path it is given, beside
    `path`, which replaces `path` when the block ends; Ctrl-C is held off meanwhile (a second Ctrl-C
    while saving cannot leave half a file), and a failure leaves `path` as it was."""
    path = Path(path)
    tmp = path.with_name(f".{path.name}.partial")
    with interrupts_held():
        try:
            yield tmp
            os.replace(tmp, path)
        finally:
            tmp.unlink(missing_ok=True)
