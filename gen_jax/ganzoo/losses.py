"""Per-example losses of the GAN zoo (pure functions: [B, ...] in, [B] out).

Papers:
  * Schlegl et al. 2017, "Unsupervised Anomaly Detection with Generative Adversarial Networks to Guide
    Marker Discovery" (AnoGAN), Sec. 2.2: residual loss, discrimination loss, anomaly score.
"""
from __future__ import annotations

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
