"""Samplers on a 1-D Gaussian toy, where the optimal denoiser is linear and every sampler's output moments
can be propagated exactly in float64 NumPy."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax.diffusion import losses as L
from gen_jax.diffusion import samplers as S
from gen_jax.diffusion import schedules as sch

MU0, VAR0 = 0.3, 0.25          # data: x_0 ~ N(0.3, 0.5^2)
T = 100
N = 20_000


@pytest.fixture(scope="module")
def toy():
    s = sch.make_schedule("linear", T)
    fn = L.gaussian_optimal_eps(s, jnp.array([MU0]), jnp.array([[VAR0]]))
    return s, fn


def _np_abar(T):
    betas = np.linspace(1e-4 * 1000 / T, 0.02 * 1000 / T, T)
    return betas, np.cumprod(1 - betas)


def _exact_ddim(taus, eta):
    """Mean and variance of x_0 from DDIM(eta) on steps taus, x_T ~ N(0, 1), with the exact linear denoiser.

    Also returns (g, h) such that x_0 = g x_T + h when eta = 0.
    """
    _, abar = _np_abar(T)
    m, v, g, h = 0.0, 1.0, 1.0, 0.0
    taus = list(taus)
    for i in range(len(taus) - 1, -1, -1):
        t = taus[i]
        ap = abar[taus[i - 1]] if i > 0 else 1.0
        a, s = np.sqrt(abar[t]), np.sqrt(1 - abar[t])
        c = a * a * VAR0 + s * s
        A, B = a * VAR0 / c, s * s * MU0 / c          # x0_hat = A x + B
        E, F = s / c, -s * a * MU0 / c                # eps_hat = E x + F
        sig = eta * np.sqrt((1 - ap) / (1 - abar[t]) * (1 - abar[t] / ap))
        d = np.sqrt(max(1 - ap - sig ** 2, 0.0))
        G, H = np.sqrt(ap) * A + d * E, np.sqrt(ap) * B + d * F
        m, v = G * m + H, G * G * v + sig ** 2
        g, h = G * g, G * h + H
    return m, v, g, h


def _exact_ancestral(variance):
    betas, abar = _np_abar(T)
    abar_prev = np.append(1.0, abar[:-1])
    post_var = betas * (1 - abar_prev) / (1 - abar)
    sig2 = post_var.copy() if variance == "small" else betas.copy()
    m, v = 0.0, 1.0
    for t in range(T - 1, -1, -1):
        a, s = np.sqrt(abar[t]), np.sqrt(1 - abar[t])
        c = a * a * VAR0 + s * s
        A, B = a * VAR0 / c, s * s * MU0 / c
        c1 = betas[t] * np.sqrt(abar_prev[t]) / (1 - abar[t])
        c2 = np.sqrt(1 - betas[t]) * (1 - abar_prev[t]) / (1 - abar[t])
        m, v = (c1 * A + c2) * m + c1 * B, (c1 * A + c2) ** 2 * v + (sig2[t] if t > 0 else 0.0)
    return m, v


def _check_moments(x, m, v):
    x = np.asarray(x, np.float64).ravel()
    assert abs(x.mean() - m) < 5 * np.sqrt(v / x.size), (x.mean(), m)
    assert abs(x.var() - v) < 5 * v * np.sqrt(2 / x.size), (x.var(), v)


def test_ancestral_and_ddim_eta1_all_steps_share_one_distribution(toy):
    s, fn = toy
    m_anc, v_anc = _exact_ancestral("small")
    m_ddim, v_ddim, _, _ = _exact_ddim(range(T), 1.0)
    np.testing.assert_allclose([m_anc, v_anc], [m_ddim, v_ddim], rtol=1e-10)   # the algebraic identity
    # Fixed reverse variances bracket the truth (Ho et al. 2020, Sec. 3.2): beta~_t too small, beta_t too large.
    np.testing.assert_allclose(m_anc, MU0, rtol=1e-3)
    assert v_anc < VAR0 < _exact_ancestral("large")[1]
    x_anc = S.ddpm_sample(fn, s, jax.random.PRNGKey(0), (N, 1), variance="small", clip_denoised=False)
    x_ddim = S.ddim_sample(fn, s, jax.random.PRNGKey(1), (N, 1), num_sample_steps=T, eta=1.0, clip_denoised=False)
    _check_moments(x_anc, m_anc, v_anc)
    _check_moments(x_ddim, m_anc, v_anc)


def test_ancestral_large_variance_moments(toy):
    s, fn = toy
    m, v = _exact_ancestral("large")
    x = S.ddpm_sample(fn, s, jax.random.PRNGKey(2), (N, 1), variance="large", clip_denoised=False)
    _check_moments(x, m, v)
    assert v > _exact_ancestral("small")[1]     # beta_t > beta~_t adds variance


def test_ddim_eta0_is_a_deterministic_affine_map_here(toy):
    s, fn = toy
    x_T = jax.random.normal(jax.random.PRNGKey(3), (512, 1))
    a = S.ddim_sample(fn, s, jax.random.PRNGKey(4), x_T=x_T, num_sample_steps=50, eta=0.0, clip_denoised=False)
    b = S.ddim_sample(fn, s, jax.random.PRNGKey(5), x_T=x_T, num_sample_steps=50, eta=0.0, clip_denoised=False)
    np.testing.assert_array_equal(np.asarray(a), np.asarray(b))
    taus = S.ddim_timesteps(T, 50)
    m, v, g, h = _exact_ddim(taus, 0.0)
    np.testing.assert_allclose(np.asarray(a), g * np.asarray(x_T, np.float64) + h, rtol=1e-4, atol=1e-4)
    # The deterministic map lands near the data, and closer with more steps (a discretised ODE).
    np.testing.assert_allclose(m, MU0, rtol=0.01)
    errs = [abs(_exact_ddim(S.ddim_timesteps(T, k), 0.0)[1] - VAR0) for k in (10, 50, 100)]
    assert errs[0] > errs[1] > errs[2] and errs[1] < 0.15 * VAR0
    c = S.ddim_sample(fn, s, jax.random.PRNGKey(5), x_T=x_T, num_sample_steps=50, eta=0.5, clip_denoised=False)
    assert float(jnp.max(jnp.abs(c - a))) > 1e-2   # eta > 0 does use the key


@pytest.mark.parametrize("steps,eta", [(10, 0.0), (10, 1.0), (25, 0.5)])
def test_ddim_few_steps_moments(toy, steps, eta):
    s, fn = toy
    m, v, _, _ = _exact_ddim(S.ddim_timesteps(T, steps), eta)
    x = S.ddim_sample(fn, s, jax.random.PRNGKey(steps), (N, 1), num_sample_steps=steps, eta=eta,
                      clip_denoised=False)
    _check_moments(x, m, v)


def test_ddim_timesteps_and_errors():
    np.testing.assert_array_equal(S.ddim_timesteps(100, 100), np.arange(100))
    t = S.ddim_timesteps(1000, 50)
    assert len(t) == 50 and t[0] == 0 and t[-1] == 999 and np.all(np.diff(t) > 0)
    with pytest.raises(ValueError, match="num_sample_steps"):
        S.ddim_timesteps(100, 101)
    s = sch.make_schedule("linear", 100)
    with pytest.raises(ValueError, match="eta"):
        S.ddim_sample(lambda x, t: x, s, jax.random.PRNGKey(0), (2, 1), eta=1.5)
    with pytest.raises(ValueError, match="variance"):
        S.ddpm_sample(lambda x, t: x, s, jax.random.PRNGKey(0), (2, 1), variance="learned")
    with pytest.raises(ValueError, match="shape"):
        S.ddpm_sample(lambda x, t: x, s, jax.random.PRNGKey(0))


def test_classifier_free_guidance_extrapolates_away_from_unconditional():
    def cond_fn(x, t, y):   # a toy network: output = x + label (null label 10 -> +10)
        return x + y[:, None].astype(jnp.float32)

    x = jnp.zeros((3, 2))
    t = jnp.zeros((3,), jnp.int32)
    labels = jnp.array([0, 1, 2])
    for w in [0.0, 1.0, 3.0]:
        out = S.classifier_free_guidance(cond_fn, labels, 10, w)(x, t)
        expected = (1 + w) * labels[:, None] - w * 10.0
        np.testing.assert_allclose(np.asarray(out), np.broadcast_to(expected, (3, 2)), rtol=1e-6)
    with pytest.raises(ValueError, match="guidance_scale"):
        S.classifier_free_guidance(cond_fn, labels, 10, -1.0)
