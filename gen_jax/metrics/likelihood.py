"""Likelihood bookkeeping shared by every explicit density model.

The common protocol (shared/DESIGN.md): every explicit density model reports the negative log-likelihood of
the *discrete* test images in nats per image and in bits per dimension. Conversions live here, in one place.

* A discrete model (categorical or discretized-logistic outputs) gives -log P(x) exactly.
* A continuous density p on [0, 1]^D evaluated on uniformly dequantized data y = (x + u) / K gives, by Jensen,
  -log P(x) <= E_u[-log p(y)] + D log K  (Theis et al. 2016, "A note on the evaluation of generative models").
  `dequantized_nll` applies the D log K term, so the reported figure is an upper bound.
* A latent-variable model reports -ELBO or -IWAE, also an upper bound.
"""
from __future__ import annotations

import math

import jax.numpy as jnp

LN2 = math.log(2.0)


def bits_per_dim(nats, num_dims: int):
    """Converts a negative log-likelihood in nats (per example) to bits per dimension: nats / (D ln 2)."""
    return jnp.asarray(nats) / (num_dims * LN2)


def nats_from_bits_per_dim(bpd, num_dims: int):
    """Inverse of `bits_per_dim`."""
    return jnp.asarray(bpd) * num_dims * LN2


def dequantization_offset(num_dims: int, num_levels: int) -> float:
    """D log K: the change of volume from the unit cube [0, 1]^D to the K^D grid cells of width 1/K."""
    return num_dims * math.log(num_levels)


def dequantized_nll(continuous_nll, num_dims: int, num_levels: int):
    """Upper bound on the discrete NLL from a continuous density's NLL of (x + u) / K, in nats.

    Args:
      continuous_nll: -log p((x + u) / K) per example, where p is a density on [0, 1]^D.
      num_dims: D, the number of discrete variables per example.
      num_levels: K, the number of discrete levels per variable (17 for digits, 256 for 8-bit images).
    """
    return jnp.asarray(continuous_nll) + dequantization_offset(num_dims, num_levels)


def rescaled_density_nll(nll, num_dims: int, scale: float):
    """NLL of a density after data were multiplied by `scale` (y = scale * x): -log p_x = -log p_y - D log scale."""
    return jnp.asarray(nll) - num_dims * math.log(scale)
