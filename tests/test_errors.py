"""Every error a user can cause: its class, message, line, column and caret."""
import numpy as np
import pytest

import pbitlang as pb
from pbitlang.grammar.parser import SYNTAX_ERRORS


def error_of(text, params=None, **kw):
    with pytest.raises(pb.PbitError) as info:
        pb.compile(text, params=params, **kw)
    return info.value


def caret_column(err):
    """Column (1-based) of the caret in the rendered error."""
    lines = str(err).splitlines()
    gutter = lines[1].index("| ") + 2
    return lines[2].index("^") - gutter + 1


@pytest.mark.parametrize("message,example", [(m, e) for m, exs in SYNTAX_ERRORS.items() for e in exs])
def test_syntax_error_table(message, example):
    err = error_of(example)
    assert isinstance(err, pb.ParseError)
    assert err.message.startswith(message)
    assert str(err).startswith("<input>:")


def test_syntax_errors_beyond_the_table_still_say_where():
    err = error_of("spin s[4];\nenergy { -s[0] * s[1] }\n")
    assert err.message.startswith("missing ';'")
    assert (err.span.line, err.span.column) == (2, 22)
    assert caret_column(err) == 22
    err = error_of("spin s[4]; energy s[0] @ s[1];")
    assert "unexpected character '@'" in err.message


def test_rendering_has_file_line_column_source_and_caret(tmp_path):
    path = tmp_path / "model.pb"
    path.write_text("param N: int = 3;\nspin s[N];\nenergy J[i, k] * s[i] for i in 0..N;\n")
    err = error_of(path)
    text = str(err)
    assert text.startswith(f"{path}:3:8: error: unknown name 'J'")
    assert "    3 | energy J[i, k] * s[i] for i in 0..N;" in text
    assert caret_column(err) == 8


def test_unknown_index_is_reported_at_its_use():
    err = error_of("param N: int = 3;\nparam J: real[N, N] = 0.5;\nspin s[N];\nenergy J[i, k] * s[i] for i in 0..N;")
    assert isinstance(err, pb.CompileError)
    assert err.message.startswith("unknown name 'k'")
    assert (err.span.line, err.span.column) == (4, 13)


def test_duplicate_declaration_cites_both_places():
    err = error_of("param L: int = 3;\nspin s[L];\nbit s[2];")
    assert err.message == "'s' is declared twice"
    assert err.span.line == 3
    assert err.notes and err.notes[0][1].line == 2
    assert "note: 's' was first declared here (<input>:2:1)" in str(err)


def test_conflicting_evidence_cites_both_places():
    err = error_of("spin s[3];\ngiven s[1] = 1;\ngiven s[i] = -1 for i in 0..3;")
    assert "'s[1]' is given two different values" in err.message
    assert err.span.line == 3 and err.notes[0][1].line == 2


def test_out_of_range_names_term_values_and_line():
    err = error_of("param L: int = 4;\nspin s[L, L];\nenergy -s[i, j] * s[i + 1, j] for i in 0..L, j in 0..L;")
    assert "index out of range in 's[i + 1, j]'" in err.message
    assert "index 4 of dimension 0" in err.message and "at i=3, j=0" in err.message
    assert err.span.line == 3


def test_where_guard_excludes_out_of_range():
    ir = pb.compile("spin s[4];\nenergy -s[i] * s[i + 1] for i in 0..4 where i < 3;").ir
    assert ir.num_couplings == 3


@pytest.mark.parametrize("text,cls,fragment", [
    ("spin s[2]; energy s[0] * s[1] * s[2, 0];", pb.CompileError, "has 1 dimension(s) but is used with 2"),
    ("spin s[2]; energy s * 2;", pb.CompileError, "has 1 dimension(s) but is used with 0"),
    ("param x: int = 0.5;", pb.CompileError, "declared int but has non-integer values"),
    ("param x = 1 / 0;", pb.CompileError, "division by zero"),
    ("param x = 3 % 0;", pb.CompileError, "division by zero"),
    ("param x = log(-1.0);", pb.CompileError, "not finite"),
    ("param x = exp(1000.0);", pb.CompileError, "not finite"),
    ("spin s[2]; energy 1e308 * 10 * s[0];", pb.CompileError, "not finite"),
    ("param N: int = 2; param x = 0.0; spin s[N]; energy s[i] / x for i in 0..N;", pb.CompileError, "division"),
    ("spin s[2]; energy exp(s[0]);", pb.CompileError, "not a polynomial"),
    ("spin s[2]; energy 1 / s[0];", pb.CompileError, "cannot divide by a variable"),
    ("spin s[2]; energy s[0] ^ 0.5;", pb.CompileError, "non-negative integer exponent"),
    ("spin s[2]; energy s[s[0]];", pb.CompileError, "cannot be used in an index"),
    ("spin s[2]; energy s[0] * foo(2);", pb.CompileError, "unknown function 'foo'"),
    ("spin s[2]; energy s[0] * sqr(2.0);", pb.CompileError, "did you mean 'sqrt'"),
    ("spin s[2]; energy s[i] for i in 0..2, i in 0..2;", pb.CompileError, "bound twice"),
    ("param N: int = 2; spin s[N]; energy s[N] for N in 0..2;", pb.CompileError, "has the name of a declaration"),
    ("spin s[2]; energy (s[0] < s[1]);", pb.CompileError, "condition"),
    ("spin s[2]; foo = 3;", pb.CompileError, "unknown setting 'foo'"),
    ("spin s[2]; beta = -1;", pb.CompileError, "beta must be"),
    ("spin s[2]; given s[0] = 0;", pb.CompileError, "given values must be -1 or 1"),
    ("bit b[2]; given b[0] = -1;", pb.CompileError, "given values must be 0 or 1"),
    ("param W: real[2, 2];", pb.CompileError, "has no default and was not given"),
    ("param W: real[2] = normal(0, 1, sed = 3);", pb.CompileError, "takes no argument 'sed'"),
    ("param W: int[2] = normal(0, 1);", pb.CompileError, "gives real numbers"),
    ("param W = normal(0, 1);", pb.CompileError, "declare the param's type and dimensions"),
    ("param W: real[2] = [1, 2, 3];", pb.CompileError, "default has shape (3,)"),
    ("spin s[2]; observe m[i] = s[i] for j in 0..2;", pb.CompileError, "quantified over exactly its indices"),
    ("spin s[2]; observe m = s[0]; observe m = s[1];", pb.CompileError, "observable 'm' is declared twice"),
    ("spin s[2]; chain c over x { steps 2; }", pb.CompileError, "unknown variable 'x'"),
    ("spin s[2]; chain c over s { steps 2; steps 3; }", pb.CompileError, "'steps' is set twice"),
    ("spin s[2]; weight w; energy w * w * s[0];", pb.CompileError, "linearly"),
    ("spin s[3]; weight w; energy w * s[0] * s[1] * s[2];", pb.CompileError, "order 3 or more"),
    ("spin s[2]; constraint c: s[0] == 1 penalty -1;", pb.CompileError, "penalty"),
    ("spin s[2]; energy s[0] * load(\"x.txt\");", pb.CompileError, "only allowed as the default"),
    ("param L: int = -3; spin s[L];", pb.CompileError, "non-negative"),
    ("param L = 2.5; spin s[L];", pb.CompileError, "must be an integer"),
])
def test_semantic_errors(text, cls, fragment):
    err = error_of(text)
    assert isinstance(err, cls), err
    assert fragment in err.message, err.message
    if err.span is not None:
        assert err.span.line >= 1 and err.span.column >= 1
        assert "^" in str(err)


def test_unknown_override_lists_declared_params():
    err = error_of("param L: int = 2; spin s[L];", params={"Q": 3})
    assert "'Q'" in err.message and "declared: L" in err.message


def test_override_type_and_shape_are_checked():
    assert "non-integer" in error_of("param L: int = 2; spin s[L];", params={"L": 2.5}).message
    err = error_of("param W: real[2, 2]; spin s[2]; energy W[i, j] * s[i] * s[j] for i in 0..2, j in 0..2;",
                   params={"W": np.zeros((3, 2))})
    assert "dimension 0 = 2" in err.message
    ok = pb.compile("param W: real[2, 2]; spin s[2]; energy W[i, j] * s[i] * s[j] for i in 0..2, j in 0..2 where i < j;",
                    params={"W": np.array([[0, 2.0], [0, 0]])})
    assert ok.ir.J[0, 1] == 2.0


@pytest.mark.parametrize("text", [
    "param L: int = 100000; spin s[L, L];",
    "param L: int = 1000000; spin s[4]; energy s[0] * L for i in 0..L, j in 0..L;",
    "spin s[30]; energy (sum(i in 0..30) s[i])^40;",
    "param W: real[100000, 100000] = normal(0, 1);",
    "spin s[30]; energy (" + " + ".join(f"s[{i}]" for i in range(30)) + ")^4;",
])
def test_absurd_sizes_are_refused_before_allocation(text):
    err = error_of(text, limits=pb.Limits(max_spins=10**6, max_terms=10**7, max_param_elements=10**7))
    assert isinstance(err, pb.LimitError), err
    assert "limit" in err.message


def test_data_file_errors(tmp_path):
    prog = tmp_path / "m.pb"
    prog.write_text('param E: int[_, 2] = load("edges.txt");\nspin s[4];\n')
    err = error_of(prog)
    assert isinstance(err, pb.DataError) and "does not exist" in err.message and err.span.line == 1
    (tmp_path / "edges.txt").write_text("0 1\n1 two\n")
    assert "cannot read data file" in error_of(prog).message
    (tmp_path / "edges.txt").write_text("0 1 2\n1 2 3\n")
    assert "dimension 1 = 2" in error_of(prog).message
    (tmp_path / "edges.txt").write_text("0 1\n2 3\n")
    assert pb.compile(prog).ir.num_spins == 4
    with open(tmp_path / "obj.npy", "wb") as fh:            # an object-array header: loading must refuse it
        np.lib.format.write_array_header_1_0(fh, {"descr": "|O", "fortran_order": False, "shape": (1,)})
        fh.write(b"\x80\x04not data")
    prog.write_text('param E: int[_] = load("obj.npy");\n')
    assert isinstance(error_of(prog), pb.DataError)
    prog.write_text('param E: int[_] = load("edges.bin");\n')
    (tmp_path / "edges.bin").write_text("x")
    assert "use .npy, .txt or .csv" in error_of(prog).message


def test_missing_program_file():
    err = error_of("/nonexistent/model.pb")
    assert isinstance(err, pb.DataError)
