"""Chains on a Dask cluster: the same samples, bit for bit, as one process, for every backend and
any number of shards; a worker that dies mid-run changes nothing; clear errors."""
import json
import os
import re
import threading
import time

import numpy as np
import pytest

import pbitlang as pb
from pbitlang.cli.pbit import main as pbit

distributed = pytest.importorskip("distributed")
from pbitlang.distributed import connect, local_client, shard_ranges  # noqa: E402

ISING = "examples/ising2d.pb"


@pytest.fixture(scope="module")
def client():
    client, cluster = local_client(2)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def prog():
    return pb.compile(ISING, params={"L": 12})


def test_shards_cover_the_chains_in_order():
    assert shard_ranges(10, 3) == [(0, 4), (4, 3), (7, 3)]
    assert shard_ranges(2, 5) == [(0, 1), (1, 1)]
    assert sum(k for _, k in shard_ranges(1000, 7)) == 1000


@pytest.mark.parametrize("backend,options,shards", [("cpu", {}, 1), ("cpu", {}, 3), ("cpu", {"threads": 2}, 5),
                                                    ("reference", {}, 3), ("emulator", {"fabric": "fpga"}, 3)])
def test_a_cluster_run_is_the_local_run_bit_for_bit(client, prog, backend, options, shards):
    run = dict(chains=7, sweeps=40, burn_in=10, thin=2, seed=11, **options)
    local = prog.sample(backend, **run)
    far = prog.sample(backend, client=client, shards=shards, **run)
    np.testing.assert_array_equal(far.native, local.native)
    np.testing.assert_array_equal(far.energies, local.energies)
    assert far.info["shards"] == min(shards, 7) and far.info["spin_updates"] == local.info["spin_updates"]
    other_seed = prog.sample(backend, client=client, shards=shards, **{**run, "seed": 12})
    assert not np.array_equal(other_seed.native, local.native)          # the negative control


@pytest.mark.parametrize("backend,options", [("cpu", {}), ("emulator", {"fabric": "fpga"})])
def test_tempering_shards_are_whole_replica_sets(client, backend, options):
    """Each replica set swaps from its own streams: sets in shards swap as they do together, and the
    swap statistics add up."""
    glass = pb.compile("examples/ea2d_small.pb")
    run = dict(chains=5, sweeps=150, burn_in=20, seed=2, tempering={"replicas": 5, "beta_min": 0.2}, **options)
    near = glass.sample(backend, **run)
    far = glass.sample(backend, client=client, shards=3, **run)
    np.testing.assert_array_equal(far.native, near.native)
    np.testing.assert_array_equal(far.ladder_energies, near.ladder_energies)
    np.testing.assert_allclose(far.info["tempering"]["swap_acceptance"], near.info["tempering"]["swap_acceptance"])
    assert far.info["tempering"]["swaps_tried"] == near.info["tempering"]["swaps_tried"]


def _kill_a_busy_worker(client, call, marker: str):
    """call() in a thread; once a task whose key holds `marker` runs on a worker, that worker's process
    is killed (its nanny restarts it).  Returns call()'s result."""
    box = {}
    thread = threading.Thread(target=lambda: box.update(res=call()))
    thread.start()
    deadline = time.monotonic() + 60
    victim = None
    while victim is None and time.monotonic() < deadline and thread.is_alive():
        busy = {w: keys for w, keys in client.processing().items() if any(marker in str(k) for k in keys)}
        victim = next(iter(busy), None)
        if victim is None:
            time.sleep(0.01)
    if victim is not None:
        try:
            client.run(os._exit, 1, workers=[victim], wait=False)
        except Exception:  # noqa: BLE001 - the worker goes away while answering
            pass
    thread.join(120)
    assert victim is not None and not thread.is_alive()
    client.wait_for_workers(2, timeout=60)                                # the nanny restarts it
    return box["res"]


def test_a_worker_that_dies_mid_run_changes_nothing(client):
    """One worker's process is killed once a shard is running on it; Dask reruns the shard and
    the result is the local one (every chain's stream comes from (seed, chain) alone)."""
    big = pb.compile(ISING, params={"L": 64})
    run = dict(chains=4, sweeps=30000, thin=300, seed=5)                 # about a second a shard
    local = big.sample("cpu", **run)
    far = _kill_a_busy_worker(client, lambda: big.sample("cpu", client=client, shards=2, **run), "pbit-shard")
    np.testing.assert_array_equal(far.native, local.native)


def test_a_worker_that_dies_while_a_step_trains_changes_nothing(client):
    """The same for training: the killed step's task runs again and the model is the local one."""
    dtm = pb.compile("examples/digits_dtm.pb")
    data = np.random.default_rng(0).integers(0, 2, size=(512, 64))
    kw = dict(epochs=40, seed=1, batch_size=64)                           # about half a second a step
    local = pb.train(dtm, data, **kw)
    far = _kill_a_busy_worker(client, lambda: pb.train(dtm, data, client=client, **kw), "train_chain")
    np.testing.assert_array_equal(far.thetas, local.thetas)


def test_clear_errors(client, prog):
    with pytest.raises(pb.OptionError, match="adaptive"):
        prog.sample("cpu", client=client, chains=2, sweeps=10, tempering={"replicas": 3, "ladder": "adaptive"})
    with pytest.raises(pb.OptionError, match="ladder"):
        prog.sample("cpu", client=client, chains=2, sweeps=10, tempering={"ladder": [0.5, 0.1]})
    with pytest.raises(pb.OptionError, match="shards"):
        prog.sample("cpu", client=client, shards=0, chains=2, sweeps=10)
    with pytest.raises(pb.OptionError):                                   # checked before any task is sent
        prog.sample("cpu", client=client, chains=0, sweeps=10)
    with pytest.raises(pb.PbitError, match="client="):
        prog.sample("cpu", shards=2, chains=2, sweeps=10)
    with pytest.raises(pb.OptionError, match="cannot reach"):
        connect("tcp://127.0.0.1:1", timeout=1)


def test_pbit_run_on_a_local_cluster(tmp_path, capsys):
    argv = ["run", ISING, "-D", "L=12", "--chains", "6", "--sweeps", "100", "--seed", "3", "--json"]
    assert pbit(argv) == 0
    local = json.loads(capsys.readouterr().out)
    assert pbit(argv + ["--dask", "local:2", "--shards", "3", "--progress", "-o", str(tmp_path / "s.npz")]) == 0
    out, err = capsys.readouterr()
    far = json.loads(out.splitlines()[-1])
    assert "3/3 shards done" in err
    assert far["energy"] == local["energy"] and far["best"] == local["best"] and far["shards"] == 3
    assert pbit(["run", ISING, "--dask", "local:zero"]) == 2
    assert pbit(["run", ISING, "--shards", "2"]) == 2


def test_workers_report_their_sweeps_as_they_run(client):
    """A shard's run sends its sweeps done as Dask events (the first piece at once, the end always);
    sample_on sums them over the shards for progress(), which ends at every sweep and shard done."""
    from pbitlang.distributed import run_shard
    big = pb.compile(ISING, params={"L": 64})              # 2 pieces of ≤ 5·10⁷ updates per shard of 32 chains
    reports, ended = [], threading.Event()

    def heard(event):
        reports.append(event[1])
        if event[1]["done"] == 400:
            ended.set()
    client.subscribe_topic("test-progress", heard)
    client.submit(run_shard, "cpu", big.ir, dict(chains=32, first_chain=32, sweeps=400, seed=1), None,
                  "test-progress", pure=False).result()
    assert ended.wait(30), reports                          # the events may arrive after the result
    client.unsubscribe_topic("test-progress")
    assert reports[0]["shard"] == 32 and 0 < reports[0]["done"] < 400 and reports[-1]["done"] == 400
    calls = []
    big.sample("cpu", client=client, shards=2, chains=64, sweeps=400, seed=1,
               progress=lambda *a: calls.append(a))
    assert calls[-1] == (800, 800, 2, 2)
    assert all(a[0] <= b[0] and a[2] <= b[2] for a, b in zip(calls, calls[1:]))        # never backwards


def test_many_instances_one_task_each(client):
    items = [{"seed": k, "L": 3} for k in range(4)]
    far = pb.sample_many(items, program="examples/ea3d.pb", client=client, chains=2, sweeps=30, seed=1)
    near = pb.sample_many([pb.compile("examples/ea3d.pb", params=p) for p in items], chains=2, sweeps=30, seed=1)
    for a, b in zip(far, near):
        np.testing.assert_array_equal(a.samples, b.samples)
    assert not np.array_equal(far[0].energies, far[1].energies)         # different couplings, different runs
    with pytest.raises(pb.PbitError, match="params dicts"):
        pb.sample_many([{"seed": 1}])


def test_pbit_run_sweeps_a_param(tmp_path, capsys):
    argv = ["run", "examples/ea3d.pb", "-D", "L=3", "--sweep-param", "seed=0:3", "--sweeps", "50", "--json"]
    assert pbit(argv + ["-o", str(tmp_path / "here")]) == 0
    here = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [r["sweep_param"]["seed"] for r in here] == [0, 1, 2]
    assert sorted(p.name for p in (tmp_path / "here").iterdir()) == ["seed=0.npz", "seed=1.npz", "seed=2.npz"]
    assert pbit(argv + ["--dask", "local:2"]) == 0
    there = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.startswith("{")]
    assert [r["energy"] for r in there] == [r["energy"] for r in here]
    assert pbit(["run", "examples/ea3d.pb", "-D", "L=3", "--sweep-param", "seed=0:2", "--sweeps", "20", "--json",
                 "--given", "s[0, 0, 0]=-1", "-o", str(tmp_path / "given")]) == 0             # evidence applies
    capsys.readouterr()
    from pbitlang.results import SampleResult
    for k in (0, 1):
        held = SampleResult.load(tmp_path / "given" / f"seed={k}.npz").variables("s")[:, 0, 0, 0]
        assert np.all(held == -1)
    for bad in (["--sweep-param", "seed=3:1"], ["--sweep-param", "seed"], ["--sweep-param", "seed=0:2", "--shards", "2"]):
        assert pbit(["run", "examples/ea3d.pb", "--sweeps", "5", *bad]) == 2


def test_ctrl_c_keeps_the_shards_that_finished(tmp_path):
    """Ctrl-C once a shard has finished: exit 130, the finished shards' chains written, the rest
    cancelled, and the file says which chains it holds."""
    from pbitlang.results import SampleResult
    from tests.cli_interrupt import interrupt_pbit
    out = tmp_path / "s.npz"
    code, stderr = interrupt_pbit(["run", ISING, "-D", "L=64", "--chains", "4", "--sweeps", "20000", "--thin", "200",
                                   "--burn-in", "0", "--dask", "local:2", "--shards", "4", "--progress", "-o", out],
                                  lambda proc: re.search(r"\b[1-4]/4 shards done", proc.stderr.readline()))
    assert code == 130, stderr
    res = SampleResult.load(out)
    assert res.info["interrupted"] and 1 <= res.num_chains < 4
    assert sum(b - a for a, b in res.info["chain_ranges"]) == res.num_chains


def test_shards_write_their_own_files(client, prog, tmp_path):
    """With a folder, every worker writes its shard's samples file and the client only the index;
    the folder reads back as the run, and a damaged index is refused clearly."""
    from pbitlang.results import SampleResult
    run = dict(chains=5, sweeps=30, seed=9)
    local = prog.sample("cpu", **run)
    res = prog.sample("cpu", client=client, shards=3, folder=tmp_path / "out", **run)
    np.testing.assert_array_equal(res.samples, local.samples)
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["shard-000000000000-2.npz", "shard-000000000002-2.npz", "shard-000000000004-1.npz",
                     "shards.json"]
    back = SampleResult.load(tmp_path / "out")                              # without the program: stored energies
    np.testing.assert_array_equal(back.samples, local.samples)
    np.testing.assert_allclose(back.energies, local.energies)
    index = tmp_path / "out" / "shards.json"
    index.write_text(index.read_text().replace("shard-000000000002-2.npz", "../elsewhere.npz"))
    with pytest.raises(pb.IRFileError, match="inside the folder"):
        SampleResult.load(tmp_path / "out")
    assert pbit(["run", ISING, "-D", "L=12", "--chains", "4", "--sweeps", "20", "--dask", "local:2",
                 "--shard-files", "-o", str(tmp_path / "cli")]) == 0
    assert SampleResult.load(tmp_path / "cli").num_chains == 4
    assert pbit(["run", ISING, "--shard-files", "-o", str(tmp_path / "x")]) == 2           # needs --dask


def test_a_folder_of_shards_reads_lazily(client, prog, tmp_path):
    """Loading a folder reads the index and each shard's meta only; energies, observables and variables
    go shard by shard without joining the states; the states join when asked for."""
    import shutil

    from pbitlang.results import SampleResult
    run = dict(chains=5, sweeps=30, seed=9)
    local = prog.sample("cpu", **run)
    prog.sample("cpu", client=client, shards=3, folder=tmp_path / "out", **run)
    for ir in (None, prog.ir):                          # the stored energies, or measured again from the program
        back = SampleResult.load(tmp_path / "out", ir)
        assert back.num_chains == 5 and len(back) == len(local) and back.kept == local.kept
        np.testing.assert_allclose(back.energies, local.energies)
        np.testing.assert_allclose(back.observables["absm"], local.observables["absm"])
        np.testing.assert_array_equal(back.variables("s"), local.variables("s"))
        assert "samples" not in back.__dict__ and "native" not in back.__dict__          # nothing joined
        assert [part.num_chains for part in back.shards()] == [2, 2, 1]
        np.testing.assert_array_equal(back.samples, local.samples)                     # joined on demand
        assert "samples" in back.__dict__
    back = SampleResult.load(tmp_path / "out")
    out = tmp_path / "out"
    shutil.copy(out / "shard-000000000004-1.npz", out / "shard-000000000000-2.npz")     # replaced after loading
    with pytest.raises(pb.IRFileError, match="changed since"):
        back.energies
    with pytest.raises(pb.IRFileError, match="holds 1 chains, the index says 2"):
        SampleResult.load(out)


def test_the_seeds_of_a_training_study_train_as_tasks(client):
    """Each seed is a task; each model is the local run's with that seed, weights to the bit."""
    from tests.test_dtm import RBM, two_patterns
    prog = pb.compile(RBM.replace("NOISE", "flip(schedule = cosine)"))
    data = two_patterns(256)
    far = pb.train_many(prog, data, seeds=[0, 1], client=client, epochs=2, lr=0.05)
    near = pb.train_many(prog, data, seeds=[0, 1], epochs=2, lr=0.05)
    for a, b in zip(far, near):
        np.testing.assert_array_equal(a.thetas, b.thetas)
    assert not np.array_equal(far[0].thetas, far[1].thetas)
    with pytest.raises(pb.PbitError, match="checkpoints"):
        pb.train_many(prog, data, seeds=[0], client=client, checkpoint="ck")


def _same_training(a, b):
    """Two trainings made the same model: weights, λ, spin updates and every metrics row but its clock."""
    np.testing.assert_array_equal(a.thetas, b.thetas)
    assert a.info["lambdas"] == b.info["lambdas"] and a.info["spin_updates"] == b.info["spin_updates"]
    assert ([{k: v for k, v in r.items() if k != "seconds"} for r in a.metrics]
            == [{k: v for k, v in r.items() if k != "seconds"} for r in b.metrics])


@pytest.mark.parametrize("backend,options", [("cpu", {}), ("emulator", {"fabric": "fpga"})])
def test_the_steps_of_a_chain_train_as_tasks(client, backend, options):
    """Each denoising step is a task; the merged model is the local run's, weights to the bit, for the
    compiled kernel and the fixed-point fabric (whose weights are quantised a step at a time)."""
    from tests.test_dtm import RBM, two_patterns
    prog = pb.compile(RBM.replace("NOISE", "flip(schedule = cosine)"))
    data = two_patterns(192)
    kw = dict(epochs=2, lr=0.05, batch_size=64, seed=3, backend=backend, backend_options=options)
    far = pb.train(prog, data, client=client, **kw)
    near = pb.train(prog, data, **kw)
    _same_training(far, near)
    assert far.info["steps"] == [1, 2, 3, 4] and len(far.metrics) == 4 * 2 * 3
    assert not np.array_equal(far.thetas, pb.train(prog, data, **{**kw, "seed": 4}).thetas)    # the seed matters
    with pytest.raises(pb.PbitError, match="checkpoints"):
        pb.train(prog, data, client=client, checkpoint="ck", **kw)
    calls = []
    again = pb.train(prog, data, client=client, progress=lambda *a: calls.append(a), **kw)   # steps as they finish
    assert calls == [(1, 4), (2, 4), (3, 4), (4, 4)]
    np.testing.assert_array_equal(again.thetas, far.thetas)


def test_pbit_train_steps_on_a_local_cluster(tmp_path, capsys):
    from tests.test_dtm import RBM, two_patterns
    source = tmp_path / "rbm.pb"
    source.write_text(RBM.replace("NOISE", "flip(schedule = cosine)"))
    np.save(tmp_path / "d.npy", two_patterns(128))
    argv = ["train", str(source), "--data", str(tmp_path / "d.npy"), "--epochs", "1"]
    assert pbit(argv + ["-o", str(tmp_path / "here.pbir")]) == 0
    assert pbit(argv + ["-o", str(tmp_path / "there.pbir"), "--dask", "local:2"]) == 0
    np.testing.assert_array_equal(pb.load(tmp_path / "here.pbir").thetas, pb.load(tmp_path / "there.pbir").thetas)
    assert pbit(argv + ["--dask", "local:2", "--checkpoint", str(tmp_path / "ck")]) == 2


def test_pbit_train_seeds_on_a_local_cluster(tmp_path, capsys):
    from tests.test_dtm import RBM, two_patterns
    source = tmp_path / "rbm.pb"
    source.write_text(RBM.replace("NOISE", "flip(schedule = cosine)"))
    np.save(tmp_path / "d.npy", two_patterns(128))
    argv = ["train", str(source), "--data", str(tmp_path / "d.npy"), "--epochs", "1", "--seeds", "0:2"]
    assert pbit(argv + ["-o", str(tmp_path / "here")]) == 0
    assert pbit(argv + ["-o", str(tmp_path / "there"), "--dask", "local:2"]) == 0
    for seed in (0, 1):
        a, b = (pb.load(tmp_path / d / f"seed={seed}.pbir") for d in ("here", "there"))
        np.testing.assert_array_equal(a.thetas, b.thetas)
