"""The README's commands work: the first-screen example exactly, the others with fewer sweeps."""
import re
import shlex
from pathlib import Path

import pytest

from pbitlang.cli.pbit import main as pbit
from pbitlang.cli.pbitc import main as pbitc

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text()


def first_screen_example():
    block = re.findall(r"```bash\n(.*?)```", README, flags=re.S)[0]
    return block.strip().split("&&")[-1].strip()


def test_first_screen_example_runs(monkeypatch, capsys):
    monkeypatch.chdir(ROOT)
    argv = shlex.split(first_screen_example())
    assert argv[0] == "pbit"
    assert pbit(argv[1:]) == 0
    out = capsys.readouterr().out
    assert "energy" in out and "spin updates per ns" in out


def test_the_test_command_is_what_ci_runs():
    block = re.findall(r"```bash\n(.*?)```", README, flags=re.S)[1]
    assert "pip install -e \".[test]\"" in block and "pytest" in block
    ci = (ROOT / ".ci" / "run").read_text()
    assert "pip install -e \".[test]\"" in ci and "pytest" in ci


COMMANDS = sorted(set(re.findall(r"`(pbitc? (?:run|compile|check) examples/[^`]*)`", README)))


@pytest.mark.parametrize("command", COMMANDS)
def test_readme_commands_run(command, monkeypatch, tmp_path, capsys):
    monkeypatch.chdir(ROOT)
    argv = shlex.split(command)
    argv = [a if not a.endswith((".npz", ".pbir")) else str(tmp_path / Path(a).name) for a in argv]
    if argv[0] == "pbit":
        argv += ["--sweeps", "40", "--burn-in", "10"]
        assert pbit(argv[1:]) == 0
    else:
        assert pbitc(argv[1:]) == 0
