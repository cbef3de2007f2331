"""Samplers compiled with `lax.scan`: ancestral DDPM and DDIM, plus classifier-free guidance.

Each sampler takes a `denoise_fn(x_t, t) -> network output` (t an int32 array [B]), a `Schedule`, a key and
either a shape or a starting x_T, and returns x_0 of that shape. The loop over time steps is one `lax.scan`,
so a whole sampler jits into one program and runs the network T (or S) times without Python overhead.

* DDPM (Ho et al. 2020, Algorithm 2): x_{t-1} = mu(x_t, x0_hat) + sigma_t z with sigma_t^2 = beta~_t ('small')
  or beta_t ('large'); no noise is added at the last step.
* DDIM (Song, Meng & Ermon 2021, Eq. 12): on a sub-sequence tau_S > ... > tau_1 of the T steps,
      x_{prev} = sqrt(abar_prev) x0_hat + sqrt(1 - abar_prev - sigma^2) eps_hat + sigma z,
      sigma = eta sqrt((1 - abar_prev) / (1 - abar_t)) sqrt(1 - abar_t / abar_prev)      (Eq. 16),
  so eta = 0 is the deterministic DDIM and eta = 1 with all T steps is exactly ancestral DDPM with beta~_t.
* Classifier-free guidance (Ho & Salimans 2021, Eq. 6): eps~ = (1 + w) eps(x_t, c) - w eps(x_t, null).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np

from gen_jax.diffusion import schedules as sch


def _start(rng, shape, x_T):
    if x_T is not None:
        return rng, jnp.asarray(x_T, jnp.float32)
    if shape is None:
        raise ValueError("sampler: give either `shape` or a starting `x_T`")
    rng, sub = jax.random.split(rng)
    return rng, jax.random.normal(sub, tuple(shape), jnp.float32)


def ddpm_sample(denoise_fn, schedule: sch.Schedule, rng, shape=None, *, x_T=None, parameterization: str = "eps",
                variance: str = "small", clip_denoised: bool = True):
    """Ancestral sampling through all T steps (Ho et al. 2020, Algorithm 2).

    Args:
      denoise_fn: (x_t, t[B]) -> network output under `parameterization`.
      shape: [B, ...] of the samples (ignored when x_T is given).
      x_T: optional starting noise; then the result is a deterministic function of (x_T, rng).
      variance: 'small' (sigma^2 = beta~_t) or 'large' (sigma^2 = beta_t).
      clip_denoised: clip x0_hat to [-1, 1] at each step (right for images scaled to [-1, 1]).
    """
    if variance not in ("small", "large"):
        raise ValueError(f"unknown DDPM variance {variance!r}; expected 'small' or 'large'")
    rng, x = _start(rng, shape, x_T)
    b = x.shape[0]
    keys = jax.random.split(rng, schedule.num_steps)
    ts = jnp.arange(schedule.num_steps - 1, -1, -1, dtype=jnp.int32)

    def body(x, inp):
        t_scalar, key = inp
        t = jnp.full((b,), t_scalar, jnp.int32)
        x0_hat, _ = sch.predict_x0_eps(schedule, x, t, denoise_fn(x, t), parameterization)
        if clip_denoised:
            x0_hat = jnp.clip(x0_hat, -1.0, 1.0)
        mean, _, _ = sch.q_posterior(schedule, x0_hat, x, t)
        logvar = sch.model_log_variance(schedule, t, x.shape, variance)
        z = jax.random.normal(key, x.shape, x.dtype)
        x = mean + jnp.where(t_scalar > 0, 1.0, 0.0) * jnp.exp(0.5 * logvar) * z
        return x, None

    x, _ = jax.lax.scan(body, x, (ts, keys[::-1]))
    return x


def ddim_timesteps(num_steps: int, num_sample_steps: int) -> np.ndarray:
    """S increasing indices in 0..T-1, evenly spaced, always containing 0 and T-1 (all T when S = T)."""
    if not 1 <= num_sample_steps <= num_steps:
        raise ValueError(f"DDIM needs 1 <= num_sample_steps <= T, got {num_sample_steps} with T={num_steps}")
    if num_sample_steps == 1:
        return np.asarray([num_steps - 1])
    steps = np.round(np.linspace(0, num_steps - 1, num_sample_steps)).astype(np.int32)
    return np.unique(steps)


def ddim_sample(denoise_fn, schedule: sch.Schedule, rng, shape=None, *, x_T=None, num_sample_steps: int = 50,
                eta: float = 0.0, parameterization: str = "eps", clip_denoised: bool = True):
    """DDIM sampling on `num_sample_steps` evenly spaced steps with stochasticity eta in [0, 1] (module docstring).

    eta = 0 gives a deterministic map from x_T to x_0 (the key is then unused after drawing x_T).
    When x0_hat is clipped, eps_hat is recomputed from it so that the update stays on the same line.
    """
    if not 0.0 <= float(eta) <= 1.0:
        raise ValueError(f"DDIM eta must be in [0, 1], got {eta}")
    taus = ddim_timesteps(schedule.num_steps, num_sample_steps)
    prevs = np.append(-1, taus[:-1])
    rng, x = _start(rng, shape, x_T)
    b = x.shape[0]
    keys = jax.random.split(rng, len(taus))
    abar = schedule.alpha_bars

    def body(x, inp):
        t_scalar, prev_scalar, key = inp
        t = jnp.full((b,), t_scalar, jnp.int32)
        x0_hat, eps_hat = sch.predict_x0_eps(schedule, x, t, denoise_fn(x, t), parameterization)
        abar_t = abar[t_scalar]
        one_minus_abar_t = schedule.one_minus_alpha_bars[t_scalar]
        abar_prev = jnp.where(prev_scalar >= 0, abar[jnp.maximum(prev_scalar, 0)], 1.0)
        if clip_denoised:
            x0_hat = jnp.clip(x0_hat, -1.0, 1.0)
            eps_hat = (x - jnp.sqrt(abar_t) * x0_hat) / jnp.sqrt(one_minus_abar_t)
        sigma = eta * jnp.sqrt((1.0 - abar_prev) / one_minus_abar_t * (1.0 - abar_t / abar_prev))
        z = jax.random.normal(key, x.shape, x.dtype)
        direction = jnp.sqrt(jnp.maximum(1.0 - abar_prev - sigma ** 2, 0.0))
        x = jnp.sqrt(abar_prev) * x0_hat + direction * eps_hat + sigma * z
        return x, None

    xs = (jnp.asarray(taus[::-1], jnp.int32), jnp.asarray(prevs[::-1], jnp.int32), keys)
    x, _ = jax.lax.scan(body, x, xs)
    return x


def classifier_free_guidance(cond_fn, labels, null_label: int, guidance_scale: float):
    """A denoise_fn that applies classifier-free guidance (Ho & Salimans 2021, Eq. 6).

    Args:
      cond_fn: (x_t, t, labels) -> output of a network trained with label dropout to `null_label`.
      labels: [B] int class of each sample.
      null_label: the index that stands for "no class".
      guidance_scale: w >= 0; w = 0 is plain conditional sampling.

    Returns:
      denoise_fn(x_t, t) = (1 + w) f(x_t, t, c) - w f(x_t, t, null), one batched call of width 2B. The
      combination is linear, so it is the same for the eps, x0 and v parameterizations.
    """
    if guidance_scale < 0:
        raise ValueError(f"guidance_scale must be >= 0, got {guidance_scale}")
    labels = jnp.asarray(labels, jnp.int32)

    def denoise_fn(x, t):
        b = x.shape[0]
        both = cond_fn(jnp.concatenate([x, x]), jnp.concatenate([t, t]),
                       jnp.concatenate([labels, jnp.full((b,), null_label, jnp.int32)]))
        cond, uncond = both[:b], both[b:]
        return (1.0 + guidance_scale) * cond - guidance_scale * uncond

    return denoise_fn
