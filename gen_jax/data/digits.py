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


import numpy as np
import tensorflow_datasets as tfds

from gen_jax.data._tfds_base import LabelledImageBuilder, hashed_class_split

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


def split_indices(labels: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The fixed split: {'train': sorted sklearn indices, 'test': sorted sklearn indices} (int64)."""
    return hashed_class_split(_raw()[1] if labels is None else labels, NUM_CLASSES, TEST_PER_CLASS, "digits")


class Digits(LabelledImageBuilder):
    """scikit-learn's 8x8 digits, 17 grey levels, with gen_jax's fixed 1,437 / 360 split."""

    VERSION = tfds.core.Version("2.0.0")
    RELEASE_NOTES = {
        "1.0.0": "Initial release: fixed 1,437 / 360 split, 36 test images per class.",
        "2.0.0": "The same examples and split as a fresh 1.0.0 copy, in increasing index order. Copies of 1.0.0 "
                 "prepared before the builder set disable_shuffling=True hold the same examples in a shuffled "
                 "stored order (training then sees other batches); the new version makes such copies "
                 "unreachable, and every load now checks the stored fingerprint of its version.",
    }

    IMAGE_SHAPE = (8, 8, 1)
    NUM_LEVELS = NUM_LEVELS
    NUM_CLASSES = NUM_CLASSES
    HOMEPAGE = "https://scikit-learn.org/stable/modules/generated/sklearn.datasets.load_digits.html"
    CITATION = "Alpaydin & Kaynak (1998), Optical Recognition of Handwritten Digits, UCI ML Repository."
    raw = staticmethod(_raw)
    split_indices = staticmethod(split_indices)
