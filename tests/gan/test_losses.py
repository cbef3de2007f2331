"""The mathematics of the GAN losses: hand values, gradient signs, the optimal-D identity, GP properties."""
import math

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from scipy import integrate, stats

from gen_jax.gan import losses as L


def sig(x):
    return 1.0 / (1.0 + math.exp(-x))


def test_minimax_losses_against_hand_values():
    r, f = jnp.array([2.0, -1.0]), jnp.array([0.5, -3.0])
    d = L.discriminator_minimax_loss(r, f)
    expected = [-math.log(sig(2.0)) - math.log(1 - sig(0.5)), -math.log(sig(-1.0)) - math.log(1 - sig(-3.0))]
    np.testing.assert_allclose(d, expected, rtol=1e-6)
    np.testing.assert_allclose(L.generator_saturating_loss(f), [math.log(1 - sig(0.5)), math.log(1 - sig(-3.0))],
                               rtol=1e-6)
    np.testing.assert_allclose(L.generator_nonsaturating_loss(f), [-math.log(sig(0.5)), -math.log(sig(-3.0))],
                               rtol=1e-6)


def test_logit_forms_are_stable_for_confident_discriminators():
    r, f = jnp.array([200.0]), jnp.array([-200.0])
    d = L.discriminator_minimax_loss(r, f)
    assert np.isfinite(d).all() and float(d[0]) < 1e-30
    g = L.generator_nonsaturating_loss(f)
    assert float(g[0]) == pytest.approx(200.0)   # -log sigmoid(-200) = 200, where a probability form gives inf


def test_other_losses_against_hand_values():
    r, f = jnp.array([0.3, 2.0]), jnp.array([-0.5, 1.5])
    np.testing.assert_allclose(L.discriminator_hinge_loss(r, f), [0.7 + 0.5, 0.0 + 2.5], rtol=1e-6)
    np.testing.assert_allclose(L.generator_hinge_loss(f), [0.5, -1.5])
    np.testing.assert_allclose(L.discriminator_least_squares_loss(r, f),
                               [0.5 * 0.49 + 0.5 * 0.25, 0.5 * 1.0 + 0.5 * 2.25], rtol=1e-6)
    np.testing.assert_allclose(L.generator_least_squares_loss(f), [0.5 * 2.25, 0.5 * 0.25], rtol=1e-6)
    np.testing.assert_allclose(L.wasserstein_critic_loss(r, f), [-0.8, -0.5], rtol=1e-6)
    np.testing.assert_allclose(L.wasserstein_generator_loss(f), [0.5, -1.5])


@pytest.mark.parametrize("name", sorted(L.LOSSES))
def test_discriminator_loss_falls_when_it_separates_better(name):
    """d loss / d real_logit < 0 and d loss / d fake_logit > 0 where D cannot yet tell them apart."""
    d = L.get_loss(name).discriminator
    gr, gf = jax.grad(lambda r, f: jnp.sum(d(r, f)), argnums=(0, 1))(jnp.array([0.2]), jnp.array([0.2]))
    assert float(gr[0]) < 0 and float(gf[0]) > 0
    # the generator's loss falls when D rates its samples as more real
    g = L.get_loss(name).generator
    assert float(jax.grad(lambda f: jnp.sum(g(f)))(jnp.array([0.2]))[0]) < 0


def test_saturating_gradient_vanishes_where_d_rejects_and_nonsaturating_does_not():
    f = jnp.array([-10.0])   # D(G(z)) = sigmoid(-10) ~ 4.5e-5
    g_sat = jax.grad(lambda l: jnp.sum(L.generator_saturating_loss(l)))(f)[0]
    g_ns = jax.grad(lambda l: jnp.sum(L.generator_nonsaturating_loss(l)))(f)[0]
    assert abs(float(g_sat)) < 1e-4 and float(g_sat) == pytest.approx(-sig(-10.0), rel=1e-5)
    assert float(g_ns) == pytest.approx(-sig(10.0), rel=1e-5) and float(g_ns) < -0.99
    # both push the fake logit up; at D(G(z)) = 1/2 their gradients are equal
    assert float(g_sat) < 0 and float(g_ns) < 0
    zero = jnp.array([0.0])
    assert float(jax.grad(lambda l: jnp.sum(L.generator_saturating_loss(l)))(zero)[0]) == pytest.approx(
        float(jax.grad(lambda l: jnp.sum(L.generator_nonsaturating_loss(l)))(zero)[0]))


def test_optimal_discriminator_gives_log4_minus_2jsd_gaussians():
    """E_p[-log D*] + E_q[-log(1 - D*)] = log 4 - 2 JSD(p, q) with D* = p / (p + q), by quadrature."""
    p, q = stats.norm(0.0, 1.0), stats.norm(1.5, 0.7)
    xs = np.linspace(-10, 10, 40001)
    logit = p.logpdf(xs) - q.logpdf(xs)          # logit of D*
    half = L.discriminator_minimax_loss(jnp.asarray(logit, jnp.float32), jnp.asarray(logit, jnp.float32))
    # the loss pairs real with fake; split it into its two halves to weight each by its own density
    real_part = np.asarray(jax.nn.softplus(-jnp.asarray(logit)))
    fake_part = np.asarray(half) - real_part
    value = integrate.trapezoid(p.pdf(xs) * real_part + q.pdf(xs) * fake_part, xs)
    m = 0.5 * (p.pdf(xs) + q.pdf(xs))
    jsd = 0.5 * integrate.trapezoid(p.pdf(xs) * np.log(p.pdf(xs) / m), xs) \
        + 0.5 * integrate.trapezoid(q.pdf(xs) * np.log(q.pdf(xs) / m), xs)
    assert value == pytest.approx(math.log(4) - 2 * jsd, abs=1e-4)
    assert 0 < jsd < math.log(2)


def test_optimal_discriminator_closed_form_on_overlapping_uniforms():
    """p = U[0, 1], q = U[0.5, 1.5]: JSD = (1/2) log 2, so the loss at D* is log 2 (Monte Carlo, 20k pairs)."""
    key_r, key_f = jax.random.split(jax.random.PRNGKey(0))
    x = jax.random.uniform(key_r, (20000,))
    y = 0.5 + jax.random.uniform(key_f, (20000,))

    def logit_dstar(t):  # D* = 1 where only p lives, 1/2 on the overlap, 0 where only q lives
        return jnp.where(t < 0.5, 60.0, jnp.where(t > 1.0, -60.0, 0.0))

    value = float(jnp.mean(L.discriminator_minimax_loss(logit_dstar(x), logit_dstar(y))))
    jsd = 0.5 * math.log(2)
    se = math.log(2) * 0.5 / math.sqrt(20000) * 2
    assert abs(value - (math.log(4) - 2 * jsd)) < 4 * se


def test_gradient_penalty_zero_for_unit_norm_linear_critic_and_positive_otherwise():
    key = jax.random.PRNGKey(1)
    w = jax.random.normal(key, (3, 4))
    w_unit = w / jnp.linalg.norm(w)
    real = jax.random.normal(jax.random.PRNGKey(2), (16, 3, 4))
    fake = jax.random.normal(jax.random.PRNGKey(3), (16, 3, 4))

    def critic(scale):
        return lambda x: scale * jnp.sum(x * w_unit, axis=(1, 2)) + 0.7

    gp = L.gradient_penalty(critic(1.0), real, fake, jax.random.PRNGKey(4))
    np.testing.assert_allclose(gp, 0.0, atol=1e-10)
    gp2 = L.gradient_penalty(critic(3.0), real, fake, jax.random.PRNGKey(4))
    np.testing.assert_allclose(gp2, (3.0 - 1.0) ** 2, rtol=1e-5)   # every example has gradient norm 3


def test_gradient_penalty_is_per_example():
    """A batch's penalties are the single-example penalties, even for a critic that mixes the batch."""
    w = jnp.array([0.3, -1.2])

    def critic(x):  # nonlinear, and centred by the batch mean: a batch-coupled critic
        return jnp.tanh(x @ w) + jnp.sum((x - x.mean(0)) ** 2, axis=-1)

    x_hat = jax.random.normal(jax.random.PRNGKey(0), (6, 2))
    batch = L.gradient_penalty_at(critic, x_hat)
    singles = jnp.concatenate([L.gradient_penalty_at(critic, x_hat[i:i + 1]) for i in range(6)])
    np.testing.assert_allclose(batch, singles, rtol=1e-6)
    # the mean penalty of the batch is the mean of single-example penalties
    assert float(batch.mean()) == pytest.approx(float(singles.mean()), rel=1e-6)
    # analytic check: gradient of tanh(w.x) is (1 - tanh^2) w (the centring term has zero gradient alone)
    expected = (jnp.linalg.norm(w) * (1 - jnp.tanh(x_hat @ w) ** 2) - 1.0) ** 2
    np.testing.assert_allclose(singles, expected, rtol=1e-5)


def test_interpolates_lie_on_the_segment():
    real, fake = jnp.ones((3, 2)), jnp.zeros((3, 2))
    out = L.interpolates(real, fake, jnp.array([0.0, 0.25, 1.0]))
    np.testing.assert_allclose(out, [[0, 0], [0.25, 0.25], [1, 1]])


def test_r1_penalty_hand_value():
    # D(x) = 2 x_0 - x_1^2: grad = (2, -2 x_1), |grad|^2 = 4 + 4 x_1^2
    x = jnp.array([[0.0, 1.0], [3.0, -0.5]])
    r1 = L.r1_penalty(lambda t: 2 * t[:, 0] - t[:, 1] ** 2, x)
    np.testing.assert_allclose(r1, [8.0, 5.0], rtol=1e-6)


def test_bad_input_is_named():
    with pytest.raises(ValueError, match="unknown GAN loss"):
        L.get_loss("wgan-gp-typo")
    with pytest.raises(ValueError, match=r"per-example vectors \[batch\]"):
        L.discriminator_minimax_loss(jnp.zeros((4, 1)), jnp.zeros((4, 1)))
    with pytest.raises(ValueError, match="same shape"):
        L.interpolates(jnp.zeros((2, 3)), jnp.zeros((2, 4)), jnp.zeros((2,)))


# -- DRAGAN (Kodali et al. 2017) ----------------------------------------------------------------------------

def test_dragan_perturbation_follows_the_reference_rule():
    """x_hat = x + alpha * 0.5 * std(x) * u: inside [x, x + 0.5 std(x)] elementwise, one alpha per example,
    and E[alpha u] = 1/4, so the mean shift is std(x) / 8."""
    x = jax.random.normal(jax.random.PRNGKey(0), (4000, 6)) * 3.0 + 1.0
    rng = jax.random.PRNGKey(1)
    xh = L.dragan_perturb(x, rng)
    d = np.asarray(xh - x)
    std = float(jnp.std(x))
    assert d.min() >= 0.0 and d.max() < 0.5 * std
    ku, ka = jax.random.split(rng)   # the same draws by hand
    u = jax.random.uniform(ku, x.shape)
    alpha = jax.random.uniform(ka, (x.shape[0],))
    np.testing.assert_allclose(xh, x + alpha[:, None] * 0.5 * std * u, rtol=1e-6, atol=1e-6)
    assert abs(d.mean() / std - 0.125) < 0.005


def test_dragan_penalty_zero_where_the_gradient_norm_is_one_at_perturbed_points():
    x = jax.random.normal(jax.random.PRNGKey(2), (8, 3, 3, 1))
    w = jax.random.normal(jax.random.PRNGKey(3), (9,))
    unit = lambda v: jnp.reshape(v, (v.shape[0], -1)) @ (w / jnp.linalg.norm(w))   # |grad| = 1 everywhere
    np.testing.assert_allclose(L.dragan_penalty(unit, x, jax.random.PRNGKey(4)), np.zeros(8), atol=1e-6)
    # f = |x|^2 / 2 has grad x_hat: the penalty is (|x_hat| - 1)^2 at the perturbed points, example by example
    quad = lambda v: 0.5 * jnp.sum(jnp.reshape(v, (v.shape[0], -1)) ** 2, -1)
    rng = jax.random.PRNGKey(5)
    xh = L.dragan_perturb(x, rng)
    expected = (np.linalg.norm(np.asarray(xh).reshape(8, -1), axis=1) - 1.0) ** 2
    np.testing.assert_allclose(L.dragan_penalty(quad, x, rng), expected, rtol=1e-5)
    # a critic whose slope is 1 on some examples only: zero exactly there (per example, not a batch mean)
    slope = jnp.array([1.0, 2.0, 1.0, 0.5, 1.0, 3.0, 1.0, 0.0])
    mixed = lambda v, s: s * (jnp.reshape(v, (v.shape[0], -1)) @ (w / jnp.linalg.norm(w)))
    pen = np.asarray(L.dragan_penalty(mixed, x, rng, aux=(slope,)))
    np.testing.assert_allclose(pen, (np.asarray(slope) - 1.0) ** 2, atol=1e-6)


def test_dragan_penalty_gradients_are_finite_and_move_the_critic():
    """d penalty / d params is finite and descending it brings the slope of a linear critic towards 1."""
    x = jax.random.normal(jax.random.PRNGKey(6), (16, 5))

    def pen(a):
        return jnp.mean(L.dragan_penalty(lambda v: a * jnp.sum(v, -1), x, jax.random.PRNGKey(7)))

    a = jnp.asarray(2.0)   # |grad| = a sqrt(5)
    g = jax.grad(pen)(a)
    assert np.isfinite(float(g)) and float(g) > 0
    np.testing.assert_allclose(float(pen(a)), (2.0 * math.sqrt(5) - 1) ** 2, rtol=1e-5)
    assert float(pen(1.0 / math.sqrt(5))) < 1e-10
    with pytest.raises(ValueError, match="batch"):
        L.dragan_perturb(jnp.ones(3), jax.random.PRNGKey(0))
