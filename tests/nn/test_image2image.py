"""Image-to-image layers: the PatchGAN's receptive field (formula = the paper's 70x70 = measured by gradients),
the U-Net's skip connections (an output pixel depends on its input pixel through them), the generators' shapes
and their padding."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax.nn import image2image as i2i


def test_receptive_field_formula_gives_the_papers_patch_sizes():
    # Isola et al. 2017, Sec. 4.4 / Table 3: PixelGAN 1x1, PatchGANs 16x16 and 70x70, ImageGAN 286x286
    assert [i2i.receptive_field(n) for n in (0, 1, 3, 5)] == [1, 16, 70, 286]
    assert i2i.receptive_field(2) == 34
    assert i2i.num_layers_for_receptive_field(70) == 3
    with pytest.raises(ValueError, match="no PatchGAN has a 64x64 receptive field; the sizes are 1, 16, 34, 70"):
        i2i.num_layers_for_receptive_field(64)


def _measured_receptive_field(num_layers, size):
    """The extent (rows, columns) of the input pixels whose gradient on the central output logit is non-zero."""
    d = i2i.PatchDiscriminator(features=2, num_layers=num_layers, norm="none")   # no norm: no global statistics
    x = jax.random.normal(jax.random.PRNGKey(0), (1, size, size, 1))
    params = d.init(jax.random.PRNGKey(1), x)
    out_shape = d.apply(params, x).shape
    c = (out_shape[1] // 2, out_shape[2] // 2)
    g = jax.grad(lambda x: d.apply(params, x)[0, c[0], c[1]])(x)[0, :, :, 0]
    rows, cols = np.nonzero(np.asarray(g))
    return rows.max() - rows.min() + 1, cols.max() - cols.min() + 1


@pytest.mark.parametrize("num_layers,size", [(1, 40), (3, 128)])
def test_patchgan_receptive_field_measured_by_gradients_equals_the_formula(num_layers, size):
    rf = i2i.receptive_field(num_layers)
    assert _measured_receptive_field(num_layers, size) == (rf, rf)


def test_patchgan_outputs_one_logit_per_patch():
    d = i2i.PatchDiscriminator(features=4, num_layers=1)
    x = jnp.zeros((2, 28, 28, 2))
    assert d.apply(d.init(jax.random.PRNGKey(0), x), x).shape == (2, 12, 12)


def _pixel_gradient(skips, cut, num_downs=2):
    # norm 'none': instance norm's statistics would make every pixel depend on every other one
    g = i2i.UNetGenerator(out_channels=1, features=4, num_downs=num_downs, skips=skips, cut_bottleneck=cut, dropout_rate=0.0,
                          norm="none")
    x = jax.random.normal(jax.random.PRNGKey(0), (1, 16, 16, 1))
    params = g.init(jax.random.PRNGKey(1), x)
    return np.asarray(jax.grad(lambda x: g.apply(params, x)[0, 5, 6, 0])(x)[0, :, :, 0])


def test_unet_skips_carry_the_input_pixel_to_the_output_pixel():
    # two levels with the bottleneck cut: only the shortest path x -> down0 -> concat -> up0 remains, and the
    # output pixel depends on its own input pixel through it, and on nothing beyond the 6x6 pixels that a
    # 4x4 stride-2 convolution followed by a 4x4 stride-2 transposed convolution reach
    g = _pixel_gradient(skips=True, cut=True)
    assert g[5, 6] != 0
    rows, cols = np.nonzero(g)
    assert rows.max() - rows.min() + 1 <= 6 and cols.max() - cols.min() + 1 <= 6
    # the encoder-decoder (no skips) with the bottleneck cut ignores its input entirely
    assert np.all(_pixel_gradient(skips=False, cut=True) == 0)
    # the intact U-Net sees the whole 16x16 image through its bottleneck
    assert np.count_nonzero(_pixel_gradient(skips=True, cut=False, num_downs=3)) == 256


def test_unet_dropout_is_its_noise_and_odd_sizes_are_padded_back():
    g = i2i.UNetGenerator(out_channels=1, features=4, num_downs=5)
    x = jax.random.normal(jax.random.PRNGKey(0), (2, 28, 28, 1))
    params = g.init(jax.random.PRNGKey(1), x)
    a = g.apply(params, x, dropout=True, rngs={"dropout": jax.random.PRNGKey(2)})
    b = g.apply(params, x, dropout=True, rngs={"dropout": jax.random.PRNGKey(3)})
    c = g.apply(params, x, dropout=False)
    assert a.shape == (2, 28, 28, 1) and float(jnp.max(jnp.abs(a))) <= 1.0
    assert not np.allclose(a, b) and np.array_equal(c, g.apply(params, x, dropout=False))


def test_resnet_generator_shapes_blocks_and_reflection_padding():
    g = i2i.ResnetGenerator(out_channels=3, features=4, num_blocks=6)
    x = jnp.zeros((1, 28, 28, 1))
    params = g.init(jax.random.PRNGKey(0), x)
    assert g.apply(params, x).shape == (1, 28, 28, 3)
    assert sum(k.startswith("R") for k in params["params"]) == 6
    y = jnp.arange(16.0).reshape(1, 4, 4, 1)
    np.testing.assert_array_equal(i2i.reflect_pad(y, 1)[0, 0, 1:5, 0], y[0, 1, :, 0])  # the row below, mirrored
    with pytest.raises(ValueError, match="not a multiple of 2\\^num_downsamples=4"):
        g.init(jax.random.PRNGKey(0), jnp.zeros((1, 30, 30, 1)))
    with pytest.raises(ValueError, match="unknown norm 'batch'"):
        i2i.PatchDiscriminator(norm="batch").init(jax.random.PRNGKey(0), x)
