"""gen_jax.data: datasets of named features — embedded TFDS datasets, catalog / npz / folder datasets,
grain loaders, preprocessing.

    from gen_jax import data
    info = data.dataset_info("digits")          # info.features: {'x': Feature((8, 8, 1), 'uint8', 'levels',
                                                #   num_levels=17), 'label': ..., 'index': ...}; info.shape == (8, 8, 1)
    test = data.load_arrays("digits", "test")   # {'x': uint8 [360, 8, 8, 1], 'label': int32 [360], 'index': ...}
    loader = data.make_loader("digits", "train", batch_size=128, seed=0)
    valid = data.make_loader("digits", "train[90%:]", batch_size=64, shuffle=False, num_epochs=1)
    pairs = data.make_loader("folder:/data/facades?layout=side_by_side", "train", batch_size=1,
                             features=("A", "B"))
    it = iter(loader); batch = next(it); state = it.get_state()

Where things are: `registry` (the names understood, how to add an embedded dataset), `features` (Feature,
DatasetInfo, the kinds, the value checks), `splits` (sliced split names), `user` (the npz / folder
conventions), `catalog` (TFDS catalog datasets, embedded preparation), `fingerprints` (dataset versions),
`sources` (what grain reads), `loader` (make_loader), `digits` (the fixed digits split), `preprocess` (the
pixel conventions and the paired augmentation).
"""
from gen_jax.data import preprocess
from gen_jax.data.errors import (
    DataError,
    DatasetNotPreparedError,
    DataShapeError,
    UnknownDatasetError,
)
from gen_jax.data.features import KINDS, DatasetInfo, Feature
from gen_jax.data.fingerprints import StaleDataError
from gen_jax.data.loader import make_loader, shard_range
from gen_jax.data.registry import (
    DEFAULT_DATA_DIR,
    EMBEDDED_NAMES,
    ENV_DATA_DIR,
    canonical_name,
    dataset_info,
    load_arrays,
    num_examples,
    prepare_command,
    resolve_data_dir,
)
from gen_jax.data.sources import ArraySource
from gen_jax.data.splits import split_bounds

__all__ = [
    "ArraySource",
    "DEFAULT_DATA_DIR",
    "DataError",
    "DataShapeError",
    "DatasetInfo",
    "DatasetNotPreparedError",
    "EMBEDDED_NAMES",
    "ENV_DATA_DIR",
    "Feature",
    "KINDS",
    "StaleDataError",
    "UnknownDatasetError",
    "canonical_name",
    "dataset_info",
    "load_arrays",
    "make_loader",
    "num_examples",
    "prepare_command",
    "preprocess",
    "resolve_data_dir",
    "shard_range",
    "split_bounds",
]
