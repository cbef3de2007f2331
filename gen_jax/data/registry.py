"""Dataset names -> datasets: the embedded table, name checks, and the public functions on whole splits.

Names understood by `dataset_info`, `load_arrays` and `gen_jax.data.make_loader`:

* embedded (prepared automatically on first use, no network): ``digits``, ``mnist5k``, ``toy2d/ring8``,
  ``toy2d/grid25``, ``toy2d/two_moons``, ``toy2d/swiss_roll`` (the bare config names ``ring8`` etc. are
  accepted too), and the datasets derived from the digits: ``edges2digits``, ``mnistm``,
  ``mnist5k_inverted``, ``thickness_digits``, ``rotated_digits``, ``pasted_digits``,
  ``captioned_mnist5k``, ``captioned_digits`` (`_EMBEDDED` below is the full table); each optionally with
  its current version (``digits:2.0.0``);
* any TFDS dataset already prepared in array_record format under the data_dir, by its TFDS name, optionally
  with config and version: ``mnist``, ``binarized_mnist``, ``cifar10``, ``fashion_mnist``,
  ``celeb_a/…:2.1.0``... Every feature of the catalog is served (its primary image as ``x``); see
  `gen_jax.data.catalog`. Nothing is ever downloaded: an unprepared dataset raises
  `DatasetNotPreparedError` with the command that prepares it. Names with path components (``..``, an
  absolute path, more than NAME/CONFIG) are rejected;
* ``npz:/path/file.npz`` and ``folder:/path/to/images[?layout=paired|side_by_side|classes]``: see
  `gen_jax.data.user` for the conventions;
* ``captions:<catalog or embedded name>[?feature=...&max_tokens=...&num_captions=...&vocab_size=...&min_count=...]``:
  that dataset plus ``caption_tokens`` from its caption text (a vocabulary built from its train split), for
  the text-to-image models: see `gen_jax.data.catalog_captions`.

The data_dir is the argument if given, else the environment variable ``GEN_JAX_DATA_DIR``, else
``~/tensorflow_datasets``.

Splits are named as in TFDS, whole or sliced: ``train``, ``train[:1200]``, ``train[1200:]``,
``train[:90%]``, ``test[-60:]``; see `gen_jax.data.splits.split_bounds`.

Every example is a dict of the dataset's named features (`DatasetInfo.features`, see
`gen_jax.data.features`): ``{'x': uint8 [8, 8, 1], 'label': int32, 'index': int32}`` for digits. Image
values are the stored integer levels, see `gen_jax.data.preprocess` for the conversions a model wants.

Adding an embedded dataset is one builder module plus one line in `_EMBEDDED` below:

1. ``gen_jax/data/<name>.py`` with a subclass of `gen_jax.data._tfds_base.EmbeddedBuilder` (or
   `LabelledImageBuilder` for labelled images with a hash-rule split) that declares its features as
   gen_jax `Feature`s in ``FEATURES`` (or ``gen_jax_features()`` when they depend on the config: kind,
   levels, classes), sets ``VERSION`` and ``RELEASE_NOTES`` and generates its examples from installed
   packages only;
2. ``"<name>": ("gen_jax.data.<name>", "<BuilderClass>", <config name or None>)`` in `_EMBEDDED`;
3. ``python -m gen_jax.data.fingerprints <name>`` records the fingerprint of its output (every load checks
   it, and tests/data/test_versions.py fails until it is recorded).
"""
from __future__ import annotations

import functools
import os
import re
import threading
from typing import Iterable

import numpy as np

from gen_jax.data import catalog, catalog_captions
from gen_jax.data.catalog import ENV_DATA_DIR, prepare_command  # noqa: F401  (re-exported)
from gen_jax.data.errors import UnknownDatasetError
from gen_jax.data.features import DatasetInfo, Feature  # noqa: F401  (re-exported)
from gen_jax.data.sources import ArraySource, Dataset, InMemoryDataset  # noqa: F401  (re-exported)
from gen_jax.data.splits import split_bounds

DEFAULT_DATA_DIR = "~/tensorflow_datasets"

# name -> (module, builder class name, builder config): the builder declares the features.
_EMBEDDED = {
    "digits": ("gen_jax.data.digits", "Digits", None),
    "mnist5k": ("gen_jax.data.mnist5k", "Mnist5k", None),
    "edges2digits": ("gen_jax.data.edges2digits", "Edges2digits", None),
    "mnist5k_inverted": ("gen_jax.data.mnist5k_inverted", "Mnist5kInverted", None),
    "mnistm": ("gen_jax.data.mnistm", "Mnistm", None),
    "thickness_digits": ("gen_jax.data.thickness_digits", "ThicknessDigits", None),
    "rotated_digits": ("gen_jax.data.rotated_digits", "RotatedDigits", None),
    "pasted_digits": ("gen_jax.data.pasted_digits", "PastedDigits", None),
    "composites": ("gen_jax.data.composites", "Composites", None),
    "captioned_mnist5k": ("gen_jax.data.captioned", "CaptionedMnist5k", None),
    "captioned_digits": ("gen_jax.data.captioned", "CaptionedDigits", None),
    "toy2d/ring8": ("gen_jax.data.toy2d", "Toy2d", "ring8"),
    "toy2d/grid25": ("gen_jax.data.toy2d", "Toy2d", "grid25"),
    "toy2d/two_moons": ("gen_jax.data.toy2d", "Toy2d", "two_moons"),
    "toy2d/swiss_roll": ("gen_jax.data.toy2d", "Toy2d", "swiss_roll"),
    "chorale_bars": ("gen_jax.data.chorale_bars", "ChoraleBars", None),
    "voxel_shapes/16": ("gen_jax.data.voxel_shapes", "VoxelShapes", "16"),
    "voxel_shapes/32": ("gen_jax.data.voxel_shapes", "VoxelShapes", "32"),
    "photo_patches": ("gen_jax.data.photo_patches", "PhotoPatches", None),
    "photo_whole": ("gen_jax.data.photo_patches", "PhotoWhole", None),
    "labels2scenes": ("gen_jax.data.labels2scenes", "Labels2scenes", None),
    "posed_figures": ("gen_jax.data.posed_figures", "PosedFigures", None),
    "texture_crops": ("gen_jax.data.texture_crops", "TextureCrops", None),
    "dressed_digits": ("gen_jax.data.dressed_digits", "DressedDigits", None),
}
_ALIASES = {n.split("/", 1)[1]: n for n in _EMBEDDED if n.startswith("toy2d/")}
EMBEDDED_NAMES = tuple(_EMBEDDED)
_USER_SCHEMES = ("npz:", "folder:")

_lock = threading.RLock()


def resolve_data_dir(data_dir: str | os.PathLike | None = None) -> str:
    """The data_dir argument, else $GEN_JAX_DATA_DIR, else ~/tensorflow_datasets (user-expanded, absolute)."""
    d = data_dir if data_dir is not None else os.environ.get(ENV_DATA_DIR) or DEFAULT_DATA_DIR
    return os.path.abspath(os.path.expanduser(os.fspath(d)))


def _known_names_text() -> str:
    return (
        f"embedded: {', '.join(EMBEDDED_NAMES)} (also {', '.join(_ALIASES)}); "
        "any TFDS catalog dataset prepared in array_record format under the data_dir "
        "(e.g. mnist, binarized_mnist, fashion_mnist, cifar10); "
        "'npz:/path/file.npz'; 'folder:/path/to/images'; "
        "'captions:<catalog name>?feature=<its caption feature>'"
    )


_COMPONENT_RE = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.+-]*$")
_VERSION_RE = re.compile(r"^\d+\.\d+\.\d+$")


def _check_catalog_name(name: str) -> None:
    """Rejects a name that is not NAME[/CONFIG][:VERSION]: it would be joined into a path under data_dir."""
    base, colon, version = name.partition(":")
    parts = base.split("/")
    problem = None
    if base.startswith(("/", "~")) or "\\" in name:
        problem = "an absolute or home path"
    elif any(p in ("..", ".") for p in parts):
        problem = "'..' or '.'"
    elif len(parts) > 2 or not all(_COMPONENT_RE.match(p) for p in parts):
        problem = "more than NAME/CONFIG, or characters outside letters, digits and _.+-"
    elif colon and not _VERSION_RE.match(version):
        problem = f"a version {version!r} that is not MAJOR.MINOR.PATCH"
    if problem:
        raise UnknownDatasetError(
            f"dataset name {name!r} is not a dataset name: it has {problem}. A catalog or embedded name is "
            "NAME or NAME/CONFIG, optionally with :VERSION (e.g. 'mnist', 'toy2d/ring8', 'celeb_a/align:2.1.0'); "
            "files of your own are named 'npz:/path/file.npz' or 'folder:/path/to/images'"
        )


def canonical_name(name: str) -> str:
    """'ring8' -> 'toy2d/ring8'; other names unchanged, after checking their type and form (a name with path
    components outside the 'npz:' / 'folder:' forms, such as 'digits/../mnist5k', raises)."""
    if not isinstance(name, str) or not name:
        raise UnknownDatasetError(f"dataset name must be a non-empty string, got {name!r}")
    if name.startswith(_USER_SCHEMES):
        return name
    if name.startswith(catalog_captions.SCHEME):
        return catalog_captions.canonical(name, canonical_name)
    _check_catalog_name(name)
    base, colon, version = name.partition(":")
    return _ALIASES.get(base, base) + colon + version


# ------------------------------------------------------------------------------------ embedded datasets


def _embedded_builder(name: str, data_dir: str):
    import importlib

    module, cls_name, config = _EMBEDDED[name]
    cls = getattr(importlib.import_module(module), cls_name)
    return catalog.prepare_embedded(name, cls, config, data_dir)


def embedded_splits(name: str, data_dir: str, verify: bool = True):
    """(builder, info, {split: {feature: array}}) of embedded dataset `name`, prepared under data_dir if it is
    not yet; with `verify`, checked against its version's stored fingerprint (`gen_jax.data.fingerprints`)."""
    builder = _embedded_builder(canonical_name(name), data_dir)
    info, splits = catalog.read_embedded(canonical_name(name), builder, verify=verify)
    return builder, info, splits


def _embedded(name: str, version: str, data_dir: str) -> Dataset:
    _, info, splits = embedded_splits(name, data_dir)
    if version and version != info.version:
        raise UnknownDatasetError(
            f"dataset {name!r} is embedded at version {info.version}; {name}:{version} is not served (a copy "
            f"of another version is not what this code prepares). Use {name!r} or '{name}:{info.version}'"
        )
    # Embedded datasets are small: hold them in memory (far faster per example than decoding records).
    return InMemoryDataset(info, splits)


# ------------------------------------------------------------------------------------------- resolving


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


def _user_dataset(name: str) -> Dataset:
    from gen_jax.data import user

    scheme, path, options = user.parse_name(name)
    if scheme == "npz":
        features, splits = user.load_npz(path, dataset=name)
    else:
        features, splits = user.load_folder(path, **options)
    sizes = {s: len(next(iter(d.values()))) for s, d in splits.items()}
    return InMemoryDataset(DatasetInfo(name, features, sizes), splits)


@functools.lru_cache(maxsize=32)
def _resolve_cached(name: str, data_dir: str, stamp: tuple) -> Dataset:
    del stamp  # only part of the cache key
    if name.startswith(_USER_SCHEMES):
        return _user_dataset(name)
    if name.startswith(catalog_captions.SCHEME):
        return catalog_captions.open_captions(name, data_dir, _resolve_base)
    base, _, version = name.partition(":")
    if base in _EMBEDDED:
        return _embedded(base, version, data_dir)
    return catalog.open_catalog(name, data_dir, _known_names_text())


def _resolve_base(name: str, data_dir: str) -> Dataset:
    return _resolve_cached(name, data_dir, ())


def resolve(name: str, data_dir: str | os.PathLike | None = None) -> Dataset:
    """The (cached) dataset object behind a name; embedded datasets are prepared here on first use."""
    name = canonical_name(name)
    data_dir = resolve_data_dir(data_dir)
    stamp: tuple = ()
    if name.startswith(_USER_SCHEMES):
        path = os.path.expanduser(name.split(":", 1)[1].partition("?")[0])
        stamp = _file_stamp(path) if os.path.exists(path) else ("missing",)
        data_dir = ""  # irrelevant for user data
    with _lock:
        return _resolve_cached(name, data_dir, stamp)


# ------------------------------------------------------------------------------------------ public API


def dataset_info(name: str, data_dir: str | os.PathLike | None = None) -> DatasetInfo:
    """Features (shapes, dtypes, kinds, levels, classes) and split sizes of a dataset (preparing an embedded
    one on first use)."""
    return resolve(name, data_dir).info


def num_examples(name: str, split: str, data_dir: str | os.PathLike | None = None) -> int:
    """The number of examples of a split, sliced or not: ``num_examples('digits', 'train[:90%]') == 1293``.

    Raises the errors of `split_bounds` for a malformed, unknown or empty split.
    """
    info = resolve(name, data_dir).info
    _, start, stop = split_bounds(split, info.splits, dataset=info.name)
    return stop - start


def load_arrays(name: str, split: str, data_dir: str | os.PathLike | None = None,
                features: Iterable[str] | None = None) -> dict[str, np.ndarray]:
    """A whole split in memory: {feature: [N, *shape] array} of every feature (or of the named `features`),
    e.g. {'x': uint8 [360, 8, 8, 1], 'label': int32 [360], 'index': int32 [360]} for digits' test split.

    `split` may be sliced ('train[:90%]', see `split_bounds`). Returns fresh (writable) copies; the stored
    order is kept (no shuffling).
    """
    ds = resolve(name, data_dir)
    arrays = ds.arrays(split, tuple(ds.info.features) if features is None else features)
    return {k: np.array(v) for k, v in arrays.items()}
