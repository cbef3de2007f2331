"""preprocess: the pixel conventions, inside jit."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax.data import preprocess as pp

LEVELS = jnp.arange(17)


def test_scale_and_center():
    np.testing.assert_allclose(pp.scale01(LEVELS, 17), np.arange(17) / 16.0)
    np.testing.assert_allclose(pp.center_pm1(LEVELS, 17), np.arange(17) / 8.0 - 1.0)
    np.testing.assert_allclose(pp.to_pm1(jnp.array([0.0, 0.5, 1.0])), [-1.0, 0.0, 1.0])
    np.testing.assert_allclose(pp.from_pm1(pp.to_pm1(jnp.array([0.25]))), [0.25])
    assert pp.scale01(jnp.array([255], jnp.uint8), 256).dtype == jnp.float32
    assert float(pp.scale01(jnp.array([255], jnp.uint8), 256)[0]) == 1.0


def test_binarize_static_thresholds():
    np.testing.assert_array_equal(pp.binarize_static(LEVELS, 17), (np.arange(17) >= 8).astype(np.float32))
    x = jnp.arange(256)
    np.testing.assert_array_equal(pp.binarize_static(x, 256), (np.arange(256) >= 128).astype(np.float32))
    np.testing.assert_array_equal(pp.binarize_static(jnp.array([0, 1]), 2), [0.0, 1.0])


def test_binarize_dynamic_mean_matches_intensity():
    x01 = jnp.linspace(0.0, 1.0, 11)
    n = 20_000
    draws = jax.jit(pp.binarize_dynamic)(jax.random.key(0), jnp.broadcast_to(x01, (n, 11)))
    assert set(np.unique(draws)) <= {0.0, 1.0}
    se = np.sqrt(np.asarray(x01) * (1 - np.asarray(x01)) / n)
    np.testing.assert_array_less(np.abs(draws.mean(0) - x01), 5 * se + 1e-7)
    # a fresh key gives a fresh binarization
    a = pp.binarize_dynamic(jax.random.key(1), jnp.full((1000,), 0.5))
    b = pp.binarize_dynamic(jax.random.key(2), jnp.full((1000,), 0.5))
    assert not np.array_equal(a, b)


@pytest.mark.parametrize("k", [2, 17, 256])
def test_dequantize_stays_in_its_cell_and_is_uniform(k):
    x = jnp.tile(jnp.arange(k), 2000)
    y = jax.jit(pp.dequantize, static_argnums=2)(jax.random.key(3), x, k)
    assert y.dtype == jnp.float32
    lo, hi = np.asarray(x) / k, (np.asarray(x) + 1.0) / k
    assert np.all(np.asarray(y) >= lo) and np.all(np.asarray(y) < hi)
    np.testing.assert_array_equal(pp.undequantize(y, k), x)
    u = np.asarray(y) * k - np.asarray(x)  # the uniform noise
    assert abs(u.mean() - 0.5) < 0.01 and abs(u.var() - 1 / 12) < 0.005


def test_dequantize_top_of_cell_edge_case():
    """u just below 1 must not round (x + u) / K up to the next cell in float32."""
    x = jnp.full((4,), 16.0)
    y = (x + jnp.float32(1 - 2**-24)) / 17
    assert float(y[0]) * 17 >= 17.0 - 1e-6  # the naive formula would leave the cell
    out = pp.dequantize(jax.random.key(0), x, 17)
    assert np.all(np.floor(np.asarray(out) * 17) == 16)


def test_quantize_inverts_scale01():
    for k in (2, 17, 256):
        x = jnp.arange(k)
        np.testing.assert_array_equal(jax.jit(lambda v: pp.quantize(pp.scale01(v, k), k))(x), x)
    np.testing.assert_array_equal(pp.quantize(jnp.array([-0.3, 0.02, 0.49, 0.51, 1.7]), 2), [0, 0, 0, 1, 1])
    assert pp.quantize(jnp.array([0.5]), 17).dtype == jnp.int32


def test_bad_levels():
    with pytest.raises(ValueError, match="num_levels"):
        pp.scale01(LEVELS, None)
    with pytest.raises(ValueError, match="num_levels"):
        pp.binarize_static(LEVELS, 1)
