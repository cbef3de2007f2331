"""`mnist5k_inverted`: the 5,000 mnist5k digits with inverted grey levels, ``x -> 255 - x`` (dark ink on
white), the second domain of CycleGAN / CoGAN's digits <-> inverted digits (Liu & Tuzel 2016, Sec. 4).

Features: ``x`` uint8 [28, 28, 1] (256 levels), ``label`` (0..9), ``index`` (the mnist5k row, so that
``x == 255 - mnist5k.x`` row by row). Splits: mnist5k's fixed 4,000 / 1,000 split, increasing index order.
"""
from __future__ import annotations

import tensorflow_datasets as tfds

from gen_jax.data._derived import DerivedBuilder, label_and_index
from gen_jax.data.features import Feature


class Mnist5kInverted(DerivedBuilder):
    """mnist5k with x -> 255 - x; mnist5k's fixed split."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release."}
    FEATURES = {"x": Feature.levels((28, 28, 1), 256), **label_and_index()}
    SUPERVISED_KEYS = ("x", "label")
    CITATION = "Liu & Tuzel (2016), Coupled Generative Adversarial Networks."

    def derive(self, split, images, labels, indices):
        return {"x": (255 - images)[..., None], "label": labels, "index": indices}
