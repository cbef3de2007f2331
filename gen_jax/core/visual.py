"""Pictures for sample grids that are not images already: a 2-D point cloud drawn as a density image."""
from __future__ import annotations

import jax.numpy as jnp


def points_image(points, lo: float, hi: float, size: int = 128):
    """A [1, size, size, 1] image in [0, 1] of 2-D points on the square [lo, hi]^2, for sample grids.

    Pixel darkness is the log-scaled count log(1 + n) / log(1 + n_max): dark points on white, the y axis
    pointing up. Points outside the square are clipped to its border, so samples that diverged stay visible.
    Pure jnp: it can run inside a jitted visualize.
    """
    ij = jnp.clip(((points - lo) / (hi - lo) * size).astype(jnp.int32), 0, size - 1)
    counts = jnp.zeros((size, size)).at[size - 1 - ij[:, 1], ij[:, 0]].add(1.0)
    img = jnp.log1p(counts) / jnp.maximum(jnp.log1p(counts.max()), 1e-6)
    return (1.0 - img)[None, :, :, None]
