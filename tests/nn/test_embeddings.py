"""Sinusoidal time embedding: constant norm and inner products that depend only on the time difference."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax.nn.embeddings import TimeEmbedding, sinusoidal_embedding


def test_norm_is_constant_and_inner_product_is_shift_invariant():
    dim = 64
    t = jnp.array([0.0, 3.0, 17.0, 500.0, 999.0])
    e = np.asarray(sinusoidal_embedding(t, dim), np.float64)
    np.testing.assert_allclose(np.sum(e ** 2, -1), dim // 2, rtol=1e-5)
    shifted = np.asarray(sinusoidal_embedding(t + 42.0, dim), np.float64)
    np.testing.assert_allclose(e @ e.T, shifted @ shifted.T, atol=2e-3)
    # the inner product is sum_i cos(w_i (t - s)): check one entry against float64 NumPy
    w = np.exp(-np.log(10_000.0) * np.arange(dim // 2) / (dim // 2))
    np.testing.assert_allclose(e[1] @ e[3], np.sum(np.cos(w * (3.0 - 500.0))), atol=2e-3)


def test_distinct_steps_get_distinct_embeddings_and_odd_dim_pads():
    e = np.asarray(sinusoidal_embedding(jnp.arange(1000), 32))
    d = np.linalg.norm(e[1:] - e[:-1], axis=-1)
    assert d.min() > 0.01
    odd = sinusoidal_embedding(jnp.arange(3), 7)
    np.testing.assert_array_equal(np.asarray(odd[:, -1]), 0.0)
    with pytest.raises(ValueError, match="vector"):
        sinusoidal_embedding(jnp.zeros((2, 2)), 8)


def test_time_embedding_module_is_a_smooth_function_of_t():
    m = TimeEmbedding(16, 32)
    p = m.init(jax.random.PRNGKey(0), jnp.zeros(1))
    g = jax.grad(lambda t: m.apply(p, t[None]).sum())(jnp.float32(5.0))
    assert np.isfinite(float(g)) and float(g) != 0.0
