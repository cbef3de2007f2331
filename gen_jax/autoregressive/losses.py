"""Exact likelihoods of autoregressive image models, per example.

An autoregressive model factors the probability of a discrete image x (H x W pixels, C channels, K levels)
over sub-pixels in raster order, channels R < G < B inside a pixel (van den Oord et al. 2016a):

    log p(x) = sum_{i=1}^{H W} sum_{c=1}^{C} log p(x_{i,c} | x_{<i}, x_{i,<c}).

The functions here turn the network outputs into per-sub-pixel log-probabilities and per-example negative
log-likelihoods in nats ([B] in, [B] out). Bits per dimension is nats / (H W C ln 2)
(`gen_jax.metrics.likelihood.bits_per_dim`). Both heads give exact discrete likelihoods, so under the
common protocol (`gen_jax.metrics.likelihood`) the figures are exact, not bounds.

Heads:
* categorical: a K-way softmax per sub-pixel (K = 256 for 8-bit images, 17 for digits, 2 for binarized).
* discretized logistic mixture (Salimans et al. 2017, "PixelCNN++", Sec. 2.1-2.2): per pixel, a mixture of
  M logistics over the pixel's C channels with linear coupling of the means (G depends on R, B on R and G),
  integrated over the K bins of width 2 / (K - 1) on [-1, 1], the edge bins extended to -inf and +inf.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from gen_jax.metrics.likelihood import bits_per_dim  # noqa: F401  (re-exported for callers)

HEADS = ("categorical", "logistic_mixture")
MIN_LOG_SCALE = -7.0


def _check_x(x, num_levels):
    if x.ndim != 4:
        raise ValueError(f"images must be [B, H, W, C] integer levels, got shape {x.shape}")
    if not jnp.issubdtype(x.dtype, jnp.integer):
        raise ValueError(f"images must hold integer levels 0..{num_levels - 1}, got dtype {x.dtype}")


def categorical_log_probs(logits, num_channels: int, num_levels: int):
    """Log-softmax over the K levels: logits [..., C*K] (channel-major) -> log-probs [..., C, K]."""
    if logits.shape[-1] != num_channels * num_levels:
        raise ValueError(f"categorical head needs C*K = {num_channels}*{num_levels} outputs per pixel, "
                         f"got {logits.shape[-1]}")
    logits = logits.reshape(logits.shape[:-1] + (num_channels, num_levels))
    return jax.nn.log_softmax(logits, axis=-1)


def categorical_nll(logits, x, num_levels: int):
    """-log p(x) = -sum_{i,c} log softmax(logits_{i,c})[x_{i,c}], per example.

    Args:
      logits: [B, H, W, C*K] network outputs.
      x: [B, H, W, C] integer levels in 0..K-1.
      num_levels: K.
    Returns:
      [B] negative log-likelihood in nats.
    """
    _check_x(x, num_levels)
    logp = categorical_log_probs(logits, x.shape[-1], num_levels)
    picked = jnp.take_along_axis(logp, x[..., None].astype(jnp.int32), axis=-1)[..., 0]
    return -jnp.sum(picked, axis=(1, 2, 3))


# ----------------------------------------------------------------------------------------------------------
# Discretized logistic mixture.


def logistic_mixture_num_params(num_channels: int, num_mixtures: int) -> int:
    """Outputs per pixel: M mixture logits, C*M means, C*M log-scales, C(C-1)/2*M coupling coefficients."""
    return num_mixtures * (1 + 2 * num_channels + num_channels * (num_channels - 1) // 2)


def _split_mixture_params(params, num_channels, num_mixtures):
    c, m = num_channels, num_mixtures
    if params.shape[-1] != logistic_mixture_num_params(c, m):
        raise ValueError(f"logistic mixture with C={c}, M={m} needs {logistic_mixture_num_params(c, m)} "
                         f"outputs per pixel, got {params.shape[-1]}")
    lead = params.shape[:-1]
    logit_pi = params[..., :m]
    rest = params[..., m:]
    means = rest[..., : c * m].reshape(lead + (c, m))
    log_scales = jnp.maximum(rest[..., c * m: 2 * c * m].reshape(lead + (c, m)), MIN_LOG_SCALE)
    coeffs = jnp.tanh(rest[..., 2 * c * m:].reshape(lead + (c * (c - 1) // 2, m)))
    return logit_pi, means, log_scales, coeffs


def _coupled_means(means, coeffs, x01):
    """mu_c + sum_{c'<c} coeff_{c,c'} x_{c'}; x01 [..., C] in [-1, 1] scale. Returns [..., C, M]."""
    c = means.shape[-2]
    out = [means[..., 0, :]]
    k = 0
    for ch in range(1, c):
        mu = means[..., ch, :]
        for prev in range(ch):
            mu = mu + coeffs[..., k, :] * x01[..., prev, None]
            k += 1
        out.append(mu)
    return jnp.stack(out, axis=-2)


def discretized_logistic_log_prob(v, mean, log_scale, num_levels: int):
    """log P(bin v) of a logistic(mean, scale) discretized into K bins on [-1, 1].

    Bin v (0..K-1) has centre y = 2v/(K-1) - 1 and half-width h = 1/(K-1); the first bin extends to -inf,
    the last to +inf. With a = (y + h - mean)/s, b = (y - h - mean)/s and sigma the logistic sigmoid,

        P = sigma(a) - sigma(b) = sigma(a) sigma(-b) (1 - exp(-(a - b))),

    so log P = log sigma(a) + log sigma(-b) + log(-expm1(-2h/s)): every term is computed without
    cancellation, for any mean (edge bins included) and for arbitrarily small scales. For the edge bins
    the missing factor is dropped: log P = log sigma(a) (first) or log sigma(-b) (last).
    """
    h = 1.0 / (num_levels - 1)
    y = 2.0 * v / (num_levels - 1) - 1.0
    inv_s = jnp.exp(-log_scale)
    a = (y + h - mean) * inv_s
    b = (y - h - mean) * inv_s
    log_sig_a = jax.nn.log_sigmoid(a)
    log_sig_neg_b = jax.nn.log_sigmoid(-b)
    log_width = jnp.log(-jnp.expm1(-2.0 * h * inv_s))
    interior = log_sig_a + log_sig_neg_b + log_width
    return jnp.where(v <= 0, log_sig_a, jnp.where(v >= num_levels - 1, log_sig_neg_b, interior))


def logistic_mixture_nll(params, x, num_levels: int, num_mixtures: int):
    """-log p(x) under a discretized logistic mixture per pixel (Salimans et al. 2017, eq. 2-3), per example.

        p(x_i) = sum_m pi_m prod_c P_logistic(x_{i,c}; mu_{m,c}(x_{i,<c}), s_{m,c}),

    with mu_{m,c} linear in the earlier channels of the same pixel. Args: params [B, H, W, P], x [B, H, W, C]
    integer levels, K, M. Returns [B] nats.
    """
    _check_x(x, num_levels)
    c = x.shape[-1]
    logit_pi, means, log_scales, coeffs = _split_mixture_params(params, c, num_mixtures)
    x01 = 2.0 * x.astype(params.dtype) / (num_levels - 1) - 1.0
    mu = _coupled_means(means, coeffs, x01)
    lp = discretized_logistic_log_prob(x[..., None].astype(params.dtype), mu, log_scales, num_levels)
    log_mix = jax.nn.log_softmax(logit_pi, axis=-1) + jnp.sum(lp, axis=-2)   # [B, H, W, M]
    return -jnp.sum(jax.nn.logsumexp(log_mix, axis=-1), axis=(1, 2))


def logistic_mixture_log_probs(params, x, num_levels: int, num_mixtures: int):
    """Per-sub-pixel conditionals log p(x_c = k | x_{<c}) for all k: [..., C, K].

    Conditioning on the earlier channels of the same pixel reweights the mixture components by how well
    they explain those channels: log p(x_c = k | x_<c) = logsumexp_m(w_m + log P_m(k | x_<c)) - logsumexp_m w_m,
    w_m = log pi_m + sum_{c'<c} log P_m(x_c'). Summing the log-conditionals at x gives the joint above.
    Used by the samplers; `x` supplies the earlier channels (its channel c and later are ignored for c).
    """
    c = x.shape[-1]
    logit_pi, means, log_scales, coeffs = _split_mixture_params(params, c, num_mixtures)
    x01 = 2.0 * x.astype(params.dtype) / (num_levels - 1) - 1.0
    mu = _coupled_means(means, coeffs, x01)                                        # [..., C, M]
    lp_x = discretized_logistic_log_prob(x[..., None].astype(params.dtype), mu, log_scales, num_levels)
    w = jax.nn.log_softmax(logit_pi, axis=-1)[..., None, :] + jnp.cumsum(lp_x, axis=-2) - lp_x  # [..., C, M]
    levels = jnp.arange(num_levels, dtype=params.dtype)
    lp_all = discretized_logistic_log_prob(levels, mu[..., None], log_scales[..., None], num_levels)
    num = jax.nn.logsumexp(w[..., None] + lp_all, axis=-2)                         # [..., C, K]
    return num - jax.nn.logsumexp(w, axis=-1)[..., None]


def head_log_probs(head: str, outputs, x, num_levels: int, num_mixtures: int = 0):
    """Per-sub-pixel conditional log-probabilities [..., C, K] for either head (used by the samplers)."""
    if head == "categorical":
        return categorical_log_probs(outputs, x.shape[-1], num_levels)
    if head == "logistic_mixture":
        return logistic_mixture_log_probs(outputs, x, num_levels, num_mixtures)
    raise ValueError(f"unknown head {head!r}; expected one of {HEADS}")


def head_nll(head: str, outputs, x, num_levels: int, num_mixtures: int = 0):
    """Per-example exact NLL in nats for either head."""
    if head == "categorical":
        return categorical_nll(outputs, x, num_levels)
    if head == "logistic_mixture":
        return logistic_mixture_nll(outputs, x, num_levels, num_mixtures)
    raise ValueError(f"unknown head {head!r}; expected one of {HEADS}")
