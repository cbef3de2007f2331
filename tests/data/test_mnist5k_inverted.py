"""mnist5k_inverted: x -> 255 - x of every mnist5k row, the same split."""
import numpy as np

from gen_jax import data
from tests.data.derived_checks import check_split_and_source


def test_inversion_is_exact_row_by_row(data_dir):
    splits = check_split_and_source("mnist5k_inverted", data_dir)
    for split, a in splits.items():
        src = data.load_arrays("mnist5k", split, data_dir=data_dir)
        np.testing.assert_array_equal(a["index"], src["index"])
        np.testing.assert_array_equal(a["x"].astype(np.int64), 255 - src["x"].astype(np.int64))
