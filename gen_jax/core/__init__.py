"""The family-agnostic engine: train state, optimizers, step compilation, mesh, checkpoints, loop, logging."""
from gen_jax.core.config import base_config
from gen_jax.core.experiment import Experiment, get_experiment_class, register
from gen_jax.core.optim import make_optimizer
from gen_jax.core.state import TrainState
from gen_jax.core.steps import NonFiniteError

__all__ = ["base_config", "Experiment", "get_experiment_class", "register", "make_optimizer", "TrainState",
           "NonFiniteError"]
