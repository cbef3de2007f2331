"""Base classes of gen_jax's embedded TFDS builders, and the fixed hash-rule split they share."""
from __future__ import annotations

import hashlib
import sys

import numpy as np
import tensorflow_datasets as tfds
from etils import epath


class EmbeddedBuilder(tfds.core.GeneratorBasedBuilder, skip_registration=True):
    """A GeneratorBasedBuilder whose data come with installed packages: nothing to download.

    `code_path` is given directly (the file of the subclass's module): TFDS's own lookup goes through
    `importlib_resources`, which is not among our pinned dependencies, and only serves to find a
    checksums file that these builders do not have.
    """

    @tfds.core.utils.classproperty
    @classmethod
    def code_path(cls) -> epath.Path:
        return epath.Path(sys.modules[cls.__module__].__file__)


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
    """An embedded dataset of labelled images with a `hashed_class_split`: features ``x`` uint8
    IMAGE_SHAPE, ``label`` (0..NUM_CLASSES-1) and ``index`` int32 (the example's row in the source, kept so
    that the split can be checked), each split stored in increasing index order.

    Subclasses set IMAGE_SHAPE, NUM_CLASSES, HOMEPAGE, CITATION and implement `raw()` -> (images, labels)
    and `split_indices(labels)`; the description is the subclass module's docstring.
    """
    IMAGE_SHAPE: tuple = ()
    NUM_CLASSES: int = 0
    HOMEPAGE: str = ""
    CITATION: str = ""

    @staticmethod
    def raw():
        raise NotImplementedError

    @staticmethod
    def split_indices(labels):
        raise NotImplementedError

    def _info(self) -> tfds.core.DatasetInfo:
        return tfds.core.DatasetInfo(
            builder=self,
            description=sys.modules[type(self).__module__].__doc__,
            disable_shuffling=True,  # stored in generation order (increasing index)
            features=tfds.features.FeaturesDict({
                "x": tfds.features.Tensor(shape=self.IMAGE_SHAPE, dtype=np.uint8),
                "label": tfds.features.ClassLabel(num_classes=self.NUM_CLASSES),
                "index": tfds.features.Scalar(dtype=np.int32),
            }),
            supervised_keys=("x", "label"),
            homepage=self.HOMEPAGE,
            citation=self.CITATION,
        )

    def _split_generators(self, dl_manager):
        del dl_manager  # the data come with an installed package
        images, labels = self.raw()
        idx = self.split_indices(labels)
        return {s: self._generate_examples(images, labels, idx[s]) for s in ("train", "test")}

    def _generate_examples(self, images, labels, indices):
        for i in indices:
            i = int(i)
            yield i, {"x": images[i], "label": int(labels[i]), "index": i}
