"""digits: the fixed split, the stored contents, the metadata."""
import hashlib

import numpy as np
import pytest
from sklearn.datasets import load_digits

from gen_jax import data
from gen_jax.data import digits

# Changing the split invalidates every number reported on digits: these values must never change.
TEST_INDICES_SHA256 = "b6dda9966fad4e2df3b584a188f9351352e031ea9a23d0cf877dd349c0e434c0"


def _sha(indices):
    return hashlib.sha256(np.ascontiguousarray(indices, dtype="<i8").tobytes()).hexdigest()


def test_split_is_the_documented_fixed_one():
    idx = digits.split_indices()
    train, test = idx["train"], idx["test"]
    assert len(train) == digits.NUM_TRAIN == 1437 and len(test) == digits.NUM_TEST == 360
    assert len(np.intersect1d(train, test)) == 0
    np.testing.assert_array_equal(np.union1d(train, test), np.arange(1797))
    assert _sha(test) == TEST_INDICES_SHA256
    labels = load_digits().target
    np.testing.assert_array_equal(np.bincount(labels[test]), np.full(10, 36))
    # The documented rule, recomputed independently: 36 smallest SHA-256 digests per class.
    for c in range(10):
        members = np.flatnonzero(labels == c)
        digests = [hashlib.sha256(f"gen_jax/digits/{i}".encode()).digest() for i in members]
        chosen = members[np.argsort(np.array(digests, dtype=object), kind="stable")[:36]]
        np.testing.assert_array_equal(np.sort(chosen), test[labels[test] == c])


def test_stored_splits_match_sklearn(data_dir, no_network):
    raw = load_digits()
    idx = digits.split_indices()
    for split in ("train", "test"):
        arrays = data.load_arrays("digits", split, data_dir=data_dir)
        x, label = arrays["x"], arrays["label"]
        assert x.dtype == np.uint8 and x.shape == (len(idx[split]), 8, 8, 1)
        assert label.dtype == np.int32
        np.testing.assert_array_equal(x[..., 0], raw.images[idx[split]].astype(np.uint8))
        np.testing.assert_array_equal(label, raw.target[idx[split]])
        np.testing.assert_array_equal(arrays["index"], idx[split])  # stored in increasing index order
    assert not no_network


def test_levels_are_0_to_16(data_dir):
    x = np.concatenate([data.load_arrays("digits", s, data_dir=data_dir)["x"] for s in ("train", "test")])
    assert x.min() == 0 and x.max() == 16
    np.testing.assert_array_equal(np.unique(x), np.arange(17))


def test_dataset_info(data_dir):
    info = data.dataset_info("digits", data_dir=data_dir)
    assert info == data.DatasetInfo(
        name="digits",
        features={"x": data.Feature((8, 8, 1), "uint8", "levels", num_levels=17),
                  "label": data.Feature((), "int32", "classes", num_classes=10),
                  "index": data.Feature((), "int32", "integer")},
        splits={"train": 1437, "test": 360}, version="2.0.0",
    )
    assert (info.shape, info.dtype, info.num_levels, info.num_classes) == ((8, 8, 1), "uint8", 17, 10)
    assert info.num_dims == 64
    with pytest.raises(Exception):  # frozen
        info.name = "other"


def test_load_arrays_returns_private_copies(data_dir):
    a = data.load_arrays("digits", "test", data_dir=data_dir)
    a["x"][:] = 0
    assert data.load_arrays("digits", "test", data_dir=data_dir)["x"].max() == 16


def test_prepared_dataset_is_reused_from_disk(data_dir, tmp_path, monkeypatch):
    """Preparing writes array_record files under <data_dir>/digits/2.0.0 and a fresh process only reads them."""
    import os

    d = str(tmp_path / "fresh")
    data.dataset_info("digits", data_dir=d)
    version_dir = os.path.join(d, "digits", "2.0.0")
    assert any(f.endswith(".array_record-00000-of-00001") for f in os.listdir(version_dir))
    # Simulate a new process: clear the in-memory cache; preparing again must not happen.
    from gen_jax.data import registry

    registry._resolve_cached.cache_clear()
    monkeypatch.setattr(digits.Digits, "_split_generators", lambda *a, **k: pytest.fail("re-prepared"))
    assert data.dataset_info("digits", data_dir=d).splits == {"train": 1437, "test": 360}


def test_default_data_dir_comes_from_the_environment(monkeypatch, tmp_path):
    monkeypatch.setenv("GEN_JAX_DATA_DIR", str(tmp_path / "env_dir"))
    assert data.resolve_data_dir() == str(tmp_path / "env_dir")
    assert data.resolve_data_dir(str(tmp_path / "arg")) == str(tmp_path / "arg")
    monkeypatch.delenv("GEN_JAX_DATA_DIR")
    import os

    assert data.resolve_data_dir() == os.path.expanduser("~/tensorflow_datasets")
