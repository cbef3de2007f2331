"""GAIL on the engine's mesh: the step (with PPO and with TRPO) the same on 8 devices as on 1, and a killed run
resumed bit-exactly from its checkpoint: environment states, observation normaliser, both players' optimizers."""
import chex
import jax
import pytest

from gen_jax.core import loop
from gen_jax.core import sharding as sh
from gen_jax.core import steps as steps_lib
from gen_jax.imitation import steps as imitation
from tests.core.test_loop import read_metrics
from tests.imitation.conftest import tiny_config


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
    devices = jax.devices()[:2]  # the environments split over two devices (all eight: the test above)
    loop.train_and_evaluate(tiny_config("gail", "ppo", demos[0]), straight, devices)
    loop.train_and_evaluate(tiny_config("gail", "ppo", demos[0], num_train_steps=3), resumed, devices)  # killed
    result = loop.train_and_evaluate(tiny_config("gail", "ppo", demos[0]), resumed, devices)
    a, b = read_metrics(straight), read_metrics(resumed)
    assert a == b
    assert {"disc_loss", "disc_accuracy", "surrogate_reward", "return", "episodes"} <= set(a[-2])
    assert set(result) >= {"returns/return_mean", "returns/return_std"}
