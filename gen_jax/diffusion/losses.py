"""Diffusion losses: the simple denoising loss and the variational bound in nats (Ho et al. 2020).

Every loss takes a `denoise_fn(x_t, t) -> network output` (a closure over params, e.g.
``lambda x, t: model.apply(params, x, t)``), a `Schedule`, a batch ``x0`` and a key, and returns per-example
values of shape [B]. The output is read under one of the parameterizations of `schedules.predict_x0_eps`
('eps', 'x0' or 'v').

The variational bound (Ho et al. 2020, Eq. 5; Sohl-Dickstein et al. 2015):

    -log p(x_0) <= L_vlb = L_T + sum_{t=2}^{T} L_{t-1} + L_0,
    L_T     = KL(q(x_T | x_0) || N(0, I))                                  (prior term, no parameters)
    L_{t-1} = KL(q(x_{t-1} | x_t, x_0) || p(x_{t-1} | x_t)),  x_t ~ q(x_t | x_0)
    L_0     = -log p(x_0 | x_1)                                            (discretized Gaussian decoder)

with p(x_{t-1} | x_t) = N(mu(x_t, x0_hat), sigma_t^2 I), mu the posterior mean with x_0 replaced by the network's
estimate and sigma_t^2 in {beta~_t, beta_t} fixed. All terms are summed over dimensions, so L_vlb is in nats per
example; `gen_jax.metrics.likelihood.bits_per_dim` converts it.

Discretized decoder for K levels (the common protocol: digits have K = 17 grey levels 0..16). A level
k in {0, ..., K-1} is placed at y_k = 2 k / (K - 1) - 1 in [-1, 1] (spacing 2 / (K - 1), so 1/8 for K = 17) and
owns the interval [y_k - 1/(K-1), y_k + 1/(K-1)], except that the first and last intervals extend to -inf and
+inf. Then P(k) = Phi((upper - mu) / sigma) - Phi((lower - mu) / sigma) sums to one over the K levels, and
L_0 = -sum_dims log P(k). This is Ho et al.'s decoder (their Eq. 13, with 1/255 -> 1/(K-1)). Because the
decoder is a probability mass function over the K^D images, L_vlb bounds the *discrete* NLL directly: no
dequantization offset is added.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
from jax.scipy.special import log_ndtr

from gen_jax.diffusion import schedules as sch


def _sum_dims(x):
    return jnp.sum(x.reshape(x.shape[0], -1), axis=-1)


def _mean_dims(x):
    return jnp.mean(x.reshape(x.shape[0], -1), axis=-1)


def normal_kl(mean1, logvar1, mean2, logvar2):
    """Elementwise KL(N(mean1, exp(logvar1)) || N(mean2, exp(logvar2))) in nats.

    = 0.5 (logvar2 - logvar1 + exp(logvar1 - logvar2) + (mean1 - mean2)^2 exp(-logvar2) - 1).
    """
    return 0.5 * (logvar2 - logvar1 + jnp.exp(logvar1 - logvar2)
                  + jnp.square(mean1 - mean2) * jnp.exp(-logvar2) - 1.0)


def _log_diff_ndtr(a, b):
    """log(Phi(b) - Phi(a)) for a < b, stable in both tails (mirrors the interval when it lies above 0)."""
    upper_tail = a > 0
    lo = jnp.where(upper_tail, -b, a)
    hi = jnp.where(upper_tail, -a, b)
    log_hi = log_ndtr(hi)
    return log_hi + jnp.log1p(-jnp.exp(jnp.minimum(log_ndtr(lo) - log_hi, -1e-30)))


def discretized_gaussian_log_likelihood(x, mean, log_scale, num_levels: int):
    """Elementwise log P(x) of the discretized Gaussian over K = num_levels levels (module docstring).

    Args:
      x: values on the grid y_k = 2 k / (K - 1) - 1, k = 0..K-1 (e.g. `to_pm1(scale01(levels, K))`).
      mean, log_scale: mean and log standard deviation of the underlying Gaussian.
      num_levels: K >= 2.

    Returns:
      log-probabilities with the shape of x (each <= 0); exp of them sums to one over the K levels.
    """
    if num_levels < 2:
        raise ValueError(f"discretized Gaussian needs num_levels >= 2, got {num_levels}")
    half = 1.0 / (num_levels - 1)
    inv_std = jnp.exp(-log_scale)
    upper = (x - mean + half) * inv_std
    lower = (x - mean - half) * inv_std
    is_first = x < -1.0 + half
    is_last = x > 1.0 - half
    log_cdf_upper = log_ndtr(upper)                 # level 0: P = Phi(upper)
    log_sf_lower = log_ndtr(-lower)                 # level K-1: P = 1 - Phi(lower)
    log_mid = _log_diff_ndtr(jnp.where(is_first | is_last, -1.0, lower), jnp.where(is_first | is_last, 1.0, upper))
    return jnp.where(is_first, log_cdf_upper, jnp.where(is_last, log_sf_lower, log_mid))


def prior_kl(schedule: sch.Schedule, x0):
    """L_T = KL(q(x_T | x_0) || N(0, I)) per example, in nats (no trainable parameters)."""
    t_last = jnp.full((x0.shape[0],), schedule.num_steps - 1, jnp.int32)
    mean, var = sch.q_mean_variance(schedule, x0, t_last)
    return _sum_dims(normal_kl(mean, jnp.log(var), 0.0, 0.0))


def _check_x0(x0):
    if x0.ndim < 2:
        raise ValueError(f"diffusion losses expect a batch x0 of shape [B, ...], got shape {x0.shape}")


def sample_timesteps(rng, batch_size: int, num_steps: int):
    """t ~ Uniform{0, ..., T-1}, one per example."""
    return jax.random.randint(rng, (batch_size,), 0, num_steps)


def simple_loss(denoise_fn, schedule: sch.Schedule, x0, rng, parameterization: str = "eps", t=None):
    """L_simple (Ho et al. 2020, Eq. 14): E_{t, eps} || target - f(x_t, t) ||^2, averaged over dimensions.

    With parameterization 'eps' the target is the noise, exactly Eq. 14; 'x0' regresses the data and 'v'
    regresses v = sqrt(abar) eps - sqrt(1 - abar) x_0 (Salimans & Ho 2022). t ~ U{0..T-1} unless given.

    Returns:
      [B] per-example mean squared error.
    """
    _check_x0(x0)
    rng_t, rng_n = jax.random.split(rng)
    if t is None:
        t = sample_timesteps(rng_t, x0.shape[0], schedule.num_steps)
    noise = jax.random.normal(rng_n, x0.shape, x0.dtype)
    xt = sch.q_sample(schedule, x0, t, noise)
    out = denoise_fn(xt, t)
    return _mean_dims(jnp.square(sch.target(schedule, x0, noise, t, parameterization) - out))


def vlb_term(denoise_fn, schedule: sch.Schedule, x0, t, noise, *, parameterization: str = "eps",
             variance: str = "small", num_levels: int = 256, clip_denoised: bool = False):
    """The bound's term at index t, per example in nats: L_{t} for t >= 1 (KL), L_0 = -log p(x_0|x_1) at t = 0.

    Args:
      x0: data on the K-level grid in [-1, 1].
      t: [B] int indices in 0..T-1.
      noise: eps ~ N(0, I) used to draw x_t = q_sample(x0, t, eps).
      variance: 'small' (beta~_t) or 'large' (beta_t), see `schedules.model_log_variance`.
      clip_denoised: clip x0_hat to [-1, 1] before forming the mean (a different, equally valid model).
    """
    _check_x0(x0)
    xt = sch.q_sample(schedule, x0, t, noise)
    x0_hat, _ = sch.predict_x0_eps(schedule, xt, t, denoise_fn(xt, t), parameterization)
    if clip_denoised:
        x0_hat = jnp.clip(x0_hat, -1.0, 1.0)
    model_mean, _, _ = sch.q_posterior(schedule, x0_hat, xt, t)
    model_logvar = sch.model_log_variance(schedule, t, xt.shape, variance)
    true_mean, _, true_logvar = sch.q_posterior(schedule, x0, xt, t)
    kl = _sum_dims(normal_kl(true_mean, true_logvar, model_mean, model_logvar))
    nll = -_sum_dims(discretized_gaussian_log_likelihood(x0, model_mean, 0.5 * model_logvar, num_levels))
    return jnp.where(t == 0, nll, kl)


def vlb_estimate(denoise_fn, schedule: sch.Schedule, x0, rng, **kwargs):
    """Unbiased one-sample estimate of L_vlb per example: L_T + T * L_t with t ~ U{0..T-1} (nats).

    Because sum_{t=0}^{T-1} L_t = T E_t[L_t]. kwargs are those of `vlb_term`.
    """
    rng_t, rng_n = jax.random.split(rng)
    t = sample_timesteps(rng_t, x0.shape[0], schedule.num_steps)
    noise = jax.random.normal(rng_n, x0.shape, x0.dtype)
    return prior_kl(schedule, x0) + schedule.num_steps * vlb_term(denoise_fn, schedule, x0, t, noise, **kwargs)


def full_vlb(denoise_fn, schedule: sch.Schedule, x0, rng, **kwargs):
    """The whole bound per example, every t evaluated once with `lax.scan` (T network calls per example).

    Returns:
      dict of [B] arrays in nats: 'prior' (L_T), 'decoder' (L_0), 'diffusion' (sum of the KL terms t >= 1) and
      'total' = prior + diffusion + decoder, an upper bound on -log P(x_0) of the discrete data.
    """
    _check_x0(x0)
    b = x0.shape[0]
    keys = jax.random.split(rng, schedule.num_steps)

    def body(acc, inp):
        t_scalar, key = inp
        t = jnp.full((b,), t_scalar, jnp.int32)
        noise = jax.random.normal(key, x0.shape, x0.dtype)
        term = vlb_term(denoise_fn, schedule, x0, t, noise, **kwargs)
        return acc, term

    _, terms = jax.lax.scan(body, None, (jnp.arange(schedule.num_steps), keys))  # [T, B]
    prior = prior_kl(schedule, x0)
    decoder = terms[0]
    diffusion = jnp.sum(terms[1:], axis=0)
    return {"prior": prior, "decoder": decoder, "diffusion": diffusion, "total": prior + decoder + diffusion}


def gaussian_optimal_eps(schedule: sch.Schedule, mean, cov):
    """The MMSE noise predictor E[eps | x_t] when x_0 ~ N(mean, cov): a reference denoiser for tests and demos.

    With x_t = a x_0 + s eps (a = sqrt(abar_t), s = sqrt(1 - abar_t)), x_t ~ N(a mean, C_t), C_t = a^2 cov + s^2 I,
    and E[eps | x_t] = s C_t^{-1} (x_t - a mean). Returns a `denoise_fn(x_t, t)` for x of shape [B, D].
    """
    mean = jnp.asarray(mean, jnp.float32)
    cov = jnp.asarray(cov, jnp.float32)
    eye = jnp.eye(mean.shape[0], dtype=jnp.float32)

    def denoise_fn(xt, t):
        a = jnp.take(schedule.sqrt_alpha_bars, t)[:, None, None]
        s = jnp.take(schedule.sqrt_one_minus_alpha_bars, t)[:, None, None]
        c = a ** 2 * cov[None] + s ** 2 * eye[None]
        r = xt - a[:, :, 0] * mean[None]
        return s[:, :, 0] * jnp.linalg.solve(c, r[..., None])[..., 0]

    return denoise_fn


__all__ = [
    "normal_kl", "discretized_gaussian_log_likelihood", "prior_kl", "simple_loss", "vlb_term",
    "vlb_estimate", "full_vlb", "gaussian_optimal_eps", "sample_timesteps",
]
