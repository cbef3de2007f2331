"""The contract between a family and the engine, and the registry that finds a family by config string.

A family subclasses `Experiment` and registers it::

    @register("vae")
    class VAEExperiment(Experiment):
        def init_state(self, rng, batch): ...          # batch: the first train batch
        def train_step(self, state, batch, rng): ...   # pure: (state, batch, key) -> (state, metrics)
        def eval_step(self, state, batch, rng): ...    # pure: per-example values, dict of [B] arrays
        def visualize(self, state, rng): ...           # optional: dict of [N, H, W, C] images in [0, 1]

The engine (`gen_jax.core.loop`) compiles `train_step` and `eval_step` with `jax.jit` over a device mesh,
feeds them sharded batches, increments the step, keeps the EMA, checks finiteness, logs and checkpoints.
Because the batch is sharded with `NamedSharding` and compiled as one global program, a plain mean over
the batch inside `train_step` is the global mean: no `pmean` is needed (or correct) in family code.

**Inputs.** A family declares what it trains on with `inputs()`: by default one loader of `config.dataset`
(split `config.train_split`), whose batches reach `train_step` as the flat feature dict. It may instead return
several named loaders (CycleGAN's unpaired domains: `{"A": Input(...), "B": Input(...)}`; the batch is then
`{"A": {...}, "B": {...}}`), or none (`{}`: an environment stepped inside `train_step`; the batch is `{}`).
`config.inputs` (name -> {dataset, split, batch_size, seed}) declares loaders from a config. Every loader's
position is checkpointed.

**Optional hooks** used by evaluators (`gen_jax.core.evaluators`): `sample`, `reconstruct`,
`episode_returns`; and `state_partition`, which shards parts of the state over the data axis.

**Finding a family.** `config.experiment` is a registered name. Names not yet registered are looked up, in
order, as `gen_jax.<name>.steps`, in every `gen_jax.<package>.steps` module, in the `gen_jax.experiments`
entry-point group of installed packages, and as `package.module:ClassName` for code outside the library.
"""
from __future__ import annotations

import dataclasses
import importlib
import importlib.util
import pkgutil
from typing import Callable, Dict, Optional, Type

_REGISTRY: Dict[str, Type["Experiment"]] = {}
ENTRY_POINT_GROUP = "gen_jax.experiments"


def register(name: str) -> Callable[[Type["Experiment"]], Type["Experiment"]]:
    """Class decorator: makes an Experiment selectable with `config.experiment = name`."""

    def deco(cls):
        if name in _REGISTRY and _REGISTRY[name] is not cls:
            old = _REGISTRY[name]
            if (old.__module__, old.__qualname__) != (cls.__module__, cls.__qualname__):  # a reload is fine
                raise ValueError(f"experiment {name!r} is registered twice ({old} and {cls})")
        _REGISTRY[name] = cls
        cls.name = name
        return cls

    return deco


def _family_step_modules():
    """`gen_jax.<package>.steps` for every sub-package of gen_jax that has a steps module."""
    import gen_jax

    for info in pkgutil.iter_modules(gen_jax.__path__):
        if info.ispkg and importlib.util.find_spec(f"gen_jax.{info.name}.steps") is not None:
            yield f"gen_jax.{info.name}.steps"


def _import_entry_points():
    from importlib import metadata

    for ep in metadata.entry_points(group=ENTRY_POINT_GROUP):
        ep.load()


def _from_path(name: str) -> Type["Experiment"]:
    module, _, attr = name.partition(":")
    try:
        cls = getattr(importlib.import_module(module), attr)
    except (ImportError, AttributeError) as e:
        raise ValueError(f"config.experiment={name!r}: cannot import {attr!r} from {module!r} ({e})") from e
    if not (isinstance(cls, type) and issubclass(cls, Experiment)):
        raise ValueError(f"config.experiment={name!r} is not a gen_jax.core.Experiment subclass")
    return cls


def get_experiment_class(name: str) -> Type["Experiment"]:
    """The Experiment registered as `name` (see the module docstring for where unknown names are looked up)."""
    if not isinstance(name, str) or not name:
        raise ValueError(f"config.experiment must name a family, got {name!r}; registered: {registered()}")
    if name in _REGISTRY:
        return _REGISTRY[name]
    if ":" in name:
        return _from_path(name)
    own = f"gen_jax.{name}.steps"
    if importlib.util.find_spec(f"gen_jax.{name}") is not None and importlib.util.find_spec(own) is not None:
        importlib.import_module(own)
    if name not in _REGISTRY:
        for mod in _family_step_modules():
            importlib.import_module(mod)
    if name not in _REGISTRY:
        _import_entry_points()
    if name not in _REGISTRY:
        raise ValueError(f"unknown experiment {name!r}; registered experiments: {', '.join(sorted(_REGISTRY))} "
                         f"(or give 'package.module:ClassName')")
    return _REGISTRY[name]


def registered() -> list:
    """Every experiment name the library's families (and installed entry points) register."""
    for mod in _family_step_modules():
        importlib.import_module(mod)
    _import_entry_points()
    return sorted(_REGISTRY)


@dataclasses.dataclass(frozen=True)
class Input:
    """One named training loader. Empty fields fall back to the config: `dataset` to config.dataset, `split`
    to config.train_split, `batch_size` to config.batch_size (global, over all processes), `seed` (the
    shuffle seed) to config.shuffle_seed plus the loader's position, so that named loaders shuffle
    independently. `features` selects features (default: every feature that is not text)."""

    dataset: str = ""
    split: str = ""
    batch_size: int = 0
    seed: Optional[int] = None
    features: Optional[tuple] = None


DEFAULT_INPUT = "train"


class Experiment:
    """Base class: the hooks a family provides. See the module docstring.

    `eval_step` receives batches whose features include 'example_index' (the example's position in the
    split). With `eval_per_example = True` (the default) the engine vmaps it over single examples, each with
    its own key fold_in(eval key, example_index): evaluation then does not depend on the batch size or the
    device count. A family whose eval step must see whole batches sets it to False.
    """

    name = "base"
    eval_per_example = True

    def __init__(self, config, info):
        self.config = config
        self.info = info

    # -- what the family trains on ------------------------------------------------------------------------
    def inputs(self) -> Dict[str, Input]:
        """The training loaders by name: `config.inputs` if set, else one loader of config.dataset."""
        spec = self.config.get("inputs", None)
        if spec is None:
            return {DEFAULT_INPUT: Input()} if self.config.get("dataset", "") else {}
        return {name: Input(**{k: (tuple(v) if k == "features" and v is not None else v)
                               for k, v in dict(fields).items()}) for name, fields in spec.items()}

    def input_info(self, name: str):
        """The DatasetInfo of the loader `name` of `inputs()`."""
        from gen_jax import data as data_lib

        spec = self.inputs()[name]
        dataset = spec.dataset or self.config.dataset
        if self.info is not None and dataset == self.config.dataset:
            return self.info
        return data_lib.dataset_info(dataset, data_dir=self.config.get("data_dir"))

    # -- the four engine hooks -----------------------------------------------------------------------------
    def init_state(self, rng, batch):
        raise NotImplementedError

    def train_step(self, state, batch, rng):
        raise NotImplementedError

    def eval_step(self, state, batch, rng):
        raise NotImplementedError(f"{type(self).__name__} has no eval_step: configure other evaluators "
                                  f"(config.evals) or implement it")

    def visualize(self, state, rng):
        """Optional: named image batches [N, H, W, C] in [0, 1] for PNG grids. Default: none."""
        return {}

    # -- optional hooks for evaluators and sharding -----------------------------------------------------------
    def sample(self, state, rng, num: int, labels=None, **kwargs):
        """Optional: `num` samples in data space (images in [0, 1], points in data units), for the `samples`
        evaluator; `labels` ([num] ints) for conditional models; kwargs are the evaluator's `sample_kwargs`."""
        raise NotImplementedError(f"{type(self).__name__} does not sample (no `sample` hook)")

    def reconstruct(self, state, batch, rng):
        """Optional: {'output': [B, ...], 'target': [B, ...]} images in [0, 1], for the `reconstruction`
        evaluator (an autoencoder's reconstruction, a translation and its ground truth)."""
        raise NotImplementedError(f"{type(self).__name__} has no `reconstruct` hook")

    def episode_returns(self, state, rng, num_episodes: int, deterministic: bool = True):
        """Optional: [num_episodes] returns of the policy, for the `episode_return` evaluator."""
        raise NotImplementedError(f"{type(self).__name__} has no `episode_returns` hook")

    def state_partition(self, state) -> Dict[str, object]:
        """Optional: {'path/prefix': PartitionSpec} for state leaves to shard over the mesh (e.g.
        {'extra/env_state': P('data')}: per-device environment batches); everything else is replicated.
        Paths join field names and dict keys with '/'."""
        return {}

    # -- checks -------------------------------------------------------------------------------------------
    def check_batch(self, batch, info=None, where: str = "") -> None:
        """Raises a clear error when a batch's features do not match the dataset the model was built for."""
        info = self.info if info is None else info
        if info is None:
            return
        features = info.features
        for key, value in batch.items():
            if key not in features:
                continue
            expected = tuple(features[key].shape)
            got = tuple(getattr(value, "shape", ())[1:])
            if got != expected:
                src = f" of loader {where!r}" if where else ""
                raise ValueError(f"{self.name}: batch feature {key!r}{src} has per-example shape {got}, but the "
                                 f"model was configured for {expected} (dataset {info.name!r})")

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
