"""The pipeline's task table (experiments/imitation_pipeline.py) and the brax environment's reset.

The brax test needs the optional extra gen_jax[brax] and is skipped without it.
"""
import jax
import pytest
from absl import flags

from experiments import imitation_pipeline as pipeline
from experiments.configs import (
    imitation_cartpole_bc,
    imitation_cartpole_expert,
    imitation_cartpole_gail,
)

MODULES = {"expert": imitation_cartpole_expert, "bc": imitation_cartpole_bc, "gail": imitation_cartpole_gail}


@pytest.fixture(autouse=True)
def _flags():
    if not flags.FLAGS.is_parsed():
        flags.FLAGS.mark_as_parsed()


@pytest.mark.parametrize("task", sorted(pipeline.TASKS))
def test_every_task_builds_its_configs(task):
    t = pipeline.TASKS[task]
    for role, module in MODULES.items():
        c = pipeline._config(module, task, role, 0)
        assert c.model.env == t.get("env", task)
        assert c.num_train_steps == t[role]["steps"]
        assert c.checkpoint_every <= c.num_train_steps and c.eval_every == c.num_train_steps
        for k, v in t[role].items():
            if k != "steps":
                assert c.model[k] == (tuple(v) if isinstance(v, (list, tuple)) else v), (task, role, k)
        assert (len(c.evals) == 0) == (not t.get("evals", True))
    ns = [int(n) for n in pipeline._task_setting(task, "trajectories")]
    assert max(ns) <= int(pipeline._task_setting(task, "num_demos"))


def test_the_hopper_entry_is_brax_spring_with_the_papers_numbers_of_trajectories():
    assert pipeline.TASKS["Hopper"]["env"] == "brax:hopper@spring"
    assert list(pipeline._task_setting("Hopper", "trajectories")) == [4, 11, 18, 25]
    assert pipeline._task_setting("Pendulum-v1", "trajectories") == ["1", "4", "7", "10"]  # the flag's default
    c = pipeline._config(imitation_cartpole_gail, "Hopper", "gail", 7, demos="npz:/x.npz", num_trajectories=4)
    assert c.num_train_steps == 7 and c.checkpoint_every == 7  # an override of the steps keeps a final save
    assert c.model.num_trajectories == 4 and c.model.reward == "gail"


def test_brax_reset_gives_every_field_its_own_buffer():
    pytest.importorskip("brax", reason="needs the optional extra gen_jax[brax] (brax==0.14.2)")
    from gen_jax.imitation import envs

    env = envs.make_env("brax:hopper@spring")
    obs, state = envs.reset_batch(env, jax.random.PRNGKey(0), 2)
    leaves = [x for x in jax.tree.leaves((obs, state)) if hasattr(x, "unsafe_buffer_pointer")]
    pointers = [x.unsafe_buffer_pointer() for x in leaves]
    assert len(set(pointers)) == len(pointers)  # the train step donates them: no buffer may appear twice
    assert obs.shape == (2, env.obs_dim) and env.obs_dim == 11 and env.action_dim == 3
