"""Syntax: grammar, AST and the parser."""
from .parser import parse  # noqa: F401
