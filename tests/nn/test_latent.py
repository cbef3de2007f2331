"""gen_jax/nn/latent.py: linear and spherical interpolation, latent vector arithmetic, fixed latent batches."""
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax.nn import latent


def test_interpolation_end_points_midpoint_and_slerp_norm():
    z0, z1 = jnp.array([1.0, 0.0, 0.0]), jnp.array([0.0, 1.0, 0.0])
    lin = latent.interpolate(z0, z1, 5)
    np.testing.assert_allclose(lin[np.array([0, 2, 4])], [z0, (z0 + z1) / 2, z1], atol=1e-7)
    sl = latent.interpolate(z0, 2 * z1, 7, spherical=True)
    np.testing.assert_allclose(sl[np.array([0, -1])], [z0, 2 * z1], atol=1e-6)
    sl = latent.interpolate(z0, z1, 7, spherical=True)
    np.testing.assert_allclose(jnp.linalg.norm(sl, axis=1), 1.0, atol=1e-6)   # stays on the sphere
    np.testing.assert_allclose(sl[3], (z0 + z1) / jnp.sqrt(2.0), atol=1e-6)
    # Non-unit end points of one norm: slerp keeps that norm all the way.
    z0, z1 = jnp.array([3.0, 0.0, 4.0]), jnp.array([0.0, 5.0, 0.0])
    sl = latent.interpolate(z0, z1, 7, spherical=True)
    np.testing.assert_allclose(sl[np.array([0, -1])], [z0, z1], atol=1e-6)
    np.testing.assert_allclose(jnp.linalg.norm(sl, axis=-1), 5.0, rtol=1e-5)
    # Parallel end points: slerp degenerates to the linear walk instead of dividing by sin(0).
    np.testing.assert_allclose(latent.interpolate(z0, 2 * z0, 3, spherical=True), latent.interpolate(z0, 2 * z0, 3),
                               rtol=1e-6)
    with pytest.raises(ValueError, match="num must be >= 2"):
        latent.interpolate(z0, z1, 1)


def test_vector_arithmetic_and_fixed_latents():
    a, b, c = jnp.array([[1.0, 1.0], [3.0, 1.0]]), jnp.array([[0.0, 2.0]]), jnp.array([[1.0, 0.0], [1.0, 2.0]])
    np.testing.assert_allclose(latent.vector_arithmetic(a, b, c), [2 - 0 + 1, 1 - 2 + 1])
    np.testing.assert_array_equal(latent.fixed_latents(3, 4, 2), latent.fixed_latents(3, 4, 2))
