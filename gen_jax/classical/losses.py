"""Per-example losses of the classical family ([batch] in, [batch] out), pure and differentiable.

Autoencoder reconstruction losses, for a target x in [0, 1]^D and decoder logits l (reconstruction sigmoid(l)):

* squared error (Rumelhart, Hinton & Williams 1986; Hinton & Salakhutdinov 2006):
      L_se(x, l) = sum_d (x_d - sigmoid(l_d))^2;
* cross-entropy for targets in [0, 1] (Bengio et al. 2007; Vincent et al. 2010, eq. 3):
      L_ce(x, l) = -sum_d [x_d log sigmoid(l_d) + (1 - x_d) log(1 - sigmoid(l_d))]
                 = sum_d [softplus(l_d) - x_d l_d],
  minimized at sigmoid(l) = x; its minimum, the Bernoulli entropy of x, is not 0 for grey pixels.

Density losses: the negative log-likelihood of a Gaussian mixture (EM or Bayes classifier) per point.
"""
from __future__ import annotations

import jax
import jax.numpy as jnp

from gen_jax.classical import gmm as gmm_lib

RECONSTRUCTION_LOSSES = ("squared_error", "cross_entropy")


def _flat(a):
    return a.reshape(a.shape[0], -1)


def squared_error(x, logits):
    """sum_d (x_d - sigmoid(l_d))^2 per example: [B, ...] -> [B]."""
    return jnp.sum((_flat(x) - jax.nn.sigmoid(_flat(logits))) ** 2, axis=-1)


def cross_entropy(x, logits):
    """-sum_d [x log sigmoid(l) + (1 - x) log(1 - sigmoid(l))] = sum_d softplus(l) - x l, per example: [B]."""
    l = _flat(logits)
    return jnp.sum(jax.nn.softplus(l) - _flat(x) * l, axis=-1)


def reconstruction_loss(name: str):
    """The loss function named `name` (one of RECONSTRUCTION_LOSSES)."""
    if name == "squared_error":
        return squared_error
    if name == "cross_entropy":
        return cross_entropy
    raise ValueError(f"unknown reconstruction loss {name!r}; expected one of {RECONSTRUCTION_LOSSES}")


def mixture_nll(gmm: gmm_lib.GMM, x):
    """-log sum_k w_k N(x | mu_k, Sigma_k) per point: [B, D] -> [B]."""
    return -gmm_lib.log_prob(gmm, x)
