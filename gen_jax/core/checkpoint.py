"""Orbax checkpoints of the WHOLE train state, the data loaders' positions and a fingerprint of every array.

Each save writes one step directory holding:
* `state`: the complete state pytree as `flax.serialization.to_state_dict` gives it: params, optimizer state,
  EMA, model state, step, RNG key, and whatever a family adds (a `TrainState.extra` pytree, or the fields of
  a TrainState subclass: image pools, environment states, normalisers). Nothing needs listing: a field the
  family adds is saved and restored with the rest, so resume stays bit-exact;
* `fingerprints`: two position-weighted sums of every array's bits (mod 2^32, computed on the devices, so
  exact and independent of sharding and device count), written at save time and verified after restore;
* `data_<name>`: the grain iterator state of each training loader (one JSON file per process).
Orbax writes a step into a temporary directory and renames it only when complete, so a save killed half-way
leaves a `*.orbax-checkpoint-tmp*` directory that is never restored. Nothing is pickled.

Restoring the latest checkpoint falls back to the one before whenever a checkpoint cannot be read or fails
its fingerprints: the bad one is renamed `<step>.corrupt` (kept for inspection, never read again) and a
one-line warning names it. If none is good, one `CheckpointError` line says so: a run never silently starts
from scratch over existing checkpoints. A checkpoint whose tree does not match the state built from the
config (another model or config) raises `CheckpointMismatchError`, naming the first differing path. A state
with a non-finite float is never saved (`NonFiniteStateError`).

A Checkpointer made with `best_metric` keeps the best states by a metric instead of the latest ones (orbax's
`best_fn` / `best_mode`): each save carries the metrics, which orbax writes beside the state, so the best
step and its value survive restarts. It holds the state only: a selected model is evaluated or deployed,
never resumed, so it needs no data position.
"""
from __future__ import annotations

import math
import os
import time
from typing import Dict, Mapping, Optional

import flax.serialization
import grain
import jax
import jax.numpy as jnp
import numpy as np
import orbax.checkpoint as ocp
from absl import logging

from gen_jax.core.sharding import path_str


class CheckpointError(RuntimeError):
    """A checkpoint exists but cannot be restored (corrupt, truncated, or from an incompatible model)."""


class CheckpointMismatchError(CheckpointError):
    """A readable checkpoint whose tree (paths, shapes, dtypes) or data position does not match the run."""


class NonFiniteStateError(FloatingPointError):
    """A state with NaN or infinite values was about to be saved."""


class _Corrupt(Exception):
    """Internal: this step cannot be read or fails its fingerprints."""


DEFAULT_LOADER = "train"


def _item_name(loader: str) -> str:
    return f"data_{loader}"


# -------------------------------------------------------------------------------------------- fingerprints

_W1, _W2 = np.uint32(0x9E3779B1), np.uint32(0x85EBCA77)


def _bits(x):
    """The bits of an array as uint32 [n] (8-byte types as two words per element)."""
    if jax.dtypes.issubdtype(x.dtype, jax.dtypes.prng_key):
        x = jax.random.key_data(x)
    if x.dtype == jnp.bool_:
        x = x.astype(jnp.uint8)
    size = x.dtype.itemsize
    if size == 4:
        u = jax.lax.bitcast_convert_type(x, jnp.uint32)
    elif size in (1, 2):
        u = jax.lax.bitcast_convert_type(x, jnp.uint8 if size == 1 else jnp.uint16).astype(jnp.uint32)
    elif size == 8:
        u = jax.lax.bitcast_convert_type(x, jnp.uint32)
    else:
        raise TypeError(f"cannot fingerprint dtype {x.dtype}")
    return u.reshape(-1)


def _leaf_fingerprint(x):
    """Two sums of bits_i * w_i mod 2^32 with odd, position-dependent weights: any change of one element (or
    a swap of two) changes the first sum, whatever the sharding or the order of the additions."""
    u = _bits(jnp.asarray(x))
    i = jax.lax.iota(jnp.uint32, u.size)
    w1 = (i * _W1) | np.uint32(1)
    w2 = ((i ^ np.uint32(0x5BD1E995)) * _W2) | np.uint32(1)
    return jnp.stack([jnp.sum(u * w1, dtype=jnp.uint32), jnp.sum((u ^ (u >> 16)) * w2, dtype=jnp.uint32)])


@jax.jit
def _fingerprints(tree):
    return jax.tree.map(_leaf_fingerprint, tree)


def fingerprints(tree) -> Dict[str, list]:
    """{leaf path: [sum1, sum2]} of every array leaf of `tree` (see `_leaf_fingerprint`)."""
    fps = jax.device_get(_fingerprints(tree))
    return {path_str(p): [int(v) for v in np.asarray(fp)] for p, fp in jax.tree_util.tree_flatten_with_path(fps)[0]}


@jax.jit
def _finite_leaves(tree):
    def ok(x):
        if jnp.issubdtype(x.dtype, jnp.inexact):
            return jnp.all(jnp.isfinite(x))
        return jnp.array(True)

    return jax.tree.map(ok, tree)


def nonfinite_paths(tree) -> list:
    """Paths of the float leaves of `tree` that hold a NaN or an infinity."""
    flags = jax.device_get(_finite_leaves(tree))
    return [path_str(p) for p, v in jax.tree_util.tree_flatten_with_path(flags)[0] if not bool(v)]


def state_dict(state):
    """The state as a tree of dicts and arrays: what is saved (static fields such as the optax transformation
    are code, not data: they come from the config)."""
    return flax.serialization.to_state_dict(state)


# ------------------------------------------------------------------------------------------- checkpointer


class _MetricOrWorst:
    """orbax `best_fn`: the value of one metric; a checkpoint saved without it ranks last."""

    def __init__(self, name: str, mode: str):
        self.name = name
        self.worst = math.inf if mode == "min" else -math.inf

    def __call__(self, metrics) -> float:
        value = metrics.get(self.name) if isinstance(metrics, dict) else None
        return self.worst if value is None else float(value)


def _describe(meta) -> str:
    shape = tuple(getattr(meta, "shape", ()) or ())
    return f"shape {shape} {getattr(meta, 'dtype', '?')}"


class Checkpointer:
    """Keeps the last `keep` checkpoints under `directory`; saves and restores state + data iterators.

    `loaders` names the training loaders whose iterator positions are saved (default: one, 'train').
    With `best_metric` (a name in the `metrics` given to `save`) it keeps instead the `keep` checkpoints with
    the lowest (`best_mode='min'`) or highest ('max') value of that metric, and holds the state only.
    """

    def __init__(self, directory: str, keep: int = 3, best_metric: Optional[str] = None, best_mode: str = "min",
                 loaders=(DEFAULT_LOADER,)):
        self.directory = os.path.abspath(directory)
        self.best_metric = best_metric
        self.best_mode = best_mode
        self.loaders = () if best_metric else tuple(loaders)
        handlers = {"state": ocp.StandardCheckpointHandler(), "fingerprints": ocp.JsonCheckpointHandler()}
        best = {}
        if best_metric:
            if best_mode not in ("min", "max"):
                raise ValueError(f"best_mode must be 'min' or 'max', got {best_mode!r}")
            best = dict(best_fn=_MetricOrWorst(best_metric, best_mode), best_mode=best_mode)
        for name in self.loaders:
            handlers[_item_name(name)] = grain.checkpoint.CheckpointHandler()
        options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True, enable_async_checkpointing=False,
                                               **best)
        self._mngr = ocp.CheckpointManager(self.directory, options=options, item_names=tuple(handlers),
                                           item_handlers=handlers)

    def latest_step(self) -> Optional[int]:
        self._mngr.reload()
        return self._mngr.latest_step()

    def all_steps(self):
        self._mngr.reload()
        return list(self._mngr.all_steps())

    def best_step(self) -> Optional[int]:
        """The step with the best `best_metric` (the latest step when there is no best_metric)."""
        self._mngr.reload()
        return self._mngr.best_step()

    def metrics(self, step: int) -> Optional[Dict[str, float]]:
        """The metrics saved with `step`, or None."""
        m = self._mngr.metrics(step)
        return None if m is None else {k: float(v) for k, v in m.items()}

    # -- save ---------------------------------------------------------------------------------------------
    def _iterators(self, data_iterator) -> Dict[str, object]:
        if data_iterator is None:
            return {}
        its = data_iterator if isinstance(data_iterator, Mapping) else {DEFAULT_LOADER: data_iterator}
        if self.best_metric and its:
            raise ValueError(f"the best-by-{self.best_metric} checkpoints in {self.directory} hold the state "
                             "only, not the data iterator")
        unknown = set(its) - set(self.loaders)
        if unknown:
            raise ValueError(f"loaders {sorted(unknown)} were not declared to the Checkpointer "
                             f"(loaders={list(self.loaders)})")
        return dict(its)

    def save(self, state, data_iterator=None, force: bool = True, metrics: Optional[Dict[str, float]] = None) -> None:
        """Saves the whole state (and each loader's position: one iterator, or a dict name -> iterator).

        Raises NonFiniteStateError, writing nothing, when a float leaf of the state is NaN or infinite."""
        step = int(jax.device_get(state.step))
        tree = state_dict(state)
        bad = nonfinite_paths(tree)
        if bad:
            last = self.latest_step()
            raise NonFiniteStateError(
                f"the state at step {step} has non-finite values in {len(bad)} arrays (first: {bad[0]}); it was "
                f"not saved" + (f"; the last checkpoint (step {last}) is intact" if last is not None else ""))
        items = {"state": ocp.args.StandardSave(tree), "fingerprints": ocp.args.JsonSave(fingerprints(tree))}
        for name, it in self._iterators(data_iterator).items():
            items[_item_name(name)] = grain.checkpoint.CheckpointSave(it)
        if self.best_metric and (metrics is None or self.best_metric not in metrics):
            raise ValueError(f"a checkpoint kept by {self.best_metric!r} must be saved with that metric; "
                             f"got metrics {sorted(metrics or {})}")
        metrics = None if metrics is None else {k: float(v) for k, v in metrics.items()}
        self._mngr.save(step, args=ocp.args.Composite(**items), metrics=metrics, force=force)
        self._mngr.wait_until_finished()

    # -- restore ------------------------------------------------------------------------------------------
    def _check_tree(self, step: int, target) -> None:
        """Raises CheckpointMismatchError naming the first path whose presence, shape or dtype differs."""
        try:
            saved = self._mngr.item_metadata(step)["state"]
            saved = getattr(saved, "tree", saved)
        except Exception as e:  # unreadable metadata: corruption, not a mismatch
            raise _Corrupt(f"its metadata cannot be read ({type(e).__name__}: {str(e)[:200]})") from e
        is_meta = lambda x: hasattr(x, "shape") and hasattr(x, "dtype")  # noqa: E731
        have = {path_str(p): m for p, m in jax.tree_util.tree_flatten_with_path(saved, is_leaf=is_meta)[0]}
        want = {path_str(p): m for p, m in jax.tree_util.tree_flatten_with_path(target)[0]}
        problems = []
        for p in sorted(set(have) | set(want)):
            if p not in have:
                problems.append(f"{p!r} is in the state but not in the checkpoint")
            elif p not in want:
                problems.append(f"{p!r} is in the checkpoint but not in the state")
            elif tuple(have[p].shape) != tuple(want[p].shape) or np.dtype(have[p].dtype) != np.dtype(want[p].dtype):
                problems.append(f"{p!r}: saved {_describe(have[p])}, expected {_describe(want[p])}")
        if problems:
            more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
            raise CheckpointMismatchError(
                f"checkpoint {os.path.join(self.directory, str(step))} does not match the state built from the "
                f"config: {problems[0]}{more}. It was written by another model or config: restore it with the "
                f"config it was trained with, or use a fresh --workdir")

    def _restore_step(self, step: int, state, iterators: Dict[str, object]):
        path = os.path.join(self.directory, str(step))
        tree = state_dict(state)
        target = jax.tree.map(ocp.utils.to_shape_dtype_struct, tree)
        self._check_tree(step, target)
        items = {"state": ocp.args.StandardRestore(target), "fingerprints": ocp.args.JsonRestore()}
        for name, it in iterators.items():
            items[_item_name(name)] = grain.checkpoint.CheckpointRestore(it)
        try:
            restored = self._mngr.restore(step, args=ocp.args.Composite(**items))
        except ValueError as e:
            if "does not match" in str(e):  # grain: the saved position belongs to another dataset/split/batch
                raise CheckpointMismatchError(
                    f"checkpoint {path}: the saved data position was written for another dataset, split or "
                    f"batch size ({str(e).splitlines()[0][:200]}); use the config it was trained with, or a "
                    f"fresh --workdir") from e
            raise _Corrupt(f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}") from e
        except Exception as e:  # orbax/tensorstore raise many types for unreadable files
            raise _Corrupt(f"{type(e).__name__}: {str(e).splitlines()[0][:200] if str(e) else ''}") from e
        written = restored["fingerprints"] or {}
        read = fingerprints(restored["state"])
        for p, fp in read.items():
            if written.get(p) != fp:
                raise _Corrupt(f"array {p!r} fails its fingerprint (written {written.get(p)}, read {fp})")
        new_state = flax.serialization.from_state_dict(state, restored["state"])
        its = {name: restored[_item_name(name)] for name in iterators}
        return new_state, its

    def _quarantine(self, step: int) -> str:
        src = os.path.join(self.directory, str(step))
        dst = f"{src}.corrupt-{int(time.time())}"
        if jax.process_index() == 0 and os.path.exists(src):
            os.rename(src, dst)
        self._mngr.reload()
        return dst

    def restore(self, state, data_iterator=None, step: Optional[int] = None):
        """Restores into the structure (and shardings) of `state`; returns (state, data iterators).

        `data_iterator`: None, one iterator (the 'train' loader) or a dict name -> iterator; the same form is
        returned. Without `step`, the latest (or best) checkpoint, falling back to earlier ones past any that
        cannot be read or fail their fingerprints (see the module docstring). With `step`, exactly that one.
        """
        iterators = self._iterators(data_iterator)
        if step is not None:
            candidates = [step]
        elif self.best_metric:
            best = self.best_step()
            candidates = [best] if best is not None else []
        else:
            candidates = sorted(self.all_steps(), reverse=True)
        if not candidates:
            raise CheckpointError(f"no checkpoint to restore in {self.directory}")
        problems = []
        for s in candidates:
            try:
                new_state, its = self._restore_step(s, state, iterators)
            except _Corrupt as e:
                problems.append(f"{s}: {e}")
                if step is not None:
                    raise CheckpointError(f"checkpoint {os.path.join(self.directory, str(s))} could not be "
                                          f"restored: {e}") from None
                moved = self._quarantine(s)
                logging.warning("checkpoint %s is unreadable or corrupt (%s): moved to %s; trying the one before",
                                os.path.join(self.directory, str(s)), e, moved)
                continue
            if isinstance(data_iterator, Mapping) or data_iterator is None:
                return new_state, (its if data_iterator is not None else None)
            return new_state, its[DEFAULT_LOADER]
        raise CheckpointError(f"none of the {len(candidates)} checkpoints in {self.directory} could be restored "
                              f"(moved aside as <step>.corrupt-*): {problems[0]}")

    def close(self):
        self._mngr.close()
