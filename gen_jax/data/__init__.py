"""gen_jax.data: embedded TFDS datasets, catalog / npz / folder datasets, grain loaders, preprocessing.

    from gen_jax import data
    info = data.dataset_info("digits")          # DatasetInfo(shape=(8, 8, 1), num_levels=17, ...)
    test = data.load_arrays("digits", "test")   # {'x': uint8 [360, 8, 8, 1], 'label': int32 [360]}
    loader = data.make_loader("digits", "train", batch_size=128, seed=0)
    valid = data.make_loader("digits", "train[90%:]", batch_size=64, shuffle=False, num_epochs=1)
    it = iter(loader); batch = next(it); state = it.get_state()

See `gen_jax.data.registry` for the names understood, `gen_jax.data.user` for the npz / folder conventions,
`gen_jax.data.digits` for the fixed digits split and `gen_jax.data.preprocess` for the pixel conventions.
"""
from gen_jax.data import preprocess
from gen_jax.data.errors import (
    DataError,
    DatasetNotPreparedError,
    DataShapeError,
    UnknownDatasetError,
)
from gen_jax.data.registry import (
    DEFAULT_DATA_DIR,
    EMBEDDED_NAMES,
    ENV_DATA_DIR,
    ArraySource,
    DatasetInfo,
    canonical_name,
    dataset_info,
    load_arrays,
    make_loader,
    num_examples,
    prepare_command,
    resolve_data_dir,
    shard_range,
    split_bounds,
)

__all__ = [
    "ArraySource",
    "DEFAULT_DATA_DIR",
    "DataError",
    "DataShapeError",
    "DatasetInfo",
    "DatasetNotPreparedError",
    "EMBEDDED_NAMES",
    "ENV_DATA_DIR",
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
