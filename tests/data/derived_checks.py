"""Checks shared by the tests of the datasets derived from mnist5k / digits (gen_jax/data/_derived.py)."""
import numpy as np

from gen_jax import data
from gen_jax.data import _derived, fingerprints, registry


def check_split_and_source(name, data_dir, source="mnist5k", per_row=1):
    """The fixed split of the source (the same rows, `per_row` examples each, in increasing index order,
    no row on both sides), labels of the source rows, a recorded fingerprint, and a batch through
    make_loader. Returns {split: arrays}."""
    src = _derived.source(source)
    info = data.dataset_info(name, data_dir=data_dir)
    assert info.splits == {s: per_row * len(src.split[s]) for s in ("train", "test")}
    builder = registry._embedded_builder(name, data_dir)  # pylint: disable=protected-access
    assert builder.info.full_name in fingerprints.stored()
    out = {}
    for split in ("train", "test"):
        a = data.load_arrays(name, split, data_dir=data_dir)
        assert set(a) == set(info.features)
        np.testing.assert_array_equal(a["index"], np.repeat(src.split[split], per_row))
        np.testing.assert_array_equal(a["label"], src.labels[a["index"]])
        out[split] = a
    assert not set(out["train"]["index"]) & set(out["test"]["index"])
    batch = next(iter(data.make_loader(name, "train", batch_size=8, data_dir=data_dir, seed=0)))
    assert set(batch) == set(info.default_features())
    for k, f in info.features.items():
        if f.kind != "text":
            assert batch[k].shape == (8,) + f.shape and batch[k].dtype == np.dtype(f.dtype), k
    return out
