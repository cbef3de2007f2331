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
