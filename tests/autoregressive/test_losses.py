"""Likelihood heads: softmax and discretized logistic mixture, against closed forms and a float64 reference."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy.special import expit, logsumexp

from gen_jax.autoregressive import losses

# Jitted once per static configuration: op-by-op dispatch of these many small ops is what costs time on CPU.
categorical_nll = jax.jit(losses.categorical_nll, static_argnums=2)
mixture_nll = jax.jit(losses.logistic_mixture_nll, static_argnums=(2, 3))
mixture_log_probs = jax.jit(losses.logistic_mixture_log_probs, static_argnums=(2, 3))


def test_uniform_logits_give_d_log_k():
    for K, shape in [(256, (2, 3, 4, 3)), (17, (3, 8, 8, 1)), (2, (1, 5, 5, 1))]:
        x = jax.random.randint(jax.random.PRNGKey(K), shape, 0, K)
        nll = categorical_nll(jnp.zeros(shape[:-1] + (shape[-1] * K,)), x, K)
        np.testing.assert_allclose(nll, np.prod(shape[1:]) * math.log(K), rtol=1e-6)


def test_categorical_nll_picks_the_right_logit():
    # One pixel, 2 channels, K = 3: -log softmax([0, 1, 2])[2] - log softmax([5, 0, 0])[0].
    logits = jnp.array([0.0, 1.0, 2.0, 5.0, 0.0, 0.0]).reshape(1, 1, 1, 6)
    x = jnp.array([2, 0]).reshape(1, 1, 1, 2)
    want = -(2 - logsumexp([0, 1, 2])) - (5 - logsumexp([5, 0, 0]))
    np.testing.assert_allclose(categorical_nll(logits, x, 3), [want], rtol=1e-6)


def _np_mixture_log_prob(params, x, K, M):
    """float64 reference: log sum_m pi_m prod_c [F((y+h-mu)/s) - F((y-h-mu)/s)], edges to +-inf."""
    params = np.asarray(params, np.float64)
    x = np.asarray(x)
    C = x.shape[-1]
    logit_pi = params[..., :M]
    means = params[..., M:M + C * M].reshape(x.shape[:-1] + (C, M))
    log_s = np.maximum(params[..., M + C * M:M + 2 * C * M].reshape(x.shape[:-1] + (C, M)), -7.0)
    coeffs = np.tanh(params[..., M + 2 * C * M:].reshape(x.shape[:-1] + (C * (C - 1) // 2, M)))
    y = 2.0 * x / (K - 1) - 1.0
    h = 1.0 / (K - 1)
    log_pi = logit_pi - logsumexp(logit_pi, axis=-1, keepdims=True)
    total = log_pi.copy()
    k = 0
    for c in range(C):
        mu = means[..., c, :].copy()
        for prev in range(c):
            mu += coeffs[..., k, :] * y[..., prev, None]
            k += 1
        s = np.exp(log_s[..., c, :])
        upper = np.where(x[..., c, None] == K - 1, 1.0, expit((y[..., c, None] + h - mu) / s))
        lower = np.where(x[..., c, None] == 0, 0.0, expit((y[..., c, None] - h - mu) / s))
        total += np.log(upper - lower)
    return logsumexp(total, axis=-1)


@pytest.mark.parametrize("C", [1, 3])
def test_logistic_mixture_matches_float64_numpy(C):
    K, M = 256, 4
    P = losses.logistic_mixture_num_params(C, M)
    params = jax.random.normal(jax.random.PRNGKey(0), (3, 4, 4, P))
    x = jax.random.randint(jax.random.PRNGKey(1), (3, 4, 4, C), 0, K)
    x = x.at[:, 0, 0].set(0).at[:, 0, 1].set(K - 1)           # edge bins included
    want = -_np_mixture_log_prob(params, x, K, M).sum(axis=(1, 2))
    got = mixture_nll(params, x, K, M)
    np.testing.assert_allclose(got, want, rtol=1e-5)


@pytest.mark.parametrize("K", [256, 17, 2])
def test_logistic_mixture_sums_to_one_over_all_levels(K):
    """sum_v P(v) = 1 for random means (inside and far outside [-1, 1]) and scales down to exp(-7).

    The bins telescope, so in float64 the sum is 1 to rounding (1e-12); in float32 (what training uses)
    to the accumulated rounding of K terms."""
    M, n = 5, 200
    key = jax.random.split(jax.random.PRNGKey(K), 3)
    logit_pi = jax.random.normal(key[0], (n, M))
    means = 1.5 * jax.random.normal(key[1], (n, M))
    log_s = jax.random.uniform(key[2], (n, M), minval=-7.0, maxval=1.0)
    params = jnp.concatenate([logit_pi, means, log_s], -1).reshape(n, 1, 1, 3 * M)
    x = jnp.zeros((n, 1, 1, 1), jnp.int32)
    with jax.enable_x64(True):
        logp64 = jax.jit(losses.logistic_mixture_log_probs, static_argnums=(2, 3))(
            jnp.asarray(np.asarray(params, np.float64)), x, K, M)
        assert logp64.dtype == jnp.float64
        np.testing.assert_allclose(np.exp(jax.nn.logsumexp(logp64, axis=-1)), 1.0, atol=1e-12)
    logp = mixture_log_probs(params, x, K, M)[:, 0, 0, 0]                           # [n, K], float32
    np.testing.assert_allclose(jnp.exp(jax.nn.logsumexp(logp, axis=-1)), 1.0, atol=3e-5)
    # and the conditional table agrees with the NLL at every level (to float32 rounding of the bin edges,
    # ~6e-8, amplified by 1/s up to e^7 ~ 1100)
    v = jnp.arange(K)
    nll = jax.jit(jax.vmap(lambda xv: losses.logistic_mixture_nll(params, jnp.full((n, 1, 1, 1), xv), K, M)))(v)
    np.testing.assert_allclose(-nll.T, logp, rtol=1e-5, atol=3e-4)


def test_rgb_conditionals_sum_to_one_and_chain_to_the_joint():
    """log p(r) + log p(g | r) + log p(b | r, g) = log p(r, g, b), each conditional normalized."""
    K, M, C = 256, 3, 3
    P = losses.logistic_mixture_num_params(C, M)
    params = jax.random.normal(jax.random.PRNGKey(7), (2, 3, 3, P))
    x = jax.random.randint(jax.random.PRNGKey(8), (2, 3, 3, C), 0, K)
    cond = mixture_log_probs(params, x, K, M)                      # [2, 3, 3, C, K]
    np.testing.assert_allclose(jax.nn.logsumexp(cond, -1), 0.0, atol=2e-5)
    chain = jnp.take_along_axis(cond, x[..., None], -1)[..., 0].sum(axis=(1, 2, 3))
    np.testing.assert_allclose(-chain, mixture_nll(params, x, K, M), rtol=1e-5)


def test_logistic_mixture_is_stable_at_edges_and_small_scales():
    """Tiny scales and means at or beyond the edge bins give finite values and gradients, and the
    closed forms: a mean at an edge centre keeps sigma(h/s) of the mass in the edge bin, a mean at an
    interior centre tanh(h/(2s)), a mean far beyond the edge all of it."""
    K = 256
    v = jnp.array([0.0, 255.0, 128.0, 0.0, 255.0, 3.0])
    mean = jnp.array([-1.0, 1.0, 2 * 128 / 255 - 1, -3.0, 3.0, 0.9])
    log_s = jnp.full(6, -7.0)
    lp = jax.jit(losses.discretized_logistic_log_prob, static_argnums=3)(v, mean, log_s, K)
    assert np.all(np.isfinite(lp))
    t = (1.0 / 255) / math.exp(-7.0)                     # half bin width / scale
    want = [math.log(expit(t)), math.log(expit(t)), math.log(math.tanh(t / 2)), 0.0, 0.0]
    np.testing.assert_allclose(lp[:5], want, rtol=1e-4, atol=1e-6)
    assert lp[5] < -1000.0              # a bin far from a sharp mean: tiny but finite, no log(0)
    g = jax.jit(jax.grad(lambda m, s: jnp.sum(losses.discretized_logistic_log_prob(v, m, s, K)), argnums=(0, 1)))(
        mean, log_s)
    assert all(np.all(np.isfinite(gi)) for gi in g)


def test_bad_inputs_give_clear_errors():
    with pytest.raises(ValueError, match="integer levels"):
        losses.categorical_nll(jnp.zeros((1, 2, 2, 3)), jnp.zeros((1, 2, 2, 1)), 3)
    with pytest.raises(ValueError, match="C\\*K"):
        losses.categorical_nll(jnp.zeros((1, 2, 2, 4)), jnp.zeros((1, 2, 2, 1), jnp.int32), 3)
    with pytest.raises(ValueError, match="needs 15 outputs"):
        losses.logistic_mixture_nll(jnp.zeros((1, 2, 2, 9)), jnp.zeros((1, 2, 2, 1), jnp.int32), 256, 5)
    with pytest.raises(ValueError, match="unknown head"):
        losses.head_nll("gaussian", jnp.zeros((1, 2, 2, 3)), jnp.zeros((1, 2, 2, 1), jnp.int32), 3)
