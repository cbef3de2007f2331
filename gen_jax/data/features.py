"""What a dataset holds: named features (`Feature`), the dataset's metadata (`DatasetInfo`), and the value
checks every source runs at load time.

A dataset is a set of named features, each with a per-example shape, a served dtype and a kind:

==============  ==========================================================================================
kind            values
==============  ==========================================================================================
``levels``      integer levels 0..num_levels-1 (images: 17 for digits, 256 for 8-bit, 2 for binary images
                or multi-label tags); served uint8 when num_levels <= 256, else int32
``classes``     class ids 0..num_classes-1 of any shape (a label, or a token sequence with num_classes the
                vocabulary size); served int32
``continuous``  floating point (2-D points, dequantized data, actions); served float32
``integer``     an integer without a fixed range (an index, an id); served in its stored integer dtype
``text``        a string per example (host only: never batched by default); served as an object array of str
==============  ==========================================================================================

The conventional names: ``x`` is the primary input (an image, a point) and ``label`` its class. The
`DatasetInfo` properties ``shape``, ``dtype``, ``num_levels`` and ``num_dims`` describe ``x``;
``num_classes`` describes ``label`` and is None for a dataset without one.
"""
from __future__ import annotations

import dataclasses
from typing import Iterable, Mapping

import numpy as np

from gen_jax.data.errors import DataError

KINDS = ("levels", "classes", "continuous", "integer", "text")


def levels_dtype(num_levels: int) -> str:
    """The dtype levels 0..num_levels-1 are served in: uint8 up to 256 levels, else int32."""
    return "uint8" if num_levels <= 256 else "int32"


@dataclasses.dataclass(frozen=True)
class Feature:
    """One named feature of a dataset: per-example shape, served numpy dtype name, kind (see `KINDS`).

    ``num_levels`` is set for kind 'levels' only, ``num_classes`` for kind 'classes' only.
    """

    shape: tuple[int, ...]
    dtype: str
    kind: str
    num_levels: int | None = None
    num_classes: int | None = None

    def __post_init__(self):
        object.__setattr__(self, "shape", tuple(int(s) for s in self.shape))
        object.__setattr__(self, "dtype", np.dtype(self.dtype).name)
        if self.kind not in KINDS:
            raise DataError(f"feature kind must be one of {', '.join(KINDS)}, got {self.kind!r}")
        if (self.kind == "levels") != (self.num_levels is not None):
            raise DataError(f"num_levels is given exactly for kind 'levels' (kind {self.kind!r}, "
                            f"num_levels {self.num_levels!r})")
        if (self.kind == "classes") != (self.num_classes is not None):
            raise DataError(f"num_classes is given exactly for kind 'classes' (kind {self.kind!r}, "
                            f"num_classes {self.num_classes!r})")
        if self.num_levels is not None and int(self.num_levels) < 2:
            raise DataError(f"num_levels must be >= 2, got {self.num_levels}")
        if self.num_classes is not None and int(self.num_classes) < 1:
            raise DataError(f"num_classes must be >= 1, got {self.num_classes}")

    @classmethod
    def levels(cls, shape, num_levels: int) -> Feature:
        return cls(shape, levels_dtype(int(num_levels)), "levels", num_levels=int(num_levels))

    @classmethod
    def classes(cls, num_classes: int, shape=()) -> Feature:
        return cls(shape, "int32", "classes", num_classes=int(num_classes))

    @classmethod
    def continuous(cls, shape) -> Feature:
        return cls(shape, "float32", "continuous")

    @classmethod
    def integer(cls, shape=(), dtype="int32") -> Feature:
        return cls(shape, dtype, "integer")

    @classmethod
    def text(cls) -> Feature:
        return cls((), "object", "text")

    def zeros(self, n: int) -> np.ndarray:
        """n zero examples of this feature (empty strings for text): padding of a masked batch."""
        if self.kind == "text":
            return np.full((n,) + self.shape, "", object)
        return np.zeros((n,) + self.shape, np.dtype(self.dtype))

    def spec(self, n: int):
        """A `jax.ShapeDtypeStruct` of a batch of n examples (for tracing without data)."""
        import jax

        if self.kind == "text":
            raise DataError("a text feature has no array spec: it stays on the host")
        return jax.ShapeDtypeStruct((n,) + self.shape, np.dtype(self.dtype))

    def serve(self, a: np.ndarray) -> np.ndarray:
        """`a` ([N, *shape] values of this feature) in the served dtype."""
        if self.kind == "text":
            return np.asarray([v.decode("utf-8") if isinstance(v, bytes) else str(v)
                               for v in np.asarray(a, object).reshape(-1)], object).reshape(np.shape(a))
        return np.asarray(a, np.dtype(self.dtype))


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What a model needs to know about a dataset.

    Attributes:
      name: the canonical name (``toy2d/ring8`` for ``ring8``).
      features: feature name -> `Feature`, in a fixed order.
      splits: stored split name -> number of examples.
      version: the builder's version for TFDS datasets (embedded or catalog), None for the user's files.
    """

    name: str
    features: Mapping[str, Feature] = dataclasses.field(hash=False)
    splits: Mapping[str, int] = dataclasses.field(hash=False)
    version: str | None = None

    @classmethod
    def of_x(cls, name: str, shape, *, num_levels: int | None, num_classes: int | None,
             splits: Mapping[str, int], dtype: str | None = None, version: str | None = None) -> DatasetInfo:
        """The info of a dataset of ``x`` (levels, or continuous when num_levels is None) and, when
        num_classes is given, a scalar ``label``: the shape of most datasets (and of tests' fakes)."""
        if num_levels is None:
            x = Feature(shape, dtype or "float32", "continuous")
        else:
            x = Feature(shape, dtype or levels_dtype(num_levels), "levels", num_levels=num_levels)
        features = {"x": x}
        if num_classes is not None:
            features["label"] = Feature.classes(num_classes)
        return cls(name, features, dict(splits), version)

    def feature(self, name: str) -> Feature:
        """The feature `name`; a DataError naming the features there are if it is absent."""
        if name not in self.features:
            raise DataError(f"dataset {self.name!r} has no feature {name!r}; its features: "
                            f"{', '.join(self.features) or 'none'}")
        return self.features[name]

    @property
    def x(self) -> Feature:
        return self.feature("x")

    @property
    def shape(self) -> tuple[int, ...]:
        """The per-example shape of ``x`` (e.g. (8, 8, 1), (28, 28, 1), (2,))."""
        return self.x.shape

    @property
    def dtype(self) -> str:
        """The served numpy dtype name of ``x`` ('uint8' or 'float32')."""
        return self.x.dtype

    @property
    def num_levels(self) -> int | None:
        """K for ``x`` of integer levels 0..K-1 (17 digits, 256 8-bit images, 2 binarized); None otherwise."""
        return self.x.num_levels

    @property
    def num_classes(self) -> int | None:
        """The number of classes of ``label``; None when the dataset has no ``label``."""
        label = self.features.get("label")
        return None if label is None else label.num_classes

    @property
    def num_dims(self) -> int:
        """Number of scalar dimensions of one ``x`` (64 for digits): the D of bits/dim."""
        return int(np.prod(self.shape))

    def default_features(self) -> tuple[str, ...]:
        """The features a loader serves unless told otherwise: every feature whose kind is not 'text'."""
        return tuple(k for k, f in self.features.items() if f.kind != "text")

    def select(self, features: Iterable[str] | None = None) -> tuple[str, ...]:
        """The feature names `features` (checked to exist; a single name is accepted), or the defaults."""
        if features is None:
            return self.default_features()
        names = (features,) if isinstance(features, str) else tuple(features)
        if not names:
            raise DataError(f"an empty feature selection for dataset {self.name!r}")
        for n in names:
            self.feature(n)
        return names

    def zeros(self, n: int, features: Iterable[str] | None = None) -> dict[str, np.ndarray]:
        """A batch of n zero examples of the selected features (default: `default_features`)."""
        return {k: self.features[k].zeros(n) for k in self.select(features)}

    def spec(self, n: int, features: Iterable[str] | None = None) -> dict:
        """`jax.ShapeDtypeStruct`s of a batch of n examples of the selected features (default: non-text)."""
        return {k: self.features[k].spec(n) for k in self.select(features)}


def check_values(dataset: str, split: str, name: str, feature: Feature, values: np.ndarray,
                 offset: int = 0) -> None:
    """Raises a DataError naming the dataset, feature, split, the first offending example index and the
    value, when `values` ([N, *shape] examples offset.. of `split`) hold NaN/inf in a continuous feature,
    levels outside 0..num_levels-1, or class ids outside 0..num_classes-1."""
    a = np.asarray(values)
    if feature.kind == "continuous":
        bad, what = ~np.isfinite(a), "a non-finite value"
    elif feature.kind == "levels":
        bad, what = (a < 0) | (a > feature.num_levels - 1), f"a value outside the levels 0..{feature.num_levels - 1}"
    elif feature.kind == "classes":
        bad, what = (a < 0) | (a > feature.num_classes - 1), f"a value outside the classes 0..{feature.num_classes - 1}"
    else:
        return
    if not bad.any():
        return
    flat = bad.reshape(len(a), -1)
    i = int(np.argmax(flat.any(axis=1)))
    value = a.reshape(len(a), -1)[i][np.argmax(flat[i])].item()
    raise DataError(f"dataset {dataset!r}, feature {name!r}, split {split!r}: example {offset + i} holds "
                    f"{what} ({value!r})")
