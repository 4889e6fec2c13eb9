"""Text → lark.Tree, with friendly syntax errors.

SYNTAX_ERRORS is a table of typical mistakes and the message each earns; lark's
``match_examples`` picks the closest entry by parser state.  The same table is
test data (tests/test_errors.py parses every example and checks the message)."""
from __future__ import annotations

from functools import lru_cache
from pathlib import Path

from lark import Lark, UnexpectedCharacters, UnexpectedEOF, UnexpectedInput
from lark.exceptions import VisitError

from ..errors import ParseError, PbitError, Source, Span
from .build_ast import build_ast

GRAMMAR = Path(__file__).with_name("pbit.lark")

# message -> bad inputs that earn it
SYNTAX_ERRORS = {
    "missing ';' at the end of the statement": [
        "spin s[4]\nenergy -s[0];",
        "param L = 4\nspin s[L];",
        "energy { -s[0] }",
        "energy { -s[0] * s[1] for i in 0..4 }",
        "beta = 0.4\n",
        "let n = 3\nspin s[n];",
    ],
    "a declaration needs a name, e.g. 'spin s[8];'": [
        "spin [4];",
        "bit ;",
        "param = 3;",
    ],
    "a range is written 'lo..hi' (half-open), e.g. 'for i in 0..L'": [
        "energy -s[i] for i in 0..;",
        "energy -s[i] for i in 0:4;",
        "energy -s[i] for i in range(4);",
    ],
    "a quantifier is written 'for NAME in lo..hi', e.g. 'for i in 0..L'": [
        "energy -s[i] for i 0..4;",
        "energy -s[i] for 0..4;",
    ],
    "unbalanced brackets or parentheses": [
        "energy -s[0;",
        "energy -(s[0] * s[1];",
        "energy -s[0]];",
        "energy -s[0] * s[1]);",
    ],
    "an operator is missing its operand": [
        "energy -s[0] * ;",
        "energy s[0] + * s[1];",
        "energy * s[0];",
    ],
    "two expressions with no operator between them (did you mean '*'?)": [
        "energy -J s[0];",
        "energy 2 s[0] s[1];",
    ],
    "a constraint needs a 'penalty', e.g. 'constraint c: x[0] + x[1] == 1 penalty 2.0;'": [
        "constraint c: x[0] + x[1] == 1;",
        "constraint c: sum(k in 0..K) x[k] == 1 for i in 0..N;",
    ],
    "a constraint is written 'constraint NAME: lhs == rhs penalty P;'": [
        "constraint x[0] == 1 penalty 2;",
        "constraint c x[0] == 1 penalty 2;",
    ],
    "a type is int, real or bool (optionally with dimensions, e.g. real[N, N])": [
        "param L: float = 3;",
        "param L: integer = 3;",
    ],
    "the assignment operator is '=' (use '==' only inside conditions)": [
        "beta == 0.4;",
        "param L == 4;",
    ],
    "a statement starts with a keyword (param, let, spin, bit, weight, energy, constraint, given, observe, chain) or a setting such as 'beta = 0.4;'": [
        "foo bar;",
        "spins s[4];",
        "4;",
    ],
}

KEYWORD_HINTS = {"energy", "param", "spin", "bit", "let", "constraint", "given", "observe", "weight", "chain"}


@lru_cache(maxsize=1)
def lark_parser() -> Lark:
    return Lark(GRAMMAR.read_text(), parser="lalr", propagate_positions=True, maybe_placeholders=True,
                cache=True)


def _friendly(err: UnexpectedInput, source: Source) -> ParseError:
    label = None
    try:
        label = err.match_examples(lark_parser().parse, SYNTAX_ERRORS, use_accepts=True)
    except Exception:  # noqa: BLE001 - match_examples is best effort; the raw message stays
        label = None
    line, col = max(err.line, 1), max(err.column, 1)
    if isinstance(err, UnexpectedEOF) or getattr(err, "token", None) is not None and err.token.type == "$END":
        lines = source.text.rstrip().splitlines() or [""]
        line, col = len(lines), len(lines[-1]) + 1
        found = "the end of the file"
    elif isinstance(err, UnexpectedCharacters):
        found = f"character {source.text[err.pos_in_stream]!r}"
    else:
        found = f"'{err.token}'"
    if label is None:
        label = _fallback(err)
    if isinstance(err, UnexpectedCharacters):
        label = None
    message = label or f"unexpected {found}"
    if label:
        message = f"{label} (found {found})"
    if label and label.startswith("missing ';'"):
        line, col = _end_of_previous_token(source, err)
    return ParseError(message, Span(source, line, col, line, col + 1))


def _end_of_previous_token(source: Source, err: UnexpectedInput):
    """Where a forgotten ';' belongs: just after the last token before the error."""
    pos = getattr(err, "pos_in_stream", None)
    if pos is None or getattr(err, "token", None) is not None and err.token.type == "$END":
        pos = len(source.text)
    text = source.text[:pos].rstrip()
    lines = text.splitlines() or [""]
    return len(lines), len(lines[-1]) + 1


def _fallback(err: UnexpectedInput):
    """Messages for common states that the example table does not reach."""
    expected = set(getattr(err, "accepts", None) or getattr(err, "expected", None) or ())
    token = getattr(err, "token", None)
    if "SEMICOLON" in expected and token is not None and (
            token.type in ("RBRACE", "$END") or str(token) in KEYWORD_HINTS):
        return "missing ';' at the end of the statement"
    if token is not None and token.type in ("RPAR", "RSQB") or "RPAR" in expected or "RSQB" in expected:
        return "unbalanced brackets or parentheses"
    return None


def parse_tree(source: Source):
    try:
        return lark_parser().parse(source.text)
    except UnexpectedInput as err:
        raise _friendly(err, source) from None


MAX_DEPTH = 200      # nesting of expressions (operators, calls, sums); the stages after parsing recurse


def check_depth(tree, source: Source) -> None:
    """Refuse a parse tree nested deeper than MAX_DEPTH (thousands of unary minuses or chained
    operators), found without recursion, as a ParseError at the deepest token."""
    stack, deepest = [(tree, 1)], (0, None)
    while stack:
        node, depth = stack.pop()
        if depth > deepest[0]:
            deepest = (depth, node)
        stack.extend((child, depth + 1) for child in getattr(node, "children", ()) if hasattr(child, "children"))
    depth, node = deepest
    if depth <= MAX_DEPTH:
        return
    while hasattr(node, "children") and node.children:                # down to the node's first token
        node = next((c for c in node.children if c is not None), None)
    line, col = getattr(node, "line", 1) or 1, getattr(node, "column", 1) or 1
    raise ParseError(f"expressions are nested {depth} deep here, over the limit of {MAX_DEPTH}: split the "
                     f"expression, or use sum(...) for long sums", Span(source, line, col, line, col + 1))


def parse(text: str, name: str = "<input>"):
    """Parse program text into an ast.Module (syntax errors only)."""
    source = Source(name, text)
    tree = parse_tree(source)
    check_depth(tree, source)
    try:
        return build_ast(tree, source)
    except VisitError as err:
        if isinstance(err.orig_exc, PbitError):
            raise err.orig_exc from None
        raise
