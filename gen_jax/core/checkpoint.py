"""Orbax checkpoints of the train state together with the data iterator's position.

Each save writes one step directory holding two items: `state` (the TrainState pytree: params, optimizer
state, EMA, model state, step, RNG key) and `data` (the grain iterator state, one JSON file per process).
Orbax writes a step into a temporary directory and renames it only when complete, so a save killed half-way
leaves a `*.orbax-checkpoint-tmp*` directory that `latest_step` never returns: the last good checkpoint
stays the one restored. Nothing is pickled.

A Checkpointer made with `best_metric` keeps the best states by a validation metric instead of the latest
ones (orbax's `best_fn` / `best_mode`): each save carries the metrics, which orbax writes beside the state,
so the best step and its value survive restarts. It holds the state only: a selected model is evaluated or
deployed, never resumed, so it needs no data position.
"""
from __future__ import annotations

import math
import os
from typing import Dict, Optional

import grain
import jax
import orbax.checkpoint as ocp


class CheckpointError(RuntimeError):
    """A checkpoint exists but cannot be restored (corrupt, truncated, or from an incompatible model)."""


def _state_tree(state):
    # Static fields (the optax transformation, EMA decay) are code, not data: they come from the config.
    return dict(step=state.step, params=state.params, opt_state=state.opt_state, rng=state.rng,
                model_state=state.model_state, ema_params=state.ema_params)


class _MetricOrWorst:
    """orbax `best_fn`: the value of one metric; a checkpoint saved without it ranks last."""

    def __init__(self, name: str, mode: str):
        self.name = name
        self.worst = math.inf if mode == "min" else -math.inf

    def __call__(self, metrics) -> float:
        value = metrics.get(self.name) if isinstance(metrics, dict) else None
        return self.worst if value is None else float(value)


class Checkpointer:
    """Keeps the last `keep` checkpoints under `directory`; saves and restores state + data iterator.

    With `best_metric` (a name in the `metrics` given to `save`) it keeps instead the `keep` checkpoints with
    the lowest (`best_mode='min'`) or highest ('max') value of that metric, and holds the state only.
    """

    def __init__(self, directory: str, keep: int = 3, best_metric: Optional[str] = None, best_mode: str = "min"):
        self.directory = os.path.abspath(directory)
        self.best_metric = best_metric
        self.best_mode = best_mode
        handlers = {"state": ocp.StandardCheckpointHandler()}
        best = {}
        if best_metric:
            if best_mode not in ("min", "max"):
                raise ValueError(f"best_mode must be 'min' or 'max', got {best_mode!r}")
            best = dict(best_fn=_MetricOrWorst(best_metric, best_mode), best_mode=best_mode)
        else:
            handlers["data"] = grain.checkpoint.CheckpointHandler()
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

    def save(self, state, data_iterator=None, force: bool = True, metrics: Optional[Dict[str, float]] = None) -> None:
        step = int(jax.device_get(state.step))
        items = {"state": ocp.args.StandardSave(_state_tree(state))}
        if data_iterator is not None:
            self._check_data_item()
            items["data"] = grain.checkpoint.CheckpointSave(data_iterator)
        if self.best_metric and (metrics is None or self.best_metric not in metrics):
            raise ValueError(f"a checkpoint kept by {self.best_metric!r} must be saved with that metric; "
                             f"got metrics {sorted(metrics or {})}")
        metrics = None if metrics is None else {k: float(v) for k, v in metrics.items()}
        self._mngr.save(step, args=ocp.args.Composite(**items), metrics=metrics, force=force)
        self._mngr.wait_until_finished()

    def _check_data_item(self):
        if self.best_metric:
            raise ValueError(f"the best-by-{self.best_metric} checkpoints in {self.directory} hold the state only, "
                             "not the data iterator")

    def restore(self, state, data_iterator=None, step: Optional[int] = None):
        """Restores `step` (default: the latest, or the best) into the structure (and shardings) of `state`;
        returns (state, data_iterator).

        Raises CheckpointError, naming the directory, when the checkpoint cannot be read or does not match
        the model built from the config.
        """
        if step is None:  # the best one when kept by a metric, else the latest
            step = self.best_step() if self.best_metric else self.latest_step()
        if step is None:
            raise CheckpointError(f"no checkpoint to restore in {self.directory}")
        path = os.path.join(self.directory, str(step))
        target = jax.tree.map(ocp.utils.to_shape_dtype_struct, _state_tree(state))
        items = {"state": ocp.args.StandardRestore(target)}
        if data_iterator is not None:
            self._check_data_item()
            items["data"] = grain.checkpoint.CheckpointRestore(data_iterator)
        try:
            restored = self._mngr.restore(step, args=ocp.args.Composite(**items))
        except Exception as e:  # orbax/tensorstore raise many types; report them as one clear error
            raise CheckpointError(
                f"checkpoint {path} could not be restored ({type(e).__name__}: {str(e)[:500]}). It is corrupt, "
                f"incomplete, or was written by a different model/config. Move it aside to resume from an "
                f"earlier step ({sorted(self.all_steps())}), or use a fresh --workdir.") from e
        tree = restored["state"]
        new_state = state.replace(**tree)
        it = restored["data"] if data_iterator is not None else None
        return new_state, it

    def close(self):
        self._mngr.close()
