"""The architecture holds: stages flow one way (import-linter's contracts in pyproject.toml) and no
module imports, however indirectly, a module that imports it back."""
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def test_import_contracts_hold():
    pytest.importorskip("importlinter")
    exe = shutil.which("lint-imports") or str(Path(sys.executable).with_name("lint-imports"))
    out = subprocess.run([exe, "--config", str(ROOT / "pyproject.toml")], cwd=ROOT, capture_output=True, text=True,
                         timeout=300)
    assert out.returncode == 0, out.stdout + out.stderr


def _cycles(graph, modules) -> list:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index, low, stack, on, out, counter = {}, {}, [], set(), [], [0]
    for root in sorted(modules):
        if root in index:
            continue
        work = [(root, iter(sorted(graph.find_modules_directly_imported_by(root) & modules)))]
        index[root] = low[root] = counter[0]
        counter[0] += 1
        stack.append(root)
        on.add(root)
        while work:
            node, children = work[-1]
            for child in children:
                if child not in index:
                    index[child] = low[child] = counter[0]
                    counter[0] += 1
                    stack.append(child)
                    on.add(child)
                    work.append((child, iter(sorted(graph.find_modules_directly_imported_by(child) & modules))))
                    break
                if child in on:
                    low[node] = min(low[node], index[child])
            else:
                work.pop()
                if work:
                    low[work[-1][0]] = min(low[work[-1][0]], low[node])
                if low[node] == index[node]:
                    comp = []
                    while True:
                        m = stack.pop()
                        on.discard(m)
                        comp.append(m)
                        if m == node:
                            break
                    if len(comp) > 1:
                        out.append(sorted(comp))
    return out


def test_no_import_cycles():
    grimp = pytest.importorskip("grimp")
    graph = grimp.build_graph("pbitlang")
    # a package's __init__ re-exporting its modules is not a cycle of the design: leave packages out
    packages = {m for m in graph.modules if (ROOT / Path(*m.split(".")) / "__init__.py").exists()}
    assert _cycles(graph, set(graph.modules) - packages) == []


def test_the_cycle_finder_finds_a_cycle():
    """The negative control: a graph with a → b → a has a cycle."""
    class Graph:
        def find_modules_directly_imported_by(self, m):
            return {"a": {"b"}, "b": {"a", "c"}, "c": set()}[m]
    assert _cycles(Graph(), {"a", "b", "c"}) == [["a", "b"]]


def test_every_benchmark_answers_help_without_running():
    """`--help` works on every benchmark (prints usage, runs nothing, writes nothing)."""
    results = ROOT / "benchmarks" / "results"
    before = sorted(results.glob("*")) if results.exists() else []
    for script in sorted((ROOT / "benchmarks").glob("*.py")):
        if script.name == "common.py":
            continue
        out = subprocess.run([sys.executable, str(script), "--help"], cwd=ROOT, capture_output=True, text=True,
                             timeout=120)
        assert out.returncode == 0 and "usage:" in out.stdout, (script.name, out.stderr[-500:])
    assert (sorted(results.glob("*")) if results.exists() else []) == before
