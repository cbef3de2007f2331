"""`caption_attributes`: how well generated images show what their caption (or tag vector) asks for.

    c.evals.attributes = dict(kind="caption_attributes", split="test", extractor="classifier:captioned_mnist5k")

For each of the first `num_examples` examples of `split` (default: all; the test split's captions use the
held-out phrasings), the experiment's `conditional_sample(state, key_i, batch)` draws one image for the
example's caption number i mod 3 (and its tags), key_i = fold_in(PRNGKey(seed), chunk); `sample_kwargs` are
passed to the hook (StackGAN: ``dict(stage=1)`` scores Stage-I's images, upsampled to the data's size). The images are
scored against the attributes of the caption:

* ``class_accuracy``: the extractor's classifier (a CNN the library trains on the real train images of the
  dataset's `label`, `gen_jax.metrics.classifier`) predicts the caption's digit; ``class_accuracy_real`` is
  the same classifier on the real images of the split (the ceiling);
* ``thickness_accuracy``, ``slant_accuracy``, ``size_accuracy``, ``position_accuracy``: the classes that
  `gen_jax.data.captioned.attributes` measures on the generated image (thresholds of `source`) equal the
  caption's; ``all_accuracy``: all five at once (real images score 1 on the four measured ones by
  construction, since their classes are measured the same way);
* ``frechet_<extractor>``: the Frechet distance between the generated and the real images of the split in
  the extractor's features (named after it: not the Inception FID).

`classifier_cache` (a path) keeps the trained classifier on disk for the next runs (it is trained by the
library's default, deterministic recipe, minutes of CPU). It also writes `grid_captions.txt` to the workdir: the captions of the sample grids' rows.
"""
from __future__ import annotations

import os

import jax
import jax.numpy as jnp
import numpy as np

from gen_jax.core.evaluators import Evaluator, register_evaluator

ATTRIBUTES = ("thickness_class", "slant_class", "size_class", "position_class")


@register_evaluator("caption_attributes")
class CaptionAttributes(Evaluator):
    """Attribute accuracy and Frechet distance of caption-conditioned samples (see the module docstring)."""

    def known_settings(self):
        return ("num_examples", "batch_size", "extractor", "source", "sample_kwargs", "classifier_cache")

    def __init__(self, prefix, settings, trainer):
        super().__init__(prefix, settings, trainer)
        s = self.settings
        self.num_examples = int(s.get("num_examples", 0) or 0)
        self.batch_size = int(s.get("batch_size", 0) or self.config.eval_batch_size)
        self.extractor_name = s.get("extractor", f"classifier:{self.dataset}")
        self.source = s.get("source", "digits" if "digits" in self.dataset.replace("mnist5k", "") else "mnist5k")
        if not hasattr(trainer.experiment, "conditional_sample"):
            raise ValueError(f"evaluator {prefix!r} (caption_attributes) needs an experiment with a "
                             f"`conditional_sample` hook; {type(trainer.experiment).__name__} has none")
        self.sample_kwargs = dict(s.get("sample_kwargs", None) or {})
        self._sample = None

    def _arrays(self):
        from gen_jax import data as data_lib

        data_dir = self.config.get("data_dir")
        info = data_lib.dataset_info(self.dataset, data_dir=data_dir)
        needed = ("x", "label", "caption_tokens", "tags") + ATTRIBUTES
        missing = [f for f in needed if f not in info.features]
        if missing:
            raise ValueError(f"evaluator {self.prefix!r}: dataset {self.dataset!r} lacks {missing}")
        a = data_lib.load_arrays(self.dataset, self.split, data_dir=data_dir, features=needed)
        n = self.num_examples or len(a["label"])
        a = {k: np.asarray(v[:n]) for k, v in a.items()}
        a["x01"] = a["x"].astype(np.float32) / (info.features["x"].num_levels - 1)
        return a

    def draw(self, state, a):
        exp = self.trainer.experiment
        if self._sample is None:
            kw = self.sample_kwargs
            self._sample = jax.jit(lambda st, k, b: exp.conditional_sample(st, k, b, **kw))
        n = len(a["label"])
        caption = np.arange(n) % a["caption_tokens"].shape[1]
        tokens = a["caption_tokens"][np.arange(n), caption]
        key = jax.random.PRNGKey(self.seed)
        out = []
        for i, start in enumerate(range(0, n, self.batch_size)):
            sl = slice(start, start + self.batch_size)
            batch = {"caption_tokens": jnp.asarray(tokens[sl], jnp.int32),
                     "tags": jnp.asarray(a["tags"][sl], jnp.float32)}
            out.append(np.asarray(jax.device_get(self._sample(state, jax.random.fold_in(key, i), batch))))
        return np.concatenate(out)

    def run(self, state, step):
        from gen_jax.data import captioned
        from gen_jax.metrics import sample_quality as sq
        from gen_jax.metrics.extractors import batched_features

        a = self._arrays()
        images = self.draw(state, a)
        if not np.all(np.isfinite(images)):
            raise ValueError(f"evaluator {self.prefix!r}: generated images hold NaN/inf at step {step}")
        ext = self._extractor()
        out = {}
        if hasattr(ext, "predict"):
            pred = np.asarray(ext.predict(jnp.asarray(images)))
            out["class_accuracy"] = float(np.mean(pred == a["label"]))
            out["class_accuracy_real"] = float(np.mean(np.asarray(ext.predict(jnp.asarray(a["x01"]))) == a["label"]))
            correct = pred == a["label"]
        else:
            correct = np.ones(len(images), bool)
        measured = captioned.attributes(images, 1.0, self.source)
        for key in ATTRIBUTES:
            ok = measured[key] == a[key]
            out[key.replace("_class", "_accuracy")] = float(np.mean(ok))
            correct = correct & ok
        out["all_accuracy"] = float(np.mean(correct))
        fr, ff = batched_features(ext, a["x01"]), batched_features(ext, images)
        out[f"frechet_{self.extractor_name.replace(':', '_')}"] = sq.frechet_distance_from_features(fr, ff)
        self._write_captions()
        return out.items()

    def _extractor(self):
        """The named extractor; a ``classifier:<dataset>`` one is saved to / loaded from `classifier_cache`
        when that path is set (its training is deterministic, so the cached copy is the same network)."""
        from gen_jax.metrics.extractors import get_extractor

        path = self.settings.get("classifier_cache", "")
        data_dir = self.config.get("data_dir")
        if not (path and self.extractor_name.startswith("classifier:")):
            return get_extractor(self.extractor_name, data_dir)
        import flax.serialization

        from gen_jax import data as data_lib
        from gen_jax.metrics import classifier as clf_lib

        dataset = self.extractor_name.split(":", 1)[1]
        if os.path.exists(path):
            info = data_lib.dataset_info(dataset, data_dir=data_dir)
            num_classes = info.features["label"].num_classes
            with open(path, "rb") as f:
                params = flax.serialization.msgpack_restore(f.read())
            return clf_lib.ImageClassifier(clf_lib._CNN(num_classes), jax.tree.map(jnp.asarray, params),
                                           info.features["x"].shape, num_classes, data_dir)
        ext = get_extractor(self.extractor_name, data_dir)
        os.makedirs(os.path.dirname(os.path.abspath(path)), exist_ok=True)
        tmp = f"{path}.tmp-{os.getpid()}"
        with open(tmp, "wb") as f:
            f.write(flax.serialization.msgpack_serialize(jax.device_get(ext.params)))
        os.replace(tmp, path)
        return ext

    def _write_captions(self):
        exp, workdir = self.trainer.experiment, getattr(self.trainer, "workdir", None)
        if not workdir or not self.trainer.is_main or not hasattr(exp, "grid_captions"):
            return
        caps = exp.grid_captions()
        lines = ["per_caption rows (same z along each column):"] + [f"  {r}: {c}" for r, c in enumerate(caps[:8])]
        lines += ["caption_interpolation rows (left: the first caption, right: the second; one z per row):"]
        lines += [f"  {r}: {caps[2 * r]}  ->  {caps[2 * r + 1]}" for r in range(8)]
        with open(os.path.join(workdir, "grid_captions.txt"), "w") as f:
            f.write("\n".join(lines) + "\n")
