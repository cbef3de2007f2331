"""The diffusion losses checked for their mathematics: KLs, the discretized decoder, the bound, the optimum."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import stats

from gen_jax.diffusion import losses as L
from gen_jax.diffusion import schedules as sch


def test_normal_kl_matches_closed_form_float64():
    rng = np.random.default_rng(0)
    m1, m2 = rng.normal(size=50), rng.normal(size=50)
    v1, v2 = rng.uniform(0.1, 3, 50), rng.uniform(0.1, 3, 50)
    ref = np.log(np.sqrt(v2) / np.sqrt(v1)) + (v1 + (m1 - m2) ** 2) / (2 * v2) - 0.5
    got = L.normal_kl(jnp.asarray(m1), jnp.log(jnp.asarray(v1)), jnp.asarray(m2), jnp.log(jnp.asarray(v2)))
    np.testing.assert_allclose(np.asarray(got), ref, rtol=1e-4, atol=1e-6)


@pytest.mark.parametrize("K", [2, 17, 256])
def test_discretized_gaussian_is_a_pmf_matching_scipy(K):
    levels = np.arange(K)
    y = 2 * levels / (K - 1) - 1
    for mu, sd in [(0.0, 0.3), (0.83, 0.02), (-1.4, 0.5), (0.2, 1e-3)]:
        logp = np.asarray(L.discretized_gaussian_log_likelihood(
            jnp.asarray(y, jnp.float32), mu, math.log(sd), K), np.float64)
        assert np.all(np.isfinite(logp)) and np.all(logp <= 1e-6)
        edges = np.concatenate([[-np.inf], (y[:-1] + y[1:]) / 2, [np.inf]])   # bin k is [y_k - 1/(K-1), y_k + 1/(K-1)]
        ref = np.diff(stats.norm.cdf(edges, loc=mu, scale=sd))
        np.testing.assert_allclose(np.exp(logp).sum(), 1.0, atol=1e-4)
        big = ref > 1e-6
        np.testing.assert_allclose(logp[big], np.log(ref[big]), rtol=2e-3, atol=2e-4)
        # tails stay finite and agree with scipy's log-probabilities where float64 can still resolve them
        tiny = (ref < 1e-6) & (ref > 1e-250)
        np.testing.assert_allclose(logp[tiny], np.log(ref[tiny]), rtol=2e-2)


def test_digits_grid_spacing_is_one_eighth():
    """K = 17: levels 0..16 at y = k/8 - 1; half-width 1/16 bins, so N(y_k, tiny) puts all mass on level k."""
    y = jnp.arange(17) / 8.0 - 1.0
    logp = L.discretized_gaussian_log_likelihood(y, y, jnp.log(0.01), 17)
    np.testing.assert_allclose(np.asarray(logp), 0.0, atol=1e-6)
    # a mean just past the bin edge halfway to the next level moves the mass to the neighbour
    logp_next = L.discretized_gaussian_log_likelihood(y[3], y[3] + 1 / 16 + 0.03, jnp.log(0.01), 17)
    assert float(logp_next) < -5


@pytest.mark.parametrize("name,T", [("linear", 1000), ("linear", 100), ("cosine", 1000), ("cosine", 100)])
def test_prior_term_is_near_zero(name, T):
    s = sch.make_schedule(name, T)
    x0 = jnp.broadcast_to(jnp.linspace(-1, 1, 17)[:, None], (17, 64))   # a digit-sized image of each level
    kl = L.prior_kl(s, x0)
    assert float(kl.max()) < 64 * 3e-5          # < 2e-3 nats per image, < 5e-5 bits/dim
    assert float(kl.min()) >= 0.0
    # and it is not zero by construction: a one-step schedule leaves x_T far from N(0, I)
    short = sch.Schedule.from_betas([0.1, 0.1])
    assert float(L.prior_kl(short, x0).max()) > 1.0


def _gaussian_data(n, key):
    mean = jnp.array([0.5, -0.3])
    chol = jnp.array([[0.6, 0.0], [0.4, 0.3]])
    cov = chol @ chol.T
    x0 = mean + jax.random.normal(key, (n, 2)) @ chol.T
    return x0, mean, cov


@pytest.mark.parametrize("t", [5, 40, 90])
def test_optimal_gaussian_denoiser_beats_perturbed_ones(t):
    """For x_0 ~ N(m, S), E[eps | x_t] minimises L_simple; its risk is (D - s^2 tr C_t^-1) / D in closed form."""
    s = sch.make_schedule("linear", 100)
    x0, mean, cov = _gaussian_data(200_000, jax.random.PRNGKey(0))
    tb = jnp.full((x0.shape[0],), t)
    key = jax.random.PRNGKey(1)   # common random numbers for every candidate
    opt = L.gaussian_optimal_eps(s, mean, cov)
    loss_opt = float(L.simple_loss(opt, s, x0, key, t=tb).mean())
    a2, s2 = float(s.alpha_bars[t]), float(s.one_minus_alpha_bars[t])
    c = a2 * np.asarray(cov, np.float64) + s2 * np.eye(2)
    risk = (2 - s2 * np.trace(np.linalg.inv(c))) / 2
    np.testing.assert_allclose(loss_opt, risk, rtol=0.02)
    perturbed = {
        "scaled": lambda x, tt: 1.1 * opt(x, tt),
        "shifted": lambda x, tt: opt(x, tt) + 0.05,
        "rotated": lambda x, tt: opt(x, tt) @ jnp.array([[0.995, 0.0998], [-0.0998, 0.995]]),
        "wrong_mean": L.gaussian_optimal_eps(s, mean + 0.1, cov),
        "wrong_cov": L.gaussian_optimal_eps(s, mean, 1.3 * cov),
    }
    for name, fn in perturbed.items():
        loss = float(L.simple_loss(fn, s, x0, key, t=tb).mean())
        assert loss > loss_opt, (name, loss, loss_opt)


def test_simple_loss_targets_are_consistent_across_parameterizations():
    """With a perfect network every parameterization has zero loss; with zero output the loss is E[target^2]."""
    s = sch.make_schedule("cosine", 50)
    x0 = jax.random.uniform(jax.random.PRNGKey(0), (64, 3), minval=-1, maxval=1)
    key = jax.random.PRNGKey(3)
    t = jnp.arange(64) % 50
    for p in sch.PARAMETERIZATIONS:
        k_t, k_n = jax.random.split(key)
        noise = jax.random.normal(k_n, x0.shape)
        perfect = lambda xt, tt, p=p: sch.target(s, x0, noise, tt, p)  # noqa: E731
        np.testing.assert_allclose(np.asarray(L.simple_loss(perfect, s, x0, key, p, t=t)), 0.0, atol=1e-10)
    with pytest.raises(ValueError, match="shape"):
        L.simple_loss(lambda x, t: x, s, jnp.zeros(3), key)


def _two_point_setup(T, name):
    """Data: two digit levels (4 and 12, i.e. -0.5 and 0.5) with probability 1/2 each; entropy log 2."""
    s = sch.make_schedule(name, T)
    c = jnp.array([-0.5, 0.5])

    def bayes_eps(xt, t):   # exact E[eps | x_t] for this data distribution
        a = s.sqrt_alpha_bars[t][:, None, None]
        sd = s.sqrt_one_minus_alpha_bars[t][:, None, None]
        w = jax.nn.softmax(-(xt[..., None] - a * c) ** 2 / (2 * sd ** 2), axis=-1)
        return (xt - a[..., 0] * jnp.sum(w * c, -1)) / sd[..., 0]

    x = jnp.repeat(c, 100)[:, None]
    return s, bayes_eps, x


def test_variational_bound_is_above_entropy_and_tight_for_the_bayes_denoiser():
    s, fn, x = _two_point_setup(1000, "linear")
    out = L.full_vlb(fn, s, x, jax.random.PRNGKey(0), num_levels=17)
    total = np.asarray(out["total"])
    np.testing.assert_allclose(np.asarray(out["prior"] + out["decoder"] + out["diffusion"]), total, rtol=1e-6)
    h = math.log(2.0)
    se = total.std() / np.sqrt(total.size)
    assert total.mean() > h - 2 * se          # a bound: E[L_vlb] >= H(data)
    assert total.mean() < h + 0.05            # and nearly tight when the denoiser is exact
    # beta_t ('large') is the worse variance choice for near-discrete data (Ho et al. 2020, Sec. 3.2)
    large = L.full_vlb(fn, s, x, jax.random.PRNGKey(0), num_levels=17, variance="large")["total"]
    assert float(large.mean()) > total.mean() + 0.1
    # a wrong denoiser costs nats
    bad = L.full_vlb(lambda xt, t: 0.9 * fn(xt, t), s, x, jax.random.PRNGKey(0), num_levels=17)["total"]
    assert float(bad.mean()) > total.mean() + 0.05


def test_one_sample_estimate_is_unbiased_for_the_full_bound():
    s, fn, x = _two_point_setup(100, "linear")
    full = float(L.full_vlb(fn, s, x, jax.random.PRNGKey(0), num_levels=17)["total"].mean())
    est = jax.vmap(lambda k: L.vlb_estimate(fn, s, x, k, num_levels=17))(jax.random.split(jax.random.PRNGKey(1), 40))
    est = np.asarray(est).ravel()
    assert abs(est.mean() - full) < 4 * est.std() / np.sqrt(est.size) + 1e-3
