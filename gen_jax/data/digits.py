"""`digits`: scikit-learn's 1,797 handwritten digits (8x8, 17 grey levels 0..16) as a TFDS builder.

Features: ``x`` uint8 [8, 8, 1] (levels 0..16), ``label`` (0..9), ``index`` int32 (the row of
``sklearn.datasets.load_digits()``, kept so that the split can be checked).

The train/test split is FIXED forever (never change it: published numbers depend on it):

* test  = for each class c in 0..9, the 36 images of class c whose sklearn index i has the smallest
  SHA-256 digest of the ASCII string ``f"gen_jax/digits/{i}"`` (digests compared as bytes) -> 360 images,
  exactly 36 per class;
* train = the other 1,437 images.

Both splits are stored in increasing sklearn index order. The selection uses no random number
generator, so it depends on no library version; `split_indices()` recomputes it, and
tests/data/test_digits.py pins the SHA-256 of the sorted test indices as little-endian int64 bytes:
``b6dda9966fad4e2df3b584a188f9351352e031ea9a23d0cf877dd349c0e434c0``.
"""
from __future__ import annotations

import hashlib

import numpy as np
import tensorflow_datasets as tfds

from gen_jax.data._tfds_base import EmbeddedBuilder

NUM_LEVELS = 17
NUM_CLASSES = 10
TEST_PER_CLASS = 36
NUM_TRAIN = 1437
NUM_TEST = 360


def _raw():
    from sklearn.datasets import load_digits  # bundled with scikit-learn: no network

    d = load_digits()
    images = np.asarray(d.images)
    if not np.array_equal(images, np.round(images)) or images.min() < 0 or images.max() > 16:
        raise RuntimeError("scikit-learn's digits are expected to be integers 0..16")
    return images.astype(np.uint8)[..., None], np.asarray(d.target, np.int64)


def _digest(i: int) -> bytes:
    return hashlib.sha256(f"gen_jax/digits/{i}".encode("ascii")).digest()


def split_indices(labels: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The fixed split: {'train': sorted sklearn indices, 'test': sorted sklearn indices} (int64)."""
    if labels is None:
        labels = _raw()[1]
    test = []
    for c in range(NUM_CLASSES):
        members = [int(i) for i in np.flatnonzero(labels == c)]
        members.sort(key=_digest)
        test.extend(members[:TEST_PER_CLASS])
    test = np.sort(np.asarray(test, np.int64))
    train = np.setdiff1d(np.arange(len(labels), dtype=np.int64), test)
    return {"train": train, "test": test}


class Digits(EmbeddedBuilder):
    """scikit-learn's 8x8 digits, 17 grey levels, with gen_jax's fixed 1,437 / 360 split."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release: fixed 1,437 / 360 split, 36 test images per class."}

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description=__doc__,
            disable_shuffling=True,  # stored in generation order (increasing index)
            features=tfds.features.FeaturesDict(
                {
                    "x": tfds.features.Tensor(shape=(8, 8, 1), dtype=np.uint8),
                    "label": tfds.features.ClassLabel(num_classes=NUM_CLASSES),
                    "index": tfds.features.Scalar(dtype=np.int32),
                }
            ),
            supervised_keys=("x", "label"),
            homepage="https://scikit-learn.org/stable/modules/generated/sklearn.datasets.load_digits.html",
            citation="Alpaydin & Kaynak (1998), Optical Recognition of Handwritten Digits, UCI ML Repository.",
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # everything is bundled with scikit-learn
        images, labels = _raw()
        idx = split_indices(labels)
        return {s: self._generate_examples(images, labels, idx[s]) for s in ("train", "test")}

    def _generate_examples(self, images, labels, indices):
        for i in indices:
            i = int(i)
            yield i, {"x": images[i], "label": int(labels[i]), "index": i}
