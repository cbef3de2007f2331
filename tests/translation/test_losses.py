"""Translation losses against hand values: cGAN + lambda L1 (Pix2Pix), LSGAN, cycle and identity (CycleGAN),
DiscoGAN's squared reconstruction; per example, patch-averaged."""
import math

import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax.translation import losses

LOG2 = math.log(2.0)
sp = lambda v: math.log1p(math.exp(v))   # softplus


def test_pix2pix_discriminator_loss_is_half_the_cgan_objective_averaged_over_patches():
    real = jnp.asarray([[[2.0, 0.0]], [[0.0, 0.0]]])    # [B=2, h=1, w=2] patch logits
    fake = jnp.asarray([[[-1.0, 3.0]], [[0.0, 0.0]]])
    got = np.asarray(losses.pix2pix_discriminator_loss(real, fake))
    want0 = 0.5 * np.mean([sp(-2.0) + sp(-1.0), sp(0.0) + sp(3.0)])
    np.testing.assert_allclose(got, [want0, LOG2], rtol=1e-6)   # logits 0: (log 2 + log 2) / 2


def test_pix2pix_generator_loss_is_cgan_plus_100_l1():
    logits = jnp.zeros((2, 3, 3))                           # D undecided: -log D = log 2 on every patch
    out = jnp.zeros((2, 4, 4, 1))
    target = jnp.concatenate([jnp.full((1, 4, 4, 1), 0.5), jnp.zeros((1, 4, 4, 1))])
    total, adv, l1 = losses.pix2pix_generator_loss(logits, out, target)
    np.testing.assert_allclose(adv, [LOG2, LOG2], rtol=1e-6)
    np.testing.assert_allclose(l1, [0.5, 0.0], rtol=1e-6)
    np.testing.assert_allclose(total, [LOG2 + 50.0, LOG2], rtol=1e-6)
    total, _, _ = losses.pix2pix_generator_loss(logits, out, target, gan_weight=0.0)   # "L1 only"
    np.testing.assert_allclose(total, [50.0, 0.0], rtol=1e-6)
    lg = jnp.full((1, 1, 1), 1.5)
    np.testing.assert_allclose(losses.pix2pix_generator_loss(lg, out[:1], out[:1], l1_weight=0.0)[0], [sp(-1.5)],
                               rtol=1e-6)


def test_lsgan_losses_hand_values():
    ones, zeros = jnp.ones((1, 2, 2)), jnp.zeros((1, 2, 2))
    np.testing.assert_allclose(losses.lsgan_discriminator_loss(ones, zeros), [0.0])       # D perfect
    np.testing.assert_allclose(losses.lsgan_discriminator_loss(zeros, ones), [1.0])       # (1 + 1) / 2
    np.testing.assert_allclose(losses.lsgan_generator_loss(ones), [0.0])
    np.testing.assert_allclose(losses.lsgan_generator_loss(zeros), [1.0])                 # (0 - 1)^2, no 1/2
    m = jnp.asarray([[[0.5, 3.0]]])
    np.testing.assert_allclose(losses.lsgan_generator_loss(m), [(0.25 + 4.0) / 2], rtol=1e-6)
    np.testing.assert_allclose(losses.lsgan_discriminator_loss(m, m), [np.mean([0.5 * (0.25 + 0.25),
                                                                              0.5 * (4.0 + 9.0)])], rtol=1e-6)


def test_cycle_and_identity_losses_vanish_for_identity_maps_and_equal_hand_values():
    x = jnp.asarray(np.random.default_rng(0).uniform(-1, 1, (3, 4, 4, 2)), jnp.float32)
    np.testing.assert_array_equal(losses.cycle_loss(x, x), np.zeros(3))
    np.testing.assert_array_equal(losses.identity_loss(x, x), np.zeros(3))
    y = x.at[0].add(0.3).at[1, 0, 0, 0].add(-1.6)
    np.testing.assert_allclose(losses.cycle_loss(x, y), [0.3, 1.6 / 32, 0.0], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(losses.identity_loss(x, y), [0.3, 1.6 / 32, 0.0], rtol=1e-5, atol=1e-7)


def test_discogan_losses_hand_values():
    x = jnp.zeros((1, 2, 2, 1))
    rec = jnp.asarray([[[[1.0], [0.0]], [[0.0], [-1.0]]]])
    total, _, rec_l = losses.discogan_generator_loss(jnp.zeros((1, 1, 1)), x, rec)
    np.testing.assert_allclose(rec_l, [0.5])
    np.testing.assert_allclose(total, [LOG2 + 0.5], rtol=1e-6)
    np.testing.assert_allclose(losses.discogan_discriminator_loss(jnp.zeros((1, 1, 1)), jnp.zeros((1, 1, 1))),
                               [2 * LOG2], rtol=1e-6)


def test_mismatched_shapes_are_named():
    with pytest.raises(ValueError, match="cycle_loss|l1_distance: the two batches differ in shape"):
        losses.cycle_loss(jnp.zeros((2, 4, 4, 1)), jnp.zeros((2, 4, 4, 3)))
    with pytest.raises(ValueError, match="patch_mean: the two batches differ"):
        losses.lsgan_discriminator_loss(jnp.zeros((2, 3, 3)), jnp.zeros((2, 2, 2)))
