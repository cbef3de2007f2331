"""Mode coverage of samples from a mixture of isotropic Gaussians (the 2-D ring and grid benchmarks).

The protocol of VEEGAN (Srivastava et al. 2017) and PacGAN (Lin et al. 2018, Table 1): draw N samples
(2,500 in the papers) from the generator; a sample is *high quality* when its Mahalanobis distance to the
nearest mode, ||x - mu_j|| / sigma for isotropic modes, is below a threshold (3); a mode is *captured* when
at least one high-quality sample has it as its nearest mode; and the *KL* column is the divergence of the
histogram of high-quality samples over the M modes from the uniform distribution on the modes:

    KL(p_hat || U) = sum_j p_hat_j log(p_hat_j * M),   p_hat_j = n_j / sum_k n_k.

Conventions (stated because the papers do not):
  * empty bins contribute 0 (the limit 0 log 0 = 0), so a generator that puts all its high-quality mass on
    one mode gets log M, the largest value any non-empty histogram can have;
  * when there is no high-quality sample at all the histogram is undefined and we report KL = log M too
    (treated as total collapse, the worst case), so the value is always finite and can be averaged over seeds.

`mode_coverage` validates its inputs and returns Python numbers; `mode_coverage_arrays` is the same
computation in pure jax.numpy (jit- and vmap-friendly, e.g. over a leading seed axis).
"""
from __future__ import annotations

import math

import jax
import jax.numpy as jnp
import numpy as np


def mode_coverage_arrays(samples, centers, sigma, threshold=3.0):
    """Pure jax.numpy mode coverage; see the module docstring for the definitions.

    Args:
      samples: [N, D] generated points.
      centers: [M, D] mode means.
      sigma: scalar standard deviation of every (isotropic) mode.
      threshold: Mahalanobis radius under which a sample counts as high quality.

    Returns:
      dict of scalar arrays: ``modes`` (int32, number of captured modes), ``high_quality`` (fraction of samples
      within ``threshold``), ``kl`` (KL of the high-quality histogram from uniform), and ``counts`` ([M] int32
      number of high-quality samples per mode).
    """
    samples = jnp.asarray(samples, jnp.float32)
    centers = jnp.asarray(centers, jnp.float32)
    num_modes = centers.shape[0]
    sq = jnp.sum((samples[:, None, :] - centers[None, :, :]) ** 2, axis=-1)  # [N, M]
    nearest = jnp.argmin(sq, axis=-1)
    dist = jnp.sqrt(jnp.min(sq, axis=-1)) / sigma
    good = dist < threshold
    counts = jnp.zeros((num_modes,), jnp.int32).at[nearest].add(good.astype(jnp.int32))
    total = jnp.sum(counts)
    p = counts / jnp.maximum(total, 1)
    terms = jnp.where(counts > 0, p * jnp.log(jnp.where(counts > 0, p, 1.0) * num_modes), 0.0)
    kl = jnp.where(total > 0, jnp.sum(terms), math.log(num_modes))
    return {
        "modes": jnp.sum(counts > 0).astype(jnp.int32),
        "high_quality": jnp.mean(good.astype(jnp.float32)),
        "kl": kl,
        "counts": counts,
    }


def mode_coverage(samples, centers, sigma, threshold=3.0) -> dict:
    """Mode coverage of ``samples`` under isotropic Gaussian modes at ``centers`` with std ``sigma``.

    Args:
      samples: [N, D] array of generated points (finite).
      centers: [M, D] array of mode means (from ``gen_jax.data.toy2d.mode_centers``).
      sigma: positive scalar standard deviation of every mode.
      threshold: Mahalanobis radius (in units of sigma) for a high-quality sample; 3 in the papers.

    Returns:
      ``{'modes': int, 'high_quality': float in [0, 1], 'kl': float >= 0}``: the number of captured modes, the
      fraction of high-quality samples, and KL(histogram of high-quality samples over modes || uniform),
      with empty bins contributing 0 and KL = log M when no sample is high quality (module docstring).

    Raises:
      ValueError: on wrong ranks, mismatched dimensions, non-positive sigma/threshold or non-finite samples.
    """
    samples = np.asarray(samples)
    centers = np.asarray(centers)
    if samples.ndim != 2:
        raise ValueError(f"mode_coverage: samples must be [N, D], got shape {samples.shape}")
    if centers.ndim != 2:
        raise ValueError(f"mode_coverage: centers must be [M, D], got shape {centers.shape}")
    if samples.shape[1] != centers.shape[1]:
        raise ValueError(
            f"mode_coverage: samples have dimension {samples.shape[1]} but centers have {centers.shape[1]}")
    if samples.shape[0] == 0 or centers.shape[0] == 0:
        raise ValueError("mode_coverage: need at least one sample and one center")
    if not np.all(np.isfinite(samples)):
        raise ValueError(f"mode_coverage: samples contain {int(np.sum(~np.isfinite(samples)))} NaN/inf values")
    if not np.isscalar(sigma) and np.ndim(sigma) != 0:
        raise ValueError(f"mode_coverage: sigma must be a scalar (isotropic modes), got shape {np.shape(sigma)}")
    if not float(sigma) > 0:
        raise ValueError(f"mode_coverage: sigma must be positive, got {sigma}")
    if not float(threshold) > 0:
        raise ValueError(f"mode_coverage: threshold must be positive, got {threshold}")
    out = jax.device_get(mode_coverage_arrays(samples, centers, float(sigma), float(threshold)))
    return {"modes": int(out["modes"]), "high_quality": float(out["high_quality"]), "kl": float(out["kl"])}
