"""Losses of the text- and tag-conditioned GANs: pure, per example ([batch] out), on logits.

Every function returns what its player MINIMISES; batch means and weights are the train step's. The plain
adversarial terms are those of `gen_jax.gan.losses` (reused, not rewritten).

Papers:
  * Reed, Akata, Lee & Schiele 2016a, "Learning Deep Representations of Fine-grained Visual Descriptions"
    (the joint embedding of images and text).
  * Reed, Akata, Yan, Logeswaran, Schiele & Lee 2016b, "Generative Adversarial Text to Image Synthesis"
    (GAN-CLS's matching-aware discriminator, GAN-INT's interpolated embeddings).
  * Zhang et al. 2017, "StackGAN: Text to Photo-realistic Image Synthesis with Stacked GANs" (conditioning
    augmentation's KL).
  * Jin et al. 2017, "Towards the Automatic Anime Characters Creation with GANs" (the tag classifier loss).
"""
from __future__ import annotations

import jax
import jax.numpy as jnp
import optax

from gen_jax.gan import losses as gan_losses


def joint_embedding_loss(image_emb, text_emb, negatives, margin: float = 1.0):
    """Reed et al. 2016a's symmetric structured hinge on a batch of matching (image_i, text_i) pairs, per pair.

    With scores F(v, t) = <theta(v), phi(t)> (Eq. 2) and S_ij = F(v_i, t_j), the loss of pair i is
        1/|N_i| sum_{j in N_i} [max(0, margin + S_ij - S_ii) + max(0, margin + S_ji - S_ii)],
    the image-side and text-side hinges of Eq. 3-5 (the convex surrogate of the 0-1 loss of classifying an
    image by its text and a text by its image), with the batch's other pairs N_i (those that do not describe
    the same attributes) as the competing classes and the mean over them instead of the max (smoother on small
    batches; stated as our choice). Pairs with no negative contribute 0.

    Args:
      image_emb: [B, E] theta(v_i); text_emb: [B, E] phi(t_i).
      negatives: [B, B] bool, True where pair j is a negative for pair i (False on the diagonal).
      margin: Delta, the 0-1 loss's value for a wrong class.
    Returns:
      [B] per-pair losses.
    """
    if image_emb.shape != text_emb.shape or image_emb.ndim != 2:
        raise ValueError(f"joint_embedding_loss: image and text embeddings must both be [B, E], got "
                         f"{image_emb.shape} and {text_emb.shape}")
    b = image_emb.shape[0]
    if negatives.shape != (b, b):
        raise ValueError(f"joint_embedding_loss: negatives must be [{b}, {b}], got {negatives.shape}")
    s = image_emb @ text_emb.T
    diag = jnp.diagonal(s)
    neg = negatives.astype(s.dtype) * (1.0 - jnp.eye(b, dtype=s.dtype))
    image_side = jax.nn.relu(margin + s - diag[:, None])      # image i against texts j
    text_side = jax.nn.relu(margin + s.T - diag[:, None])     # text i against images j
    return jnp.sum(neg * (image_side + text_side), -1) / jnp.maximum(jnp.sum(neg, -1), 1.0)


def matching_aware_discriminator_loss(real_match, real_mismatch, fake_match, cls: bool = True):
    """GAN-CLS's discriminator loss (Reed et al. 2016b, Algorithm 1), per example:

        L_D = -log D(x, h) - 1/2 [log(1 - D(x, h_hat)) + log(1 - D(x_fake, h))]     (cls=True)
            = 1/2 [L_minimax(s_r, s_w) + L_minimax(s_r, s_f)]

    with s_r = D(real image, matching text), s_w = D(real image, mismatched text), s_f = D(fake image,
    matching text), logits; the two "fake" terms are weighted by 1/2 as in the paper. cls=False is the plain
    conditional GAN baseline of the paper ("GAN"): -log D(x, h) - log(1 - D(x_fake, h)), real_mismatch unused.
    """
    if not cls:
        return gan_losses.discriminator_minimax_loss(real_match, fake_match)
    return 0.5 * (gan_losses.discriminator_minimax_loss(real_match, real_mismatch)
                  + gan_losses.discriminator_minimax_loss(real_match, fake_match))


def interpolate_embeddings(t1, t2, beta: float = 0.5):
    """GAN-INT's synthetic condition beta t1 + (1 - beta) t2 (Reed et al. 2016b, Eq. 5; beta = 0.5)."""
    if t1.shape != t2.shape:
        raise ValueError(f"interpolate_embeddings: shapes {t1.shape} and {t2.shape} differ")
    return beta * t1 + (1.0 - beta) * t2


def conditioning_kl(mu, log_sigma):
    """KL(N(mu, diag sigma^2) || N(0, I)) = 1/2 sum_k (mu_k^2 + sigma_k^2 - 1) - sum_k log sigma_k, per example:
    StackGAN's regulariser of conditioning augmentation (Zhang et al. 2017, Eq. 3-4)."""
    if mu.shape != log_sigma.shape:
        raise ValueError(f"conditioning_kl: mu {mu.shape} and log_sigma {log_sigma.shape} differ")
    return jnp.sum(0.5 * (mu ** 2 + jnp.exp(2.0 * log_sigma) - 1.0) - log_sigma, axis=-1)


def tag_loss(tag_logits, tags):
    """Multi-label classification loss of the auxiliary classifier, per example: the sum over tags of the
    sigmoid cross-entropy -[y log sigma(l) + (1 - y) log(1 - sigma(l))] (Jin et al. 2017, Eq. for L_cls)."""
    if tag_logits.shape != tags.shape:
        raise ValueError(f"tag_loss: logits {tag_logits.shape} and tags {tags.shape} differ")
    return jnp.sum(optax.sigmoid_binary_cross_entropy(tag_logits, tags.astype(tag_logits.dtype)), axis=-1)
