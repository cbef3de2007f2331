"""Variational autoencoder losses: pure, differentiable, per example ([B] in, [B] out).

Notation: x an example, z a latent, q(z|x) = N(mu, diag(sigma^2)) the encoder, p(z) = N(0, I) the prior,
p(x|z) the decoder. All log-densities are summed over every non-batch axis and returned in nats.
`Likelihood` bundles the decoder distributions the VAE Experiment picks by config.model.likelihood
(categorical, Bernoulli, Gaussian on dequantized data) with the data preparation each needs.

References:
  Kingma & Welling 2014, "Auto-Encoding Variational Bayes" (reparameterization, ELBO, closed-form KL).
  Burda, Grosse & Salakhutdinov 2016, "Importance Weighted Autoencoders" (the IWAE bound).
"""
from __future__ import annotations

import math
from typing import Callable, Optional

import flax.struct
import jax
import jax.numpy as jnp

from gen_jax.metrics.likelihood import dequantization_offset

LOG_2PI = math.log(2.0 * math.pi)


def _sum_except_batch(x):
    return jnp.sum(x.reshape(x.shape[0], -1), axis=-1)


def reparameterize(rng, mean, logvar, num_samples: Optional[int] = None):
    """z = mu + sigma * eps, eps ~ N(0, I): a sample of q(z|x) that is differentiable in (mu, log sigma^2).

    With `num_samples=k` the result has a leading axis of size k.
    """
    shape = mean.shape if num_samples is None else (num_samples,) + mean.shape
    eps = jax.random.normal(rng, shape, mean.dtype)
    return mean + jnp.exp(0.5 * logvar) * eps


def kl_standard_normal(mean, logvar):
    """KL(N(mu, diag(sigma^2)) || N(0, I)) = 1/2 sum_j (mu_j^2 + sigma_j^2 - log sigma_j^2 - 1), per example."""
    return 0.5 * _sum_except_batch(jnp.square(mean) + jnp.exp(logvar) - logvar - 1.0)


def kl_diag_gaussians(mean1, logvar1, mean2, logvar2):
    """KL(N(mu1, diag s1^2) || N(mu2, diag s2^2)) = 1/2 sum (log s2^2/s1^2 + (s1^2 + (mu1-mu2)^2)/s2^2 - 1)."""
    return 0.5 * _sum_except_batch(
        logvar2 - logvar1 + (jnp.exp(logvar1) + jnp.square(mean1 - mean2)) * jnp.exp(-logvar2) - 1.0)


def log_normal_diag(x, mean, logvar):
    """log N(x; mu, diag(sigma^2)) = -1/2 sum_j (log 2 pi + log sigma_j^2 + (x_j - mu_j)^2 / sigma_j^2)."""
    return -0.5 * _sum_except_batch(LOG_2PI + logvar + jnp.square(x - mean) * jnp.exp(-logvar))


def log_standard_normal(z):
    """log N(z; 0, I), per example."""
    return -0.5 * _sum_except_batch(LOG_2PI + jnp.square(z))


def bernoulli_log_likelihood(x, logits):
    """log p(x|z) = sum_j x_j log s(l_j) + (1 - x_j) log(1 - s(l_j)), written stably as x l - softplus(l).

    `x` holds values in [0, 1] (binary for the discrete protocol), `logits` the decoder's pre-sigmoid outputs.
    """
    return _sum_except_batch(x * logits - jax.nn.softplus(logits))


def gaussian_log_likelihood(x, mean, logvar):
    """log N(x; mean, diag(exp(logvar))): the Gaussian decoder of continuous (dequantized) data."""
    return log_normal_diag(x, mean, logvar)


def categorical_log_likelihood(x, logits):
    """log p(x|z) = sum_j log softmax(l_j)[x_j] for integer levels x_j in {0, ..., K-1}; logits [..., K]."""
    logp = jax.nn.log_softmax(logits, axis=-1)
    picked = jnp.take_along_axis(logp, x.astype(jnp.int32)[..., None], axis=-1)[..., 0]
    return _sum_except_batch(picked)


@flax.struct.dataclass
class ELBOTerms:
    """Per-example terms of the evidence lower bound: elbo = reconstruction - kl (all [B], nats)."""

    elbo: jax.Array
    reconstruction: jax.Array  # E_q[log p(x|z)], one-sample Monte Carlo estimate
    kl: jax.Array              # KL(q(z|x) || p(z)), closed form (or Monte Carlo if analytic_kl=False)


def elbo(rng, x, encode: Callable, log_likelihood: Callable, analytic_kl: bool = True, beta: float = 1.0):
    """ELBO(x) = E_{q(z|x)}[log p(x|z)] - KL(q(z|x) || p(z)) <= log p(x)   (Kingma & Welling 2014, eq. 10).

    Args:
      rng: key for the reparameterized sample z ~ q(z|x).
      x: a batch of examples (whatever `encode` and `log_likelihood` take).
      encode: x -> (mean, logvar) of q(z|x), each [B, latent].
      log_likelihood: (z, x) -> log p(x|z), [B].
      analytic_kl: closed-form KL (lower variance) or the single-sample estimate log q(z|x) - log p(z).
      beta: weight of the KL term (beta-VAE, Higgins et al. 2017); the returned `elbo` uses this weight,
        so it is a bound on log p(x) only for beta = 1.
    """
    mean, logvar = encode(x)
    z = reparameterize(rng, mean, logvar)
    recon = log_likelihood(z, x)
    if analytic_kl:
        kl = kl_standard_normal(mean, logvar)
    else:
        kl = log_normal_diag(z, mean, logvar) - log_standard_normal(z)
    return ELBOTerms(elbo=recon - beta * kl, reconstruction=recon, kl=kl)


def iwae_bound(rng, x, encode: Callable, log_likelihood: Callable, num_samples: int,
               chunk_size: Optional[int] = None):
    """The importance-weighted bound L_k(x) = E[log (1/k) sum_i p(x, z_i) / q(z_i|x)], z_i ~ q(z|x).

    L_1 is the ELBO, L_k <= L_{k+1} <= log p(x), and L_k -> log p(x) as k -> infinity (Burda et al. 2016,
    Theorem 1). With k = 5000 it is the standard estimate of the test log-likelihood. The k samples are
    processed `chunk_size` at a time with a running log-sum-exp, so memory does not grow with k; any k works
    (the last chunk may be short). Sample i is drawn with the key fold_in(rng, i), so the value does not
    depend on the chunk size (the tests compare it with the unchunked bound).

    Returns: [B] the one-draw estimate of L_k for each example.
    """
    if num_samples < 1:
        raise ValueError(f"num_samples must be >= 1, got {num_samples}")
    chunk = min(num_samples, chunk_size or num_samples)
    mean, logvar = encode(x)
    std = jnp.exp(0.5 * logvar)

    def log_weights(start, size):
        eps = jax.vmap(lambda i: jax.random.normal(jax.random.fold_in(rng, i), mean.shape, mean.dtype))(
            start + jnp.arange(size))
        z = mean[None] + std[None] * eps  # [size, B, latent]
        return jax.vmap(lambda zi: log_likelihood(zi, x) + log_standard_normal(zi)
                        - log_normal_diag(zi, mean, logvar))(z)  # [size, B]

    full, rest = divmod(num_samples, chunk)

    def body(running, j):
        return jnp.logaddexp(running, jax.nn.logsumexp(log_weights(j * chunk, chunk), axis=0)), None

    total = jnp.full(mean.shape[:1], -jnp.inf, mean.dtype)
    total, _ = jax.lax.scan(body, total, jnp.arange(full))
    if rest:
        total = jnp.logaddexp(total, jax.nn.logsumexp(log_weights(full * chunk, rest), axis=0))
    return total - math.log(num_samples)


# ----------------------------------------------------------------------------------------------------------
# The decoder likelihoods of the VAE Experiment: data preparation, log p(x|z), means and draws.


LIKELIHOODS = ("categorical", "bernoulli", "gaussian")


class Likelihood:
    """How raw data become the encoder input and the decoder target, and the matching log p(x|z)."""

    def __init__(self, kind: str, num_levels, binarize: str = "none"):
        if kind not in LIKELIHOODS:
            raise ValueError(f"unknown likelihood {kind!r}; expected one of {LIKELIHOODS}")
        if num_levels is None:
            raise ValueError(f"the {kind!r} likelihood needs discrete data with a known number of levels")
        if kind == "bernoulli" and binarize not in ("static", "dynamic") and num_levels != 2:
            raise ValueError("the bernoulli likelihood needs binary data: set model.binarize to 'static' or "
                             f"'dynamic' (the dataset has {num_levels} levels)")
        self.kind, self.num_levels, self.binarize = kind, int(num_levels), binarize
        self.params_per_dim = {"categorical": self.num_levels, "bernoulli": 1, "gaussian": 2}[kind]

    def prepare(self, x, rng):
        """Raw levels -> (encoder input in [0, 1], decoder target)."""
        from gen_jax.data import preprocess as pp   # here, so that importing the losses needs no data package

        k = self.num_levels
        if self.kind == "categorical":
            return pp.scale01(x, k), jnp.asarray(x, jnp.int32)
        if self.kind == "bernoulli":
            if self.binarize == "dynamic":
                b = pp.binarize_dynamic(rng, pp.scale01(x, k))
            else:
                b = pp.binarize_static(x, k)
            return b, b
        y = pp.dequantize(rng, x, k)
        return y, y

    def log_prob(self, out, target):
        """log p(target | decoder output `out` [B, *shape, params_per_dim]), per example."""
        if self.kind == "categorical":
            return categorical_log_likelihood(target, out)
        if self.kind == "bernoulli":
            return bernoulli_log_likelihood(target, out[..., 0])
        return gaussian_log_likelihood(target, out[..., 0], jnp.clip(out[..., 1], -12.0, 6.0))

    def mean(self, out):
        """E[x | z] as an image in [0, 1]."""
        if self.kind == "categorical":
            levels = jnp.arange(self.num_levels, dtype=jnp.float32)
            return jnp.sum(jax.nn.softmax(out, -1) * levels, -1) / (self.num_levels - 1)
        if self.kind == "bernoulli":
            return jax.nn.sigmoid(out[..., 0])
        return jnp.clip(out[..., 0], 0.0, 1.0)

    def sample(self, rng, out):
        """A draw x ~ p(x | z) as an image in [0, 1]."""
        if self.kind == "categorical":
            return jax.random.categorical(rng, out, axis=-1).astype(jnp.float32) / (self.num_levels - 1)
        if self.kind == "bernoulli":
            return jax.random.bernoulli(rng, jax.nn.sigmoid(out[..., 0])).astype(jnp.float32)
        std = jnp.exp(0.5 * jnp.clip(out[..., 1], -12.0, 6.0))
        return jnp.clip(out[..., 0] + std * jax.random.normal(rng, out[..., 0].shape), 0.0, 1.0)

    def nll_offset(self, num_dims: int) -> float:
        """What turns -log p(target) into the protocol's discrete NLL bound: D log K for dequantized data."""
        return dequantization_offset(num_dims, self.num_levels) if self.kind == "gaussian" else 0.0
