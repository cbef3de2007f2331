"""The history pool (Shrivastava et al. 2017; Zhu et al. 2017): filling, the probability-1/2 rule, uniform
slots, conservation of images, determinism for a key; and the networks by config."""
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from gen_jax.translation import models


def _images(values):
    return jnp.asarray(values, jnp.float32).reshape(-1, 1, 1, 1)


def test_pool_stores_and_returns_images_until_full():
    pool = models.pool_init(4, (1, 1, 1))
    pool, out = models.pool_query(jax.random.PRNGKey(0), pool, _images([1, 2, 3]))
    np.testing.assert_array_equal(out.ravel(), [1, 2, 3])
    assert int(pool["count"]) == 3
    np.testing.assert_array_equal(pool["images"].ravel(), [1, 2, 3, 0])
    pool, out = models.pool_query(jax.random.PRNGKey(1), pool, _images([4]))
    np.testing.assert_array_equal(out.ravel(), [4])
    np.testing.assert_array_equal(pool["images"].ravel(), [1, 2, 3, 4])
    assert int(pool["count"]) == 4


def test_full_pool_returns_a_stored_image_with_probability_half_and_replaces_it():
    size, n = 50, 4000
    pool = {"images": _images(np.arange(size)), "count": jnp.asarray(size, jnp.int32)}
    new = _images(1000 + np.arange(n))
    before = np.asarray(pool["images"]).ravel()
    after_pool, out = jax.jit(models.pool_query)(jax.random.PRNGKey(3), pool, new)
    out, after = np.asarray(out).ravel(), np.asarray(after_pool["images"]).ravel()
    from_pool = out != 1000 + np.arange(n)
    # Bernoulli(1/2) per image: 4000 draws, standard deviation 0.008
    assert abs(from_pool.mean() - 0.5) < 0.03
    # conservation: every image (stored or new) ends up either returned or in the pool, exactly once
    np.testing.assert_array_equal(np.sort(np.concatenate([out, after])),
                                  np.sort(np.concatenate([before, 1000 + np.arange(n)])))
    # a returned stored image was an image of the pool or an earlier input it replaced, never a later one
    assert np.all(out[from_pool] < (1000 + np.arange(n))[from_pool])
    # the slots chosen are uniform: the 50 original images are all returned about equally often
    originals = out[from_pool & (out < size)]
    assert len(np.unique(originals)) >= 45


def test_pool_is_deterministic_for_a_key_and_size_zero_is_no_pool():
    pool = {"images": _images(np.arange(10)), "count": jnp.asarray(10, jnp.int32)}
    new = _images(100 + np.arange(20))
    a = models.pool_query(jax.random.PRNGKey(7), pool, new)
    b = models.pool_query(jax.random.PRNGKey(7), pool, new)
    c = models.pool_query(jax.random.PRNGKey(8), pool, new)
    assert jax.tree.all(jax.tree.map(np.array_equal, a, b))
    assert not np.array_equal(a[1], c[1])
    empty = models.pool_init(0, (1, 1, 1))
    np.testing.assert_array_equal(models.pool_query(jax.random.PRNGKey(0), empty, new)[1], new)
    with pytest.raises(ValueError, match="do not match the pool"):
        models.pool_query(jax.random.PRNGKey(0), pool, jnp.zeros((2, 2, 2, 1)))


def test_networks_by_config_and_bad_names():
    g = models.build_generator(ml_collections.ConfigDict(dict(arch="encoder_decoder", features=4, num_downs=2)), 3)
    assert not g.skips and g.dropout_rate == 0.0
    d = models.build_discriminator(ml_collections.ConfigDict(dict(receptive_field=70)))
    assert d.num_layers == 3
    with pytest.raises(ValueError, match="unknown generator.arch 'vgg'"):
        models.build_generator(ml_collections.ConfigDict(dict(arch="vgg")), 1)
    with pytest.raises(ValueError, match="no PatchGAN has a 30x30"):
        models.build_discriminator(ml_collections.ConfigDict(dict(receptive_field=30)))
