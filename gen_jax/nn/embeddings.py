"""Embeddings of scalar conditioning variables (diffusion time steps, noise levels).

`sinusoidal_embedding` is the Transformer's position encoding (Vaswani et al. 2017, Sec. 3.5) used for the
time step in DDPM (Ho et al. 2020, Appendix B): for frequencies w_i = max_period^(-i / half), i = 0..half-1,

    e(t) = [sin(w_0 t), ..., sin(w_{half-1} t), cos(w_0 t), ..., cos(w_{half-1} t)].

Two properties follow and are tested: ||e(t)||^2 = half for every t, and the inner product
<e(t), e(s)> = sum_i cos(w_i (t - s)) depends only on t - s.
"""
from __future__ import annotations

import math

import flax.linen as nn
import jax.numpy as jnp


def sinusoidal_embedding(t, dim: int, max_period: float = 10_000.0):
    """[B] (int or float) time steps -> [B, dim] sinusoidal features (module docstring); odd dim pads one zero."""
    if dim < 2:
        raise ValueError(f"sinusoidal_embedding: dim must be >= 2, got {dim}")
    t = jnp.asarray(t, jnp.float32)
    if t.ndim != 1:
        raise ValueError(f"sinusoidal_embedding: t must be a vector [B], got shape {t.shape}")
    half = dim // 2
    freqs = jnp.exp(-math.log(max_period) * jnp.arange(half, dtype=jnp.float32) / half)
    args = t[:, None] * freqs[None, :]
    emb = jnp.concatenate([jnp.sin(args), jnp.cos(args)], axis=-1)
    if dim % 2:
        emb = jnp.pad(emb, ((0, 0), (0, 1)))
    return emb


class TimeEmbedding(nn.Module):
    """Sinusoidal features followed by Dense -> swish -> Dense, as in the DDPM U-Net."""

    dim: int                    # width of the sinusoidal features
    hidden: int                 # width of the output (4 x base channels in DDPM)
    max_period: float = 10_000.0

    @nn.compact
    def __call__(self, t):
        h = sinusoidal_embedding(t, self.dim, self.max_period)
        h = nn.Dense(self.hidden)(h)
        return nn.Dense(self.hidden)(nn.swish(h))
