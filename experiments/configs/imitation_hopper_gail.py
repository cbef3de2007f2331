"""GAIL on brax's Hopper with TRPO as the policy step, at a budget in the spirit of the paper's MuJoCo runs (Ho &
Ermon 2016, Sec. 6: tanh policies of two hidden layers of 100 units, TRPO, GAE, about 50,000 state-action
pairs per iteration). THIS CONFIG IS NOT VERIFIED: meant for an accelerator (25 M environment steps). What
was measured on CPU is the pipeline's smaller PPO budget (task 'Hopper' of experiments/imitation_pipeline.py,
README "Imitation"): a 4.9 M-step expert of return 697 and BC/GAIL at 4, 11, 18, 25 trajectories.
brax:hopper@spring through gen_jax.imitation.envs runs 16,500 environment steps/s on CPU for 64 environments.

Needs the optional extra (pip install 'gen_jax[brax]', i.e. brax==0.14.2). The expert first, then GAIL:
    python -m experiments.run --config=experiments/configs/imitation_hopper_gail.py \
        --workdir=/tmp/gen_jax/imitation_hopper_expert --config.model.algo=rl
    python -m experiments.run --config=experiments/configs/imitation_hopper_gail.py \
        --workdir=/tmp/gen_jax/imitation_hopper_gail --config.model.demos=npz:/path/hopper_demos.npz \
        --config.model.num_trajectories=4
Numbers of trajectories for the table: 4, 11, 18, 25 (the paper's MuJoCo range).
The paper's other locomotion tasks run on the same config with another brax task (equally NOT VERIFIED):
    --config.model.env=brax:walker2d@spring | brax:halfcheetah@spring | brax:ant@spring
(the paper's numbers of trajectories: 4, 11, 18, 25 for Walker2d and HalfCheetah and Ant, Ho & Ermon 2016, Table 1).
"""
from experiments.configs import imitation_cartpole_expert


def get_config():
    c = imitation_cartpole_expert.get_config()
    c.model.update({"env": "brax:hopper@spring", "algo": "gail", "learner": "trpo", "num_envs": 64,
                    "rollout_steps": 782, "gamma": 0.995, "lam": 0.97, "policy_features": (100, 100),
                    "value_features": (100, 100), "disc_features": (100, 100), "max_kl": 0.01,
                    "value_epochs": 5, "num_minibatches": 16, "entropy_coef": 0.0, "disc_steps": 5,
                    "disc_batch_size": 1024, "demos": "npz:/tmp/gen_jax/imitation/hopper/demos.npz",
                    "num_trajectories": 4, "init_log_std": -0.5})
    c.num_train_steps = 500             # 500 x 50,048 = 25 M environment steps
    c.log_every, c.eval_every, c.checkpoint_every = 5, 50, 50
    return c
