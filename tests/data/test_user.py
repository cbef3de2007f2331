"""The user's own data: npz files and image folders."""
import numpy as np
import pytest
from PIL import Image

from gen_jax import data


def test_npz_train_and_test(tmp_path):
    rng = np.random.default_rng(0)
    x = rng.integers(0, 256, (30, 6, 5, 3), dtype=np.uint8)
    label = rng.integers(0, 4, 30)
    x_test = rng.integers(0, 256, (10, 6, 5, 3), dtype=np.uint8)
    path = tmp_path / "mine.npz"
    np.savez(path, x=x, label=label, x_test=x_test, label_test=np.arange(10) % 4)
    name = f"npz:{path}"
    info = data.dataset_info(name)
    assert info.shape == (6, 5, 3) and info.num_levels == 256 and info.num_classes == 4
    assert info.splits == {"train": 30, "test": 10}
    a = data.load_arrays(name, "train")
    np.testing.assert_array_equal(a["x"], x)
    np.testing.assert_array_equal(a["label"], label)
    assert a["label"].dtype == np.int32
    batches = list(data.make_loader(name, "test", batch_size=4, shuffle=False, num_epochs=1, drop_remainder=False))
    np.testing.assert_array_equal(np.concatenate([b["x"] for b in batches]), x_test)
    np.testing.assert_array_equal(np.concatenate([b["label"] for b in batches]), np.arange(10) % 4)


def test_npz_grey_unlabelled_levels_and_continuous(tmp_path):
    p = tmp_path / "grey.npz"
    np.savez(p, x=np.random.default_rng(1).integers(0, 17, (12, 8, 8)).astype(np.int64), num_levels=17)
    info = data.dataset_info(f"npz:{p}")
    assert info.shape == (8, 8, 1) and info.num_levels == 17 and info.num_classes is None
    assert info.splits == {"train": 12}
    a = data.load_arrays(f"npz:{p}", "train")
    assert a["x"].dtype == np.uint8 and set(a) == {"x"}
    p2 = tmp_path / "points.npz"
    np.savez(p2, x=np.random.default_rng(2).normal(size=(50, 2)))
    info = data.dataset_info(f"npz:{p2}")
    assert info.shape == (2,) and info.num_levels is None and info.dtype == "float32"
    p3 = tmp_path / "binary.npz"
    np.savez(p3, x=np.random.default_rng(3).random((9, 4, 4)) > 0.5)
    assert data.dataset_info(f"npz:{p3}").num_levels == 2


def test_npz_is_reread_when_the_file_changes(tmp_path):
    p = tmp_path / "d.npz"
    np.savez(p, x=np.zeros((5, 2, 2), np.uint8))
    assert data.dataset_info(f"npz:{p}").splits == {"train": 5}
    np.savez(p, x=np.zeros((7, 2, 2), np.uint8))
    import os

    st = os.stat(p)
    os.utime(p, ns=(st.st_atime_ns, st.st_mtime_ns + 10**9))
    assert data.dataset_info(f"npz:{p}").splits == {"train": 7}


@pytest.mark.parametrize("arrays,match", [
    (dict(x=np.zeros((10, 8, 8), np.uint8), x_test=np.zeros((4, 7, 8), np.uint8)),
     r"feature 'x' has different per-example shapes.*train \(8, 8, 1\), test \(7, 8, 1\)"),
    (dict(x=np.zeros((10,), np.uint8)), r"shape \(10,\)"),
    (dict(x=np.zeros((10, 8, 8), np.uint8), label=np.zeros(9, np.int64)),
     r"split 'train': features of different lengths x 10, label 9"),
    (dict(x=np.zeros((0, 8, 8), np.uint8)), r"no examples"),
])
def test_npz_bad_shapes(tmp_path, arrays, match):
    p = tmp_path / "bad.npz"
    np.savez(p, **arrays)
    with pytest.raises(data.DataShapeError, match=match):
        data.dataset_info(f"npz:{p}")


def test_npz_missing_file(tmp_path):
    with pytest.raises(ValueError, match="no such file"):
        data.load_arrays(f"npz:{tmp_path / 'nope.npz'}", "train")


def _save(path, arr):
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(arr).save(path)


def test_folder_with_class_subfolders_and_splits(tmp_path):
    rng = np.random.default_rng(0)
    root = tmp_path / "imgs"
    truth = {}
    for split, n in (("train", 3), ("test", 2)):
        for c in ("cat", "dog"):
            for i in range(n):
                arr = rng.integers(0, 256, (6, 4), dtype=np.uint8)
                _save(root / split / c / f"{i}.png", arr)
                truth.setdefault(split, []).append((arr, {"cat": 0, "dog": 1}[c]))
    name = f"folder:{root}"
    info = data.dataset_info(name)
    assert info.shape == (6, 4, 1) and info.num_levels == 256 and info.num_classes == 2
    assert info.splits == {"test": 4, "train": 6}
    for split, items in truth.items():
        a = data.load_arrays(name, split)
        np.testing.assert_array_equal(a["x"][..., 0], np.stack([t[0] for t in items]))
        np.testing.assert_array_equal(a["label"], [t[1] for t in items])
    b = next(iter(data.make_loader(name, "train", batch_size=2)))
    assert b["x"].shape == (2, 6, 4, 1)


def test_flat_colour_folder(tmp_path):
    rng = np.random.default_rng(1)
    root = tmp_path / "flat"
    _save(root / "a.png", rng.integers(0, 256, (5, 5, 3), dtype=np.uint8))
    _save(root / "b.jpg", rng.integers(0, 256, (5, 5, 3), dtype=np.uint8))
    _save(root / "c.png", rng.integers(0, 256, (5, 5), dtype=np.uint8))  # grey -> repeated to RGB
    (root / "notes.txt").write_text("ignored")
    info = data.dataset_info(f"folder:{root}")
    assert info.shape == (5, 5, 3) and info.num_classes is None and info.splits == {"train": 3}
    a = data.load_arrays(f"folder:{root}", "train")
    assert set(a) == {"x"}
    assert np.all(a["x"][2, ..., 0] == a["x"][2, ..., 1])


def test_folder_bad_shape_names_the_file(tmp_path):
    root = tmp_path / "mixed"
    _save(root / "0" / "a.png", np.zeros((8, 8), np.uint8))
    _save(root / "1" / "b.png", np.zeros((8, 9), np.uint8))
    with pytest.raises(data.DataShapeError, match=r"b\.png.*9x8.*a\.png.*8x8"):
        data.dataset_info(f"folder:{root}")


def test_folder_errors(tmp_path):
    with pytest.raises(ValueError, match="no such directory"):
        data.dataset_info(f"folder:{tmp_path / 'missing'}")
    (tmp_path / "empty").mkdir()
    with pytest.raises(ValueError, match="no .* images found"):
        data.dataset_info(f"folder:{tmp_path / 'empty'}")
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "x.png").write_bytes(b"not a png")
    with pytest.raises(ValueError, match="x.png: not a readable image"):
        data.dataset_info(f"folder:{tmp_path / 'bad'}")


# ------------------------------------------------------------------------------- named features: npz


def test_npz_explicit_splits_with_a_paired_dataset_and_float_features(tmp_path):
    rng = np.random.default_rng(5)
    a = rng.integers(0, 256, (6, 4, 4, 1), dtype=np.uint8)
    b = rng.integers(0, 256, (6, 4, 4, 3), dtype=np.uint8)
    y = rng.normal(size=(6, 3))
    p = tmp_path / "pairs.npz"
    np.savez(p, **{"train/A": a[:4], "train/B": b[:4], "train/y": y[:4], "validation/A": a[4:],
                   "validation/B": b[4:], "validation/y": y[4:], "train/tags": (a[:4, 0, :, 0] > 99),
                   "validation/tags": (a[4:, 0, :, 0] > 99), "num_levels/A": 256})
    name = f"npz:{p}"
    info = data.dataset_info(name)
    assert info.splits == {"train": 4, "validation": 2} and info.version is None
    assert info.features == {"A": data.Feature.levels((4, 4, 1), 256), "B": data.Feature.levels((4, 4, 3), 256),
                             "y": data.Feature.continuous((3,)), "tags": data.Feature.levels((4,), 2)}
    with pytest.raises(data.DataError, match="no feature 'x'"):
        info.shape
    batch = next(iter(data.make_loader(name, "validation", batch_size=2, shuffle=False, num_epochs=1)))
    np.testing.assert_array_equal(batch["A"], a[4:])
    np.testing.assert_array_equal(batch["B"], b[4:])
    np.testing.assert_allclose(batch["y"], y[4:].astype(np.float32))
    assert batch["y"].dtype == np.float32 and batch["tags"].dtype == np.uint8
    only = data.load_arrays(name, "train", features=["B"])
    assert set(only) == {"B"}
    assert set(next(iter(data.make_loader(name, "train", batch_size=2, features=("A", "y"))))) == {"A", "y"}


def test_npz_kind_and_class_metadata_and_text(tmp_path):
    p = tmp_path / "meta.npz"
    np.savez(p, **{"train/x": np.zeros((3, 2), np.float32), "train/ids": np.array([7, 8, 9]),
                   "train/tokens": np.array([[1, 2], [0, 4], [3, 3]]), "num_classes/tokens": 5,
                   "train/steps": np.array([1, 2, 3]), "kind/steps": "continuous",
                   "train/caption": np.array(["a one", "a two", "a three"])})
    info = data.dataset_info(f"npz:{p}")
    assert info.features["ids"] == data.Feature.integer((), "int64")
    assert info.features["tokens"] == data.Feature.classes(5, (2,))
    assert info.features["steps"].kind == "continuous" and info.features["caption"].kind == "text"
    assert info.default_features() == ("x", "ids", "tokens", "steps")
    assert list(data.load_arrays(f"npz:{p}", "train")["caption"]) == ["a one", "a two", "a three"]
    assert set(next(iter(data.make_loader(f"npz:{p}", "train", batch_size=3)))) == set(info.default_features())


@pytest.mark.parametrize("arrays", [
    {"test/x": np.zeros((5, 8, 8), np.uint8), "test/label": np.arange(5)},
    {"x_test": np.zeros((5, 8, 8), np.uint8), "label_test": np.arange(5)},
])
def test_eval_only_npz_needs_only_its_test_split(tmp_path, arrays):
    p = tmp_path / "eval.npz"
    np.savez(p, **arrays)
    info = data.dataset_info(f"npz:{p}")
    assert info.splits == {"test": 5} and info.shape == (8, 8, 1) and info.num_classes == 5
    assert data.load_arrays(f"npz:{p}", "test")["label"].tolist() == [0, 1, 2, 3, 4]


def test_legacy_flat_npz_keeps_its_meaning(tmp_path):
    p = tmp_path / "flat.npz"
    np.savez(p, x=np.arange(24).reshape(3, 2, 4) % 17, label=[0, 1, 1], num_levels=17,
             x_test=np.zeros((2, 2, 4), np.int64), label_test=[1, 0], weight=np.ones(3), weight_test=np.ones(2))
    info = data.dataset_info(f"npz:{p}")
    assert info.splits == {"train": 3, "test": 2}
    assert info.features["x"] == data.Feature.levels((2, 4, 1), 17)
    assert info.num_classes == 2 and info.features["weight"].kind == "continuous"


@pytest.mark.parametrize("arrays,match", [
    ({"train/x": np.array([[0.0], [np.nan]])}, r"'npz:.*bad.npz', feature 'x', split 'train': example 1 holds a "
                                                r"non-finite value \(nan\)"),
    ({"x": np.zeros((3, 2, 2), np.uint8), "x_test": np.array([[[0, 0], [0, 20]]] * 2), "num_levels": 17},
     r"feature 'x', split 'test': example 0 holds a value outside the levels 0..16 \(20\)"),
    ({"x": np.zeros((3, 2), np.float32), "label": [0, 1, 2], "num_classes/label": 2},
     r"feature 'label', split 'train': example 2 holds a value outside the classes 0..1 \(2\)"),
    ({"x": np.zeros((3, 2), np.float32), "label": [0, -1, 2]},
     r"feature 'label', split 'train': example 1 holds a value outside the classes 0..2 \(-1\)"),
])
def test_npz_values_are_checked_at_load(tmp_path, arrays, match):
    p = tmp_path / "bad.npz"
    np.savez(p, **arrays)
    with pytest.raises(data.DataError, match=match):
        data.make_loader(f"npz:{p}", "train", batch_size=1)


@pytest.mark.parametrize("arrays,match", [
    ({"train/x": np.zeros((3, 2)), "y": np.zeros(3)}, "mixes '<split>/<feature>' keys"),
    ({"train/x": np.zeros((3, 2)), "test/y": np.zeros(3)}, "split 'train' has no feature 'y'"),
    ({"x": np.zeros((3, 2)), "num_levels/z": 3}, "metadata for feature.* z"),
    ({"x": np.zeros((3, 2)), "kind/x": "pixels"}, "kind/x"),
])
def test_npz_convention_errors(tmp_path, arrays, match):
    p = tmp_path / "bad.npz"
    np.savez(p, **arrays)
    with pytest.raises(data.DataError, match=match):
        data.dataset_info(f"npz:{p}")


def test_npz_object_array_names_the_file_and_key(tmp_path):
    p = tmp_path / "objects.npz"
    np.savez(p, x=np.zeros((2, 2)), meta=np.array([{"a": 1}, None], dtype=object))
    with pytest.raises(data.DataError, match=f"{p}: array 'meta' is an object array"):
        data.dataset_info(f"npz:{p}")


# ---------------------------------------------------------------------------- named features: folders


def _pairs(rng, n, shape_a=(6, 5), shape_b=(6, 5, 3)):
    return [(rng.integers(0, 256, shape_a, dtype=np.uint8), rng.integers(0, 256, shape_b, dtype=np.uint8))
            for _ in range(n)]


def test_paired_folders_match_files_by_name(tmp_path):
    rng = np.random.default_rng(7)
    root = tmp_path / "paired"
    truth = {}
    for split, n in (("train", 3), ("val", 2)):
        truth[split] = _pairs(rng, n)
        for i, (a, b) in enumerate(truth[split]):
            _save(root / split / "A" / f"{i:03d}.png", a)
            _save(root / split / "B" / f"{i:03d}.png", b)  # same name, any extension
    name = f"folder:{root}"
    info = data.dataset_info(name)
    assert info.splits == {"train": 3, "val": 2}
    assert info.features == {"A": data.Feature.levels((6, 5, 1), 256), "B": data.Feature.levels((6, 5, 3), 256)}
    for split, pairs in truth.items():
        arrays = data.load_arrays(name, split)
        np.testing.assert_array_equal(arrays["A"][..., 0], np.stack([a for a, _ in pairs]))
        np.testing.assert_array_equal(arrays["B"], np.stack([b for _, b in pairs]))
    # a stray file on one side is listed
    _save(root / "train" / "A" / "extra.png", truth["train"][0][0])
    (root / "train" / "B" / "000.png").rename(root / "train" / "B" / "zzz.png")
    with pytest.raises(data.DataError, match="only in A/: 000, extra; only in B/: zzz"):
        data.dataset_info(name)
    # layout=classes reads the same folders as two classes named A and B
    (root / "train" / "A" / "extra.png").unlink()
    (root / "train" / "B" / "zzz.png").unlink()
    (root / "train" / "A" / "000.png").unlink()
    info = data.dataset_info(f"folder:{root}?layout=classes")
    assert info.num_classes == 2 and info.shape == (6, 5, 3) and info.splits == {"train": 4, "val": 4}


def test_side_by_side_folders_are_split_in_two(tmp_path):
    rng = np.random.default_rng(8)
    root = tmp_path / "facades"
    truth = {}
    for split, n in (("train", 2), ("test", 1), ("validation", 1)):
        truth[split] = _pairs(rng, n, (4, 3, 3), (4, 3, 3))
        for i, (a, b) in enumerate(truth[split]):
            _save(root / split / f"{i}.png", np.concatenate([a, b], axis=1))
    name = f"folder:{root}?layout=side_by_side"
    info = data.dataset_info(name)
    assert info.splits == {"test": 1, "train": 2, "validation": 1}
    assert info.features["A"].shape == info.features["B"].shape == (4, 3, 3)
    arrays = data.load_arrays(name, "train")
    np.testing.assert_array_equal(arrays["A"], np.stack([a for a, _ in truth["train"]]))
    np.testing.assert_array_equal(arrays["B"], np.stack([b for _, b in truth["train"]]))
    # without the option, the same folder is today's unlabelled image folder
    assert data.dataset_info(f"folder:{root}").shape == (4, 6, 3)
    _save(root / "train" / "odd.png", np.zeros((4, 5, 3), np.uint8))
    with pytest.raises(data.DataShapeError, match="odd.png: a side-by-side image must have an even width, got 5"):
        data.dataset_info(name)


@pytest.mark.parametrize("query,match", [("?layout=diagonal", "unknown layout 'diagonal'"),
                                         ("?size=3", "unknown option.*size"),
                                         ("?layout=paired", "layout 'paired' needs exactly the sub-folders A/ and B/")])
def test_folder_query_errors(tmp_path, query, match):
    _save(tmp_path / "f" / "a.png", np.zeros((2, 2), np.uint8))
    with pytest.raises(data.DataError, match=match):
        data.dataset_info(f"folder:{tmp_path / 'f'}{query}")
