"""Latent-space utilities for the figures of latent-variable models: GAN latent walks and VAE interpolations
between test encodings (Radford et al. 2015, Sections 6.1 and 6.3).

* `interpolate(z0, z1, num)`: a walk from z0 to z1, linear or spherical (slerp; White 2016, "Sampling
  Generative Networks", argues slerp keeps Gaussian latents at a typical norm).
* `vector_arithmetic(z_a, z_b, z_c)`: mean(z_a) - mean(z_b) + mean(z_c), the DCGAN paper's
  "smiling woman - neutral woman + neutral man" on averaged latent vectors of each group.
* `fixed_latents(seed, n, dim)`: the same latent batch at every logging step, so sample grids are comparable.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp


def interpolate(z0, z1, num: int, spherical: bool = False):
    """`num` latents from z0 to z1 inclusive ([num, L]); `spherical` uses slerp on the great circle."""
    z0, z1 = jnp.asarray(z0), jnp.asarray(z1)
    if z0.shape != z1.shape or z0.ndim != 1:
        raise ValueError(f"interpolate: z0 and z1 must be vectors of one shape, got {z0.shape} and {z1.shape}")
    if num < 2:
        raise ValueError(f"interpolate: num must be >= 2 (both end points included), got {num}")
    t = jnp.linspace(0.0, 1.0, num)[:, None]
    if not spherical:
        return (1.0 - t) * z0 + t * z1
    n0, n1 = jnp.linalg.norm(z0), jnp.linalg.norm(z1)
    cos = jnp.clip(jnp.dot(z0, z1) / jnp.maximum(n0 * n1, 1e-12), -1.0, 1.0)
    omega = jnp.arccos(cos)
    sin = jnp.sin(omega)
    ok = sin > 1e-6  # nearly parallel: slerp degenerates to lerp
    safe = jnp.where(ok, sin, 1.0)
    w0 = jnp.where(ok, jnp.sin((1.0 - t) * omega) / safe, 1.0 - t)
    w1 = jnp.where(ok, jnp.sin(t * omega) / safe, t)
    return w0 * z0 + w1 * z1


def vector_arithmetic(z_a, z_b, z_c):
    """mean(z_a) - mean(z_b) + mean(z_c) over each group's leading axis ([n_i, L] -> [L])."""
    groups = [jnp.asarray(z) for z in (z_a, z_b, z_c)]
    dims = {g.shape[1:] for g in groups}
    if any(g.ndim != 2 for g in groups) or len(dims) != 1:
        raise ValueError(f"vector_arithmetic: expected three [n_i, L] groups with one L, got "
                         f"{[g.shape for g in groups]}")
    return groups[0].mean(0) - groups[1].mean(0) + groups[2].mean(0)


def fixed_latents(seed: int, n: int, dim: int):
    """A latent batch z ~ N(0, I) [n, dim] that depends only on (seed, n, dim)."""
    return jax.random.normal(jax.random.fold_in(jax.random.PRNGKey(seed), 0x5A3), (n, dim))
