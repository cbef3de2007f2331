"""Catalog datasets: read from a prepared data_dir, never downloaded.

The prepared `mnist` here is made by the REAL TFDS mnist builder (tensorflow_datasets.image_classification
.mnist.MNIST, version 3.0.1) in array_record format, fed fake IDX files in place of its download. Two parts of
that builder need TensorFlow, which gen_jax does not install: reading the raw files (tf.io.gfile) and PNG
encoding of numpy images; the test supplies PIL images instead, which TFDS encodes with Pillow. The result is a
directory laid out exactly as `tfds build mnist --file_format=array_record` writes it.
"""
import gzip
import importlib.resources
import os
import sys

import numpy as np
import pytest

from gen_jax import data

N_TRAIN, N_TEST = 48, 20


def _fake_mnist(tmp_path, monkeypatch, rng):
    import tensorflow_datasets as tfds
    from PIL import Image
    from tensorflow_datasets.image_classification import mnist as tfds_mnist

    # TFDS's builder-source lookup imports `importlib_resources` (a backport not among our pins).
    monkeypatch.setitem(sys.modules, "importlib_resources", importlib.resources)
    raw = tmp_path / "raw"
    raw.mkdir()
    truth = {}
    for split, n in (("train", N_TRAIN), ("test", N_TEST)):
        images = rng.integers(0, 256, (n, 28, 28), dtype=np.uint8)
        labels = rng.integers(0, 10, n).astype(np.uint8)
        with gzip.open(raw / f"{split}-images.gz", "wb") as f:
            f.write(b"\0" * 16 + images.tobytes())
        with gzip.open(raw / f"{split}-labels.gz", "wb") as f:
            f.write(b"\0" * 8 + labels.tobytes())
        truth[split] = (images, labels)

    def read_images(path, n):
        with gzip.open(path) as f:
            a = np.frombuffer(f.read()[16:], np.uint8).reshape(n, 28, 28)
        return [Image.fromarray(img, mode="L") for img in a]

    def read_labels(path, n):
        with gzip.open(path) as f:
            return np.frombuffer(f.read()[8:], np.uint8).astype(np.int64)

    def fake_download(self, urls):
        assert set(urls) == {"train_data", "train_labels", "test_data", "test_labels"}
        return {f"{s}_{k}": str(raw / f"{s}-{'images' if k == 'data' else 'labels'}.gz")
                for s in ("train", "test") for k in ("data", "labels")}

    monkeypatch.setattr(tfds_mnist, "_TRAIN_EXAMPLES", N_TRAIN)
    monkeypatch.setattr(tfds_mnist, "_TEST_EXAMPLES", N_TEST)
    monkeypatch.setattr(tfds_mnist, "_extract_mnist_images", read_images)
    monkeypatch.setattr(tfds_mnist, "_extract_mnist_labels", read_labels)
    monkeypatch.setattr(tfds.download.DownloadManager, "download_and_extract", fake_download)
    data_dir = tmp_path / "tfds"
    builder = tfds_mnist.MNIST(data_dir=str(data_dir), file_format="array_record")
    builder.download_and_prepare()
    assert os.path.isfile(data_dir / "mnist" / "3.0.1" / "dataset_info.json")
    return str(data_dir), truth


def _rows(x):
    return sorted(r.tobytes() for r in np.asarray(x).reshape(len(x), -1))


def test_prepared_catalog_mnist_loads_through_make_loader(tmp_path, monkeypatch, no_network):
    data_dir, truth = _fake_mnist(tmp_path, monkeypatch, np.random.default_rng(0))
    assert "tensorflow" not in sys.modules
    info = data.dataset_info("mnist", data_dir=data_dir)
    assert info.shape == (28, 28, 1) and info.num_levels == 256 and info.num_classes == 10
    assert info.splits == {"train": N_TRAIN, "test": N_TEST} and info.dtype == "uint8"
    for split, (images, labels) in truth.items():
        arrays = data.load_arrays("mnist", split, data_dir=data_dir)
        assert arrays["x"].shape == (len(labels), 28, 28, 1) and arrays["x"].dtype == np.uint8
        # TFDS stores examples in a hashed order: compare (image, label) pairs as multisets
        got = sorted((r.tobytes(), int(l)) for r, l in zip(arrays["x"].reshape(len(labels), -1), arrays["label"]))
        want = sorted((r.tobytes(), int(l)) for r, l in zip(images.reshape(len(labels), -1), labels))
        assert got == want
    loader = data.make_loader("mnist", "train", batch_size=16, data_dir=data_dir, seed=1, num_epochs=1)
    batches = list(loader)
    assert len(batches) == N_TRAIN // 16
    assert all(b["x"].shape == (16, 28, 28, 1) and b["label"].dtype == np.int32 for b in batches)
    assert _rows(np.concatenate([b["x"] for b in batches])) == _rows(truth["train"][0])
    # also as versioned name
    assert data.dataset_info("mnist:3.0.1", data_dir=data_dir).splits["test"] == N_TEST
    assert not no_network


def test_streaming_path_for_large_catalog_splits(tmp_path, monkeypatch, no_network):
    """Splits above the in-memory limit are read record by record from the array_record files."""
    from gen_jax.data import catalog

    data_dir, truth = _fake_mnist(tmp_path, monkeypatch, np.random.default_rng(1))
    monkeypatch.setattr(catalog, "IN_MEMORY_LIMIT_BYTES", 0)
    loader = data.make_loader("mnist", "test", batch_size=N_TEST, data_dir=data_dir, shuffle=False,
                              num_epochs=1, drop_remainder=False)
    assert not isinstance(loader._data_source, data.ArraySource)  # pylint: disable=protected-access
    (batch,) = list(loader)
    assert _rows(batch["x"]) == _rows(truth["test"][0])
    it = iter(data.make_loader("mnist", "train", batch_size=8, data_dir=data_dir, seed=2))
    next(it)
    state = it.get_state()
    a = [next(it)["x"] for _ in range(7)]
    it2 = iter(data.make_loader("mnist", "train", batch_size=8, data_dir=data_dir, seed=2))
    it2.set_state(state)
    for x in a:
        np.testing.assert_array_equal(next(it2)["x"], x)


def test_sliced_split_streams_only_its_records(tmp_path, monkeypatch):
    """A slice of a streamed split reads records start..stop-1 of the array_record files, and resumes."""
    from gen_jax.data import catalog

    data_dir, _ = _fake_mnist(tmp_path, monkeypatch, np.random.default_rng(4))
    whole = data.load_arrays("mnist", "train", data_dir=data_dir)  # stored order, decoded once
    monkeypatch.setattr(catalog, "IN_MEMORY_LIMIT_BYTES", 0)
    eval_kw = dict(data_dir=data_dir, shuffle=False, num_epochs=1, drop_remainder=False)
    loader = data.make_loader("mnist", "train[-25%:]", batch_size=5, **eval_kw)
    assert not isinstance(loader._data_source, data.ArraySource)  # pylint: disable=protected-access
    assert len(loader._data_source) == 12  # pylint: disable=protected-access
    got = np.concatenate([b["x"] for b in loader])
    np.testing.assert_array_equal(got, whole["x"][36:])
    first = np.concatenate([b["x"] for b in data.make_loader("mnist", "train[:75%]", batch_size=12, **eval_kw)])
    np.testing.assert_array_equal(first, whole["x"][:36])
    it = iter(data.make_loader("mnist", "train[10:40]", batch_size=6, data_dir=data_dir, seed=3))
    next(it)
    state = it.get_state()
    following = [next(it)["x"] for _ in range(8)]  # crosses the epoch boundary of 5 batches
    assert set(_rows(np.concatenate(following))) <= set(_rows(whole["x"][10:40]))
    it2 = iter(data.make_loader("mnist", "train[10:40]", batch_size=6, data_dir=data_dir, seed=3))
    it2.set_state(state)
    for x in following:
        np.testing.assert_array_equal(next(it2)["x"], x)


def test_unprepared_catalog_dataset_is_a_clear_fast_error(tmp_path, no_network):
    import time

    empty = str(tmp_path / "empty")
    for name in ("mnist", "binarized_mnist", "cifar10", "fashion_mnist"):
        t = time.perf_counter()
        with pytest.raises(data.DatasetNotPreparedError) as err:
            data.make_loader(name, "train", batch_size=8, data_dir=empty)
        assert time.perf_counter() - t < 5
        msg = str(err.value)
        assert empty in msg and f"tfds build {name} --data_dir={empty} --file_format=array_record" in msg
        with pytest.raises(data.DatasetNotPreparedError):
            data.dataset_info(name, data_dir=empty)
    assert isinstance(err.value, ValueError)
    assert not no_network, "looking for an unprepared dataset touched the network"
    assert not os.path.exists(empty), "looking for an unprepared dataset created its data_dir"


def test_catalog_dataset_prepared_in_another_format(tmp_path, monkeypatch):
    import json

    data_dir, _ = _fake_mnist(tmp_path, monkeypatch, np.random.default_rng(2))
    info_path = os.path.join(data_dir, "mnist", "3.0.1", "dataset_info.json")
    with open(info_path) as f:
        info = json.load(f)
    info["fileFormat"] = "tfrecord"
    with open(info_path, "w") as f:
        json.dump(info, f)
    with pytest.raises(data.DatasetNotPreparedError, match="(?s)tfrecord format.*--file_format=array_record"):
        data.dataset_info("mnist", data_dir=data_dir)


def test_unknown_dataset_lists_the_known_names(tmp_path, no_network):
    with pytest.raises(data.UnknownDatasetError) as err:
        data.dataset_info("no_such_set", data_dir=str(tmp_path))
    msg = str(err.value)
    assert "no_such_set" in msg
    for known in ("digits", "mnist5k", "toy2d/ring8", "toy2d/swiss_roll", "npz:", "folder:", "mnist"):
        assert known in msg
    assert isinstance(err.value, ValueError)
    with pytest.raises(data.UnknownDatasetError):
        data.make_loader("", "train", batch_size=8)
    assert not no_network


def test_num_levels_of_binarized_catalog_sets():
    from gen_jax.data import catalog

    assert "binarized_mnist" in catalog.BINARY_CATALOG


def test_unlabelled_binarized_catalog_set(tmp_path, monkeypatch):
    """A prepared `binarized_mnist` (one 'image' feature, no label) reads as 2 levels, with no 'label'."""
    import tensorflow_datasets as tfds
    from PIL import Image

    images = (np.random.default_rng(3).random((12, 28, 28)) > 0.7).astype(np.uint8)

    class FakeBinarizedMnist(tfds.core.GeneratorBasedBuilder, skip_registration=True):
        name = "binarized_mnist"
        VERSION = tfds.core.Version("1.0.0")
        code_path = None  # no checksums file to look up

        def _info(self):
            return tfds.core.DatasetInfo(builder=self, features=tfds.features.FeaturesDict(
                {"image": tfds.features.Image(shape=(28, 28, 1))}))

        def _split_generators(self, dl_manager):
            return {"train": self._generate_examples(images[:8]), "test": self._generate_examples(images[8:])}

        def _generate_examples(self, ims):
            for i, im in enumerate(ims):
                yield i, {"image": Image.fromarray(im, mode="L")}

    data_dir = str(tmp_path / "tfds")
    FakeBinarizedMnist(data_dir=data_dir, file_format="array_record").download_and_prepare()
    info = data.dataset_info("binarized_mnist", data_dir=data_dir)
    assert info.num_levels == 2 and info.num_classes is None and info.shape == (28, 28, 1)
    a = data.load_arrays("binarized_mnist", "test", data_dir=data_dir)
    assert set(a) == {"x"} and set(np.unique(a["x"])) <= {0, 1}
    assert _rows(a["x"]) == _rows(images[8:])


def _multi_feature_catalog(tmp_path, score_test=None):
    """A prepared catalog dataset with nested, class, image, float, bool, int, text and variable features."""
    import tensorflow_datasets as tfds

    rng = np.random.default_rng(9)
    f = tfds.features
    truth = {s: dict(image=rng.integers(0, 256, (n, 6, 5, 3), dtype=np.uint8), label=rng.integers(0, 4, n),
                     score=rng.normal(size=(n, 2)).astype(np.float32), id=rng.integers(0, 10**9, n),
                     flags=rng.random((n, 3)) > 0.5, caption=[f"caption {s} {i}" for i in range(n)])
             for s, n in (("train", 5), ("test", 3))}
    if score_test is not None:
        truth["test"]["score"][1, 0] = score_test

    class Scenes(tfds.core.GeneratorBasedBuilder, skip_registration=True):
        name = "scenes"
        VERSION = tfds.core.Version("1.2.0")
        code_path = None

        def _info(self):
            return tfds.core.DatasetInfo(builder=self, disable_shuffling=True, features=f.FeaturesDict({
                "image": f.Image(shape=(6, 5, 3)), "label": f.ClassLabel(num_classes=4),
                "meta": {"score": f.Tensor(shape=(2,), dtype=np.float32), "id": f.Scalar(dtype=np.int64),
                         "flags": f.Tensor(shape=(3,), dtype=np.bool_)},
                "caption": f.Text(), "boxes": f.Sequence(f.Tensor(shape=(4,), dtype=np.float32)),
                "mask": f.Image(shape=(None, None, 1))}))

        def _split_generators(self, dl_manager):
            return {s: self._generate_examples(t) for s, t in truth.items()}

        def _generate_examples(self, t):
            from PIL import Image  # numpy images would need TensorFlow to encode

            for i in range(len(t["label"])):
                yield i, {"image": Image.fromarray(t["image"][i]), "label": int(t["label"][i]),
                          "caption": t["caption"][i],
                          "meta": {"score": t["score"][i], "id": int(t["id"][i]), "flags": t["flags"][i]},
                          "boxes": np.zeros((i, 4), np.float32),
                          "mask": Image.fromarray(np.zeros((i + 1, 2), np.uint8), mode="L")}

    data_dir = str(tmp_path / "tfds")
    Scenes(data_dir=data_dir, file_format="array_record").download_and_prepare()
    return data_dir, truth


def test_catalog_serves_every_fixed_shape_feature(tmp_path, caplog):
    data_dir, truth = _multi_feature_catalog(tmp_path)
    with caplog.at_level("WARNING"):
        info = data.dataset_info("scenes", data_dir=data_dir)
    assert "skipping the feature(s) of variable shape boxes, mask" in caplog.text
    assert info.version == "1.2.0" and info.splits == {"train": 5, "test": 3}
    assert info.features == {
        "x": data.Feature.levels((6, 5, 3), 256), "label": data.Feature.classes(4),
        "meta/score": data.Feature.continuous((2,)), "meta/id": data.Feature.integer((), "int64"),
        "meta/flags": data.Feature.levels((3,), 2), "caption": data.Feature.text()}
    for split, t in truth.items():
        a = data.load_arrays("scenes", split, data_dir=data_dir)
        np.testing.assert_array_equal(a["x"], t["image"])
        np.testing.assert_array_equal(a["label"], t["label"])
        assert a["label"].dtype == np.int32 and a["meta/flags"].dtype == np.uint8
        np.testing.assert_array_equal(a["meta/score"], t["score"])
        np.testing.assert_array_equal(a["meta/id"], t["id"])
        np.testing.assert_array_equal(a["meta/flags"], t["flags"])
        assert list(a["caption"]) == t["caption"]
    batch = next(iter(data.make_loader("scenes", "train", batch_size=5, data_dir=data_dir, shuffle=False)))
    assert set(batch) == {"x", "label", "meta/score", "meta/id", "meta/flags"}  # text stays on the host


def test_catalog_values_are_checked_in_memory_and_streamed(tmp_path, monkeypatch):
    from gen_jax.data import catalog

    data_dir, _ = _multi_feature_catalog(tmp_path, score_test=np.inf)
    match = r"dataset 'scenes', feature 'meta/score', split 'test': example 1 holds a non-finite value \(inf\)"
    with pytest.raises(data.DataError, match=match):
        data.load_arrays("scenes", "test", data_dir=data_dir)
    monkeypatch.setattr(catalog, "IN_MEMORY_LIMIT_BYTES", 0)
    from gen_jax.data import registry

    registry._resolve_cached.cache_clear()  # pylint: disable=protected-access
    loader = data.make_loader("scenes", "test", batch_size=3, data_dir=data_dir, shuffle=False, num_epochs=1)
    assert not isinstance(loader._data_source, data.ArraySource)  # pylint: disable=protected-access
    with pytest.raises(Exception, match=match):
        list(loader)
