"""Shared machinery of the embedded datasets DERIVED from `mnist5k` and `digits` (edge maps, inverted digits,
MNIST-M-style blends, thickness levels, rotations, pasted digits, captions).

Every derived dataset keeps its source's fixed split (`mnist5k.split_indices` / `digits.split_indices`): an
example of the train split is made from a train row of the source only, so a digit and its transform never
sit on both sides. Each carries ``label`` (the source's class, 0..9) and ``index`` (the source row), and is
stored in increasing ``index`` order (several examples of one row, such as its rotations, in the order of
the transform's parameter).

A builder subclasses `DerivedBuilder`, declares its features and implements `derive`, a vectorised
function from the source rows of one split to the columns of its stored examples.
"""
from __future__ import annotations

import collections
import functools

import numpy as np

from gen_jax.data._tfds_base import EmbeddedBuilder
from gen_jax.data.features import Feature

Source = collections.namedtuple("Source", "images labels split num_levels")


@functools.lru_cache(maxsize=None)
def source(name: str) -> Source:
    """The rows of `mnist5k` or `digits` as read by their builders (cached per process, read-only):
    images uint8 [N, H, W], labels int64 [N], split {'train', 'test'} -> sorted row indices, num_levels."""
    if name == "mnist5k":
        from gen_jax.data import mnist5k as mod
    elif name == "digits":
        from gen_jax.data import digits as mod
    else:
        raise ValueError(f"derived datasets are made from 'mnist5k' or 'digits', not {name!r}")
    images, labels = mod._raw()  # pylint: disable=protected-access
    images = np.ascontiguousarray(images[..., 0])
    split = mod.split_indices(labels)
    for a in (images, labels, *split.values()):
        a.flags.writeable = False
    return Source(images, labels, split, mod.NUM_LEVELS)


def source_rows(name: str, split: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(images uint8 [n, H, W], labels int64 [n], indices int64 [n]) of one split of a source, index order."""
    src = source(name)
    idx = src.split[split]
    return src.images[idx], src.labels[idx], idx


def label_and_index() -> dict[str, Feature]:
    return {"label": Feature.classes(10), "index": Feature.integer()}


class DerivedBuilder(EmbeddedBuilder, skip_registration=True):
    """An embedded dataset computed from the rows of one split of SOURCE ('mnist5k' or 'digits').

    Subclasses declare FEATURES (or `gen_jax_features()`) and implement `derive(split, images, labels,
    indices)` -> {feature: [M, ...] array}: every declared feature, in stored order.
    """
    SOURCE = "mnist5k"

    def derive(self, split: str, images: np.ndarray, labels: np.ndarray, indices: np.ndarray) -> dict:
        raise NotImplementedError

    def _split_generators(self, dl_manager):
        del dl_manager  # everything comes from installed packages
        return {s: self._generate_examples(self.derive(s, *source_rows(self.SOURCE, s))) for s in ("train", "test")}

    def _generate_examples(self, columns):
        features = self.gen_jax_features()
        if set(columns) != set(features):
            raise RuntimeError(f"{type(self).__name__}.derive returned {sorted(columns)}, "
                               f"declared {sorted(features)}")
        n = len(columns["index"])
        cols = {}
        for name, f in features.items():
            a = columns[name]
            if len(a) != n or tuple(np.shape(a)[1:]) != f.shape:
                raise RuntimeError(f"{type(self).__name__}: feature {name!r} has shape {np.shape(a)}, "
                                   f"expected [{n}, *{f.shape}]")
            cols[name] = a if f.kind == "text" else np.asarray(a, np.dtype(f.dtype))
        for k in range(n):
            yield k, {name: (str(a[k]) if features[name].kind == "text" else a[k]) for name, a in cols.items()}
