"""The imitation experiment: demonstrations through the data layer, clear errors, the discriminator's steps,
behavioural cloning, the random baseline (the mesh and resume tests: test_distributed.py)."""
import jax
import jax.numpy as jnp
import numpy as np
import pytest

from gen_jax.imitation import losses
from gen_jax.imitation import steps as imitation
from tests.imitation.conftest import tiny_config


def test_demonstrations_load_through_the_data_layer(demos):
    from gen_jax import data as data_lib

    name, traj = demos
    info = data_lib.dataset_info(name)
    assert set(info.features) >= set(imitation.DEMO_FEATURES)
    assert info.features["obs"].shape == (4,) and info.features["obs"].kind == "continuous"
    two = imitation.load_demonstrations(name, num_trajectories=2)
    n0, n1 = len(traj["obs"][0]), len(traj["obs"][1])
    assert two["obs"].shape == (n0 + n1, 4)
    np.testing.assert_array_equal(two["obs"][:n0], traj["obs"][0])
    np.testing.assert_array_equal(two["action"][n0:], traj["action"][1])
    np.testing.assert_array_equal(two["t"][:n0], np.arange(n0))
    assert two["episode_return"][0] == pytest.approx(float(np.sum(traj["reward"][0])))
    with pytest.raises(ValueError, match="num_trajectories=5 but .* holds 3 episodes"):
        imitation.load_demonstrations(name, num_trajectories=5)


def test_bad_settings_are_clear_errors():
    with pytest.raises(ValueError, match="algo must be one of"):
        imitation.ImitationExperiment(tiny_config(algo="dagger"), None)
    with pytest.raises(ValueError, match="needs demonstrations: config.model.demos"):
        imitation.ImitationExperiment(tiny_config(algo="gail"), None)
    c = tiny_config(algo="gail", demos="npz:x.npz")
    c.model.reward = "bad"
    with pytest.raises(ValueError, match="unknown GAIL reward 'bad'"):
        imitation.ImitationExperiment(c, None)


def test_discriminator_steps_separate_expert_from_policy_pairs(demos):
    """Adam steps of D on expert pairs vs pairs from elsewhere (states shifted by +1) raise its accuracy above
    chance, and the surrogate reward -log(1 - D) is then larger on the expert's pairs."""
    c = tiny_config("gail", "ppo", demos[0])
    c.model.update({"disc_steps": 40, "disc_lr": 1e-2})
    exp = imitation.ImitationExperiment(c, None)
    state = exp.init_state(jax.random.PRNGKey(0), {})
    d = state.extra["demos"]
    other_obs, other_act = d["obs"] + 1.0, d["action"]
    stats = state.extra["obs_norm"]
    update = jax.jit(lambda s, k: exp._disc_update(s, k, other_obs, other_act, stats))
    state, m = update(state, jax.random.PRNGKey(1))
    assert float(m["disc_accuracy"]) > 0.6
    p = state.params["discriminator"]
    r_expert = losses.gail_reward(exp.disc_apply(p, d["obs"], d["action"]))
    r_other = losses.gail_reward(exp.disc_apply(p, other_obs, other_act))
    assert float(jnp.mean(r_expert)) > float(jnp.mean(r_other)) > 0


def test_behavioural_cloning_fits_the_expert_actions(demos):
    c = tiny_config("bc", demos=demos[0], num_train_steps=1)
    c.model.update({"policy_lr": 1e-2, "bc_batch_size": 128, "num_trajectories": 3})
    exp = imitation.ImitationExperiment(c, None)
    state = exp.init_state(jax.random.PRNGKey(0), {})
    step = jax.jit(exp.train_step)
    first = None
    for i in range(150):
        state, m = step(state, {}, jax.random.PRNGKey(i))
        first = float(m["bc_loss"]) if first is None else first
    assert first == pytest.approx(np.log(2), abs=0.02)  # the initial policy is near uniform
    assert float(m["bc_loss"]) < first - 0.05
    # normalised by the demonstrations' statistics
    d = imitation.load_demonstrations(demos[0])
    np.testing.assert_allclose(state.extra["obs_norm"]["mean"], d["obs"].mean(0), rtol=1e-4, atol=1e-6)


def test_random_policy_returns():
    exp = imitation.ImitationExperiment(tiny_config("random"), None)
    state = exp.init_state(jax.random.PRNGKey(0), {})
    r = exp.episode_returns(state, jax.random.PRNGKey(0), 8, deterministic=False)
    assert r.shape == (8,) and 8 <= float(jnp.mean(r)) <= 60   # a random CartPole policy lasts ~22 steps
    np.testing.assert_array_equal(r, exp.episode_returns(state, jax.random.PRNGKey(0), 8, deterministic=False))
