"""Pictures: every kind draws what it says (lines, bars, cells) into a readable, non-blank file;
the CLI's plot, generate --grid and train --plot; the missing extra and bad inputs exit 2."""
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import pbitlang as pb
from pbitlang.cli.pbit import main
from pbitlang.results import SampleResult

matplotlib = pytest.importorskip("matplotlib")
from matplotlib.image import imread  # noqa: E402

from pbitlang import plot  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
ISING = str(ROOT / "examples" / "ising2d.pb")
KINDS = ["summary", "trace", "hist", "autocorr", "overlap", "images", "ladder"]


@pytest.fixture(scope="module")
def tempered():
    prog = pb.compile(ISING, params={"L": 8})
    return prog.sample("cpu", chains=4, sweeps=200, burn_in=50, seed=1, tempering={"replicas": 5, "beta_min": 0.2})


def not_blank(path: Path, threshold: float = 1e-3) -> bool:
    pixels = imread(path)
    return float(np.var(pixels[..., :3])) > threshold


@pytest.mark.parametrize("kind", KINDS)
def test_every_kind_writes_a_picture_that_is_not_blank(kind, tempered, tmp_path):
    out = tmp_path / f"{kind}.png"
    plot.save(tempered.plot(kind), out)
    assert out.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert imread(out).shape[0] > 200 and not_blank(out)


def test_a_blank_figure_is_detected(tmp_path):
    """The negative control of not_blank: an empty figure is one colour."""
    fig = plot.new_figure(3, 3)
    plot.save(fig, tmp_path / "blank.png")
    assert not not_blank(tmp_path / "blank.png")


@pytest.mark.parametrize("suffix,magic", [(".svg", b"<?xml"), (".pdf", b"%PDF")])
def test_formats_follow_the_suffix(suffix, magic, tempered, tmp_path):
    out = tmp_path / f"t{suffix}"
    plot.save(tempered.plot("trace"), out)
    assert out.read_bytes().startswith(magic)
    with pytest.raises(pb.OptionError, match="png"):
        plot.save(tempered.plot("trace"), tmp_path / "t.jpeg")


def test_figures_hold_one_line_per_chain_and_one_bar_per_value(tempered):
    ax = tempered.plot("trace", ax=plot.new_figure(4, 3).add_subplot())
    assert len(ax.lines) == tempered.num_chains + 1                   # the chains and the running mean
    fig = tempered.plot("trace", names=["energy", "m"])
    assert len(fig.axes) == 2
    ax = tempered.plot("hist", ax=plot.new_figure(4, 3).add_subplot())
    ladder = tempered.info["tempering"]["ladder"]
    assert len(ax.patches) == len(ladder)                              # one filled histogram per β
    ax = tempered.plot("ladder", ax=plot.new_figure(4, 3).add_subplot())
    assert len(ax.lines[0].get_xdata()) == len(ladder)
    right = [a for a in ax.figure.axes if a is not ax][0]
    assert len(right.patches) == len(ladder) - 1                       # one bar per neighbouring pair
    ax = tempered.plot("overlap", ax=plot.new_figure(4, 3).add_subplot())
    assert len(ax.patches) == tempered.num_spins + 1                   # q ∈ {−1, −1 + 2/n, …, 1}
    assert "Binder" in ax.get_title()


def test_tempering_keeps_every_temperatures_energy(tempered, tmp_path):
    E = tempered.ladder_energies
    assert E.shape == (tempered.num_chains, tempered.kept, 5)
    np.testing.assert_allclose(E[:, :, -1], tempered.trace("energy"))  # the coldest is the recorded state
    assert np.all(E[:, :, 0].mean() > E[:, :, -1].mean())             # hotter is higher
    tempered.save(tmp_path / "t.npz")
    np.testing.assert_array_equal(SampleResult.load(tmp_path / "t.npz").ladder_energies, E)


def test_the_images_grid_places_sample_k_at_its_cell():
    pixels = np.zeros((7, 2, 3))
    for k in range(7):
        pixels[k].flat[k % 6] = 1.0                                    # a different pixel lit in each
    grid = plot.image_grid(pixels, columns=3)
    assert grid.shape == (3 * 3 - 1, 3 * 4 - 1)
    for k in range(7):
        r, c = divmod(k, 3)
        np.testing.assert_array_equal(grid[r * 3:r * 3 + 2, c * 4:c * 4 + 3], pixels[k])
    assert np.all(grid[2, :] == 0.35) and np.all(grid[:, 3] == 0.35)  # the grey lines between cells


def test_images_show_the_samples_themselves():
    prog = pb.compile("param L: int = 4; spin s[L, L]; energy -s[i, j] for i in 0..L, j in 0..L;")
    res = prog.sample("cpu", chains=3, sweeps=2, seed=0)
    ax = res.plot("images", ax=plot.new_figure(3, 3).add_subplot(), columns=2)
    shown = ax.images[0].get_array()
    picked = np.unique(np.linspace(0, 5, 6).round().astype(int))
    expected = plot.image_grid((res.variables("s")[picked] > 0).astype(float), 2)
    np.testing.assert_array_equal(np.asarray(shown), expected)


def test_images_need_a_shape_for_a_vector(tmp_path):
    prog = pb.compile("spin v[6]; energy -v[i] for i in 0..6;")
    res = prog.sample("cpu", chains=2, sweeps=2, seed=0)
    with pytest.raises(pb.OptionError, match="HxW"):
        res.plot("images")
    assert res.plot("images", shape=(2, 3)) is not None
    with pytest.raises(pb.OptionError, match="does not hold"):
        res.plot("images", variable="v", shape=(4, 4))
    with pytest.raises(pb.OptionError, match=r"16 values .* v \[6\]"):
        res.plot("images", shape=(4, 4))


def test_cli_plot_of_a_run_and_its_default(tmp_path, capsys):
    samples = tmp_path / "s.npz"
    assert main(["run", ISING, "-D", "L=8", "--sweeps", "100", "--chains", "4", "-o", str(samples)]) == 0
    assert main(["plot", str(samples)]) == 0
    assert not_blank(tmp_path / "s.png")
    assert main(["plot", str(samples), "--kind", "hist", "--names", "absm", "-o", str(tmp_path / "h.svg")]) == 0
    assert b"absm" in (tmp_path / "h.svg").read_bytes()


def test_cli_generate_grid_and_train_plot(tmp_path, capsys):
    source = tmp_path / "two.pb"
    source.write_text("param V: int = 16; bit x[V]; weight a[V]; energy -a[i] * (2 * x[i] - 1) for i in 0..V;\n"
                      "chain dtm over x { steps 2; noise flip(schedule = cosine); sweeps 5; }\n")
    data = tmp_path / "d.npy"
    np.save(data, np.tile(np.array([[1] * 8 + [0] * 8]), (64, 1)))
    model, curves = tmp_path / "m.pbir", tmp_path / "curves.png"
    assert main(["train", str(source), "--data", str(data), "--epochs", "2", "-o", str(model),
                 "--checkpoint", str(tmp_path / "ck"), "--plot", str(curves)]) == 0
    assert not_blank(curves)
    assert main(["plot", str(tmp_path / "ck" / "metrics.jsonl"), "-o", str(tmp_path / "again.png")]) == 0
    assert main(["generate", str(model), "--num", "9", "--grid", str(tmp_path / "g.png"),
                 "-o", str(tmp_path / "g.npz")]) == 0
    grid = imread(tmp_path / "g.png")
    assert not_blank(tmp_path / "g.png") and grid.shape[0] > 100
    assert plot.default_kind(SampleResult.load(tmp_path / "g.npz")) == "images"   # a generation draws images
    assert main(["plot", str(tmp_path / "g.npz"), "--shape", "4x4", "-o", str(tmp_path / "g2.png")]) == 0


def test_cli_plot_refuses_bad_input_with_exit_2(tmp_path, capsys):
    log = tmp_path / "metrics.jsonl"
    log.write_text(json.dumps({"epoch": 0, "batch": 0, "step": 1, "loss_proxy": 1.0, "lambda": 0.0,
                               "autocorr": 0.1, "seconds": 0.5}) + "\n{\"epoch\": 0, \"step\": true}\n")
    assert main(["plot", str(log)]) == 2
    assert "metrics.jsonl:2" in capsys.readouterr().err
    assert main(["plot", str(tmp_path / "none.npz")]) == 2
    samples = tmp_path / "s.npz"
    pb.compile(ISING, params={"L": 4}).sample(chains=2, sweeps=5).save(samples)
    for bad in (["-o", str(tmp_path / "x.gif")], ["--shape", "4by4", "--kind", "images"],
                ["--kind", "ladder"], ["--kind", "images", "--var", "q"]):
        assert main(["plot", str(samples), *bad]) == 2, bad
        err = capsys.readouterr().err
        assert "Traceback" not in err and err.strip()
    assert main(["run", ISING, "-D", "L=4", "--sweeps", "5", "-o", str(tmp_path / "t.npz")]) == 0
    capsys.readouterr()
    assert main(["plot", str(samples), "-o", str(tmp_path / "missing" / "p.png")]) == 2   # checked first


def test_without_matplotlib_the_cli_says_which_extra(tmp_path):
    """matplotlib blocked in a fresh interpreter: exit 2 and the install line, no traceback."""
    samples = tmp_path / "s.npz"
    pb.compile(ISING, params={"L": 4}).sample(chains=2, sweeps=5).save(samples)
    code = ("import sys; sys.modules['matplotlib'] = None\n"
            "from pbitlang.cli.pbit import main\n"
            f"raise SystemExit(main(['plot', {str(samples)!r}]))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=ROOT)
    assert done.returncode == 2
    assert "pip install 'pbitlang[plot]'" in done.stderr and "Traceback" not in done.stderr
    assert not (tmp_path / "s.png").exists()
