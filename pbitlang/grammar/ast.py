"""The abstract syntax tree: frozen dataclasses, every node with its span."""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Optional

from ..errors import Span

KEYWORDS = frozenset("param let spin bit periodic weight energy for in where sum constraint penalty given observe "
                     "chain over int real bool true false and or not".split())


@dataclass(frozen=True)
class Node:
    span: Span = field(compare=False, repr=False)


# ---- expressions -----------------------------------------------------------
@dataclass(frozen=True)
class Num(Node):
    value: float | int


@dataclass(frozen=True)
class Bool(Node):
    value: bool


@dataclass(frozen=True)
class Str(Node):
    value: str


@dataclass(frozen=True)
class Name(Node):
    id: str


@dataclass(frozen=True)
class Index(Node):
    """A[i, j]: a variable, parameter, weight or observable element."""
    name: str
    args: tuple


@dataclass(frozen=True)
class Call(Node):
    func: str
    args: tuple
    kwargs: tuple  # ((name, expr), ...)


@dataclass(frozen=True)
class ListLit(Node):
    items: tuple


@dataclass(frozen=True)
class BinOp(Node):
    op: str          # + - * / %
    left: Node
    right: Node


@dataclass(frozen=True)
class Neg(Node):
    operand: Node


@dataclass(frozen=True)
class Pow(Node):
    base: Node
    exponent: Node


@dataclass(frozen=True)
class Binder(Node):
    """`name in lo..hi` (half-open)."""
    name: str
    lo: Node
    hi: Node


@dataclass(frozen=True)
class Sum(Node):
    binders: tuple
    where: Optional[Node]
    body: Node


@dataclass(frozen=True)
class Compare(Node):
    op: str
    left: Node
    right: Node


@dataclass(frozen=True)
class BoolOp(Node):
    op: str          # and | or
    left: Node
    right: Node


@dataclass(frozen=True)
class Not(Node):
    operand: Node


# ---- statements ------------------------------------------------------------
@dataclass(frozen=True)
class Quant(Node):
    binders: tuple
    where: Optional[Node]


@dataclass(frozen=True)
class TypeSpec(Node):
    base: str                  # int | real | bool
    dims: Optional[tuple]      # expressions, None for `_`


@dataclass(frozen=True)
class ParamDecl(Node):
    name: str
    type: Optional[TypeSpec]
    default: Optional[Node]


@dataclass(frozen=True)
class LetDecl(Node):
    name: str
    value: Node


@dataclass(frozen=True)
class VarDecl(Node):
    kind: str                  # spin | bit
    name: str
    dims: tuple
    periodic: bool


@dataclass(frozen=True)
class WeightDecl(Node):
    name: str
    dims: tuple
    init: Optional[Node]


@dataclass(frozen=True)
class Term(Node):
    expr: Node
    quant: Optional[Quant]


@dataclass(frozen=True)
class Energy(Node):
    terms: tuple


@dataclass(frozen=True)
class Constraint(Node):
    name: str
    lhs: Node
    op: str                    # == <= >=
    rhs: Node
    quant: Optional[Quant]
    penalty: Node


@dataclass(frozen=True)
class Setting(Node):
    name: str
    value: Node


@dataclass(frozen=True)
class Given(Node):
    name: str
    args: tuple
    value: Node
    quant: Optional[Quant]


@dataclass(frozen=True)
class Observe(Node):
    name: str
    index_names: tuple
    expr: Node
    quant: Optional[Quant]


@dataclass(frozen=True)
class ChainItem(Node):
    key: str
    value: Optional[Node]


@dataclass(frozen=True)
class Chain(Node):
    name: str
    over: tuple
    items: tuple


@dataclass(frozen=True)
class Module(Node):
    statements: tuple


def walk(node):
    """Yield node and every node below it (expressions and statements)."""
    yield node
    for value in vars(node).values():
        if isinstance(value, Node):
            yield from walk(value)
        elif isinstance(value, tuple):
            for item in value:
                if isinstance(item, Node):
                    yield from walk(item)
                elif isinstance(item, tuple):
                    for sub in item:
                        if isinstance(sub, Node):
                            yield from walk(sub)
