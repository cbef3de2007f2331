"""Behavioural cloning on CartPole-v1's expert demonstrations: Adam on -log pi(a_E | s_E), minibatches of 64.

Command:
    python -m experiments.run --config=experiments/configs/imitation_cartpole_bc.py \
        --workdir=/tmp/gen_jax/imitation_cartpole_bc \
        --config.model.demos=npz:/tmp/gen_jax/imitation/CartPole-v1/demos.npz --config.model.num_trajectories=4

The same policy network as the expert's and GAIL's; observations normalised by the demonstrations' statistics.
Measured: return 500.0 (normalised 1.00) from 1, 4, 7 and 10 CartPole trajectories, 29-54 s per run.
"""
from experiments.configs import imitation_cartpole_expert


def get_config():
    c = imitation_cartpole_expert.get_config()
    c.model.algo = "bc"
    c.model.demos = "npz:/tmp/gen_jax/imitation/CartPole-v1/demos.npz"
    c.model.num_trajectories = 4
    c.model.policy_lr = 1e-3
    c.num_train_steps = 2000
    c.log_every = 100
    c.eval_every = 1000
    c.checkpoint_every = 1000
    return c
