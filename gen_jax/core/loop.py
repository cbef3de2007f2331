"""The one training loop every family runs on: `train_and_evaluate(config, workdir)`.

It builds the data iterators and the device mesh, asks the family's Experiment for its initial state,
restores the latest checkpoint of `workdir` if there is one (state and data position, so the resumed run
continues exactly as if it had never stopped), then repeats the compiled train step, and at the configured
intervals logs train metrics, evaluates on the test split, writes sample grids and saves checkpoints.
"""
from __future__ import annotations

import json
import os
import time
from typing import Dict, Optional

import jax
import jax.numpy as jnp
import numpy as np

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


class Trainer:
    """Holds what `train_and_evaluate` builds, so tests and scripts can drive the pieces separately."""

    def __init__(self, config, workdir: str, devices=None):
        from gen_jax import data as data_lib

        self.config = config
        self.workdir = workdir
        sh.maybe_initialize_distributed(config.get("distributed", "auto"))
        self.is_main = jax.process_index() == 0
        self.info = data_lib.dataset_info(config.dataset, data_dir=config.data_dir)
        self.experiment = get_experiment_class(config.experiment)(config, self.info)
        self.mesh = sh.make_mesh(devices)
        n = self.mesh.devices.size
        for name in ("batch_size", "eval_batch_size"):
            if config[name] % n:
                raise ValueError(f"config.{name}={config[name]} is not divisible by the {n} devices of the mesh")
        self.train_loader = data_lib.make_loader(
            config.dataset, "train", batch_size=config.batch_size, data_dir=config.data_dir, shuffle=True,
            seed=config.shuffle_seed, num_epochs=None, drop_remainder=True)
        self.train_iter = iter(self.train_loader)
        rng = jax.random.PRNGKey(config.seed)
        self.init_rng, self.state_rng, self.eval_rng, self.sample_rng = jax.random.split(rng, 4)
        self.train_step = steps_lib.compile_train_step(self.experiment.train_step, self.mesh, config.nonfinite)
        self.eval_step = steps_lib.compile_eval_step(self.experiment.eval_step, self.mesh)
        self.checkpointer = ckpt_lib.Checkpointer(os.path.join(workdir, "checkpoints"), config.keep_checkpoints)
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
    def evaluate(self, state, split: str = "test") -> Dict[str, float]:
        from gen_jax import data as data_lib

        loader = data_lib.make_loader(self.config.dataset, split, batch_size=self.config.eval_batch_size,
                                      data_dir=self.config.data_dir, shuffle=False, num_epochs=1,
                                      drop_remainder=False)
        totals, count = None, 0.0
        for i, batch in enumerate(loader):
            batch = _pad_batch(dict(batch), self.config.eval_batch_size // jax.process_count())
            sums, n = self.eval_step(state, sh.shard_batch(batch, self.mesh), jax.random.fold_in(self.eval_rng, i))
            sums = jax.device_get(sums)
            totals = sums if totals is None else {k: totals[k] + sums[k] for k in totals}
            count += float(n)
        if not count:
            raise ValueError(f"the {split!r} split of {self.config.dataset!r} is empty")
        return {k: float(v) / count for k, v in totals.items()}

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
        return final_eval

    def close(self):
        self.checkpointer.close()
        self.writer.close()


def train_and_evaluate(config, workdir: str, devices=None) -> Dict[str, float]:
    """Trains `config.experiment` on `config.dataset`, resuming from `workdir` if it holds a checkpoint.

    Returns the last test-split evaluation (per-example means of the family's eval metrics).
    """
    os.makedirs(workdir, exist_ok=True)
    trainer = Trainer(config, workdir, devices=devices)
    try:
        return trainer.run()
    finally:
        trainer.close()


def evaluate_checkpoint(config, workdir: str, devices=None) -> Dict[str, float]:
    """Restores the latest checkpoint of `workdir` and evaluates it on the test split (no training).

    The result is appended to metrics.jsonl with split 'eval' and returned.
    """
    trainer = Trainer(config, workdir, devices=devices)
    try:
        if trainer.checkpointer.latest_step() is None:
            raise ckpt_lib.CheckpointError(f"no checkpoint in {trainer.checkpointer.directory}: train first "
                                           f"(python -m experiments.run --config=... --workdir={workdir})")
        state = trainer.restore_or_init()
        result = trainer.evaluate(state)
        trainer.writer.write_scalars(int(jax.device_get(state.step)), "eval", result)
        return result
    finally:
        trainer.close()
