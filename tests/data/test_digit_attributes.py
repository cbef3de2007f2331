"""digit_attributes: thickness, slant, size and position against constructed images with known answers."""
import numpy as np
import pytest

from gen_jax.data import digit_attributes as da


def _bar(width, length, angle, n=49):
    """A straight bar (pixel centres within the rectangle) through the centre of an n x n image, its long
    axis at `angle` degrees from the x axis (y downwards)."""
    yy, xx = np.mgrid[:n, :n] - (n - 1) / 2
    t = np.deg2rad(angle)
    u, v = xx * np.cos(t) + yy * np.sin(t), -xx * np.sin(t) + yy * np.cos(t)
    return ((np.abs(u) <= length / 2 + 1e-9) & (np.abs(v) <= (width - 1) / 2 + 1e-9)).astype(np.float64)


def test_a_one_pixel_line_has_thickness_one_and_a_wider_bar_its_width():
    line = np.zeros((3, 20, 20))
    line[0, 5, 2:18] = 1.0    # a row
    line[1, 2:18, 7] = 1.0    # a column
    line[2, 3, 3:9] = 1.0     # two separate strokes: each component counts its own length
    line[2, 12, 3:15] = 1.0
    np.testing.assert_allclose(da.thickness(line), [1.0, 1.0, 1.0], atol=1e-12)
    diagonal = np.eye(16)[None]
    np.testing.assert_allclose(da.thickness(diagonal), 16 / (15 * np.sqrt(2) + 1))
    for angle in (0, 10, 20, 30, 45, 60, 75, 90):
        bars = np.stack([_bar(w, 32, angle) for w in (3, 5, 7)])
        width = bars.sum(axis=(1, 2)) / 33.0          # the rasterised width: area / length
        t = da.thickness(bars)
        assert np.all(np.diff(t) > 0), (angle, t)
        tol = 0.15 if angle in (0, 90) else 0.25
        np.testing.assert_array_less(np.abs(t / width - 1), tol)


def test_thickness_counts_grey_mass_and_ignores_the_batch():
    bar = _bar(5, 20, 30, n=33)
    grey = bar * 0.6                                   # still ink (>= 0.5): the same skeleton, 0.6 of the mass
    t = da.thickness(np.stack([bar, grey, np.zeros_like(bar)]))
    np.testing.assert_allclose(t[1], 0.6 * t[0])
    assert t[2] == 0.0
    assert da.thickness(bar[None])[0] == t[0]


@pytest.mark.parametrize("theta", [20.0, -35.0, 0.0])
def test_slant_of_a_sheared_line_is_its_angle(theta):
    """Row y holds unit mass centred exactly at x(y) = cx + tan(theta) (cy - y) (split linearly between two
    columns), so E[x | y] is that line and the moment slant is theta to float precision."""
    img = np.zeros((28, 28))
    cy, cx = 13.5, 13.0
    for y in range(4, 24):
        x = cx + np.tan(np.deg2rad(theta)) * (cy - y)
        x0 = int(np.floor(x))
        img[y, x0], img[y, x0 + 1] = 1 - (x - x0), x - x0
    np.testing.assert_allclose(da.slant(img[None]), [theta], atol=1e-9)
    # positive = the top leans right: the top half's centroid is right of the bottom half's
    if theta:
        top, bottom = da.centroid(img[None, :14])[0, 1], da.centroid(img[None, 14:])[0, 1]
        assert np.sign(top - bottom) == np.sign(theta)


def test_box_size_and_centroid_of_a_rectangle():
    img = np.zeros((2, 28, 28), np.uint8)
    img[0, 5:15, 8:12] = 255           # rows 5..14, columns 8..11
    img[0, 20, 20] = 100               # below the 50% ink threshold: weighs in the centroid, not in the box
    m = da.measure(img, max_value=255)
    np.testing.assert_array_equal(m["box"], [[5, 8, 14, 11], [-1, -1, -1, -1]])
    np.testing.assert_array_equal(m["height"], [10, 0])
    np.testing.assert_array_equal(m["width"], [4, 0])
    np.testing.assert_allclose(m["box_center"], [[9.5, 9.5], [13.5, 13.5]])
    w = 100 / 255
    np.testing.assert_allclose(m["centroid"][0], [(40 * 9.5 + w * 20) / (40 + w), (40 * 9.5 + w * 20) / (40 + w)])
    np.testing.assert_allclose(m["centroid"][1], [13.5, 13.5])   # blank: the image centre
    np.testing.assert_allclose(m["mass"], [40 + w, 0])
    np.testing.assert_allclose(m["area"], [40, 0])
    assert m["slant"][1] == 0.0 and m["thickness"][1] == 0.0
    img[0, 20, 20] = 0
    assert da.slant(img, max_value=255)[0] == 0.0       # an upright rectangle has no slant


def test_levels_and_scale():
    rng = np.random.default_rng(0)
    img = (rng.random((4, 16, 16)) > 0.7) * rng.integers(0, 17, (4, 16, 16))
    a = da.measure(img, max_value=16)
    b = da.measure(img[..., None] / 16.0)              # floats in [0, 1], with a channel axis
    for k in a:
        np.testing.assert_allclose(a[k], b[k])
    with pytest.raises(ValueError, match="max_value"):
        da.measure(img.astype(np.uint8))
    with pytest.raises(ValueError, match=r"\[N, H, W\]"):
        da.measure(np.zeros((16, 16)))
