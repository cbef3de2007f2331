"""photo_patches / photo_whole: deterministic crops at the stored positions of the stated photos, the LR image
the documented bicubic x4 of the HR one, shapes and ranges as stated, train and test photos disjoint."""
import numpy as np

from gen_jax import data
from gen_jax.data import fingerprints, registry
from gen_jax.data import photo_patches as pp


def test_crops_are_the_documented_rule(data_dir):
    info = data.dataset_info("photo_patches", data_dir=data_dir)
    assert info.splits == pp.NUM_EXAMPLES
    assert registry._embedded_builder("photo_patches", data_dir).info.full_name in fingerprints.stored()  # pylint: disable=protected-access
    pics = pp.photos()
    seen = {}
    for split in ("train", "test"):
        a = data.load_arrays("photo_patches", split, data_dir=data_dir)
        n = pp.NUM_EXAMPLES[split]
        assert a["hr"].shape == (n, 32, 32, 3) and a["lr"].shape == (n, 8, 8, 3) and a["hr"].dtype == np.uint8
        np.testing.assert_array_equal(a["index"], np.arange(n))
        names = pp.TRAIN_PHOTOS if split == "train" else pp.TEST_PHOTOS
        seen[split] = {pp.PHOTO_NAMES[p] for p in np.unique(a["photo"])}
        assert seen[split] == set(names)                     # every photo of the split is used, only those
        for i in range(0, n, 211):
            photo, pos = pp.draw_crop(split, i)
            assert photo == a["photo"][i] and tuple(pos) == tuple(a["position"][i])
            r, c = pos
            np.testing.assert_array_equal(a["hr"][i], pics[photo][r:r + 32, c:c + 32])
            np.testing.assert_array_equal(a["lr"][i], pp.bicubic_down(a["hr"][i], 4))
        h = np.array([pics[p].shape[0] for p in a["photo"]])
        w = np.array([pics[p].shape[1] for p in a["photo"]])
        assert (a["position"] >= 0).all() and (a["position"][:, 0] + 32 <= h).all() and (a["position"][:, 1] + 32 <= w).all()
    assert not seen["train"] & seen["test"]
    # the LR image is the HR one reduced: their means agree within a few levels
    a = data.load_arrays("photo_patches", "test", data_dir=data_dir)
    assert np.abs(a["lr"].mean((1, 2)) - a["hr"].mean((1, 2))).max() < 8


def test_whole_images_are_the_held_out_photos(data_dir):
    info = data.dataset_info("photo_whole", data_dir=data_dir)
    assert info.splits == {"test": 3}
    a = data.load_arrays("photo_whole", "test", data_dir=data_dir)
    assert a["hr"].shape == (3, 128, 192, 3) and a["lr"].shape == (3, 32, 48, 3)
    assert [pp.PHOTO_NAMES[p] for p in a["photo"]] == list(pp.TEST_PHOTOS)
    pics = pp.photos()
    for k, p in enumerate(a["photo"]):
        np.testing.assert_array_equal(a["hr"][k], pics[p])
        np.testing.assert_array_equal(a["lr"][k], pp.bicubic_down(pics[p], 4))


def test_bicubic_down_checks_its_factor():
    import pytest

    with pytest.raises(ValueError, match="not a multiple"):
        pp.bicubic_down(np.zeros((10, 12, 3), np.uint8), 4)
    flat = np.full((16, 16, 3), 77, np.uint8)
    np.testing.assert_array_equal(pp.bicubic_down(flat, 4), np.full((4, 4, 3), 77, np.uint8))
