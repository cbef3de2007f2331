"""Two-sample distances between generated samples and held-out data: energy distance and kernel MMD.

Energy distance (Szekely & Rizzo 2004, 2013), with X, X' ~ P and Y, Y' ~ Q independent:

    D^2(P, Q) = 2 E||X - Y|| - E||X - X'|| - E||Y - Y'||,

which is >= 0 and zero iff P = Q (for distributions with finite first moments). It needs no bandwidth and
scales linearly with the data (D^2(aP, aQ) = |a| D^2(P, Q)). `energy_distance` returns the V-statistic
(the plug-in estimate over all pairs, zero diagonal included) of D^2; for 1-D samples it is the square of
`scipy.stats.energy_distance`, which reports sqrt(D^2) computed from the empirical CDFs.

Maximum mean discrepancy (Gretton et al. 2012, Lemma 6) with the Gaussian kernel
k(x, y) = exp(-||x - y||^2 / (2 h^2)):

    MMD^2(P, Q) = E k(X, X') + E k(Y, Y') - 2 E k(X, Y).

`mmd_rbf` returns the unbiased U-statistic (Gretton et al. 2012, Eq. 3: diagonal terms excluded), which can be
slightly negative when P = Q; with several bandwidths it returns the MMD^2 of the sum kernel (their average
over bandwidths). Both are computed with jax.numpy in float32 and return Python floats.
"""
from __future__ import annotations

from typing import Sequence, Union

import jax.numpy as jnp
import numpy as np


def _check(x, y, name):
    x = jnp.asarray(x, jnp.float32)
    y = jnp.asarray(y, jnp.float32)
    if x.ndim == 1:
        x = x[:, None]
    if y.ndim == 1:
        y = y[:, None]
    if x.ndim != 2 or y.ndim != 2:
        raise ValueError(f"{name}: samples must be [N, D] (or [N]), got shapes {x.shape} and {y.shape}")
    if x.shape[1] != y.shape[1]:
        raise ValueError(f"{name}: dimensions differ: {x.shape[1]} vs {y.shape[1]}")
    if x.shape[0] < 2 or y.shape[0] < 2:
        raise ValueError(f"{name}: need at least 2 samples on each side, got {x.shape[0]} and {y.shape[0]}")
    if not (bool(jnp.all(jnp.isfinite(x))) and bool(jnp.all(jnp.isfinite(y)))):
        raise ValueError(f"{name}: samples contain NaN or inf")
    return x, y


def _sq_dists(a, b):
    d = jnp.sum(a * a, 1)[:, None] + jnp.sum(b * b, 1)[None, :] - 2.0 * a @ b.T
    return jnp.maximum(d, 0.0)


def _mean_dist(a, b, chunk: int = 512):
    """Mean pairwise Euclidean distance, from exact differences (no ||a||^2 + ||b||^2 - 2ab cancellation),
    in row chunks so that memory stays O(chunk * M * D)."""
    total = 0.0
    for i in range(0, a.shape[0], chunk):
        d = a[i:i + chunk, None, :] - b[None, :, :]
        total = total + jnp.sum(jnp.sqrt(jnp.sum(d * d, -1)))
    return total / (a.shape[0] * b.shape[0])


def energy_distance(x, y) -> float:
    """V-statistic of the squared energy distance D^2 between samples x [N, D] and y [M, D] (module docstring)."""
    x, y = _check(x, y, "energy_distance")
    exy = _mean_dist(x, y)
    exx = _mean_dist(x, x)
    eyy = _mean_dist(y, y)
    return float(2.0 * exy - exx - eyy)


def mmd_rbf(x, y, bandwidth: Union[float, Sequence[float]] = 1.0) -> float:
    """Unbiased MMD^2 with the Gaussian kernel exp(-||x - y||^2 / (2 h^2)), averaged over the bandwidths h."""
    x, y = _check(x, y, "mmd_rbf")
    hs = np.atleast_1d(np.asarray(bandwidth, np.float64))
    if hs.size == 0 or np.any(hs <= 0):
        raise ValueError(f"mmd_rbf: bandwidths must be positive, got {bandwidth}")
    n, m = x.shape[0], y.shape[0]
    dxx, dyy, dxy = _sq_dists(x, x), _sq_dists(y, y), _sq_dists(x, y)
    total = 0.0
    for h in hs:
        g = 1.0 / (2.0 * float(h) ** 2)
        kxx = jnp.exp(-g * dxx)
        kyy = jnp.exp(-g * dyy)
        kxy = jnp.exp(-g * dxy)
        total = total + ((jnp.sum(kxx) - jnp.trace(kxx)) / (n * (n - 1))
                         + (jnp.sum(kyy) - jnp.trace(kyy)) / (m * (m - 1))
                         - 2.0 * jnp.mean(kxy))
    return float(total / hs.size)
