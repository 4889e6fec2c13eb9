"""Shared fixtures."""
import importlib

import pytest


@pytest.fixture
def fine_chain_groups(monkeypatch):
    """Chain groups of any size, so that a few chains on several threads really run in several groups
    (the compiled kernels align groups to 64 chains, a cache line of states: with the handful of chains a
    test uses, every thread count would otherwise run one group)."""
    monkeypatch.setattr(importlib.import_module("pbitlang.backends.cpu"), "CHAIN_ALIGN", 1)
