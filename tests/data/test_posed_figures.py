"""posed_figures: stick figures in two poses; the stored pairs follow the rule, the target is the person redrawn
in the target pose, persons are disjoint between the splits, the renderer by hand."""
import numpy as np
import pytest

from gen_jax import data
from gen_jax.data import posed_figures as pf


def test_renderer_by_hand():
    # distance to a segment: inside its span the perpendicular distance, beyond it the distance to an end
    a, b = np.array([0.0, 0.0]), np.array([0.0, 4.0])
    np.testing.assert_allclose(pf.segment_distance(np.array([[3.0, 2.0], [0.0, 7.0], [-1.0, -1.0]]), a, b),
                               [3.0, 3.0, np.sqrt(2.0)])
    kp = np.tile(np.array([[16.0, 16.0]]), (11, 1))
    kp[[2, 7, 8, 9, 10]] = [16.0, 26.0]                    # one horizontal limb neck -> pelvis, row 16, cols 16..26
    kp[0] = [4.0, 4.0]                                     # the head elsewhere
    pal = pf.PALETTE[:4]
    img, sil = pf.render(kp, 2.0, pal, pf.BACKGROUNDS[0])
    # the torso capsule of width 2 covers rows 15, 16 (centres 15.5, 16.5 are 0.5 from row 16); the arms and
    # legs (zero-length limbs at its ends, painted later) cover its two ends
    assert (img[15:17, 17:25] == pal[1]).all() and (img[15:17, 15:17] == pal[2]).all()
    assert (img[15:17, 25:27] == pal[3]).all() and (img[14, 16:26] == 0).all() and (img[17, 16:26] == 0).all()
    r, c = np.nonzero(np.linalg.norm(pf.pixel_centres() - kp[0], axis=-1) <= pf.HEAD_RADIUS)
    assert (img[r, c] == pal[0]).all() and len(r) == 16   # radius 2.5 about a pixel corner: the 4x4 block (0.5, 2.5 is 2.55 away)
    np.testing.assert_array_equal(sil, (img != 0).any(-1))


@pytest.mark.usefixtures("no_network")
def test_stored_pairs_follow_the_rule(data_dir):
    info = data.dataset_info("posed_figures", data_dir=data_dir)
    assert info.splits == {"train": 4000, "test": 400}
    a = data.load_arrays("posed_figures", "test", data_dir=data_dir)
    np.testing.assert_array_equal(a["person"], np.repeat(np.arange(2000, 2200), 2))
    train_persons = data.load_arrays("posed_figures", "train[:40]", data_dir=data_dir)["person"]
    assert train_persons.max() < 2000                      # no test person in training
    for k in (0, 1, 77, 399):
        p = pf.person(int(a["person"][k]))
        src, tgt = (0, 1) if k % 2 == 0 else (1, 0)
        np.testing.assert_array_equal(a["condition_keypoints"][k], p["poses"][src])
        np.testing.assert_array_equal(a["target_keypoints"][k], p["poses"][tgt])
        img, sil = pf.render(p["poses"][tgt], p["width"], p["palette"], p["background"])
        np.testing.assert_array_equal(a["target"][k], img)
        np.testing.assert_array_equal(a["target_silhouette"][k], sil)
        np.testing.assert_array_equal(a["palette"][k], p["palette"])
    # the pair of a person is its two poses in both orders; the figure is a person-sized part of the image
    np.testing.assert_array_equal(a["condition"][0::2], a["target"][1::2])
    assert not np.array_equal(a["condition"][0], a["target"][0])
    fill = a["target_silhouette"].reshape(400, -1).mean(1)
    assert fill.min() > 0.04 and fill.max() < 0.3
    # every keypoint is inside the image and the four part colours of a person are distinct
    assert a["target_keypoints"].min() >= 1 and a["target_keypoints"].max() <= 31
    assert all(len({tuple(c) for c in pal}) == 4 for pal in a["palette"])
