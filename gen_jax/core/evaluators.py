"""Pluggable evaluators: `config.evals` names a set of small evaluators, each yielding (name, value) pairs.

    config.evals = ml_collections.ConfigDict({
        "test":    dict(kind="split_mean", split="test"),                      # per-example means of eval_step
        "samples": dict(kind="samples", num_samples=1000, extractor="digits_classifier", every=5000),
        "recon":   dict(kind="reconstruction", split="test"),                  # PSNR / SSIM / L1
    })

Each evaluator's results go to metrics.jsonl as one record `{"step", "split": <prefix>, ...}` and to
TensorBoard as `<prefix>/<name>` (as big_vision's evaluators do). Common settings: `kind`, `every` (steps; 0 =
config.eval_every; -1 = only at the end), `dataset` (default config.dataset), `split`. Kinds:

* `split_mean`: per-example means of the experiment's `eval_step` over a split (likelihoods, ELBO, losses).
  Settings: `split` (default config.eval_split), `batch_size` (default config.eval_batch_size).
* `samples`: draws `num_samples` with the experiment's `sample` hook (in chunks of `batch_size`, from a key
  fixed by `seed`, so figures at different steps use the same draws; `labels`: 'auto' gives a conditional
  model the classes i mod C, 'none' never) and compares them with the reference `split`:
  images (feature `feature`, default 'x'): Frechet distance and KID (`kid_subsets` of `kid_subset_size`) in
  the features of `extractor` (named in the metric: `frechet_<extractor>`, `kid_<extractor>`; only
  `extractor="inception"`, the standard FID Inception-v3 with `weights` its converted .npz or
  $GEN_JAX_INCEPTION_WEIGHTS, gives `fid`, `kid`, `is`, `is_std`; `precision_recall=True` adds the
  k-NN precision/recall of Kynkaanniemi et al. 2019; `gen_jax.metrics.feature_metrics`), and for a
  classifying extractor the classes covered, the largest class share and, for labelled samples, the label
  accuracy; 2-D points: energy distance, MMD (Gaussian kernel, `mmd_bandwidth`) and, for the toy2d
  mixtures, mode coverage (modes, high_quality, kl; Mahalanobis `threshold`). `sample_kwargs` are passed to
  the hook (e.g. `dict(sampler="ddim", steps=50)`).
* `reconstruction`: the experiment's `reconstruct` hook on a split -> per-example PSNR, SSIM, L1 and MSE
  (images in [0, 1]; `gen_jax.metrics.image`), means over the split.
* `episode_return`: the experiment's `episode_returns` hook over `num_episodes` episodes from the keys
  fold_in(PRNGKey(seed), i) -> return_mean / _std / _min / _max, for the deterministic policy, the
  stochastic one (prefixed `stochastic_`) or both (`policy`: 'deterministic' | 'stochastic' | 'both').

Without `config.evals` the engine evaluates `split_mean` on config.eval_split as 'test', and on
config.validation_split as 'validation' when that is set, which is what every config did before evaluators
existed. New kinds: `@register_evaluator("kind")` on an `Evaluator` subclass.
"""
from __future__ import annotations

from typing import Dict, Iterable, Tuple

import jax
import jax.numpy as jnp
import numpy as np

from gen_jax.core import sharding as sh

_EVALUATORS: Dict[str, type] = {}


def register_evaluator(kind: str):
    def deco(cls):
        _EVALUATORS[kind] = cls
        cls.kind = kind
        return cls

    return deco


def evaluator_kinds():
    return sorted(_EVALUATORS)


def loader_features(info) -> dict:
    """The features a loader yields (all but text), name -> Feature."""
    return {k: f for k, f in info.features.items() if f.kind != "text"}


def _pad_batch(batch, size: int, first_index: int):
    """Pads a short batch to `size` examples by repeating its first one; adds the 0/1 'mask' and each
    example's position in the split, 'example_index' (-1 for padding)."""
    n = len(next(iter(batch.values())))
    out = {k: np.concatenate([v, np.repeat(v[:1], size - n, axis=0)]) if n < size else v
           for k, v in batch.items()}
    out["mask"] = (np.arange(size) < n).astype(np.float32)
    out["example_index"] = np.where(np.arange(size) < n, first_index + np.arange(size), -1).astype(np.int32)
    return out


def _masked_batch(info, size: int):
    """A batch of `size` zero examples, all masked out (mask 0): counts for nothing in the eval sums."""
    out = {k: np.zeros((size,) + tuple(f.shape), np.dtype(f.dtype)) for k, f in loader_features(info).items()}
    out["mask"] = np.zeros((size,), np.float32)
    out["example_index"] = np.full((size,), -1, np.int32)
    return out


def abstract_batch(info, size: int):
    out = {k: jax.ShapeDtypeStruct((size,) + tuple(f.shape), np.dtype(f.dtype))
           for k, f in loader_features(info).items()}
    out["mask"] = jax.ShapeDtypeStruct((size,), np.float32)
    out["example_index"] = jax.ShapeDtypeStruct((size,), np.int32)
    return out


def _progress(trainer, total: int, desc: str):
    """A tqdm bar that appears only when the pass takes longer than a few seconds (and bars are on)."""
    if not (trainer.config.get("progress_bar", True) and trainer.is_main) or total <= 1:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc=desc, delay=5.0, dynamic_ncols=True, mininterval=1.0, leave=False)


def evaluate_split(trainer, state, compiled, dataset: str, split: str, batch_size: int, rng,
                   desc: str = "eval") -> Dict[str, float]:
    """Masked means over every example of `split` of the per-example values of `compiled(state, batch, rng)`
    (a step from `steps.compile_eval_step`: example i of the split draws its randomness from
    fold_in(rng, i), whatever the batch size and device count).

    Each eval step is collective over all processes, so every process runs as many as the largest shard
    needs (ceil(n / P) examples); a process whose shard is shorter feeds fully masked batches."""
    from gen_jax import data as data_lib

    data_dir = trainer.config.get("data_dir")
    info = data_lib.dataset_info(dataset, data_dir=data_dir)
    loader = data_lib.make_loader(dataset, split, batch_size=batch_size, data_dir=data_dir, shuffle=False,
                                  num_epochs=1, drop_remainder=False, features=tuple(loader_features(info)))
    per = batch_size // jax.process_count()
    n = data_lib.num_examples(dataset, split, data_dir=data_dir)
    largest = -(-n // jax.process_count())
    steps = -(-largest // per)
    offset = data_lib.shard_range(n, jax.process_index(), jax.process_count(), drop_remainder=False)[0]
    batches = iter(loader)
    totals, count = None, 0.0
    bar = _progress(trainer, n, desc)
    for i in range(steps):
        batch = next(batches, None)
        batch = _masked_batch(info, per) if batch is None else _pad_batch(dict(batch), per, offset + i * per)
        sums, m = compiled(state, sh.shard_batch(batch, trainer.mesh), rng)
        sums = jax.device_get(sums)
        totals = sums if totals is None else {k: totals[k] + sums[k] for k in totals}
        count += float(m)
        if bar is not None:
            bar.update(min(per * jax.process_count(), n - i * per * jax.process_count()))
    if bar is not None:
        bar.close()
    if not count:
        raise ValueError(f"the {split!r} split of {dataset!r} is empty")
    return {k: float(v) / count for k, v in totals.items()}


class Evaluator:
    """One named evaluator: `run(state, step)` yields (metric name, value) pairs.

    Built by the Trainer from (prefix, settings); `trainer` gives the config, experiment, mesh and state
    sharding. `every` is the evaluator's schedule (0: config.eval_every, -1: only at the last step)."""

    kind = "base"
    needs_dataset = True

    def __init__(self, prefix: str, settings, trainer):
        self.prefix = prefix
        self.settings = dict(settings)
        self.trainer = trainer
        self.config = trainer.config
        every = int(self.settings.get("every", 0) or 0)
        self.every = int(self.config.eval_every) if every == 0 else every
        self.dataset = self.settings.get("dataset", "") or self.config.get("dataset", "")
        if self.needs_dataset and not self.dataset:
            raise ValueError(f"evaluator {prefix!r} ({self.kind}) needs a dataset: set config.dataset or "
                             f"config.evals.{prefix}.dataset")
        self.split = self.settings.get("split", "") or self.config.get("eval_split", "test")
        self.seed = int(self.settings.get("seed", self.config.get("seed", 0)))
        unknown = set(self.settings) - set(self.known_settings()) - {"kind", "every", "dataset", "split", "seed"}
        if unknown:
            raise ValueError(f"config.evals.{prefix} ({self.kind}): unknown settings {sorted(unknown)}; "
                             f"known: {sorted(set(self.known_settings()) | {'kind', 'every', 'dataset', 'split', 'seed'})}")

    def known_settings(self) -> Iterable[str]:
        return ()

    def check(self) -> None:
        """Fails fast (before training) on a bad split or dataset."""
        if self.needs_dataset:
            from gen_jax import data as data_lib

            data_lib.num_examples(self.dataset, self.split, data_dir=self.config.get("data_dir"))

    def describe(self) -> dict:
        """What this evaluator scores, for the records of an evaluation run."""
        out = {"evaluator": self.prefix, "kind": self.kind}
        if self.needs_dataset:
            from gen_jax import data as data_lib

            out.update(dataset=self.dataset, split=self.split,
                       num_examples=data_lib.num_examples(self.dataset, self.split,
                                                          data_dir=self.config.get("data_dir")))
        settings = {k: v for k, v in self.settings.items() if k not in ("kind", "dataset", "split")}
        out["settings"] = {k: (list(v) if isinstance(v, tuple) else v) for k, v in settings.items()}
        return out

    def due(self, step: int, last: int) -> bool:
        if step == last:
            return True
        return self.every > 0 and step % self.every == 0

    def metric_names(self, state):
        """The names `run` yields, when known without running (None: unknown)."""
        return None

    def run(self, state, step: int) -> Iterable[Tuple[str, float]]:
        raise NotImplementedError


@register_evaluator("split_mean")
class SplitMean(Evaluator):
    """Per-example means of the experiment's eval_step over a split."""

    def known_settings(self):
        return ("batch_size",)

    def __init__(self, prefix, settings, trainer):
        super().__init__(prefix, settings, trainer)
        self.batch_size = int(self.settings.get("batch_size", 0) or self.config.eval_batch_size)
        self._compiled = None

    def compiled(self):
        if self._compiled is None:
            self._compiled = self.trainer.compiled_eval_step(self.trainer.experiment.eval_step)
        return self._compiled

    def metric_names(self, state):
        from gen_jax import data as data_lib

        info = data_lib.dataset_info(self.dataset, data_dir=self.config.get("data_dir"))
        sums, _ = jax.eval_shape(self.compiled(), state, abstract_batch(info, self.batch_size),
                                 self.trainer.eval_rng)
        return sorted(sums)

    def run(self, state, step):
        return evaluate_split(self.trainer, state, self.compiled(), self.dataset, self.split, self.batch_size,
                              self.trainer.eval_rng, desc=f"{self.prefix} @{step}").items()


@register_evaluator("reconstruction")
class Reconstruction(SplitMean):
    """PSNR / SSIM / L1 / MSE of the experiment's `reconstruct` outputs against their targets."""

    def known_settings(self):
        return ("batch_size", "ssim_kwargs")

    def compiled(self):
        if self._compiled is None:
            from gen_jax.metrics.image import reconstruction_metrics

            exp = self.trainer.experiment
            kw = dict(self.settings.get("ssim_kwargs", None) or {})

            def per_example(state, batch, rng):
                out = exp.reconstruct(state, batch, rng)
                return reconstruction_metrics(out["output"], out["target"], ssim_kwargs=kw)

            self._compiled = self.trainer.compiled_eval_step(per_example)
        return self._compiled


def _to_unit(x, feature):
    """Stored values -> what sample hooks return: levels onto [0, 1], continuous values unchanged."""
    x = np.asarray(x)
    if feature.kind == "levels" and feature.num_levels:
        return x.astype(np.float32) / (feature.num_levels - 1)
    return x.astype(np.float32)


@register_evaluator("samples")
class Samples(Evaluator):
    """Sample metrics against a reference split (see the module docstring)."""

    def known_settings(self):
        return ("num_samples", "batch_size", "feature", "extractor", "labels", "kid_subsets", "kid_subset_size",
                "mmd_bandwidth", "threshold", "sample_kwargs", "weights", "precision_recall")

    def __init__(self, prefix, settings, trainer):
        super().__init__(prefix, settings, trainer)
        s = self.settings
        self.num_samples = int(s.get("num_samples", 1000))
        self.batch_size = int(s.get("batch_size", 0) or self.config.eval_batch_size)
        self.feature = s.get("feature", "x")
        self.extractor_name = s.get("extractor", "digits_classifier")
        self.labels = s.get("labels", "auto")
        if self.labels not in ("auto", "none"):
            raise ValueError(f"config.evals.{prefix}.labels must be 'auto' or 'none', got {self.labels!r}")
        self.sample_kwargs = dict(s.get("sample_kwargs", None) or {})

    def draw(self, state):
        """num_samples samples as a host array, and their labels (or None)."""
        exp = self.trainer.experiment
        num_classes = int(getattr(exp, "num_classes", 0) or 0) if self.labels == "auto" else 0
        key = jax.random.PRNGKey(self.seed)
        out, labels = [], None
        if num_classes:
            labels = np.arange(self.num_samples) % num_classes
        bar = _progress(self.trainer, self.num_samples, f"{self.prefix} sampling")
        for i, start in enumerate(range(0, self.num_samples, self.batch_size)):
            m = min(self.batch_size, self.num_samples - start)
            y = None if labels is None else jnp.asarray(labels[start:start + m], jnp.int32)
            x = exp.sample(state, jax.random.fold_in(key, i), m, labels=y, **self.sample_kwargs)
            out.append(np.asarray(jax.device_get(x), np.float32))
            if bar is not None:
                bar.update(m)
        if bar is not None:
            bar.close()
        return np.concatenate(out), labels

    def run(self, state, step):
        from gen_jax import data as data_lib

        data_dir = self.config.get("data_dir")
        info = data_lib.dataset_info(self.dataset, data_dir=data_dir)
        if self.feature not in info.features:
            raise ValueError(f"config.evals.{self.prefix}.feature={self.feature!r} is not a feature of "
                             f"{self.dataset!r} ({', '.join(info.features)})")
        feat = info.features[self.feature]
        reference = _to_unit(data_lib.load_arrays(self.dataset, self.split, data_dir=data_dir)[self.feature], feat)
        samples, labels = self.draw(state)
        if samples.shape[1:] != reference.shape[1:]:
            raise ValueError(f"evaluator {self.prefix!r}: samples have shape {samples.shape[1:]}, the reference "
                             f"{self.feature!r} of {self.dataset!r} has {reference.shape[1:]}")
        if not np.all(np.isfinite(samples)):
            bad = int(np.sum(~np.all(np.isfinite(samples.reshape(len(samples), -1)), axis=1)))
            raise ValueError(f"evaluator {self.prefix!r}: {bad} of {len(samples)} samples hold NaN/inf at step {step}")
        if reference.ndim == 2:
            return self._points(samples, reference)
        return self._images(samples, labels, reference, data_dir)

    def _points(self, samples, reference):
        from gen_jax.data import toy2d
        from gen_jax.metrics.mode_coverage import mode_coverage
        from gen_jax.metrics.two_sample import energy_distance, mmd_rbf

        out = {"energy_distance": energy_distance(samples, reference),
               "mmd": mmd_rbf(samples, reference, float(self.settings.get("mmd_bandwidth", 0.1)))}
        try:
            centers, sigma = toy2d.mode_centers(self.dataset)
        except ValueError:
            centers = None
        if centers is not None:
            cov = mode_coverage(samples, centers, sigma, threshold=float(self.settings.get("threshold", 3.0)))
            out.update({k: float(v) for k, v in cov.items()})
        return out.items()

    def _images(self, samples, labels, reference, data_dir):
        from gen_jax.metrics.digits_classifier import class_coverage
        from gen_jax.metrics.extractors import extractor_for
        from gen_jax.metrics.feature_metrics import sample_metrics

        name = self.extractor_name
        ext = extractor_for(name, data_dir, weights=self.settings.get("weights"))
        out = sample_metrics(name, ext, reference, samples, kid_subsets=int(self.settings.get("kid_subsets", 100)),
                             kid_subset_size=int(self.settings.get("kid_subset_size", 1000)), seed=self.seed,
                             with_precision_recall=bool(self.settings.get("precision_recall", False)))
        if hasattr(ext, "predict"):
            pred = np.asarray(ext.predict(jnp.asarray(samples)))
            num_classes = int(getattr(ext, "num_classes", 0) or int(pred.max()) + 1)
            cov = class_coverage(pred, num_classes)
            out.update(classes_covered=float(cov["classes_covered"]), max_class_share=cov["max_share"],
                       class_kl_from_uniform=cov["kl_from_uniform"])
            if labels is not None:
                out["label_accuracy"] = float(np.mean(pred == labels))
        return out.items()


@register_evaluator("episode_return")
class EpisodeReturn(Evaluator):
    """Mean / std / min / max episode return of the policy (the experiment's `episode_returns` hook)."""

    needs_dataset = False

    def known_settings(self):
        return ("num_episodes", "policy")

    def __init__(self, prefix, settings, trainer):
        super().__init__(prefix, settings, trainer)
        self.num_episodes = int(self.settings.get("num_episodes", 10))
        self.policy = self.settings.get("policy", "both")
        if self.policy not in ("deterministic", "stochastic", "both"):
            raise ValueError(f"config.evals.{prefix}.policy must be 'deterministic', 'stochastic' or 'both', "
                             f"got {self.policy!r}")

    def check(self):
        pass

    def run(self, state, step):
        exp = self.trainer.experiment
        key = jax.random.PRNGKey(self.seed)
        out = {}
        modes = {"deterministic": ("", True), "stochastic": ("stochastic_", False)}
        for mode, (prefix, det) in modes.items():
            if self.policy not in (mode, "both"):
                continue
            r = np.asarray(jax.device_get(exp.episode_returns(state, key, self.num_episodes, deterministic=det)),
                           np.float64)
            out.update({f"{prefix}return_mean": float(r.mean()), f"{prefix}return_std": float(r.std()),
                        f"{prefix}return_min": float(r.min()), f"{prefix}return_max": float(r.max())})
        return out.items()


def build_evaluators(config, trainer) -> Dict[str, Evaluator]:
    """The evaluators of `config.evals` (or the defaults: 'test' and, if set, 'validation'), by prefix."""
    evals = config.get("evals", None)
    if evals is None:
        evals = {}
        if config.get("dataset", ""):
            evals["test"] = {"kind": "split_mean", "split": config.get("eval_split", "test")}
            if config.get("validation_split", ""):
                evals["validation"] = {"kind": "split_mean", "split": config.validation_split}
    else:
        evals = {k: dict(v) for k, v in evals.items()}
        if config.get("validation_split", "") and "validation" not in evals:
            evals["validation"] = {"kind": "split_mean", "split": config.validation_split}
    out = {}
    for prefix, settings in evals.items():
        kind = settings.get("kind", "split_mean")
        if kind not in _EVALUATORS:
            raise ValueError(f"config.evals.{prefix}: unknown evaluator kind {kind!r}; known: "
                             f"{', '.join(evaluator_kinds())}")
        out[prefix] = _EVALUATORS[kind](prefix, settings, trainer)
    return out
