"""Model selection (early stopping): keep the state with the best value of one evaluator's metric.

`config.select_best` names the metric as 'prefix/metric' of any evaluator (`config.evals`), or as a bare
metric of the 'validation' evaluator (`config.validation_split`): e.g. 'nll_nats', 'validation/nll_nats',
'samples/frechet_digits_classifier'. `config.select_best_mode` is 'min' or 'max'. Whenever that evaluator runs
and the metric improves, the state is saved into `workdir/best` (which survives restarts); at the end the
run reports every other evaluator's metrics of the best state rather than of the last one, logged under
'<prefix>_best'. Training still runs all `num_train_steps`: the best state is picked afterwards.
"""
from __future__ import annotations

import os
from typing import Optional, Tuple

import numpy as np


def parse(config) -> Tuple[str, str]:
    """(evaluator prefix, metric) of config.select_best, ('', '') when selection is off."""
    name = config.get("select_best", "") or ""
    if not name:
        return "", ""
    prefix, _, metric = name.rpartition("/")
    return (prefix or "validation"), metric


def check_config(config) -> None:
    """Clear errors for select_best settings that cannot work, before anything is built."""
    prefix, metric = parse(config)
    if not metric:
        return
    evals = config.get("evals", None)
    declared = set(evals.keys()) if evals is not None else set()
    if prefix == "validation" and not config.get("validation_split", "") and "validation" not in declared:
        raise ValueError(
            f"config.select_best={config.select_best!r} picks the state with the best validation {metric}, but "
            "config.validation_split is empty: set it to a split held out from training, e.g. "
            "--config.train_split='train[:90%]' --config.validation_split='train[90%:]'")
    mode = config.get("select_best_mode", "min")
    if mode not in ("min", "max"):
        raise ValueError(f"config.select_best_mode must be 'min' or 'max', got {mode!r}")


class Selection:
    """The best-state bookkeeping of one run (see the module docstring)."""

    def __init__(self, config, workdir: str):
        from gen_jax.core import checkpoint as ckpt_lib

        self.prefix, self.metric = parse(config)
        self.mode = config.get("select_best_mode", "min")
        self.name = f"{self.prefix}/{self.metric}"
        self.checkpointer = ckpt_lib.Checkpointer(os.path.join(workdir, "best"), keep=1, best_metric=self.name,
                                                  best_mode=self.mode)
        self.best_value = None

    def check_metric(self, evaluator, state) -> None:
        names = evaluator.metric_names(state)
        if names is not None and self.metric not in names:
            raise ValueError(f"config.select_best={self.name!r}: {self.metric!r} is not a metric of evaluator "
                             f"{self.prefix!r}; its metrics are: {', '.join(names)}")

    def resume(self) -> None:
        # A best state saved after the restored step (the run died between it and the next checkpoint) stays:
        # the resumed run recomputes the same values, so it never beats it at those steps.
        self.best_value = self.best_so_far()[1]

    def best_so_far(self):
        """(step, value) of the state in workdir/best, or (None, None)."""
        step = self.checkpointer.best_step()
        if step is None:
            return None, None
        return step, (self.checkpointer.metrics(step) or {}).get(self.name)

    def improves(self, value: float) -> bool:
        if not np.isfinite(value):
            return False
        if self.best_value is None:
            return True
        return value > self.best_value if self.mode == "max" else value < self.best_value

    def observe(self, state, step: int, results) -> None:
        """Saves `state` into workdir/best if results[metric] improves on the best so far."""
        if self.metric not in results:
            raise ValueError(f"config.select_best={self.name!r}: evaluator {self.prefix!r} yielded no "
                             f"{self.metric!r}; it yields: {', '.join(sorted(results))}")
        value = float(results[self.metric])
        if self.improves(value) and step not in self.checkpointer.all_steps():
            self.checkpointer.save(state, metrics={self.name: value})
            self.best_value = value

    def restore(self, state, step: Optional[int] = None):
        best, _ = self.checkpointer.restore(state, step=step)
        return best

    def close(self):
        self.checkpointer.close()
