"""Mutated programs: nothing but PbitError escapes the compiler, and nothing hangs."""
import signal
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import pbitlang as pb

ROOT = Path(__file__).resolve().parent.parent
SOURCES = [p.read_text() for p in sorted((ROOT / "examples").glob("*.pb"))] + \
          [p.read_text() for p in sorted((ROOT / "tests" / "golden").glob("*.pb"))]
TOKENS = ["s", "[", "]", "(", ")", ";", "{", "}", "..", "0", "1", "-1", "99999999", "1e308", "^", "*", "/", "%",
          "+", "-", "sum(k in 0..3)", "for i in 0..4", "where", "i", "L", "N", "energy", "param", "spin", "bit",
          "periodic", "given", "observe", "constraint c:", "penalty", "==", "<=", "weight", "chain", "=", ",",
          "load(\"nope.txt\")", "normal(0, 1)", "0.5", "_", "not", "and", "let", "beta", "exp(", "log(", "#", "\n"]
LIMITS = pb.Limits(max_spins=200_000, max_terms=2_000_000, max_param_elements=1_000_000)


class Hang(Exception):
    pass


def _alarm(signum, frame):
    raise Hang()


@st.composite
def mutated(draw):
    text = draw(st.sampled_from(SOURCES))
    for _ in range(draw(st.integers(1, 4))):
        kind = draw(st.sampled_from(["delete", "insert", "replace", "duplicate"]))
        a = draw(st.integers(0, max(len(text) - 1, 0)))
        b = min(len(text), a + draw(st.integers(1, 12)))
        if kind == "delete":
            text = text[:a] + text[b:]
        elif kind == "insert":
            text = text[:a] + " " + draw(st.sampled_from(TOKENS)) + " " + text[a:]
        elif kind == "replace":
            text = text[:a] + draw(st.sampled_from(TOKENS)) + text[b:]
        else:
            text = text[:b] + text[a:b] + text[b:]
    return text


@settings(max_examples=300, deadline=None, derandomize=True, suppress_health_check=list(HealthCheck))
@given(mutated())
def test_mutated_programs_raise_only_pbit_errors(text):
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(20)
    try:
        pb.compile(text, limits=LIMITS)
    except pb.PbitError as err:
        assert str(err)
    except Hang:
        pytest.fail(f"the compiler hung on:\n{text}")
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
