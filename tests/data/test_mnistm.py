"""mnistm: |patch - digit| over bundled photos, stored photo and patch position, disjoint photo regions."""
import numpy as np

from gen_jax.data import _derived, mnistm
from tests.data.derived_checks import check_split_and_source


def test_photos_are_bundled_and_load_without_network(no_network):
    mnistm.photos.cache_clear()
    pics = mnistm.photos()
    assert not no_network
    assert len(pics) == len(mnistm.PHOTO_NAMES) == 7
    for p in pics:
        assert p.dtype == np.uint8 and p.ndim == 3 and p.shape[2] == 3 and min(p.shape[:2]) >= 256
    assert pics[0].shape == (256, 256, 3)  # astronaut 512x512, block mean of 2


def test_block_mean_rounds_half_up():
    img = np.array([[0, 1, 2, 3], [1, 2, 5, 5]], np.uint8)[..., None]
    np.testing.assert_array_equal(mnistm.block_mean(img, 2)[..., 0], [[1, 4]])  # means 1.0 and 3.75


def test_blend_is_the_absolute_difference_at_the_stored_patch(data_dir):
    splits = check_split_and_source("mnistm", data_dir)
    images, pics = _derived.source("mnist5k").images, mnistm.photos()
    for split, a in splits.items():
        for k in range(0, len(a["index"]), 97):  # ~50 examples: the definition, written out again
            (r, c), p = a["patch_position"][k], a["photo"][k]
            patch = pics[p][r:r + 28, c:c + 28].astype(int)
            np.testing.assert_array_equal(a["x"][k], np.abs(patch - images[a["index"][k]][..., None].astype(int)))
            # the stored parameters are the documented rule's
            photo, position = mnistm.draw_patch(a["index"][k], split)
            assert photo == p and tuple(position) == (r, c)
        # every patch lies inside one tile of its split: no photo pixel serves both splits
        corner = (a["patch_position"] // mnistm.TILE) * mnistm.TILE
        assert ((a["patch_position"] - corner) <= mnistm.TILE - mnistm.PATCH).all()
        tile = a["patch_position"] // mnistm.TILE
        assert (tile.sum(1) % 2 == ("train", "test").index(split)).all()
        # every photo is used, roughly uniformly
        counts = np.bincount(a["photo"], minlength=7)
        assert counts.min() > 0.6 * len(a["photo"]) / 7


def test_tiles_alternate_like_a_chessboard():
    train, test = mnistm.tiles(0, "train"), mnistm.tiles(0, "test")
    assert len(train) == len(test) == 8  # astronaut 256x256: 4x4 tiles of 56
    assert not set(map(tuple, train)) & set(map(tuple, test))
    assert (train // 56).sum(1).max() % 2 == 0 and ((test // 56).sum(1) % 2 == 1).all()
