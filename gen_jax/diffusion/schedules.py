"""Noise schedules and the Gaussian algebra of the forward process (Ho et al. 2020, "Denoising Diffusion
Probabilistic Models", Sec. 2 and Eqs. 4, 6, 7; Nichol & Dhariwal 2021, "Improved DDPM", Eq. 17).

Indexing convention: arrays are indexed by ``t = 0 .. T-1``, and index ``t`` holds the quantity the paper
writes for step ``t + 1``. So ``betas[0]`` is the paper's beta_1, ``alpha_bars[T-1]`` is alpha-bar_T, and the
"previous" cumulative product of index 0 is alpha-bar_0 = 1 (x_0 is the data).

The forward process is q(x_t | x_{t-1}) = N(sqrt(alpha_t) x_{t-1}, beta_t I) with alpha_t = 1 - beta_t, so

    q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I),                abar_t = prod_{s<=t} alpha_s   (Eq. 4)
    q(x_{t-1} | x_t, x_0) = N(c1_t x_0 + c2_t x_t, beta~_t I),                                      (Eqs. 6-7)
        c1_t = beta_t sqrt(abar_{t-1}) / (1 - abar_t),  c2_t = sqrt(alpha_t) (1 - abar_{t-1}) / (1 - abar_t),
        beta~_t = beta_t (1 - abar_{t-1}) / (1 - abar_t).

All coefficients are computed once in float64 NumPy and stored as float32 arrays in a `Schedule` pytree, so a
schedule can be closed over or passed through `jax.jit` / `lax.scan` like any other array.
"""
from __future__ import annotations

import math

import flax.struct
import jax
import jax.numpy as jnp
import numpy as np

SCHEDULES = ("linear", "cosine")


def linear_betas(num_steps: int, beta_start: float | None = None, beta_end: float | None = None) -> np.ndarray:
    """The linear schedule of DDPM: beta_1 = 1e-4 to beta_T = 0.02 for T = 1000 (Ho et al. 2020, Sec. 4).

    For other T the end points are scaled by 1000 / T (Nichol & Dhariwal 2021, their `get_named_beta_schedule`),
    which keeps abar_T, hence the prior term, about the same as with T = 1000. Explicit end points override it.
    """
    if num_steps < 1:
        raise ValueError(f"linear_betas: num_steps must be >= 1, got {num_steps}")
    scale = 1000.0 / num_steps
    b0 = scale * 1e-4 if beta_start is None else float(beta_start)
    b1 = scale * 0.02 if beta_end is None else float(beta_end)
    if not 0.0 < b0 <= b1 < 1.0:
        raise ValueError(f"linear_betas: need 0 < beta_start <= beta_end < 1, got {b0}, {b1} "
                         f"(T={num_steps} is too small for the scaled DDPM end points)" )
    return np.linspace(b0, b1, num_steps, dtype=np.float64)


def cosine_betas(num_steps: int, s: float = 0.008, max_beta: float = 0.999) -> np.ndarray:
    """The cosine schedule (Nichol & Dhariwal 2021, Eq. 17): abar(t) = f(t) / f(0), f(t) = cos^2(pi/2 (t/T + s)/(1 + s)).

    beta_t = min(1 - abar(t) / abar(t - 1), max_beta); the clip at 0.999 avoids the singularity at t = T.
    """
    if num_steps < 1:
        raise ValueError(f"cosine_betas: num_steps must be >= 1, got {num_steps}")
    f = lambda u: math.cos((u + s) / (1.0 + s) * math.pi / 2.0) ** 2  # noqa: E731
    betas = [min(1.0 - f((i + 1) / num_steps) / f(i / num_steps), max_beta) for i in range(num_steps)]
    return np.asarray(betas, dtype=np.float64)


class Schedule(flax.struct.PyTreeNode):
    """Precomputed per-step coefficients of a diffusion process, each an array of shape [T] (float32).

    Index t holds the paper's step t + 1 (module docstring). `posterior_log_variance_clipped[0]` uses
    beta~ of index 1 because beta~ of index 0 is zero (x_0 is then known exactly), as in Ho et al.'s code.
    """

    betas: jax.Array
    alphas: jax.Array
    alpha_bars: jax.Array
    alpha_bars_prev: jax.Array
    one_minus_alpha_bars: jax.Array
    sqrt_alpha_bars: jax.Array
    sqrt_one_minus_alpha_bars: jax.Array
    posterior_variance: jax.Array
    posterior_log_variance_clipped: jax.Array
    posterior_mean_coef1: jax.Array
    posterior_mean_coef2: jax.Array

    @property
    def num_steps(self) -> int:
        return self.betas.shape[0]

    @classmethod
    def from_betas(cls, betas) -> "Schedule":
        """Derives every coefficient from betas in float64, then stores float32 arrays."""
        betas = np.asarray(betas, dtype=np.float64)
        if betas.ndim != 1 or betas.size < 1:
            raise ValueError(f"Schedule.from_betas: betas must be a non-empty 1-D array, got shape {betas.shape}")
        if not np.all(np.isfinite(betas)) or np.any(betas <= 0) or np.any(betas >= 1):
            raise ValueError("Schedule.from_betas: every beta must be finite and in (0, 1)")
        alphas = 1.0 - betas
        abar = np.cumprod(alphas)
        abar_prev = np.append(1.0, abar[:-1])
        post_var = betas * (1.0 - abar_prev) / (1.0 - abar)
        post_logvar = np.log(np.append(post_var[1], post_var[1:])) if betas.size > 1 else np.log(betas)
        f32 = lambda a: jnp.asarray(a, jnp.float32)  # noqa: E731
        return cls(
            betas=f32(betas), alphas=f32(alphas), alpha_bars=f32(abar), alpha_bars_prev=f32(abar_prev),
            one_minus_alpha_bars=f32(1.0 - abar),
            sqrt_alpha_bars=f32(np.sqrt(abar)), sqrt_one_minus_alpha_bars=f32(np.sqrt(1.0 - abar)),
            posterior_variance=f32(post_var), posterior_log_variance_clipped=f32(post_logvar),
            posterior_mean_coef1=f32(betas * np.sqrt(abar_prev) / (1.0 - abar)),
            posterior_mean_coef2=f32(np.sqrt(alphas) * (1.0 - abar_prev) / (1.0 - abar)),
        )


def make_schedule(name: str, num_steps: int, **kwargs) -> Schedule:
    """A `Schedule` by name: 'linear' (DDPM) or 'cosine' (Improved DDPM); kwargs go to the beta function."""
    if name == "linear":
        return Schedule.from_betas(linear_betas(num_steps, **kwargs))
    if name == "cosine":
        return Schedule.from_betas(cosine_betas(num_steps, **kwargs))
    raise ValueError(f"unknown noise schedule {name!r}; expected one of {SCHEDULES}")


def extract(arr, t, x_shape):
    """arr[t] reshaped to broadcast against a batch of shape x_shape: [B] -> [B, 1, ..., 1]."""
    t = jnp.asarray(t)
    out = jnp.take(arr, t, axis=0)
    return out.reshape(out.shape + (1,) * (len(x_shape) - out.ndim))


# ----------------------------------------------------------------------------------------- forward process


def q_mean_variance(schedule: Schedule, x0, t):
    """Mean and variance of q(x_t | x_0) = N(sqrt(abar_t) x_0, (1 - abar_t) I) (Ho et al. 2020, Eq. 4)."""
    mean = extract(schedule.sqrt_alpha_bars, t, x0.shape) * x0
    var = extract(schedule.one_minus_alpha_bars, t, x0.shape)
    return mean, jnp.broadcast_to(var, x0.shape)


def q_sample(schedule: Schedule, x0, t, noise):
    """x_t = sqrt(abar_t) x_0 + sqrt(1 - abar_t) eps: a draw from q(x_t | x_0) given eps ~ N(0, I)."""
    return (extract(schedule.sqrt_alpha_bars, t, x0.shape) * x0
            + extract(schedule.sqrt_one_minus_alpha_bars, t, x0.shape) * noise)


def q_posterior(schedule: Schedule, x0, xt, t):
    """Mean, variance and clipped log-variance of q(x_{t-1} | x_t, x_0) (Ho et al. 2020, Eqs. 6-7)."""
    mean = (extract(schedule.posterior_mean_coef1, t, xt.shape) * x0
            + extract(schedule.posterior_mean_coef2, t, xt.shape) * xt)
    var = jnp.broadcast_to(extract(schedule.posterior_variance, t, xt.shape), xt.shape)
    logvar = jnp.broadcast_to(extract(schedule.posterior_log_variance_clipped, t, xt.shape), xt.shape)
    return mean, var, logvar


def model_log_variance(schedule: Schedule, t, x_shape, kind: str = "small"):
    """Log-variance of the fixed reverse process p(x_{t-1} | x_t) (Ho et al. 2020, Sec. 3.2).

    kind='small': sigma_t^2 = beta~_t (optimal when x_0 is a point mass); kind='large': sigma_t^2 = beta_t
    (optimal for x_0 ~ N(0, I)). At index 0 both use beta~ of index 1, as in the reference implementation,
    which is the variance of the discretized decoder p(x_0 | x_1).
    """
    if kind == "small":
        logvar = schedule.posterior_log_variance_clipped
    elif kind == "large":
        logvar = jnp.log(jnp.concatenate([schedule.posterior_variance[1:2], schedule.betas[1:]]))
    else:
        raise ValueError(f"unknown reverse variance {kind!r}; expected 'small' (beta-tilde) or 'large' (beta)")
    return jnp.broadcast_to(extract(logvar, t, x_shape), x_shape)


# ------------------------------------------------------------------------------------- parameterizations

PARAMETERIZATIONS = ("eps", "x0", "v")


def predict_x0_eps(schedule: Schedule, xt, t, output, parameterization: str = "eps"):
    """(x0_hat, eps_hat) from a network output under the epsilon, x_0 or v parameterization.

    eps (Ho et al. 2020): x0 = (x_t - sqrt(1 - abar) eps) / sqrt(abar).
    x0: eps = (x_t - sqrt(abar) x0) / sqrt(1 - abar).
    v (Salimans & Ho 2022, "Progressive distillation", Sec. 4): v = sqrt(abar) eps - sqrt(1 - abar) x0, so
      x0 = sqrt(abar) x_t - sqrt(1 - abar) v and eps = sqrt(1 - abar) x_t + sqrt(abar) v.
    """
    a = extract(schedule.sqrt_alpha_bars, t, xt.shape)
    s = extract(schedule.sqrt_one_minus_alpha_bars, t, xt.shape)
    if parameterization == "eps":
        return (xt - s * output) / a, output
    if parameterization == "x0":
        return output, (xt - a * output) / s
    if parameterization == "v":
        return a * xt - s * output, s * xt + a * output
    raise ValueError(f"unknown parameterization {parameterization!r}; expected one of {PARAMETERIZATIONS}")


def target(schedule: Schedule, x0, noise, t, parameterization: str = "eps"):
    """The regression target of each parameterization: eps, x_0, or v = sqrt(abar) eps - sqrt(1 - abar) x_0."""
    if parameterization == "eps":
        return noise
    if parameterization == "x0":
        return x0
    if parameterization == "v":
        return (extract(schedule.sqrt_alpha_bars, t, x0.shape) * noise
                - extract(schedule.sqrt_one_minus_alpha_bars, t, x0.shape) * x0)
    raise ValueError(f"unknown parameterization {parameterization!r}; expected one of {PARAMETERIZATIONS}")
