"""The one training loop every family runs on: `train_and_evaluate(config, workdir)`.

It builds the data iterators and the device mesh, asks the family's Experiment for its initial state,
restores the latest checkpoint of `workdir` if there is one (state and data position, so the resumed run
continues exactly as if it had never stopped), then repeats the compiled train step, and at the configured
intervals logs train metrics, evaluates on the eval split (label 'test'), writes sample grids and saves
checkpoints.

Model selection (early stopping): with `config.validation_split` every evaluation also runs on that split
(label 'validation'); with `config.select_best` the state is saved into `workdir/best` whenever that
validation metric improves, and the run reports the eval-split metrics of the best state rather than of
the last one. Training still runs all `num_train_steps`: the best state is picked afterwards.
"""
from __future__ import annotations

import json
import os
import time
from typing import Dict, Optional

import jax
import jax.numpy as jnp
import numpy as np
from absl import logging

from gen_jax.core import checkpoint as ckpt_lib
from gen_jax.core import sharding as sh
from gen_jax.core import steps as steps_lib
from gen_jax.core.experiment import get_experiment_class
from gen_jax.core.logging import MetricWriter


def _every(step: int, interval: int, last: int) -> bool:
    """True at multiples of `interval` and at the last step (interval 0: only at the last step)."""
    return step == last or (interval > 0 and step % interval == 0)


def _pad_batch(batch, size: int):
    """Pads a short batch to `size` examples by repeating its first one; adds the 0/1 'mask'."""
    n = len(next(iter(batch.values())))
    out = {k: np.concatenate([v, np.repeat(v[:1], size - n, axis=0)]) if n < size else v
           for k, v in batch.items()}
    out["mask"] = (np.arange(size) < n).astype(np.float32)
    return out


def _check_selection(config) -> None:
    """Clear errors for select_best settings that cannot work, before anything is built."""
    metric = config.get("select_best", "")
    if not metric:
        return
    if not config.get("validation_split", ""):
        raise ValueError(
            f"config.select_best={metric!r} picks the state with the best validation {metric}, but "
            "config.validation_split is empty: set it to a split held out from training, e.g. "
            "--config.train_split='train[:90%]' --config.validation_split='train[90%:]'")
    mode = config.get("select_best_mode", "min")
    if mode not in ("min", "max"):
        raise ValueError(f"config.select_best_mode must be 'min' or 'max', got {mode!r}")


def _check_split_overlaps(config, info) -> None:
    """Warns when the validation split shares examples with the training or the eval split."""
    from gen_jax import data as data_lib

    def examples(split):
        name, start, stop = data_lib.split_bounds(split, info.splits, dataset=info.name)
        return name, range(start, stop)

    val = config.get("validation_split", "")
    if not val:
        return
    v_name, v = examples(val)
    for key, default, kind in (("train_split", "train", "training"), ("eval_split", "test", "evaluation")):
        other = config.get(key, default)
        name, r = examples(other)
        shared = len(range(max(v.start, r.start), min(v.stop, r.stop)))
        if name == v_name and shared:
            logging.warning("config.validation_split=%r shares %d examples with config.%s=%r: the state is "
                            "then selected on %s data", val, shared, key, other, kind)


def _drop_records(path: str, split: str) -> None:
    """Removes the metrics.jsonl records of one split (the 'test_best' summary of an earlier run())."""
    if not os.path.exists(path):
        return
    with open(path) as f:
        lines = [line for line in f if line.strip() and json.loads(line)["split"] != split]
    with open(path, "w") as f:
        f.writelines(lines)


class Trainer:
    """Holds what `train_and_evaluate` builds, so tests and scripts can drive the pieces separately."""

    def __init__(self, config, workdir: str, devices=None):
        from gen_jax import data as data_lib

        _check_selection(config)
        self.config = config
        self.workdir = workdir
        self.train_split = config.get("train_split", "train")
        self.eval_split = config.get("eval_split", "test")
        self.validation_split = config.get("validation_split", "")
        self.select_best = config.get("select_best", "")
        sh.maybe_initialize_distributed(config.get("distributed", "auto"))
        self.is_main = jax.process_index() == 0
        self.info = data_lib.dataset_info(config.dataset, data_dir=config.data_dir)
        for split in (self.eval_split, self.validation_split):  # a bad split name fails now, not mid-run
            if split:
                data_lib.num_examples(config.dataset, split, data_dir=config.data_dir)
        _check_split_overlaps(config, self.info)
        self.experiment = get_experiment_class(config.experiment)(config, self.info)
        self.mesh = sh.make_mesh(devices)
        n = self.mesh.devices.size
        for name in ("batch_size", "eval_batch_size"):
            if config[name] % n:
                raise ValueError(f"config.{name}={config[name]} is not divisible by the {n} devices of the mesh")
        self.train_loader = data_lib.make_loader(
            config.dataset, self.train_split, batch_size=config.batch_size, data_dir=config.data_dir, shuffle=True,
            seed=config.shuffle_seed, num_epochs=None, drop_remainder=True)
        self.train_iter = iter(self.train_loader)
        rng = jax.random.PRNGKey(config.seed)
        self.init_rng, self.state_rng, self.eval_rng, self.sample_rng = jax.random.split(rng, 4)
        self.train_step = steps_lib.compile_train_step(self.experiment.train_step, self.mesh, config.nonfinite)
        self.eval_step = steps_lib.compile_eval_step(self.experiment.eval_step, self.mesh)
        self.checkpointer = ckpt_lib.Checkpointer(os.path.join(workdir, "checkpoints"), config.keep_checkpoints)
        self.best_checkpointer = None
        if self.select_best:
            self.best_checkpointer = ckpt_lib.Checkpointer(
                os.path.join(workdir, "best"), keep=1, best_metric=self.select_best,
                best_mode=config.get("select_best_mode", "min"))
        self.writer = MetricWriter(workdir, enabled=self.is_main)

    # -- state -------------------------------------------------------------------------------------------
    def initial_state(self):
        example = next(iter(self.train_loader))  # a fresh iterator: the training iterator is not advanced
        self.experiment.check_batch(example)
        state = self.experiment.init_state(self.init_rng, example)
        state = state.replace(rng=self.state_rng)
        return sh.replicate(state, self.mesh)

    def restore_or_init(self):
        state = self.initial_state()
        if self.checkpointer.latest_step() is not None:
            state, self.train_iter = self.checkpointer.restore(state, self.train_iter)
            state = sh.replicate(state, self.mesh)
        return state

    # -- evaluation --------------------------------------------------------------------------------------
    def evaluate(self, state, split: Optional[str] = None) -> Dict[str, float]:
        """Per-example means of the eval metrics over `split` (default: config.eval_split)."""
        from gen_jax import data as data_lib

        split = split or self.eval_split
        loader = data_lib.make_loader(self.config.dataset, split, batch_size=self.config.eval_batch_size,
                                      data_dir=self.config.data_dir, shuffle=False, num_epochs=1,
                                      drop_remainder=False)
        # Each eval step is collective over all processes, so every process runs as many as the largest
        # shard needs (ceil(n / P) examples); a process whose shard is shorter feeds fully masked batches.
        per = self.config.eval_batch_size // jax.process_count()
        largest = -(-data_lib.num_examples(self.config.dataset, split, data_dir=self.config.data_dir)
                    // jax.process_count())
        batches = iter(loader)
        totals, count = None, 0.0
        for i in range(-(-largest // per)):
            batch = next(batches, None)
            batch = self._masked_batch(per) if batch is None else _pad_batch(dict(batch), per)
            sums, n = self.eval_step(state, sh.shard_batch(batch, self.mesh), jax.random.fold_in(self.eval_rng, i))
            sums = jax.device_get(sums)
            totals = sums if totals is None else {k: totals[k] + sums[k] for k in totals}
            count += float(n)
        if not count:
            raise ValueError(f"the {split!r} split of {self.config.dataset!r} is empty")
        return {k: float(v) / count for k, v in totals.items()}

    def _masked_batch(self, size: int):
        """A batch of `size` zero examples, all masked out (mask 0): counts for nothing in the eval sums."""
        return {"x": np.zeros((size,) + tuple(self.info.shape), np.dtype(self.info.dtype)),
                "label": np.zeros((size,), np.int32), "mask": np.zeros((size,), np.float32)}

    def eval_metric_names(self, state) -> list:
        """The names the eval step returns, found by tracing it on an abstract batch (nothing runs)."""
        b = self.config.eval_batch_size
        batch = {"x": jax.ShapeDtypeStruct((b,) + tuple(self.info.shape), np.dtype(self.info.dtype)),
                 "label": jax.ShapeDtypeStruct((b,), np.int32), "mask": jax.ShapeDtypeStruct((b,), np.float32)}
        sums, _ = jax.eval_shape(self.eval_step, state, batch, self.eval_rng)
        return sorted(sums)

    def best_so_far(self):
        """(step, validation value) of the state in workdir/best, or (None, None)."""
        step = self.best_checkpointer.best_step()
        if step is None:
            return None, None
        return step, (self.best_checkpointer.metrics(step) or {}).get(self.select_best)

    def _improves(self, value: float, best: Optional[float]) -> bool:
        if not np.isfinite(value):
            return False
        if best is None:
            return True
        return value > best if self.config.get("select_best_mode", "min") == "max" else value < best

    def evaluate_best(self, state, reuse: Optional[Dict[str, float]] = None):
        """Restores the best state into the structure of `state` and evaluates it on the eval split.

        Returns (best step, its validation value, eval metrics); `reuse` holds the eval metrics of `state`
        itself, used when `state` is the best one. (None, None, None) when workdir/best holds no state.
        """
        step, value = self.best_so_far()
        if step is None:
            return None, None, None
        if reuse is not None and step == int(jax.device_get(state.step)):
            return step, value, reuse
        best_state, _ = self.best_checkpointer.restore(state, step=step)
        return step, value, self.evaluate(sh.replicate(best_state, self.mesh))

    def visualize(self, state, step: int):
        images = self.experiment.visualize(state, self.sample_rng)
        return self.writer.write_images(step, jax.device_get(images)) if images else {}

    # -- the loop ----------------------------------------------------------------------------------------
    def run(self) -> Dict[str, float]:
        cfg = self.config
        state = self.restore_or_init()
        start = int(jax.device_get(state.step))
        total = int(cfg.num_train_steps)
        if self.is_main:
            with open(os.path.join(self.workdir, "config.json"), "w") as f:
                f.write(cfg.to_json_best_effort(indent=2))
        self.writer.truncate_after(start)
        best_value = None
        if self.select_best:
            names = self.eval_metric_names(state)
            if self.select_best not in names:
                raise ValueError(f"config.select_best={self.select_best!r} is not a metric of the "
                                 f"{cfg.experiment!r} eval step; its metrics are: {', '.join(names)}")
            if self.is_main:
                _drop_records(self.writer.path, "test_best")  # the summary of an earlier run() is rewritten
            # A best state saved after `start` (the run died between it and the next checkpoint) stays: the
            # resumed run recomputes the same values, so it never beats it at those steps.
            best_value = self.best_so_far()[1]
        pending = []  # (step, device metrics) since the last host sync

        def flush(step):
            if not pending:
                return {}
            host = jax.device_get([m for _, m in pending])
            if cfg.nonfinite == "stop":
                for (s, _), m in zip(pending, host):
                    steps_lib.check_finite(m, s)
            mean = {k: float(np.mean([m[k] for m in host])) for k in host[0]}
            pending.clear()
            self.writer.write_scalars(step, "train", mean)
            return mean

        bar = None
        if cfg.progress_bar and self.is_main and start < total:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, initial=start, desc=cfg.experiment, dynamic_ncols=True, mininterval=1.0)
        final_eval: Dict[str, float] = {}
        t0 = time.time()
        for step in range(start + 1, total + 1):
            batch = sh.shard_batch(next(self.train_iter), self.mesh)
            state, metrics = self.train_step(state, batch)
            pending.append((step, metrics))
            checkpoint_now = _every(step, cfg.checkpoint_every, total)
            if _every(step, cfg.log_every, total) or checkpoint_now:
                mean = flush(step)
                if bar is not None and mean:
                    bar.set_postfix({k: f"{v:.4g}" for k, v in list(mean.items())[:3]}, refresh=False)
            if _every(step, cfg.eval_every, total):
                final_eval = self.evaluate(state)
                self.writer.write_scalars(step, "test", final_eval)
                if self.validation_split:
                    validation = self.evaluate(state, self.validation_split)
                    self.writer.write_scalars(step, "validation", validation)
                    if self.select_best and self._improves(validation[self.select_best], best_value) \
                            and step not in self.best_checkpointer.all_steps():
                        self.best_checkpointer.save(state, metrics=validation)
                        best_value = validation[self.select_best]
            if _every(step, cfg.sample_every, total):
                self.visualize(state, step)
            if checkpoint_now:
                self.checkpointer.save(state, self.train_iter)
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        if start >= total:  # already trained: report the restored state rather than nothing
            if self.is_main:
                print(f"{self.workdir} already holds step {start} of {total}: evaluating it (nothing to train)")
            final_eval = self.evaluate(state)
        self.writer.flush()
        if self.is_main and start < total:
            print(f"trained steps {start}..{total} in {time.time() - t0:.1f}s; "
                  f"test: {json.dumps({k: round(v, 4) for k, v in final_eval.items()})}")
        self.state = state
        if self.select_best:
            return self._report_best(state, final_eval)
        return final_eval

    def _report_best(self, state, final_eval: Dict[str, float]) -> Dict[str, float]:
        """The eval metrics of the best state, logged as 'test_best' at its step, plus best_step and value."""
        metric = self.select_best
        step, value, test = self.evaluate_best(state, reuse=final_eval)
        if step is None:
            logging.warning("no validation %s was finite: workdir/best holds no state; reporting the last one",
                            metric)
            return final_eval
        self.writer.write_scalars(step, "test_best", test)
        self.writer.flush()
        if self.is_main:
            mode = self.config.get("select_best_mode", "min")
            print(f"selected step {step} of {int(jax.device_get(state.step))} ({mode} validation {metric}="
                  f"{value:.4f}); its test: {json.dumps({k: round(v, 4) for k, v in test.items()})}")
        return {**test, "best_step": int(step), f"best_validation_{metric}": float(value)}

    def close(self):
        self.checkpointer.close()
        if self.best_checkpointer is not None:
            self.best_checkpointer.close()
        self.writer.close()


def train_and_evaluate(config, workdir: str, devices=None) -> Dict[str, float]:
    """Trains `config.experiment` on `config.dataset`, resuming from `workdir` if it holds a checkpoint.

    Returns the last eval-split evaluation (per-example means of the family's eval metrics); with
    `config.select_best`, the eval-split evaluation of the best state by validation instead, with its
    `best_step` and `best_validation_<metric>`.
    """
    os.makedirs(workdir, exist_ok=True)
    trainer = Trainer(config, workdir, devices=devices)
    try:
        return trainer.run()
    finally:
        trainer.close()


def evaluate_checkpoint(config, workdir: str, devices=None) -> Dict[str, float]:
    """Restores the latest checkpoint of `workdir` and evaluates it on the eval split (no training).

    With `config.select_best`, the best checkpoint (workdir/best) instead, and the result also holds its
    `best_step` and `best_validation_<metric>`. The eval metrics are appended to metrics.jsonl with split
    'eval' at the evaluated step, and returned.
    """
    trainer = Trainer(config, workdir, devices=devices)
    try:
        if trainer.select_best:
            step, value, result = trainer.evaluate_best(trainer.initial_state())
            if step is None:
                raise ckpt_lib.CheckpointError(
                    f"no best checkpoint in {trainer.best_checkpointer.directory}: train first with "
                    f"validation_split and select_best={trainer.select_best!r}")
            trainer.writer.write_scalars(step, "eval", result)
            return {**result, "best_step": int(step), f"best_validation_{trainer.select_best}": float(value)}
        if trainer.checkpointer.latest_step() is None:
            raise ckpt_lib.CheckpointError(f"no checkpoint in {trainer.checkpointer.directory}: train first "
                                           f"(python -m experiments.run --config=... --workdir={workdir})")
        state = trainer.restore_or_init()
        result = trainer.evaluate(state)
        trainer.writer.write_scalars(int(jax.device_get(state.step)), "eval", result)
        return result
    finally:
        trainer.close()
