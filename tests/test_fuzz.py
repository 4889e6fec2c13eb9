"""The fuzz campaign's fast slice (tests/fuzz/cases.py), in CI: a fixed seed, a few hundred cases
of every class — programs generated and mutated, damaged files, command lines, training data — and
nothing but a clear user error may come out of any of them, within a time limit each.  The full
campaign (100,000 cases, a memory limit, crash detection) is `python tests/fuzz/run.py`."""
import random
import signal
import warnings

import pytest

from tests.fuzz.cases import CLASSES, describe, make_case, run_case

CASES_PER_CLASS = {"program": 1000, "file": 500, "option": 400, "data": 200}
SECONDS_PER_CASE = 20                # generous: a loaded CI machine, and numba loading its cache


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


@pytest.mark.parametrize("cls", CLASSES)
def test_fuzz_slice_raises_only_clear_user_errors(cls, tmp_path):
    rng = random.Random(f"ci-{cls}")
    old = signal.signal(signal.SIGALRM, _alarm)
    defects = []
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            for _ in range(CASES_PER_CLASS[cls]):
                case = make_case(cls, rng, tmp_path)
                signal.alarm(SECONDS_PER_CASE)
                try:
                    outcome, where = run_case(case, tmp_path)
                except Hang:
                    outcome, where = "timeout", ""
                finally:
                    signal.alarm(0)
                if outcome not in ("ok", "user-error"):
                    defects.append(f"{outcome} {where}\n{describe(case)}")
    finally:
        signal.signal(signal.SIGALRM, old)
    assert not defects, "\n\n".join(defects[:5])


def test_the_slice_can_fail():
    """The negative control: an outcome other than a user error is reported as a defect."""
    case = {"kind": "program", "text": "spin s;", "params": {}}
    outcome, _ = run_case(case, None)                           # no folder: the save inside fails
    assert outcome.startswith("escape:")
