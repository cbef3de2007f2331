"""The contract between a family and the engine, and the registry that picks a family by config string.

A family subclasses `Experiment` and registers it::

    @register("vae")
    class VAEExperiment(Experiment):
        def init_state(self, rng, batch): ...
        def train_step(self, state, batch, rng): ...   # pure: (state, batch, key) -> (state, metrics)
        def eval_step(self, state, batch, rng): ...    # pure: per-example values, dict of [B] arrays
        def visualize(self, state, rng): ...           # optional: dict of [N, H, W, C] images in [0, 1]

The engine (`gen_jax.core.loop`) compiles `train_step` and `eval_step` with `jax.jit` over a device mesh,
feeds them sharded batches, increments the step, keeps the EMA, checks finiteness, logs and checkpoints.
Because the batch is sharded with `NamedSharding` and compiled as one global program, a plain mean over
the batch inside `train_step` is the global mean: no `pmean` is needed (or correct) in family code.
"""
from __future__ import annotations

from typing import Callable, Dict, Type

_REGISTRY: Dict[str, Type["Experiment"]] = {}


def register(name: str) -> Callable[[Type["Experiment"]], Type["Experiment"]]:
    """Class decorator: makes an Experiment selectable with `config.experiment = name`."""

    def deco(cls):
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            raise ValueError(f"experiment {name!r} is registered twice ({_REGISTRY[name]} and {cls})")
        _REGISTRY[name] = cls
        cls.name = name
        return cls

    return deco


# Families whose modules register experiments; imported lazily so that `import gen_jax.core` stays light.
_FAMILY_MODULES = (
    "gen_jax.vae.steps",
    "gen_jax.classical.steps",
    "gen_jax.gan.steps",
    "gen_jax.autoregressive.steps",
    "gen_jax.diffusion.steps",
)


def _import_families():
    import importlib
    import importlib.util

    for mod in _FAMILY_MODULES:
        if importlib.util.find_spec(mod) is not None:
            importlib.import_module(mod)


def get_experiment_class(name: str) -> Type["Experiment"]:
    if name not in _REGISTRY:
        _import_families()
    if name not in _REGISTRY:
        raise ValueError(f"unknown experiment {name!r}; registered experiments: {sorted(_REGISTRY)}")
    return _REGISTRY[name]


def registered() -> list:
    _import_families()
    return sorted(_REGISTRY)


class Experiment:
    """Base class: the four hooks a family provides. See the module docstring."""

    name = "base"

    def __init__(self, config, info):
        self.config = config
        self.info = info

    def init_state(self, rng, batch):
        raise NotImplementedError

    def train_step(self, state, batch, rng):
        raise NotImplementedError

    def eval_step(self, state, batch, rng):
        raise NotImplementedError

    def visualize(self, state, rng):
        """Optional: named image batches [N, H, W, C] in [0, 1] for PNG grids. Default: none."""
        return {}

    # -- helpers shared by the families ---------------------------------------------------------------------
    def create_state(self, params, rng, tx="config", model_state=None, **kw):
        """`TrainState.create` with the config's optimizer (`make_optimizer(config.optim)`, unless `tx` is given:
        an optax transformation, a dict of them keyed by player, or None) and EMA decay (`config.ema_decay`)."""
        from gen_jax.core.optim import make_optimizer
        from gen_jax.core.state import TrainState

        if isinstance(tx, str) and tx == "config":
            tx = make_optimizer(self.config.optim)
        kw.setdefault("ema_decay", self.config.get("ema_decay") or None)
        return TrainState.create(params=params, tx=tx, rng=rng, model_state=model_state, **kw)

    def example_batch(self, n: int, split: str | None = None):
        """The first `n` examples of `split` (default: config.eval_split) as host arrays, loaded once and cached:
        the fixed test images that sample grids show (reconstructions, completions, interpolations)."""
        import numpy as np

        from gen_jax.data import load_arrays

        split = split or self.config.get("eval_split", "test")
        cache = self.__dict__.setdefault("_example_batches", {})
        if (split, n) not in cache:
            arrays = load_arrays(self.info.name, split, data_dir=self.config.get("data_dir"))
            cache[(split, n)] = {k: np.asarray(v[:n]) for k, v in arrays.items()}
        return cache[(split, n)]

    def check_batch(self, batch):
        """Raises a clear error when a batch does not match the dataset the experiment was built for."""
        x = batch["x"]
        expected = tuple(self.info.shape)
        if tuple(x.shape[1:]) != expected:
            raise ValueError(f"{self.name}: batch 'x' has per-example shape {tuple(x.shape[1:])}, "
                             f"but the model was configured for {expected} (dataset {self.info.name!r})")
