"""The one training loop every family runs on: `train_and_evaluate(config, workdir)`.

It builds the experiment's training loaders (`Experiment.inputs()`: one by default, several named ones, or
none), the device mesh and the evaluators (`config.evals`, see `gen_jax.core.evaluators`), asks the family
for its initial state, restores the latest checkpoint of `workdir` if there is one (the whole state and
every loader's position, so the resumed run continues exactly as if it had never stopped), then repeats the
compiled train step and, at the configured intervals, logs train metrics, runs each evaluator, writes
sample grids and saves checkpoints. Model selection (`config.select_best`) lives in `gen_jax.core.selection`.
"""
from __future__ import annotations

import json
import os
import time
from typing import Dict, Optional

import jax
import numpy as np
from absl import logging

from gen_jax.core import checkpoint as ckpt_lib
from gen_jax.core import evaluators as evals_lib
from gen_jax.core import selection as selection_lib
from gen_jax.core import sharding as sh
from gen_jax.core import steps as steps_lib
from gen_jax.core.experiment import DEFAULT_INPUT, get_experiment_class
from gen_jax.core.logging import MetricWriter
from gen_jax.core.workdir import WorkdirLock


def _every(step: int, interval: int, last: int) -> bool:
    """True at multiples of `interval` and at the last step (interval 0: only at the last step)."""
    return step == last or (interval > 0 and step % interval == 0)


def _check_split_overlaps(config, info) -> None:
    """Warns when the validation split shares examples with the training or the eval split."""
    from gen_jax import data as data_lib

    val = config.get("validation_split", "")
    if not val or info is None:
        return

    def examples(split):
        name, start, stop = data_lib.split_bounds(split, info.splits, dataset=info.name)
        return name, range(start, stop)

    v_name, v = examples(val)
    for key, default, kind in (("train_split", "train", "training"), ("eval_split", "test", "evaluation")):
        other = config.get(key, default)
        if other.partition("[")[0] not in info.splits:
            continue
        name, r = examples(other)
        shared = len(range(max(v.start, r.start), min(v.stop, r.stop)))
        if name == v_name and shared:
            logging.warning("config.validation_split=%r shares %d examples with config.%s=%r: the state is "
                            "then selected on %s data", val, shared, key, other, kind)


INPUTS_FILE = "inputs.json"
EVALUATIONS_FILE = "evaluations.jsonl"


def _feature_tuple(f) -> list:
    return [list(f.shape), str(f.dtype), f.kind, f.num_levels if f.kind == "levels" else f.num_classes]


def _feature_text(t) -> str:
    shape, dtype, kind, count = t
    return f"{tuple(shape)} {dtype} {kind}" + (f" ({count})" if count else "")


class Trainer:
    """Holds what `train_and_evaluate` builds, so tests and scripts can drive the pieces separately.

    mode='train' builds the training loaders and restores their positions; mode='eval' restores the model
    state only (params, EMA, model state: the loaders' positions are not read), so a checkpoint can be scored
    on any dataset whose features match the model."""

    def __init__(self, config, workdir: str, devices=None, mode: str = "train"):
        from gen_jax import data as data_lib

        if mode not in ("train", "eval"):
            raise ValueError(f"mode must be 'train' or 'eval', got {mode!r}")
        selection_lib.check_config(config)
        self.config = config
        self.workdir = workdir
        self.mode = mode
        self.data_dir = config.get("data_dir")
        sh.maybe_initialize_distributed(config.get("distributed", "auto"))
        self.is_main = jax.process_index() == 0
        self.info = data_lib.dataset_info(config.dataset, data_dir=self.data_dir) if config.get("dataset") else None
        self.experiment = get_experiment_class(config.experiment)(config, self.info)
        self.inputs = self._resolve_inputs()
        self.mesh = sh.make_mesh(devices)
        n = self.mesh.devices.size
        for name, spec in self.inputs.items():
            if spec["batch_size"] % n:
                raise ValueError(f"the batch size {spec['batch_size']} of loader {name!r} (config.batch_size) is "
                                 f"not divisible by the {n} devices of the mesh")
        self.evaluators = evals_lib.build_evaluators(config, self)
        for ev in self.evaluators.values():
            ev.check()  # a bad split name fails now, not mid-run
            bs = getattr(ev, "batch_size", 0) if isinstance(ev, evals_lib.SplitMean) else 0
            if bs and bs % n:
                raise ValueError(f"the batch size {bs} of evaluator {ev.prefix!r} (config.eval_batch_size) is not "
                                 f"divisible by the {n} devices of the mesh")
        _check_split_overlaps(config, self.info)
        self.loaders = {name: self._make_loader(spec) for name, spec in self.inputs.items()}
        self.iterators = {name: iter(loader) for name, loader in self.loaders.items()}
        rng = jax.random.PRNGKey(config.seed)
        self.init_rng, self.state_rng, self.eval_rng, self.sample_rng = jax.random.split(rng, 4)
        self.state_sharding = None
        self._train_step = None
        self.lock = None
        if mode == "train" and self.is_main:
            self.lock = WorkdirLock(workdir).acquire()
        self.checkpointer = ckpt_lib.Checkpointer(os.path.join(workdir, "checkpoints"), config.keep_checkpoints,
                                                  loaders=tuple(self.inputs))
        self.selection = None
        try:
            if selection_lib.parse(config)[1]:
                prefix = selection_lib.parse(config)[0]
                if prefix not in self.evaluators:
                    raise ValueError(f"config.select_best={config.select_best!r} names evaluator {prefix!r}, but "
                                     f"the evaluators are: {', '.join(self.evaluators)}")
                self.selection = selection_lib.Selection(config, workdir)
            self.writer = MetricWriter(workdir, enabled=self.is_main)
        except BaseException:
            self.checkpointer.close()
            if self.lock is not None:
                self.lock.release()
            raise

    # -- inputs ------------------------------------------------------------------------------------------
    def _resolve_inputs(self):
        """{loader name: {dataset, split, batch_size, seed, features}} with the config's defaults filled in."""
        from gen_jax import data as data_lib

        cfg = self.config
        out = {}
        for i, (name, spec) in enumerate(sorted(self.experiment.inputs().items())):
            dataset = spec.dataset or cfg.get("dataset", "")
            if not dataset:
                raise ValueError(f"loader {name!r} has no dataset: set config.dataset or its `dataset`")
            info = data_lib.dataset_info(dataset, data_dir=self.data_dir)
            features = tuple(spec.features) if spec.features else tuple(evals_lib.loader_features(info))
            seed = spec.seed if spec.seed is not None else int(cfg.shuffle_seed) + i
            out[name] = dict(dataset=dataset, split=spec.split or cfg.get("train_split", "train"),
                             batch_size=int(spec.batch_size or cfg.batch_size), seed=int(seed), features=features,
                             info=info)
        return out

    @property
    def flat_batches(self) -> bool:
        """One loader named 'train' hands train_step its feature dict; otherwise a dict per loader name."""
        return list(self.inputs) == [DEFAULT_INPUT]

    def _make_loader(self, spec):
        from gen_jax import data as data_lib

        split = spec["split"]
        if self.mode == "eval" and split.partition("[")[0] not in spec["info"].splits:
            split = self.config.get("eval_split", "test")  # an eval-only dataset: shapes for init_state only
        return data_lib.make_loader(spec["dataset"], split, batch_size=spec["batch_size"],
                                    data_dir=self.data_dir, shuffle=True, seed=spec["seed"], num_epochs=None,
                                    drop_remainder=self.mode == "train", features=spec["features"])

    def _structure(self, batches: Dict[str, dict]):
        if self.flat_batches:
            return batches[DEFAULT_INPUT]
        return batches

    def next_batch(self):
        """The next host batch in the form train_step receives."""
        return self._structure({name: next(it) for name, it in self.iterators.items()})

    def first_batch(self):
        """A first batch from fresh iterators (the training iterators are not advanced)."""
        batches = {}
        for name, loader in self.loaders.items():
            batch = next(iter(loader))
            self.experiment.check_batch(batch, self.inputs[name]["info"], where=name)
            batches[name] = batch
        return self._structure(batches)

    def input_description(self) -> dict:
        """{loader: {dataset, split, features: {name: [shape, dtype, kind, levels/classes]}}} of the training
        inputs: written to workdir/inputs.json, so that evaluation on another dataset can check it."""
        return {name: {"dataset": spec["dataset"], "split": spec["split"],
                       "features": {k: _feature_tuple(f) for k, f in spec["info"].features.items()
                                    if k in spec["features"]}}
                for name, spec in self.inputs.items()}

    def check_eval_datasets(self) -> None:
        """In eval mode: every evaluator's dataset must carry the training features with the same shapes,
        dtypes and levels (one line naming the feature, the expected and the given, when it does not)."""
        from gen_jax import data as data_lib

        path = os.path.join(self.workdir, INPUTS_FILE)
        if not os.path.exists(path):
            return
        with open(path) as f:
            trained = json.load(f)
        for ev in self.evaluators.values():
            if not ev.needs_dataset:
                continue
            info = data_lib.dataset_info(ev.dataset, data_dir=self.data_dir)
            for loader in trained.values():
                for name, want in loader["features"].items():
                    if name not in info.features:
                        continue
                    got = _feature_tuple(info.features[name])
                    if got != want:
                        raise data_lib.DataShapeError(
                            f"dataset {ev.dataset!r} (evaluator {ev.prefix!r}) does not match the model: feature "
                            f"{name!r} is {_feature_text(got)}, but the model was trained on {_feature_text(want)} "
                            f"({loader['dataset']})")

    # -- state -------------------------------------------------------------------------------------------
    def initial_state(self):
        state = self.experiment.init_state(self.init_rng, self.first_batch())
        state = state.replace(rng=self.state_rng)
        self.state_sharding = sh.state_shardings(state, self.mesh, self.experiment.state_partition(state))
        return jax.device_put(state, self.state_sharding)

    def restore_or_init(self):
        """The latest checkpoint's state (and, in train mode, loader positions), else the initial state."""
        state = self.initial_state()
        if self.checkpointer.latest_step() is not None:
            if self.mode == "train":
                state, self.iterators = self.checkpointer.restore(state, dict(self.iterators))
            else:
                state, _ = self.checkpointer.restore(state)
            state = jax.device_put(state, self.state_sharding)
        return state

    @property
    def train_step(self):
        if self._train_step is None:
            if self.state_sharding is None:
                raise RuntimeError("build the state first (restore_or_init / initial_state)")
            self._train_step = steps_lib.compile_train_step(self.experiment.train_step, self.mesh,
                                                            self.config.nonfinite, state_sharding=self.state_sharding)
        return self._train_step

    def compiled_eval_step(self, per_example_fn):
        """jit-compiles a per-example function (state, batch, rng) -> {name: [B]} for `evaluate_split`
        (vmapped over single examples unless the experiment sets `eval_per_example = False`)."""
        return steps_lib.compile_eval_step(per_example_fn, self.mesh, state_sharding=self.state_sharding,
                                           per_example=getattr(self.experiment, "eval_per_example", True))

    # -- evaluation --------------------------------------------------------------------------------------
    def evaluate(self, state, split: Optional[str] = None) -> Dict[str, float]:
        """Per-example means of the eval metrics over `split` (default: config.eval_split)."""
        ev = self.evaluators.get("test")
        if ev is None or not isinstance(ev, evals_lib.SplitMean):
            ev = evals_lib.SplitMean("test", {"kind": "split_mean"}, self)
        compiled = ev.compiled()
        return evals_lib.evaluate_split(self, state, compiled, ev.dataset, split or ev.split, ev.batch_size,
                                        self.eval_rng)

    def run_evaluator(self, ev, state, step: int, label: Optional[str] = None) -> Dict[str, float]:
        results = {k: float(v) for k, v in ev.run(state, step)}
        self.writer.write_scalars(step, label or ev.prefix, results)
        return results

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
            with open(os.path.join(self.workdir, INPUTS_FILE), "w") as f:
                json.dump(self.input_description(), f, indent=1)
        self.writer.truncate_after(start)
        if self.selection is not None:
            self.selection.check_metric(self.evaluators[self.selection.prefix], state)
            if self.is_main:
                self.writer.drop_splits(f"{p}_best" for p in self.evaluators)  # an earlier run()'s summary
            self.selection.resume()
        pending = []  # (step, device metrics) since the last host sync
        skips = steps_lib.SkipCounter(cfg)

        def flush(step):
            if not pending:
                return {}
            host = jax.device_get([m for _, m in pending])
            skipped = 0
            if cfg.nonfinite == "stop":
                for (s, _), m in zip(pending, host):
                    steps_lib.check_finite(m, s)
            else:  # skipped steps are counted, and left out of the means
                flags = [bool(m["skipped"]) for m in host]
                skips.observe([(s, f) for (s, _), f in zip(pending, flags)])
                skipped = sum(flags)
                host = [m for m, f in zip(host, flags) if not f]
            mean = {k: float(np.mean([m[k] for m in host])) for k in (host[0] if host else {}) if k != "skipped"}
            if cfg.nonfinite == "skip":
                mean["skipped"] = float(skipped)
            pending.clear()
            self.writer.write_scalars(step, "train", mean)
            return mean

        bar = None
        if cfg.progress_bar and self.is_main and start < total:
            from tqdm.auto import tqdm

            bar = tqdm(total=total, initial=start, desc=cfg.experiment, dynamic_ncols=True, mininterval=1.0)
        latest: Dict[str, Dict[str, float]] = {}
        t0 = time.time()
        for step in range(start + 1, total + 1):
            batch = sh.shard_batch(self.next_batch(), self.mesh)
            state, metrics = self.train_step(state, batch)
            pending.append((step, metrics))
            checkpoint_now = _every(step, cfg.checkpoint_every, total)
            if _every(step, cfg.log_every, total) or checkpoint_now:
                mean = flush(step)
                if bar is not None and mean:
                    bar.set_postfix({k: f"{v:.4g}" for k, v in list(mean.items())[:3]}, refresh=False)
            for prefix, ev in self.evaluators.items():
                if ev.due(step, total):
                    latest[prefix] = self.run_evaluator(ev, state, step)
                    if self.selection is not None and prefix == self.selection.prefix:
                        self.selection.observe(state, step, latest[prefix])
            if _every(step, cfg.sample_every, total):
                self.visualize(state, step)
            if checkpoint_now:
                self.checkpointer.save(state, dict(self.iterators))
            if bar is not None:
                bar.update(1)
        if bar is not None:
            bar.close()
        if start >= total:  # already trained: report the restored state rather than nothing
            if self.is_main:
                print(f"{self.workdir} already holds step {start} of {total}: evaluating it (nothing to train)")
            latest = {p: {k: float(v) for k, v in ev.run(state, start)} for p, ev in self.evaluators.items()}
        self.writer.flush()
        result = self._summary(latest)
        if self.is_main and start < total:
            print(f"trained steps {start}..{total} in {time.time() - t0:.1f}s; "
                  f"results: {json.dumps({k: round(v, 4) for k, v in result.items()})}")
        self.state = state
        if self.selection is not None:
            return self._report_best(state, latest)
        return result

    @staticmethod
    def _summary(latest: Dict[str, Dict[str, float]]) -> Dict[str, float]:
        """The 'test' evaluator's metrics by their own names, every other evaluator's as 'prefix/name'."""
        out = dict(latest.get("test", {}))
        for prefix, values in latest.items():
            if prefix != "test":
                out.update({f"{prefix}/{k}": v for k, v in values.items()})
        return out

    def evaluate_best(self, state, reuse: Optional[Dict[str, Dict[str, float]]] = None):
        """Restores the best state into the structure of `state` and runs every evaluator but the selecting one.

        Returns (best step, its value, {prefix: metrics}); `reuse` holds the latest results of `state` itself,
        used when `state` is the best one. (None, None, None) when workdir/best holds no state."""
        sel = self.selection
        step, value = sel.best_so_far()
        if step is None:
            return None, None, None
        others = [p for p in self.evaluators if p != sel.prefix]
        if reuse is not None and step == int(jax.device_get(state.step)) and all(p in reuse for p in others):
            return step, value, {p: reuse[p] for p in others}
        best_state = jax.device_put(sel.restore(state, step=step), self.state_sharding)
        return step, value, {p: {k: float(v) for k, v in self.evaluators[p].run(best_state, step)} for p in others}

    def _report_best(self, state, latest) -> Dict[str, float]:
        """The other evaluators' metrics of the best state, logged as '<prefix>_best' at its step."""
        sel = self.selection
        step, value, results = self.evaluate_best(state, reuse=latest)
        if step is None:
            logging.warning("no %s was finite: workdir/best holds no state; reporting the last one", sel.name)
            return self._summary(latest)
        for prefix, values in results.items():
            self.writer.write_scalars(step, f"{prefix}_best", values)
        self.writer.flush()
        summary = self._summary(results)
        if self.is_main:
            print(f"selected step {step} of {int(jax.device_get(state.step))} ({sel.mode} {sel.name}="
                  f"{value:.4f}); its results: {json.dumps({k: round(v, 4) for k, v in summary.items()})}")
        return {**summary, "best_step": int(step), f"best_{sel.prefix}_{sel.metric}": float(value)}

    def close(self):
        self.checkpointer.close()
        if self.selection is not None:
            self.selection.close()
        self.writer.close()
        if self.lock is not None:
            self.lock.release()
            self.lock = None


def train_and_evaluate(config, workdir: str, devices=None) -> Dict[str, float]:
    """Trains `config.experiment`, resuming from `workdir` if it holds a checkpoint.

    Returns the last results of the evaluators: the 'test' evaluator's metrics by their own names (the
    per-example means of the family's eval metrics on config.eval_split), the others as 'prefix/name'; with
    `config.select_best`, those of the best state instead, with its `best_step` and
    `best_<prefix>_<metric>`.
    """
    os.makedirs(workdir, exist_ok=True)
    trainer = Trainer(config, workdir, devices=devices)
    try:
        return trainer.run()
    finally:
        trainer.close()


def evaluate_checkpoint(config, workdir: str, devices=None, overrides=()) -> Dict[str, float]:
    """Restores the latest checkpoint's model state and runs the evaluators on it (no training).

    Only the model state is restored (not the loaders' positions), so any dataset whose features match the
    training features (workdir/inputs.json) can be scored, e.g. --config.dataset=npz:FILE with only a test
    split. With `config.select_best`, the best checkpoint (workdir/best) instead, and the result also holds
    its `best_step` and value. Each evaluator's result is appended to workdir/evaluations.jsonl as one record
    that says what was scored: step, evaluator, kind, dataset, split, number of examples, its settings,
    the command-line `overrides` and the time; the training log metrics.jsonl is not touched.
    """
    trainer = Trainer(config, workdir, devices=devices, mode="eval")
    try:
        trainer.check_eval_datasets()
        if trainer.selection is not None:
            sel = trainer.selection
            step, value, results = trainer.evaluate_best(trainer.initial_state())
            if step is None:
                raise ckpt_lib.CheckpointError(
                    f"no best checkpoint in {sel.checkpointer.directory}: train first with select_best="
                    f"{trainer.config.select_best!r}")
        else:
            if trainer.checkpointer.latest_step() is None:
                raise ckpt_lib.CheckpointError(f"no checkpoint in {trainer.checkpointer.directory}: train first "
                                               f"(python -m experiments.run --config=... --workdir={workdir})")
            state = trainer.restore_or_init()
            step = int(jax.device_get(state.step))
            results = {p: {k: float(v) for k, v in ev.run(state, step)} for p, ev in trainer.evaluators.items()}
        if trainer.is_main:
            log = MetricWriter(workdir, tensorboard=False, filename=EVALUATIONS_FILE)
            stamp = time.strftime("%Y-%m-%dT%H:%M:%S")
            for prefix, values in results.items():
                log.write_record({"step": int(step), **trainer.evaluators[prefix].describe(),
                                  "overrides": list(overrides), "time": stamp, **values})
        out = trainer._summary(results)
        if trainer.selection is not None:
            out.update({"best_step": int(step), f"best_{sel.prefix}_{sel.metric}": float(value)})
        return out
    finally:
        trainer.close()
