"""The imitation experiment on the engine: demonstrations through the data layer, GAIL / PPO / TRPO steps the same
on 8 devices as on 1, a killed GAIL run resumed bit-exactly (environment states, normaliser and all), BC."""
import chex
import jax
import jax.numpy as jnp
import ml_collections
import numpy as np
import pytest

from experiments.configs import imitation_cartpole_expert
from gen_jax.core import loop
from gen_jax.core import sharding as sh
from gen_jax.core import steps as steps_lib
from gen_jax.imitation import losses
from gen_jax.imitation import steps as imitation
from tests.core.test_loop import read_metrics


def tiny_config(algo="rl", learner="ppo", demos="", **kw):
    c = imitation_cartpole_expert.get_config()
    c.model.update(dict(algo=algo, learner=learner, demos=demos, num_envs=8, rollout_steps=16, ppo_epochs=2,
                        num_minibatches=2, policy_features=(16,), value_features=(16,), disc_features=(16,),
                        disc_batch_size=32, value_epochs=2, cg_iters=5, num_trajectories=2))
    c.num_train_steps, c.log_every, c.eval_every, c.checkpoint_every = 6, 2, 3, 3
    c.evals = ml_collections.ConfigDict({"returns": {"kind": "episode_return", "num_episodes": 2,
                                                         "policy": "deterministic"}})
    for k, v in kw.items():
        c[k] = v
    return c


@pytest.fixture(scope="module")
def demos(tmp_path_factory):
    """Three episodes of an untrained policy, saved as a demonstration dataset."""
    path = str(tmp_path_factory.mktemp("demos") / "demos.npz")
    exp = imitation.ImitationExperiment(tiny_config(), None)
    state = exp.init_state(jax.random.PRNGKey(0), {})
    traj = exp.collect(state, jax.random.PRNGKey(1), 3)
    info = imitation.save_demonstrations(path, traj)
    assert info["episodes"] == 3 and info["steps"] == sum(len(r) for r in traj["reward"])
    return "npz:" + path, traj


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


@pytest.mark.parametrize("algo,learner", [("gail", "ppo"), ("gail", "trpo")])
def test_train_step_same_on_8_devices_as_on_1(demos, algo, learner):
    assert len(jax.devices()) == 8
    exp = imitation.ImitationExperiment(tiny_config(algo, learner, demos[0]), None)
    (s1, m1), (s8, m8) = (steps_lib.run_train_steps(exp, [{}] * 2, d) for d in (jax.devices()[:1], jax.devices()))
    chex.assert_trees_all_close(s1.params, s8.params, rtol=1e-4, atol=1e-5)
    chex.assert_trees_all_equal(s1.extra["env"]["obs"], s8.extra["env"]["obs"])  # the same actions were taken
    chex.assert_trees_all_close(s1.extra["obs_norm"], s8.extra["obs_norm"], rtol=1e-5)
    chex.assert_trees_all_close(m1, m8, rtol=1e-4, atol=1e-5)
    # the environment batch really is split over the 8 devices
    state = exp.init_state(jax.random.PRNGKey(0), {})
    placed = sh.place_state(state, sh.make_mesh(jax.devices()), exp.state_partition(state))
    assert {s.data.shape for s in placed.extra["env"]["obs"].addressable_shards} == {(1, 4)}


def test_a_killed_gail_run_resumes_bit_exactly(demos, tmp_path):
    straight, resumed = str(tmp_path / "straight"), str(tmp_path / "resumed")
    loop.train_and_evaluate(tiny_config("gail", "ppo", demos[0]), straight)
    loop.train_and_evaluate(tiny_config("gail", "ppo", demos[0], num_train_steps=3), resumed)   # "killed" at 3
    result = loop.train_and_evaluate(tiny_config("gail", "ppo", demos[0]), resumed)
    a, b = read_metrics(straight), read_metrics(resumed)
    assert a == b
    assert {"disc_loss", "disc_accuracy", "surrogate_reward", "return", "episodes"} <= set(a[-2])
    assert set(result) >= {"returns/return_mean", "returns/return_std"}


def test_discriminator_steps_separate_expert_from_policy_pairs(demos):
    """Adam steps of D on expert pairs vs pairs from elsewhere (states shifted by +1) raise its accuracy above
    chance, and the surrogate reward -log(1 - D) is then larger on the expert's pairs."""
    c = tiny_config("gail", "ppo", demos[0])
    c.model.update(dict(disc_steps=40, disc_lr=1e-2))
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
    c.model.update(dict(policy_lr=1e-2, bc_batch_size=128, num_trajectories=3))
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
