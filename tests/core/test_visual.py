"""gen_jax/core/visual.py: the density image of a 2-D point cloud."""
import jax.numpy as jnp
import numpy as np

from gen_jax.core.visual import points_image


def test_points_image_places_log_scaled_counts_with_y_up_and_clips_outliers():
    # Square [0, 4]^2 on 4 x 4 pixels: (0.5, 0.5) is the bottom-left pixel, (3.5, 3.5) the top-right one.
    pts = jnp.array([[0.5, 0.5], [0.5, 0.5], [0.5, 0.5], [3.5, 3.5], [9.0, -9.0]])
    img = np.asarray(points_image(pts, 0.0, 4.0, size=4))
    assert img.shape == (1, 4, 4, 1)
    img = img[0, :, :, 0]
    assert img[3, 0] == 0.0                                         # the fullest pixel is black
    np.testing.assert_allclose(img[0, 3], 1.0 - np.log(2.0) / np.log(4.0), rtol=1e-6)
    np.testing.assert_allclose(img[3, 3], img[0, 3])               # (9, -9) clipped to the bottom-right pixel
    assert np.sum(img < 1.0) == 3                                   # everything else stays white
