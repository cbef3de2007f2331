"""TFDS datasets: catalog datasets read from a prepared data_dir, and the preparation of the embedded builders.

Catalog datasets are never downloaded: a prepared ``<data_dir>/<name>[/<config>]/<version>`` directory in
array_record format is read through ``builder.as_data_source()`` (no TensorFlow). Every feature of the
catalog's FeaturesDict becomes a gen_jax feature (nested dicts flattened with '/': ``objects/area``):

* the primary image (``x`` if there is one, else ``image``, else the first Image feature) is renamed ``x``;
* ClassLabel -> kind 'classes' (int32, its num_classes); Image -> 'levels' (256 for uint8, 65536 for uint16,
  2 for the binarized catalog sets in `BINARY_CATALOG`; float images are 'continuous'); other tensors by
  dtype: bool -> 'levels' with 2 levels (served uint8 0/1), float -> 'continuous' (float32), integer ->
  'integer' (stored dtype); Text -> 'text';
* features of variable shape (sequences, images of varying size) are skipped with a logged warning naming
  them: a batch needs fixed-size examples.

Splits up to `IN_MEMORY_LIMIT_BYTES` are decoded once and served from memory (their values checked at
once); larger ones are streamed from their array_record files, each record checked as it is read.
"""
from __future__ import annotations

import contextlib
import logging as pylogging
import os
import re
import threading

import numpy as np
from absl import logging

from gen_jax.data import fingerprints
from gen_jax.data.errors import DataError, DatasetNotPreparedError, UnknownDatasetError
from gen_jax.data.features import DatasetInfo, Feature, check_values
from gen_jax.data.sources import Dataset, InMemoryDataset

ENV_DATA_DIR = "GEN_JAX_DATA_DIR"

# Catalog splits up to this size are decoded once and served from memory; larger ones are streamed from
# their array_record files (grain's per-example overhead is far smaller on in-memory arrays).
IN_MEMORY_LIMIT_BYTES = 2 << 30

# Catalog datasets whose uint8 images hold 0/1 rather than 0..255.
BINARY_CATALOG = ("binarized_mnist",)

_lock = threading.RLock()


def prepare_command(name: str, data_dir: str) -> str:
    """The shell command that prepares catalog dataset `name` in array_record format under `data_dir`."""
    return f"tfds build {name} --data_dir={data_dir} --file_format=array_record"


# ------------------------------------------------------------------------------ TFDS features -> gen_jax


def _leaf_feature(tfds_feature, binary: bool) -> Feature:
    import tensorflow_datasets as tfds

    shape = tuple(tfds_feature.shape)
    dtype = np.dtype(tfds_feature.np_dtype)
    if isinstance(tfds_feature, tfds.features.ClassLabel):
        return Feature.classes(tfds_feature.num_classes, shape)
    if isinstance(tfds_feature, tfds.features.Text) or dtype == object or dtype.kind in "SU":
        return Feature.text()
    if isinstance(tfds_feature, tfds.features.Image) and np.issubdtype(dtype, np.integer):
        return Feature.levels(shape, 2 if binary else 2 ** (8 * dtype.itemsize))
    if dtype == np.bool_:
        return Feature.levels(shape, 2)
    if np.issubdtype(dtype, np.floating):
        return Feature.continuous(shape)
    return Feature.integer(shape, dtype.name)


def catalog_features(features_dict, dataset: str, binary: bool = False):
    """({name: Feature}, {name: key path into a decoded record}) of a TFDS FeaturesDict (see the module doc)."""
    import tensorflow_datasets as tfds

    leaves, images, skipped = {}, [], []

    def walk(fd, prefix):
        for k, f in fd.items():
            path = prefix + (k,)
            name = "/".join(path)
            if isinstance(f, tfds.features.FeaturesDict):
                walk(f, path)
                continue
            shape = getattr(f, "shape", None)
            if not isinstance(shape, tuple) or any(s is None for s in shape):
                skipped.append(name)
                continue
            leaves[name] = (path, _leaf_feature(f, binary))
            if isinstance(f, tfds.features.Image):
                images.append(name)

    walk(features_dict, ())
    if skipped:
        logging.warning("gen_jax.data: dataset %r: skipping the feature(s) of variable shape %s (a batch needs "
                        "fixed-size examples)", dataset, ", ".join(sorted(skipped)))
    primary = next((k for k in ("x", "image") if k in leaves), images[0] if images else None)
    features, paths = {}, {}
    for name, (path, feature) in leaves.items():
        name = "x" if name == primary else name
        features[name], paths[name] = feature, path
    return features, paths


def _record_value(record, path):
    for k in path:
        record = record[k]
    return record


class CatalogSource:
    """A TFDS array_record data source served as {feature: value} examples in gen_jax's names and dtypes.

    Only records start..stop-1 of the wrapped source are visible (a sliced split), as indices 0..stop-start-1.
    With `check`, every record's values are checked as it is read (`check_values`, naming its index).
    """

    def __init__(self, source, info: DatasetInfo, paths, names, split: str, start: int = 0,
                 stop: int | None = None, check: bool = True):
        self._source, self._info, self._split, self._check = source, info, split, check
        self._items = [(n, paths[n], info.features[n]) for n in names]
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

    def _convert(self, rec, index: int) -> dict[str, np.ndarray]:
        out = {}
        for name, path, feature in self._items:
            value = feature.serve(np.asarray(_record_value(rec, path))[None])
            if self._check:
                check_values(self._info.name, self._split, name, feature, value, offset=index)
            out[name] = value[0]
        return out

    def __getitem__(self, i):
        j = self._record_index(i)
        return self._convert(self._source[j], j)

    def __getitems__(self, indices):
        keys = [self._record_index(i) for i in indices]
        return [self._convert(r, j) for r, j in zip(self._source.__getitems__(keys), keys)]

    def __repr__(self) -> str:
        return (f"CatalogSource({self._source!r}, features {[n for n, _, _ in self._items]}, "
                f"records {self._start}..{self._stop - 1})")


def _read_all(source, info: DatasetInfo, paths, split: str, chunk: int = 4096) -> dict[str, np.ndarray]:
    """Every feature of a whole split, decoded into arrays in the served dtypes (values not yet checked)."""
    columns = {k: [] for k in info.features}
    for start in range(0, len(source), chunk):
        for rec in source.__getitems__(range(start, min(start + chunk, len(source)))):
            for k in columns:
                columns[k].append(_record_value(rec, paths[k]))
    out = {}
    for k, f in info.features.items():
        values = columns[k]
        if f.kind == "text":
            stacked = np.empty((len(values),), object)
            stacked[:] = values
        else:
            stacked = np.stack([np.asarray(v) for v in values]) if values else f.zeros(0)
        out[k] = f.serve(stacked)
    return out


class TfdsDataset(Dataset):
    """A prepared TFDS builder read through `builder.as_data_source()`."""

    def __init__(self, name: str, builder, features, paths):
        self._sources = builder.as_data_source()
        self._paths = paths
        self.info = DatasetInfo(name=name, features=features,
                                splits={s: int(v.num_examples) for s, v in builder.info.splits.items()},
                                version=str(builder.info.version))
        self._cache: dict[str, InMemoryDataset] = {}

    def _example_bytes(self) -> int:
        return sum(int(np.prod(f.shape)) * (64 if f.kind == "text" else np.dtype(f.dtype).itemsize)
                   for f in self.info.features.values())

    def _source(self, split, start, stop, features):
        # The size of the whole stored split decides: a slice of a small split is served from its cache.
        if self.info.splits[split] * self._example_bytes() <= IN_MEMORY_LIMIT_BYTES:
            return super()._source(split, start, stop, features)
        return CatalogSource(self._sources[split], self.info, self._paths, features, split, start, stop)

    def read_split(self, split: str) -> dict[str, np.ndarray]:
        """All features of a whole stored split, decoded (not checked, not cached)."""
        return _read_all(self._sources[split], self.info, self._paths, split)

    def _arrays(self, split):
        with _lock:
            if split not in self._cache:
                info = DatasetInfo(self.info.name, self.info.features, {split: self.info.splits[split]},
                                   self.info.version)
                self._cache[split] = InMemoryDataset(info, {split: self.read_split(split)})  # checks values
            return self._cache[split]._arrays(split)  # pylint: disable=protected-access


# ----------------------------------------------------------------------------------- catalog datasets

_VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")


def _version_key(v: str) -> tuple[int, ...]:
    return tuple(int(p) for p in v.split("."))


def prepared_dir(name: str, data_dir: str) -> str | None:
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


def open_catalog(name: str, data_dir: str, known_names: str) -> Dataset:
    """The prepared catalog dataset `name` (``mnist``, ``celeb_a/...:2.1.0``) under data_dir."""
    import tensorflow_datasets as tfds

    base = name.partition(":")[0].split("/")[0]
    path = prepared_dir(name, data_dir)
    if path is None:
        if base not in set(tfds.list_builders(with_community_datasets=False)):
            raise UnknownDatasetError(f"unknown dataset {name!r}. Known names: {known_names}")
        raise DatasetNotPreparedError(
            f"dataset {name!r} is not prepared under the data_dir {data_dir} (looked for "
            f"{os.path.join(data_dir, *name.partition(':')[0].split('/'))}/<version>/dataset_info.json). "
            "gen_jax never downloads; on a machine with network access run\n"
            f"    {prepare_command(name, data_dir)}\n"
            "(that machine needs `pip install tensorflow tensorflow-datasets array_record`: TFDS's catalog "
            "builders use TensorFlow to read and encode the raw files), then copy the resulting "
            f"{os.path.join(data_dir, base)} directory here, or point data_dir / "
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
    features, paths = catalog_features(builder.info.features, name, binary=base in BINARY_CATALOG)
    return TfdsDataset(name, builder, features, paths)


# ---------------------------------------------------------------------------------- embedded datasets


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


def prepare_embedded(name: str, cls, config: str | None, data_dir: str):
    """The builder of embedded dataset `name`, prepared under data_dir if it is not yet (no network)."""
    import tensorflow_datasets as tfds

    with _quiet_tfds():
        builder = cls(data_dir=data_dir, config=config, file_format="array_record")
        if builder.is_prepared():
            return builder
        try:
            os.makedirs(data_dir, exist_ok=True)
        except OSError as e:
            raise DataError(f"could not prepare the embedded dataset {name!r}: cannot create the data_dir "
                            f"{data_dir} ({e}). Point data_dir or ${ENV_DATA_DIR} at a writable directory.") from e
        with _preparation_lock(data_dir, name):  # processes preparing the same dataset take turns
            builder = cls(data_dir=data_dir, config=config, file_format="array_record")
            if builder.is_prepared():
                return builder
            logging.info("gen_jax.data: preparing %r under %s (once)", name, data_dir)
            try:
                builder.download_and_prepare(
                    download_config=tfds.download.DownloadConfig(try_download_gcs=False)
                )
            except Exception as e:
                # A process on another host sharing the data_dir may have finished preparing it meanwhile.
                builder = cls(data_dir=data_dir, config=config, file_format="array_record")
                if not builder.is_prepared():
                    if isinstance(e, OSError):
                        raise DataError(
                            f"could not prepare the embedded dataset {name!r} under the data_dir {data_dir}: {e}. "
                            f"Point data_dir or ${ENV_DATA_DIR} at a writable directory."
                        ) from e
                    raise
    return builder


@contextlib.contextmanager
def _preparation_lock(data_dir: str, name: str):
    """An exclusive advisory lock (flock) on data_dir/.prepare-<name>.lock: parallel test workers or runs on one
    machine wait for the one preparing a dataset instead of preparing it twice into the same directory. Where
    the file system refuses locks (some network mounts), it goes on without one."""
    import fcntl

    path = os.path.join(data_dir, ".prepare-" + name.replace("/", "_") + ".lock")
    try:
        f = open(path, "a")
    except OSError:
        yield
        return
    with f:
        try:
            fcntl.flock(f, fcntl.LOCK_EX)
        except OSError:
            pass
        try:
            yield
        finally:
            try:
                fcntl.flock(f, fcntl.LOCK_UN)
            except OSError:
                pass


def read_embedded(name: str, builder, verify: bool = True) -> tuple[DatasetInfo, dict[str, dict[str, np.ndarray]]]:
    """(info, {split: {feature: array}}) of a prepared embedded builder, read whole into memory.

    With `verify`, the contents must match the stored fingerprint of the builder's version
    (`fingerprints.verify`): a copy prepared by an older builder raises `fingerprints.StaleDataError`.
    """
    features = builder.gen_jax_features()
    tfds_ds = TfdsDataset(name, builder, features, {k: (k,) for k in features})
    splits = {s: tfds_ds.read_split(s) for s in tfds_ds.info.splits}
    if verify:
        fingerprints.verify(builder.info.full_name, str(builder.data_path), splits)
    return tfds_ds.info, splits
