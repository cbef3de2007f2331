"""Per-example losses of the GAN zoo (pure functions: [B, ...] in, [B] out).

Papers:
  * Schlegl et al. 2017, "Unsupervised Anomaly Detection with Generative Adversarial Networks to Guide
    Marker Discovery" (AnoGAN), Sec. 2.2: residual loss, discrimination loss, anomaly score.
  * Taigman, Polyak & Wolf 2017, "Unsupervised Cross-Domain Image Generation" (DTN), Sec. 3: the three-way
    discriminator, f-constancy, the target identity (TID) loss and total-variation smoothing. (Only the
    losses are here so far; the DTN experiment is not written yet.)
"""
from __future__ import annotations

import jax
import jax.numpy as jnp


def _flat(a):
    return a.reshape(a.shape[0], -1)


def _check_pair(name, a, b):
    if a.shape != b.shape:
        raise ValueError(f"{name}: the two inputs must have the same shape, got {a.shape} and {b.shape}")
    if a.ndim < 2:
        raise ValueError(f"{name}: expected per-example arrays [batch, ...], got shape {a.shape}")


def residual_loss(x, gz):
    """AnoGAN residual loss R(z) = sum |x - G(z)| (Schlegl et al. 2017, Eq. 3), the L1 distance over every
    pixel of one example. x, gz: [B, ...] images in the generator's output space. Returns [B]."""
    _check_pair("residual_loss", x, gz)
    return jnp.sum(jnp.abs(_flat(x) - _flat(gz)), -1)


def discrimination_loss(fx, fgz):
    """AnoGAN discrimination loss D(z) = sum |f(x) - f(G(z))| (Schlegl et al. 2017, Eq. 5, the feature-matching
    form of Salimans et al. 2016): the L1 distance of the discriminator's intermediate features f.
    fx, fgz: [B, ...] features. Returns [B]."""
    _check_pair("discrimination_loss", fx, fgz)
    return jnp.sum(jnp.abs(_flat(fx) - _flat(fgz)), -1)


def anogan_loss(x, gz, fx, fgz, lam: float = 0.1):
    """L(z) = (1 - lambda) R(z) + lambda D(z) (Schlegl et al. 2017, Eq. 6; lambda = 0.1 in the paper).

    Minimised over z by the latent search; its value at the last step is the anomaly score A(x) (Eq. 10).
    Returns [B]."""
    if not 0.0 <= lam <= 1.0:
        raise ValueError(f"anogan_loss: lambda must be in [0, 1], got {lam}")
    return (1.0 - lam) * residual_loss(x, gz) + lam * discrimination_loss(fx, fgz)


# ----------------------------------------------------------------------------------------------------------
# DTN (Taigman, Polyak & Wolf 2017, "Unsupervised Cross-Domain Image Generation"), Sec. 3 / Eqs. 2-7.
# G = g o f with f a fixed feature extractor trained on the source domain s; t is the target domain.
# ----------------------------------------------------------------------------------------------------------

def f_constancy_loss(fx, fgfx):
    """L_CONST per source example: ||f(x) - f(g(f(x)))||^2 (Taigman et al. 2017, Eq. 5, d = squared L2).
    fx, fgfx: [B, ...] features. Returns [B]."""
    _check_pair("f_constancy_loss", fx, fgfx)
    return jnp.sum((_flat(fx) - _flat(fgfx)) ** 2, -1)


def tid_loss(t, gft):
    """L_TID per target example: ||t - g(f(t))||^2, G is the identity on the target domain (Eq. 6, d_2 =
    squared L2). t, gft: [B, ...] images. Returns [B]."""
    _check_pair("tid_loss", t, gft)
    return jnp.sum((_flat(t) - _flat(gft)) ** 2, -1)


def total_variation(z, beta: float = 1.0):
    """L_TV per image: sum_{i,j} ((z_{i,j+1} - z_{i,j})^2 + (z_{i+1,j} - z_{i,j})^2)^(beta/2) (Eq. 7, B = 1 in
    the paper), over the pixels (i, j) with both neighbours and every channel. z: [B, H, W, C]. Returns [B].
    The gradient is taken as 0 where both differences vanish (the kink of the square root at 0)."""
    if z.ndim != 4:
        raise ValueError(f"total_variation: expected images [B, H, W, C], got shape {z.shape}")
    dx = z[:, :-1, 1:, :] - z[:, :-1, :-1, :]
    dy = z[:, 1:, :-1, :] - z[:, :-1, :-1, :]
    s = dx ** 2 + dy ** 2
    pos = s > 0
    safe = jnp.where(pos, s, 1.0)
    return jnp.sum(jnp.where(pos, safe ** (0.5 * beta), 0.0).reshape(z.shape[0], -1), -1)


def _three_way(name, *logits):
    for lg in logits:
        if lg.ndim != 2 or lg.shape[-1] != 3:
            raise ValueError(f"{name}: expected three-way logits [batch, 3], got shape {lg.shape}")


def dtn_discriminator_loss(logits_g_source, logits_g_target, logits_target):
    """L_D per example (Eq. 2): -log D_1(g(f(x_s))) - log D_2(g(f(x_t))) - log D_3(x_t), D a three-way softmax:
    class 0 = generated from a source image, 1 = generated from a target image, 2 = a real target image.
    Example i of each [B, 3] batch forms one term. Returns [B]."""
    _three_way("dtn_discriminator_loss", logits_g_source, logits_g_target, logits_target)
    ls = lambda lg, k: jax.nn.log_softmax(lg, -1)[:, k]
    return -ls(logits_g_source, 0) - ls(logits_g_target, 1) - ls(logits_target, 2)


def dtn_generator_adversarial_loss(logits_g_source, logits_g_target):
    """L_GANG per example (Eq. 3): -log D_3(g(f(x_s))) - log D_3(g(f(x_t))): both translations should be
    taken for real target images. Returns [B]."""
    _three_way("dtn_generator_adversarial_loss", logits_g_source, logits_g_target)
    return -jax.nn.log_softmax(logits_g_source, -1)[:, 2] - jax.nn.log_softmax(logits_g_target, -1)[:, 2]
