"""The environment interface: auto-reset, final observations, deterministic rollouts for a key, episode returns."""
import importlib.util

import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax.imitation import envs


@pytest.fixture(scope="module")
def cartpole():
    return envs.make_env("CartPole-v1")


def test_classic_control_specs():
    specs = {name: envs.make_env(name) for name in envs.CLASSIC_CONTROL}
    assert (specs["CartPole-v1"].obs_dim, specs["CartPole-v1"].num_actions, specs["CartPole-v1"].max_steps) == (4, 2,
                                                                                                                500)
    assert (specs["Acrobot-v1"].obs_dim, specs["Acrobot-v1"].num_actions) == (6, 3)
    assert (specs["MountainCar-v0"].obs_dim, specs["MountainCar-v0"].max_steps) == (2, 200)
    p = specs["Pendulum-v1"]
    assert (p.discrete, p.action_dim, p.action_low, p.action_high) == (False, 1, -2.0, 2.0)


def test_unknown_environment_and_missing_brax_are_clear_errors():
    with pytest.raises(ValueError, match="unknown environment 'NoSuchEnv-v0'.*CartPole-v1"):
        envs.make_env("NoSuchEnv-v0")
    if importlib.util.find_spec("brax") is None:
        with pytest.raises(ImportError, match=r"needs brax, the optional extra 'brax'.*gen_jax\[brax\]"):
            envs.make_env("brax:hopper")


def test_step_resets_automatically_and_reports_the_final_observation(cartpole):
    """Always pushing left ends a CartPole episode within a few dozen steps; the step that ends it returns a
    fresh episode's observation (|x| <= 0.05) and the final observation (the pole fallen past 12 degrees)."""
    _obs, state = cartpole.reset(jax.random.PRNGKey(0))
    step = jax.jit(cartpole.step)
    for t in range(200):
        obs2, state, r, done, info = step(jax.random.PRNGKey(t), state, jnp.asarray(0))
        assert float(r) == 1.0
        if bool(done):
            break
        np.testing.assert_array_equal(info["final_obs"], obs2)
    assert bool(done) and bool(info["terminated"]) and not bool(info["truncated"])
    assert 5 < t < 100
    assert abs(float(info["final_obs"][2])) > 0.2 or abs(float(info["final_obs"][0])) > 2.4
    assert float(jnp.max(jnp.abs(obs2))) <= 0.05


def test_rollouts_are_deterministic_for_a_key_and_vectorised(cartpole):
    obs, state = envs.reset_batch(cartpole, jax.random.PRNGKey(0), 6)

    def policy(k, o):
        return jax.random.randint(k, (o.shape[0],), 0, 2), {"o_sum": jnp.sum(o, -1)}

    run = jax.jit(lambda s, o, k: envs.rollout(cartpole, policy, s, o, k, 50))
    (_s1, o1), t1 = run(state, obs, jax.random.PRNGKey(1))
    (_s2, o2), t2 = run(state, obs, jax.random.PRNGKey(1))
    jax.tree.map(np.testing.assert_array_equal, t1, t2)
    np.testing.assert_array_equal(o1, o2)
    _, t3 = run(state, obs, jax.random.PRNGKey(2))
    assert not np.array_equal(t1["action"], t3["action"])
    assert t1["obs"].shape == (50, 6, 4) and t1["action"].shape == (50, 6) and t1["o_sum"].shape == (50, 6)
    # the environments differ from one another (their own keys) and each one's episodes end and restart
    assert len({tuple(np.asarray(t1["obs"][0, i])) for i in range(6)}) == 6
    assert int(jnp.sum(t1["done"])) > 0


def test_episode_returns_count_the_steps_until_the_first_done(cartpole):
    """With reward 1 per step, a return is the episode's length: compare with stepping by hand."""
    def left(k, o):
        return jnp.zeros((o.shape[0],), jnp.int32)

    key = jax.random.PRNGKey(3)
    returns = envs.episode_returns(cartpole, left, key, 3)
    kr, _ = jax.random.split(key)
    for i, k in enumerate(jax.random.split(kr, 3)):
        _, s = cartpole.reset(k)
        n = 0
        while True:
            n += 1
            _, s, _, d, _ = cartpole.step(jax.random.PRNGKey(0), s, jnp.asarray(0))
            if bool(d):
                break
        assert float(returns[i]) == n


def test_continuous_actions_are_clipped_to_the_bounds():
    env = envs.make_env("Pendulum-v1")
    _, s = env.reset(jax.random.PRNGKey(0))
    a = env.step(jax.random.PRNGKey(1), s, jnp.asarray([100.0]))
    b = env.step(jax.random.PRNGKey(1), s, jnp.asarray([2.0]))
    jax.tree.map(np.testing.assert_array_equal, a, b)
