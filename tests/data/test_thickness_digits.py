"""thickness_digits: each mnist5k digit redrawn from its skeleton at 4 radii; monotone measured thickness."""
import numpy as np

from gen_jax.data import _derived, digit_attributes, thickness_digits as td
from tests.data.derived_checks import check_split_and_source


def test_render_draws_the_skeleton_with_an_antialiased_profile():
    img = np.zeros((1, 15, 15), np.uint8)
    img[0, 6:9, 2:13] = 255                  # a 3-pixel bar: its skeleton is the middle row 7
    skel = digit_attributes.skeleton(img, 255)[0]
    assert skel[7, 4:11].all() and not skel[[6, 8], 4:11].any()  # (its ends may branch to the corners)
    for r in td.RADII:
        out = td.render(img, r)[0].astype(int)
        # across the stroke, at a column the skeleton covers: 255 clip(r + 0.5 - |dy|, 0, 1)
        col = out[:, 7]
        want = np.round(255 * np.clip(r + 0.5 - np.abs(np.arange(15) - 7), 0, 1))
        np.testing.assert_array_equal(col, want)


def test_levels_are_the_rendering_and_monotone_in_measured_thickness(data_dir):
    splits = check_split_and_source("thickness_digits", data_dir, per_row=td.NUM_LEVELS)
    images = _derived.source("mnist5k").images
    for a in splits.values():
        np.testing.assert_array_equal(a["thickness_level"], np.tile(np.arange(4), len(a["index"]) // 4))
        rows = a["index"][::4][::40]         # 125 rows: the rule, rendered again
        for level, r in enumerate(td.RADII):
            np.testing.assert_array_equal(a["x"][a["thickness_level"] == level][::40][..., 0],
                                          td.render(images[rows], r))
        np.testing.assert_allclose(a["thickness"][:400], digit_attributes.thickness(a["x"][:400], 255), rtol=1e-6)
        t = a["thickness"].reshape(-1, 4)
        monotone = (np.diff(t, axis=1) > 0).all(axis=1)
        assert monotone.mean() >= 0.999, monotone.mean()
        # the levels span the real strokes' range (mnist5k: median 2.4 pixels)
        medians = np.median(t, axis=0)
        assert medians[0] < 1.5 and 2.0 < medians[1] < 2.6 and medians[3] > 4.0
