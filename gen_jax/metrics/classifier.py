"""Image classifiers trained by the library: the scorers of translation, attribute and class accuracy.

No pretrained network is available offline, so the papers' "a classifier judges the generated images"
protocols (the FCN-score of Pix2Pix / CycleGAN, DTN's MNIST classifier, attribute accuracy of edited
images) use a classifier trained here on the REAL images of the target domain:

    clf = ImageClassifier.train("mnist5k")              # a small CNN on mnist5k's train split
    clf.accuracy("mnist5k", "test")                     # its own test accuracy, for the record
    acc = np.mean(np.asarray(clf.predict(images01)) == labels)

`ImageClassifier.train(dataset, split, feature, label)` fits any labelled image feature (levels scaled to
[0, 1]); `predict` / `logits` / `features` take images in [0, 1] of the training shape. The network is a
CNN (two 3x3 conv + ReLU + 2x2 max-pool stages of `widths`, a 128-unit ReLU layer whose activations are
`features`, and a linear head), or an MLP for tiny images; training is minibatch AdamW inside one
`lax.scan`, deterministic for a seed (a minute or less on a CPU for mnist5k). As a feature extractor for
sample metrics it is registered as ``classifier:<dataset>`` (`gen_jax.metrics.extractors`).
"""
from __future__ import annotations

import functools

import flax.linen as nn
import jax
import jax.numpy as jnp
import numpy as np
import optax


class _CNN(nn.Module):
    num_classes: int
    widths: tuple = (32, 64)
    hidden: int = 128

    @nn.compact
    def __call__(self, x):
        h = x
        for w in self.widths:
            h = nn.relu(nn.Conv(w, (3, 3))(h))
            if min(h.shape[1:3]) >= 2:
                h = nn.max_pool(h, (2, 2), (2, 2))
        h = nn.relu(nn.Dense(self.hidden)(h.reshape(h.shape[0], -1)))
        return nn.Dense(self.num_classes)(h), h


class _MLP(nn.Module):
    num_classes: int
    hidden: int = 128

    @nn.compact
    def __call__(self, x):
        h = nn.relu(nn.Dense(256)(x.reshape(x.shape[0], -1)))
        h = nn.relu(nn.Dense(self.hidden)(h))
        return nn.Dense(self.num_classes)(h), h


def _to_unit(x, feature):
    x = np.asarray(x)
    if feature.kind == "levels" and feature.num_levels:
        return x.astype(np.float32) / (feature.num_levels - 1)
    return x.astype(np.float32)


class ImageClassifier:
    """A trained classifier: `logits`, `features`, `predict` on images [N, H, W, C] in [0, 1]."""

    def __init__(self, module, params, shape, num_classes: int, data_dir=None):
        self.module, self.params, self.shape = module, params, tuple(shape)
        self.num_classes = int(num_classes)
        self.data_dir = data_dir
        self._apply = jax.jit(lambda p, x: module.apply({"params": p}, x))

    @classmethod
    def train(cls, dataset: str, split: str = "train", feature: str = "x", label: str = "label",
              arch: str = "cnn", steps: int = 1500, batch_size: int = 128, learning_rate: float = 1e-3,
              weight_decay: float = 1e-4, seed: int = 0, data_dir=None) -> "ImageClassifier":
        from gen_jax import data as data_lib

        info = data_lib.dataset_info(dataset, data_dir=data_dir)
        for name in (feature, label):
            if name not in info.features:
                raise ValueError(f"ImageClassifier: dataset {dataset!r} has no feature {name!r} "
                                 f"({', '.join(info.features)})")
        num_classes = info.features[label].num_classes
        if not num_classes:
            raise ValueError(f"ImageClassifier: {dataset!r} feature {label!r} is not a class label")
        arrays = data_lib.load_arrays(dataset, split, data_dir=data_dir, features=(feature, label))
        x = jnp.asarray(_to_unit(arrays[feature], info.features[feature]))
        y = jnp.asarray(arrays[label], jnp.int32)
        if arch not in ("cnn", "mlp"):
            raise ValueError(f"ImageClassifier: arch must be 'cnn' or 'mlp', got {arch!r}")
        module = _CNN(num_classes) if arch == "cnn" else _MLP(num_classes)
        params = module.init(jax.random.PRNGKey(seed), x[:1])["params"]
        tx = optax.adamw(optax.cosine_decay_schedule(learning_rate, steps), weight_decay=weight_decay)
        n = x.shape[0]
        b = min(batch_size, n)

        @jax.jit
        def fit(params, key):
            def body(carry, k):
                p, o = carry
                idx = jax.random.choice(k, n, (b,), replace=False)
                loss, g = jax.value_and_grad(lambda q: optax.softmax_cross_entropy_with_integer_labels(
                    module.apply({"params": q}, x[idx])[0], y[idx]).mean())(p)
                u, o = tx.update(g, o, p)
                return (optax.apply_updates(p, u), o), loss

            (p, _), losses = jax.lax.scan(body, (params, tx.init(params)), jax.random.split(key, steps))
            return p, losses

        params, _ = fit(params, jax.random.PRNGKey(seed + 1))
        return cls(module, params, x.shape[1:], num_classes, data_dir)

    def _check(self, images):
        images = jnp.asarray(images, jnp.float32)
        if tuple(images.shape[1:]) != self.shape:
            raise ValueError(f"ImageClassifier expects images [N, {', '.join(map(str, self.shape))}] in [0, 1], "
                             f"got shape {tuple(images.shape)}")
        return images

    def _batched(self, images, index, batch_size=1000):
        images = self._check(images)
        return jnp.concatenate([self._apply(self.params, images[i:i + batch_size])[index]
                                for i in range(0, max(len(images), 1), batch_size)])

    def logits(self, images):
        return self._batched(images, 0)

    def features(self, images):
        """[N, 128] penultimate activations."""
        return self._batched(images, 1)

    def predict(self, images):
        return jnp.argmax(self.logits(images), -1)

    def accuracy(self, dataset: str, split: str = "test", feature: str = "x", label: str = "label") -> float:
        from gen_jax import data as data_lib

        info = data_lib.dataset_info(dataset, data_dir=self.data_dir)
        arrays = data_lib.load_arrays(dataset, split, data_dir=self.data_dir, features=(feature, label))
        pred = np.asarray(self.predict(_to_unit(arrays[feature], info.features[feature])))
        return float(np.mean(pred == np.asarray(arrays[label])))


@functools.lru_cache(maxsize=16)
def trained_classifier(dataset: str, split: str = "train", feature: str = "x", label: str = "label",
                       arch: str = "cnn", seed: int = 0, data_dir=None) -> ImageClassifier:
    """`ImageClassifier.train(...)` once per process for each setting."""
    return ImageClassifier.train(dataset, split, feature, label, arch=arch, seed=seed, data_dir=data_dir)
