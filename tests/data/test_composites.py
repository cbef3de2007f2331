"""composites: the copy-paste composite is the documented rule over the stored photo patch, shift and region;
the ground truth is the photo patch; no photo pixel serves both splits."""
import numpy as np

from gen_jax.data import _derived, composites, mnistm
from tests.data.derived_checks import check_split_and_source


def test_composite_is_the_documented_paste(data_dir):
    splits = check_split_and_source("composites", data_dir)
    pics, digits = mnistm.photos(), _derived.source("mnist5k").images
    for split, a in splits.items():
        for k in range(0, len(a["index"]), 101):
            photo, pos, shift = composites.draw(a["index"][k], split)
            assert photo == a["photo"][k] and tuple(pos) == tuple(a["patch_position"][k])
            np.testing.assert_array_equal(shift, a["shift"][k])
            r, c = pos
            np.testing.assert_array_equal(a["target"][k], pics[photo][r:r + 32, c:c + 32])
            src = np.clip(np.round(a["target"][k] * (shift[:3] / 100.0) + shift[3:]), 0, 255)
            np.testing.assert_array_equal(a["source"][k], src)
            region = a["region"][k, ..., 0]
            assert region.sum() > 20 and region[0].sum() == 0
            # the digit's pixels >= 128 lie inside the region (it is their 3x3 dilation)
            assert (region[2:30, 2:30][digits[a["index"][k]] >= 128] == 1).all()
            np.testing.assert_array_equal(a["composite"][k], np.where(region[..., None] == 1, a["source"][k],
                                                                      a["target"][k]))
        tile = a["patch_position"] // mnistm.TILE
        assert ((a["patch_position"] - tile * mnistm.TILE) <= mnistm.TILE - 32).all()
        assert (tile.sum(1) % 2 == ("train", "test").index(split)).all()
