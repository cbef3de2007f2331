"""Gaussian mixture models fitted by expectation-maximization, in pure JAX.

Model (Dempster, Laird & Rubin 1977; Bishop, PRML 2006, section 9.2):

    p(x) = sum_k w_k N(x | mu_k, Sigma_k),

with four covariance structures (the names scikit-learn uses):

* ``'full'``      Sigma_k: any SPD matrix per component, stored as [K, D, D];
* ``'tied'``      one SPD matrix shared by all components, stored as [D, D];
* ``'diag'``      Sigma_k = diag(v_k), stored as [K, D];
* ``'spherical'`` Sigma_k = s_k I, stored as [K].

EM alternates

* E-step: responsibilities r_nk = w_k N(x_n | mu_k, Sigma_k) / p(x_n), computed in log space with log-sum-exp;
* M-step: with N_k = sum_n r_nk,  w_k = N_k / N,  mu_k = sum_n r_nk x_n / N_k,
  Sigma_k = sum_n r_nk (x_n - mu_k)(x_n - mu_k)^T / N_k + reg_covar I   (the centred, numerically stable form).

Every M-step quantity is a SUM over data points of per-point terms (the sufficient statistics N_k, sum r x and
sum r (x - mu)(x - mu)^T). That is what makes EM data-parallel: `fit` accepts a `jax.sharding.Mesh`, shards the
data along its first axis over the mesh's 'data' axis with a `NamedSharding`, and compiles the whole EM loop with
`jax.jit`; GSPMD turns each sum into per-device partial sums followed by an all-reduce, so every device ends with
the same parameters as a single-device run (tested 8 simulated devices vs 1). Points are weighted by
`sample_weight` (0 for the padding rows that make N divisible by the device count).
Online EM (the `gmm` Experiment in `steps.py`) keeps running averages of `sufficient_statistics` over batches
and calls `m_step_from_statistics`, the same M-step written on uncentred moments.

Conventions shared with `sklearn.mixture.GaussianMixture` so that it can serve as the test oracle: reg_covar is
added to every covariance diagonal, N_k gets 10 * machine-epsilon added, convergence is declared when the change
of the mean log-likelihood (measured in the E-step, before the M-step of that iteration) is below `tol`.

Degenerate inputs:

* NaN/inf in the data, k < 1, k larger than the number of points, or an unknown covariance type raise ValueError.
* A component that loses all its points (N_k below `min_count`) is *kept where it was*: its mean and covariance
  are not updated and its weight becomes N_k / N (about 0). This is a generalized EM step (the expected
  complete-data log-likelihood still does not decrease, because that component's term is unchanged), so the
  log-likelihood stays monotone and no NaN appears (plain EM would divide by ~0).
"""
from __future__ import annotations

import functools
import math
from typing import NamedTuple, Optional

import flax
import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.linalg import solve_triangular
from jax.scipy.special import logsumexp

COVARIANCE_TYPES = ("full", "tied", "diag", "spherical")
LOG_2PI = math.log(2.0 * math.pi)


class GMM(flax.struct.PyTreeNode):
    """Parameters of a Gaussian mixture.

    Attributes:
      weights: [K] mixing proportions, summing to one.
      means: [K, D] component means.
      covariances: full [K, D, D], tied [D, D], diag [K, D] or spherical [K].
      precisions_cholesky: a matrix P with P P^T = Sigma^{-1}, same shape as `covariances` (for diag and spherical:
        1 / sqrt(variance)). The E-step uses it so that a Mahalanobis distance is one matrix product.
      covariance_type: one of COVARIANCE_TYPES (static).
    """

    weights: jax.Array
    means: jax.Array
    covariances: jax.Array
    precisions_cholesky: jax.Array
    covariance_type: str = flax.struct.field(pytree_node=False, default="full")

    @property
    def num_components(self) -> int:
        return self.means.shape[0]

    @property
    def num_features(self) -> int:
        return self.means.shape[1]


class FitInfo(NamedTuple):
    """What `fit` reports besides the parameters.

    Attributes:
      log_likelihood: [max_iter] mean log-likelihood per point of the parameters entering iteration t (the
        E-step value; NaN after the last iteration run).
      final_log_likelihood: mean log-likelihood per point of the returned parameters.
      num_iters: number of EM iterations run.
      converged: whether |change| < tol happened before max_iter.
    """

    log_likelihood: jax.Array
    final_log_likelihood: jax.Array
    num_iters: jax.Array
    converged: jax.Array


def _check_covariance_type(covariance_type: str) -> None:
    if covariance_type not in COVARIANCE_TYPES:
        raise ValueError(f"Unknown covariance_type {covariance_type!r}; expected one of {COVARIANCE_TYPES}.")


# ----------------------------------------------------------------------------------------------------------------
# Densities.


def precisions_cholesky_from_covariances(covariances: jax.Array, covariance_type: str) -> jax.Array:
    """P with P P^T = Sigma^{-1}: P = L^{-T} for the Cholesky factor L of Sigma (1/sqrt(var) for diag/spherical)."""
    _check_covariance_type(covariance_type)
    if covariance_type in ("full", "tied"):
        chol = jnp.linalg.cholesky(covariances)
        eye = jnp.broadcast_to(jnp.eye(covariances.shape[-1], dtype=covariances.dtype), covariances.shape)
        return jnp.swapaxes(solve_triangular(chol, eye, lower=True), -1, -2)
    return jax.lax.rsqrt(covariances)


def component_log_prob(gmm: GMM, x: jax.Array) -> jax.Array:
    """log N(x_n | mu_k, Sigma_k) for every point and component: [N, D] -> [N, K].

    log N = -D/2 log(2 pi) + log|P| - 1/2 ||P^T (x - mu)||^2  with P P^T = Sigma^{-1}.
    """
    ct, mu, prec = gmm.covariance_type, gmm.means, gmm.precisions_cholesky
    d = x.shape[-1]
    if ct == "full":
        y = jnp.einsum("nd,kde->nke", x, prec) - jnp.einsum("kd,kde->ke", mu, prec)[None]
        log_det = jnp.sum(jnp.log(jnp.diagonal(prec, axis1=-2, axis2=-1)), axis=-1)  # [K]
        maha = jnp.sum(y**2, axis=-1)
    elif ct == "tied":
        y = (x @ prec)[:, None, :] - (mu @ prec)[None]
        log_det = jnp.sum(jnp.log(jnp.diagonal(prec)))
        maha = jnp.sum(y**2, axis=-1)
    elif ct == "diag":
        y = (x[:, None, :] - mu[None]) * prec[None]
        log_det = jnp.sum(jnp.log(prec), axis=-1)
        maha = jnp.sum(y**2, axis=-1)
    else:  # spherical
        maha = jnp.sum((x[:, None, :] - mu[None]) ** 2, axis=-1) * prec[None] ** 2
        log_det = d * jnp.log(prec)
    return -0.5 * (d * LOG_2PI + maha) + log_det


def joint_log_prob(gmm: GMM, x: jax.Array) -> jax.Array:
    """log w_k + log N(x_n | mu_k, Sigma_k): [N, K]."""
    return component_log_prob(gmm, x) + jnp.log(gmm.weights)[None]


@jax.jit
def log_prob(gmm: GMM, x: jax.Array) -> jax.Array:
    """Per-point log-likelihood log p(x_n) = logsumexp_k (log w_k + log N(x_n | mu_k, Sigma_k)): [N, D] -> [N]."""
    return logsumexp(joint_log_prob(gmm, x), axis=-1)


@jax.jit
def e_step(gmm: GMM, x: jax.Array):
    """E-step: (log responsibilities [N, K], per-point log-likelihood [N]), stable through log-sum-exp."""
    joint = joint_log_prob(gmm, x)
    lp = logsumexp(joint, axis=-1)
    return joint - lp[:, None], lp


def responsibilities(gmm: GMM, x: jax.Array) -> jax.Array:
    """Posterior p(k | x_n): [N, K]."""
    return jnp.exp(e_step(gmm, x)[0])


def predict(gmm: GMM, x: jax.Array) -> jax.Array:
    """Most probable component of each point: [N] int."""
    return jnp.argmax(joint_log_prob(gmm, x), axis=-1)


# ----------------------------------------------------------------------------------------------------------------
# M-step.


def _weights_and_means(counts, sums, dtype):
    """N_k (+ 10 machine-epsilon, as scikit-learn), w_k = N_k / sum N and mu_k = sum_n r_nk x_n / N_k."""
    nk = counts + 10 * jnp.finfo(dtype).eps
    return nk, nk / jnp.sum(nk), sums / nk[:, None]


def _full_covariances(x, resp_w, means, nk):
    diff = x[:, None, :] - means[None]  # [N, K, D]
    return jnp.einsum("nk,nkd,nke->kde", resp_w, diff, diff) / nk[:, None, None]


@functools.partial(jax.jit, static_argnames=("covariance_type",))
def m_step(
    x: jax.Array,
    resp: jax.Array,
    covariance_type: str = "full",
    reg_covar: float = 1e-6,
    sample_weight: Optional[jax.Array] = None,
    previous: Optional[GMM] = None,
    min_count: float = 1e-3,
) -> GMM:
    """M-step: maximum-likelihood parameters given responsibilities (see the module docstring for the equations).

    Args:
      x: [N, D] data.
      resp: [N, K] responsibilities (rows sum to one).
      covariance_type: one of COVARIANCE_TYPES.
      reg_covar: added to the diagonal of every covariance (keeps them positive definite).
      sample_weight: [N] non-negative point weights (None = all ones). Zero-weight points are ignored.
      previous: parameters of the previous iteration; components whose N_k < min_count keep their previous mean
        and covariance (documented recovery from an empty component). None: no recovery.
      min_count: threshold on N_k (in points) below which a component counts as empty.
    """
    _check_covariance_type(covariance_type)
    dtype = x.dtype
    if sample_weight is not None:
        resp = resp * sample_weight[:, None]
    nk_raw = jnp.sum(resp, axis=0)
    nk, weights, means = _weights_and_means(nk_raw, resp.T @ x, dtype)
    if previous is not None:
        dead = nk_raw < min_count
        means = jnp.where(dead[:, None], previous.means, means)
    d = x.shape[1]
    if covariance_type == "full":
        cov = _full_covariances(x, resp, means, nk) + reg_covar * jnp.eye(d, dtype=dtype)
        if previous is not None:
            cov = jnp.where(dead[:, None, None], previous.covariances, cov)
    elif covariance_type == "tied":
        diff = x[:, None, :] - means[None]
        cov = jnp.einsum("nk,nkd,nke->de", resp, diff, diff) / jnp.sum(nk) + reg_covar * jnp.eye(d, dtype=dtype)
    else:
        diff2 = (x[:, None, :] - means[None]) ** 2
        var = jnp.einsum("nk,nkd->kd", resp, diff2) / nk[:, None]
        if covariance_type == "diag":
            cov = var + reg_covar
            if previous is not None:
                cov = jnp.where(dead[:, None], previous.covariances, cov)
        else:
            cov = jnp.mean(var, axis=-1) + reg_covar
            if previous is not None:
                cov = jnp.where(dead, previous.covariances, cov)
    return GMM(
        weights=weights,
        means=means,
        covariances=cov,
        precisions_cholesky=precisions_cholesky_from_covariances(cov, covariance_type),
        covariance_type=covariance_type,
    )


def sufficient_statistics(x: jax.Array, resp: jax.Array, covariance_type: str = "full"):
    """The M-step's sufficient statistics (N_k [K], sum_n r_nk x_n [K, D], sum_n r_nk x_n x_n^T): the last one
    [K, D, D] for 'full' and 'tied', its diagonal sum_n r_nk x_n^2 [K, D] for 'diag' and 'spherical'.

    Sums over points: statistics of batches add up, and running averages of them feed online EM
    (`m_step_from_statistics`)."""
    _check_covariance_type(covariance_type)
    if covariance_type in ("full", "tied"):
        second = jnp.einsum("nk,nd,ne->kde", resp, x, x)
    else:
        second = resp.T @ (x * x)
    return jnp.sum(resp, axis=0), resp.T @ x, second


def m_step_from_statistics(counts, sums, second_moments, covariance_type: str = "full",
                           reg_covar: float = 1e-6) -> GMM:
    """The M-step from sufficient statistics (`sufficient_statistics`, or any common multiple of them such as the
    running averages of online EM, Cappe & Moulines 2009) instead of data and responsibilities.

    Same equations as `m_step` in the uncentred form Sigma_k = sum r x x^T / N_k - mu_k mu_k^T (symmetrised;
    variances clipped at 0) plus reg_covar I: exact in exact arithmetic, but it cancels digits where `m_step`'s
    centred form does not, so batch EM keeps `m_step` and this serves where the data are no longer at hand.
    No empty-component recovery (`m_step`'s `previous`): a component without mass keeps weight ~0.
    """
    _check_covariance_type(covariance_type)
    nk, weights, means = _weights_and_means(counts, sums, counts.dtype)
    d = means.shape[1]
    eye = jnp.eye(d, dtype=means.dtype)
    if covariance_type in ("full", "tied"):
        if covariance_type == "full":
            cov = second_moments / nk[:, None, None] - means[:, :, None] * means[:, None, :]
        else:
            cov = (jnp.sum(second_moments, 0) - jnp.einsum("k,kd,ke->de", nk, means, means)) / jnp.sum(nk)
        cov = 0.5 * (cov + jnp.swapaxes(cov, -1, -2)) + reg_covar * eye
    else:
        var = jnp.maximum(second_moments / nk[:, None] - means ** 2, 0.0)
        cov = (var if covariance_type == "diag" else jnp.mean(var, axis=-1)) + reg_covar
    return GMM(weights=weights, means=means, covariances=cov,
               precisions_cholesky=precisions_cholesky_from_covariances(cov, covariance_type),
               covariance_type=covariance_type)


def from_covariances(weights, means, covariances, covariance_type: str = "full") -> GMM:
    """Builds a GMM from weights, means and covariances (computes the precision Cholesky factors)."""
    _check_covariance_type(covariance_type)
    weights = jnp.asarray(weights)
    covariances = jnp.asarray(covariances, dtype=weights.dtype)
    return GMM(
        weights=weights,
        means=jnp.asarray(means, dtype=weights.dtype),
        covariances=covariances,
        precisions_cholesky=precisions_cholesky_from_covariances(covariances, covariance_type),
        covariance_type=covariance_type,
    )


# ----------------------------------------------------------------------------------------------------------------
# Initialization: k-means++ seeding (Arthur & Vassilvitskii 2007), optional Lloyd iterations, one M-step.


def _sq_dists(x, centers):
    return jnp.sum((x[:, None, :] - centers[None]) ** 2, axis=-1)


@functools.partial(jax.jit, static_argnames=("k",))
def kmeans_plus_plus(rng: jax.Array, x: jax.Array, k: int, sample_weight: Optional[jax.Array] = None) -> jax.Array:
    """k-means++ seeding: first centre drawn ∝ weight, each next one ∝ weight * D(x)^2, D the distance to the
    nearest chosen centre (Arthur & Vassilvitskii 2007). Returns [k, D] centres (points of x)."""
    n = x.shape[0]
    w = jnp.ones((n,), x.dtype) if sample_weight is None else sample_weight.astype(x.dtype)
    keys = jax.random.split(rng, k)
    first = jax.random.choice(keys[0], n, p=w / jnp.sum(w))
    centers = jnp.zeros((k, x.shape[1]), x.dtype).at[0].set(x[first])
    d2 = jnp.sum((x - x[first]) ** 2, axis=-1)

    def body(i, carry):
        centers, d2 = carry
        p = w * d2
        total = jnp.sum(p)
        # All remaining mass zero (duplicated points): fall back to weight-proportional choice.
        p = jnp.where(total > 0, p / jnp.where(total > 0, total, 1.0), w / jnp.sum(w))
        idx = jax.random.choice(keys[i], n, p=p)
        centers = centers.at[i].set(x[idx])
        d2 = jnp.minimum(d2, jnp.sum((x - x[idx]) ** 2, axis=-1))
        return centers, d2

    centers, _ = jax.lax.fori_loop(1, k, body, (centers, d2))
    return centers


@functools.partial(jax.jit, static_argnames=("num_iters",))
def kmeans(x: jax.Array, centers: jax.Array, num_iters: int = 10, sample_weight: Optional[jax.Array] = None):
    """Lloyd's algorithm from the given centres; a centre that loses all points stays where it was."""
    w = jnp.ones((x.shape[0],), x.dtype) if sample_weight is None else sample_weight.astype(x.dtype)

    def body(_, c):
        onehot = jax.nn.one_hot(jnp.argmin(_sq_dists(x, c), axis=-1), c.shape[0], dtype=x.dtype) * w[:, None]
        counts = jnp.sum(onehot, axis=0)
        new = (onehot.T @ x) / jnp.maximum(counts, 1e-12)[:, None]
        return jnp.where(counts[:, None] > 0, new, c)

    return jax.lax.fori_loop(0, num_iters, body, centers)


@functools.partial(jax.jit, static_argnames=("num_components", "covariance_type", "kmeans_iters"))
def initialize(
    rng: jax.Array,
    x: jax.Array,
    num_components: int,
    covariance_type: str = "full",
    reg_covar: float = 1e-6,
    kmeans_iters: int = 10,
    sample_weight: Optional[jax.Array] = None,
) -> GMM:
    """k-means++ centres, `kmeans_iters` Lloyd steps, hard assignment, then one M-step (scikit-learn's
    ``init_params='k-means++'`` when kmeans_iters=0)."""
    centers = kmeans_plus_plus(rng, x, num_components, sample_weight)
    if kmeans_iters > 0:
        centers = kmeans(x, centers, kmeans_iters, sample_weight)
    resp = jax.nn.one_hot(jnp.argmin(_sq_dists(x, centers), axis=-1), num_components, dtype=x.dtype)
    # Previous = centres with unit-free fallback covariances, so a centre that got no point stays usable.
    gmm = m_step(x, resp, covariance_type, reg_covar, sample_weight)
    return gmm.replace(means=jnp.where(jnp.sum(resp, 0)[:, None] > 0, gmm.means, centers))


# ----------------------------------------------------------------------------------------------------------------
# The EM loop.


def em_iteration(gmm: GMM, x, sample_weight, reg_covar: float, min_count: float):
    """One EM iteration: returns (new parameters, weighted mean log-likelihood of the OLD parameters)."""
    log_resp, lp = e_step(gmm, x)
    ll = jnp.sum(lp * sample_weight) / jnp.sum(sample_weight)
    new = m_step(x, jnp.exp(log_resp), gmm.covariance_type, reg_covar, sample_weight, gmm, min_count)
    return new, ll


@functools.partial(jax.jit, static_argnames=("max_iter",))
def _fit_loop(gmm, x, sample_weight, tol, reg_covar, min_count, max_iter: int):
    hist0 = jnp.full((max_iter,), jnp.nan, x.dtype)

    def cond(carry):
        _, it, converged, _, _ = carry
        return jnp.logical_and(it < max_iter, jnp.logical_not(converged))

    def body(carry):
        g, it, _, prev_ll, hist = carry
        g, ll = em_iteration(g, x, sample_weight, reg_covar, min_count)
        converged = jnp.abs(ll - prev_ll) < tol
        return g, it + 1, converged, ll, hist.at[it].set(ll)

    init = (gmm, jnp.int32(0), jnp.array(False), jnp.array(-jnp.inf, x.dtype), hist0)
    gmm, it, converged, _, hist = jax.lax.while_loop(cond, body, init)
    _, lp = e_step(gmm, x)
    final = jnp.sum(lp * sample_weight) / jnp.sum(sample_weight)
    return gmm, FitInfo(hist, final, it, converged)


def validate_data(x, name: str = "x") -> np.ndarray:
    """Host-side checks shared by the classical fitters: 2-D, non-empty, finite."""
    x = np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array [num_points, num_features]; got shape {x.shape}.")
    if x.shape[0] == 0:
        raise ValueError(f"{name} has no points.")
    if not np.all(np.isfinite(x)):
        bad = np.argwhere(~np.isfinite(x))[0]
        raise ValueError(f"{name} contains NaN or inf (first at row {bad[0]}, column {bad[1]}); clean the data first.")
    return x


def shard_rows(mesh: jax.sharding.Mesh, x, sample_weight, axis: str = "data"):
    """Pads x (and the weights, with zeros) to a multiple of the mesh size and shards rows over `axis`."""
    n = x.shape[0]
    size = mesh.shape[axis]
    pad = (-n) % size
    if pad:
        x = jnp.concatenate([x, jnp.zeros((pad, x.shape[1]), x.dtype)])
        sample_weight = jnp.concatenate([sample_weight, jnp.zeros((pad,), sample_weight.dtype)])
    rows = jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec(axis))
    return jax.device_put(x, rows), jax.device_put(sample_weight, rows)


def fit(
    x,
    num_components: Optional[int] = None,
    *,
    covariance_type: str = "full",
    init: Optional[GMM] = None,
    rng: Optional[jax.Array] = None,
    tol: float = 1e-3,
    max_iter: int = 100,
    reg_covar: float = 1e-6,
    kmeans_iters: int = 10,
    min_count: float = 1e-3,
    sample_weight=None,
    mesh: Optional[jax.sharding.Mesh] = None,
    dtype=None,
) -> tuple[GMM, FitInfo]:
    """Fits a Gaussian mixture by EM.

    Args:
      x: [N, D] data (NaN/inf rejected).
      num_components: K (needed unless `init` is given); must be <= N.
      covariance_type: 'full' | 'tied' | 'diag' | 'spherical'.
      init: starting parameters (e.g. the same ones given to scikit-learn); otherwise k-means++ from `rng`.
      rng: key for the k-means++ initialization.
      tol: stop when the mean log-likelihood changes by less than this between iterations.
      max_iter: maximum number of EM iterations (the whole loop is one compiled `lax.while_loop`).
      reg_covar: ridge added to every covariance diagonal.
      kmeans_iters: Lloyd iterations after k-means++ seeding.
      min_count: N_k below which a component is kept frozen (see module docstring).
      sample_weight: optional [N] non-negative weights.
      mesh: optional mesh with a 'data' axis; the data are sharded over it (data-parallel EM).
      dtype: computation dtype (default: x's floating dtype as JAX sees it; float64 needs x64 enabled).

    Returns:
      (parameters, FitInfo).
    """
    _check_covariance_type(covariance_type)
    x = validate_data(x)
    n = x.shape[0]
    if init is None and num_components is None:
        raise ValueError("Give num_components or init.")
    k = init.num_components if init is not None else int(num_components)
    if k < 1:
        raise ValueError(f"num_components must be >= 1; got {k}.")
    if k > n:
        raise ValueError(f"num_components={k} is larger than the number of points N={n}; use at most N components.")
    if init is not None and init.covariance_type != covariance_type:
        raise ValueError(f"init has covariance_type {init.covariance_type!r}, but {covariance_type!r} was asked.")
    x = jnp.asarray(x, dtype=dtype) if dtype is not None else jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.float32)
    w = jnp.ones((n,), x.dtype) if sample_weight is None else jnp.asarray(sample_weight, x.dtype)
    if w.shape != (n,) or bool(jnp.any(w < 0)):
        raise ValueError(f"sample_weight must be [N]={n} non-negative values; got shape {w.shape}.")
    if init is None:
        if rng is None:
            raise ValueError("Give rng (for k-means++) or init.")
        init = initialize(rng, x, k, covariance_type, reg_covar, kmeans_iters, w)
    init = jax.tree.map(lambda a: jnp.asarray(a, x.dtype), init)
    if mesh is not None:
        x, w = shard_rows(mesh, x, w)
        init = jax.device_put(init, jax.sharding.NamedSharding(mesh, jax.sharding.PartitionSpec()))
    return _fit_loop(init, x, w, tol, reg_covar, min_count, max_iter)


# ----------------------------------------------------------------------------------------------------------------
# Sampling and model selection.


def covariance_cholesky(gmm: GMM) -> jax.Array:
    """[K, D, D] lower Cholesky factors of every component covariance (any covariance type)."""
    k, d = gmm.means.shape
    ct = gmm.covariance_type
    if ct == "full":
        return jnp.linalg.cholesky(gmm.covariances)
    if ct == "tied":
        return jnp.broadcast_to(jnp.linalg.cholesky(gmm.covariances), (k, d, d))
    if ct == "diag":
        return jax.vmap(jnp.diag)(jnp.sqrt(gmm.covariances))
    return jnp.sqrt(gmm.covariances)[:, None, None] * jnp.eye(d, dtype=gmm.means.dtype)[None]


def sample(rng: jax.Array, gmm: GMM, num_samples: int):
    """Ancestral sampling: k ~ Categorical(w), x = mu_k + L_k eps with eps ~ N(0, I). Returns (x [S, D], k [S])."""
    k_rng, e_rng = jax.random.split(rng)
    comp = jax.random.categorical(k_rng, jnp.log(gmm.weights), shape=(num_samples,))
    eps = jax.random.normal(e_rng, (num_samples, gmm.num_features), gmm.means.dtype)
    chol = covariance_cholesky(gmm)
    x = gmm.means[comp] + jnp.einsum("sde,se->sd", chol[comp], eps)
    return x, comp


def num_parameters(gmm: GMM) -> int:
    """Free parameters: (K - 1) weights + K D means + covariance parameters."""
    k, d = gmm.means.shape
    cov = {"full": k * d * (d + 1) // 2, "tied": d * (d + 1) // 2, "diag": k * d, "spherical": k}[gmm.covariance_type]
    return (k - 1) + k * d + cov


def bic(gmm: GMM, x) -> float:
    """Bayesian information criterion (Schwarz 1978): -2 log L + p log N (lower is better)."""
    x = jnp.asarray(x, gmm.means.dtype)
    return float(-2.0 * jnp.sum(log_prob(gmm, x)) + num_parameters(gmm) * math.log(x.shape[0]))


def aic(gmm: GMM, x) -> float:
    """Akaike information criterion (Akaike 1974): -2 log L + 2 p (lower is better)."""
    x = jnp.asarray(x, gmm.means.dtype)
    return float(-2.0 * jnp.sum(log_prob(gmm, x)) + 2.0 * num_parameters(gmm))
