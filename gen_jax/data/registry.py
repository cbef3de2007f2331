"""Dataset names -> metadata, whole splits in memory, and grain loaders sharded per JAX process.

Names understood by `dataset_info`, `load_arrays` and `make_loader`:

* embedded (prepared automatically on first use, no network): ``digits``, ``mnist5k``, ``toy2d/ring8``,
  ``toy2d/grid25``, ``toy2d/two_moons``, ``toy2d/swiss_roll`` (the bare config names ``ring8`` etc. are
  accepted too);
* any TFDS dataset already prepared in array_record format under the data_dir, by its TFDS name, optionally
  with config and version: ``mnist``, ``binarized_mnist``, ``cifar10``, ``fashion_mnist``,
  ``celeb_a/…:2.1.0``... Its image feature (``image``, else the first Image feature) becomes ``x`` and its
  ``label`` feature ``label`` (-1 when it has none). Nothing is ever downloaded: an unprepared dataset raises
  `DatasetNotPreparedError` with the command that prepares it;
* ``npz:/path/file.npz`` and ``folder:/path/to/images``: see `gen_jax.data.user` for the conventions.

The data_dir is the argument if given, else the environment variable ``GEN_JAX_DATA_DIR``, else
``~/tensorflow_datasets``.

Splits are named as in TFDS, whole or sliced: ``train``, ``train[:1200]``, ``train[1200:]``,
``train[:90%]``, ``test[-60:]``; see `split_bounds` for the rules. A slice keeps the stored order, so
``train[:90%]`` and ``train[90%:]`` partition ``train``.

Every example is ``{'x': array, 'label': int32}``; image values are the stored integer levels (uint8), see
`gen_jax.data.preprocess` for the conversions a model wants.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import logging as pylogging
import os
import re
import threading
from typing import Any, Mapping

import grain
import numpy as np
from absl import logging

from gen_jax.data.errors import DataError, DatasetNotPreparedError, DataShapeError, UnknownDatasetError

ENV_DATA_DIR = "GEN_JAX_DATA_DIR"
DEFAULT_DATA_DIR = "~/tensorflow_datasets"

# name -> (module, builder class name, builder config, num_levels, num_classes)
_EMBEDDED = {
    "digits": ("gen_jax.data.digits", "Digits", None, 17, 10),
    "mnist5k": ("gen_jax.data.mnist5k", "Mnist5k", None, 256, 10),
    "toy2d/ring8": ("gen_jax.data.toy2d", "Toy2d", "ring8", None, 8),
    "toy2d/grid25": ("gen_jax.data.toy2d", "Toy2d", "grid25", None, 25),
    "toy2d/two_moons": ("gen_jax.data.toy2d", "Toy2d", "two_moons", None, 2),
    "toy2d/swiss_roll": ("gen_jax.data.toy2d", "Toy2d", "swiss_roll", None, None),
}
_ALIASES = {n.split("/", 1)[1]: n for n in _EMBEDDED if n.startswith("toy2d/")}
EMBEDDED_NAMES = tuple(_EMBEDDED)

# Catalog splits up to this size are decoded once and served from memory; larger ones are streamed from
# their array_record files (grain's per-example overhead is far smaller on in-memory arrays).
IN_MEMORY_LIMIT_BYTES = 2 << 30

# Catalog datasets whose uint8 images hold 0/1 rather than 0..255.
_BINARY_CATALOG = ("binarized_mnist",)

_lock = threading.RLock()


@dataclasses.dataclass(frozen=True)
class DatasetInfo:
    """What a model needs to know about a dataset.

    Attributes:
      name: the canonical name (``toy2d/ring8`` for ``ring8``).
      shape: the shape of one example's ``x`` (e.g. (8, 8, 1), (28, 28, 1), (2,)).
      num_levels: K for integer data with levels 0..K-1 (17 digits, 256 8-bit images, 2 binarized sets);
        None for continuous data.
      num_classes: number of label classes; None when the dataset has no labels (labels are then -1).
      splits: split name -> number of examples.
      dtype: numpy dtype name of ``x`` ('uint8' or 'float32').
    """

    name: str
    shape: tuple[int, ...]
    num_levels: int | None
    num_classes: int | None
    splits: Mapping[str, int] = dataclasses.field(hash=False)
    dtype: str = "uint8"

    @property
    def num_dims(self) -> int:
        """Number of scalar dimensions of one example (64 for digits): the D of bits/dim."""
        return int(np.prod(self.shape))


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> str:
    """The data_dir argument, else $GEN_JAX_DATA_DIR, else ~/tensorflow_datasets (user-expanded, absolute)."""
    d = data_dir if data_dir is not None else os.environ.get(ENV_DATA_DIR) or DEFAULT_DATA_DIR
    return os.path.abspath(os.path.expanduser(os.fspath(d)))


def prepare_command(name: str, data_dir: str) -> str:
    """The shell command that prepares catalog dataset `name` in array_record format under `data_dir`."""
    return f"tfds build {name} --data_dir={data_dir} --file_format=array_record"


def _known_names_text() -> str:
    return (
        f"embedded: {', '.join(EMBEDDED_NAMES)} (also {', '.join(_ALIASES)}); "
        "any TFDS catalog dataset prepared in array_record format under the data_dir "
        "(e.g. mnist, binarized_mnist, fashion_mnist, cifar10); "
        "'npz:/path/file.npz'; 'folder:/path/to/images'"
    )


# ---------------------------------------------------------------------------------------- split slices

_SPLIT_RE = re.compile(r"^(?P<name>[\w-]+)(?:\[(?P<selector>[^\[\]]*)\])?$")
_BOUND_RE = re.compile(r"^(?P<value>[+-]?(?:\d+(?:\.\d*)?|\.\d+))(?P<percent>%?)$")


def _slice_error(split: str, problem: str) -> DataError:
    return DataError(
        f"malformed split {split!r}: {problem}. Use a split name, optionally sliced like a Python list by "
        "example indices or by percentages: 'train', 'train[:1200]', 'train[1200:]', 'train[:90%]', "
        "'train[90%:]', 'test[-60:]'"
    )


def split_bounds(split: str, sizes: Mapping[str, int], dataset: str = "") -> tuple[str, int, int]:
    """Resolves a TFDS-style split name to (stored split, start, stop) with 0 <= start < stop <= size.

    ``'train'`` is the whole split; ``'train[a:b]'`` is examples a..b-1 in the stored order. Either bound
    may be left out, and a negative bound counts from the end as in Python (``'test[-60:]'`` is the last
    60). Bounds are integers (example indices) or percentages of the split size, possibly fractional
    (``'train[:12.5%]'``); a slice uses one kind for both bounds. A percentage p of a split of n examples
    becomes the index ``round(p * n / 100)`` with Python's round (halves go to the even integer): TFDS's
    default 'closest' rounding for split slicing, so the same name selects the same examples here and
    in ``tfds.load``. Hence ``train[:p%]`` and ``train[p%:]`` always partition ``train``.

    Unlike a Python slice, a bound beyond the split (``|bound| > size``) is an error rather than clipped,
    as in TFDS, and so is a slice that selects no example. Steps (``[::2]``), single indices (``[5]``)
    and TFDS shard units are not supported. Every problem raises `DataError` (a ValueError).

    Args:
      split: e.g. ``'train'``, ``'train[:1200]'``, ``'train[90%:]'``.
      sizes: stored split name -> number of examples (`DatasetInfo.splits`).
      dataset: the dataset's name, for the error messages.
    """
    where = f"dataset {dataset!r}" if dataset else "the dataset"
    if not isinstance(split, str):
        raise DataError(f"a split name must be a string, got {split!r}")
    match = _SPLIT_RE.match(split.strip())
    if match is None:
        raise _slice_error(split, "expected NAME or NAME[START:STOP]")
    name, selector = match.group("name"), match.group("selector")
    if name not in sizes:
        inside = "" if name == split else f" (in {split!r})"
        raise DataError(f"{where} has no split {name!r}{inside}; splits: {', '.join(sizes)}")
    n = int(sizes[name])
    if selector is None:
        if n == 0:
            raise DataError(f"split {name!r} of {where} is empty")
        return name, 0, n
    parts = selector.split(":")
    if len(parts) != 2:
        raise _slice_error(split, "a slice needs exactly one ':' (no steps, no single index)")
    bounds = []
    for part in parts:
        part = part.strip()
        if not part:
            bounds.append(None)
            continue
        m = _BOUND_RE.match(part)
        if m is None:
            raise _slice_error(split, f"{part!r} is neither an integer nor a percentage")
        percent = bool(m.group("percent"))
        if not percent and not m.group("value").lstrip("+-").isdigit():
            raise _slice_error(split, f"{part!r}: an example index must be an integer (or add '%')")
        bounds.append((float(m.group("value")), percent))
    kinds = {b[1] for b in bounds if b is not None}
    if len(kinds) > 1:
        raise _slice_error(split, "both bounds must be indices or both percentages")

    def index(bound, default):
        if bound is None:
            return default
        value, percent = bound
        limit = 100.0 if percent else n
        if abs(value) > limit:
            unit = "%" if percent else f" (the split has {n} examples)"
            raise DataError(f"split {split!r} of {where}: bound {value:g}{unit} is out of range")
        i = int(round(value * n / 100.0)) if percent else int(value)
        return i + n if i < 0 else i  # as in Python and TFDS, -0 (-0.2% of 100 rounded) is the start

    start, stop = index(bounds[0], 0), index(bounds[1], n)
    if start >= stop:
        raise DataError(
            f"split {split!r} of {where} selects no examples: it resolves to [{start}:{stop}] of the "
            f"{n} examples of {name!r}"
        )
    return name, start, stop


# --------------------------------------------------------------------------------------------- sources


class ArraySource:
    """An in-memory grain random-access source over {'x': [N, ...], 'label': [N]} arrays."""

    def __init__(self, arrays: Mapping[str, np.ndarray]):
        self._x = arrays["x"]
        self._label = arrays["label"]
        if len(self._x) != len(self._label):
            raise DataShapeError(f"{len(self._x)} examples but {len(self._label)} labels")

    def __len__(self) -> int:
        return len(self._x)

    def __getitem__(self, i):
        return {"x": self._x[i], "label": self._label[i]}

    def __repr__(self) -> str:
        return f"ArraySource(x={self._x.shape}{self._x.dtype}, label={self._label.shape})"


class _CatalogSource:
    """Wraps a TFDS array_record data source, renaming its image feature to 'x' and its label to 'label'.

    Only records start..stop-1 of the wrapped source are visible (a sliced split), as indices 0..stop-start-1.
    """

    def __init__(self, source, image_key: str, label_key: str | None, start: int = 0, stop: int | None = None):
        self._source = source
        self._image_key = image_key
        self._label_key = label_key
        self._start = int(start)
        self._stop = len(source) if stop is None else int(stop)

    def __len__(self) -> int:
        return self._stop - self._start

    def _record_index(self, i) -> int:
        n = len(self)
        i = int(i)
        if not -n <= i < n:
            raise IndexError(f"index {i} out of range for a source of {n} records")
        return self._start + (i if i >= 0 else i + n)

    def _convert(self, rec) -> dict[str, np.ndarray]:
        x = np.asarray(rec[self._image_key])
        if x.ndim == 2:
            x = x[..., None]
        label = np.int32(-1 if self._label_key is None else rec[self._label_key])
        return {"x": x, "label": label}

    def __getitem__(self, i):
        return self._convert(self._source[self._record_index(i)])

    def __getitems__(self, indices):
        records = self._source.__getitems__([self._record_index(i) for i in indices])
        return [self._convert(r) for r in records]

    def __repr__(self) -> str:
        return (f"_CatalogSource({self._source!r}, x={self._image_key!r}, label={self._label_key!r}, "
                f"records {self._start}..{self._stop - 1})")


class _Dataset:
    """One resolved name: its info, its splits' data sources and whole-split arrays.

    `source` and `arrays` take sliced split names; subclasses implement `_arrays(split)` for a whole stored
    split, and may override `_source(split, start, stop)` to serve a slice without holding it in memory.
    """

    info: DatasetInfo

    def source(self, split: str):
        name, start, stop = split_bounds(split, self.info.splits, dataset=self.info.name)
        return self._source(name, start, stop)

    def arrays(self, split: str) -> dict[str, np.ndarray]:
        name, start, stop = split_bounds(split, self.info.splits, dataset=self.info.name)
        arrays = self._arrays(name)
        if (start, stop) == (0, self.info.splits[name]):
            return arrays
        return {k: v[start:stop] for k, v in arrays.items()}  # read-only views, no copy

    def _source(self, split: str, start: int, stop: int):
        arrays = self._arrays(split)
        return ArraySource({k: v[start:stop] for k, v in arrays.items()})

    def _arrays(self, split: str) -> dict[str, np.ndarray]:
        raise NotImplementedError


class _InMemoryDataset(_Dataset):
    def __init__(self, name, splits: dict[str, dict[str, np.ndarray]], num_levels, num_classes):
        for d in splits.values():
            for a in d.values():
                a.setflags(write=False)
        self._splits = splits
        x = splits["train"]["x"]
        self.info = DatasetInfo(
            name=name,
            shape=tuple(int(s) for s in x.shape[1:]),
            num_levels=num_levels,
            num_classes=num_classes,
            splits={s: int(len(d["x"])) for s, d in splits.items()},
            dtype=str(x.dtype),
        )

    def _arrays(self, split):
        return self._splits[split]


def _read_all(source, chunk: int = 4096) -> dict[str, np.ndarray]:
    xs, labels = [], []
    for start in range(0, len(source), chunk):
        recs = source.__getitems__(range(start, min(start + chunk, len(source))))
        xs.extend(r["x"] for r in recs)
        labels.extend(r["label"] for r in recs)
    return {"x": np.stack(xs), "label": np.asarray(labels, np.int32)}


class _TfdsDataset(_Dataset):
    """A prepared TFDS builder (embedded or catalog) read through `builder.as_data_source()`."""

    def __init__(self, name, builder, num_levels, num_classes, image_key="x", label_key="label"):
        self._builder = builder
        self._sources = builder.as_data_source()
        self._image_key, self._label_key = image_key, label_key
        feature = builder.info.features[image_key]
        shape = tuple(feature.shape)
        if any(s is None for s in shape):
            raise DataShapeError(
                f"dataset {name!r}: feature {image_key!r} has a variable shape {shape}; "
                "gen_jax needs fixed-size examples (resize them into an npz or image folder first)"
            )
        if len(shape) == 2:
            shape = shape + (1,)
        self.info = DatasetInfo(
            name=name,
            shape=shape,
            num_levels=num_levels,
            num_classes=num_classes,
            splits={s: int(v.num_examples) for s, v in builder.info.splits.items()},
            dtype=np.dtype(feature.np_dtype).name,
        )
        self._cache: dict[str, dict[str, np.ndarray]] = {}

    def _source(self, split, start, stop):
        # The size of the whole stored split decides: a slice of a small split is served from its cache.
        nbytes = self.info.splits[split] * self.info.num_dims * np.dtype(self.info.dtype).itemsize
        if nbytes <= IN_MEMORY_LIMIT_BYTES:  # small enough: decode once, then serve from memory
            return super()._source(split, start, stop)
        return _CatalogSource(self._sources[split], self._image_key, self._label_key, start, stop)

    def _arrays(self, split):
        with _lock:
            if split not in self._cache:
                arrays = _read_all(_CatalogSource(self._sources[split], self._image_key, self._label_key))
                for a in arrays.values():
                    a.setflags(write=False)
                self._cache[split] = arrays
            return self._cache[split]



# ------------------------------------------------------------------------------------------- resolving


def _embedded(name: str, data_dir: str) -> _Dataset:
    import importlib

    import tensorflow_datasets as tfds

    module, cls_name, config, num_levels, num_classes = _EMBEDDED[name]
    cls = getattr(importlib.import_module(module), cls_name)
    with _quiet_tfds():
        builder = cls(data_dir=data_dir, config=config, file_format="array_record")
        if not builder.is_prepared():
            logging.info("gen_jax.data: preparing %r under %s (once)", name, data_dir)
            try:
                os.makedirs(data_dir, exist_ok=True)
                builder.download_and_prepare(
                    download_config=tfds.download.DownloadConfig(try_download_gcs=False)
                )
            except Exception as e:
                # Another process (multi-host, parallel tests) may have finished preparing it meanwhile.
                builder = cls(data_dir=data_dir, config=config, file_format="array_record")
                if not builder.is_prepared():
                    if isinstance(e, OSError):
                        raise DataError(
                            f"could not prepare the embedded dataset {name!r} under the data_dir {data_dir}: {e}. "
                            f"Point data_dir or ${ENV_DATA_DIR} at a writable directory."
                        ) from e
                    raise
    # Embedded datasets are small: hold them in memory (far faster per example than decoding records).
    tfds_ds = _TfdsDataset(name, builder, num_levels, num_classes)
    splits = {s: tfds_ds.arrays(s) for s in tfds_ds.info.splits}
    return _InMemoryDataset(name, splits, num_levels, num_classes)


@contextlib.contextmanager
def _quiet_tfds():
    """No progress bars and no INFO/WARNING chatter from TFDS while an embedded dataset is prepared."""
    from tensorflow_datasets.core.utils import tqdm_utils

    was_active = tqdm_utils._active  # pylint: disable=protected-access
    absl_logger = pylogging.getLogger("absl")
    level = absl_logger.level
    tqdm_utils.display_progress_bar(False)
    absl_logger.setLevel(pylogging.ERROR)
    try:
        yield
    finally:
        tqdm_utils.display_progress_bar(was_active)
        absl_logger.setLevel(level)


_VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")


def _version_key(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split("."))


def _prepared_dir(name: str, data_dir: str) -> str | None:
    """data_dir/<dataset>[/<config>]/<version> holding dataset_info.json, or None."""
    base, _, version = name.partition(":")
    root = os.path.join(data_dir, *base.split("/"))
    if not os.path.isdir(root):
        return None

    def versions(d):
        return sorted(
            (v for v in os.listdir(d)
             if _VERSION_RE.match(v) and os.path.isfile(os.path.join(d, v, "dataset_info.json"))),
            key=_version_key,
        )

    candidates = versions(root)
    if not candidates and "/" not in base:  # configs: pick the only prepared one
        configs = [c for c in sorted(os.listdir(root)) if os.path.isdir(os.path.join(root, c))
                   and versions(os.path.join(root, c))]
        if len(configs) == 1:
            root = os.path.join(root, configs[0])
            candidates = versions(root)
        elif len(configs) > 1:
            raise DataError(
                f"dataset {base!r} is prepared under {root} in several configs ({', '.join(configs)}); "
                f"name one, e.g. '{base}/{configs[0]}'"
            )
    if version:
        return os.path.join(root, version) if version in candidates else None
    return os.path.join(root, candidates[-1]) if candidates else None


def _catalog(name: str, data_dir: str) -> _Dataset:
    import tensorflow_datasets as tfds

    base = name.partition(":")[0].split("/")[0]
    path = _prepared_dir(name, data_dir)
    if path is None:
        if base not in set(tfds.list_builders(with_community_datasets=False)):
            raise UnknownDatasetError(f"unknown dataset {name!r}. Known names: {_known_names_text()}")
        raise DatasetNotPreparedError(
            f"dataset {name!r} is not prepared under the data_dir {data_dir} (looked for "
            f"{os.path.join(data_dir, *name.partition(':')[0].split('/'))}/<version>/dataset_info.json). "
            "gen_jax never downloads; on a machine with network access run\n"
            f"    {prepare_command(name, data_dir)}\n"
            "(that machine needs `pip install tensorflow tensorflow-datasets array_record`: TFDS's catalog "
            "builders use TensorFlow to read and encode the raw files), then copy the resulting "
            f"{os.path.join(data_dir, name.partition(':')[0].split('/')[0])} directory here, or point data_dir / "
            f"${ENV_DATA_DIR} at a directory where it is prepared."
        )
    builder = tfds.builder_from_directory(path)
    fmt = getattr(builder.info, "file_format", None)
    fmt = getattr(fmt, "value", fmt)
    if fmt != "array_record":
        raise DatasetNotPreparedError(
            f"dataset {name!r} is prepared under {path} in {fmt or 'an unknown'} format, but gen_jax reads "
            "array_record (random access, no TensorFlow). Re-prepare it on a machine with network access:\n"
            f"    {prepare_command(name, data_dir)}"
        )
    features = builder.info.features
    keys = list(features.keys())
    image_key = next(
        (k for k in ("image", "x") if k in keys),
        next((k for k in keys if isinstance(features[k], tfds.features.Image)), None),
    )
    if image_key is None:
        raise DataShapeError(f"dataset {name!r} has no image feature (features: {', '.join(keys)})")
    label_key = "label" if "label" in keys else None
    num_classes = None
    if label_key is not None:
        num_classes = getattr(features[label_key], "num_classes", None)
    dtype = np.dtype(features[image_key].np_dtype)
    if base in _BINARY_CATALOG:
        num_levels = 2
    elif dtype == np.uint8:
        num_levels = 256
    else:
        num_levels = None
    return _TfdsDataset(name, builder, num_levels, num_classes, image_key, label_key)


def _file_stamp(path: str) -> tuple:
    """Changes whenever a file (or any file under a folder) is replaced, so cached arrays are refreshed."""
    if os.path.isfile(path):
        st = os.stat(path)
        return (st.st_mtime_ns, st.st_size)
    stamp = []
    for dirpath, _, files in os.walk(path):
        for f in files:
            st = os.stat(os.path.join(dirpath, f))
            stamp.append((dirpath, f, st.st_mtime_ns, st.st_size))
    return tuple(sorted(stamp))


@functools.lru_cache(maxsize=32)
def _resolve_cached(name: str, data_dir: str, stamp: tuple) -> _Dataset:
    del stamp  # only part of the cache key
    if name.startswith("npz:"):
        from gen_jax.data.user import load_npz

        splits, num_levels = load_npz(os.path.expanduser(name[4:]))
        labels = np.concatenate([d["label"] for d in splits.values()])
        num_classes = int(labels.max()) + 1 if labels.size and labels.max() >= 0 else None
        return _InMemoryDataset(name, splits, num_levels, num_classes)
    if name.startswith("folder:"):
        from gen_jax.data.user import load_folder

        splits, num_levels, num_classes = load_folder(os.path.expanduser(name[7:]))
        return _InMemoryDataset(name, splits, num_levels, num_classes)
    if name in _EMBEDDED:
        return _embedded(name, data_dir)
    return _catalog(name, data_dir)


def canonical_name(name: str) -> str:
    """'ring8' -> 'toy2d/ring8'; other names unchanged (after checking the type)."""
    if not isinstance(name, str) or not name:
        raise UnknownDatasetError(f"dataset name must be a non-empty string, got {name!r}")
    return _ALIASES.get(name, name)


def resolve(name: str, data_dir: str | os.PathLike | None = None) -> _Dataset:
    """The (cached) dataset object behind a name; embedded datasets are prepared here on first use."""
    name = canonical_name(name)
    data_dir = resolve_data_dir(data_dir)
    stamp: tuple = ()
    if name.startswith("npz:") or name.startswith("folder:"):
        path = os.path.expanduser(name.split(":", 1)[1])
        stamp = _file_stamp(path) if os.path.exists(path) else ("missing",)
        data_dir = ""  # irrelevant for user data
    with _lock:
        return _resolve_cached(name, data_dir, stamp)


# ------------------------------------------------------------------------------------------ public API


def dataset_info(name: str, data_dir: str | os.PathLike | None = None) -> DatasetInfo:
    """Shape, levels, classes and split sizes of a dataset (preparing an embedded one on first use)."""
    return resolve(name, data_dir).info


def num_examples(name: str, split: str, data_dir: str | os.PathLike | None = None) -> int:
    """The number of examples of a split, sliced or not: ``num_examples('digits', 'train[:90%]') == 1293``.

    Raises the errors of `split_bounds` for a malformed, unknown or empty split.
    """
    info = resolve(name, data_dir).info
    _, start, stop = split_bounds(split, info.splits, dataset=info.name)
    return stop - start


def load_arrays(name: str, split: str, data_dir: str | os.PathLike | None = None) -> dict[str, np.ndarray]:
    """A whole split in memory: {'x': [N, *shape] (uint8 levels or float32), 'label': int32 [N]}.

    `split` may be sliced ('train[:90%]', see `split_bounds`). Returns fresh (writable) copies; the stored
    order is kept (no shuffling).
    """
    arrays = resolve(name, data_dir).arrays(split)
    return {"x": np.array(arrays["x"]), "label": np.array(arrays["label"], np.int32)}


# In memory, reading in the main thread is fastest (grain's prefetch threads only add overhead).
_IN_MEMORY_READ = grain.ReadOptions(num_threads=0, prefetch_buffer_size=0)
_STREAM_READ = grain.ReadOptions(num_threads=8, prefetch_buffer_size=128)


def _default_shard_options(drop_remainder: bool):
    return grain.sharding.ShardByJaxProcess(drop_remainder=drop_remainder)


def shard_range(n: int, index: int, count: int, drop_remainder: bool) -> tuple[int, int]:
    """The contiguous records [start, stop) of shard `index` of `count` over n records.

    drop_remainder: every shard gets n // count records (the last n % count are left out: training, where
    processes must take the same number of steps); otherwise the shards differ in size by at most one and
    together hold every record once (evaluation).
    """
    if drop_remainder:
        size = n // count
        return index * size, (index + 1) * size
    q, r = divmod(n, count)
    start = index * q + min(index, r)
    return start, start + q + (1 if index < r else 0)


class _RangeSource:
    """Records start..stop-1 of a random-access source, as indices 0..stop-start-1 (one process's shard)."""

    def __init__(self, source, start: int, stop: int):
        self._source, self._start, self._stop = source, int(start), int(stop)

    def __len__(self) -> int:
        return self._stop - self._start

    def _index(self, i) -> int:
        i = int(i)
        if not 0 <= i < len(self):
            raise IndexError(f"index {i} out of range for a shard of {len(self)} records")
        return self._start + i

    def __getitem__(self, i):
        return self._source[self._index(i)]

    def __getitems__(self, indices):
        keys = [self._index(i) for i in indices]
        if hasattr(self._source, "__getitems__"):
            return self._source.__getitems__(keys)
        return [self._source[k] for k in keys]

    def __repr__(self) -> str:
        return f"_RangeSource({self._source!r}, records {self._start}..{self._stop - 1})"


def make_loader(
    name: str,
    split: str,
    *,
    batch_size: int,
    data_dir: str | os.PathLike | None = None,
    shuffle: bool = True,
    seed: int = 0,
    num_epochs: int | None = None,
    drop_remainder: bool = True,
    shard_options: Any = None,
) -> grain.DataLoader:
    """A grain DataLoader of batches {'x': [b, *shape], 'label': int32 [b]} for this JAX process.

    Args:
      name, split, data_dir: as in `load_arrays` (so `split` may be sliced: 'train[:1200]'; sharding,
        shuffling and get_state/set_state then work on the examples of the slice).
      batch_size: the GLOBAL batch size; each of the jax.process_count() processes yields batches of
        batch_size // process_count examples (it must divide), to be assembled into the global batch
        with `jax.make_array_from_process_local_data`.
      shuffle, seed: global shuffle of each process's shard, reshuffled every epoch, fully determined by
        seed (a non-negative 32-bit int).
      num_epochs: None repeats forever (training); 1 for a single pass (eval).
      drop_remainder: drop the last incomplete batch, and shard so that every process has the same number
        of examples (training). Eval use: shuffle=False, num_epochs=1, drop_remainder=False yields every
        example once; with several processes their shards may then differ by one example, so the last
        batches can differ in size between processes (pad them before assembling a global array).
      shard_options: overrides grain.sharding.ShardByJaxProcess(drop_remainder=drop_remainder), e.g.
        grain.sharding.ShardOptions(shard_index=i, shard_count=n) to simulate n processes.

    The iterator `it = iter(loader)` has `it.get_state()` / `it.set_state(state)`: restoring a state gives
    exactly the batches that followed it (checkpoint it with grain.checkpoint.CheckpointSave/Restore).
    """
    ds = resolve(name, data_dir)
    source = ds.source(split)
    if shard_options is None:
        shard_options = _default_shard_options(drop_remainder)
    shard_count = int(shard_options.shard_count)
    if not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
        raise ValueError(f"batch_size must be a positive integer, got {batch_size!r}")
    if batch_size % shard_count:
        raise ValueError(
            f"the global batch_size {batch_size} is not divisible by the number of data shards "
            f"(JAX processes) {shard_count}"
        )
    per_shard = batch_size // shard_count
    if not isinstance(seed, (int, np.integer)) or not 0 <= int(seed) < 2**32:
        raise ValueError(f"seed must be an integer in [0, 2**32), got {seed!r}")
    n = len(source)
    if num_epochs is not None and drop_remainder and n // shard_count < per_shard:
        raise ValueError(
            f"split {split!r} of {ds.info.name!r} has {n} examples ({n // shard_count} per shard), fewer than "
            f"one batch of {per_shard} per shard with drop_remainder=True: no batch would be produced"
        )
    # Each process reads its own contiguous range of records; grain then sees one unsharded source. (grain
    # 0.2.18's sampler + DataLoader sharding loses a record when shard sizes differ: with 101 records and
    # 2 shards, record 50 is never read.)
    read_options = _IN_MEMORY_READ if isinstance(source, ArraySource) else _STREAM_READ
    if shard_count > 1:
        start, stop = shard_range(n, int(shard_options.shard_index), shard_count,
                                  bool(shard_options.drop_remainder))
        source = _RangeSource(source, start, stop)
    sampler = grain.samplers.IndexSampler(
        num_records=len(source),
        shard_options=grain.sharding.NoSharding(),
        shuffle=shuffle,
        num_epochs=num_epochs,
        seed=int(seed),
    )
    return grain.DataLoader(
        data_source=source,
        sampler=sampler,
        operations=[grain.transforms.Batch(batch_size=per_shard, drop_remainder=drop_remainder)],
        worker_count=0,
        shard_options=grain.sharding.NoSharding(),
        read_options=read_options,
    )
