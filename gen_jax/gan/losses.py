"""GAN losses: pure, differentiable, per example ([batch] in, [batch] out), written on logits.

Every discriminator/critic output here is a *logit* (or an unbounded critic value for WGAN), never a
probability: log D = log sigmoid(l) = -softplus(-l) and log(1 - D) = log sigmoid(-l) = -softplus(l) are
evaluated in their stable forms, so no loss overflows or returns log(0) for confident discriminators.

Conventions: every function returns a quantity that its player MINIMISES. Means over the batch (and the
penalty weights) are applied by the caller, i.e. the train step.

Papers:
  * Goodfellow et al. 2014, "Generative Adversarial Nets" (minimax value, non-saturating generator loss).
  * Arjovsky et al. 2017, "Wasserstein GAN"; Gulrajani et al. 2017, "Improved Training of Wasserstein GANs"
    (critic loss, gradient penalty on random interpolates).
  * Lim & Ye 2017, "Geometric GAN"; Miyato et al. 2018, "Spectral Normalization for GANs" (hinge loss).
  * Mao et al. 2017, "Least Squares Generative Adversarial Networks" (least-squares loss, a=0, b=c=1).
  * Mescheder et al. 2018, "Which Training Methods for GANs do actually Converge?" (R1 penalty).
"""
from __future__ import annotations

from typing import Callable, NamedTuple

import jax
import jax.numpy as jnp


def _check_logits(name, *arrays):
    for a in arrays:
        if jnp.ndim(a) != 1:
            raise ValueError(f"{name}: logits must be per-example vectors [batch], got shape {jnp.shape(a)}; "
                             "squeeze the discriminator's trailing output axis first")


# ----------------------------------------------------------------------------------------------------------
# The original minimax game (Goodfellow et al. 2014).
# ----------------------------------------------------------------------------------------------------------

def discriminator_minimax_loss(real_logits, fake_logits):
    """Discriminator loss of the minimax game: -[log D(x) + log(1 - D(G(z)))].

    With D = sigmoid(l): -log D(x) = softplus(-l_real) and -log(1 - D(G(z))) = softplus(l_fake).
    At the optimal discriminator D*(x) = p_data / (p_data + p_g) its expectation equals log 4 - 2 JSD(p_data, p_g)
    (Goodfellow et al. 2014, Theorem 1). Pairs real example i with fake example i.

    Args:
      real_logits: [B] discriminator logits on data.
      fake_logits: [B] discriminator logits on generated samples.
    Returns:
      [B] per-example losses.
    """
    _check_logits("discriminator_minimax_loss", real_logits, fake_logits)
    return jax.nn.softplus(-real_logits) + jax.nn.softplus(fake_logits)


def generator_saturating_loss(fake_logits):
    """Generator loss of the original minimax game: log(1 - D(G(z))) = -softplus(l_fake).

    Its gradient with respect to the logit is -sigmoid(l), which vanishes when D confidently rejects the
    samples (l -> -inf): the generator learns nothing early in training (Goodfellow et al. 2014, Sec. 3).
    """
    _check_logits("generator_saturating_loss", fake_logits)
    return -jax.nn.softplus(fake_logits)


def generator_nonsaturating_loss(fake_logits):
    """Non-saturating generator loss -log D(G(z)) = softplus(-l_fake) (Goodfellow et al. 2014, Sec. 3).

    Same fixed point as the saturating loss but gradient -sigmoid(-l) -> -1 when D rejects the samples.
    """
    _check_logits("generator_nonsaturating_loss", fake_logits)
    return jax.nn.softplus(-fake_logits)


# ----------------------------------------------------------------------------------------------------------
# Wasserstein GAN (Arjovsky et al. 2017) with gradient penalty (Gulrajani et al. 2017).
# ----------------------------------------------------------------------------------------------------------

def wasserstein_critic_loss(real_scores, fake_scores):
    """Critic loss f(G(z)) - f(x): minimising it maximises the Kantorovich-Rubinstein estimate
    E[f(x)] - E[f(G(z))] of the Wasserstein-1 distance over 1-Lipschitz f (Arjovsky et al. 2017, Eq. 3)."""
    _check_logits("wasserstein_critic_loss", real_scores, fake_scores)
    return fake_scores - real_scores


def wasserstein_generator_loss(fake_scores):
    """Generator loss -f(G(z)) of WGAN (Arjovsky et al. 2017, Algorithm 1)."""
    _check_logits("wasserstein_generator_loss", fake_scores)
    return -fake_scores


def interpolates(real, fake, eps):
    """x_hat = eps * x + (1 - eps) * x_tilde with one eps per example (Gulrajani et al. 2017, Algorithm 1).

    Args:
      real, fake: [B, ...] arrays of the same shape.
      eps: [B] mixing weights in [0, 1].
    """
    if real.shape != fake.shape:
        raise ValueError(f"interpolates: real {real.shape} and fake {fake.shape} must have the same shape")
    if eps.shape != real.shape[:1]:
        raise ValueError(f"interpolates: eps must be [batch]={real.shape[:1]}, got {eps.shape}")
    e = eps.reshape((-1,) + (1,) * (real.ndim - 1))
    return e * real + (1.0 - e) * fake


def per_example_input_grads(critic_fn: Callable, x, aux=()):
    """grad_x f(x_i, aux_i) for every example, each computed on its own (a batch of one).

    `critic_fn(x, *aux)` maps [b, ...] (and per-example side inputs such as labels, [b, ...]) to [b].
    Vectorising a batch-of-one gradient with `jax.vmap` keeps every example's gradient its own even if the
    critic mixes examples (e.g. batch statistics).
    """
    def single(xi, *ai):
        return critic_fn(xi[None], *[a[None] for a in ai])[0]

    return jax.vmap(jax.grad(single))(x, *aux)


def _flat_norm(g):
    return jnp.sqrt(jnp.sum(g.reshape(g.shape[0], -1) ** 2, axis=-1))


def gradient_penalty(critic_fn: Callable, real, fake, rng, target: float = 1.0, aux=()):
    """WGAN-GP two-sided penalty (||grad_x f(x_hat)||_2 - 1)^2 on random interpolates x_hat, per example.

    L_GP = E_{eps ~ U[0,1]} (||grad f(eps x + (1 - eps) G(z))||_2 - 1)^2 (Gulrajani et al. 2017, Eq. 3), the
    norm taken over all dimensions of one example. The caller multiplies by lambda (10 in the paper).

    Args:
      critic_fn: [b, ...] -> [b] critic values (params already bound).
      real, fake: [B, ...] data and generated samples.
      rng: key for the per-example eps.
      target: the norm the gradients are pushed to (1 for a 1-Lipschitz critic).
      aux: per-example side inputs of the critic (e.g. labels of a conditional critic).
    Returns:
      [B] per-example penalties.
    """
    eps = jax.random.uniform(rng, (real.shape[0],), dtype=real.dtype)
    return gradient_penalty_at(critic_fn, interpolates(real, fake, eps), target, aux)


def gradient_penalty_at(critic_fn: Callable, x_hat, target: float = 1.0, aux=()):
    """(||grad_x f(x_hat_i)||_2 - target)^2 for each example i of x_hat (the deterministic half of GP)."""
    return (_flat_norm(per_example_input_grads(critic_fn, x_hat, aux)) - target) ** 2


def r1_penalty(critic_fn: Callable, real, aux=()):
    """R1 = ||grad_x D(x)||^2 on real data, per example (Mescheder et al. 2018, Eq. 9).

    The caller adds (gamma / 2) * R1 to the discriminator loss, with D's logit as `critic_fn`.
    """
    g = per_example_input_grads(critic_fn, real, aux)
    return jnp.sum(g.reshape(g.shape[0], -1) ** 2, axis=-1)


# ----------------------------------------------------------------------------------------------------------
# Hinge (Lim & Ye 2017; Miyato et al. 2018) and least squares (Mao et al. 2017).
# ----------------------------------------------------------------------------------------------------------

def discriminator_hinge_loss(real_logits, fake_logits):
    """max(0, 1 - D(x)) + max(0, 1 + D(G(z))) (Lim & Ye 2017; Miyato et al. 2018, Eq. 16)."""
    _check_logits("discriminator_hinge_loss", real_logits, fake_logits)
    return jax.nn.relu(1.0 - real_logits) + jax.nn.relu(1.0 + fake_logits)


def generator_hinge_loss(fake_logits):
    """-D(G(z)), the generator side of the hinge game (Miyato et al. 2018, Eq. 17)."""
    _check_logits("generator_hinge_loss", fake_logits)
    return -fake_logits


def discriminator_least_squares_loss(real_logits, fake_logits, a: float = 0.0, b: float = 1.0):
    """1/2 (D(x) - b)^2 + 1/2 (D(G(z)) - a)^2 (Mao et al. 2017, Eq. 2), with a=0 (fake) and b=1 (real) labels.
    D's output is used as is (no sigmoid)."""
    _check_logits("discriminator_least_squares_loss", real_logits, fake_logits)
    return 0.5 * (real_logits - b) ** 2 + 0.5 * (fake_logits - a) ** 2


def generator_least_squares_loss(fake_logits, c: float = 1.0):
    """1/2 (D(G(z)) - c)^2 (Mao et al. 2017, Eq. 2), c=1: the generator wants its samples labelled real."""
    _check_logits("generator_least_squares_loss", fake_logits)
    return 0.5 * (fake_logits - c) ** 2


# ----------------------------------------------------------------------------------------------------------
# Registry keyed by config strings.
# ----------------------------------------------------------------------------------------------------------

class GANLoss(NamedTuple):
    """A pair of per-example losses and the default penalty the game is usually trained with."""
    discriminator: Callable  # (real_logits [B], fake_logits [B]) -> [B]
    generator: Callable      # (fake_logits [B]) -> [B]
    penalty: str             # 'none' | 'gp' | 'r1': the penalty the paper's recipe adds


LOSSES = {
    "minimax": GANLoss(discriminator_minimax_loss, generator_saturating_loss, "none"),
    "nonsaturating": GANLoss(discriminator_minimax_loss, generator_nonsaturating_loss, "none"),
    "wgan_gp": GANLoss(wasserstein_critic_loss, wasserstein_generator_loss, "gp"),
    "hinge": GANLoss(discriminator_hinge_loss, generator_hinge_loss, "none"),
    "least_squares": GANLoss(discriminator_least_squares_loss, generator_least_squares_loss, "none"),
}


def get_loss(name: str) -> GANLoss:
    """The (discriminator, generator, default penalty) triple for a config string."""
    if name not in LOSSES:
        raise ValueError(f"unknown GAN loss {name!r}; expected one of {sorted(LOSSES)}")
    return LOSSES[name]


# ----------------------------------------------------------------------------------------------------------
# DRAGAN (Kodali et al. 2017): the gradient penalty in a neighbourhood of the real data.
# ----------------------------------------------------------------------------------------------------------

def dragan_perturb(real, rng, scale: float = 0.5):
    """x_hat = x + alpha * (x_p - x), x_p = x + scale * std(x) * u, u ~ U[0, 1) per element, alpha ~ U[0, 1)
    per example: points in a neighbourhood of the real data.

    Kodali et al. 2017 ("On Convergence and Stability of GANs", Sec. 4) penalise the gradient at x + delta,
    delta ~ N(0, cI); their released code (and Jin et al. 2017's anime GAN, which uses it) draws the
    perturbation as above, with std(x) the standard deviation of ALL elements of the batch (one scalar, as
    numpy's `x.std()`), scale 0.5, and the point a random fraction alpha of the way to it; that is what this
    function does. `std(x)` is a constant for the gradient (the perturbation is not differentiated).

    Args:
      real: [B, ...] real data (in the discriminator's input space).
      rng: key for u and alpha.
      scale: the perturbation's size in units of std(x) (0.5).
    Returns:
      [B, ...] perturbed points.
    """
    if jnp.ndim(real) < 2:
        raise ValueError(f"dragan_perturb: real must be [batch, ...], got shape {jnp.shape(real)}")
    ku, ka = jax.random.split(rng)
    std = jax.lax.stop_gradient(jnp.std(real))
    u = jax.random.uniform(ku, real.shape, dtype=real.dtype)
    alpha = jax.random.uniform(ka, (real.shape[0],), dtype=real.dtype)
    return real + alpha.reshape((-1,) + (1,) * (real.ndim - 1)) * (scale * std * u)


def dragan_penalty(critic_fn: Callable, real, rng, scale: float = 0.5, target: float = 1.0, aux=()):
    """DRAGAN penalty (||grad_x D(x_hat)||_2 - k)^2 at perturbed real points x_hat, per example.

    L_DRAGAN = E_{x ~ P_real, delta} (||grad_x D(x + delta)||_2 - k)^2 (Kodali et al. 2017, Eq. 7), k = 1,
    with x_hat from `dragan_perturb` (the released code's perturbation). The caller multiplies by lambda (10 in
    Kodali et al.; 0.5 in Jin et al. 2017). Unlike WGAN-GP, it never looks at fake samples.

    Args:
      critic_fn: [b, ...] -> [b] discriminator logits (params bound; per example, no batch statistics).
      real: [B, ...] data; rng: key of the perturbation; scale: its size in units of std(real);
      target: k; aux: per-example side inputs of the critic (labels, tags, text embeddings).
    Returns:
      [B] per-example penalties.
    """
    return gradient_penalty_at(critic_fn, dragan_perturb(real, rng, scale), target, aux)
