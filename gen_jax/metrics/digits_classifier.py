"""A small digits classifier trained by the library: the feature extractor for sample quality on `digits`.

The Frechet distance needs a feature space. For 8x8 digits there is no standard network, so the library
trains its own: an MLP 64 -> 256 -> 128 -> 10 on the digits train split (pixels scaled to [0, 1]), with Adam
and weight decay, deterministic given the seed (full-batch steps in one `lax.scan`, a few seconds on a CPU).
Its 128-unit penultimate layer is the feature space (`features`), its argmax the class assignment used for
class coverage (`class_coverage`). Any other extractor with the same call signature (images in [0, 1] ->
[N, F]) can replace it in `gen_jax.metrics.sample_quality.evaluate_samples`.
"""
from __future__ import annotations

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax


class _MLP(nn.Module):
    hidden: tuple = (256, 128)
    num_classes: int = 10

    @nn.compact
    def __call__(self, x):
        h = x.reshape(x.shape[0], -1)
        for f in self.hidden:
            h = nn.relu(nn.Dense(f)(h))
        return nn.Dense(self.num_classes)(h), h


class DigitsClassifier:
    """Trained classifier with `features`, `logits`, `predict` on images [N, 8, 8, 1] in [0, 1]."""

    def __init__(self, params, module=None):
        self.module = module or _MLP()
        self.params = params
        m = self.module   # the jitted apply closes over the module only, so it does not keep `self` alive
        self._apply = jax.jit(lambda params, images: m.apply({"params": params}, images))

    @classmethod
    def train(cls, seed: int = 0, steps: int = 600, learning_rate: float = 3e-3, weight_decay: float = 1e-4,
              data_dir=None) -> "DigitsClassifier":
        """Trains on the digits train split; returns the classifier (test accuracy: `.accuracy_on_test()`)."""
        from gen_jax.data import load_arrays
        from gen_jax.data import preprocess as pp

        tr = load_arrays("digits", "train", data_dir=data_dir)
        x = pp.scale01(tr["x"], 17)
        y = jnp.asarray(tr["label"], jnp.int32)
        module = _MLP()
        params = module.init(jax.random.PRNGKey(seed), x[:1])["params"]
        tx = optax.adamw(learning_rate, weight_decay=weight_decay)

        @jax.jit
        def fit(params):
            def body(carry, _):
                p, o = carry
                loss, g = jax.value_and_grad(
                    lambda q: optax.softmax_cross_entropy_with_integer_labels(module.apply({"params": q}, x)[0],
                                                                              y).mean())(p)
                u, o = tx.update(g, o, p)
                return (optax.apply_updates(p, u), o), loss
            (p, _), losses = jax.lax.scan(body, (params, tx.init(params)), None, length=steps)
            return p, losses

        params, _ = fit(params)
        clf = cls(params, module)
        clf.data_dir = data_dir
        return clf

    def _check(self, images):
        images = jnp.asarray(images, jnp.float32)
        if images.shape[1:] != (8, 8, 1):
            raise ValueError(f"DigitsClassifier expects images [N, 8, 8, 1] in [0, 1], got shape {images.shape}")
        return images

    def logits(self, images):
        return self._apply(self.params, self._check(images))[0]

    def features(self, images):
        """[N, 128] penultimate activations: the feature space of the Frechet distance on digits."""
        return self._apply(self.params, self._check(images))[1]

    def predict(self, images):
        return jnp.argmax(self.logits(images), -1)

    def accuracy_on_test(self) -> float:
        from gen_jax.data import load_arrays
        from gen_jax.data import preprocess as pp

        te = load_arrays("digits", "test", data_dir=getattr(self, "data_dir", None))
        return float(jnp.mean(self.predict(pp.scale01(te["x"], 17)) == te["label"]))


def class_coverage(predictions, num_classes: int = 10) -> dict:
    """Share of each class among generated samples (by the classifier's argmax), and summaries.

    Returns {'shares': [num_classes] fractions, 'classes_covered': number of classes with a share of at
    least 1 / (4 num_classes) (a quarter of the uniform share), 'kl_from_uniform': KL(shares || uniform) with
    0 log 0 = 0, 'max_share': the largest share}.
    """
    p = np.asarray(predictions).astype(np.int64)
    if p.ndim != 1 or p.size == 0:
        raise ValueError(f"class_coverage: predictions must be a non-empty vector of class ids, got {p.shape}")
    if p.min() < 0 or p.max() >= num_classes:
        raise ValueError(f"class_coverage: class ids must lie in [0, {num_classes}), got [{p.min()}, {p.max()}]")
    shares = np.bincount(p, minlength=num_classes) / p.size
    nz = shares > 0
    kl = float(np.sum(shares[nz] * np.log(shares[nz] * num_classes)))
    return {"shares": shares.tolist(), "classes_covered": int(np.sum(shares >= 0.25 / num_classes)),
            "kl_from_uniform": kl, "max_share": float(shares.max())}
