"""What both command-line tools share: argument errors, -D parsing, exit codes."""
from __future__ import annotations

import argparse
import math
import os
import signal
import sys
import tempfile
import traceback
import warnings
from pathlib import Path

from ..errors import DataError, PbitError, PbitWarning
from ..files import is_dir, is_file

EXIT_OK, EXIT_INTERNAL, EXIT_USER, EXIT_INTERRUPTED = 0, 1, 2, 130


class ArgumentError(Exception):
    pass


class HelpFormatter(argparse.ArgumentDefaultsHelpFormatter):
    """Every flag's default in --help, except where there is none or the help already says it."""

    def _get_help_string(self, action):
        if action.default in (None, False) or "default" in (action.help or ""):
            return action.help
        return super()._get_help_string(action)


class Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so main(argv) is testable in-process; --help shows
    every flag's default."""

    def __init__(self, *args, **kwargs):
        kwargs.setdefault("formatter_class", HelpFormatter)
        super().__init__(*args, **kwargs)

    def error(self, message):
        raise ArgumentError(f"{self.prog}: error: {message}")


def defines(items) -> dict:
    params = {}
    for text in items or []:
        name, value = parse_define(text)
        params[name] = value
    return params


def parse_define(text: str):
    """-D NAME=VALUE: a scalar (int, real, bool) or @file.npy."""
    if "=" not in text:
        raise PbitError(f"-D expects NAME=VALUE, got '{text}'")
    name, value = text.split("=", 1)
    name, value = name.strip(), value.strip()
    if not name.isidentifier():
        raise PbitError(f"-D: '{name}' is not a parameter name")
    if value.startswith("@"):
        return name, one_array(Path(value[1:]), f"-D {name}")
    low = value.lower()
    if low in ("true", "false"):
        return name, low == "true"
    try:
        return name, int(value)
    except ValueError:
        pass
    try:
        v = float(value)
    except ValueError:
        raise PbitError(f"-D {name}: '{value}' is not a number, true/false, or @file.npy") from None
    return name, v


def program_path(text: str, kinds=(".pb", ".pbir")) -> Path:
    """A command's program argument: always a path (the tools never read program text from the
    command line), of one of `kinds` (any case), an existing regular file."""
    path = Path(text)
    if is_dir(path):
        raise DataError(f"{text}: is a directory, not a program ({' or '.join(kinds)} file)")
    if path.suffix.lower() not in kinds:
        hint = next((f"; did you mean {path}{k}?" for k in kinds if is_file(f"{text}{k}")), "")
        raise DataError(f"{text}: not a program: expected a {' or '.join(kinds)} file{hint}")
    if not is_file(path):
        raise DataError(f"{text}: no such file")
    return path


def check_output(text: str | None, what: str = "output") -> None:
    """Refuse an output file that cannot be written, before any work is done: its folder must exist
    and take a new file (tried, not guessed from permissions), and it must not be a folder."""
    if not text:
        return
    path = Path(text)
    if is_dir(path):
        raise DataError(f"{what} {text}: is a directory")
    _probe_folder(path.parent if str(path.parent) else Path("."), f"{what} {text}")


def check_output_dir(text: str | None, what: str = "folder") -> None:
    """Refuse an output folder that cannot be made or written, before any work is done."""
    if not text:
        return
    path = Path(text)
    if path.exists() and not is_dir(path):
        raise DataError(f"{what} {text}: exists and is not a folder")
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise DataError(f"{what} {text}: cannot be created ({err.strerror})") from None
    _probe_folder(path, f"{what} {text}")


def _probe_folder(folder: Path, label: str) -> None:
    if not is_dir(folder):
        raise DataError(f"{label}: the folder {folder} does not exist")
    try:
        fd, probe = tempfile.mkstemp(dir=folder, prefix=".pbit-write-test-")
        os.close(fd)
        os.unlink(probe)
    except OSError as err:
        raise DataError(f"{label}: cannot write in {folder} ({err.strerror})") from None


def compile_progress(after: float = 2.0):
    """A progress(done, total, span) for the compiler that speaks on stderr only once a compile has
    taken `after` seconds, then at most once a second: where a long compile is."""
    import time
    start, last = time.monotonic(), [0.0]

    def report(done, total, span):
        now = time.monotonic()
        if now - start >= after and now - last[0] >= 1.0:
            last[0] = now
            print(f"compiling: statement {done + 1} of {total} ({span}), {now - start:.0f} s so far",
                  file=sys.stderr, flush=True)
    return report


def add_limit_flags(p) -> None:
    """--max-spins, --max-terms and --max-memory: the compiler's size limits, on every command that compiles."""
    from ..limits import Limits
    p.add_argument("--max-spins", type=int, default=Limits.max_spins, help="refuse programs with more spins")
    p.add_argument("--max-terms", type=int, default=Limits.max_terms,
                   help="refuse statements that span more index points")
    p.add_argument("--max-memory", type=parse_bytes, default=None, metavar="BYTES",
                   help="memory a compile may use, e.g. 8G (default: what the machine has available)")


def limits(args):
    from ..limits import Limits
    return Limits(max_spins=args.max_spins, max_terms=args.max_terms, max_memory=args.max_memory)


def parse_bytes(text: str) -> int:
    """'8G', '512M', '1e9' → bytes."""
    units = {"": 1, "K": 2**10, "M": 2**20, "G": 2**30, "T": 2**40}
    t = text.strip().upper().removesuffix("B").removesuffix("I")
    unit = t[-1] if t and t[-1] in units else ""
    try:
        value = float(t[:len(t) - len(unit)]) * units[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not a size (e.g. 8G, 512M)") from None
    if not math.isfinite(value) or value <= 0:
        raise argparse.ArgumentTypeError(f"'{text}' is not a positive size")
    return int(value)


def positive(text: str) -> int:
    """argparse type: an integer ≥ 1."""
    return _integer(text, 1)


def non_negative(text: str) -> int:
    """argparse type: an integer ≥ 0."""
    return _integer(text, 0)


def _integer(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"'{text}' is not an integer") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"{value} is below the least allowed value, {low}")
    return value


def _print_warning(message, category, filename, lineno, file=None, line=None):
    if issubclass(category, PbitWarning):
        print(str(message), file=sys.stderr)
    else:
        _default_showwarning(message, category, filename, lineno, file, line)


_default_showwarning = warnings.showwarning


def one_array(path: Path, what: str):
    """The array of an .npy file, or of an .npz holding exactly one (a DataError otherwise)."""
    from ..files import only_array, read_arrays
    return only_array(read_arrays(path, DataError, f"{what} array"), path, DataError, what)


def run_main(body, argv, prog: str) -> int:
    """Run a CLI body, mapping errors to exit codes: 2 user error, 1 internal, 130 interrupted."""
    try:
        with warnings.catch_warnings():
            warnings.showwarning = _print_warning
            return body(argv)
    except ArgumentError as err:
        print(str(err), file=sys.stderr)
        return EXIT_USER
    except PbitError as err:
        print(str(err), file=sys.stderr)
        return EXIT_USER
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        return EXIT_OK
    except SystemExit as err:          # --help / --version
        return int(err.code or 0)
    except Exception:  # noqa: BLE001 - an internal error: report it as one, exit 1
        print(f"{prog}: internal error (please report it):", file=sys.stderr)
        traceback.print_exc()
        return EXIT_INTERNAL


def run_entry(main) -> None:
    """A console script's body: main() and the process's end (see exit_now)."""
    try:
        code = main()
    except KeyboardInterrupt:            # a Ctrl-C between run_main's handlers: still an interruption
        code = EXIT_INTERRUPTED
    exit_now(code)


def exit_now(code: int) -> None:
    """End a command-line process: flush the output and exit without the interpreter's teardown,
    which with numba's compiled code loaded costs ~0.2 s and does nothing a finished command needs
    (files are closed by then, and numba writes its cache when it compiles, not at exit).  A Ctrl-C
    from here on changes nothing: the command has finished."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except (OSError, ValueError):
            pass
    os._exit(code)
