"""The CartPole-v1 expert for imitation: PPO (GAE, observation normalisation, entropy bonus) on the true reward.

Command:
    python -m experiments.run --config=experiments/configs/imitation_cartpole_expert.py \
        --workdir=/tmp/gen_jax/imitation_cartpole_expert

The whole protocol (expert, demonstrations, BC and GAIL at 1, 4, 7, 10 trajectories, the normalised table):
    python -m experiments.imitation_pipeline --task=CartPole-v1 --workdir=/tmp/gen_jax/imitation

Measured (this config, 2 shared CPU cores): deterministic and stochastic return 500.0 over 16 episodes after 250
steps (57 s); with --config.model.env=Acrobot-v1: -80.5 stochastic over 50 episodes (68 s); MountainCar-v0 with
--config.num_train_steps=400: -110.5 (97 s). The pipeline's README table lists them with BC and GAIL.

Other tasks: --config.model.env=Acrobot-v1 (or MountainCar-v0, Pendulum-v1); TRPO: --config.model.learner=trpo.
Settings follow PureJaxRL's CartPole PPO (Lu et al. 2022) at a smaller batch: 8 environments x 128 steps per
train step, 4 epochs of 4 minibatches, clip 0.2, GAE gamma 0.99 lambda 0.95.
"""
import ml_collections

from gen_jax.core.config import base_config


def get_config():
    c = base_config()
    c.experiment = "imitation"
    c.dataset = ""
    c.num_train_steps = 250          # 250 x 8 x 128 = 256,000 environment steps
    c.log_every = 10
    c.eval_every = 50
    c.sample_every = 0
    c.checkpoint_every = 50
    c.progress_bar = False
    c.model = ml_collections.ConfigDict({
        "env": "CartPole-v1", "algo": "rl", "learner": "ppo", "num_envs": 8, "rollout_steps": 128,
        "gamma": 0.99, "lam": 0.95, "policy_features": (64, 64), "value_features": (64, 64), "init_log_std": 0.0,
        "policy_lr": 2.5e-3, "value_lr": 2.5e-3, "max_grad_norm": 0.5, "ppo_epochs": 4, "num_minibatches": 4,
        "clip_eps": 0.2,
        "entropy_coef": 0.01, "normalize_obs": True, "normalize_advantages": True,
        "max_kl": 0.01, "cg_iters": 10, "cg_damping": 0.1, "value_epochs": 5,
        "demos": "", "demos_split": "train", "num_trajectories": 0, "disc_features": (100, 100), "disc_lr": 3e-4,
        "disc_steps": 1, "disc_batch_size": 256, "reward": "gail", "bc_batch_size": 64})
    c.evals = ml_collections.ConfigDict({"returns": {"kind": "episode_return", "num_episodes": 16, "seed": 0}})
    return c
