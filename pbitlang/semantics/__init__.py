"""Semantic stages: check → expand (with simplify) → lower → colour."""
