"""DTN's losses (Taigman et al. 2017) against hand values: f-constancy, TID, total variation, the three-way game."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax.ganzoo import losses


def test_f_constancy_and_tid_by_hand():
    np.testing.assert_allclose(losses.f_constancy_loss(jnp.asarray([[1.0, 2.0], [0.0, 0.0]]),
                                                       jnp.asarray([[0.0, 4.0], [0.0, 0.0]])), [5.0, 0.0])
    t = jnp.asarray([1.0, 2.0, -1.0, 0.5]).reshape(1, 2, 2, 1)
    g = jnp.asarray([0.0, 0.0, 1.0, 0.5]).reshape(1, 2, 2, 1)
    np.testing.assert_allclose(losses.tid_loss(t, g), [1.0 + 4.0 + 4.0])
    with pytest.raises(ValueError, match="same shape"):
        losses.tid_loss(t, g[:, :1])


def test_total_variation_by_hand_and_its_gradient_at_a_flat_image():
    z = jnp.asarray([[0.0, 3.0], [4.0, 0.0]]).reshape(1, 2, 2, 1)
    # one pixel with both neighbours: dx = 3, dy = 4
    np.testing.assert_allclose(losses.total_variation(z, beta=1.0), [5.0])
    np.testing.assert_allclose(losses.total_variation(z, beta=2.0), [25.0])
    z3 = jnp.asarray([[0.0, 1.0, 1.0], [0.0, 1.0, 1.0], [2.0, 2.0, 2.0]]).reshape(1, 3, 3, 1)
    # (0,0): dx 1, dy 0 -> 1; (0,1): dx 0, dy 0 -> 0; (1,0): dx 1, dy 2 -> sqrt 5; (1,1): dx 0, dy 1 -> 1
    np.testing.assert_allclose(losses.total_variation(z3), [2.0 + math.sqrt(5.0)], rtol=1e-6)
    g = jax.grad(lambda v: losses.total_variation(v).sum())(jnp.ones((1, 4, 4, 2)))
    assert bool(jnp.all(jnp.isfinite(g))) and float(jnp.abs(g).sum()) == 0.0
    with pytest.raises(ValueError, match="B, H, W, C"):
        losses.total_variation(jnp.ones((4, 4)))


def test_three_way_discriminator_and_generator_losses_by_hand():
    zeros = jnp.zeros((2, 3))
    np.testing.assert_allclose(losses.dtn_discriminator_loss(zeros, zeros, zeros), [3 * math.log(3.0)] * 2,
                               rtol=1e-6)
    np.testing.assert_allclose(losses.dtn_generator_adversarial_loss(zeros, zeros), [2 * math.log(3.0)] * 2,
                               rtol=1e-6)
    # a discriminator that is right on every term with logit margin m: each term is log(1 + 2 e^-m)
    m = 5.0
    right = lambda k: jnp.zeros((1, 3)).at[0, k].set(m)
    want = 3 * math.log(1 + 2 * math.exp(-m))
    np.testing.assert_allclose(losses.dtn_discriminator_loss(right(0), right(1), right(2)), [want], rtol=1e-5)
    # ... and the generator then pays -log softmax_3 = m + log(1 + 2 e^-m) for each of the two translations
    np.testing.assert_allclose(losses.dtn_generator_adversarial_loss(right(0), right(1)),
                               [2 * (math.log(1 + 2 * math.exp(-m)) + m)], rtol=1e-5)
    with pytest.raises(ValueError, match="three-way"):
        losses.dtn_discriminator_loss(jnp.zeros((2, 2)), zeros, zeros)
