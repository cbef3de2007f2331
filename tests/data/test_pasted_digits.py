"""pasted_digits: the same digit small (area-averaged to 10x10) and large in 32x32 canvases at stored places."""
import numpy as np

from gen_jax.data import _derived, pasted_digits as pd
from tests.data.derived_checks import check_split_and_source


def test_area_resize_is_exact_area_averaging():
    a = pd.area_matrix(28, 10)
    np.testing.assert_allclose(a.sum(axis=1), 1.0)
    np.testing.assert_allclose(a.sum(axis=0), 10 / 28)            # every input pixel is used once in total
    np.testing.assert_allclose(a[0, :3], [1 / 2.8, 1 / 2.8, 0.8 / 2.8])  # cell 0 covers [0, 2.8)
    np.testing.assert_array_equal(pd.area_resize(np.full((1, 28, 28), 200, np.uint8), 10), 200)
    np.testing.assert_array_equal(pd.area_resize(np.arange(16, dtype=np.uint8).reshape(1, 4, 4) * 10, 2),
                                  [[[25, 45], [105, 125]]])        # 2x2 block means
    rng = np.random.default_rng(0)
    img = rng.integers(0, 256, (3, 28, 28)).astype(np.uint8)
    small = pd.area_resize(img, 10).astype(float)
    np.testing.assert_allclose(small.sum(axis=(1, 2)) * 2.8 ** 2, img.sum(axis=(1, 2)), rtol=0.01)  # mass kept


def test_small_and_large_hold_the_same_digit_at_the_stored_positions(data_dir):
    splits = check_split_and_source("pasted_digits", data_dir)
    images = _derived.source("mnist5k").images
    for a in splits.values():
        for k in range(0, len(a["index"]), 29):
            src = images[a["index"][k]]
            (sr, sc), (lr, lc) = a["small_position"][k], a["large_position"][k]
            small, large = a["small"][k, :, :, 0], a["large"][k, :, :, 0]
            np.testing.assert_array_equal(small[sr:sr + 10, sc:sc + 10], pd.area_resize(src[None], 10)[0])
            np.testing.assert_array_equal(large[lr:lr + 28, lc:lc + 28], src)
            assert small.sum() == small[sr:sr + 10, sc:sc + 10].sum() and large.sum() == src.sum()
            s, g = pd.positions(a["index"][k])
            assert tuple(s) == (sr, sc) and tuple(g) == (lr, lc)
        assert a["small_position"].min() == 0 and a["small_position"].max() == 22
        assert a["large_position"].min() == 0 and a["large_position"].max() == 4
