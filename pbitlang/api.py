"""The user's surface over the pipeline: Program (a compiled model and what users run on it),
compile, load and train.  It sits above the compiler, the backends and the dtm package, and is
the only module that joins them."""
from __future__ import annotations

from pathlib import Path

from .backends import run_backend
from .errors import PbitError
from .ir import IR, read_pbir

DEFAULT_BACKEND = "cpu"


class Program:
    """A compiled program: its IR and the operations users run on it."""

    def __init__(self, ir: IR, timings: dict | None = None):
        self.ir = ir
        self.timings = timings or {}

    def __repr__(self):
        return f"<pbitlang.Program {self.ir.name!r}: {self.ir.num_spins} spins, {self.ir.num_couplings} couplings>"

    def save(self, path) -> None:
        self.ir.save(path)

    def sample(self, backend=DEFAULT_BACKEND, client=None, shards: int | None = None, **options):
        """Draw samples with a backend (see pbitlang.list_backends()); with a dask.distributed
        `client`, the chains run in `shards` tasks on its workers, with the same result."""
        if client is not None:
            from .distributed import sample_on
            return sample_on(client, backend, self.ir, shards, **options)
        if shards is not None:
            raise PbitError("shards= splits the chains over a Dask cluster: give client= too")
        return run_backend(self.ir, backend, **options)

    def with_weights(self, theta) -> "Program":
        return Program(self.ir.with_weights(theta), self.timings)

    def to_ommx(self):
        """The model as an OMMX Instance to minimise (extra `ommx`): a binary decision variable per
        spin, named from the layout, and the energy over bits as its objective."""
        from .models import to_ommx
        return to_ommx(self.ir)

    def to_dimod(self):
        """The model as a dimod BinaryQuadraticModel (a BinaryPolynomial when it has k-body factors):
        BINARY when every variable is a bit, labelled `s[3, 4]` or by the model's own labels;
        evidence substituted.  Needs the `dimod` extra."""
        from .models import to_dimod
        return to_dimod(self.ir)


def from_ommx(instance, penalty: float | None = None) -> Program:
    """An OMMX Instance as a Program (extra `ommx`): its QUBO by OMMX's to_qubo(), constraints as
    penalties of weight `penalty`, labelled by decision-variable ids."""
    from .models import ommx_ir
    return Program(ommx_ir(instance, penalty))


def load_model(path, format: str | None = None) -> Program:
    """A model file as a Program: dimod's BQM file (.bqm), COO (.coo), Gset max-cut (.gset) or
    qbsolv (.qubo), by the suffix or `format`.  Its variables keep the file's labels."""
    from .models import read_model
    return Program(read_model(path, format))


class TrainedModel(Program):
    """A program with a trained denoising chain: per-step weights, metrics, and generation.  Its IR
    is the program at the first step's weights."""

    def __init__(self, trained):
        ir, thetas = trained.base_ir, trained.thetas
        super().__init__(ir.with_weights(thetas[0]) if ir.weights is not None and len(thetas) else ir)
        self.trained = trained

    base_ir = property(lambda self: self.trained.base_ir, doc="the program the chain was trained on")
    chain = property(lambda self: self.trained.chain, doc="the chain's name")
    thetas = property(lambda self: self.trained.thetas, doc="per-step weights (steps, weights)")
    info = property(lambda self: self.trained.info, doc="the training run's summary")
    metrics = property(lambda self: self.trained.metrics, doc="one row per step and batch")

    def generate(self, chain: str | None = None, num: int = 64, backend=DEFAULT_BACKEND, seed: int = 0, **options):
        """Run the chain in reverse: `num` samples of the data variables (a SampleResult)."""
        return self.trained.generate(chain, num=num, backend=backend, seed=seed, **options)

    def save(self, path) -> None:
        """A .pbir file with the per-step weights; pb.load gives a TrainedModel back."""
        self.trained.save(path)


def compile(program, params: dict | None = None, **options) -> Program:  # noqa: A001 - the public name
    """Compile a .pb path or program text (or load a .pbir path) into a Program."""
    if isinstance(program, (str, Path)) and str(program).strip().endswith(".pbir") and "\n" not in str(program):
        if params:
            raise PbitError("params cannot be applied to a compiled .pbir file")
        return load(program)
    from .compiler import compile_ir          # the compiler (and sympy) only when something is compiled
    timings: dict = {}
    ir = compile_ir(program, params, timings=timings, **options)
    return Program(ir, timings)


def train_many(program, data, seeds, client=None, **options) -> list:
    """train(program, data, seed=s, **options) for each seed of a study, in order; with a
    dask.distributed `client` every seed trains as a task of its own (the data sent once), and
    each model is the one a local run with its seed gives."""
    seeds = [int(s) for s in seeds]
    prog = program if isinstance(program, Program) else compile(program)
    if client is None:
        return [train(prog, data, seed=s, **options) for s in seeds]
    from .errors import require
    require("distributed", "dask", "training on a Dask cluster")
    if options.get("checkpoint") or options.get("resume") or options.get("progress") or options.get("log"):
        raise PbitError("checkpoints, logs and progress belong to one process: train_many on a cluster takes none")
    from .distributed import gather_all
    shared = client.scatter(data, broadcast=True, hash=False)
    return gather_all(client, [client.submit(train, prog, shared, seed=s, pure=False, **options) for s in seeds])


def sample_many(items, backend=DEFAULT_BACKEND, client=None, program=None, **options) -> list:
    """One run for each of `items`, in order: Programs, or (with `program`, a .pb path or text)
    params dicts, each compiled on its own (a disorder average: one coupling seed per instance).
    With a dask.distributed `client` every instance is a task of its own on the cluster; the
    results are the same as here."""
    items = list(items)
    if program is None and not all(isinstance(x, Program) for x in items):
        raise PbitError("sample_many takes Programs, or params dicts with program= (a .pb path or text)")
    if program is not None and not all(isinstance(x, dict) for x in items):
        raise PbitError("with program=, sample_many takes one params dict per instance")
    if client is None:
        return [sample_instance(x, program, backend, options) for x in items]
    from .errors import require
    require("distributed", "dask", "sampling on a Dask cluster")
    from .distributed import gather_all
    return gather_all(client, [client.submit(sample_instance, x.ir if isinstance(x, Program) else x, program, backend,
                                             options, pure=False) for x in items])


def sample_instance(item, program, backend, options: dict):
    """One instance of sample_many (a task on a Dask worker): a Program or IR sampled, or a program
    compiled with params and sampled."""
    if program is not None:
        return compile(program, item).sample(backend, **options)
    ir = item.ir if isinstance(item, Program) else item
    return run_backend(ir, backend, **options)


def load(path) -> Program:
    """Load a .pbir file saved by Program.save (a TrainedModel when it holds a trained chain)."""
    from .dtm.training import TrainedChain
    ir, extra = read_pbir(path)                               # read and validated once
    trained = TrainedChain.from_pbir(ir, extra, path)
    return TrainedModel(trained) if trained is not None else Program(ir)


def train(program, data, chain=None, epochs=10, seed=0, client=None, **options) -> TrainedModel:
    """Train a denoising chain of `program` on `data` (see pbitlang.dtm.training and docs/dtm.md).
    With a dask.distributed `client` each denoising step trains as a task of its own, and the model
    is the one a local run makes, weights to the bit."""
    from .dtm.training import train_chain
    if client is None:
        return TrainedModel(train_chain(program, data, chain=chain, epochs=epochs, seed=seed, **options))
    from .distributed import train_on                          # it checks for the dask extra
    return TrainedModel(train_on(client, program, data, chain=chain, epochs=epochs, seed=seed, **options))
