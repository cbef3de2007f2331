"""Shared by the imitation tests: a tiny CartPole configuration and a small demonstration dataset."""
import jax
import ml_collections
import pytest

from experiments.configs import imitation_cartpole_expert
from gen_jax.imitation import steps as imitation


def tiny_config(algo="rl", learner="ppo", demos="", **kw):
    c = imitation_cartpole_expert.get_config()
    c.model.update({"algo": algo, "learner": learner, "demos": demos, "num_envs": 8, "rollout_steps": 16,
                    "ppo_epochs": 2, "num_minibatches": 2, "policy_features": (16,), "value_features": (16,),
                    "disc_features": (16,), "disc_batch_size": 32, "value_epochs": 2, "cg_iters": 5,
                    "num_trajectories": 2})
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
