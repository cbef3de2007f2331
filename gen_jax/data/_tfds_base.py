"""Base classes of gen_jax's embedded TFDS builders, and the fixed hash-rule split they share."""
from __future__ import annotations

import hashlib
import sys
from typing import Mapping

import numpy as np
import tensorflow_datasets as tfds
from etils import epath

from gen_jax.data.features import Feature


def tfds_feature(f: Feature):
    """The TFDS connector that stores a gen_jax `Feature` (read back through `Feature.serve`)."""
    if f.kind == "text":
        return tfds.features.Text()
    if f.kind == "classes" and f.shape == ():
        return tfds.features.ClassLabel(num_classes=f.num_classes)
    if f.shape == ():
        return tfds.features.Scalar(dtype=np.dtype(f.dtype))
    return tfds.features.Tensor(shape=f.shape, dtype=np.dtype(f.dtype))


class EmbeddedBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """A GeneratorBasedBuilder whose data come with installed packages: nothing to download.

    A subclass declares its features as gen_jax `Feature`s in FEATURES (or, when they depend on the builder
    config, by overriding `gen_jax_features()`); the TFDS FeaturesDict is made from them, and the registry
    reads the kinds, levels and classes from them. Examples are stored in generation order
    (``disable_shuffling``). The description is the subclass module's docstring.

    `code_path` is given directly (the file of the subclass's module): TFDS's own lookup goes through
    `importlib_resources`, which is not among our pinned dependencies, and only serves to find a
    checksums file that these builders do not have.
    """
    FEATURES: Mapping[str, Feature] = {}
    SUPERVISED_KEYS: tuple | None = None
    HOMEPAGE: str = ""
    CITATION: str = ""

    @tfds.core.utils.classproperty
    @classmethod
    def code_path(cls) -> epath.Path:
        return epath.Path(sys.modules[cls.__module__].__file__)

    def gen_jax_features(self) -> dict[str, Feature]:
        """Feature name -> `Feature` of this builder (and config), in the order examples are written."""
        return dict(self.FEATURES)

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description=sys.modules[type(self).__module__].__doc__,
            disable_shuffling=True,  # stored in generation order (increasing index)
            features=tfds.features.FeaturesDict(
                {k: tfds_feature(f) for k, f in self.gen_jax_features().items()}),
            supervised_keys=self.SUPERVISED_KEYS,
            homepage=self.HOMEPAGE,
            citation=self.CITATION,
        )


def hashed_class_split(labels: np.ndarray, num_classes: int, test_per_class: int,
                       tag: str) -> dict[str, np.ndarray]:
    """A fixed split that depends on no random number generator: test = for each class c, the
    `test_per_class` indices i of class c with the smallest SHA-256 digest of ``f"gen_jax/{tag}/{i}"``
    (digests compared as bytes); train = the rest. Both sorted, int64."""
    def digest(i: int) -> bytes:
        return hashlib.sha256(f"gen_jax/{tag}/{i}".encode("ascii")).digest()

    test = []
    for c in range(num_classes):
        members = sorted((int(i) for i in np.flatnonzero(labels == c)), key=digest)
        test.extend(members[:test_per_class])
    test = np.sort(np.asarray(test, np.int64))
    return {"train": np.setdiff1d(np.arange(len(labels), dtype=np.int64), test), "test": test}


class LabelledImageBuilder(EmbeddedBuilder, skip_registration=True):
    """An embedded dataset of labelled images with a `hashed_class_split`: features ``x`` (levels
    0..NUM_LEVELS-1, uint8, IMAGE_SHAPE), ``label`` (classes 0..NUM_CLASSES-1) and ``index`` int32 (the
    example's row in the source, kept so that the split can be checked), each split stored in increasing
    index order.

    Subclasses set IMAGE_SHAPE, NUM_LEVELS, NUM_CLASSES, HOMEPAGE, CITATION and implement
    `raw()` -> (images, labels) and `split_indices(labels)`.
    """
    IMAGE_SHAPE: tuple = ()
    NUM_LEVELS: int = 256
    NUM_CLASSES: int = 0
    SUPERVISED_KEYS = ("x", "label")

    @staticmethod
    def raw():
        raise NotImplementedError

    @staticmethod
    def split_indices(labels):
        raise NotImplementedError

    def gen_jax_features(self):
        return {"x": Feature.levels(self.IMAGE_SHAPE, self.NUM_LEVELS), "label": Feature.classes(self.NUM_CLASSES),
                "index": Feature.integer()}

    def _split_generators(self, dl_manager):
        del dl_manager  # the data come with an installed package
        images, labels = self.raw()
        idx = self.split_indices(labels)
        return {s: self._generate_examples(images, labels, idx[s]) for s in ("train", "test")}

    def _generate_examples(self, images, labels, indices):
        for i in indices:
            i = int(i)
            yield i, {"x": images[i], "label": int(labels[i]), "index": i}
