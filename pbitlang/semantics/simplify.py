"""Symbolic expansion of one statement: the only user of sympy.

A term is expanded once, with its index variables left symbolic, into a short
list of monomial *templates*: (inner-sum binders, variable references,
coefficient).  Spins obey s·s = 1; a bit b becomes (1 + σ)/2 so that b·b = b
follows.  Sums are lifted to binders of the monomials they multiply, so
products of sums expand without unrolling.  Coefficients are compiled to numpy
functions (lambdify); constant sub-expressions that sympy need not see (table
lookups, function calls, sums over parameters) are opaque atoms evaluated by
`evaluate`.  No sympy object leaves this module."""
from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import sympy

from ..errors import CompileError, LimitError
from ..grammar import ast
from .evaluate import Env, _bare, evaluate, unparse


@dataclass(frozen=True)
class Ref:
    """A reference to a variable element with index expressions (renamed binders)."""
    var: str
    args: tuple
    rename: tuple          # ((original, renamed), ...)
    key: str
    span: object


@dataclass(frozen=True)
class InnerBinder:
    renamed: str
    binder: ast.Binder
    rename: tuple          # names visible where the binder's bounds are evaluated
    guard: object          # (where ast, rename) of its sum, or None
    group: int             # which sum it came from


@dataclass
class Coefficient:
    """A compiled coefficient: numpy function of index arrays and atom values."""
    func: object           # callable or None for a constant
    value: float
    args: tuple            # symbol names, in call order

    def is_zero(self) -> bool:
        return self.func is None and self.value == 0.0


@dataclass
class Template:
    binders: tuple         # InnerBinder
    refs: tuple            # Ref (sorted by key, each at most once)
    coeff: Coefficient
    weights: tuple         # ((weight Ref, Coefficient), ...)
    atoms: dict            # atom symbol name -> (ast, rename)


class _Expander:
    def __init__(self, checked, scope: set, limits):
        self.c = checked
        self.scope = scope                 # outer index names
        self.limits = limits
        self.binders: dict = {}            # renamed -> InnerBinder
        self.atoms: dict = {}              # symbol name -> (ast, rename)
        self.atom_keys: dict = {}          # canonical text -> symbol name
        self.weight_refs: dict = {}        # symbol name -> Ref
        self.weight_keys: dict = {}
        self.counter = itertools.count(1)
        self.groups = itertools.count(1)

    # ---- helpers
    def index_symbol(self, name: str, rename: dict):
        return sympy.Symbol("v_" + rename.get(name, name))

    def _mentions_unknowns(self, node, rename) -> bool:
        for sub in ast.walk(node):
            if isinstance(sub, ast.Index) and (sub.name in self.c.variables or sub.name in self.c.weights):
                return True
            if isinstance(sub, ast.Name) and sub.id not in rename and sub.id not in self.scope and (
                    sub.id in self.c.variables or sub.id in self.c.weights):
                return True
        return False

    def atom(self, node, rename: dict):
        visible = tuple(sorted(rename.items()))
        key = unparse(node, rename)
        if key not in self.atom_keys:
            name = f"a_{len(self.atom_keys)}"
            self.atom_keys[key] = name
            self.atoms[name] = (node, visible)
        return sympy.Symbol(self.atom_keys[key])

    def constant(self, node, rename: dict):
        """A variable-free expression as sympy: index arithmetic stays symbolic, the rest are atoms."""
        if isinstance(node, ast.Num):
            return sympy.Integer(node.value) if isinstance(node.value, int) else sympy.Float(node.value)
        if isinstance(node, ast.Bool):
            return sympy.Integer(int(node.value))
        if isinstance(node, ast.Name):
            if node.id in rename or node.id in self.scope:
                return self.index_symbol(node.id, rename)
            value = self.c.consts.get(node.id)
            if value is not None and np.ndim(value) == 0:
                v = np.asarray(value)
                return sympy.Integer(int(v)) if np.issubdtype(v.dtype, np.integer) or v.dtype == bool else sympy.Float(float(v))
            return self.atom(node, rename)
        if isinstance(node, ast.BinOp) and node.op in "+-*":
            a, b = self.constant(node.left, rename), self.constant(node.right, rename)
            return a + b if node.op == "+" else a - b if node.op == "-" else a * b
        if isinstance(node, ast.Neg):
            return -self.constant(node.operand, rename)
        return self.atom(node, rename)

    # ---- polynomial expansion: dict (binders, refs) -> sympy coefficient
    def poly(self, node, rename: dict) -> dict:
        if not self._mentions_unknowns(node, rename):
            return {((), ()): self.constant(node, rename)}
        if isinstance(node, (ast.Name, ast.Index)):
            name = node.id if isinstance(node, ast.Name) else node.name
            args = () if isinstance(node, ast.Name) else node.args
            visible = tuple(sorted(rename.items()))
            key = f"{name}[{', '.join(_bare(unparse(a, rename)) for a in args)}]"
            ref = Ref(name, args, visible, key, node.span)
            if name in self.c.weights:
                if key not in self.weight_keys:
                    sym = f"w_{len(self.weight_keys)}"
                    self.weight_keys[key] = sym
                    self.weight_refs[sym] = ref
                return {((), ()): sympy.Symbol(self.weight_keys[key])}
            if self.c.variables[name].kind == "bit":
                return {((), ()): sympy.Rational(1, 2), ((), (ref,)): sympy.Rational(1, 2)}
            return {((), (ref,)): sympy.Integer(1)}
        if isinstance(node, ast.BinOp):
            if node.op in "+-":
                out = dict(self.poly(node.left, rename))
                sign = 1 if node.op == "+" else -1
                for k, v in self.poly(node.right, rename).items():
                    out[k] = out.get(k, 0) + sign * v
                return out
            if node.op == "*":
                return self.mul(self.poly(node.left, rename), self.poly(node.right, rename), node)
            if node.op == "/":
                if self._mentions_unknowns(node.right, rename):
                    raise CompileError("cannot divide by a variable: the energy must be a polynomial in the "
                                       "variables", node.right.span)
                den = self.constant(node.right, rename)
                if den.is_zero:
                    raise CompileError("division by zero", node.right.span)
                return {k: v / den for k, v in self.poly(node.left, rename).items()}
            raise CompileError("'%' cannot be applied to variables", node.span)
        if isinstance(node, ast.Neg):
            return {k: -v for k, v in self.poly(node.operand, rename).items()}
        if isinstance(node, ast.Pow):
            if self._mentions_unknowns(node.exponent, rename):
                raise CompileError("an exponent cannot contain variables", node.exponent.span)
            e = evaluate(node.exponent, Env(self.c.consts, {}))
            if np.ndim(e) or float(e) != int(e) or int(e) < 0:
                raise CompileError("a power of variables needs a constant non-negative integer exponent",
                                   node.exponent.span)
            e = int(e)
            if e > self.limits.max_power:
                raise LimitError(f"power {e} of variables is over the limit of {self.limits.max_power}", node.span)
            out = {((), ()): sympy.Integer(1)}
            for _ in range(e):                 # each factor re-expanded: its sums get their own binders
                out = self.mul(out, self.poly(node.base, rename), node)
            return out
        if isinstance(node, ast.Sum):
            inner = dict(rename)
            group = next(self.groups)
            new = []
            for b in node.binders:
                renamed = f"{b.name}__s{next(self.counter)}"
                visible = tuple(sorted(inner.items()))
                new.append((renamed, b, visible))
                inner[b.name] = renamed
            guard = (node.where, tuple(sorted(inner.items()))) if node.where is not None else None
            ids = []
            for renamed, b, visible in new:
                self.binders[renamed] = InnerBinder(renamed, b, visible, guard, group)
                ids.append(renamed)
            body = self.poly(node.body, inner)
            return {(tuple(ids) + k[0], k[1]): v for k, v in body.items()}
        if isinstance(node, ast.Call):
            raise CompileError(f"{node.func}() of a variable is not a polynomial; functions apply to constants only",
                               node.span)
        raise CompileError("a condition is not a number here; put conditions in a 'where' guard", node.span)

    def mul(self, a: dict, b: dict, node) -> dict:
        if len(a) * len(b) > self.limits.max_monomials:
            raise LimitError(f"expanding this product gives {len(a) * len(b):,} monomials, over the limit of "
                             f"{self.limits.max_monomials:,}", node.span)
        out: dict = {}
        for (ba, ra), ca in a.items():
            for (bb, rb), cb in b.items():
                refs = _multiply_refs(ra, rb)
                key = (ba + bb, refs)
                out[key] = out.get(key, 0) + ca * cb
        return out


def _multiply_refs(ra: tuple, rb: tuple) -> tuple:
    """Product of spin references: identical references cancel (s·s = 1)."""
    counts: dict = {}
    for r in ra + rb:
        counts[r.key] = (counts.get(r.key, (r, 0))[0], counts.get(r.key, (r, 0))[1] + 1)
    return tuple(r for key, (r, n) in sorted(counts.items()) if n % 2 == 1)


def _compile(expr) -> Coefficient:
    if not expr.free_symbols:
        value = complex(expr)
        if value.imag:
            raise ValueError("complex coefficient")
        return Coefficient(None, float(value.real), ())
    args = tuple(sorted((s.name for s in expr.free_symbols)))
    func = sympy.lambdify([sympy.Symbol(a) for a in args], expr, modules="numpy")
    return Coefficient(func, 0.0, args)


def templates(expr, checked, scope: set, limits, span) -> list:
    """The monomial templates of one statement's expression."""
    ex = _Expander(checked, scope, limits)
    poly = ex.poly(expr, {})
    out = []
    weight_syms = {sympy.Symbol(s) for s in ex.weight_refs}
    for (binders, refs), coeff in poly.items():
        coeff = sympy.expand(coeff)
        if coeff == 0:
            continue
        used = coeff.free_symbols & weight_syms
        weights = []
        if used:
            base = coeff.subs({w: 0 for w in used})
            for w in sorted(used, key=lambda s: s.name):
                d = sympy.expand(sympy.diff(coeff, w))
                if d.free_symbols & weight_syms:
                    raise CompileError("trainable weights must enter the energy linearly "
                                       "(no products or powers of weights)", span)
                weights.append((ex.weight_refs[w.name], _compile(d)))
            coeff = base
        try:
            compiled = _compile(coeff)
        except (TypeError, ValueError):
            raise CompileError("a coefficient is not a real number", span) from None
        inner = tuple(ex.binders[b] for b in sorted(set(binders), key=binders.index))
        out.append(Template(inner, refs, compiled, tuple(weights), ex.atoms))
    return out
