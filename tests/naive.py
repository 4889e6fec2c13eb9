"""An independent, slow evaluator of a program's energy: explicit Python loops over
every quantifier, straight from the AST.  It shares nothing with the compiler's
expansion (no sympy, no grids), so agreement with ir.energy is a real check."""
from __future__ import annotations

import itertools
import math

import numpy as np

from pbitlang.grammar import ast

FUNCS = {"exp": math.exp, "log": math.log, "sqrt": math.sqrt, "abs": abs, "sin": math.sin, "cos": math.cos,
         "tanh": math.tanh, "floor": math.floor, "ceil": math.ceil}


class Naive:
    def __init__(self, checked):
        self.c = checked

    def value(self, node, env, state):
        t = type(node)
        if t is ast.Num:
            return node.value
        if t is ast.Bool:
            return int(node.value)
        if t is ast.Name:
            if node.id in env:
                return env[node.id]
            if node.id in self.c.variables:
                return float(state[node.id][()])
            if node.id in self.c.weights:
                return float(self.c.weights[node.id].init[()])
            return self.c.consts[node.id].item() if hasattr(self.c.consts[node.id], "item") else self.c.consts[node.id]
        if t is ast.Index:
            idx = [int(self.value(a, env, state)) for a in node.args]
            if node.name in self.c.variables:
                var = self.c.variables[node.name]
                if var.periodic:
                    idx = [i % d for i, d in zip(idx, var.shape)]
                return float(state[node.name][tuple(idx)])
            if node.name in self.c.weights:
                return float(self.c.weights[node.name].init[tuple(idx)])
            return np.asarray(self.c.consts[node.name])[tuple(idx)].item()
        if t is ast.Call:
            args = [self.value(a, env, state) for a in node.args]
            if node.func == "min":
                return min(args)
            if node.func == "max":
                return max(args)
            if node.func == "len":
                return len(self.c.consts[node.args[0].id])
            if node.func == "shape":
                return np.shape(self.c.consts[node.args[0].id])[int(args[1])]
            return FUNCS[node.func](args[0])
        if t is ast.BinOp:
            a, b = self.value(node.left, env, state), self.value(node.right, env, state)
            if node.op == "+":
                return a + b
            if node.op == "-":
                return a - b
            if node.op == "*":
                return a * b
            if node.op == "/":
                return a / b
            return a % b
        if t is ast.Neg:
            return -self.value(node.operand, env, state)
        if t is ast.Pow:
            return self.value(node.base, env, state) ** self.value(node.exponent, env, state)
        if t is ast.Sum:
            return sum(self.value(node.body, e, state) for e in self.points(node.binders, node.where, env, state))
        if t is ast.Compare:
            a, b = self.value(node.left, env, state), self.value(node.right, env, state)
            return {"==": a == b, "!=": a != b, "<": a < b, "<=": a <= b, ">": a > b, ">=": a >= b}[node.op]
        if t is ast.BoolOp:
            a, b = self.value(node.left, env, state), self.value(node.right, env, state)
            return (a and b) if node.op == "and" else (a or b)
        if t is ast.Not:
            return not self.value(node.operand, env, state)
        raise TypeError(t)

    def points(self, binders, where, env, state):
        """Every assignment of the binders (bounds may depend on earlier ones) that passes `where`."""
        def rec(k, e):
            if k == len(binders):
                if where is None or self.value(where, e, state):
                    yield e
                return
            b = binders[k]
            lo, hi = int(self.value(b.lo, e, state)), int(self.value(b.hi, e, state))
            for v in range(lo, hi):
                yield from rec(k + 1, {**e, b.name: v})
        yield from rec(0, dict(env))

    def energy(self, state: dict) -> float:
        total = 0.0
        for term in self.c.energy:
            q = term.quant
            for e in self.points(q.binders if q else (), q.where if q else None, {}, state):
                total += self.value(term.expr, e, state)
        for con in self.c.constraints:
            q = con.quant
            for e in self.points(q.binders if q else (), q.where if q else None, {}, state):
                r = self.value(con.lhs, e, state) - self.value(con.rhs, e, state)
                if con.op == "<=":
                    r = max(r, 0.0)
                elif con.op == ">=":
                    r = min(r, 0.0)
                total += self.value(con.penalty, e, state) * r * r
        return total

    def observable(self, ob, state: dict):
        q = ob.quant
        shape = []
        for b in (q.binders if q else ()):
            shape.append(int(self.value(b.hi, {}, state)) - int(self.value(b.lo, {}, state)))
        out = np.zeros(shape)
        for e in self.points(q.binders if q else (), q.where if q else None, {}, state):
            key = tuple(e[b.name] - int(self.value(b.lo, {}, state)) for b in q.binders) if q else ()
            out[key] = self.value(ob.expr, e, state)
        return out


def split_state(ir, spins: np.ndarray) -> dict:
    """A ±1 state vector → declared-shape values (bits as 0/1)."""
    out = {}
    for name, (start, shape, kind) in ir.layout.items():
        v = spins[start:start + math.prod(shape)].reshape(shape)
        out[name] = (v + 1) // 2 if kind == "bit" else v
    return out


def all_slack_settings(ir):
    """Indices of slack spins, for minimising over them."""
    idx = []
    for name, (start, shape, kind) in ir.layout.items():
        if name.startswith("__slack_"):
            idx.extend(range(start, start + math.prod(shape)))
    return np.array(idx, dtype=np.int64)


def min_over(ir, state: np.ndarray, free: np.ndarray) -> float:
    """min over the spins in `free` of ir.energy (exhaustive; few spins only)."""
    if len(free) == 0:
        return float(ir.energy(state))
    combos = np.array(list(itertools.product([-1, 1], repeat=len(free))), dtype=np.int8)
    states = np.repeat(state[None], len(combos), axis=0)
    states[:, free] = combos
    return float(ir.energy(states).min())
