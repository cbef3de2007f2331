"""Mathematics of gen_jax/vae/losses.py: closed forms against Monte Carlo, known values, exact bounds."""
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from gen_jax import data as data_lib
from gen_jax.vae import losses


def test_kl_closed_form_matches_monte_carlo():
    key = jax.random.PRNGKey(0)
    mean = jnp.array([[0.5, -1.0, 2.0], [0.0, 0.3, -0.2]])
    logvar = jnp.array([[0.1, -0.7, 0.4], [0.0, 1.0, -2.0]])
    z = losses.reparameterize(key, mean, logvar, num_samples=200_000)
    mc = jnp.mean(jax.vmap(lambda zi: losses.log_normal_diag(zi, mean, logvar) - losses.log_standard_normal(zi))(z), 0)
    closed = losses.kl_standard_normal(mean, logvar)
    chex.assert_shape(closed, (2,))
    np.testing.assert_allclose(mc, closed, rtol=0, atol=0.02)
    # The general two-Gaussian KL reduces to the standard-normal one.
    np.testing.assert_allclose(losses.kl_diag_gaussians(mean, logvar, 0 * mean, 0 * logvar), closed, rtol=1e-6)
    # KL is zero exactly at the prior.
    np.testing.assert_allclose(losses.kl_standard_normal(0 * mean, 0 * logvar), 0.0, atol=1e-7)


def test_log_likelihoods_against_scipy():
    rng = np.random.default_rng(0)
    x = rng.normal(size=(3, 4, 2)).astype(np.float32)
    mean = rng.normal(size=(3, 4, 2)).astype(np.float32)
    logvar = rng.normal(size=(3, 4, 2)).astype(np.float32)
    ref = stats.norm(mean, np.exp(0.5 * logvar)).logpdf(x).reshape(3, -1).sum(1)
    np.testing.assert_allclose(losses.gaussian_log_likelihood(x, mean, logvar), ref, rtol=1e-5)

    logits = rng.normal(size=(3, 5)).astype(np.float32) * 4
    b = (rng.uniform(size=(3, 5)) < 0.5).astype(np.float32)
    ref = stats.bernoulli(1 / (1 + np.exp(-logits.astype(np.float64)))).logpmf(b).sum(1)
    np.testing.assert_allclose(losses.bernoulli_log_likelihood(b, logits), ref, rtol=1e-5)
    # Stable for huge logits (no log(0)): a confident correct prediction costs ~0 nats.
    np.testing.assert_allclose(losses.bernoulli_log_likelihood(jnp.ones((1, 1)), jnp.full((1, 1), 200.0)), 0.0, atol=1e-6)
    assert np.isfinite(losses.bernoulli_log_likelihood(jnp.zeros((1, 1)), jnp.full((1, 1), 200.0)))[0]

    k = 17
    cat_logits = rng.normal(size=(2, 6, k)).astype(np.float32)
    levels = rng.integers(0, k, size=(2, 6))
    p = np.exp(cat_logits - cat_logits.max(-1, keepdims=True))
    p /= p.sum(-1, keepdims=True)
    ref = np.log(np.take_along_axis(p, levels[..., None], -1)[..., 0]).sum(1)
    np.testing.assert_allclose(losses.categorical_log_likelihood(levels, cat_logits), ref, rtol=1e-5)
    # Uniform logits: exactly D log K nats.
    np.testing.assert_allclose(-losses.categorical_log_likelihood(levels, 0 * cat_logits), 6 * math.log(k), rtol=1e-6)


def test_reparameterization_gradient_matches_analytic():
    # E_{z~N(mu, s^2)}[z^2] = mu^2 + s^2, so d/dmu = 2 mu and d/dlogvar = s^2 (since s^2 = exp(logvar)).
    mean, logvar = jnp.array([[0.7, -1.3]]), jnp.array([[0.2, -0.5]])

    def objective(m, lv):
        z = losses.reparameterize(jax.random.PRNGKey(1), m, lv, num_samples=400_000)
        return jnp.mean(jnp.sum(z ** 2, -1))

    g_mean, g_logvar = jax.grad(objective, argnums=(0, 1))(mean, logvar)
    np.testing.assert_allclose(g_mean, 2 * mean, rtol=0.02)
    np.testing.assert_allclose(g_logvar, jnp.exp(logvar), rtol=0.02)


class PPCA:
    """Probabilistic PCA x = W z + b + e, z ~ N(0, I), e ~ N(0, s^2 I): log p(x) and p(z|x) are exact.

    W has orthogonal columns, so the true posterior covariance s^2 (W^T W + s^2 I)^{-1} is diagonal and lies
    inside the VAE's diagonal-Gaussian family.
    """

    def __init__(self, d=6, k=3, s=0.5, seed=0):
        rng = np.random.default_rng(seed)
        q, _ = np.linalg.qr(rng.normal(size=(d, k)))
        self.W = q * np.array([2.0, 1.2, 0.7])[:k]
        self.b = rng.normal(size=d)
        self.s2 = s ** 2
        self.d, self.k = d, k

    def log_px(self, x):
        cov = self.W @ self.W.T + self.s2 * np.eye(self.d)
        return stats.multivariate_normal(self.b, cov).logpdf(x)

    def posterior(self, x):
        m = self.W.T @ self.W + self.s2 * np.eye(self.k)
        minv = np.linalg.inv(m)
        mean = (minv @ self.W.T @ (x - self.b).T).T
        var = np.diag(self.s2 * minv)
        return mean, np.broadcast_to(np.log(var), mean.shape)

    def loglik(self, z, x):
        mean = z @ jnp.asarray(self.W.T, jnp.float32) + jnp.asarray(self.b, jnp.float32)
        return losses.gaussian_log_likelihood(x, mean, jnp.full_like(mean, math.log(self.s2)))


@pytest.fixture(scope="module")
def ppca():
    model = PPCA()
    rng = np.random.default_rng(1)
    x = (rng.normal(size=(4, model.k)) @ model.W.T + model.b + 0.5 * rng.normal(size=(4, model.d)))
    return model, x.astype(np.float32)


def test_elbo_equals_log_px_at_true_posterior(ppca):
    model, x = ppca
    mean, logvar = model.posterior(x)
    encode = lambda _: (jnp.asarray(mean, jnp.float32), jnp.asarray(logvar, jnp.float32))
    exact = model.log_px(x)
    # With the sampled KL term, log p(x|z) + log p(z) - log q(z|x) = log p(x) for EVERY z at the true posterior.
    for seed in range(3):
        t = losses.elbo(jax.random.PRNGKey(seed), x, encode, model.loglik, analytic_kl=False)
        np.testing.assert_allclose(t.elbo, exact, atol=2e-3)
    # With the analytic KL the ELBO is log p(x) in expectation.
    t = jax.vmap(lambda k: losses.elbo(k, x, encode, model.loglik).elbo)(jax.random.split(jax.random.PRNGKey(3), 20_000))
    np.testing.assert_allclose(jnp.mean(t, 0), exact, atol=0.03)


def test_elbo_gap_is_kl_to_posterior_and_iwae_rises_with_k(ppca):
    model, x = ppca
    mean, logvar = model.posterior(x)
    q_mean, q_logvar = mean + 0.4, logvar + 0.8  # a deliberately wrong q(z|x)
    encode = lambda _: (jnp.asarray(q_mean, jnp.float32), jnp.asarray(q_logvar, jnp.float32))
    exact = model.log_px(x)
    gap = np.asarray(losses.kl_diag_gaussians(jnp.asarray(q_mean), jnp.asarray(q_logvar), jnp.asarray(mean), jnp.asarray(logvar)))
    assert np.all(gap > 0.1)
    t = jax.vmap(lambda k: losses.elbo(k, x, encode, model.loglik).elbo)(jax.random.split(jax.random.PRNGKey(4), 20_000))
    # log p(x) - ELBO(q) = KL(q(z|x) || p(z|x)) exactly.
    np.testing.assert_allclose(exact - np.mean(t, 0), gap, atol=0.04)

    bounds, errors = [], []
    for k in (1, 10, 100, 1000):
        reps = {1: 40000, 10: 2000, 100: 200, 1000: 40}[k]
        b = np.asarray(jax.vmap(lambda key: losses.iwae_bound(key, x, encode, model.loglik, k, chunk_size=min(k, 100)))(
            jax.random.split(jax.random.PRNGKey(k), reps)))
        bounds.append(np.mean(b, 0))
        errors.append(np.std(b, 0) / np.sqrt(reps))  # Monte Carlo standard error of each mean
    bounds, errors = np.stack(bounds), np.stack(errors)  # [4, B]
    steps = np.diff(bounds, axis=0)
    assert np.all(steps[:2] > 0), bounds  # L_1 < L_10 < L_100 strictly
    assert np.all(steps[2] > -0.05), bounds  # L_1000 >= L_100 up to Monte Carlo noise (both near log p(x))
    assert np.all(bounds <= exact + 3 * errors)  # E[L_k] <= log p(x), up to three standard errors
    np.testing.assert_allclose(bounds[0], exact - gap, atol=0.08)  # L_1 is the ELBO, log p(x) - KL
    assert np.all(exact - bounds[-1] < 0.25 * gap)  # and L_1000 has closed most of the gap


def test_iwae_bound_of_any_k_in_any_chunks_equals_the_unchunked_bound(ppca):
    model, x = ppca
    mean, logvar = model.posterior(x)
    encode = lambda _: (jnp.asarray(mean + 0.3, jnp.float32), jnp.asarray(logvar, jnp.float32))
    key = jax.random.PRNGKey(0)
    # unchunked, by hand: sample i uses the key fold_in(key, i)
    k = 70
    m, lv = encode(x)
    eps = jax.vmap(lambda i: jax.random.normal(jax.random.fold_in(key, i), m.shape))(jnp.arange(k))
    z = m[None] + jnp.exp(0.5 * lv)[None] * eps
    lw = jax.vmap(lambda zi: model.loglik(zi, x) + losses.log_standard_normal(zi)
                  - losses.log_normal_diag(zi, m, lv))(z)
    by_hand = jax.nn.logsumexp(lw, 0) - math.log(k)
    for chunk in (None, 32, 7, 1):  # 70 = 2 x 32 + a short chunk of 6; 10 x 7; 70 x 1
        np.testing.assert_allclose(losses.iwae_bound(key, x, encode, model.loglik, k, chunk_size=chunk), by_hand,
                                   rtol=1e-5)


def test_uniform_decoders_give_the_protocol_constants():
    x = jnp.asarray(data_lib.load_arrays("digits", "test")["x"][:5])
    d = 64
    cat = losses.Likelihood("categorical", 17)
    _, target = cat.prepare(x, jax.random.PRNGKey(0))
    np.testing.assert_allclose(-cat.log_prob(jnp.zeros(x.shape + (17,)), target), d * math.log(17), rtol=1e-6)
    assert cat.nll_offset(d) == 0.0
    # Gaussian decoder on dequantized data: the discrete bound adds D log K.
    gauss = losses.Likelihood("gaussian", 17)
    inp, y = gauss.prepare(x, jax.random.PRNGKey(1))
    assert float(jnp.min(y)) >= 0.0 and float(jnp.max(y)) < 1.0
    np.testing.assert_array_equal(np.floor(np.asarray(y) * 17), np.asarray(x))  # each value stays in its cell
    assert gauss.nll_offset(d) == pytest.approx(d * math.log(17))
    # Bernoulli with logits 0: D log 2 nats whatever the binary image.
    bern = losses.Likelihood("bernoulli", 17, "static")
    _, b = bern.prepare(x, jax.random.PRNGKey(2))
    assert set(np.unique(np.asarray(b))) <= {0.0, 1.0}
    np.testing.assert_array_equal(np.asarray(b), (np.asarray(x) >= 8).astype(np.float32))
    np.testing.assert_allclose(-bern.log_prob(jnp.zeros(x.shape + (1,)), b), d * math.log(2), rtol=1e-6)
    with pytest.raises(ValueError, match="binarize"):
        losses.Likelihood("bernoulli", 17)
