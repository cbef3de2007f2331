"""Variational Bayesian Gaussian mixture (full covariances), fitted by coordinate ascent on the ELBO.

Model (Bishop, PRML 2006, section 10.2; Attias 1999; Blei & Jordan 2006 for the Dirichlet process):

    pi ~ Dirichlet(alpha0 1_K)                                   ('dirichlet_distribution'), or
    v_k ~ Beta(1, alpha0), pi_k = v_k prod_{j<k} (1 - v_j)        ('dirichlet_process', stick-breaking,
                                                                  truncated at K with v_K = 1);
    Lambda_k ~ Wishart(W0, nu0),  mu_k | Lambda_k ~ N(m0, (beta0 Lambda_k)^{-1})   (Gaussian-Wishart);
    z_n ~ Categorical(pi),  x_n | z_n = k ~ N(mu_k, Lambda_k^{-1}).

Mean-field posterior q(Z) q(pi) prod_k q(mu_k, Lambda_k), updated in turn (each update maximizes the ELBO in
its factor, so the ELBO never decreases). With N_k = sum_n r_nk, xbar_k, S_k the responsibility-weighted
count, mean and (1/N_k) scatter:

    Dirichlet:  alpha_k = alpha0 + N_k;      DP:  gamma_k1 = 1 + N_k,  gamma_k2 = alpha0 + sum_{j>k} N_j
    beta_k = beta0 + N_k,   m_k = (beta0 m0 + N_k xbar_k) / beta_k,   nu_k = nu0 + N_k,
    W_k^{-1} = W0^{-1} + N_k S_k + beta0 N_k / (beta0 + N_k) (xbar_k - m0)(xbar_k - m0)^T      (PRML 10.58-10.63)
    log rho_nk = E[log pi_k] + 1/2 E[log|Lambda_k|] - D/2 log(2 pi) - 1/2 (D / beta_k + nu_k (x_n - m_k)^T W_k (x_n - m_k))
    r_nk = softmax_k(log rho_nk)                                                                (PRML 10.46-10.49)

ELBO (evidence lower bound, PRML 10.70-10.77 regrouped):

    L = sum_n sum_k r_nk (log rho_nk - log r_nk) - KL(q(pi) || p(pi)) - sum_k KL(q(mu_k, Lambda_k) || p(mu_k, Lambda_k)),

which, at r = softmax(log rho), equals sum_n logsumexp_k log rho_nk - KLs. The Gaussian-Wishart KL is
KL_Wishart(W_k, nu_k || W0, nu0) + 1/2 [D beta0/beta_k - D + D log(beta_k/beta0) + beta0 nu_k (m_k - m0)^T W_k (m_k - m0)].
The tests check that the M-step is a stationary point of this L (its gradient vanishes), and that L never decreases.

The density used for likelihood tables is the posterior predictive, a mixture of Student t's (PRML 10.81):
p(x | data) = sum_k E[pi_k] St(x | m_k, (nu_k + 1 - D) beta_k / (1 + beta_k) W_k, nu_k + 1 - D).

Defaults follow scikit-learn's BayesianGaussianMixture (the test oracle): alpha0 = 1/K, beta0 = 1, m0 = data mean,
nu0 = D, W0^{-1} = the data covariance (ddof=1); N_k gets 10 machine-epsilon added. Unlike scikit-learn, the stick of
the last component is fixed to v_K = 1 so the truncated prior is a proper distribution over K components.
The ELBO is tracked per point (L / N) and the loop stops when it changes by less than `tol`.
"""
from __future__ import annotations

import functools
import math
from typing import NamedTuple, Optional

import flax
import jax
import jax.numpy as jnp
from jax.scipy.linalg import solve_triangular
from jax.scipy.special import digamma, gammaln, logsumexp, multigammaln, xlogy

from gen_jax.classical import gmm as gmm_lib

WEIGHT_PRIORS = ("dirichlet_distribution", "dirichlet_process")
LOG_2PI = math.log(2.0 * math.pi)


class Prior(flax.struct.PyTreeNode):
    """Hyper-parameters: weight concentration alpha0, mean precision beta0, mean m0 [D], degrees of freedom nu0,
    inverse Wishart scale W0^{-1} [D, D]."""

    alpha0: jax.Array
    beta0: jax.Array
    m0: jax.Array
    nu0: jax.Array
    w0_inv: jax.Array
    weight_prior: str = flax.struct.field(pytree_node=False, default="dirichlet_process")


class Posterior(flax.struct.PyTreeNode):
    """Variational posterior. conc1/conc2: Dirichlet alpha_k (conc2 unused) or Beta (gamma_k1, gamma_k2) [K];
    beta [K]; means m [K, D]; nu [K]; w_inv = W_k^{-1} [K, D, D]."""

    conc1: jax.Array
    conc2: jax.Array
    beta: jax.Array
    means: jax.Array
    nu: jax.Array
    w_inv: jax.Array
    weight_prior: str = flax.struct.field(pytree_node=False, default="dirichlet_process")


class FitInfo(NamedTuple):
    """elbo: [max_iter] ELBO per point after each iteration (NaN after the last); num_iters; converged."""

    elbo: jax.Array
    num_iters: jax.Array
    converged: jax.Array


def default_prior(x, num_components: int, weight_prior: str = "dirichlet_process", alpha0=None, beta0=1.0, m0=None,
                  nu0=None, w0_inv=None) -> Prior:
    """scikit-learn's defaults: alpha0 = 1/K, beta0 = 1, m0 = mean(x), nu0 = D, W0^{-1} = cov(x) (ddof=1)."""
    if weight_prior not in WEIGHT_PRIORS:
        raise ValueError(f"Unknown weight_prior {weight_prior!r}; expected one of {WEIGHT_PRIORS}.")
    x = jnp.asarray(x)
    d = x.shape[1]
    dt = x.dtype
    if nu0 is not None and nu0 <= d - 1:
        raise ValueError(f"nu0 must exceed D - 1 = {d - 1}; got {nu0}.")
    return Prior(
        alpha0=jnp.asarray(1.0 / num_components if alpha0 is None else alpha0, dt),
        beta0=jnp.asarray(beta0, dt),
        m0=jnp.mean(x, axis=0) if m0 is None else jnp.asarray(m0, dt),
        nu0=jnp.asarray(d if nu0 is None else nu0, dt),
        w0_inv=jnp.atleast_2d(jnp.cov(x.T)) if w0_inv is None else jnp.asarray(w0_inv, dt),
        weight_prior=weight_prior,
    )


# ----------------------------------------------------------------------------------------------------------------
# Expectations under q.


def expected_log_weights(post: Posterior) -> jax.Array:
    """E_q[log pi_k]: [K]."""
    if post.weight_prior == "dirichlet_distribution":
        return digamma(post.conc1) - digamma(jnp.sum(post.conc1))
    total = digamma(post.conc1 + post.conc2)
    e_log_v = (digamma(post.conc1) - total).at[-1].set(0.0)  # v_K = 1
    e_log_1mv = digamma(post.conc2) - total
    return e_log_v + jnp.concatenate([jnp.zeros((1,), e_log_1mv.dtype), jnp.cumsum(e_log_1mv[:-1])])


def mixture_weights(post: Posterior) -> jax.Array:
    """E_q[pi_k]: [K], summing to one."""
    if post.weight_prior == "dirichlet_distribution":
        return post.conc1 / jnp.sum(post.conc1)
    e_v = (post.conc1 / (post.conc1 + post.conc2)).at[-1].set(1.0)
    return e_v * jnp.concatenate([jnp.ones((1,), e_v.dtype), jnp.cumprod(1.0 - e_v[:-1])])


def _chol_and_logdet_w(post: Posterior):
    chol = jnp.linalg.cholesky(post.w_inv)  # L L^T = W^{-1}
    log_det_w = -2.0 * jnp.sum(jnp.log(jnp.diagonal(chol, axis1=-2, axis2=-1)), axis=-1)
    return chol, log_det_w


def expected_log_det_precision(post: Posterior) -> jax.Array:
    """E_q[log |Lambda_k|] = sum_i psi((nu_k + 1 - i)/2) + D log 2 + log|W_k|  (PRML 10.65): [K]."""
    d = post.means.shape[1]
    _, log_det_w = _chol_and_logdet_w(post)
    i = jnp.arange(1, d + 1, dtype=post.nu.dtype)
    return jnp.sum(digamma((post.nu[:, None] + 1.0 - i) / 2.0), axis=-1) + d * math.log(2.0) + log_det_w


def _maha_w(post: Posterior, chol, x):
    """(x_n - m_k)^T W_k (x_n - m_k) = ||L_k^{-1}(x_n - m_k)||^2: [N, K]."""
    diff = x[None, :, :] - post.means[:, None, :]  # [K, N, D]
    y = solve_triangular(chol, jnp.swapaxes(diff, -1, -2), lower=True)  # [K, D, N]
    return jnp.sum(y**2, axis=1).T


def expected_log_gaussian(post: Posterior, x) -> jax.Array:
    """E_q[log N(x_n | mu_k, Lambda_k^{-1})] = 1/2 E log|Lambda| - D/2 log 2pi - 1/2 (D/beta + nu maha): [N, K]."""
    d = post.means.shape[1]
    chol, _ = _chol_and_logdet_w(post)
    maha = _maha_w(post, chol, x)
    return 0.5 * expected_log_det_precision(post)[None] - 0.5 * d * LOG_2PI - 0.5 * (
        d / post.beta[None] + post.nu[None] * maha)


def log_rho(post: Posterior, x) -> jax.Array:
    """log rho_nk = E[log pi_k] + E[log N(x_n | mu_k, Lambda_k^{-1})]: [N, K]."""
    return expected_log_weights(post)[None] + expected_log_gaussian(post, x)


# ----------------------------------------------------------------------------------------------------------------
# KL terms and the ELBO.


def _log_wishart_norm(w_inv_logdet, nu, d):
    """log B(W, nu) = -nu/2 log|W| - nu D/2 log 2 - log Gamma_D(nu/2), with log|W| = -log|W^{-1}|."""
    return 0.5 * nu * w_inv_logdet - 0.5 * nu * d * math.log(2.0) - multigammaln(0.5 * nu, d)


def kl_weights(post: Posterior, prior: Prior) -> jax.Array:
    """KL(q(pi) || p(pi)): Dirichlet vs Dirichlet, or the sum over the K-1 free sticks of Beta vs Beta(1, alpha0)."""
    if post.weight_prior == "dirichlet_distribution":
        a, k = post.conc1, post.conc1.shape[0]
        a0 = prior.alpha0
        return (gammaln(jnp.sum(a)) - jnp.sum(gammaln(a)) - gammaln(k * a0) + k * gammaln(a0)
                + jnp.sum((a - a0) * (digamma(a) - digamma(jnp.sum(a)))))
    a, b = post.conc1[:-1], post.conc2[:-1]
    a0, b0 = jnp.ones_like(a), prior.alpha0
    log_beta = lambda p, q: gammaln(p) + gammaln(q) - gammaln(p + q)  # noqa: E731
    kl = (log_beta(a0, b0) - log_beta(a, b) + (a - a0) * digamma(a) + (b - b0) * digamma(b)
          + (a0 - a + b0 - b) * digamma(a + b))
    return jnp.sum(kl)


def kl_gaussian_wishart(post: Posterior, prior: Prior) -> jax.Array:
    """KL(q(mu_k, Lambda_k) || p(mu_k, Lambda_k)) for every component: [K]."""
    d = post.means.shape[1]
    chol, log_det_w = _chol_and_logdet_w(post)
    e_logdet = expected_log_det_precision(post)
    nu, beta = post.nu, post.beta
    eye = jnp.broadcast_to(jnp.eye(d, dtype=chol.dtype), chol.shape)
    a = solve_triangular(chol, eye, lower=True)  # W_k = A^T A
    tr = jnp.einsum("kij,jl,kil->k", a, prior.w0_inv, a)  # tr(W0^{-1} W_k)
    _, w0_inv_logdet = jnp.linalg.slogdet(prior.w0_inv)
    kl_wishart = (_log_wishart_norm(-log_det_w, nu, d) - _log_wishart_norm(w0_inv_logdet, prior.nu0, d)
                  + 0.5 * (nu - prior.nu0) * e_logdet - 0.5 * nu * d + 0.5 * nu * tr)
    dm = post.means - prior.m0[None]
    maha = jnp.sum(solve_triangular(chol, dm[:, :, None], lower=True)[..., 0] ** 2, axis=-1)
    kl_mean = 0.5 * (d * prior.beta0 / beta - d + d * jnp.log(beta / prior.beta0) + prior.beta0 * nu * maha)
    return kl_wishart + kl_mean


@jax.jit
def elbo(post: Posterior, prior: Prior, x, resp=None, sample_weight=None) -> jax.Array:
    """Total ELBO. With resp=None the optimal responsibilities are used (sum_n logsumexp_k log rho_nk - KLs)."""
    lr = log_rho(post, x)
    if resp is None:
        per_point = logsumexp(lr, axis=-1)
    else:
        per_point = jnp.sum(resp * lr - xlogy(resp, resp), axis=-1)
    if sample_weight is not None:
        per_point = per_point * sample_weight
    return jnp.sum(per_point) - kl_weights(post, prior) - jnp.sum(kl_gaussian_wishart(post, prior))


# ----------------------------------------------------------------------------------------------------------------
# Coordinate ascent.


@jax.jit
def m_step(x, resp, prior: Prior, sample_weight=None) -> Posterior:
    """Updates q(pi) and q(mu_k, Lambda_k) given responsibilities (PRML 10.58-10.63; Blei & Jordan 2006)."""
    if sample_weight is not None:
        resp = resp * sample_weight[:, None]
    nk = jnp.sum(resp, axis=0) + 10 * jnp.finfo(x.dtype).eps
    xbar = (resp.T @ x) / nk[:, None]
    diff = x[:, None, :] - xbar[None]
    scatter = jnp.einsum("nk,nkd,nke->kde", resp, diff, diff)  # N_k S_k
    if prior.weight_prior == "dirichlet_distribution":
        conc1, conc2 = prior.alpha0 + nk, jnp.zeros_like(nk)
    else:
        tail = jnp.concatenate([jnp.cumsum(nk[::-1])[::-1][1:], jnp.zeros((1,), nk.dtype)])  # sum_{j>k} N_j
        conc1, conc2 = 1.0 + nk, prior.alpha0 + tail
    beta = prior.beta0 + nk
    means = (prior.beta0 * prior.m0[None] + nk[:, None] * xbar) / beta[:, None]
    nu = prior.nu0 + nk
    dm = xbar - prior.m0[None]
    w_inv = (prior.w0_inv[None] + scatter
             + (prior.beta0 * nk / (prior.beta0 + nk))[:, None, None] * dm[:, :, None] * dm[:, None, :])
    return Posterior(conc1, conc2, beta, means, nu, w_inv, prior.weight_prior)


@jax.jit
def e_step(post: Posterior, prior: Prior, x, sample_weight=None):
    """Responsibilities r = softmax(log rho) and the ELBO at them. Returns (resp [N, K], total ELBO)."""
    lr = log_rho(post, x)
    lse = logsumexp(lr, axis=-1)
    w = jnp.ones_like(lse) if sample_weight is None else sample_weight
    total = jnp.sum(w * lse) - kl_weights(post, prior) - jnp.sum(kl_gaussian_wishart(post, prior))
    return jnp.exp(lr - lse[:, None]), total


@functools.partial(jax.jit, static_argnames=("max_iter",))
def _fit_loop(resp, x, w, prior, tol, max_iter: int):
    n = jnp.sum(w)
    hist0 = jnp.full((max_iter,), jnp.nan, x.dtype)
    post0 = m_step(x, resp, prior, w)

    def cond(carry):
        _, _, it, conv, _, _ = carry
        return jnp.logical_and(it < max_iter, jnp.logical_not(conv))

    def body(carry):
        post, resp, it, _, prev, hist = carry
        post = m_step(x, resp, prior, w)
        resp, total = e_step(post, prior, x, w)
        val = total / n
        return post, resp, it + 1, jnp.abs(val - prev) < tol, val, hist.at[it].set(val)

    init = (post0, resp, jnp.int32(0), jnp.array(False), jnp.array(-jnp.inf, x.dtype), hist0)
    post, _, it, conv, _, hist = jax.lax.while_loop(cond, body, init)
    return post, FitInfo(hist, it, conv)


def fit(
    x,
    num_components: int,
    *,
    rng: Optional[jax.Array] = None,
    weight_prior: str = "dirichlet_process",
    prior: Optional[Prior] = None,
    init_resp=None,
    tol: float = 1e-6,
    max_iter: int = 200,
    kmeans_iters: int = 10,
    sample_weight=None,
    dtype=None,
) -> tuple[Posterior, FitInfo]:
    """Fits the variational Bayesian GMM by coordinate ascent.

    Args:
      x: [N, D] data (NaN/inf rejected).
      num_components: K, the truncation level (superfluous components are switched off by the prior).
      rng: key for the k-means++ / Lloyd initialization of the responsibilities (hard assignments).
      weight_prior: 'dirichlet_distribution' or 'dirichlet_process'.
      prior: hyper-parameters (default: `default_prior`).
      init_resp: [N, K] initial responsibilities instead of k-means.
      tol: stop when the ELBO per point changes by less than this.
      max_iter: maximum coordinate-ascent iterations.
    """
    x = gmm_lib.validate_data(x)
    n = x.shape[0]
    if num_components < 1 or num_components > n:
        raise ValueError(f"num_components must lie in [1, N={n}]; got {num_components}.")
    x = jnp.asarray(x, dtype=dtype) if dtype is not None else jnp.asarray(x)
    if not jnp.issubdtype(x.dtype, jnp.floating):
        x = x.astype(jnp.float32)
    if prior is None:
        prior = default_prior(x, num_components, weight_prior)
    elif prior.weight_prior != weight_prior:
        prior = prior.replace(weight_prior=weight_prior)
    prior = jax.tree.map(lambda a: jnp.asarray(a, x.dtype), prior)
    w = jnp.ones((n,), x.dtype) if sample_weight is None else jnp.asarray(sample_weight, x.dtype)
    if init_resp is None:
        if rng is None:
            raise ValueError("Give rng (for the k-means initialization) or init_resp.")
        centers = gmm_lib.kmeans_plus_plus(rng, x, num_components, w)
        centers = gmm_lib.kmeans(x, centers, kmeans_iters, w)
        init_resp = jax.nn.one_hot(jnp.argmin(gmm_lib._sq_dists(x, centers), -1), num_components, dtype=x.dtype)
    init_resp = jnp.asarray(init_resp, x.dtype)
    return _fit_loop(init_resp, x, w, prior, tol, max_iter)


def effective_components(post: Posterior, threshold: float = 0.01) -> int:
    """Number of components whose expected weight E[pi_k] exceeds `threshold`."""
    return int(jnp.sum(mixture_weights(post) > threshold))


@jax.jit
def predictive_log_prob(post: Posterior, x) -> jax.Array:
    """log of the posterior predictive density (Student-t mixture, PRML 10.81): [N]."""
    x = jnp.asarray(x, post.means.dtype)
    d = post.means.shape[1]
    dof = post.nu + 1.0 - d  # [K]
    chol, log_det_w = _chol_and_logdet_w(post)
    scale = dof * post.beta / (1.0 + post.beta)  # precision L_k = scale_k W_k
    maha = scale[None] * _maha_w(post, chol, x)  # (x - m)^T L_k (x - m)
    log_det_l = d * jnp.log(scale) + log_det_w
    log_st = (gammaln(0.5 * (dof + d)) - gammaln(0.5 * dof) + 0.5 * log_det_l[None]
              - 0.5 * d * jnp.log(dof * math.pi)[None] - 0.5 * (dof + d)[None] * jnp.log1p(maha / dof[None]))
    return logsumexp(log_st + jnp.log(mixture_weights(post))[None], axis=-1)


def to_gmm(post: Posterior) -> gmm_lib.GMM:
    """Plug-in point estimate: weights E[pi], means m_k, covariances E[Lambda_k]^{-1} = W_k^{-1} / nu_k."""
    return gmm_lib.from_covariances(mixture_weights(post), post.means, post.w_inv / post.nu[:, None, None], "full")
