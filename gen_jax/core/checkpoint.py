"""Orbax checkpoints of the train state together with the data iterator's position.

Each save writes one step directory holding two items: `state` (the TrainState pytree: params, optimizer
state, EMA, model state, step, RNG key) and `data` (the grain iterator state, one JSON file per process).
Orbax writes a step into a temporary directory and renames it only when complete, so a save killed half-way
leaves a `*.orbax-checkpoint-tmp*` directory that `latest_step` never returns: the last good checkpoint
stays the one restored. Nothing is pickled.
"""
from __future__ import annotations

import os
from typing import Optional

import grain
import jax
import orbax.checkpoint as ocp


class CheckpointError(RuntimeError):
    """A checkpoint exists but cannot be restored (corrupt, truncated, or from an incompatible model)."""


def _state_tree(state):
    # Static fields (the optax transformation, EMA decay) are code, not data: they come from the config.
    return dict(step=state.step, params=state.params, opt_state=state.opt_state, rng=state.rng,
                model_state=state.model_state, ema_params=state.ema_params)


class Checkpointer:
    """Keeps the last `keep` checkpoints under `directory`; saves and restores state + data iterator."""

    def __init__(self, directory: str, keep: int = 3):
        self.directory = os.path.abspath(directory)
        options = ocp.CheckpointManagerOptions(max_to_keep=keep, create=True, enable_async_checkpointing=False)
        self._mngr = ocp.CheckpointManager(
            self.directory, options=options, item_names=("state", "data"),
            item_handlers={"state": ocp.StandardCheckpointHandler(),
                           "data": grain.checkpoint.CheckpointHandler()})

    def latest_step(self) -> Optional[int]:
        self._mngr.reload()
        return self._mngr.latest_step()

    def all_steps(self):
        self._mngr.reload()
        return list(self._mngr.all_steps())

    def save(self, state, data_iterator=None, force: bool = True) -> None:
        step = int(jax.device_get(state.step))
        items = {"state": ocp.args.StandardSave(_state_tree(state))}
        if data_iterator is not None:
            items["data"] = grain.checkpoint.CheckpointSave(data_iterator)
        self._mngr.save(step, args=ocp.args.Composite(**items), force=force)
        self._mngr.wait_until_finished()

    def restore(self, state, data_iterator=None, step: Optional[int] = None):
        """Restores into the structure (and shardings) of `state`; returns (state, data_iterator).

        Raises CheckpointError, naming the directory, when the checkpoint cannot be read or does not match
        the model built from the config.
        """
        step = self.latest_step() if step is None else step
        if step is None:
            raise CheckpointError(f"no checkpoint to restore in {self.directory}")
        path = os.path.join(self.directory, str(step))
        target = jax.tree.map(ocp.utils.to_shape_dtype_struct, _state_tree(state))
        items = {"state": ocp.args.StandardRestore(target)}
        if data_iterator is not None:
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
