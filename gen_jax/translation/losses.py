"""Image-to-image translation losses: pure, per example ([B, ...] in, [B] out); weights applied by the caller.

PatchGAN discriminators give a map of logits [B, h, w] (one per patch); `patch_mean` applies one of the GAN
losses of `gen_jax.gan.losses` (which take per-example logit vectors) to every patch and averages over the
patches, as the papers do ("we run this discriminator convolutionally across the image, averaging all
responses", Isola et al. 2017, Sec. 3.2.2).

Papers:
  * Isola et al. 2017, "Image-to-Image Translation with Conditional Adversarial Networks" (Pix2Pix), Eq. 1-4:
    G* = arg min_G max_D L_cGAN(G, D) + lambda L_L1(G), lambda = 100, L_L1 = E ||y - G(x, z)||_1; D's
    objective halved ("we divide the objective by 2 while optimizing D"), G trained on the non-saturating
    -log D(x, G(x, z)).
  * Zhu et al. 2017, "Unpaired Image-to-Image Translation using Cycle-Consistent Adversarial Networks"
    (CycleGAN), Eq. 1-3 and Sec. 4: the least-squares GAN loss (Mao et al. 2017), G minimising
    E (D(G(x)) - 1)^2 and D minimising E (D(y) - 1)^2 + E D(G(x))^2 halved; the cycle loss
    E ||F(G(x)) - x||_1 + E ||G(F(y)) - y||_1 (lambda = 10); the identity loss E ||G(y) - y||_1 + E ||F(x) - x||_1
    weighted 0.5 lambda (Sec. 5.2, after Taigman et al. 2017).
  * Kim et al. 2017, "Learning to Discover Cross-Domain Relations with Generative Adversarial Networks"
    (DiscoGAN), Eq. 3-5: the reconstruction loss d(G_BA(G_AB(x_A)), x_A) with d the squared distance, and the
    standard GAN loss -log D_B(G_AB(x_A)) for each generator.

L1 and squared distances are means over the pixels and channels of an example (PyTorch's L1Loss / MSELoss in
the authors' code), so lambda weighs a per-pixel error against a per-patch GAN loss.
"""
from __future__ import annotations

from collections.abc import Callable

import jax.numpy as jnp

from gen_jax.gan import losses as gan_losses


def _per_example(name, a):
    if jnp.ndim(a) < 1:
        raise ValueError(f"{name}: expected a batch [B, ...], got a scalar")
    return a.reshape(a.shape[0], -1)


def _check_same(name, a, b):
    if jnp.shape(a) != jnp.shape(b):
        raise ValueError(f"{name}: the two batches differ in shape, {jnp.shape(a)} vs {jnp.shape(b)}")


def l1_distance(x, y):
    """Mean absolute difference per example: mean_pixels |x - y| ([B, ...] x2 -> [B])."""
    _check_same("l1_distance", x, y)
    return jnp.mean(jnp.abs(_per_example("l1_distance", x - y)), axis=-1)


def squared_distance(x, y):
    """Mean squared difference per example: mean_pixels (x - y)^2 ([B, ...] x2 -> [B])."""
    _check_same("squared_distance", x, y)
    return jnp.mean(_per_example("squared_distance", x - y) ** 2, axis=-1)


def patch_mean(loss_fn: Callable, *logit_maps):
    """mean over patches of a per-logit GAN loss: maps [B, h, w] (or [B]) -> [B].

    `loss_fn` is one of `gen_jax.gan.losses` (per-example vectors in, out); each patch is scored as an
    example and the B x P values are averaged per image."""
    b = jnp.shape(logit_maps[0])[0]
    for m in logit_maps[1:]:
        _check_same("patch_mean", logit_maps[0], m)
    flat = [jnp.reshape(m, (-1,)) for m in logit_maps]
    return jnp.mean(loss_fn(*flat).reshape(b, -1), axis=-1)


# -- Pix2Pix --------------------------------------------------------------------------------------------------

def pix2pix_discriminator_loss(real_logits, fake_logits):
    """(1/2) [-log D(x, y) - log(1 - D(x, G(x, z)))], averaged over patches: [B, h, w] x2 -> [B]
    (Isola et al. 2017, Eq. 1, with the objective halved for D)."""
    return 0.5 * patch_mean(gan_losses.discriminator_minimax_loss, real_logits, fake_logits)


def pix2pix_generator_loss(fake_logits, output, target, l1_weight: float = 100.0, gan_weight: float = 1.0):
    """gan_weight * -log D(x, G(x, z)) (patch mean) + l1_weight * mean |y - G(x, z)| per example
    (Isola et al. 2017, Eq. 4 with the non-saturating generator loss; lambda = l1_weight = 100).

    gan_weight = 0 is the paper's "L1 only" baseline, l1_weight = 0 its "cGAN only" ablation (Table 1).
    Returns (total [B], adversarial [B], l1 [B])."""
    adv = patch_mean(gan_losses.generator_nonsaturating_loss, fake_logits)
    rec = l1_distance(output, target)
    return gan_weight * adv + l1_weight * rec, adv, rec


# -- CycleGAN -------------------------------------------------------------------------------------------------

def lsgan_discriminator_loss(real_logits, fake_logits):
    """(1/2) [(D(y) - 1)^2 + D(G(x))^2], averaged over patches (Zhu et al. 2017, Sec. 4: the LSGAN objective
    halved for D); `gen_jax.gan.losses.discriminator_least_squares_loss` with a = 0, b = 1 per patch."""
    return patch_mean(gan_losses.discriminator_least_squares_loss, real_logits, fake_logits)


def lsgan_generator_loss(fake_logits):
    """(D(G(x)) - 1)^2 averaged over patches (Zhu et al. 2017, Sec. 4): twice
    `gen_jax.gan.losses.generator_least_squares_loss` (Mao et al.'s 1/2 is not in CycleGAN's objective)."""
    return 2.0 * patch_mean(gan_losses.generator_least_squares_loss, fake_logits)


def cycle_loss(x, x_reconstructed):
    """mean |F(G(x)) - x| per example: one direction of CycleGAN's cycle-consistency loss (Eq. 2)."""
    return l1_distance(x_reconstructed, x)


def identity_loss(y, g_of_y):
    """mean |G(y) - y| per example: a generator fed an image of its own output domain should keep it
    (Zhu et al. 2017, Sec. 5.2; weight 0.5 lambda)."""
    return l1_distance(g_of_y, y)


# -- DiscoGAN -------------------------------------------------------------------------------------------------

def discogan_discriminator_loss(real_logits, fake_logits):
    """-log D(x) - log(1 - D(G(x'))), averaged over the logits of each image (Kim et al. 2017, Eq. 5)."""
    return patch_mean(gan_losses.discriminator_minimax_loss, real_logits, fake_logits)


def discogan_generator_loss(fake_logits, x, x_reconstructed):
    """-log D_B(G_AB(x_A)) + d(G_BA(G_AB(x_A)), x_A), d the squared distance (Kim et al. 2017, Eq. 3-4).
    Returns (total [B], adversarial [B], reconstruction [B])."""
    adv = patch_mean(gan_losses.generator_nonsaturating_loss, fake_logits)
    rec = squared_distance(x_reconstructed, x)
    return adv + rec, adv, rec
