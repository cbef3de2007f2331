"""Sub-pixel convolution (Shi et al. 2016): the periodic shuffle is the inverse of space-to-depth, and its
layout is the one text2image's generator has always used (it is the same function)."""
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax.nn.subpixel import pixel_shuffle, space_to_depth
from gen_jax.text2image import models as t2i


@pytest.mark.parametrize("r", [2, 3])
def test_pixel_shuffle_is_the_inverse_of_space_to_depth(r):
    x = np.random.default_rng(0).normal(size=(2, 3 * r, 5 * r, 4)).astype(np.float32)
    np.testing.assert_array_equal(pixel_shuffle(space_to_depth(x, r), r), x)
    y = np.random.default_rng(1).normal(size=(2, 3, 5, 4 * r * r)).astype(np.float32)
    np.testing.assert_array_equal(space_to_depth(pixel_shuffle(y, r), r), y)


def test_space_to_depth_places_each_sub_pixel_in_its_channel_block():
    x = jnp.arange(1 * 4 * 6 * 2, dtype=jnp.float32).reshape(1, 4, 6, 2)   # C = 2, r = 2
    d = np.asarray(space_to_depth(x, 2))
    assert d.shape == (1, 2, 3, 8)
    for h in range(2):
        for w in range(3):
            for i in range(2):
                for j in range(2):
                    np.testing.assert_array_equal(d[0, h, w, (2 * i + j) * 2:(2 * i + j + 1) * 2],
                                                  np.asarray(x)[0, 2 * h + i, 2 * w + j])


def test_text2image_uses_the_shared_function():
    assert t2i.pixel_shuffle is pixel_shuffle


def test_bad_shapes_are_named():
    with pytest.raises(ValueError, match="not divisible by r"):
        pixel_shuffle(jnp.zeros((1, 2, 2, 6)), 2)
    with pytest.raises(ValueError, match="not a multiple of r"):
        space_to_depth(jnp.zeros((1, 5, 4, 1)), 2)
