"""Masked convolutions: causality measured by gradients, and the cached decoding mode equals the full conv."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax.nn.masked import MaskedConv2D, causal_mask, channel_groups


def _jacobian(layer, params, x):
    """d out[h, w, o] / d x[h', w', i] for a single image: [H, W, O, H, W, I]."""
    f = lambda x1: layer.apply(params, x1[None])[0]  # noqa: E731
    return np.asarray(jax.jacrev(f)(x))


@pytest.mark.parametrize("mask_type", ["A", "B"])
def test_masked_conv_is_causal_in_raster_and_channel_order(mask_type):
    C, H, W = 3, 5, 5
    layer = MaskedConv2D(6, 5, mask_type, data_channels=C)
    x = jax.random.normal(jax.random.PRNGKey(0), (H, W, C))
    params = layer.init(jax.random.PRNGKey(1), x[None])
    jac = _jacobian(layer, params, x)
    gout = channel_groups(6, C)
    r, c, o, r2, c2, i = np.meshgrid(*(np.arange(n) for n in (H, W, 6, H, W, C)), indexing="ij")
    pix, pix2 = r * W + c, r2 * W + c2
    same_bad = (i >= gout[o]) if mask_type == "A" else (i > gout[o])
    forbidden = (pix2 > pix) | ((pix2 == pix) & same_bad)
    in_kernel = (np.abs(r2 - r) <= 2) & (np.abs(c2 - c) <= 2)
    assert np.all(jac[forbidden] == 0.0)
    assert np.all(jac[~forbidden & in_kernel] != 0.0)   # every allowed tap in the kernel is connected


def test_vertical_mask_sees_rows_at_and_above_only():
    m = causal_mask((3, 3), 2, 4, "V")
    np.testing.assert_array_equal(m[:2], 1.0)
    np.testing.assert_array_equal(m[2], 0.0)


@pytest.mark.parametrize("kernel", [(3, 3), (1, 5), (5, 5)])
def test_decoding_pixel_by_pixel_equals_the_full_convolution(kernel):
    C, H, W = 3, 6, 7
    layer = MaskedConv2D(6, kernel, "B", data_channels=C)
    x = jax.random.normal(jax.random.PRNGKey(2), (2, H, W, C))
    params = layer.init(jax.random.PRNGKey(3), x)
    full = layer.apply(params, x)
    # Start from a cache built on garbage: positions at or after the current one must not matter.
    _, cache = layer.apply(params, 100.0 * jnp.ones_like(x), mutable=["cache"])
    step = jax.jit(lambda cache, xp, r, c: layer.apply({"params": params["params"], **cache}, xp, pos=(r, c),
                                                       mutable=["cache"]))
    for r in range(H):
        for c in range(W):
            y, cache = step(cache, x[:, r, c], r, c)
            np.testing.assert_allclose(y, full[:, r, c], atol=1e-5, rtol=1e-5)


def test_decoding_a_row_equals_the_full_convolution():
    H, W = 5, 6
    layer = MaskedConv2D(4, 3, "V")
    x = jax.random.normal(jax.random.PRNGKey(4), (2, H, W, 2))
    params = layer.init(jax.random.PRNGKey(5), x)
    full = layer.apply(params, x)
    _, cache = layer.apply(params, -7.0 * jnp.ones_like(x), mutable=["cache"])
    step = jax.jit(lambda cache, xr, r: layer.apply({"params": params["params"], **cache}, xr, row=r,
                                                    mutable=["cache"]))
    for r in range(H):
        y, cache = step(cache, x[:, r], r)
        np.testing.assert_allclose(y, full[:, r], atol=1e-5, rtol=1e-5)


def test_bad_configuration_gives_clear_errors():
    with pytest.raises(ValueError, match="odd kernel"):
        causal_mask((2, 3), 1, 1, "A")
    with pytest.raises(ValueError, match="unknown mask type"):
        causal_mask((3, 3), 1, 1, "C")
    with pytest.raises(ValueError, match="divisible"):
        channel_groups(4, 3)
    layer = MaskedConv2D(3, 3, "A", data_channels=3)
    params = {"params": layer.init(jax.random.PRNGKey(0), jnp.zeros((1, 4, 4, 3)))["params"]}
    with pytest.raises(ValueError, match="cache"):
        layer.apply(params, jnp.zeros((1, 3)), pos=(0, 0))
