"""Denoising thermodynamic models (DTMs): chains of conditional Boltzmann machines that
undo a forward noising process step by step.  See docs/dtm.md."""
from .chain import DenoisingChain, chain_spec  # noqa: F401
from .noise import CorrelatedNoise, FlipNoise, make_noise  # noqa: F401
from .schedules import flip_schedule  # noqa: F401
from .training import TrainedChain, train_chain  # noqa: F401
