"""Anomaly-detection measurement: ROC AUC and the classical baselines AnoGAN is compared with.

Schlegl et al. 2017 (Sec. 3, Table 1) report the ROC AUC of AnoGAN's score beside other detectors on the same
split; here the baselines are the classical ones the issue names, each fitted on the NORMAL training images
only and scoring every test image (higher = more anomalous):

* `pca_scores`: squared reconstruction error of the projection on the top-k principal components;
* `kde_scores`: negative log density of an isotropic Gaussian kernel density estimate, its bandwidth chosen
  from a grid by the held-out log-likelihood of the last 20% of the normal training images;
* `gmm_scores`: negative log density of the library's Gaussian mixture (`gen_jax.classical.gmm`, EM).

Everything is numpy / JAX; `roc_auc` is the Mann-Whitney statistic with ties counted one half (equal to
`sklearn.metrics.roc_auc_score`, which the tests use as the oracle).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp


def roc_auc(scores, is_anomaly) -> float:
    """P(score of a random anomaly > score of a random normal example) + 1/2 P(tie): the area under the ROC curve.

    Args:
      scores: [N] anomaly scores (higher = more anomalous).
      is_anomaly: [N] booleans (at least one of each class).
    """
    s = np.asarray(scores, np.float64).reshape(-1)
    y = np.asarray(is_anomaly, bool).reshape(-1)
    if s.shape != y.shape:
        raise ValueError(f"roc_auc: scores {s.shape} and labels {y.shape} must have the same length")
    if not np.all(np.isfinite(s)):
        raise ValueError("roc_auc: scores hold NaN/inf")
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if n_pos == 0 or n_neg == 0:
        raise ValueError(f"roc_auc needs both classes, got {n_pos} anomalies and {n_neg} normal examples")
    order = np.argsort(s, kind="mergesort")
    ranks = np.empty(len(s), np.float64)
    sorted_s = s[order]
    # average ranks of ties (1-based)
    starts = np.r_[0, np.flatnonzero(np.diff(sorted_s)) + 1]
    ends = np.r_[starts[1:], len(s)]
    for a, b in zip(starts, ends):
        ranks[order[a:b]] = 0.5 * (a + b - 1) + 1.0
    u = ranks[y].sum() - n_pos * (n_pos + 1) / 2.0
    return float(u / (n_pos * n_neg))


def _flat(x):
    x = np.asarray(x, np.float32)
    return x.reshape(len(x), -1)


def pca_scores(train, test, num_components: int) -> np.ndarray:
    """||x - mu - P P^T (x - mu)||^2 with P the top `num_components` principal directions of `train`."""
    tr, te = _flat(train), _flat(test)
    if not 1 <= num_components <= min(tr.shape):
        raise ValueError(f"pca_scores: num_components must be in [1, {min(tr.shape)}], got {num_components}")
    mu = tr.mean(0)
    _, _, vt = np.linalg.svd(tr - mu, full_matrices=False)
    p = vt[:num_components].T
    c = te - mu
    r = c - (c @ p) @ p.T
    return np.sum(r ** 2, -1)


@jax.jit
def _kde_log_density(centers, x, bandwidth):
    d = centers.shape[1]
    sq = (jnp.sum(x ** 2, -1)[:, None] + jnp.sum(centers ** 2, -1)[None, :] - 2.0 * x @ centers.T)
    sq = jnp.maximum(sq, 0.0)
    return (logsumexp(-sq / (2.0 * bandwidth ** 2), -1) - jnp.log(centers.shape[0])
            - 0.5 * d * jnp.log(2.0 * jnp.pi * bandwidth ** 2))


def kde_log_density(centers, x, bandwidth: float) -> np.ndarray:
    """log (1/n) sum_i N(x | c_i, h^2 I), in chunks of 256 query points."""
    c = jnp.asarray(_flat(centers))
    xs = _flat(x)
    return np.concatenate([np.asarray(_kde_log_density(c, jnp.asarray(xs[i:i + 256]), float(bandwidth)))
                           for i in range(0, len(xs), 256)])


def kde_bandwidth(train, grid=None) -> float:
    """The grid bandwidth that maximises the mean log density of the last 20% of `train` under a KDE of the
    first 80% (grid: 12 values log-spaced over [0.05, 2] x the median nearest-neighbour distance)."""
    tr = _flat(train)
    n_fit = max(1, round(0.8 * len(tr)))
    fit, held = tr[:n_fit], tr[n_fit:]
    if len(held) == 0:
        raise ValueError("kde_bandwidth needs at least 2 training examples")
    if grid is None:
        sq = np.sum((held[:, None, :] - fit[None, :, :]) ** 2, -1)
        nn_dist = float(np.median(np.sqrt(sq.min(1))))
        grid = np.geomspace(0.05, 2.0, 12) * max(nn_dist, 1e-6)
    lls = [float(np.mean(kde_log_density(fit, held, h))) for h in grid]
    return float(grid[int(np.argmax(lls))])


def kde_scores(train, test, bandwidth=None) -> np.ndarray:
    """-log KDE density of each test point (KDE on all of `train`; bandwidth from `kde_bandwidth` if None)."""
    h = kde_bandwidth(train) if bandwidth is None else float(bandwidth)
    return -kde_log_density(train, test, h)


def gmm_scores(train, test, num_components: int, covariance_type: str = "diag", seed: int = 0,
               reg_covar: float = 1e-2) -> np.ndarray:
    """-log p(x) under `gen_jax.classical.gmm` fitted by EM on `train` (k-means++ initialisation)."""
    from gen_jax.classical import gmm

    params, _ = gmm.fit(_flat(train), num_components, covariance_type=covariance_type,
                        rng=jax.random.PRNGKey(seed), reg_covar=reg_covar, max_iter=200)
    return -np.asarray(gmm.log_prob(params, jnp.asarray(_flat(test))))


def baseline_scores(train, test, pca_components: int = 16, gmm_components: int = 5, seed: int = 0) -> dict:
    """{'pca': ..., 'kde': ..., 'gmm': ...} anomaly scores of `test` from detectors fitted on `train`."""
    return {"pca": pca_scores(train, test, pca_components), "kde": kde_scores(train, test),
            "gmm": gmm_scores(train, test, gmm_components, seed=seed)}
