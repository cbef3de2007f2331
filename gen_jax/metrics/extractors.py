"""Feature extractors for sample metrics, by name: `get_extractor(name, data_dir=None)`.

An extractor maps images in [0, 1] ([N, H, W, C]) to features [N, F]; one that also classifies has
`predict(images) -> [N]` class indices (for class coverage and label accuracy). Names:

* ``digits_classifier``: the library-trained digits MLP (`gen_jax.metrics.digits_classifier`), 128-d features,
  for the 8x8 digits;
* ``pixels``: the flattened pixels themselves (no network; a baseline that needs no training);
* ``classifier:<dataset>``: a CNN trained by the library on that dataset's train split
  (`gen_jax.metrics.classifier`), its 128-d penultimate activations, e.g. ``classifier:mnist5k``.

Metric names carry the extractor's name (e.g. ``frechet_digits_classifier``), so a figure measured in a
library-trained feature space is never mistaken for the FID of the standard Inception network.
"""
from __future__ import annotations

import functools
from typing import Callable, Dict

import jax.numpy as jnp
import numpy as np

_EXTRACTORS: Dict[str, Callable] = {}


def register_extractor(name: str):
    """Decorator: `fn(data_dir=None) -> extractor` becomes selectable by `name`."""

    def deco(fn):
        _EXTRACTORS[name] = fn
        return fn

    return deco


class Pixels:
    """Flattened pixels as features."""

    def features(self, images):
        images = np.asarray(images, np.float32)
        return images.reshape(images.shape[0], -1)


@register_extractor("pixels")
def _pixels(data_dir=None):
    del data_dir
    return Pixels()


@register_extractor("digits_classifier")
def _digits_classifier(data_dir=None):
    from gen_jax.metrics.digits_classifier import DigitsClassifier

    return DigitsClassifier.train(seed=0, data_dir=data_dir)


@functools.lru_cache(maxsize=8)
def get_extractor(name: str, data_dir=None):
    """The extractor called `name` (built once per process and data_dir)."""
    if name.startswith("classifier:"):
        from gen_jax.metrics.classifier import trained_classifier

        return trained_classifier(name.split(":", 1)[1], data_dir=data_dir)
    if name not in _EXTRACTORS:
        raise ValueError(f"unknown feature extractor {name!r}; known: {', '.join(sorted(_EXTRACTORS))}")
    return _EXTRACTORS[name](data_dir=data_dir)


def batched_features(extractor, images, batch_size: int = 500) -> np.ndarray:
    """`extractor.features` over `images` in batches, as one float64-ready numpy array."""
    images = np.asarray(images, np.float32)
    return np.concatenate([np.asarray(extractor.features(jnp.asarray(images[i:i + batch_size])))
                           for i in range(0, len(images), batch_size)])


@register_extractor("inception")
def _inception(data_dir=None, weights=None):
    """The standard FID Inception-v3 (`gen_jax.metrics.inception`): pool3 features (2048-d) and 1008 logits.

    Its weights are a local `.npz` the user makes once (never downloaded): `weights=` where a caller passes
    it (`extractor_for`, the `samples` evaluator's `weights` setting, `compare --weights=`), else
    $GEN_JAX_INCEPTION_WEIGHTS. Grey images are repeated to 3 channels. Only with this extractor are sample
    metrics named fid / is / kid (`gen_jax.metrics.feature_metrics`)."""
    del data_dir
    from gen_jax.metrics.inception import inception_extractor

    return inception_extractor(weights)


def extractor_for(name: str, data_dir=None, weights=None):
    """`get_extractor(name, data_dir)`, or for ``inception`` the network with the weights file `weights`
    (default $GEN_JAX_INCEPTION_WEIGHTS); `weights` given for another extractor is an error."""
    if name == "inception":
        return _EXTRACTORS["inception"](data_dir=data_dir, weights=weights)
    if weights is not None:
        raise ValueError(f"weights={weights!r} is for the 'inception' extractor only, not {name!r}")
    return get_extractor(name, data_dir)
