"""lark.Tree → ast.Module: structure only, no meaning."""
from __future__ import annotations

from lark import Token, Transformer, v_args

from ..errors import ParseError, Source, Span
from . import ast


def token_span(source: Source, tok: Token) -> Span:
    return Span(source, tok.line, tok.column, tok.end_line or tok.line, tok.end_column or tok.column + 1)


@v_args(meta=True)
class BuildAst(Transformer):
    def __init__(self, source: Source):
        super().__init__()
        self.source = source

    def _span(self, meta) -> Span:
        if getattr(meta, "empty", True):
            return Span(self.source, 0, 0)
        return Span(self.source, meta.line, meta.column, meta.end_line, meta.end_column)

    # ---- expressions
    def number(self, meta, ch):
        text = str(ch[0])
        span = token_span(self.source, ch[0])
        if len(text) > 400:                      # int() of thousands of digits is itself slow
            raise ParseError(f"a number of {len(text)} characters", span)
        value = float(text) if any(c in text for c in ".eE") else int(text)
        if isinstance(value, int) and abs(value) > 2**1023:
            raise ParseError("this integer is beyond the range of floating point numbers", span)
        return ast.Num(span, value)

    def name(self, meta, ch):
        return ast.Name(token_span(self.source, ch[0]), str(ch[0]))

    def true(self, meta, ch):
        return ast.Bool(self._span(meta), True)

    def false(self, meta, ch):
        return ast.Bool(self._span(meta), False)

    def string(self, meta, ch):
        return ast.Str(token_span(self.source, ch[0]), str(ch[0])[1:-1])

    def args(self, meta, ch):
        return tuple(ch)

    def index(self, meta, ch):
        return ast.Index(self._span(meta), str(ch[0]), ch[1])

    def kwarg(self, meta, ch):
        return ("kw", str(ch[0]), ch[1])

    def call_args(self, meta, ch):
        return list(ch)

    def call(self, meta, ch):
        items = ch[1] or []
        args = tuple(a for a in items if not isinstance(a, tuple))
        kwargs = tuple((a[1], a[2]) for a in items if isinstance(a, tuple))
        seen = set()
        for key, value in kwargs:
            if key in seen:
                raise ParseError(f"keyword argument '{key}' given twice", value.span)
            seen.add(key)
        return ast.Call(self._span(meta), str(ch[0]), args, kwargs)

    def list(self, meta, ch):
        return ast.ListLit(self._span(meta), ch[0])

    def binop(self, meta, ch):
        return ast.BinOp(self._span(meta), str(ch[1]), ch[0], ch[2])

    def neg(self, meta, ch):
        return ast.Neg(self._span(meta), ch[0])

    def pow(self, meta, ch):
        return ast.Pow(self._span(meta), ch[0], ch[1])

    def binder(self, meta, ch):
        return ast.Binder(self._span(meta), str(ch[0]), ch[1], ch[2])

    def sum_expr(self, meta, ch):
        binders = tuple(c for c in ch[:-2] if isinstance(c, ast.Binder))
        return ast.Sum(self._span(meta), binders, ch[-2], ch[-1])

    def compare(self, meta, ch):
        return ast.Compare(self._span(meta), str(ch[1]), ch[0], ch[2])

    def and_(self, meta, ch):
        return ast.BoolOp(self._span(meta), "and", ch[0], ch[1])

    def or_(self, meta, ch):
        return ast.BoolOp(self._span(meta), "or", ch[0], ch[1])

    def not_(self, meta, ch):
        return ast.Not(self._span(meta), ch[0])

    # ---- statements
    def quant(self, meta, ch):
        return ast.Quant(self._span(meta), tuple(ch[:-1]), ch[-1])

    def quant_where(self, meta, ch):
        return ast.Quant(self._span(meta), (), ch[0])

    def free_dim(self, meta, ch):
        return None

    def dims(self, meta, ch):
        return tuple(ch)

    def type_name(self, meta, ch):
        return str(ch[0])

    def type_spec(self, meta, ch):
        return ast.TypeSpec(self._span(meta), ch[0], ch[1])

    def param_decl(self, meta, ch):
        return ast.ParamDecl(self._span(meta), str(ch[0]), ch[1], ch[2])

    def let_decl(self, meta, ch):
        return ast.LetDecl(self._span(meta), str(ch[0]), ch[1])

    def var_kind(self, meta, ch):
        return str(ch[0])

    def periodic(self, meta, ch):
        return True

    def var_decl(self, meta, ch):
        dims = ch[2] or ()
        if any(d is None for d in dims):
            raise ParseError("a variable's dimensions must be given; '_' is only for data parameters", self._span(meta))
        return ast.VarDecl(self._span(meta), ch[0], str(ch[1]), dims, bool(ch[3]))

    def weight_decl(self, meta, ch):
        dims = ch[1] or ()
        if any(d is None for d in dims):
            raise ParseError("a weight's dimensions must be given; '_' is only for data parameters", self._span(meta))
        return ast.WeightDecl(self._span(meta), str(ch[0]), dims, ch[2])

    def term(self, meta, ch):
        return ast.Term(self._span(meta), ch[0], ch[1])

    def energy_block(self, meta, ch):
        return ast.Energy(self._span(meta), tuple(ch))

    def energy_single(self, meta, ch):
        return ast.Energy(self._span(meta), (ch[0],))

    def constraint(self, meta, ch):
        op = str(ch[2])
        if op not in ("==", "<=", ">="):
            raise ParseError(f"a constraint compares with ==, <= or >=, not '{op}'", token_span(self.source, ch[2]))
        return ast.Constraint(self._span(meta), str(ch[0]), ch[1], op, ch[3], ch[4], ch[5])

    def setting(self, meta, ch):
        return ast.Setting(self._span(meta), str(ch[0]), ch[1])

    def target(self, meta, ch):
        return (str(ch[0]), ch[1] or ())

    def given(self, meta, ch):
        (name, args) = ch[0]
        return ast.Given(self._span(meta), name, args, ch[1], ch[2])

    def names(self, meta, ch):
        return tuple(str(c) for c in ch)

    def observe(self, meta, ch):
        return ast.Observe(self._span(meta), str(ch[0]), ch[1] or (), ch[2], ch[3])

    def chain_item(self, meta, ch):
        return ast.ChainItem(self._span(meta), str(ch[0]), ch[1])

    def chain(self, meta, ch):
        return ast.Chain(self._span(meta), str(ch[0]), ch[1], tuple(ch[2:]))

    def start(self, meta, ch):
        return ast.Module(self._span(meta), tuple(ch))


def build_ast(tree, source: Source) -> ast.Module:
    return BuildAst(source).transform(tree)
