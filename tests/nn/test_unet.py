"""The U-Net's building blocks checked for the properties that define them, and a tiny fit."""
import chex
import jax
import jax.numpy as jnp
import numpy as np
import optax
from jax.flatten_util import ravel_pytree
import pytest

from gen_jax.diffusion.models import init_params
from gen_jax.nn.unet import AttnBlock, ResBlock, UNet


def _perturb(params, key, scale=0.1):
    """Adds N(0, scale^2) noise to every parameter (one random draw: cheap to compile)."""
    flat, unravel = ravel_pytree(params)
    return unravel(flat + scale * jax.random.normal(key, flat.shape))


def test_attention_is_permutation_equivariant_over_pixels():
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 4, 4, 16))
    m = AttnBlock(num_heads=2)
    p = _perturb(jax.jit(m.init)(jax.random.PRNGKey(1), x), jax.random.PRNGKey(2))
    perm = jax.random.permutation(jax.random.PRNGKey(3), 16)
    flat = lambda a: a.reshape(2, 16, 16)  # noqa: E731
    apply = jax.jit(m.apply)
    y = flat(apply(p, x))
    y_perm = flat(apply(p, flat(x)[:, perm].reshape(x.shape)))
    chex.assert_trees_all_close(y_perm, y[:, perm], atol=1e-5)
    # a convolution is not: the same check fails for a residual block
    r = ResBlock(16)
    emb = jnp.zeros((2, 8))
    pr = _perturb(jax.jit(r.init)(jax.random.PRNGKey(1), x, emb), jax.random.PRNGKey(2))
    rapply = jax.jit(r.apply)
    z = flat(rapply(pr, x, emb))
    z_perm = flat(rapply(pr, flat(x)[:, perm].reshape(x.shape), emb))
    assert float(jnp.abs(z_perm - z[:, perm]).max()) > 1e-2


@pytest.fixture(scope="module")
def cond_unet():
    """One small class-conditional U-Net, initialised once for the module (U-Net compiles are the slow part)."""
    m = UNet(ch=8, ch_mult=(1, 2), attn_resolutions=(4,), num_classes=10)
    x = jnp.zeros((8, 8, 8, 1))
    t = jnp.zeros((8,), jnp.int32)
    return m, init_params(m, jax.random.PRNGKey(1), x, t, t)


def test_fresh_unet_predicts_zero_and_depends_on_time_and_class(cond_unet):
    m, p = cond_unet
    x = jax.random.normal(jax.random.PRNGKey(0), (8, 8, 8, 1))
    t = jnp.array([0, 10, 100, 999, 5, 50, 500, 7])
    y = jnp.array([0, 3, 9, 10, 1, 2, 4, 5])
    apply = jax.jit(m.apply)
    np.testing.assert_array_equal(np.asarray(apply(p, x, t, y)), 0.0)   # zero-initialised output conv
    p = _perturb(p, jax.random.PRNGKey(2))
    base = apply(p, x, t, y)
    assert float(jnp.abs(apply(p, x, t + 1, y) - base).max()) > 1e-4
    assert float(jnp.abs(apply(p, x, t, (y + 1) % 11) - base).max()) > 1e-4
    with pytest.raises(ValueError, match="labels"):
        m.init(jax.random.PRNGKey(1), x, t)
    with pytest.raises(ValueError, match="divisible"):
        UNet(ch=16, ch_mult=(1, 2, 2, 2)).init(jax.random.PRNGKey(0), jnp.zeros((1, 6, 6, 1)), jnp.zeros(1))


def test_tiny_unet_fits_a_fixed_denoising_batch(cond_unet):
    """Gradients reach every block: a few Adam steps cut the error on one batch of noisy images."""
    m, p = cond_unet
    k1, k2 = jax.random.split(jax.random.PRNGKey(0))
    x = jnp.sign(jax.random.normal(k1, (8, 8, 8, 1)))
    eps = jax.random.normal(k2, x.shape)
    t = jnp.full((8,), 300)
    y = jnp.arange(8)
    xt = 0.6 * x + 0.8 * eps
    tx = optax.adam(3e-3)
    opt = tx.init(p)

    def loss(p):
        return jnp.mean((m.apply(p, xt, t, y) - eps) ** 2)

    @jax.jit
    def step(p, opt):
        l, g = jax.value_and_grad(loss)(p)
        u, opt = tx.update(g, opt)
        return optax.apply_updates(p, u), opt, l

    p, opt, l0 = step(p, opt)
    for _ in range(30):
        p, opt, l = step(p, opt)
    assert float(l) < 0.6 * float(l0)
