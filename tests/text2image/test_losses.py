"""The mathematics of the text-to-image losses: hand values of the matching-aware discriminator's three terms,
the joint embedding hinge, GAN-INT's interpolation, conditioning augmentation's KL and its reparameterised
gradient, the tag loss."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax.text2image import losses as L
from gen_jax.text2image.models import reparameterize


def sig(x):
    return 1.0 / (1.0 + math.exp(-x))


def test_matching_aware_discriminator_loss_against_hand_values():
    r, w, f = jnp.array([2.0, -1.0]), jnp.array([0.5, 1.5]), jnp.array([-0.5, 3.0])
    cls = L.matching_aware_discriminator_loss(r, w, f, cls=True)
    expected = [-math.log(sig(ri)) - 0.5 * math.log(1 - sig(wi)) - 0.5 * math.log(1 - sig(fi))
                for ri, wi, fi in zip([2.0, -1.0], [0.5, 1.5], [-0.5, 3.0])]
    np.testing.assert_allclose(cls, expected, rtol=1e-6)
    plain = L.matching_aware_discriminator_loss(r, w, f, cls=False)   # the "GAN" baseline ignores mismatches
    np.testing.assert_allclose(plain, [-math.log(sig(ri)) - math.log(1 - sig(fi)) for ri, fi in
                                       zip([2.0, -1.0], [-0.5, 3.0])], rtol=1e-6)
    # each term separately: the mismatch term's weight is 1/2, and its gradient pushes s_w down
    g = jax.grad(lambda w: jnp.sum(L.matching_aware_discriminator_loss(r, w, f)))(w)
    np.testing.assert_allclose(g, 0.5 * jax.nn.sigmoid(w), rtol=1e-6)
    g = jax.grad(lambda r: jnp.sum(L.matching_aware_discriminator_loss(r, w, f)))(r)
    np.testing.assert_allclose(g, -jax.nn.sigmoid(-r), rtol=1e-6)


def _hinge_reference(v, t, neg, margin):
    b = len(v)
    s = v @ t.T
    out = np.zeros(b)
    for i in range(b):
        js = [j for j in range(b) if j != i and neg[i, j]]
        for j in js:
            out[i] += max(0, margin + s[i, j] - s[i, i]) + max(0, margin + s[j, i] - s[i, i])
        out[i] /= max(len(js), 1)
    return out


def test_joint_embedding_loss_against_a_loop_and_its_zero():
    rng = np.random.default_rng(0)
    v, t = rng.normal(size=(5, 3)), rng.normal(size=(5, 3))
    neg = ~np.eye(5, dtype=bool)
    neg[0, 3] = neg[3, 0] = False          # pairs 0 and 3 describe the same attributes: not negatives
    got = L.joint_embedding_loss(jnp.asarray(v), jnp.asarray(t), jnp.asarray(neg), margin=1.0)
    np.testing.assert_allclose(got, _hinge_reference(v, t, neg, 1.0), rtol=1e-5)
    # orthogonal, well-separated embeddings satisfy every margin: zero loss
    e = 3.0 * np.eye(4)
    np.testing.assert_allclose(L.joint_embedding_loss(jnp.asarray(e), jnp.asarray(e), jnp.asarray(~np.eye(4, dtype=bool))),
                               np.zeros(4), atol=1e-7)
    # a pair with no negatives costs nothing
    assert float(L.joint_embedding_loss(jnp.asarray(v[:1]), jnp.asarray(t[:1]), jnp.zeros((1, 1), bool))[0]) == 0.0
    with pytest.raises(ValueError, match="negatives"):
        L.joint_embedding_loss(jnp.asarray(v), jnp.asarray(t), jnp.ones((4, 4), bool))


def test_interpolated_embeddings_are_the_midpoint():
    a, b = jnp.array([[1.0, 2.0]]), jnp.array([[3.0, -2.0]])
    np.testing.assert_allclose(L.interpolate_embeddings(a, b), [[2.0, 0.0]])
    np.testing.assert_allclose(L.interpolate_embeddings(a, b, 0.25), [[2.5, -1.0]])


def test_conditioning_kl_closed_form_monte_carlo_and_gradients():
    mu = jnp.array([[0.3, -1.2, 0.0], [0.0, 0.0, 0.0]])
    log_sigma = jnp.array([[0.1, -0.5, 0.7], [0.0, 0.0, 0.0]])
    kl = L.conditioning_kl(mu, log_sigma)
    s = np.exp(np.asarray(log_sigma))
    closed = np.sum(np.log(1.0 / s) + (s ** 2 + np.asarray(mu) ** 2) / 2 - 0.5, axis=1)
    np.testing.assert_allclose(kl, closed, rtol=1e-6)
    assert float(kl[1]) == 0.0                               # N(0, I) itself
    # Monte Carlo: E_q[log q(c) - log p(c)] with c = mu + sigma eps
    eps = jax.random.normal(jax.random.PRNGKey(0), (200000, 3))
    c = reparameterize(mu[0], log_sigma[0], eps)
    log_q = jnp.sum(-0.5 * eps ** 2 - log_sigma[0], -1)
    log_p = jnp.sum(-0.5 * c ** 2, -1)
    assert abs(float(jnp.mean(log_q - log_p)) - float(kl[0])) < 0.02
    # exact gradients: dKL/dmu = mu, dKL/dlog_sigma = sigma^2 - 1
    gm, gs = jax.grad(lambda m, ls: jnp.sum(L.conditioning_kl(m, ls)), argnums=(0, 1))(mu, log_sigma)
    np.testing.assert_allclose(gm, mu, rtol=1e-6)
    np.testing.assert_allclose(gs, np.exp(2 * np.asarray(log_sigma)) - 1, rtol=1e-5, atol=1e-7)


def test_reparameterised_gradient_matches_the_analytic_one():
    """d/dmu E[c^2] = 2 mu and d/dlog_sigma E[c^2] = 2 sigma^2 (E[c^2] = mu^2 + sigma^2), by the pathwise
    estimator through c = mu + sigma eps."""
    mu, ls = jnp.array([0.7, -0.4]), jnp.array([-0.3, 0.2])
    eps = jax.random.normal(jax.random.PRNGKey(1), (400000, 2))
    gm, gs = jax.grad(lambda m, s: jnp.mean(jnp.sum(reparameterize(m, s, eps) ** 2, -1)), argnums=(0, 1))(mu, ls)
    np.testing.assert_allclose(gm, 2 * mu, rtol=0.02)
    np.testing.assert_allclose(gs, 2 * np.exp(2 * np.asarray(ls)), rtol=0.02)


def test_tag_loss_hand_values():
    logits, tags = jnp.array([[2.0, -1.0]]), jnp.array([[1, 0]])
    np.testing.assert_allclose(L.tag_loss(logits, tags), [-math.log(sig(2.0)) - math.log(1 - sig(-1.0))], rtol=1e-6)
    with pytest.raises(ValueError, match="differ"):
        L.tag_loss(logits, jnp.ones((1, 3)))
