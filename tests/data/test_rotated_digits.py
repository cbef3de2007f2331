"""rotated_digits: counter-clockwise bilinear rotations by the stored angle, paired with the upright digit."""
import numpy as np
from scipy import ndimage

from gen_jax.data import _derived, digit_attributes, rotated_digits as rd
from tests.data.derived_checks import check_split_and_source


def test_rotation_is_bilinear_about_the_centre_and_counter_clockwise():
    rng = np.random.default_rng(1)
    images = rng.integers(0, 256, (6, 28, 28)).astype(np.uint8)
    np.testing.assert_array_equal(rd.rotate(images, 0), images)            # angle 0 is the identity
    c = np.array([13.5, 13.5])
    for angle in (15, -60, 45):                                             # scipy as the oracle
        m = rd._matrix(-angle)  # pylint: disable=protected-access
        ref = np.stack([ndimage.affine_transform(x.astype(float), m, offset=c - m @ c, order=1,
                                                 mode="grid-constant") for x in images])
        diff = np.abs(np.clip(np.round(ref), 0, 255) - rd.rotate(images, angle))
        assert diff.max() <= 1 and (diff > 0).mean() < 1e-3                 # ties of rounding only
    # counter-clockwise: an upright bar leans left (negative slant) by the angle
    bar = np.zeros((1, 28, 28), np.uint8)
    bar[0, 4:24, 13:15] = 255
    slants = np.array([digit_attributes.slant(rd.rotate(bar, a), 255)[0] for a in rd.ANGLES])
    np.testing.assert_allclose(slants, -np.asarray(rd.ANGLES, float), atol=1.5)
    # a bright point lands where rotate_points says
    dot = np.zeros((1, 28, 28), np.uint8)
    dot[0, 5, 20] = 255
    for a in (30, -45):
        np.testing.assert_allclose(digit_attributes.centroid(rd.rotate(dot, a), 255)[0],
                                   rd.rotate_points([5, 20], a), atol=0.1)


def test_the_dataset_stores_the_angle_it_applied(data_dir):
    splits = check_split_and_source("rotated_digits", data_dir, per_row=len(rd.ANGLES))
    images = _derived.source("mnist5k").images
    k = len(rd.ANGLES)
    for a in splits.values():
        n = len(a["index"]) // k
        np.testing.assert_array_equal(a["angle"], np.tile(np.arange(k), n))
        np.testing.assert_array_equal(a["angle_degrees"], np.asarray(rd.ANGLES, np.float32)[a["angle"]])
        np.testing.assert_array_equal(a["target"][..., 0], images[a["index"]])
        np.testing.assert_array_equal(a["x"][a["angle"] == rd.ANGLES.index(0)], a["target"][a["angle"] == 4])
        pick = np.arange(0, len(a["index"]), 37)                             # ~1,200 examples: the rule again
        for j in pick[:300]:
            np.testing.assert_array_equal(a["x"][j, :, :, 0],
                                          rd.rotate(images[a["index"][j]][None], a["angle_degrees"][j])[0])
        # the ink's second moments turn with the stored angle, cov(x) = R cov(target) R^T, up to interpolation
        # and the ink that leaves the frame (median relative error 0.7%)
        for j in range(k):
            sel = a["angle"] == j
            cx, ct = _cov(a["x"][sel]), _cov(a["target"][sel])
            r = rd._matrix(rd.ANGLES[j])  # pylint: disable=protected-access
            want = r @ ct @ r.T
            err = np.linalg.norm(cx - want, axis=(1, 2)) / np.linalg.norm(want, axis=(1, 2))
            assert np.median(err) < 0.015 and np.percentile(err, 95) < 0.03, (rd.ANGLES[j], np.median(err))


def _cov(images):
    """[N, 2, 2]: the ink-weighted covariance of (row, column) positions of [N, 28, 28, 1] images."""
    w = images.reshape(len(images), -1).astype(float)
    w /= w.sum(axis=1, keepdims=True)
    p = np.stack(np.meshgrid(np.arange(28.0), np.arange(28.0), indexing="ij"), -1).reshape(-1, 2)
    d = p[None] - (w @ p)[:, None]
    return np.einsum("ni,nia,nib->nab", w, d, d)
