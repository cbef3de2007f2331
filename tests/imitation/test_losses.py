"""The mathematics of the imitation family: GAE by hand, an unbiased policy gradient, CG on Fisher-vector products,
TRPO's KL bound, the optimal discriminator, the GAIL reward's sign, the entropy gradient, the normaliser."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest
from jax.flatten_util import ravel_pytree

from gen_jax.imitation import losses, rl
from gen_jax.imitation import models as M


def test_gae_matches_a_hand_computation_with_a_termination_and_a_truncation():
    g, lam = 0.9, 0.8
    r = np.array([1.0, 2.0, 0.5, 1.5, -1.0])
    v = np.array([0.3, 0.7, -0.2, 0.4, 0.1])
    nv = np.array([0.7, 5.0, 0.9, 0.6, 0.25])   # V(s'_t): step 1 terminated (ignored), step 2 truncated (used)
    term = np.array([0, 1, 0, 0, 0], bool)
    done = np.array([0, 1, 1, 0, 0], bool)
    # by hand, from the end: A_4 = d_4; A_3 = d_3 + g lam A_4; A_2 = d_2 (episode ended); A_1 = d_1; A_0 = ...
    d = [1.0 + g * 0.7 - 0.3, 2.0 - 0.7, 0.5 + g * 0.9 + 0.2, 1.5 + g * 0.6 - 0.4, -1.0 + g * 0.25 - 0.1]
    a4 = d[4]
    a3 = d[3] + g * lam * a4
    a2 = d[2]
    a1 = d[1]
    a0 = d[0] + g * lam * a1
    expected = np.array([a0, a1, a2, a3, a4])
    adv, ret = losses.gae(*(jnp.asarray(x[:, None]) for x in (r, v, nv, term, done)), gamma=g, lam=lam)
    np.testing.assert_allclose(adv[:, 0], expected, rtol=1e-6)
    np.testing.assert_allclose(ret[:, 0], expected + v, rtol=1e-6)
    with pytest.raises(ValueError, match="same shape"):
        losses.gae(jnp.zeros(3), jnp.zeros(3), jnp.zeros(4), jnp.zeros(3), jnp.zeros(3), 0.9, 0.9)


def test_gae_with_lambda_one_is_the_discounted_return_minus_the_value():
    r = jnp.asarray([1.0, 1.0, 1.0])[:, None]
    v = jnp.asarray([0.5, 0.2, 0.1])[:, None]
    z = jnp.zeros_like(r)
    nv = jnp.asarray([0.2, 0.1, 0.0])[:, None]   # V(s_{t+1}), and 0 after the last step
    _adv, ret = losses.gae(r, v, nv, z.astype(bool), z.astype(bool), 0.5, 1.0)
    np.testing.assert_allclose(ret[:, 0], [1 + 0.5 + 0.25, 1 + 0.5, 1.0], rtol=1e-6)


def test_policy_gradient_estimator_is_unbiased_on_a_two_armed_bandit():
    """The mean over samples of grad(-reinforce_loss) (and of the surrogate at pi = pi_old) approaches the exact
    gradient of J(theta) = sum_a softmax(theta)_a r_a, which is p_a (r_a - J)."""
    theta = jnp.asarray([0.3, -0.4])
    rewards = jnp.asarray([1.0, 3.0])
    p = jax.nn.softmax(theta)
    exact = p * (rewards - jnp.dot(p, rewards))
    n = 400_000
    actions = jax.random.categorical(jax.random.PRNGKey(0), theta, shape=(n,))

    def est(th):
        lp = M.log_prob({"logits": jnp.broadcast_to(th, (n, 2))}, actions)
        return jnp.mean(losses.reinforce_loss(lp, rewards[actions]))

    g = -jax.grad(est)(theta)

    def surr(th):
        lp = M.log_prob({"logits": jnp.broadcast_to(th, (n, 2))}, actions)
        return jnp.mean(losses.surrogate_loss(lp, jax.lax.stop_gradient(lp), rewards[actions]))

    gs = -jax.grad(surr)(theta)
    # the estimator's standard error per coordinate is < 1.5 / sqrt(n) ~ 0.0024
    np.testing.assert_allclose(g, exact, atol=0.01)
    np.testing.assert_allclose(gs, g, rtol=1e-5, atol=1e-6)
    assert float(jnp.abs(exact).min()) > 0.3  # the check is not vacuous


def test_fisher_vector_product_is_the_categorical_fisher_and_cg_solves_it():
    """For pi = softmax(theta) at one state, F = diag(p) - p p^T; with damping d, CG solves (F + d I) x = g."""
    theta = jnp.asarray([0.5, -1.0, 0.2, 1.3])
    p = jax.nn.softmax(theta)
    old = {"logits": theta[None]}

    def mean_kl(f):
        return jnp.mean(M.kl(old, {"logits": f[None]}))

    damping = 0.1
    fvp = rl.fisher_vector_product(mean_kl, theta, damping)
    F = jnp.diag(p) - jnp.outer(p, p) + damping * jnp.eye(4)
    v = jnp.asarray([1.0, -2.0, 0.5, 3.0])
    np.testing.assert_allclose(fvp(v), F @ v, rtol=1e-5, atol=1e-6)
    g = jnp.asarray([0.3, -0.1, 0.7, -0.9])
    x = rl.conjugate_gradient(fvp, g, iters=10)
    np.testing.assert_allclose(F @ x, g, rtol=1e-4, atol=1e-5)
    np.testing.assert_allclose(x, jnp.linalg.solve(F, g), rtol=1e-4, atol=1e-4)


def test_conjugate_gradient_on_a_random_spd_system():
    a = jax.random.normal(jax.random.PRNGKey(1), (12, 12))
    A = a @ a.T + 0.5 * jnp.eye(12)
    b = jax.random.normal(jax.random.PRNGKey(2), (12,))
    x = rl.conjugate_gradient(lambda v: A @ v, b, iters=40, tol=1e-14)
    np.testing.assert_allclose(A @ x, b, atol=1e-3)


@pytest.mark.parametrize("discrete", [True, False])
def test_trpo_step_respects_its_kl_bound_and_improves_the_surrogate(discrete):
    pol = M.Policy(num_actions=3 if discrete else 0, action_dim=2, features=(16,))
    obs = jax.random.normal(jax.random.PRNGKey(0), (256, 5))
    params = pol.init(jax.random.PRNGKey(1), obs)["params"]
    apply = lambda p, o: pol.apply({"params": p}, o)
    d = apply(params, obs)
    action = M.sample(jax.random.PRNGKey(2), d)
    adv = jax.random.normal(jax.random.PRNGKey(3), (256,))
    batch = {"obs": obs, "action": action, "logp": M.log_prob(d, action), "advantages": adv}
    max_kl = 0.01
    new, m = jax.jit(lambda p, b: rl.trpo_step(p, b, apply, max_kl=max_kl))(params, batch)
    kl = float(jnp.mean(M.kl(d, apply(new, obs))))
    assert float(m["step_fraction"]) > 0
    assert kl <= max_kl * (1 + 1e-4)
    assert kl == pytest.approx(float(m["kl"]), rel=1e-3)
    assert kl > max_kl / 20  # it used its trust region (the first or a few backtracked steps)

    def surr(p):
        return float(jnp.mean(losses.surrogate_loss(M.log_prob(apply(p, obs), action), batch["logp"], adv)))

    assert surr(new) < surr(params)
    assert surr(params) - surr(new) == pytest.approx(float(m["surrogate_gain"]), rel=1e-3)


def test_optimal_discriminator_is_pE_over_pE_plus_ppi_on_a_tabular_problem():
    """Over 6 state-action cells, a table of logits trained on the expected loss
    E_pE[-log D] + E_ppi[-log(1 - D)] converges to D* = p_E / (p_E + p_pi), where the gradient vanishes."""
    p_e = jnp.asarray([0.4, 0.1, 0.2, 0.05, 0.15, 0.1])
    p_pi = jnp.asarray([0.1, 0.3, 0.2, 0.2, 0.1, 0.1])
    cells = jnp.arange(6)

    def expected_loss(logits):
        # each cell's loss split into its expert and policy halves, weighted by the two distributions
        le = losses.discriminator_loss(logits[cells], jnp.full(6, -jnp.inf))
        lp = losses.discriminator_loss(jnp.full(6, jnp.inf), logits[cells])
        return jnp.sum(p_e * le + p_pi * lp)

    d_star = p_e / (p_e + p_pi)
    l_star = jnp.log(d_star) - jnp.log1p(-d_star)
    np.testing.assert_allclose(jax.grad(expected_loss)(l_star), 0.0, atol=1e-6)
    logits = jnp.zeros(6)
    step = jax.jit(lambda l: l - 5.0 * jax.grad(expected_loss)(l))
    for _ in range(3000):
        logits = step(logits)
    np.testing.assert_allclose(jax.nn.sigmoid(logits), d_star, atol=1e-3)
    # and at D*, the 'logit' reward is log p_E / p_pi
    np.testing.assert_allclose(losses.gail_reward(l_star, "logit"), jnp.log(p_e / p_pi), rtol=1e-5, atol=1e-6)


def test_gail_reward_signs():
    logits = jnp.asarray([-5.0, -1.0, 0.0, 1.0, 5.0])
    d = jax.nn.sigmoid(logits)
    r = losses.gail_reward(logits, "gail")
    np.testing.assert_allclose(r, -jnp.log1p(-d), rtol=1e-5)   # -log(1 - D)
    assert bool(jnp.all(r > 0)) and bool(jnp.all(jnp.diff(r) > 0))  # positive, larger where D says "expert"
    assert float(r[2]) == pytest.approx(np.log(2.0), rel=1e-6)
    s = losses.gail_reward(logits, "logit")
    np.testing.assert_allclose(s, jnp.log(d) - jnp.log1p(-d), rtol=1e-4, atol=1e-5)
    assert float(s[0]) < 0 < float(s[-1])
    with pytest.raises(ValueError, match="unknown GAIL reward 'x'"):
        losses.gail_reward(logits, "x")


def test_entropy_and_its_gradient_in_closed_form():
    logits = jnp.asarray([[0.2, -1.0, 0.7]])
    p = jax.nn.softmax(logits[0])
    h = -jnp.sum(p * jnp.log(p))
    assert float(M.entropy({"logits": logits})[0]) == pytest.approx(float(h), rel=1e-6)
    g = jax.grad(lambda l: M.entropy({"logits": l})[0])(logits)[0]
    np.testing.assert_allclose(g, -p * (jnp.log(p) + h), rtol=1e-5, atol=1e-6)   # dH/dl_i = -p_i (log p_i + H)
    # Gaussian: H = sum_i log sigma_i + d/2 log(2 pi e); dH / dlog sigma_i = 1, dH / dmean = 0
    dist = {"mean": jnp.zeros((1, 2)), "log_std": jnp.asarray([[0.3, -0.5]])}
    assert float(M.entropy(dist)[0]) == pytest.approx(-0.2 + np.log(2 * np.pi * np.e), rel=1e-6)
    gg = jax.grad(lambda d: M.entropy(d)[0])(dist)
    np.testing.assert_allclose(gg["log_std"], 1.0)
    np.testing.assert_allclose(gg["mean"], 0.0)


def test_kl_closed_forms():
    p, q = {"logits": jnp.asarray([[0.0, 1.0]])}, {"logits": jnp.asarray([[1.0, 0.0]])}
    pp, qq = jax.nn.softmax(p["logits"][0]), jax.nn.softmax(q["logits"][0])
    assert float(M.kl(p, q)[0]) == pytest.approx(float(jnp.sum(pp * jnp.log(pp / qq))), rel=1e-5)
    a = {"mean": jnp.asarray([[0.0]]), "log_std": jnp.asarray([[0.0]])}
    b = {"mean": jnp.asarray([[1.0]]), "log_std": jnp.asarray([[np.log(2.0)]])}
    # KL(N(0,1) || N(1,4)) = log 2 + (1 + 1) / 8 - 1/2
    assert float(M.kl(a, b)[0]) == pytest.approx(np.log(2) + 2 / 8 - 0.5, rel=1e-5)
    x = jnp.asarray([[0.5]])
    assert float(M.log_prob(b, x)[0]) == pytest.approx(-0.5 * 0.25 / 4 - np.log(2) - 0.5 * np.log(2 * np.pi),
                                                       rel=1e-5)


def test_running_normaliser_merges_batches_into_the_whole_data_statistics():
    x = np.random.default_rng(0).normal(3.0, 2.0, size=(300, 3)).astype(np.float32)
    s = rl.norm_init(3)
    for chunk in np.split(x, [50, 170]):
        s = rl.norm_update(s, jnp.asarray(chunk))
    np.testing.assert_allclose(s["mean"], x.mean(0), rtol=1e-4)
    np.testing.assert_allclose(s["var"], x.var(0), rtol=1e-3)
    z = rl.normalize(s, jnp.asarray(x))
    np.testing.assert_allclose(jnp.mean(z, 0), 0.0, atol=1e-3)


def test_ppo_clip_loss_values():
    adv = jnp.asarray([1.0, 1.0, -1.0, -1.0])
    logp_old = jnp.zeros(4)
    logp = jnp.log(jnp.asarray([1.5, 0.9, 0.5, 1.1]))
    out = losses.ppo_clip_loss(logp, logp_old, adv, 0.2)
    # rho = 1.5 (A>0) is clipped to 1.2; 0.9 kept; rho = 0.5 (A<0) clipped to 0.8; 1.1 kept
    np.testing.assert_allclose(out, [-1.2, -0.9, 0.8, 1.1], rtol=1e-6)
    flat, _ = ravel_pytree({"a": jnp.ones(2)})
    assert flat.shape == (2,)
