"""Schedules and Gaussian algebra of the forward process, checked against independent float64 NumPy."""
import math

import chex
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax.diffusion import schedules as sch


def _np_linear(T):
    return np.linspace(1e-4 * 1000 / T, 0.02 * 1000 / T, T)


def _np_cosine(T, s=0.008):
    f = lambda u: np.cos((u + s) / (1 + s) * np.pi / 2) ** 2  # noqa: E731
    u = np.arange(T + 1) / T
    abar = f(u) / f(0.0)
    return np.minimum(1 - abar[1:] / abar[:-1], 0.999)


def test_linear_schedule_matches_ddpm():
    s = sch.make_schedule("linear", 1000)
    np.testing.assert_allclose(float(s.betas[0]), 1e-4, rtol=1e-6)
    np.testing.assert_allclose(float(s.betas[-1]), 0.02, rtol=1e-6)
    # abar_T of the DDPM schedule, ~4.04e-5: x_T is almost pure noise.
    np.testing.assert_allclose(float(s.alpha_bars[-1]), np.prod(1 - _np_linear(1000)), rtol=1e-4)
    assert 3e-5 < float(s.alpha_bars[-1]) < 5e-5


def test_cosine_schedule_follows_squared_cosine():
    T = 1000
    s = sch.make_schedule("cosine", T)
    u = np.arange(1, T + 1) / T
    f = np.cos((u + 0.008) / 1.008 * np.pi / 2) ** 2 / np.cos(0.008 / 1.008 * np.pi / 2) ** 2
    # Away from the clipped end, abar_t is exactly the squared-cosine curve.
    np.testing.assert_allclose(np.asarray(s.alpha_bars)[: T - 5], f[: T - 5], rtol=2e-4, atol=1e-7)
    np.testing.assert_allclose(np.asarray(s.betas), _np_cosine(T), rtol=1e-5, atol=1e-7)
    assert float(s.betas.max()) <= 0.999 + 1e-6


@pytest.mark.parametrize("t", [0, 10, 250, 999])
def test_q_sample_monte_carlo_moments(t):
    s = sch.make_schedule("linear", 1000)
    n = 100_000
    x0 = jnp.array([[-1.0, 0.25, 0.9]])
    x0b = jnp.broadcast_to(x0, (n, 3))
    tb = jnp.full((n,), t)
    xt = sch.q_sample(s, x0b, tb, jax.random.normal(jax.random.PRNGKey(t), x0b.shape))
    mean, var = sch.q_mean_variance(s, x0, jnp.array([t]))
    abar = np.prod(1 - _np_linear(1000)[: t + 1])
    np.testing.assert_allclose(np.asarray(mean[0]), np.sqrt(abar) * np.asarray(x0[0]), rtol=1e-5)
    np.testing.assert_allclose(np.asarray(var[0]), 1 - abar, rtol=1e-4, atol=1e-9)
    se_mean = np.sqrt((1 - abar) / n)
    np.testing.assert_array_less(np.abs(np.asarray(xt.mean(0)) - np.asarray(mean[0])), 5 * se_mean + 1e-7)
    se_var = (1 - abar) * np.sqrt(2.0 / n)
    np.testing.assert_array_less(np.abs(np.asarray(xt.var(0)) - np.asarray(var[0])), 5 * se_var + 1e-9)


@pytest.mark.parametrize("name,betas_fn", [("linear", _np_linear), ("cosine", _np_cosine)])
def test_posterior_matches_bayes_rule_float64(name, betas_fn):
    """q(x_{t-1}|x_t,x_0) ∝ q(x_t|x_{t-1}) q(x_{t-1}|x_0): the product of two Gaussians, in float64."""
    T = 200
    s = sch.make_schedule(name, T)
    betas = betas_fn(T)
    abar = np.cumprod(1 - betas)
    rng = np.random.default_rng(0)
    x0 = rng.uniform(-1, 1, size=(T, 4))
    xt = rng.normal(size=(T, 4))
    for t in range(1, T):
        prior_var = 1 - abar[t - 1]                 # q(x_{t-1} | x_0) = N(sqrt(abar_{t-1}) x0, 1 - abar_{t-1})
        lik_prec = (1 - betas[t]) / betas[t]        # q(x_t | x_{t-1}) as a function of x_{t-1}
        post_var = 1.0 / (1.0 / prior_var + lik_prec)
        post_mean = post_var * (np.sqrt(abar[t - 1]) * x0[t] / prior_var
                                + np.sqrt(1 - betas[t]) * xt[t] / betas[t])
        mean, var, _ = sch.q_posterior(s, jnp.asarray(x0[t:t + 1], jnp.float32),
                                       jnp.asarray(xt[t:t + 1], jnp.float32), jnp.array([t]))
        np.testing.assert_allclose(np.asarray(mean[0]), post_mean, rtol=2e-4, atol=2e-6)
        np.testing.assert_allclose(np.asarray(var[0]), post_var, rtol=2e-4, atol=1e-9)
    # t = 0: x_0 is known, the posterior is a point mass on it.
    mean, var, logvar = sch.q_posterior(s, jnp.ones((1, 4)), jnp.zeros((1, 4)), jnp.array([0]))
    np.testing.assert_allclose(np.asarray(mean), 1.0, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(var), 0.0, atol=1e-12)
    np.testing.assert_allclose(np.asarray(logvar), math.log(float(s.posterior_variance[1])), rtol=1e-6)


@pytest.mark.parametrize("param", sch.PARAMETERIZATIONS)
def test_parameterizations_recover_x0_and_eps(param):
    s = sch.make_schedule("cosine", 100)
    key1, key2 = jax.random.split(jax.random.PRNGKey(1))
    x0 = jax.random.uniform(key1, (16, 3), minval=-1, maxval=1)
    eps = jax.random.normal(key2, (16, 3))
    t = jnp.arange(16) * 6
    xt = sch.q_sample(s, x0, t, eps)
    out = sch.target(s, x0, eps, t, param)  # a perfect network
    x0_hat, eps_hat = sch.predict_x0_eps(s, xt, t, out, param)
    chex.assert_trees_all_close(x0_hat, x0, atol=2e-3)
    chex.assert_trees_all_close(eps_hat, eps, atol=2e-3)


def test_bad_inputs_are_named():
    with pytest.raises(ValueError, match="unknown noise schedule"):
        sch.make_schedule("sigmoid", 10)
    with pytest.raises(ValueError, match="in \\(0, 1\\)"):
        sch.Schedule.from_betas([0.1, 1.5])
    with pytest.raises(ValueError, match="too small"):
        sch.make_schedule("linear", 10)
    with pytest.raises(ValueError, match="parameterization"):
        sch.target(sch.make_schedule("linear", 100), jnp.zeros((1, 2)), jnp.zeros((1, 2)), jnp.zeros(1, int), "score")
    with pytest.raises(ValueError, match="reverse variance"):
        sch.model_log_variance(sch.make_schedule("linear", 100), jnp.zeros(1, int), (1, 2), "learned")
