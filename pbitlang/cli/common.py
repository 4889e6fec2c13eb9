"""What both command-line tools share: argument errors, -D parsing, exit codes."""
from __future__ import annotations

import argparse
import sys
import traceback

from ..compiler import parse_define
from ..errors import PbitError

EXIT_OK, EXIT_INTERNAL, EXIT_USER, EXIT_INTERRUPTED = 0, 1, 2, 130


class ArgumentError(Exception):
    pass


class Parser(argparse.ArgumentParser):
    """argparse that raises instead of exiting, so main(argv) is testable in-process."""

    def error(self, message):
        raise ArgumentError(f"{self.prog}: error: {message}")


def defines(items) -> dict:
    params = {}
    for text in items or []:
        name, value = parse_define(text)
        params[name] = value
    return params


def run_main(body, argv, prog: str) -> int:
    """Run a CLI body, mapping errors to exit codes: 2 user error, 1 internal, 130 interrupted."""
    try:
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
