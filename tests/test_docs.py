"""Every program in docs/language.md compiles (or fails as documented); every example compiles."""
import re
from pathlib import Path

import numpy as np
import pytest

import pbitlang as pb

ROOT = Path(__file__).resolve().parent.parent
DOC = (ROOT / "docs" / "language.md").read_text()
BLOCKS = re.findall(r"```pb\n(.*?)```", DOC, flags=re.S)
ERROR_BLOCKS = re.findall(r"```pb-error\n(.*?)```\n→ `([^`]*)`", DOC, flags=re.S)
EXAMPLES = sorted((ROOT / "examples").glob("*.pb"))


def params_for(text):
    m = re.search(r"param W: real\[L, L\];", text)
    return {"W": np.zeros((8, 8))} if m else None


def test_the_doc_has_programs():
    assert len(BLOCKS) >= 10 and ERROR_BLOCKS


@pytest.mark.parametrize("k", range(len(BLOCKS)))
def test_doc_program_compiles(k):
    prog = pb.compile(BLOCKS[k], params=params_for(BLOCKS[k]))
    assert prog.ir.num_spins > 0


@pytest.mark.parametrize("text,message", ERROR_BLOCKS)
def test_doc_error_program_fails_as_documented(text, message):
    with pytest.raises(pb.PbitError) as info:
        pb.compile(text)
    assert message in str(info.value)


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_example_compiles(path):
    prog = pb.compile(path)
    assert prog.ir.num_spins > 0
    assert prog.ir.num_colors >= 1


def test_examples_cover_the_required_programs():
    names = {p.stem for p in EXAMPLES}
    assert {"ising2d", "ea3d", "maxcut", "coloring", "rbm"} <= names
