"""Compiling a family's pure step functions for a device mesh.

`compile_train_step(experiment.train_step, mesh)` returns `(state, batch) -> (state, metrics)` that
  1. derives the step's key as `fold_in(state.rng, state.step)` (so a resumed run draws the same numbers),
  2. runs the family's step, increments `step` and updates the EMA,
  3. checks every metric for finiteness: with nonfinite='skip' a non-finite step leaves the state as it
     was (only `step` advances) and reports `skipped=1`; with 'stop' the loop raises `NonFiniteError`.
It is compiled with `jax.jit`: state replicated, batch split on the mesh's 'data' axis, state donated.
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


def compile_train_step(step_fn: Callable, mesh, nonfinite: str = "stop", donate: bool = True) -> Callable:
    """jit-compiles the engine step for `mesh`: state replicated, batch sharded on 'data'."""
    rep, data = sh.replicated(mesh), sh.data_sharded(mesh)
    return jax.jit(wrap_train_step(step_fn, nonfinite), in_shardings=(rep, data), out_shardings=(rep, rep),
                   donate_argnums=(0,) if donate else ())


def compile_eval_step(eval_fn: Callable, mesh) -> Callable:
    """jit-compiles `(state, batch, rng) -> {name: [B] values}`; returns masked sums and the example count.

    The batch carries a float 'mask' ([B], 1 for real examples, 0 for padding) so that the last, short
    batch of the test split can be padded to a fixed shape without changing the averages.
    """
    rep, data = sh.replicated(mesh), sh.data_sharded(mesh)

    def eval_step(state, batch, rng):
        mask = batch["mask"]
        values = eval_fn(state, {k: v for k, v in batch.items() if k != "mask"}, rng)
        sums = {k: jnp.sum(jnp.where(mask > 0, v, 0.0)) for k, v in values.items()}
        return sums, jnp.sum(mask)

    return jax.jit(eval_step, in_shardings=(rep, data, rep), out_shardings=rep)


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

    The whole engine path (mesh, replication, sharded batch, jit) without the loop: what a test needs to
    compare one device with many, or a script needs to time a few steps. Returns the final state and the
    last step's metrics, both fetched to the host.
    """
    import jax

    mesh = sh.make_mesh(devices)
    state = sh.replicate(experiment.init_state(jax.random.PRNGKey(seed), batches[0]), mesh)
    step = compile_train_step(experiment.train_step, mesh, nonfinite=nonfinite, donate=False)
    metrics = None
    for batch in batches:
        state, metrics = step(state, sh.shard_batch(batch, mesh))
    return jax.device_get(state), jax.device_get(metrics)
