"""dressed_digits: the source is the documented blend of the stored photo patch and the digit worn at the stored
size and place; the target x is the same mnist5k digit clean and centred; no photo pixel serves both splits."""
import numpy as np

from gen_jax.data import _derived, mnistm
from gen_jax.data import dressed_digits as dd
from gen_jax.data.pasted_digits import area_resize
from tests.data.derived_checks import check_split_and_source


def test_source_is_the_documented_blend_and_x_its_digit(data_dir):
    splits = check_split_and_source("dressed_digits", data_dir)
    pics, digits = mnistm.photos(), _derived.source("mnist5k").images
    for split, a in splits.items():
        for k in range(0, len(a["index"]), 97):
            photo, pos, size, at = dd.draw(a["index"][k], split)
            assert photo == a["photo"][k] and tuple(pos) == tuple(a["patch_position"][k])
            assert size == a["digit_size"][k] and tuple(at) == tuple(a["digit_position"][k])
            digit = digits[a["index"][k]]
            target = np.zeros((32, 32), np.uint8)
            target[2:30, 2:30] = digit                                   # the associated target: centred
            np.testing.assert_array_equal(a["x"][k, ..., 0], target)
            worn = np.zeros((32, 32), np.int16)
            worn[at[0]:at[0] + size, at[1]:at[1] + size] = area_resize(digit[None], size)[0]
            r, c = pos
            patch = pics[photo][r:r + 32, c:c + 32].astype(np.int16)
            np.testing.assert_array_equal(a["source"][k], np.abs(patch - worn[..., None]))
        assert a["digit_size"].min() >= 18 and a["digit_size"].max() <= 26
        off = a["digit_position"] - (32 - a["digit_size"][:, None]) // 2
        assert np.abs(off).max() == 3                         # within 3 pixels of the centre, all offsets used
        assert (a["digit_position"] + a["digit_size"][:, None] <= 32).all() and (a["digit_position"] >= 0).all()
        tile = a["patch_position"] // mnistm.TILE
        assert ((a["patch_position"] - tile * mnistm.TILE) <= mnistm.TILE - 32).all()
        assert (tile.sum(1) % 2 == ("train", "test").index(split)).all()
