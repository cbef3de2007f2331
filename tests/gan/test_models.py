"""GAN networks: spectral norm bounds the Lipschitz constant, packing, DCGAN sizing."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax.gan.losses import per_example_input_grads
from gen_jax.gan.models import (DCGANDiscriminator, DCGANGenerator, MLPDiscriminator, dcgan_num_upsamples,
                                pack)


def _scaled(params, s):
    return jax.tree.map(lambda p: p * s, params)


def test_spectral_norm_makes_the_discriminator_1_lipschitz():
    x = jax.random.normal(jax.random.PRNGKey(0), (32, 6))
    results = {}
    for sn in (False, True):
        d = MLPDiscriminator(features=(32, 32), spectral_norm=sn)
        v = d.init(jax.random.PRNGKey(1), x, train=False)
        params = _scaled(v["params"], 5.0)   # large weights: far from 1-Lipschitz without normalisation
        stats = {k: c for k, c in v.items() if k != "params"}
        if stats:                            # power iteration runs once per training call
            update = jax.jit(lambda st: d.apply({"params": params, **st}, x, train=True,
                                                mutable=["batch_stats"])[1])
            for _ in range(30):
                stats = update(stats)
        critic = lambda t: d.apply({"params": params, **stats}, t, train=False)
        g = jax.jit(per_example_input_grads, static_argnums=0)(critic, x)
        results[sn] = np.asarray(jnp.linalg.norm(g, axis=-1))
        if sn:  # the stored sigma is the largest singular value of the raw kernel
            sn_stats = stats["batch_stats"]["_MaybeSN_0"]["SpectralNorm_0"]
            kernel = params["Dense_0"]["kernel"]
            sigma = float(sn_stats["Dense_0/kernel/sigma"])
            assert sigma == pytest.approx(float(np.linalg.svd(np.asarray(kernel), compute_uv=False)[0]), rel=1e-3)
    assert results[True].max() <= 1.0 + 1e-3     # LeakyReLU(0.2) and unit-spectral-norm layers
    assert results[False].max() > 10.0


def test_pack_concatenates_consecutive_examples():
    x = jnp.arange(6 * 2.0).reshape(6, 2)
    np.testing.assert_array_equal(pack(x, 3), [[0, 1, 2, 3, 4, 5], [6, 7, 8, 9, 10, 11]])
    imgs = jax.random.normal(jax.random.PRNGKey(0), (4, 3, 3, 2))
    p = pack(imgs, 2)
    assert p.shape == (2, 3, 3, 4)
    np.testing.assert_array_equal(p[1, ..., :2], imgs[2])   # channels of example 2j, then of example 2j + 1
    np.testing.assert_array_equal(p[1, ..., 2:], imgs[3])
    with pytest.raises(ValueError, match="not divisible"):
        pack(x[:5], 2)


@pytest.mark.parametrize("size, n", [(8, 2), (28, 2), (32, 3)])
def test_dcgan_is_sized_by_image_size(size, n):
    assert dcgan_num_upsamples(size) == n
    g = DCGANGenerator(image_size=size, channels=3, features=4)
    z = jnp.ones((2, 3))
    # shapes only, traced without running (jax.eval_shape): the architecture must fit each image size
    x = jax.eval_shape(lambda: g.apply(g.init(jax.random.PRNGKey(0), z), z, train=False))
    assert x.shape == (2, size, size, 3)
    d = DCGANDiscriminator(image_size=size, features=4)
    xs = jnp.zeros(x.shape)
    logits = jax.eval_shape(lambda: d.apply(d.init(jax.random.PRNGKey(1), xs, train=False), xs, train=False))
    assert logits.shape == (2,)


def test_conditional_players_use_the_label():
    g = DCGANGenerator(image_size=8, channels=1, features=4, num_classes=10, conditioning="embed")
    z = jnp.ones((2, 3))
    v = g.init(jax.random.PRNGKey(0), z, jnp.array([0, 1]), train=False)
    out = jax.jit(lambda v: g.apply(v, z, jnp.array([0, 1]), train=False))(v)
    assert float(jnp.abs(out[0] - out[1]).max()) > 1e-4        # same z, different class -> different image
    d = MLPDiscriminator(features=(8,), num_classes=10, conditioning="projection")
    x = jnp.ones((2, 4))
    vd = d.init(jax.random.PRNGKey(1), x, jnp.array([0, 0]))
    apply = jax.jit(lambda y: d.apply(vd, x, y))
    a, b = apply(jnp.array([3, 3])), apply(jnp.array([3, 7]))
    assert float(a[0]) == float(b[0]) and float(a[1]) != float(b[1])
    with pytest.raises(ValueError, match="pass labels"):
        g.apply(v, z, None, train=False)
