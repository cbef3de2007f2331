"""Random-access sources that grain reads, and the dataset objects that serve them per split.

A `Dataset` is one resolved name: its `DatasetInfo`, whole splits as arrays (`arrays`) and grain sources
(`source`), both for sliced split names and a selection of features. `InMemoryDataset` holds every split
in memory (embedded, npz and folder datasets, small catalog splits); `gen_jax.data.catalog` streams large
catalog splits from their array_record files.
"""
from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np

from gen_jax.data.errors import DataShapeError
from gen_jax.data.features import DatasetInfo, check_values
from gen_jax.data.splits import split_bounds


def check_lengths(arrays: Mapping[str, np.ndarray], where: str) -> int:
    """The common number of examples of `arrays`; a DataShapeError naming the features when they differ."""
    lengths = {k: len(v) for k, v in arrays.items()}
    if len(set(lengths.values())) > 1:
        raise DataShapeError(f"{where}: the features have different numbers of examples: "
                             + ", ".join(f"{k} {n}" for k, n in lengths.items()))
    return next(iter(lengths.values()), 0)


class ArraySource:
    """An in-memory grain random-access source over {feature: [N, ...]} arrays (any feature names)."""

    def __init__(self, arrays: Mapping[str, np.ndarray]):
        if not arrays:
            raise DataShapeError("ArraySource: no features")
        self._arrays = dict(arrays)
        self._n = check_lengths(self._arrays, "ArraySource")

    def __len__(self) -> int:
        return self._n

    def __getitem__(self, i):
        return {k: v[i] for k, v in self._arrays.items()}

    def __repr__(self) -> str:
        return "ArraySource(" + ", ".join(f"{k}={v.shape}{v.dtype}" for k, v in self._arrays.items()) + ")"


class RangeSource:
    """Records start..stop-1 of a random-access source, as indices 0..stop-start-1 (a slice or a shard)."""

    def __init__(self, source, start: int, stop: int):
        self._source, self._start, self._stop = source, int(start), int(stop)

    def __len__(self) -> int:
        return self._stop - self._start

    def _index(self, i) -> int:
        i = int(i)
        if not 0 <= i < len(self):
            raise IndexError(f"index {i} out of range for a source of {len(self)} records")
        return self._start + i

    def __getitem__(self, i):
        return self._source[self._index(i)]

    def __getitems__(self, indices):
        keys = [self._index(i) for i in indices]
        if hasattr(self._source, "__getitems__"):
            return self._source.__getitems__(keys)
        return [self._source[k] for k in keys]

    def __repr__(self) -> str:
        return f"RangeSource({self._source!r}, records {self._start}..{self._stop - 1})"


class Dataset:
    """One resolved name: its info, its splits' data sources and whole-split arrays.

    `source` and `arrays` take sliced split names and a feature selection (default: the info's
    `default_features`, every non-text feature); subclasses implement `_arrays(split)` (all features of a
    whole stored split), and may override `_source(split, start, stop, features)` to serve a slice without
    holding it in memory.
    """

    info: DatasetInfo

    def source(self, split: str, features: Iterable[str] | None = None):
        name, start, stop = split_bounds(split, self.info.splits, dataset=self.info.name)
        return self._source(name, start, stop, self.info.select(features))

    def arrays(self, split: str, features: Iterable[str] | None = None) -> dict[str, np.ndarray]:
        """Read-only arrays (views, no copy) of the selected features (default: all) of a split."""
        names = self.info.select(features) if features is not None else tuple(self.info.features)
        name, start, stop = split_bounds(split, self.info.splits, dataset=self.info.name)
        arrays = self._arrays(name)
        whole = (start, stop) == (0, self.info.splits[name])
        return {k: arrays[k] if whole else arrays[k][start:stop] for k in names}

    def _source(self, split: str, start: int, stop: int, features: tuple[str, ...]):
        arrays = self._arrays(split)
        return ArraySource({k: arrays[k][start:stop] for k in features})

    def _arrays(self, split: str) -> dict[str, np.ndarray]:
        raise NotImplementedError


class InMemoryDataset(Dataset):
    """Every split in memory: {split: {feature: [N, *shape] array in the feature's served dtype}}.

    Checks at construction that every split holds every feature of `info` in its shape and dtype, the
    same number of examples per feature, and values within their kind (`check_values`).
    """

    def __init__(self, info: DatasetInfo, splits: Mapping[str, Mapping[str, np.ndarray]]):
        self.info = info
        self._splits = {}
        for split, arrays in splits.items():
            where = f"dataset {info.name!r}, split {split!r}"
            if set(arrays) != set(info.features):
                raise DataShapeError(f"{where}: features {sorted(arrays)}, expected {sorted(info.features)}")
            n = check_lengths(arrays, where)
            if n != info.splits[split]:
                raise DataShapeError(f"{where}: {n} examples, the info says {info.splits[split]}")
            served = {}
            for k, f in info.features.items():
                a = arrays[k]
                if tuple(a.shape[1:]) != f.shape or a.dtype != np.dtype(f.dtype):
                    raise DataShapeError(f"{where}, feature {k!r}: examples of shape {tuple(a.shape[1:])} "
                                         f"{a.dtype}, expected {f.shape} {f.dtype}")
                check_values(info.name, split, k, f, a)
                a.setflags(write=False)
                served[k] = a
            self._splits[split] = served

    def _arrays(self, split):
        return self._splits[split]
