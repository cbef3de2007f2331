"""The Gaussian "Bayesian classifier" as a generative model: one Gaussian per class plus the class prior.

Model (quadratic discriminant analysis read generatively; Hastie, Tibshirani & Friedman, ESL 2009, section 4.3):

    p(y = c) = pi_c = N_c / N,        p(x | y = c) = N(x | mu_c, Sigma_c),
    mu_c = mean of the class-c points,
    Sigma_c = (1 - reg) S_c + reg I,  S_c = (1 / N_c) sum_{n: y_n = c} (x_n - mu_c)(x_n - mu_c)^T.

The ridge ``reg`` in [0, 1] is a convex combination of the maximum-likelihood covariance S_c with the identity;
it is exactly scikit-learn's ``QuadraticDiscriminantAnalysis(reg_param=reg)`` (solver 'svd', scikit-learn >= 1.9,
which uses the 1/N_c covariance), the oracle of the tests. It keeps Sigma_c positive definite when a class has
fewer points than dimensions or constant pixels (reg is in squared data units: choose it on held-out data).

What the fitted model does:

* generate from a chosen class, x ~ p(x | y = c) (`sample_class`), or from the joint, y ~ p(y), x ~ p(x | y)
  (`sample_joint`);
* classify by Bayes' rule, argmax_c log p(x | c) + log p(c) (`predict`), with posteriors `log_posterior`;
* give the density of the class-conditional mixture p(x) = sum_c p(c) p(x | c) (`log_prob`), which is the
  density reported on the likelihood tables, or the joint log p(x, y) (`joint_log_prob`).

The fitted model IS a full-covariance `gmm.GMM` whose components are the classes and whose weights are the class
prior, so every GMM function (densities, sampling, BIC) applies to it unchanged.

Degenerate input: NaN/inf data, labels outside [0, num_classes), a class without examples and a class with a
single example (its covariance is undefined) raise ValueError naming the class.
"""
from __future__ import annotations

from typing import Optional

import jax
import jax.numpy as jnp
import numpy as np
from jax.scipy.special import logsumexp

from gen_jax.classical import gmm as gmm_lib

GMM = gmm_lib.GMM


def fit(x, y, num_classes: Optional[int] = None, reg: float = 0.0, dtype=None) -> GMM:
    """Fits class priors, means and ridge-regularized covariances (see the module docstring).

    Args:
      x: [N, D] data.
      y: [N] integer labels in [0, num_classes).
      num_classes: C (default: max(y) + 1).
      reg: ridge in [0, 1]: Sigma_c = (1 - reg) S_c + reg I.
      dtype: computation dtype (float64 needs x64 enabled).

    Returns:
      A full-covariance GMM with one component per class (weights = class prior).
    """
    x = gmm_lib.validate_data(x)
    y = np.asarray(y)
    if y.shape != (x.shape[0],):
        raise ValueError(f"labels y must have shape [N]={x.shape[0]}; got {y.shape}.")
    if not np.issubdtype(y.dtype, np.integer):
        raise ValueError(f"labels y must be integers; got dtype {y.dtype}.")
    if not 0.0 <= reg <= 1.0:
        raise ValueError(f"reg must lie in [0, 1]; got {reg}.")
    c = int(y.max()) + 1 if num_classes is None else int(num_classes)
    if y.min() < 0 or y.max() >= c:
        raise ValueError(f"labels must lie in [0, {c}); got range [{y.min()}, {y.max()}].")
    counts = np.bincount(y, minlength=c)
    for cls, cnt in enumerate(counts):
        if cnt < 2:
            raise ValueError(
                f"class {cls} has {cnt} example(s); a class-conditional Gaussian needs at least 2 to estimate a "
                "covariance. Drop the class or merge it into another one.")
    xj = jnp.asarray(x, dtype=dtype) if dtype is not None else jnp.asarray(x)
    if not jnp.issubdtype(xj.dtype, jnp.floating):
        xj = xj.astype(jnp.float32)
    onehot = jax.nn.one_hot(jnp.asarray(y), c, dtype=xj.dtype)
    return _fit(xj, onehot, reg)


@jax.jit
def _fit(x, onehot, reg):
    counts = jnp.sum(onehot, axis=0)
    means = (onehot.T @ x) / counts[:, None]
    diff = x[:, None, :] - means[None]
    s = jnp.einsum("nc,ncd,nce->cde", onehot, diff, diff) / counts[:, None, None]
    cov = (1.0 - reg) * s + reg * jnp.eye(x.shape[1], dtype=x.dtype)[None]
    return gmm_lib.from_covariances(counts / jnp.sum(counts), means, cov, "full")


def class_log_prob(model: GMM, x) -> jax.Array:
    """log p(x_n | y = c): [N, D] -> [N, C]."""
    return gmm_lib.component_log_prob(model, jnp.asarray(x, model.means.dtype))


def joint_log_prob(model: GMM, x, y=None) -> jax.Array:
    """log p(x, y = c) for every class [N, C], or for the given labels [N]."""
    joint = gmm_lib.joint_log_prob(model, jnp.asarray(x, model.means.dtype))
    if y is None:
        return joint
    return jnp.take_along_axis(joint, jnp.asarray(y)[:, None], axis=1)[:, 0]


def log_prob(model: GMM, x) -> jax.Array:
    """log p(x) of the class-conditional mixture sum_c p(c) p(x | c): [N]."""
    return gmm_lib.log_prob(model, jnp.asarray(x, model.means.dtype))


def log_posterior(model: GMM, x) -> jax.Array:
    """Bayes' rule: log p(y = c | x) = log p(x | c) + log p(c) - log p(x): [N, C]."""
    joint = joint_log_prob(model, x)
    return joint - logsumexp(joint, axis=-1, keepdims=True)


def predict(model: GMM, x) -> jax.Array:
    """argmax_c p(x | c) p(c): [N] int."""
    return jnp.argmax(joint_log_prob(model, x), axis=-1)


def accuracy(model: GMM, x, y) -> float:
    """Fraction of points whose Bayes-rule class equals the label."""
    return float(jnp.mean(predict(model, x) == jnp.asarray(y)))


def sample_class(rng: jax.Array, model: GMM, cls, num_samples: int) -> jax.Array:
    """x ~ p(x | y = cls) = N(mu_cls, Sigma_cls): x = mu + L eps, L L^T = Sigma. [S, D]."""
    chol = jnp.linalg.cholesky(model.covariances[cls])
    eps = jax.random.normal(rng, (num_samples, model.num_features), model.means.dtype)
    return model.means[cls] + eps @ chol.T


def sample_joint(rng: jax.Array, model: GMM, num_samples: int):
    """Ancestral sampling from the joint: y ~ p(y), then x ~ p(x | y). Returns (x [S, D], y [S])."""
    return gmm_lib.sample(rng, model, num_samples)
