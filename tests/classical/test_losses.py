"""Tests of gen_jax/classical/losses.py: closed forms, gradients and minimizers of the reconstruction losses."""
import numpy as np
import pytest
import jax
import jax.numpy as jnp
from scipy.stats import multivariate_normal

from gen_jax.classical import gmm, losses


def _xl(seed=0):
    k1, k2 = jax.random.split(jax.random.key(seed))
    return jax.random.uniform(k1, (5, 4, 4, 1)), 3.0 * jax.random.normal(k2, (5, 4, 4, 1))


def test_losses_equal_their_definitions_per_example():
    x, l = _xl()
    s = jax.nn.sigmoid(l)
    naive_ce = -jnp.sum((x * jnp.log(s) + (1 - x) * jnp.log1p(-s)).reshape(5, -1), -1)
    np.testing.assert_allclose(losses.cross_entropy(x, l), naive_ce, rtol=1e-5)
    np.testing.assert_allclose(losses.squared_error(x, l), jnp.sum(((x - s) ** 2).reshape(5, -1), -1), rtol=1e-6)
    # Per example: changing one example changes only its loss.
    x2 = x.at[2].set(1.0 - x[2])
    for fn in (losses.cross_entropy, losses.squared_error):
        d = np.asarray(fn(x2, l) - fn(x, l))
        assert np.all(d[[0, 1, 3, 4]] == 0) and d[2] != 0


def test_cross_entropy_gradient_and_minimum():
    x, l = _xl(1)
    g = jax.grad(lambda a: jnp.sum(losses.cross_entropy(x, a)))(l)
    np.testing.assert_allclose(g, jax.nn.sigmoid(l) - x, atol=1e-6)  # d/dl = sigmoid(l) - x
    # Minimum at sigmoid(l) = x, where it equals the Bernoulli entropy of x.
    xc = jnp.clip(x, 0.01, 0.99)
    at_min = losses.cross_entropy(xc, jnp.log(xc) - jnp.log1p(-xc))
    entropy = -jnp.sum((xc * jnp.log(xc) + (1 - xc) * jnp.log1p(-xc)).reshape(5, -1), -1)
    np.testing.assert_allclose(at_min, entropy, rtol=1e-4)
    assert np.all(np.asarray(losses.cross_entropy(xc, l)) > np.asarray(at_min))


def test_mixture_nll_is_minus_the_mixture_log_density():
    w, mu = np.array([0.3, 0.7]), np.array([[0.0, 1.0], [2.0, -1.0]])
    cov = np.array([[[1.0, 0.2], [0.2, 0.5]], [[0.4, 0.0], [0.0, 0.9]]])
    g = gmm.from_covariances(jnp.asarray(w, jnp.float32), mu, cov)
    x = np.random.default_rng(0).normal(size=(6, 2))
    ref = -np.log(sum(wk * multivariate_normal(m, c).pdf(x) for wk, m, c in zip(w, mu, cov)))
    np.testing.assert_allclose(losses.mixture_nll(g, jnp.asarray(x, jnp.float32)), ref, rtol=1e-5)


def test_unknown_loss_name_is_rejected():
    with pytest.raises(ValueError, match="unknown reconstruction loss 'l1'"):
        losses.reconstruction_loss("l1")
