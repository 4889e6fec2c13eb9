"""Every command and Python example in README.md and docs/*.md runs as written, in a fresh folder
that sees the repository's examples/.

Commands run in the order a reader meets them (a later one may read what an earlier one wrote),
with their flags as written except that run lengths are capped (--sweeps 50, --thin 50, --burn-in 20,
--epochs 1, --num 16) to keep CI short.  Where the digits data needs scikit-learn and it is
missing, `--data digits` reads a file of the same shape instead.  Nothing in the docs points
outside the repository."""
import re
import shlex
from pathlib import Path

import numpy as np
import pytest

from pbitlang.cli.pbit import main as pbit
from pbitlang.cli.pbitc import main as pbitc

ROOT = Path(__file__).resolve().parent.parent
DOCS = ["README.md"] + sorted(str(p.relative_to(ROOT)) for p in (ROOT / "docs").glob("*.md"))
CAPS = {"--sweeps": 50, "--thin": 50, "--burn-in": 20, "--epochs": 1, "--num": 16}


def _commands(doc: str) -> list:
    out = []
    for block in re.findall(r"```bash\n(.*?)```", (ROOT / doc).read_text(), flags=re.S):
        for line in block.splitlines():
            line = line.split(" # ")[0].strip()
            if re.match(r"pbitc? ", line):
                out.append(line)
    return out


def _python(doc: str) -> list:
    return [textwrap_dedent(b) for b in re.findall(r"```python\n(.*?)```", (ROOT / doc).read_text(), flags=re.S)]


def textwrap_dedent(block: str) -> str:
    import textwrap
    return textwrap.dedent(block)


def _capped(argv: list) -> list:
    out = list(argv)
    for k, a in enumerate(out[:-1]):
        if a in CAPS:
            out[k + 1] = str(min(int(out[k + 1]), CAPS[a]))
    return out


@pytest.fixture
def reader_folder(tmp_path, monkeypatch):
    (tmp_path / "examples").symlink_to(ROOT / "examples")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _digits_stand_in(argv: list, folder: Path) -> list:
    try:
        import sklearn  # noqa: F401
        return argv
    except ImportError:
        path = folder / "digits_stand_in.npy"
        np.save(path, np.random.default_rng(0).integers(0, 2, (256, 64)).astype(np.uint8), allow_pickle=False)
        return [str(path) if a == "digits" else a for a in argv]


@pytest.mark.parametrize("doc", [d for d in DOCS if _commands(d)])
def test_the_commands_of_a_doc_run(doc, reader_folder, capsys):
    for line in _commands(doc):
        argv = shlex.split(line)
        if argv[:2] == ["pbit", "run"] and "-o" not in argv and "--sweeps" not in argv:
            argv += ["--sweeps", "50"]
        argv = _digits_stand_in(_capped(argv), reader_folder)
        main = pbit if argv[0] == "pbit" else pbitc
        assert main(argv[1:]) == 0, (line, capsys.readouterr().err)
        capsys.readouterr()


@pytest.mark.parametrize("doc", [d for d in DOCS if _python(d)])
def test_the_python_examples_of_a_doc_run(doc, reader_folder, capsys):
    """Each block runs on its own and prints what its `# comment` after a print says."""
    for block in _python(doc):
        exec(compile(block, doc, "exec"), {"__name__": "__main__"})     # as a script the reader runs
        out = capsys.readouterr().out.splitlines()
        promised = re.findall(r"print\(.*\)\s+# (.*)", block)
        for line, comment in zip(out, promised):
            assert line.strip() == comment.split(":")[0].strip(), (doc, line, comment)


def test_the_docs_stand_on_their_own():
    for doc in DOCS:
        text = (ROOT / doc).read_text()
        assert "../shared" not in text and "shared/" not in text, doc
        assert not re.search(r"\bissue \d+", text, flags=re.I), doc
