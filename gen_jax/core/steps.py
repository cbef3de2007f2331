"""Compiling a family's pure step functions for a device mesh.

`compile_train_step(experiment.train_step, mesh)` returns `(state, batch) -> (state, metrics)` that
  1. derives the step's key as `fold_in(state.rng, state.step)` (so a resumed run draws the same numbers),
  2. runs the family's step, increments `step` and updates the EMA,
  3. checks every metric for finiteness: with nonfinite='skip' a non-finite step leaves the state as it
     was (only `step` advances) and reports `skipped=1`; with 'stop' the loop raises `NonFiniteError`.
It is compiled with `jax.jit`: state replicated (except the leaves a family shards, see
`gen_jax.core.sharding.state_shardings`), batch split on the mesh's 'data' axis, state donated.
"""
from __future__ import annotations

from typing import Callable

import jax
import jax.numpy as jnp

from gen_jax.core import sharding as sh


class NonFiniteError(FloatingPointError):
    """A train step produced a NaN or infinite metric (loss, gradient norm, ...)."""


def all_finite(metrics) -> jax.Array:
    leaves = jax.tree.leaves(metrics)
    if not leaves:
        return jnp.array(True)
    return jnp.all(jnp.stack([jnp.all(jnp.isfinite(x)) for x in leaves]))


def wrap_train_step(step_fn: Callable, nonfinite: str = "stop") -> Callable:
    """The un-jitted engine step around a family's `step_fn(state, batch, rng) -> (state, metrics)`."""
    if nonfinite not in ("stop", "skip"):
        raise ValueError(f"config.nonfinite must be 'stop' or 'skip', got {nonfinite!r}")

    def train_step(state, batch):
        rng = jax.random.fold_in(state.rng, state.step)
        new_state, metrics = step_fn(state, batch, rng)
        metrics = dict(metrics)
        new_state = new_state.update_ema()
        if nonfinite == "skip":
            ok = all_finite(metrics)
            new_state = jax.tree.map(lambda n, o: jnp.where(ok, n, o), new_state, state)
            metrics["skipped"] = jnp.logical_not(ok).astype(jnp.float32)
        return new_state.replace(step=state.step + 1), metrics

    return train_step


def compile_train_step(step_fn: Callable, mesh, nonfinite: str = "stop", donate: bool = True,
                       state_sharding=None) -> Callable:
    """jit-compiles the engine step for `mesh`: batch sharded on 'data'; state replicated, or placed by
    `state_sharding` (a pytree of shardings like the state, `sharding.state_shardings`)."""
    rep, data = sh.replicated(mesh), sh.data_sharded(mesh)
    st = rep if state_sharding is None else state_sharding
    return jax.jit(wrap_train_step(step_fn, nonfinite), in_shardings=(st, data), out_shardings=(st, rep),
                   donate_argnums=(0,) if donate else ())


def compile_eval_step(eval_fn: Callable, mesh, state_sharding=None, per_example: bool = True) -> Callable:
    """jit-compiles `(state, batch, rng) -> {name: [B] values}`; returns masked sums and the example count.

    The batch carries a float 'mask' ([B], 1 for real examples, 0 for padding) so that the last, short
    batch of the split can be padded to a fixed shape without changing the averages, and 'example_index'
    ([B] int32, each example's position in the split).

    per_example=True (the default) makes evaluation independent of the batch size and of the device count:
    `eval_fn` is vmapped over the examples, each call seeing a batch of one example and the key
    fold_in(rng, example_index), so every random draw of an evaluation (a binarization, latent samples,
    diffusion times) belongs to its example, whatever batches the split was cut into.
    """
    rep, data = sh.replicated(mesh), sh.data_sharded(mesh)

    def eval_step(state, batch, rng):
        mask = batch["mask"]
        features = {k: v for k, v in batch.items() if k != "mask"}
        if per_example:
            def one(example):
                single = jax.tree.map(lambda v: v[None], example)
                out = eval_fn(state, single, jax.random.fold_in(rng, example["example_index"]))
                return jax.tree.map(lambda v: jnp.reshape(v, ()), out)

            values = jax.vmap(one)(features)
        else:
            values = eval_fn(state, features, rng)
        sums = {k: jnp.sum(jnp.where(mask > 0, v, 0.0)) for k, v in values.items()}
        return sums, jnp.sum(mask)

    st = rep if state_sharding is None else state_sharding
    return jax.jit(eval_step, in_shardings=(st, data, rep), out_shardings=rep)


class SkipCounter:
    """nonfinite='skip' with limits: the run stops (NonFiniteError, naming the skipped steps) after more than
    config.max_consecutive_skips skipped steps in a row, or when more than config.max_skip_fraction of the
    steps run so far (counted once at least 20 ran) were skipped."""

    def __init__(self, config):
        self.max_consecutive = int(config.get("max_consecutive_skips", 10))
        self.max_fraction = float(config.get("max_skip_fraction", 0.1))
        self.run = 0
        self.seen = 0
        self.skipped = []

    def observe(self, flags) -> None:
        for step, skipped in flags:
            self.seen += 1
            if skipped:
                self.skipped.append(step)
                self.run += 1
            else:
                self.run = 0
            steps = ", ".join(str(s) for s in self.skipped[-10:])
            if self.run > self.max_consecutive:
                raise NonFiniteError(f"{self.run} consecutive train steps were non-finite and skipped (up to step "
                                     f"{step}; last skipped: {steps}), more than config.max_consecutive_skips="
                                     f"{self.max_consecutive}. Lower the learning rate or check the data.")
            if self.seen >= 20 and len(self.skipped) > self.max_fraction * self.seen:
                raise NonFiniteError(f"{len(self.skipped)} of {self.seen} train steps were non-finite and skipped "
                                     f"(last skipped: {steps}), more than config.max_skip_fraction="
                                     f"{self.max_fraction}. Lower the learning rate or check the data.")


def check_finite(metrics, step: int):
    """Host-side check for nonfinite='stop': raises naming the step and the offending metrics."""
    bad = {k: float(v) for k, v in metrics.items() if not bool(jnp.all(jnp.isfinite(v)))}
    if bad:
        names = ", ".join(f"{k}={v}" for k, v in sorted(bad.items()))
        raise NonFiniteError(f"non-finite metric at step {step}: {names}. The state of this step was not "
                             f"saved; the last checkpoint is intact. Lower the learning rate, enable "
                             f"optim.grad_clip_norm, or set config.nonfinite='skip'.")


def run_train_steps(experiment, batches, devices=None, seed: int = 0, nonfinite: str = "stop"):
    """Initialises `experiment` and applies its compiled train step to each host batch on `devices`.

    The whole engine path (mesh, replication or the family's state partition, sharded batch, jit) without
    the loop: what a test needs to compare one device with many, or a script needs to time a few steps.
    `batches` are host batches as `train_step` receives them (`[{}] * n` for an experiment without
    inputs). Returns the final state and the last step's metrics, both fetched to the host.
    """
    mesh = sh.make_mesh(devices)
    state = experiment.init_state(jax.random.PRNGKey(seed), batches[0])
    shardings = sh.state_shardings(state, mesh, experiment.state_partition(state))
    state = jax.device_put(state, shardings)
    step = compile_train_step(experiment.train_step, mesh, nonfinite=nonfinite, donate=False,
                              state_sharding=shardings)
    metrics = None
    for batch in batches:
        state, metrics = step(state, sh.shard_batch(batch, mesh))
    return jax.device_get(state), jax.device_get(metrics)
