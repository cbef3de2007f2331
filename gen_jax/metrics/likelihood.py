"""The likelihood protocol of the library, and the conversions it needs, in one place.

So that a Gaussian mixture, a VAE, a PixelCNN and a diffusion model stand in one table, every explicit density
model reports its test figure the same way:

* `digits` is discrete: K = 17 grey levels (0..16), D = 64 pixels. The figure is the negative log-likelihood of
  the *discrete* test images, in nats per image (`nll_nats`) and in bits per dimension (`nll_bpd` =
  nats / (64 ln 2), `bits_per_dim`).
* Discrete models (categorical or discretized-logistic outputs) report -log P(x) exactly.
* Continuous densities p on [0, 1]^D report it through uniform dequantization y = (x + u) / 17: by Jensen,
  -log P(x) <= E_u[-log p(y)] + 64 ln 17 (Theis et al. 2016, "A note on the evaluation of generative
  models"); `dequantized_nll` adds the D log K term, so their figure is an upper bound.
* Latent-variable models report an upper bound through the ELBO or the IWAE bound (-L_k).
* Bernoulli models report nats per image on `binarized digits` (pixel >= 8 -> 1, fixed), the way binarized
  MNIST is reported in the papers.
* Catalog datasets follow their papers' conventions: nats per image on binarized MNIST, bits/dim on CIFAR-10.

A results table says which kind (exact or bound) each figure is.
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
